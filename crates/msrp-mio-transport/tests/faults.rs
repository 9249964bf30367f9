//! Failures over loopback: a killed peer, a silent peer, wrong fingerprints, and IPv6.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{pair, random, uri, wait_for};
use msrp_mio_transport::{
    ConnectionError, Endpoint, EndpointConfig, EndpointEvent, PeerVerification, Role, SessionSpec,
    TransportError,
};
use msrp_sdp::Fingerprint;
use msrp_session::{Event, FailedBy, OutgoingMessage, SessionConfig, SessionFailure};
use msrp_wire::StatusCode;

/// An outgoing session towards a plain socket that plays the peer.
fn towards(
    listener: &TcpListener,
    tweak: impl FnOnce(&mut SessionConfig),
) -> (Endpoint, msrp_mio_transport::SessionId) {
    let addr = listener.local_addr().unwrap();
    let endpoint = Endpoint::start(EndpointConfig::default()).unwrap();
    let local = uri("msrp", "127.0.0.1:9".parse().unwrap(), "cli0session");
    let peer = uri("msrp", addr, "peer0session");
    let mut config = SessionConfig::new(local.parse().unwrap(), peer.parse().unwrap(), random(3));
    tweak(&mut config);
    let session = endpoint
        .handle()
        .open_session(SessionSpec::new(config, Role::Active))
        .unwrap();
    (endpoint, session)
}

#[test]
fn killed_peer_mid_transfer_fails_the_message() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (endpoint, session) = towards(&listener, |_| {});
    let message = endpoint
        .handle()
        .send(
            session,
            OutgoingMessage::new("application/octet-stream", vec![7u8; 64 << 20]),
        )
        .expect("the endpoint runs");
    let (mut peer, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    while got < 4 << 20 {
        got += peer.read(&mut buf).unwrap();
    }
    // The peer dies mid-transfer.
    drop(peer);
    let started = Instant::now();
    let outcome = wait_for(&endpoint, Duration::from_secs(10), |e| match e {
        EndpointEvent::Outcome {
            message: m,
            outcome,
            ..
        } if m == message => Some(outcome),
        _ => None,
    });
    let failure = outcome.result.unwrap_err();
    assert_eq!(failure.by, FailedBy::ConnectionLost);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn silent_peer_gives_408() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (endpoint, session) = towards(&listener, |c| {
        c.transaction_timeout = Duration::from_millis(500)
    });
    let message = endpoint
        .handle()
        .send(
            session,
            OutgoingMessage::new("text/plain", "is anyone there?"),
        )
        .expect("the endpoint runs");
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let _ = peer.read(&mut buf);
    let outcome = wait_for(&endpoint, Duration::from_secs(10), |e| match e {
        EndpointEvent::Outcome {
            message: m,
            outcome,
            ..
        } if m == message => Some(outcome),
        _ => None,
    });
    let failure = outcome.result.unwrap_err();
    assert_eq!(failure.status, Some(StatusCode::REQUEST_TIMEOUT));
    // The first SEND of the active session (which binds the connection) may time out first and
    // fail the whole session.
    assert!(
        matches!(failure.by, FailedBy::Timeout | FailedBy::SessionFailed),
        "{failure:?}"
    );
    drop(peer);
}

#[test]
fn wrong_fingerprint_is_refused_by_the_client() {
    let server = Endpoint::start(EndpointConfig::default()).unwrap();
    let client = Endpoint::start(EndpointConfig::default()).unwrap();
    let addr = server
        .handle()
        .listen("127.0.0.1:0".parse().unwrap(), true)
        .unwrap();
    let s_uri = uri("msrps", addr, "srv0session");
    let c_uri = uri("msrps", "127.0.0.1:9".parse().unwrap(), "cli0session");
    let client_fp = client.handle().fingerprint().unwrap().clone();
    let sc = SessionConfig::new(s_uri.parse().unwrap(), c_uri.parse().unwrap(), random(1));
    server
        .handle()
        .open_session(
            SessionSpec::new(sc, Role::Passive)
                .peer_check(PeerVerification::Fingerprints(vec![client_fp])),
        )
        .unwrap();
    let wrong = Fingerprint::new("sha-256", vec![0xAB; 32]);
    let cc = SessionConfig::new(c_uri.parse().unwrap(), s_uri.parse().unwrap(), random(2));
    let session = client
        .handle()
        .open_session(
            SessionSpec::new(cc, Role::Active)
                .peer_check(PeerVerification::Fingerprints(vec![wrong])),
        )
        .unwrap();
    let message = client
        .handle()
        .send(session, OutgoingMessage::new("text/plain", "secret"))
        .expect("the endpoint runs");
    let error = wait_for(&client, Duration::from_secs(10), |e| match e {
        EndpointEvent::ConnectionClosed { error, .. } => Some(error),
        _ => None,
    });
    // The client's TLS check refuses the server's certificate during the handshake.
    assert!(
        matches!(
            error,
            TransportError::Tls(rustls::Error::InvalidCertificate(_))
        ),
        "{error:?}"
    );
    assert!(error.is_certificate_mismatch());
    // rustls's error is kept as the source.
    let source = std::error::Error::source(&error).expect("rustls's error");
    assert!(source.downcast_ref::<rustls::Error>().is_some());
    // The message fails: with an outcome when it reached the session before the connection
    // failed, refused when it came after.
    let failed = wait_for(&client, Duration::from_secs(10), |e| match e {
        EndpointEvent::Outcome {
            message: m,
            outcome,
            ..
        } if m == message => Some(outcome.result.is_err()),
        EndpointEvent::Refused { message: m, .. } if m == message => Some(true),
        _ => None,
    });
    assert!(failed);
    assert!(
        server
            .events()
            .recv_timeout(Duration::from_millis(300))
            .is_none_or(|e| !matches!(e, EndpointEvent::Session(_, Event::Message(_)))),
        "nothing reached the server"
    );
}

