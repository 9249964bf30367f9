//! Starting and stopping an endpoint's event loop.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::mpsc;
use std::thread::JoinHandle;

use mio::{Poll, Waker};

use crate::api::{Commands, EndpointCommand, EndpointConfig, Events, Handle, Shared};
use crate::driver::{Driver, Handler, Sink, WAKER};
use crate::engine::Core;
use crate::tls::Identity;

/// An MSRP endpoint: an event loop on its own thread, with its listeners, connections and
/// sessions. Dropping it shuts it down gracefully and waits for the thread.
#[derive(Debug)]
pub struct Endpoint {
    // First: the loop stops before the event channel goes.
    running: LoopThread<EndpointCommand>,
    handle: Handle,
    events: Option<Events>,
}

impl Endpoint {
    /// Starts an endpoint whose events are read from [`events`](Self::events).
    pub fn start(config: EndpointConfig) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let running = Self::spawn(config, Sink::Channel(tx))?;
        Ok(Self {
            handle: Handle {
                inner: running.commands.clone(),
            },
            events: Some(Events {
                receiver: rx,
                shared: running.commands.shared.clone(),
                len: crate::api::data_len,
            }),
            running,
        })
    }

    /// Starts an endpoint whose events go to `handler`, on the event loop's thread.
    pub fn start_with_handler(config: EndpointConfig, handler: impl Handler) -> io::Result<Self> {
        let running = Self::spawn(config, Sink::Handler(Box::new(handler)))?;
        Ok(Self {
            handle: Handle {
                inner: running.commands.clone(),
            },
            events: None,
            running,
        })
    }

    fn spawn(
        config: EndpointConfig,
        sink: Sink<crate::EndpointEvent>,
    ) -> io::Result<LoopThread<EndpointCommand>> {
        let core = msrp_session::Endpoint::new(config.endpoint);
        start_loop(config, core, sink, "msrp-endpoint", |_| Ok(()))
    }

    /// The handle that commands the endpoint; clone it for other threads.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The endpoint's events, when it was started with [`start`](Self::start).
    ///
    /// # Panics
    ///
    /// When the endpoint was started with a handler, which receives the events instead.
    pub fn events(&self) -> &Events {
        self.events
            .as_ref()
            .expect("an endpoint started with a handler has no event channel")
    }

    /// Shuts down gracefully: listeners close, connections drain what they can within the
    /// endpoint's [`shutdown_grace`](msrp_session::EndpointConfig::shutdown_grace), then every
    /// session still open fails. Waits for the event loop to finish.
    pub fn shutdown(mut self) {
        self.running.stop();
    }
}

/// An event loop on its own thread, as its owner (an [`Endpoint`], a relay server) holds it:
/// asked to shut down and waited for when dropped.
pub(crate) struct LoopThread<X> {
    pub(crate) commands: Commands<X>,
    thread: Option<JoinHandle<()>>,
}

impl<X> LoopThread<X> {
    /// Asks the loop to shut down and waits for its thread.
    pub(crate) fn stop(&mut self) {
        self.commands.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<X> Drop for LoopThread<X> {
    fn drop(&mut self) {
        self.stop();
    }
}

impl<X> core::fmt::Debug for LoopThread<X> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoopThread")
            .field("running", &self.thread.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds the event loop of `core`, lets `prepare` set it up (a listener bound already), and
/// starts it on a thread named `name`.
pub(crate) fn start_loop<C: Core>(
    config: EndpointConfig,
    core: C,
    sink: Sink<C::Event>,
    name: &str,
    prepare: impl FnOnce(&mut Driver<C>) -> io::Result<()>,
) -> io::Result<LoopThread<C::Command>> {
    let identity = match &config.identity {
        Some(identity) => identity.clone(),
        None => Identity::self_signed(&["localhost"]).map_err(io::Error::other)?,
    };
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let shared = Arc::new(Shared {
        waker,
        woken: AtomicBool::new(false),
        stopped: AtomicBool::new(false),
        next_message: AtomicU64::new(1),
        queued_events: AtomicUsize::new(0),
        queued_bytes: AtomicUsize::new(0),
        reading_paused: AtomicBool::new(false),
        event_capacity: config.event_capacity.max(2),
        event_bytes: config.event_bytes,
        fingerprint: Some(identity.fingerprint()),
    });
    let (commands_tx, commands_rx) = mpsc::sync_channel(config.command_capacity.max(1));
    let mut driver = Driver::new(
        poll,
        shared.clone(),
        commands_rx,
        config,
        core,
        sink,
        identity,
    );
    prepare(&mut driver)?;
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || driver.run())?;
    Ok(LoopThread {
        commands: Commands {
            sender: commands_tx,
            shared,
        },
        thread: Some(thread),
    })
}
