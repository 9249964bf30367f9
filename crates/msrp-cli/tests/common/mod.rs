//! What the black-box tests of `msrp` share: running the binary, a listener, temporary files.

// Each test file uses its own part of these.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn msrp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_msrp"))
}

/// A running `msrp listen`, killed when dropped.
pub struct Listener {
    pub child: Child,
    pub uri: String,
    pub fingerprint: Option<String>,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines a child writes to a pipe, read on a thread of their own.
pub fn lines_of(pipe: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

impl Listener {
    pub fn start(args: &[&str]) -> Listener {
        let mut child = msrp()
            .arg("listen")
            .arg("--json")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run msrp listen");
        let lines = lines_of(child.stdout.take().unwrap());
        let uri = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the URI line");
        let mut listener = Listener {
            child,
            uri,
            fingerprint: None,
            lines,
        };
        if args.contains(&"--tls") {
            let event = listener.next_event();
            listener.fingerprint = event["fingerprint"].as_str().map(str::to_owned);
        }
        listener
    }

    pub fn next_event(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a JSON line from msrp listen");
        serde_json::from_str(&line).expect("JSON")
    }

    /// The next event named `name`.
    pub fn event(&self, name: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "no {name} event");
            let e = self.next_event();
            if e["event"] == name {
                return e;
            }
        }
    }
}

pub fn send(uri: &str, args: &[&str]) -> Output {
    msrp()
        .arg("send")
        .arg("--to")
        .arg(uri)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run msrp send")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn temp_file(name: &str, data: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("msrp-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    path
}

/// A folder of its own under the temporary directory, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("msrp-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[allow(unused_imports)]
pub use msrp_benches::kamailio::{CertificateFiles, Kamailio};

/// Kamailio's binary, or `None` (with a line saying so) when it is not installed, outside CI.
pub fn kamailio_or_skip() -> Option<std::path::PathBuf> {
    let found = msrp_benches::kamailio::binary();
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("Kamailio is not installed: CI installs it to run these tests");
        }
        eprintln!("skipped: Kamailio is not installed (CI installs it and runs this test)");
    }
    found
}

/// A running `msrp relay --json`, killed when dropped.
pub struct OurRelay {
    pub child: Child,
    pub uri: String,
    lines: Receiver<String>,
    /// With `--tls`: its certificate's fingerprint, from its stderr.
    pub fingerprint: Option<String>,
    /// With `--ws-bind`: its WebSocket URI, its second line.
    pub ws_uri: Option<String>,
}

impl OurRelay {
    pub fn start(args: &[&str]) -> OurRelay {
        let mut child = msrp()
            .args(["relay", "--bind", "127.0.0.1:0", "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run msrp relay");
        let errors = lines_of(child.stderr.take().unwrap());
        let lines = lines_of(child.stdout.take().unwrap());
        let uri = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the relay's URI");
        let ws_uri = args.contains(&"--ws-bind").then(|| {
            lines
                .recv_timeout(Duration::from_secs(10))
                .expect("the relay's WebSocket URI")
        });
        let fingerprint = args.contains(&"--tls").then(|| {
            loop {
                let line = errors
                    .recv_timeout(Duration::from_secs(10))
                    .expect("the relay's fingerprint on stderr");
                if let Some(fp) = line.strip_prefix("msrp: relay certificate fingerprint ") {
                    break fp.to_owned();
                }
            }
        });
        OurRelay {
            child,
            uri,
            lines,
            fingerprint,
            ws_uri,
        }
    }

    /// The next event named `name`.
    pub fn event(&self, name: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {name} event"));
            let event: serde_json::Value = serde_json::from_str(&line).expect("JSON");
            if event["event"] == name {
                return event;
            }
        }
    }
}

impl Drop for OurRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--relay RELAY` followed by `extra`.
pub fn through(relay: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--relay".to_owned(), relay.to_owned()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// The arguments as `&str`s.
pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
