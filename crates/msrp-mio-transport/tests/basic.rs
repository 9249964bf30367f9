//! Loopback basics: a message each way over TCP and over TLS.

mod common;

use std::time::Duration;

use common::{pair, wait_for, wait_outcome};
use msrp_mio_transport::{EndpointConfig, EndpointEvent};
use msrp_session::{Event, OutgoingMessage};

fn exchange(tls: bool, config: EndpointConfig) {
    let p = pair(tls, config, |_, _| {});
    let m = p
        .client
        .handle()
        .send(
            p.client_session,
            OutgoingMessage::new("text/plain", "hello over loopback"),
        )
        .expect("the endpoint runs");
    let body = wait_for(&p.server, Duration::from_secs(10), |e| match e {
        EndpointEvent::Session(_, Event::Message(m)) => Some(m.body),
        _ => None,
    });
    assert_eq!(&body[..], b"hello over loopback");
    let outcome = wait_outcome(&p.client, m, Duration::from_secs(10));
    assert!(outcome.result.is_ok(), "{outcome:?}");
    // And back, on the same connection.
    let r = p
        .server
        .handle()
        .send(
            p.server_session,
            OutgoingMessage::new("text/plain", "hello back"),
        )
        .expect("the endpoint runs");
    let body = wait_for(&p.client, Duration::from_secs(10), |e| match e {
        EndpointEvent::Session(_, Event::Message(m)) => Some(m.body),
        _ => None,
    });
    assert_eq!(&body[..], b"hello back");
    let outcome = wait_outcome(&p.server, r, Duration::from_secs(10));
    assert!(outcome.result.is_ok());
}

#[test]
fn text_over_tcp() {
    exchange(false, EndpointConfig::default());
}

#[test]
fn text_over_tls() {
    exchange(true, EndpointConfig::default());
}

#[test]
fn text_over_tcp_with_loops_that_never_poll_ahead() {
    let mut config = EndpointConfig::default();
    config.busy_poll = Duration::ZERO;
    exchange(false, config);
}
