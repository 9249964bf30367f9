//! MSRP over WebSocket (RFC 7977), run as the built binary over loopback: our WebSocket client
//! through our relay (`msrp relay --ws-bind`) to a TCP listener and back, texts, a 64 MiB file
//! and reports, over ws and wss; the page `--web` serves; and Kamailio as the WebSocket relay,
//! in both directions, over ws and wss.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

mod common;
use common::{
    CertificateFiles, Kamailio, Listener, OurRelay, TempDir, kamailio_or_skip, send, sha256_hex,
    stderr, strs, through,
};

/// A file of `len` bytes in `dir`, and its SHA-256.
fn data_file(dir: &TempDir, len: usize) -> (String, String) {
    let data: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let path = dir.0.join(format!("data-{len}.bin"));
    std::fs::write(&path, &data).unwrap();
    (path.to_str().unwrap().to_owned(), sha256_hex(&data))
}

/// Sends `text` and the file from one side to the other, and checks both arrived whole.
fn exchange(to: &Listener, relay_args: &[String], text: &str, file: &(String, String)) {
    let mut args = relay_args.to_vec();
    args.extend(["--text".to_owned(), text.to_owned()]);
    let out = send(&to.uri, &strs(&args));
    assert!(out.status.success(), "{}", stderr(&out));
    // Through a relay, `send` waits for the success report: the message reached the peer.
    assert!(
        stderr(&out).contains("success report received"),
        "{}",
        stderr(&out)
    );
    assert_eq!(to.event("message")["text"], text);
    let mut args = relay_args.to_vec();
    args.extend(["--file".to_owned(), file.0.clone()]);
    let out = send(&to.uri, &strs(&args));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(to.event("message")["sha256"], file.1.as_str());
}

#[test]
fn our_websocket_client_reaches_a_tcp_listener_through_our_relay_and_back() {
    let relay = OurRelay::start(&["--ws-bind", "127.0.0.1:0"]);
    let ws = relay.ws_uri.clone().unwrap();
    assert!(
        ws.starts_with("msrp://127.0.0.1:") && ws.ends_with(";ws"),
        "{ws}"
    );
    let dir = TempDir::new("ws-our-relay");
    let file = data_file(&dir, 64 << 20);

    // WebSocket client to a TCP listener.
    let tcp_listener = Listener::start(&strs(&through(&relay.uri, &[])));
    exchange(
        &tcp_listener,
        &through(&ws, &[]),
        "Hello from a WebSocket client",
        &file,
    );

    // A WebSocket listener: a `.invalid` URI with transport ws behind the relay's TCP URI
    // (RFC 7977 §8.1.1), reached by a TCP sender.
    let ws_listener = Listener::start(&strs(&through(&ws, &[])));
    let path: Vec<&str> = ws_listener.uri.split(' ').collect();
    assert_eq!(path.len(), 2, "{}", ws_listener.uri);
    assert!(path[0].starts_with(&relay.uri.replace(";tcp", "/")));
    assert!(
        path[1].contains(".invalid:2855/") && path[1].ends_with(";ws"),
        "{}",
        path[1]
    );
    exchange(
        &ws_listener,
        &through(&relay.uri, &[]),
        "Hello to a WebSocket client",
        &file,
    );

    // A sender without a relay sends the file as one chunk of 64 MiB; the relay cuts it into
    // chunks toward the WebSocket client (RFC 7977 §5.1), which takes at most 1 MiB in a
    // message.
    let out = send(&ws_listener.uri, &["--file", &file.0]);
    assert!(out.status.success(), "{}", stderr(&out));
    let message = ws_listener.event("message");
    assert_eq!(message["sha256"], file.1.as_str());
    assert_eq!(message["size"], 64u64 << 20);
}

