//! A real browser on the relay's chat page (`msrp relay --ws-bind --web`): headless Chromium,
//! driven over its DevTools protocol, authenticates to our relay over WebSocket (RFC 7977),
//! sends a text and a file to an `msrp listen --relay` terminal, and shows what `msrp send`
//! sends it. Its screenshot is the README's picture of the page (written to the path in
//! `MSRP_WEB_CHAT_SCREENSHOT`, when set).
//!
//! CI installs Debian's chromium; elsewhere the test is skipped when it is missing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use msrp_wire::ws::{Decoder, Item, MAX_HEADER, Opcode, Role, apply_mask, write_header};
use serde_json::{Value, json};

mod common;
use common::{Listener, OurRelay, TempDir, send, sha256_hex, stderr};

/// The browser, or `None` (with a line saying so) when it is not installed, outside CI.
fn chromium_or_skip() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is not installed: CI installs it to run this test");
        }
        eprintln!("skipped: chromium is not installed (CI installs it and runs this test)");
    }
    found
}

/// Headless Chromium in a process group of its own, killed with all its helpers when dropped.
struct Browser {
    child: Child,
    /// Its profile, removed when dropped.
    _profile: TempDir,
}

impl Browser {
    /// Starts the browser on `url`; returns it and its DevTools port.
    fn start(binary: &Path, url: &str) -> (Browser, u16) {
        let profile = TempDir::new("chromium-profile");
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=900,650",
            ])
            .arg(format!("--user-data-dir={}", profile.arg()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("run chromium");
        let browser = Browser {
            child,
            _profile: profile,
        };
        // It writes its port to this file once it listens.
        let file = browser._profile.0.join("DevToolsActivePort");
        let port = wait_for(Duration::from_secs(30), "the DevTools port", || {
            std::fs::read_to_string(&file)
                .ok()?
                .lines()
                .next()?
                .parse()
                .ok()
        });
        (browser, port)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The renderer and other helpers are in its process group.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-9", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it gives a value, for `limit` at most.
fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A plain HTTP GET's body (DevTools keeps the connection open: its length tells the end).
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })?;
            if body.len() >= length {
                return Some(body[..length].to_owned());
            }
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        answer.extend_from_slice(&chunk[..n]);
    }
}

/// A DevTools connection to one page: JSON commands in WebSocket text messages, framed with
/// the project's own WebSocket codec.
struct DevTools {
    stream: TcpStream,
    decoder: Decoder,
    buf: Vec<u8>,
    /// The message being read.
    partial: Vec<u8>,
    next_id: u64,
}

impl DevTools {
    fn connect(port: u16, page_url: &str) -> DevTools {
        let target = wait_for(Duration::from_secs(30), "the page's target", || {
            let list: Value = serde_json::from_str(&http_get(port, "/json/list")?).ok()?;
            list.as_array()?
                .iter()
                .find(|t| {
                    t["type"] == "page"
                        && t["url"].as_str().is_some_and(|u| u.starts_with(page_url))
                })
                .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
        });
        let path = target
            .split_once(&format!("127.0.0.1:{port}"))
            .expect("a local DevTools URL")
            .1
            .to_owned();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        // The 101's head, byte by byte so that no frame is read with it.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            stream
                .read_exact(&mut byte)
                .expect("the DevTools handshake");
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        DevTools {
            stream,
            decoder: Decoder::new(Role::Client),
            buf: Vec::new(),
            partial: Vec::new(),
            next_id: 1,
        }
    }

    /// Sends a command and returns its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let payload = json!({"id": id, "method": method, "params": params}).to_string();
        let key = [0x5a, 0x13, 0xc4, 0x7e];
        let mut header = [0u8; MAX_HEADER];
        let n = write_header(
            &mut header,
            true,
            Opcode::Text,
            payload.len() as u64,
            Some(key),
        );
        let mut frame = header[..n].to_vec();
        let mut body = payload.into_bytes();
        apply_mask(&mut body, key, 0);
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).unwrap();
        loop {
            let message: Value = serde_json::from_slice(&self.message()).expect("JSON");
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method}: {message}");
                return message["result"].clone();
            }
        }
    }

    /// The next text message (events and results alike).
    fn message(&mut self) -> Vec<u8> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let mut pending = std::mem::take(&mut self.buf);
            let mut pos = 0;
            loop {
                let step = self
                    .decoder
                    .decode(&mut pending[pos..])
                    .expect("WebSocket framing");
                let base = pos;
                pos += step.consumed;
                match step.item {
                    Some(Item::Data(range)) => self
                        .partial
                        .extend_from_slice(&pending[base + range.start..base + range.end]),
                    Some(Item::MessageEnd) => {
                        self.buf = pending[pos..].to_vec();
                        return std::mem::take(&mut self.partial);
                    }
                    Some(Item::Control(_)) => {}
                    None => break,
                }
            }
            let n = self.stream.read(&mut chunk).expect("DevTools input");
            assert!(n > 0, "DevTools closed");
            self.buf = chunk[..n].to_vec();
        }
    }

    /// Evaluates a JavaScript expression in the page; returns its value (promises awaited).
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page.
    fn wait_until(&mut self, expression: &str) {
        wait_for(Duration::from_secs(30), expression, || {
            (self.eval(expression) == Value::Bool(true)).then_some(())
        });
    }
}

