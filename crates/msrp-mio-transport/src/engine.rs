//! What the event loop drives: a sans-IO core that decides everything about its connections
//! (an msrp-session `Endpoint`, or an msrp-relay `Relay`), seen through one interface so that
//! the loop's sockets, TLS, readiness and timers serve both.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use msrp_session::{ConnectionError, PeerCheck};

use crate::api::{EndpointCommand, RelayCommand, TransportError};
use crate::driver::Driver;

/// Where to connect, as a core asks.
pub(crate) struct Dial {
    /// The host to look up when no address is known, and the name a TLS server certificate is
    /// checked against.
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) addr: Option<SocketAddr>,
    /// `Some` for TLS: how the server's certificate is checked.
    pub(crate) tls: Option<PeerCheck>,
    /// Over WebSocket (a `;ws` URI, RFC 7977 §5.2.1).
    pub(crate) ws: bool,
}

/// What a core asks the loop to do, for a connection named by the number of its id.
pub(crate) enum Step {
    Connect(u64, Dial),
    /// It has output.
    Transmit(u64),
    /// It takes input again (a relay's next hop drained).
    Resume(u64),
    Close(u64),
}

/// A sans-IO core, with its connections named by the numbers of their ids.
pub(crate) trait Core: Send + Sized + 'static {
    /// What it tells the application.
    type Event: Send + 'static;
    /// What its handles ask of it besides listening and shutting down.
    type Command: Send + 'static;

    /// Carries out a command.
    fn command(driver: &mut Driver<Self>, now: Instant, command: Self::Command);

    /// Hands events queued for a handler to it (for cores whose events may go to one).
    fn deliver(_driver: &mut Driver<Self>) {}

    fn handle_accept(&mut self, now: Instant, peer: SocketAddr) -> Option<u64>;
    fn handle_established(
        &mut self,
        now: Instant,
        id: u64,
        peer: SocketAddr,
        certificate: Option<&[u8]>,
    );
    fn handle_lost(&mut self, now: Instant, id: u64);
    /// The connection carries MSRP over WebSocket (RFC 7977), before it is established.
    fn handle_websocket(&mut self, _id: u64) {}
    fn wants_read(&self, id: u64) -> bool;
    fn handle_input(&mut self, now: Instant, id: u64, data: &[u8]);
    fn fill(
        &mut self,
        now: Instant,
        id: u64,
        max: usize,
        read: &mut dyn FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize>;
    fn resume(&mut self, now: Instant, id: u64);
    fn wants_write(&self, id: u64) -> bool;
    fn poll_transmit(&mut self, now: Instant, id: u64, max: usize, out: &mut Vec<Bytes>) -> usize;
    fn poll_step(&mut self) -> Option<Step>;
    /// The next event, with the loop's own error for a connection the core saw
    /// [lost](ConnectionError::Lost) (`lost` takes it from the connection's socket side).
    fn poll_event(&mut self, lost: &mut dyn FnMut(u64) -> TransportError) -> Option<Self::Event>;
    /// Bytes of message data an event holds (buffers kept alive until it is dropped).
    fn event_len(event: &Self::Event) -> usize;
    fn poll_timeout(&mut self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
    fn shutdown(&mut self, now: Instant);
    fn finish(&mut self, now: Instant);
    fn is_shutting_down(&self) -> bool;
    fn is_finished(&self) -> bool;
    fn is_idle(&self) -> bool;
}

impl Core for msrp_session::Endpoint {
    type Event = crate::EndpointEvent;
    type Command = EndpointCommand;

    fn command(driver: &mut Driver<Self>, now: Instant, command: EndpointCommand) {
        driver.endpoint_command(now, command);
    }

    fn deliver(driver: &mut Driver<Self>) {
        driver.deliver_to_handler();
    }

    fn handle_accept(&mut self, now: Instant, peer: SocketAddr) -> Option<u64> {
        msrp_session::Endpoint::handle_accept(self, now, peer)
            .ok()
            .map(|c| c.as_u64())
    }

    fn handle_established(
        &mut self,
        now: Instant,
        id: u64,
        peer: SocketAddr,
        certificate: Option<&[u8]>,
    ) {
        let id = msrp_session::ConnectionId::from_u64(id);
        msrp_session::Endpoint::handle_established(self, now, id, peer, certificate);
    }

    fn handle_lost(&mut self, now: Instant, id: u64) {
        msrp_session::Endpoint::handle_lost(self, now, msrp_session::ConnectionId::from_u64(id));
    }

    #[inline]
    fn wants_read(&self, id: u64) -> bool {
        msrp_session::Endpoint::wants_read(self, msrp_session::ConnectionId::from_u64(id))
    }

    #[inline]
    fn handle_input(&mut self, now: Instant, id: u64, data: &[u8]) {
        let id = msrp_session::ConnectionId::from_u64(id);
        msrp_session::Endpoint::handle_input(self, now, id, data);
    }

    fn fill(
        &mut self,
        now: Instant,
        id: u64,
        max: usize,
        read: &mut dyn FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let id = msrp_session::ConnectionId::from_u64(id);
        msrp_session::Endpoint::fill(self, now, id, max, read)
    }

    fn resume(&mut self, now: Instant, id: u64) {
        msrp_session::Endpoint::resume(self, now, msrp_session::ConnectionId::from_u64(id));
    }

    #[inline]
    fn wants_write(&self, id: u64) -> bool {
        msrp_session::Endpoint::wants_write(self, msrp_session::ConnectionId::from_u64(id))
    }

    #[inline]
    fn poll_transmit(&mut self, now: Instant, id: u64, max: usize, out: &mut Vec<Bytes>) -> usize {
        let id = msrp_session::ConnectionId::from_u64(id);
        msrp_session::Endpoint::poll_transmit(self, now, id, max, out)
    }

    fn poll_step(&mut self) -> Option<Step> {
        use msrp_session::Action;
        loop {
            return Some(match self.poll_action()? {
                Action::Connect { connection, target } => {
                    let dial = Dial {
                        host: target.uri.host_str().to_owned(),
                        port: target.uri.port(),
                        addr: target.addr,
                        tls: target.tls.clone(),
                        ws: target.uri.transport() == msrp_uri::Transport::Ws,
                    };
                    Step::Connect(connection.as_u64(), dial)
                }
                Action::Transmit(connection) => Step::Transmit(connection.as_u64()),
                Action::Close(connection) => Step::Close(connection.as_u64()),
                _ => continue,
            });
        }
    }

    fn poll_event(&mut self, lost: &mut dyn FnMut(u64) -> TransportError) -> Option<Self::Event> {
        let event = msrp_session::Endpoint::poll_event(self)?;
        Some(event.map_connection_error(|id, error| match error {
            ConnectionError::Lost => lost(id.as_u64()),
            other => TransportError::Endpoint(other),
        }))
    }

    fn event_len(event: &Self::Event) -> usize {
        crate::api::data_len(event)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        msrp_session::Endpoint::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        msrp_session::Endpoint::handle_timeout(self, now);
    }

    fn shutdown(&mut self, now: Instant) {
        msrp_session::Endpoint::shutdown(self, now);
    }

    fn finish(&mut self, now: Instant) {
        msrp_session::Endpoint::finish(self, now);
    }

    fn is_shutting_down(&self) -> bool {
        msrp_session::Endpoint::is_shutting_down(self)
    }

    fn is_finished(&self) -> bool {
        msrp_session::Endpoint::is_finished(self)
    }

    fn is_idle(&self) -> bool {
        msrp_session::Endpoint::is_idle(self)
    }
}

/// A relay, with how the certificates of its next hops over TLS are checked.
pub(crate) struct RelayCore {
    pub(crate) relay: msrp_relay::Relay,
    pub(crate) next_hop_check: PeerCheck,
    /// Most body bytes per chunk toward WebSocket clients.
    pub(crate) ws_max_chunk: usize,
}

impl Core for RelayCore {
    type Event = msrp_relay::RelayEvent;
    type Command = RelayCommand;

    fn command(driver: &mut Driver<Self>, _now: Instant, command: RelayCommand) {
        match command {
            RelayCommand::Stats { reply } => {
                let _ = reply.send(driver.core.relay.stats());
            }
        }
    }

    fn handle_accept(&mut self, now: Instant, peer: SocketAddr) -> Option<u64> {
        self.relay.handle_accept(now, peer).ok().map(|c| c.as_u64())
    }

    fn handle_established(
        &mut self,
        now: Instant,
        id: u64,
        peer: SocketAddr,
        certificate: Option<&[u8]>,
    ) {
        let id = msrp_relay::ConnectionId::from_u64(id);
        self.relay.handle_established(now, id, peer, certificate);
    }

    fn handle_lost(&mut self, now: Instant, id: u64) {
        self.relay
            .handle_lost(now, msrp_relay::ConnectionId::from_u64(id));
    }

    fn handle_websocket(&mut self, id: u64) {
        let id = msrp_relay::ConnectionId::from_u64(id);
        self.relay.set_max_chunk(id, Some(self.ws_max_chunk));
    }

    #[inline]
    fn wants_read(&self, id: u64) -> bool {
        self.relay
            .wants_read(msrp_relay::ConnectionId::from_u64(id))
    }

    #[inline]
    fn handle_input(&mut self, now: Instant, id: u64, data: &[u8]) {
        let id = msrp_relay::ConnectionId::from_u64(id);
        self.relay.handle_input(now, id, data);
    }

    fn fill(
        &mut self,
        now: Instant,
        id: u64,
        max: usize,
        read: &mut dyn FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let id = msrp_relay::ConnectionId::from_u64(id);
        self.relay.fill(now, id, max, read)
    }

    fn resume(&mut self, now: Instant, id: u64) {
        self.relay
            .resume(now, msrp_relay::ConnectionId::from_u64(id));
    }

    #[inline]
    fn wants_write(&self, id: u64) -> bool {
        self.relay
            .wants_write(msrp_relay::ConnectionId::from_u64(id))
    }

    #[inline]
    fn poll_transmit(&mut self, now: Instant, id: u64, max: usize, out: &mut Vec<Bytes>) -> usize {
        let id = msrp_relay::ConnectionId::from_u64(id);
        self.relay.poll_transmit(now, id, max, out)
    }

    fn poll_step(&mut self) -> Option<Step> {
        use msrp_relay::Action;
        loop {
            return Some(match self.relay.poll_action()? {
                Action::Connect { connection, target } => {
                    let dial = Dial {
                        host: target.host.clone(),
                        port: Some(target.port),
                        addr: target.addr,
                        // Next hops over TLS are checked as the relay's configuration says.
                        tls: target.secure.then(|| self.next_hop_check.clone()),
                        ws: false,
                    };
                    Step::Connect(connection.as_u64(), dial)
                }
                Action::Transmit(connection) => Step::Transmit(connection.as_u64()),
                Action::Resume(connection) => Step::Resume(connection.as_u64()),
                Action::Close(connection) => Step::Close(connection.as_u64()),
                _ => continue,
            });
        }
    }

    fn poll_event(&mut self, _lost: &mut dyn FnMut(u64) -> TransportError) -> Option<Self::Event> {
        self.relay.poll_event()
    }

    fn event_len(_event: &Self::Event) -> usize {
        0
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.relay.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.relay.handle_timeout(now);
    }

    fn shutdown(&mut self, _now: Instant) {
        self.relay.shutdown();
    }

    fn finish(&mut self, now: Instant) {
        self.relay.finish(now);
    }

    fn is_shutting_down(&self) -> bool {
        self.relay.is_shutting_down()
    }

    fn is_finished(&self) -> bool {
        self.relay.is_finished()
    }

    fn is_idle(&self) -> bool {
        self.relay.is_idle()
    }
}
