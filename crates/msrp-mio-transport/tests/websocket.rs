//! A relay's WebSocket listener (RFC 7977) seen by a raw client on loopback: the handshake,
//! MSRP frames one per message, pings, closes, and the framing errors and limits that end a
//! connection with the RFC 6455 status code that says why.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use msrp_mio_transport::{RelayConfig, RelayServer, RelayServerConfig};
use msrp_wire::ws::handshake::ClientHandshake;
use msrp_wire::ws::{
    Control, Decoder, Item, MAX_HEADER, Opcode, Role, WsLimits, apply_mask, write_header,
};

fn relay(max_message: u64) -> RelayServer {
    let mut config = RelayServerConfig::new(RelayConfig::new("127.0.0.1", 0));
    config.ws_bind = Some("127.0.0.1:0".parse().unwrap());
    config.transport.ws_limits.max_message = max_message;
    RelayServer::start(config, "127.0.0.1:0".parse().unwrap(), false).unwrap()
}

/// A client connection that has done the handshake.
struct Client {
    stream: TcpStream,
    decoder: Decoder,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let handshake = ClientHandshake::with_key("dGhlIHNhbXBsZSBub25jZQ==");
        stream
            .write_all(&handshake.request(&addr.to_string(), "/"))
            .unwrap();
        let mut head = Vec::new();
        let len = loop {
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
            if let Some(len) = handshake
                .read_response(&head, &WsLimits::default())
                .unwrap()
            {
                break len;
            }
        };
        assert_eq!(len, head.len());
        Client {
            stream,
            decoder: Decoder::new(Role::Client),
            buf: Vec::new(),
        }
    }

    fn send_frame(&mut self, fin: bool, opcode: Opcode, payload: &[u8], masked: bool) {
        let key = [3, 141, 59, 26];
        let mut header = [0u8; MAX_HEADER];
        let n = write_header(
            &mut header,
            fin,
            opcode,
            payload.len() as u64,
            masked.then_some(key),
        );
        let mut frame = header[..n].to_vec();
        let mut body = payload.to_vec();
        if masked {
            apply_mask(&mut body, key, 0);
        }
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).unwrap();
    }

    /// The next message or control frame: `Ok(message)` or `Err(control)`; `None` once the
    /// relay has closed the connection.
    fn next(&mut self) -> Option<Result<Vec<u8>, Control>> {
        let mut message = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let mut pending = std::mem::take(&mut self.buf);
            let mut pos = 0;
            loop {
                let step = self.decoder.decode(&mut pending[pos..]).unwrap();
                let base = pos;
                pos += step.consumed;
                match step.item {
                    Some(Item::Data(r)) => {
                        message.extend_from_slice(&pending[base + r.start..base + r.end]);
                    }
                    Some(Item::MessageEnd) => {
                        self.buf = pending[pos..].to_vec();
                        return Some(Ok(message));
                    }
                    Some(Item::Control(c)) => {
                        self.buf = pending[pos..].to_vec();
                        return Some(Err(c));
                    }
                    None => break,
                }
            }
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf = chunk[..n].to_vec(),
            }
        }
    }

    /// Expects the relay to close with `code`, then the connection to end.
    fn expect_close(&mut self, code: u16) {
        match self.next() {
            Some(Err(Control::Close { code: got, .. })) => assert_eq!(got, Some(code)),
            other => panic!("expected a Close {code}, got {other:?}"),
        }
        assert!(self.next().is_none(), "the connection ends after the Close");
    }
}

fn auth(client: &mut Client, relay_ws: &str, tid: &str) -> String {
    let frame = format!(
        "MSRP {tid} AUTH\r\nTo-Path: {relay_ws}\r\nFrom-Path: msrp://c0ffee.invalid:2855/s{tid};ws\r\n-------{tid}$\r\n"
    );
    client.send_frame(true, Opcode::Binary, frame.as_bytes(), true);
    let answer = client.next().unwrap().unwrap();
    String::from_utf8(answer).unwrap()
}

#[test]
fn each_msrp_frame_is_one_message_and_pings_and_closes_are_answered() {
    let relay = relay(1 << 20);
    let addr = relay.ws_addr().unwrap();
    let ws_uri = relay.ws_uri().unwrap().to_owned();
    let mut client = Client::connect(addr);
    // RFC 7977 §8.1.1: AUTH addressed to the WebSocket URI; the Use-Path is the TCP URI.
    let answer = auth(&mut client, &ws_uri, "aa11");
    assert!(answer.starts_with("MSRP aa11 200 OK\r\n"), "{answer}");
    let use_path = relay.uri().trim_end_matches(";tcp").to_owned() + "/";
    assert!(
        answer.contains(&format!("Use-Path: {use_path}")),
        "{answer}"
    );
    assert!(
        answer.ends_with("-------aa11$\r\n"),
        "one whole frame: {answer}"
    );

    // A text message, fragmented, is MSRP as well (RFC 7977 §4.2).
    let frame = format!(
        "MSRP bb22 AUTH\r\nTo-Path: {ws_uri}\r\nFrom-Path: msrp://c0ffee.invalid:2855/sbb22;ws\r\n-------bb22$\r\n"
    );
    let (first, second) = frame.as_bytes().split_at(20);
    client.send_frame(false, Opcode::Text, first, true);
    // A ping between the fragments is answered with the same payload (RFC 6455 §5.5.2).
    client.send_frame(true, Opcode::Ping, b"are you there", true);
    client.send_frame(true, Opcode::Continuation, second, true);
    assert_eq!(
        client.next(),
        Some(Err(Control::Pong(b"are you there".to_vec())))
    );
    let answer = String::from_utf8(client.next().unwrap().unwrap()).unwrap();
    assert!(answer.starts_with("MSRP bb22 200 OK\r\n"), "{answer}");

    // A Close is answered with the same code, then the connection ends (RFC 6455 §5.5.1).
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"done");
    client.send_frame(true, Opcode::Close, &payload, true);
    client.expect_close(1000);
}

#[test]
fn framing_errors_and_oversize_messages_end_the_connection_with_their_status() {
    let relay = relay(4096);
    let addr = relay.ws_addr().unwrap();
    // RFC 6455 §5.1: a client's frames are masked.
    let mut client = Client::connect(addr);
    client.send_frame(true, Opcode::Binary, b"MSRP", false);
    client.expect_close(1002);
    // §8.1: text is UTF-8.
    let mut client = Client::connect(addr);
    client.send_frame(true, Opcode::Text, &[0x4d, 0xff, 0xfe], true);
    client.expect_close(1007);
    // A message larger than the limit is refused at its header: 1009.
    let mut client = Client::connect(addr);
    let mut header = [0u8; MAX_HEADER];
    let n = write_header(
        &mut header,
        true,
        Opcode::Binary,
        1 << 30,
        Some([1, 2, 3, 4]),
    );
    client.stream.write_all(&header[..n]).unwrap();
    client.expect_close(1009);
    // Bytes that are not MSRP inside a valid message: the relay's MSRP decoder ends it.
    let mut client = Client::connect(addr);
    client.send_frame(true, Opcode::Binary, b"GET / HTTP/1.1\r\n\r\n", true);
    assert!(
        client
            .next()
            .is_none_or(|m| matches!(m, Err(Control::Close { .. }))),
        "the relay closes"
    );
}
