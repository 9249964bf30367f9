//! Helpers for loopback tests: endpoints, sessions, and waiting for events with a deadline.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_mio_transport::{
    Endpoint, EndpointConfig, EndpointEvent, MessageRef, PeerVerification, Role, SessionId,
    SessionSpec,
};
use msrp_session::{BodySource, Outcome, SessionConfig};

/// A seeded generator, so that runs are reproducible.
pub fn random(seed: u64) -> impl FnMut(&mut [u8]) + Send + 'static {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move |buf: &mut [u8]| {
        for b in buf {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
}

pub fn uri(scheme: &str, addr: SocketAddr, session: &str) -> String {
    format!("{scheme}://{addr}/{session};tcp")
}

/// A listening endpoint and an endpoint to connect from, with one session each.
pub struct Pair {
    pub server: Endpoint,
    pub client: Endpoint,
    pub server_session: SessionId,
    pub client_session: SessionId,
    pub addr: SocketAddr,
}

pub fn pair(tls: bool, config: EndpointConfig, tweak: impl Fn(&mut SessionConfig, bool)) -> Pair {
    let server = Endpoint::start(config.clone()).unwrap();
    let client = Endpoint::start(config).unwrap();
    pair_of(server, client, tls, tweak)
}

/// The same on two given endpoints (one may have a handler).
pub fn pair_of(
    server: Endpoint,
    client: Endpoint,
    tls: bool,
    tweak: impl Fn(&mut SessionConfig, bool),
) -> Pair {
    let addr = server
        .handle()
        .listen("127.0.0.1:0".parse().unwrap(), tls)
        .unwrap();
    let scheme = if tls { "msrps" } else { "msrp" };
    let server_uri = uri(scheme, addr, "srv0session");
    let client_uri = uri(scheme, "127.0.0.1:9".parse().unwrap(), "cli0session");
    let mut sc = SessionConfig::new(
        server_uri.parse().unwrap(),
        client_uri.parse().unwrap(),
        random(1),
    );
    tweak(&mut sc, true);
    let mut cc = SessionConfig::new(
        client_uri.parse().unwrap(),
        server_uri.parse().unwrap(),
        random(2),
    );
    tweak(&mut cc, false);
    let mut server_spec = SessionSpec::new(sc, Role::Passive);
    let mut client_spec = SessionSpec::new(cc, Role::Active);
    if tls {
        let server_fp = server.handle().fingerprint().unwrap().clone();
        let client_fp = client.handle().fingerprint().unwrap().clone();
        server_spec = server_spec.peer_check(PeerVerification::Fingerprints(vec![client_fp]));
        client_spec = client_spec.peer_check(PeerVerification::Fingerprints(vec![server_fp]));
    }
    let server_session = server.handle().open_session(server_spec).unwrap();
    let client_session = client.handle().open_session(client_spec).unwrap();
    Pair {
        server,
        client,
        server_session,
        client_session,
        addr,
    }
}

/// Waits for an event matching `want`, failing the test after `limit`.
pub fn wait_for<T>(
    endpoint: &Endpoint,
    limit: Duration,
    mut want: impl FnMut(EndpointEvent) -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for an event");
        if let Some(event) = endpoint.events().recv_timeout(left) {
            if let Some(found) = want(event) {
                return found;
            }
        }
    }
}

/// Waits for the outcome of `message`, failing the test after `limit`.
pub fn wait_outcome(endpoint: &Endpoint, message: MessageRef, limit: Duration) -> Outcome {
    wait_for(endpoint, limit, |e| match e {
        EndpointEvent::Outcome {
            message: m,
            outcome,
            ..
        } if m == message => Some(outcome),
        _ => None,
    })
}

/// A body generated as it is read: nothing of it is in memory beforehand.
pub struct Generated {
    size: u64,
    left: u64,
}

impl Generated {
    pub fn new(size: u64) -> Self {
        Self { size, left: size }
    }
}

impl BodySource for Generated {
    fn total_len(&self) -> Option<u64> {
        Some(self.size)
    }

    fn read(&mut self, max: usize) -> std::io::Result<Bytes> {
        let n = (max as u64).min(self.left) as usize;
        self.left -= n as u64;
        Ok(Bytes::from(vec![b'g'; n]))
    }
}
