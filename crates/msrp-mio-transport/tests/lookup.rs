//! Host names are looked up off the event loop's thread, and handles say when the loop has
//! stopped rather than leave their callers waiting for events that never come.

mod common;

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrp_mio_transport::{
    Endpoint, EndpointConfig, EndpointEvent, HostLookup, OpenError, Role, SessionSpec, Stopped,
    TransportError,
};
use msrp_session::{OutgoingMessage, SessionConfig};

use common::{random, uri, wait_for, wait_outcome};

const LIMIT: Duration = Duration::from_secs(10);

/// A listener with passive sessions of the given hosts and session-ids: a session's URI names
/// the host its peer sends to.
fn listener(sessions: &[(&str, &str)]) -> (Endpoint, SocketAddr) {
    let server = Endpoint::start(EndpointConfig::default()).unwrap();
    let addr = server
        .handle()
        .listen("127.0.0.1:0".parse().unwrap(), false)
        .unwrap();
    for (n, (host, id)) in sessions.iter().enumerate() {
        let config = SessionConfig::new(
            format!("msrp://{host}:{}/{id};tcp", addr.port())
                .parse()
                .unwrap(),
            format!("msrp://127.0.0.1:9/peer{n}abc;tcp")
                .parse()
                .unwrap(),
            random(n as u64 + 10),
        );
        let mut config = config;
        config.from_path_check = msrp_session::FromPathCheck::Off;
        server
            .handle()
            .open_session(SessionSpec::new(config, Role::Passive))
            .unwrap();
    }
    (server, addr)
}

fn active_to(client: &Endpoint, to: &str, id: &str, seed: u64) -> msrp_session::SessionId {
    let config = SessionConfig::new(
        format!("msrp://127.0.0.1:9/{id};tcp").parse().unwrap(),
        to.parse().unwrap(),
        random(seed),
    );
    client
        .handle()
        .open_session(SessionSpec::new(config, Role::Active))
        .unwrap()
}

#[test]
fn a_slow_lookup_does_not_stall_the_loop() {
    let (server, addr) = listener(&[
        ("slow.example", "slowsession"),
        ("fast.example", "fastsession"),
    ]);
    // `slow.example` resolves only when the test says so; `fast.example` at once.
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(Mutex::new(released));
    let mut config = EndpointConfig::default();
    config.host_lookup = HostLookup::new(move |host, port| match host {
        "slow.example" => {
            let _ = released.lock().unwrap().recv();
            Ok(SocketAddr::new(addr.ip(), port))
        }
        "fast.example" => Ok(SocketAddr::new(addr.ip(), port)),
        _ => Err(io::Error::new(io::ErrorKind::NotFound, "unknown host")),
    });
    let client = Endpoint::start(config).unwrap();
    let port = addr.port();
    let slow = active_to(
        &client,
        &format!("msrp://slow.example:{port}/slowsession;tcp"),
        "slowclient",
        1,
    );
    let fast = active_to(
        &client,
        &format!("msrp://fast.example:{port}/fastsession;tcp"),
        "fastclient",
        2,
    );
    let slow_message = client
        .handle()
        .send(slow, OutgoingMessage::new("text/plain", "late"))
        .unwrap();
    let fast_message = client
        .handle()
        .send(fast, OutgoingMessage::new("text/plain", "early"))
        .unwrap();
    // While the slow lookup blocks, the other session connects and delivers: the loop runs on.
    assert!(
        wait_outcome(&client, fast_message, LIMIT).result.is_ok(),
        "the fast session delivers while the slow lookup waits"
    );
    release.send(()).unwrap();
    assert!(wait_outcome(&client, slow_message, LIMIT).result.is_ok());
    drop(server);
}

#[test]
fn a_name_that_does_not_resolve_fails_its_session_with_the_lookup_error() {
    let mut config = EndpointConfig::default();
    config.host_lookup =
        HostLookup::new(|_, _| Err(io::Error::new(io::ErrorKind::NotFound, "no such host here")));
    let client = Endpoint::start(config).unwrap();
    let session = active_to(&client, "msrp://nowhere.example:2855/abcd;tcp", "me", 3);
    let message = client
        .handle()
        .send(session, OutgoingMessage::new("text/plain", "x"))
        .unwrap();
    let error = wait_for(&client, LIMIT, |e| match e {
        EndpointEvent::ConnectionClosed { error, .. } => Some(error),
        _ => None,
    });
    match &error {
        TransportError::Resolve(e) => assert_eq!(e.to_string(), "no such host here"),
        other => panic!("{other:?}"),
    }
    // The error it came from is kept.
    let source = std::error::Error::source(&error).expect("a source");
    assert_eq!(source.to_string(), "no such host here");
    // The message fails: with its outcome when the loop took it before the lookup failed,
    // refused when it came after.
    wait_for(&client, LIMIT, |e| match e {
        EndpointEvent::Outcome {
            message: m,
            outcome,
            ..
        } if m == message => {
            assert!(outcome.result.is_err());
            Some(())
        }
        EndpointEvent::Refused { message: m, .. } if m == message => Some(()),
        _ => None,
    });
}

#[test]
fn the_system_resolver_finds_localhost() {
    let (server, addr) = listener(&[("localhost", "localsession")]);
    let client = Endpoint::start(EndpointConfig::default()).unwrap();
    let session = active_to(
        &client,
        &format!("msrp://localhost:{}/localsession;tcp", addr.port()),
        "localclient",
        4,
    );
    let message = client
        .handle()
        .send(session, OutgoingMessage::new("text/plain", "by name"))
        .unwrap();
    let outcome = wait_outcome(&client, message, LIMIT);
    // `localhost` may resolve to ::1 first, where nothing listens; either way the endpoint
    // answers with an outcome rather than blocking.
    if let Err(failure) = outcome.result {
        let error = wait_for(&client, Duration::from_millis(100), |e| match e {
            EndpointEvent::ConnectionClosed { error, .. } => Some(error),
            _ => None,
        });
        assert!(matches!(error, TransportError::Connect(_)), "{failure}");
    }
    drop(server);
}

#[test]
fn handles_say_when_the_loop_has_stopped() {
    let (server, addr) = listener(&[("127.0.0.1", "stopsession")]);
    let handle = server.handle().clone();
    let config = SessionConfig::new(
        uri("msrp", addr, "another").parse().unwrap(),
        "msrp://127.0.0.1:9/whoever;tcp".parse().unwrap(),
        random(5),
    );
    let session = handle
        .open_session(SessionSpec::new(config, Role::Passive))
        .unwrap();
    // While the loop runs, a message to a session that never connected waits for it.
    let queued = handle
        .send(session, OutgoingMessage::new("text/plain", "waits"))
        .unwrap();
    server.shutdown();
    assert_eq!(
        handle.send(session, OutgoingMessage::new("text/plain", "too late")),
        Err(Stopped)
    );
    assert_eq!(handle.abort(session, queued), Err(Stopped));
    assert_eq!(handle.close_session(session), Err(Stopped));
    let config = SessionConfig::new(
        uri("msrp", addr, "third").parse().unwrap(),
        "msrp://127.0.0.1:9/whoever;tcp".parse().unwrap(),
        random(6),
    );
    assert!(matches!(
        handle.open_session(SessionSpec::new(config, Role::Passive)),
        Err(OpenError::Shutdown)
    ));
    assert!(
        handle
            .listen("127.0.0.1:0".parse().unwrap(), false)
            .is_err()
    );
}