#[test]
fn a_browser_on_the_relay_page_chats_and_sends_files_with_an_msrp_terminal() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let relay = OurRelay::start(&["--ws-bind", "127.0.0.1:0", "--web"]);
    let ws = relay.ws_uri.clone().unwrap();
    let addr = ws.trim_start_matches("msrp://").trim_end_matches(";ws");
    let page_url = format!("http://{addr}/");
    let listener = Listener::start(&["--relay", &relay.uri]);

    let (_browser, port) = Browser::start(&chromium, &page_url);
    let mut page = DevTools::connect(port, &page_url);
    page.wait_until("window.chat !== undefined && window.chat.status === 'authenticated'");
    let page_path = page.eval("window.chat.path").as_str().unwrap().to_owned();
    // RFC 7977 §8.1.1: the relay's TCP URI first, then the page's own `.invalid` URI.
    let hops: Vec<&str> = page_path.split(' ').collect();
    assert_eq!(hops.len(), 2, "{page_path}");
    assert!(
        hops[1].contains(".invalid:") && hops[1].ends_with(";ws"),
        "{page_path}"
    );

    // Typed on the page, received by the terminal.
    page.eval(&format!(
        "window.chat.peer = {}; window.chat.send('Hello from the browser'); true",
        json!(listener.uri)
    ));
    assert_eq!(listener.event("message")["text"], "Hello from the browser");

    // A file from the page: 20,000 bytes, in chunks.
    let script = "(() => { const d = new Uint8Array(20000);                   for (let i = 0; i < d.length; i++) d[i] = (i * 7 + 3) % 251;                   window.chat.sendFile('pattern.bin', d, 'application/octet-stream'); return true; })()";
    page.eval(script);
    let expected: Vec<u8> = (0..20000u32).map(|i| ((i * 7 + 3) % 251) as u8).collect();
    let message = listener.event("message");
    assert_eq!(message["size"], 20000);
    assert_eq!(message["sha256"], sha256_hex(&expected));

    // Sent by `msrp send`, shown on the page.
    let out = send(
        &page_path,
        &[
            "--relay",
            &relay.uri,
            "--text",
            "Hello browser, from msrp send",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    page.wait_until("window.chat.log().some(t => t.includes('Hello browser, from msrp send'))");
    // And a file, which the page offers as a download.
    let dir = TempDir::new("browser-file");
    let file = dir.0.join("report.pdf");
    std::fs::write(&file, vec![b'x'; 30_000]).unwrap();
    let out = send(
        &page_path,
        &["--relay", &relay.uri, "--file", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    page.wait_until("window.chat.received.some(r => r.size === 30000)");

    // Behind a relay that challenges, the page answers with digest credentials (RFC 4976
    // §5.1), given here in its query.
    let users = dir.0.join("users");
    std::fs::write(&users, "alice:wonderland\n").unwrap();
    let guarded = OurRelay::start(&[
        "--ws-bind",
        "127.0.0.1:0",
        "--auth-file",
        users.to_str().unwrap(),
    ]);
    let guarded_ws = guarded.ws_uri.clone().unwrap();
    let guarded_addr = guarded_ws
        .trim_start_matches("msrp://")
        .trim_end_matches(";ws");
    for (password, status) in [("wrong", "error: 401"), ("wonderland", "authenticated")] {
        page.eval(&format!(
            "document.getElementById('url').value = 'ws://{guarded_addr}/'; \
             document.getElementById('user').value = 'alice'; \
             document.getElementById('password').value = '{password}'; \
             document.getElementById('connect').click(); true"
        ));
        page.wait_until(&format!("window.chat.status.startsWith('{status}')"));
    }
    assert_eq!(guarded.event("auth")["user"], "alice");
    // Back to the first relay, for the picture.
    page.eval(&format!(
        "document.getElementById('url').value = 'ws://{addr}/'; \
         document.getElementById('user').value = ''; \
         document.getElementById('password').value = ''; \
         document.getElementById('connect').click(); true"
    ));
    page.wait_until("window.chat.status === 'authenticated'");

    // The page as it looks now, for the README.
    let shot = page.call("Page.captureScreenshot", json!({"format": "png"}));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let target = std::env::var_os("MSRP_WEB_CHAT_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.0.join("web-chat.png"));
    std::fs::write(&target, &png).unwrap();
}
