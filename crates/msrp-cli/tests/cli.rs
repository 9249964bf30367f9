//! `msrp listen`, `send`, `demo` and `sdp`, run as the built binary over loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn msrp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_msrp"))
}

/// A running `msrp listen`, killed when dropped.
struct Listener {
    child: Child,
    uri: String,
    fingerprint: Option<String>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Listener {
    fn start(args: &[&str]) -> Listener {
        let mut child = msrp()
            .arg("listen")
            .arg("--json")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run msrp listen");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
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

    fn next_event(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a JSON line from msrp listen");
        serde_json::from_str(&line).expect("JSON")
    }

    /// The next event named `name`.
    fn event(&self, name: &str) -> Value {
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

fn send(uri: &str, args: &[&str]) -> Output {
    msrp()
        .arg("send")
        .arg("--to")
        .arg(uri)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run msrp send")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn temp_file(name: &str, data: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("msrp-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    path
}

#[test]
fn text_and_empty_message() {
    let l = Listener::start(&[]);
    let out = send(&l.uri, &["--text", "Hey Bob, are you there?"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("delivered 23 bytes"),
        "{}",
        stderr(&out)
    );
    let m = l.event("message");
    assert_eq!(m["text"], "Hey Bob, are you there?");
    assert_eq!(m["size"], 23);
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(m["sha256"], sha256_hex(b"Hey Bob, are you there?"));
    // The listener takes the next sender once it has seen this one go (until then the session
    // is bound to the old connection, and a new one naming it gets 481).
    l.event("closed");

    let out = send(&l.uri, &["--text", ""]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = l.event("message");
    assert_eq!(m["size"], 0);
    assert_eq!(m["text"], "");
}

#[test]
fn binary_file_is_saved_intact_under_its_name() {
    let dir = std::env::temp_dir().join(format!("msrp-cli-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let file = temp_file("photo.jpg", &data);
    let l = Listener::start(&["--out", dir.to_str().unwrap()]);
    let out = send(&l.uri, &["--file", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = l.event("message");
    assert_eq!(m["content_type"], "image/jpeg");
    assert_eq!(m["sha256"], sha256_hex(&data));
    assert!(m.get("text").is_none(), "binary bodies are not shown");
    let saved = std::path::PathBuf::from(m["file"].as_str().unwrap());
    assert!(saved.starts_with(&dir));
    assert!(
        saved
            .file_name()
            .unwrap()
            .to_string_lossy()
            .contains("photo.jpg")
    );
    assert_eq!(std::fs::read(&saved).unwrap(), data);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn ten_mib_in_1_kib_chunks_and_interruptible_with_success_reports() {
    let data: Vec<u8> = (0..10u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let file = temp_file("big.bin", &data);
    let l = Listener::start(&[]);
    for chunking in ["1024", "0"] {
        let out = send(
            &l.uri,
            &[
                "--file",
                file.to_str().unwrap(),
                "--chunk-size",
                chunking,
                "--success-report",
                "--json",
            ],
        );
        assert!(
            out.status.success(),
            "chunk size {chunking}: {}",
            stderr(&out)
        );
        let result: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(result["delivered"], true);
        assert_eq!(result["reported"], true);
        assert_eq!(result["bytes"], 10 << 20);
        let m = l.event("message");
        assert_eq!(m["size"], 10 << 20);
        assert_eq!(m["sha256"], sha256_hex(&data));
        l.event("closed");
    }
    let _ = std::fs::remove_file(&file);
}

#[test]
fn tls_with_fingerprints() {
    let l = Listener::start(&["--tls"]);
    let fp = l.fingerprint.clone().expect("a fingerprint");
    assert!(l.uri.starts_with("msrps://"));
    let out = send(&l.uri, &["--text", "sealed", "--fingerprint", &fp]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(l.event("message")["text"], "sealed");
    // A wrong fingerprint is refused, with one clear line.
    let wrong = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
    let out = send(&l.uri, &["--text", "x", "--fingerprint", wrong]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("fingerprint"), "{err}");
    // msrps without a fingerprint is a usage error.
    let out = send(&l.uri, &["--text", "x"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn failures_have_clear_lines_and_statuses() {
    // Nothing listening.
    let out = send("msrp://127.0.0.1:1/nobody;tcp", &["--text", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1);
    // A malformed URI.
    let out = send("msrp//nope", &["--text", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid --to URI"),
        "{}",
        stderr(&out)
    );

    let l = Listener::start(&["--max-size", "1000", "--accept-types", "text/plain"]);
    // An unknown session on a live listener: 481.
    let wrong_session = l.uri.replace(';', "x;");
    let out = send(&wrong_session, &["--text", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("481"), "{}", stderr(&out));
    // Over max-size: 413.
    let big = "x".repeat(5000);
    let out = send(&l.uri, &["--text", &big]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("413"), "{}", stderr(&out));
    // The listener takes the next sender once it has seen this one go.
    assert_eq!(l.event("refused")["status"], 413);
    l.event("closed");
    // An unaccepted type: 415.
    let out = send(
        &l.uri,
        &["--text", "<b>x</b>", "--content-type", "text/html"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("415"), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"));
    assert_eq!(l.event("refused")["status"], 415);
}

#[test]
fn demo_runs_and_checks_itself() {
    let out = msrp().args(["demo", "--file-mib", "8"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(matches), success report received"),
        "{text}"
    );
    let out = msrp()
        .args(["demo", "--tls", "--file-mib", "4"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("over TLS loopback"));
}

#[test]
fn sdp_offer_and_answer() {
    let offer = msrp()
        .args([
            "sdp",
            "offer",
            "--path",
            "msrp://127.0.0.1:2855/abc123;tcp",
            "--accept-types",
            "text/plain message/cpim",
            "--max-size",
            "4096",
        ])
        .output()
        .unwrap();
    assert!(offer.status.success(), "{}", stderr(&offer));
    let text = String::from_utf8(offer.stdout.clone()).unwrap();
    assert!(text.contains("m=message 2855 TCP/MSRP *\r\n"), "{text}");
    assert!(text.contains("a=path:msrp://127.0.0.1:2855/abc123;tcp\r\n"));
    assert!(text.contains("a=accept-types:text/plain message/cpim\r\n"));
    assert!(text.contains("a=max-size:4096\r\n"));
    let mut answer = msrp()
        .args([
            "sdp",
            "answer",
            "--path",
            "msrp://127.0.0.1:7777/def456;tcp",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    answer
        .stdin
        .take()
        .unwrap()
        .write_all(&offer.stdout)
        .unwrap();
    let out = answer.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.contains("a=path:msrp://127.0.0.1:7777/def456;tcp\r\n"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("send to msrp://127.0.0.1:2855/abc123;tcp"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn verbose_shows_frames() {
    let l = Listener::start(&[]);
    let out = send(&l.uri, &["-v", "--text", "traced"]);
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(err.contains("MSRP ") && err.contains(" SEND"), "{err}");
    assert!(err.contains("200 OK"), "{err}");
}

/// A peer that accepts the connection and then reads nothing, as a stopped process does: the
/// send fails about `--timeout` later, saying why, rather than after a fixed deadline.
#[test]
fn a_peer_that_takes_nothing_fails_the_send_about_the_timeout_later() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = std::thread::spawn(move || {
        // Keep the connection open, unread, for longer than the test needs.
        let (stream, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(20));
        drop(stream);
    });
    // A body larger than every buffer between the two ends.
    let file = std::env::temp_dir().join(format!("msrp-stalled-{}.bin", std::process::id()));
    std::fs::write(&file, vec![b'z'; 64 << 20]).unwrap();
    let started = Instant::now();
    let out = send(
        &format!("msrp://{addr}/stopped;tcp"),
        &["--file", file.to_str().unwrap(), "--timeout", "2"],
    );
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(&file);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    // Whichever comes first, both at --timeout: the stalled output, or the binding SEND
    // unanswered (408).
    assert!(err.contains("took no data") || err.contains("408"), "{err}");
    assert!(
        elapsed < Duration::from_secs(10),
        "noticed after {elapsed:?}: {err}"
    );
    drop(hold);
}