#[test]
fn our_wss_client_checks_the_relay_by_its_fingerprint() {
    let relay = OurRelay::start(&["--tls", "--ws-bind", "127.0.0.1:0"]);
    let wss = relay.ws_uri.clone().unwrap();
    assert!(
        wss.starts_with("msrps://127.0.0.1:") && wss.ends_with(";ws"),
        "{wss}"
    );
    let fingerprint = relay.fingerprint.clone().unwrap();
    let secure = |uri: &str| through(uri, &["--relay-fingerprint", &fingerprint]);
    let dir = TempDir::new("wss-our-relay");
    let file = data_file(&dir, 1 << 20);
    let tcp_listener = Listener::start(&strs(&secure(&relay.uri)));
    exchange(&tcp_listener, &secure(&wss), "Hello over wss", &file);
    let ws_listener = Listener::start(&strs(&secure(&wss)));
    exchange(&ws_listener, &secure(&relay.uri), "Hello to wss", &file);

    let wrong = format!("sha-256 {}", ["00"; 32].join(":"));
    let args = through(&wss, &["--relay-fingerprint", &wrong, "--text", "not sent"]);
    let out = send(&tcp_listener.uri, &strs(&args));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));
}

/// What a plain HTTP request to `addr` gets.
fn http(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn the_relay_serves_its_chat_page_and_refuses_other_requests() {
    let relay = OurRelay::start(&["--ws-bind", "127.0.0.1:0", "--web"]);
    let ws = relay.ws_uri.clone().unwrap();
    let addr = ws
        .trim_start_matches("msrp://")
        .trim_end_matches(";ws")
        .to_owned();
    let page = http(&addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(
        page.contains("new WebSocket("),
        "the page opens a WebSocket"
    );
    let missing = http(&addr, "GET /secret HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    // RFC 6455 §4.4: a version the server does not speak gets 426 and the one it does.
    let old = http(
        &addr,
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: msrp\r\n\
         Sec-WebSocket-Version: 8\r\n\r\n",
    );
    assert!(old.starts_with("HTTP/1.1 426 "), "{old}");
    assert!(old.contains("Sec-WebSocket-Version: 13\r\n"), "{old}");
    // RFC 7977 §4.1: the subprotocol is msrp.
    let sip = http(
        &addr,
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(sip.starts_with("HTTP/1.1 400 "), "{sip}");

    // Without --web there is no page.
    let plain = OurRelay::start(&["--ws-bind", "127.0.0.1:0"]);
    let addr = plain.ws_uri.clone().unwrap();
    let addr = addr.trim_start_matches("msrp://").trim_end_matches(";ws");
    let none = http(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(none.starts_with("HTTP/1.1 404 "), "{none}");
}

/// A certificate for 127.0.0.1 and its key, as PEM files in `dir`, and its SDP-style
/// fingerprint.
fn certificate(dir: &TempDir) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let cert_path = dir.0.join("wss.pem");
    let key_path = dir.0.join("wss.key");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    use sha2::Digest;
    let digest = sha2::Sha256::digest(cert.der());
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    (cert_path, key_path, format!("sha-256 {}", hex.join(":")))
}

#[test]
fn kamailio_relays_between_our_websocket_client_and_our_tcp_listener_both_ways() {
    let Some(binary) = kamailio_or_skip() else {
        return;
    };
    let dir = TempDir::new("ws-kamailio");
    // Kamailio relays no frame of 11,239 bytes or more: the 8 KiB chunks toward relays pass.
    let file = data_file(&dir, 300_000);
    let (cert, key, fingerprint) = certificate(&dir);
    for secure in [false, true] {
        let tls = secure.then_some(CertificateFiles {
            cert: &cert,
            key: &key,
        });
        let name = if secure { "wss" } else { "ws" };
        let kamailio = Kamailio::with_websocket(&binary, name, &[], tls);
        let ws = kamailio.ws_uri().unwrap();
        let ws_args = if secure {
            through(&ws, &["--relay-fingerprint", &fingerprint])
        } else {
            through(&ws, &[])
        };
        let tcp_args = through(&kamailio.uri(), &[]);

        let tcp_listener = Listener::start(&strs(&tcp_args));
        exchange(
            &tcp_listener,
            &ws_args,
            &format!("Hello over {name} through Kamailio"),
            &file,
        );
        let ws_listener = Listener::start(&strs(&ws_args));
        assert!(ws_listener.uri.ends_with(";ws"), "{}", ws_listener.uri);
        exchange(
            &ws_listener,
            &tcp_args,
            &format!("Hello to {name} through Kamailio"),
            &file,
        );
    }
}