#[test]
fn wrong_client_certificate_is_refused_by_the_server() {
    let server = Endpoint::start(EndpointConfig::default()).unwrap();
    let client = Endpoint::start(EndpointConfig::default()).unwrap();
    let addr = server
        .handle()
        .listen("127.0.0.1:0".parse().unwrap(), true)
        .unwrap();
    let s_uri = uri("msrps", addr, "srv0session");
    let c_uri = uri("msrps", "127.0.0.1:9".parse().unwrap(), "cli0session");
    let server_fp = server.handle().fingerprint().unwrap().clone();
    let sc = SessionConfig::new(s_uri.parse().unwrap(), c_uri.parse().unwrap(), random(1));
    let server_session = server
        .handle()
        .open_session(SessionSpec::new(sc, Role::Passive).peer_check(
            PeerVerification::Fingerprints(vec![Fingerprint::new("sha-256", vec![1; 32])]),
        ))
        .unwrap();
    let cc = SessionConfig::new(c_uri.parse().unwrap(), s_uri.parse().unwrap(), random(2));
    let session = client
        .handle()
        .open_session(
            SessionSpec::new(cc, Role::Active)
                .peer_check(PeerVerification::Fingerprints(vec![server_fp])),
        )
        .unwrap();
    client
        .handle()
        .send(session, OutgoingMessage::new("text/plain", "secret"))
        .expect("the endpoint runs");
    let (id, error) = wait_for(&server, Duration::from_secs(10), |e| match e {
        EndpointEvent::ConnectionClosed {
            sessions, error, ..
        } => Some((sessions, error)),
        _ => None,
    });
    assert_eq!(id, vec![server_session]);
    // The server's endpoint refuses the client's certificate when the request names the
    // session whose SDP fingerprint it does not match.
    assert!(
        matches!(
            error,
            TransportError::Endpoint(ConnectionError::Fingerprint)
        ),
        "{error:?}"
    );
    assert!(error.is_certificate_mismatch());
    let source = std::error::Error::source(&error).expect("the endpoint's error");
    assert_eq!(
        source.downcast_ref::<ConnectionError>(),
        Some(&ConnectionError::Fingerprint)
    );
    let failed = wait_for(&server, Duration::from_secs(10), |e| match e {
        EndpointEvent::Session(s, Event::SessionFailed(why)) if s == server_session => Some(why),
        _ => None,
    });
    assert_eq!(failed, SessionFailure::ConnectionLost);
    // The client sees its connection go.
    wait_for(&client, Duration::from_secs(10), |e| match e {
        EndpointEvent::Session(_, Event::SessionFailed(_)) => Some(()),
        _ => None,
    });
}

#[test]
fn ipv6_loopback() {
    let server = Endpoint::start(EndpointConfig::default()).unwrap();
    let client = Endpoint::start(EndpointConfig::default()).unwrap();
    let Ok(addr) = server.handle().listen("[::1]:0".parse().unwrap(), false) else {
        eprintln!("skipped: this host has no IPv6 loopback");
        return;
    };
    let s_uri = format!("msrp://[::1]:{}/srv6session;tcp", addr.port());
    let c_uri = "msrp://[::1]:9/cli6session;tcp".to_owned();
    let sc = SessionConfig::new(s_uri.parse().unwrap(), c_uri.parse().unwrap(), random(1));
    server
        .handle()
        .open_session(SessionSpec::new(sc, Role::Passive))
        .unwrap();
    let cc = SessionConfig::new(c_uri.parse().unwrap(), s_uri.parse().unwrap(), random(2));
    let session = client
        .handle()
        .open_session(SessionSpec::new(cc, Role::Active))
        .unwrap();
    client
        .handle()
        .send(session, OutgoingMessage::new("text/plain", "over IPv6"))
        .expect("the endpoint runs");
    let (body, peer) = wait_for(&server, Duration::from_secs(10), {
        let mut peer = None;
        move |e| match e {
            EndpointEvent::Bound { peer: p, .. } => {
                peer = Some(p);
                None
            }
            EndpointEvent::Session(_, Event::Message(m)) => Some((m.body, peer)),
            _ => None,
        }
    });
    assert_eq!(&body[..], b"over IPv6");
    assert!(peer.unwrap().is_ipv6());
}

