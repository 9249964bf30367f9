//! Running an RFC 4976 relay ([`msrp_relay::Relay`]) on the same event loop as an endpoint:
//! its listeners, its connections to clients and next hops, TLS, timers.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use std::sync::mpsc;
use std::time::Instant;

use mio::net::TcpListener;
use msrp_relay::{Relay, RelayConfig, RelayEvent, Stats};
use msrp_session::PeerCheck;

use crate::api::{Command, Commands, EndpointConfig, Events, RelayCommand, Stopped};
use crate::driver::Sink;
use crate::endpoint::{LoopThread, start_loop};
use crate::engine::RelayCore;
use crate::tls::{WebPkiRelays, secure_random};

/// Configuration of a [`RelayServer`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RelayServerConfig {
    /// What the relay decides with: its URI (its port is the one bound when it is 0), its users,
    /// its limits and timeouts.
    pub relay: RelayConfig,
    /// The event loop's settings: the certificate for TLS listeners, buffers, polling, name
    /// lookups (its `endpoint` part is not used).
    pub transport: EndpointConfig,
    /// How the certificates of next hops reached over TLS (`msrps` URIs) are checked: trust
    /// anchors, as RFC 4976 §6.3 wants relays authenticated by their host names. With
    /// [`PeerCheck::None`] (the default) no TLS next hop can be reached. Trust anchors given
    /// here also recognise the peer relays that connect to this one, unless
    /// `relay.peer_relays` says otherwise: a peer whose certificate they vouch for, naming the
    /// host of the first From-Path URI of its AUTH, is a relay and needs no digest.
    pub next_hop_check: PeerCheck,
    /// Where to listen for WebSocket clients too (RFC 7977), over TLS (`wss`) when the relay
    /// is. Browsers reach MSRP only this way; `transport.web_page` is served there to plain
    /// requests. Default `None`.
    pub ws_bind: Option<SocketAddr>,
    /// Most body bytes per chunk written to WebSocket clients: longer SENDs from other peers
    /// are cut into chunks of this size as they stream through (RFC 7977 §5.1: "MSRP chunking
    /// ... MUST be used by the WebSocket MSRP Servers to split the message into several
    /// smaller MSRP chunks"). Default 64 KiB.
    pub ws_max_chunk: usize,
}

impl RelayServerConfig {
    /// A relay with these settings, the default event loop but for writes of up to 256 KiB
    /// ([`EndpointConfig::max_write`]), and no TLS next hops. A relay writes what it has just
    /// read, still in the caches, and fewer, larger writes wake its next hop less often:
    /// measured on a 2-vCPU VM (connections paced by BBR), 64 KiB chunks through the relay at
    /// 0.96-1.08 GB/s with 32 KiB writes, 1.06-1.19 GB/s with 256 KiB ones.
    pub fn new(relay: RelayConfig) -> Self {
        Self {
            relay,
            transport: EndpointConfig {
                max_write: 256 << 10,
                ..EndpointConfig::default()
            },
            next_hop_check: PeerCheck::None,
            ws_bind: None,
            ws_max_chunk: 64 << 10,
        }
    }
}

/// A thread-safe handle to a relay's event loop.
#[derive(Clone)]
pub struct RelayHandle {
    inner: Commands<RelayCommand>,
}

impl core::fmt::Debug for RelayHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RelayHandle").finish_non_exhaustive()
    }
}

impl RelayHandle {
    /// Listens on another address too (port 0 picks a free one); with `tls`, clients connect
    /// with `msrps`.
    pub fn listen(&self, addr: SocketAddr, tls: bool) -> io::Result<SocketAddr> {
        self.inner.listen(addr, tls)
    }

    /// What the relay has done so far.
    pub fn stats(&self) -> Result<Stats, Stopped> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.inner
            .command(Command::Core(RelayCommand::Stats { reply }))?;
        answer.recv().map_err(|_| Stopped)
    }

    /// Asks the relay to shut down: it takes no more connections and closes the ones it has.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

