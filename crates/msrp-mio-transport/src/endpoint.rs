//! Starting and stopping an endpoint's event loop.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::mpsc::{self, SyncSender};
use std::thread::JoinHandle;

use mio::{Poll, Waker};

use crate::api::{Command, Commands, EndpointConfig, Events, Handle, Shared};
use crate::driver::{Driver, Handler, Sink, WAKER};
use crate::engine::Core;
use crate::tls::Identity;

/// An MSRP endpoint: an event loop on its own thread, with its listeners, connections and
/// sessions. Dropping it shuts it down gracefully and waits for the thread.
#[derive(Debug)]
pub struct Endpoint {
    handle: Handle,
    events: Option<Events>,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Starts an endpoint whose events are read from [`events`](Self::events).
    pub fn start(config: EndpointConfig) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let (handle, thread, shared) = Self::spawn(config, Sink::Channel(tx))?;
        Ok(Self {
            handle,
            events: Some(Events {
                receiver: rx,
                shared,
                len: crate::api::data_len,
            }),
            thread: Some(thread),
        })
    }

    /// Starts an endpoint whose events go to `handler`, on the event loop's thread.
    pub fn start_with_handler(config: EndpointConfig, handler: impl Handler) -> io::Result<Self> {
        let (handle, thread, _) = Self::spawn(config, Sink::Handler(Box::new(handler)))?;
        Ok(Self {
            handle,
            events: None,
            thread: Some(thread),
        })
    }

    fn spawn(
        config: EndpointConfig,
        sink: Sink<crate::EndpointEvent>,
    ) -> io::Result<(Handle, JoinHandle<()>, Arc<Shared>)> {
        let core = msrp_session::Endpoint::new(config.endpoint);
        let (commands, thread, shared) =
            start_loop(config, core, sink, "msrp-endpoint", |_| Ok(()))?;
        let handle = Handle {
            inner: Commands {
                sender: commands,
                shared: shared.clone(),
            },
        };
        Ok((handle, thread, shared))
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
        self.stop();
    }

    fn stop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Builds the event loop of `core`, lets `prepare` set it up (a listener bound already), and
/// starts it on a thread named `name`. Returns where commands go, the thread, and what the
/// handles share with the loop.
#[allow(clippy::type_complexity)]
pub(crate) fn start_loop<C: Core>(
    config: EndpointConfig,
    core: C,
    sink: Sink<C::Event>,
    name: &str,
    prepare: impl FnOnce(&mut Driver<C>) -> io::Result<()>,
) -> io::Result<(SyncSender<Command<C::Command>>, JoinHandle<()>, Arc<Shared>)> {
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
    Ok((commands_tx, thread, shared))
}