#[test]
fn tls_with_the_right_fingerprints_works_both_ways() {
    let p = pair(true, EndpointConfig::default(), |_, _| {});
    p.client
        .handle()
        .send(
            p.client_session,
            OutgoingMessage::new("text/plain", "sealed"),
        )
        .expect("the endpoint runs");
    let body = wait_for(&p.server, Duration::from_secs(10), |e| match e {
        EndpointEvent::Session(_, Event::Message(m)) => Some(m.body),
        _ => None,
    });
    assert_eq!(&body[..], b"sealed");
}

#[test]
fn slowloris_connection_is_dropped() {
    let mut config = EndpointConfig::default();
    config.endpoint.first_frame_timeout = Duration::from_millis(300);
    let server = Endpoint::start(config).unwrap();
    let addr = server
        .handle()
        .listen("127.0.0.1:0".parse().unwrap(), false)
        .unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(b"MSRP abcd SE").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    // The server closes the connection: a read returns 0 (or an error on reset).
    let n = stream.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn a_connection_no_session_uses_is_closed_after_a_while() {
    let mut config = EndpointConfig::default();
    config.endpoint.unused_connection_timeout = Duration::from_millis(300);
    let server = Endpoint::start(config).unwrap();
    let addr = server
        .handle()
        .listen("127.0.0.1:0".parse().unwrap(), false)
        .unwrap();
    let s_uri = uri("msrp", addr, "srv0session");
    let c_uri = uri("msrp", "127.0.0.1:9".parse().unwrap(), "raw0session");
    let sc = SessionConfig::new(s_uri.parse().unwrap(), c_uri.parse().unwrap(), random(1));
    let session = server
        .handle()
        .open_session(SessionSpec::new(sc, Role::Passive))
        .unwrap();
    // A plain socket plays the peer: one SEND, which binds the connection to the session.
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    let send = format!(
        "MSRP t7k2p9q4 SEND\r\nTo-Path: {s_uri}\r\nFrom-Path: {c_uri}\r\nMessage-ID: m1k8w3\r\n\
         Byte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------t7k2p9q4$\r\n"
    );
    raw.write_all(send.as_bytes()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"-------t7k2p9q4$\r\n") {
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"MSRP t7k2p9q4 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // While the session lives, the connection stays, however long it is idle.
    raw.set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    let idle = raw.read(&mut buf).unwrap_err();
    assert!(
        matches!(
            idle.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{idle:?}"
    );
    // Once it is closed, the connection goes after the configured time.
    server
        .handle()
        .close_session(session)
        .expect("the endpoint runs");
    let closed_at = Instant::now();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(raw.read(&mut buf).unwrap(), 0, "the connection is closed");
    assert!(closed_at.elapsed() >= Duration::from_millis(250));
}

#[test]
fn idle_connections_filling_the_limit_give_way_to_a_real_peer() {
    let mut config = EndpointConfig::default();
    config.endpoint.max_connections = 8;
    let p = pair(false, config, |_, _| {});
    // The real peer's connection is up and bound to its session.
    common::wait_for(&p.server, Duration::from_secs(10), |e| {
        matches!(e, EndpointEvent::Bound { .. }).then_some(())
    });
    // An attacker fills the listener with connections that never name a session.
    let idle: Vec<std::net::TcpStream> = (0..8)
        .map(|_| std::net::TcpStream::connect(p.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // A newcomer still gets in and is served (here, told that its session does not exist):
    // the oldest idle connection is closed to make room.
    let mut newcomer = std::net::TcpStream::connect(p.addr).unwrap();
    newcomer
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let to = format!("msrp://{}/nosuchsession;tcp", p.addr);
    let request = format!(
        "MSRP newc1 SEND\r\nTo-Path: {to}\r\nFrom-Path: msrp://127.0.0.1:9/me;tcp\r\nMessage-ID: msg1\r\nByte-Range: 1-0/0\r\n-------newc1$\r\n"
    );
    std::io::Write::write_all(&mut newcomer, request.as_bytes()).unwrap();
    let mut answer = [0u8; 64];
    let n = std::io::Read::read(&mut newcomer, &mut answer).expect("an answer");
    assert!(
        answer[..n].starts_with(b"MSRP newc1 481"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    // The first idle connection was the one closed: it reads the end of the stream.
    let mut first = &idle[0];
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        std::io::Read::read(&mut first, &mut buf).expect("the end"),
        0
    );
    // The real peer's session goes on.
    let message = p
        .client
        .handle()
        .send(
            p.client_session,
            OutgoingMessage::new("text/plain", "still here"),
        )
        .expect("the endpoint runs");
    let outcome = common::wait_outcome(&p.client, message, Duration::from_secs(10));
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
}