/// An MSRP relay (RFC 4976) running on its own thread: clients authenticate to it and send
/// through it; it opens connections to next hops as their To-Paths ask. Dropping it shuts it
/// down and waits for the thread.
#[derive(Debug)]
pub struct RelayServer {
    // First: the loop stops before the event channel goes.
    running: LoopThread<RelayCommand>,
    handle: RelayHandle,
    events: Events<RelayEvent>,
    addr: SocketAddr,
    ws_addr: Option<SocketAddr>,
    ws_uri: Option<String>,
    uri: String,
}

impl RelayServer {
    /// Starts a relay listening on `bind` (port 0 picks a free one; the relay's URI then
    /// carries the port bound), over TLS when `tls`.
    pub fn start(mut config: RelayServerConfig, bind: SocketAddr, tls: bool) -> io::Result<Self> {
        let socket = std::net::TcpListener::bind(bind)?;
        socket.set_nonblocking(true)?;
        let addr = socket.local_addr()?;
        if config.relay.port == 0 {
            config.relay.port = addr.port();
        }
        let ws_socket = match config.ws_bind {
            Some(bind) => {
                let socket = std::net::TcpListener::bind(bind)?;
                socket.set_nonblocking(true)?;
                config.relay.ws_port = Some(socket.local_addr()?.port());
                Some(socket)
            }
            None => None,
        };
        let ws_addr = ws_socket.as_ref().map(|s| s.local_addr()).transpose()?;
        config.relay.secure = tls;
        // The authorities that vouch for next hops vouch for the relays that connect to this
        // one too (RFC 4976 §6.3: relays authenticate each other with mutual TLS).
        if let (None, PeerCheck::Anchors(anchors)) =
            (&config.relay.peer_relays, &config.next_hop_check)
        {
            if let Some(roots) = anchors.downcast::<rustls::RootCertStore>() {
                let relays = WebPkiRelays::new(roots).map_err(io::Error::other)?;
                config.relay.peer_relays = Some(Arc::new(relays));
            }
        }
        let uri = config.relay.uri();
        let ws_uri = config.relay.ws_uri();
        let relay = Relay::new(config.relay, secure_random(), Instant::now());
        let core = RelayCore {
            relay,
            next_hop_check: config.next_hop_check,
            ws_max_chunk: config.ws_max_chunk,
        };
        let (tx, rx) = mpsc::channel();
        let running = start_loop(
            config.transport,
            core,
            Sink::Channel(tx),
            "msrp-relay",
            |driver| {
                driver.adopt_listener(TcpListener::from_std(socket), tls, false)?;
                if let Some(socket) = ws_socket {
                    driver.adopt_listener(TcpListener::from_std(socket), tls, true)?;
                }
                Ok(())
            },
        )?;
        Ok(Self {
            handle: RelayHandle {
                inner: running.commands.clone(),
            },
            events: Events {
                receiver: rx,
                shared: running.commands.shared.clone(),
                len: |_| 0,
            },
            running,
            addr,
            uri,
            ws_addr,
            ws_uri,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URI, as clients address their AUTH to it (`msrp://127.0.0.1:2855;tcp`).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The address of its WebSocket listener, if it has one.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws_addr
    }

    /// Its WebSocket URI, as WebSocket clients address their AUTH to it
    /// (`msrp://127.0.0.1:8080;ws`), if it listens for them.
    pub fn ws_uri(&self) -> Option<&str> {
        self.ws_uri.as_deref()
    }

    /// The handle that commands it; clone it for other threads.
    pub fn handle(&self) -> &RelayHandle {
        &self.handle
    }

    /// Its events: clients authenticated or refused, URIs that ended, failure reports sent,
    /// connections closed.
    pub fn events(&self) -> &Events<RelayEvent> {
        &self.events
    }

    /// Shuts down and waits for the event loop to finish.
    pub fn shutdown(mut self) {
        self.running.stop();
    }
}
