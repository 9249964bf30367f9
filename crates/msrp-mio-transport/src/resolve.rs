//! Host-name lookups off the event loop's thread.
//!
//! The standard library's lookup blocks for as long as the system resolver takes (seconds, for
//! a name server that does not answer). Each lookup runs on a thread of its own, a few at a
//! time, and its result comes back through a channel, with a wake-up for the loop; the loop
//! never waits for one.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};

use crate::api::{HostLookup, Shared};

/// A lookup to do: the connection it is for, the host and the port.
struct Job {
    connection: u64,
    host: String,
    port: u16,
}

/// What a lookup found.
pub(crate) type Answer = (u64, io::Result<SocketAddr>);

pub(crate) struct Resolver {
    waiting: VecDeque<Job>,
    running: usize,
    max_running: usize,
    lookup: HostLookup,
    answers_tx: Sender<Answer>,
    answers: Receiver<Answer>,
    shared: Arc<Shared>,
}

impl Resolver {
    pub(crate) fn new(shared: Arc<Shared>, lookup: HostLookup, max_running: usize) -> Self {
        let (answers_tx, answers) = mpsc::channel();
        Self {
            waiting: VecDeque::new(),
            running: 0,
            max_running: max_running.max(1),
            lookup,
            answers_tx,
            answers,
            shared,
        }
    }

    /// Looks up `host`; the answer comes from [`poll`](Self::poll).
    pub(crate) fn lookup(&mut self, connection: u64, host: &str, port: u16) {
        self.waiting.push_back(Job {
            connection,
            host: host.to_owned(),
            port,
        });
        self.start();
    }

    /// The next answer, if one has come.
    pub(crate) fn poll(&mut self) -> Option<Answer> {
        let answer = self.answers.try_recv().ok()?;
        self.running -= 1;
        self.start();
        Some(answer)
    }

    /// Starts waiting lookups while fewer than the most run.
    fn start(&mut self) {
        while self.running < self.max_running {
            let Some(job) = self.waiting.pop_front() else {
                return;
            };
            let answers = self.answers_tx.clone();
            let shared = self.shared.clone();
            let lookup = self.lookup.clone();
            let connection = job.connection;
            let spawned = std::thread::Builder::new()
                .name("msrp-resolve".into())
                .spawn(move || {
                    let answer = lookup.lookup(&job.host, job.port);
                    // The loop may be gone; then nobody waits for the answer.
                    if answers.send((job.connection, answer)).is_ok() {
                        shared.wake();
                    }
                });
            self.running += 1;
            if let Err(e) = spawned {
                // No thread: the lookup fails at once.
                let _ = self.answers_tx.send((connection, Err(e)));
            }
        }
    }
}
