//! `msrp listen`, `send`, `demo` and `sdp`, run as the built binary over loopback.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{Listener, TempDir, msrp, send, sha256_hex, stderr, temp_file};

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

/// A peer that speaks MSRP by hand over TCP, as an attacker or a broken client would: the test
/// writes the chunks it likes (chunks 2..N without chunk 1, odd file names) and reads the
/// listener's answers, which a thread of its own takes off the socket as they come.
struct RawPeer {
    stream: std::net::TcpStream,
    to: String,
    answers: std::sync::mpsc::Receiver<(String, u16)>,
    /// Answers read before they were asked for, by transaction id.
    early: std::collections::HashMap<String, u16>,
}

impl RawPeer {
    fn connect(uri: &str) -> RawPeer {
        let authority = uri
            .strip_prefix("msrp://")
            .and_then(|rest| rest.split('/').next())
            .expect("an msrp URI");
        let stream = std::net::TcpStream::connect(authority).expect("connect to the listener");
        let mut reader = stream.try_clone().unwrap();
        let (tx, answers) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut pending = Vec::new();
            let mut buf = vec![0; 64 << 10];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buf[..n]);
                // Responses and REPORTs have no body: every line is a start line, a header or
                // an end-line, and a response's start line is `MSRP tid code ...`.
                while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
                    let line = String::from_utf8_lossy(&pending[..end]).into_owned();
                    pending.drain(..end + 2);
                    let mut words = line.split(' ');
                    if let (Some("MSRP"), Some(tid), Some(code)) =
                        (words.next(), words.next(), words.next())
                    {
                        if let Ok(code) = code.parse() {
                            if tx.send((tid.to_owned(), code)).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        RawPeer {
            stream,
            to: uri.to_owned(),
            answers,
            early: std::collections::HashMap::new(),
        }
    }

    /// Sends one SEND chunk of message `mid`: `body` at `offset` (from zero) of a message of
    /// `total` bytes, ending with `flag`, with `headers` (whole lines) before its Content-Type.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        tid: &str,
        mid: &str,
        offset: usize,
        total: usize,
        body: &[u8],
        flag: char,
        headers: &str,
    ) {
        use std::io::Write;
        let head = format!(
            "MSRP {tid} SEND\r\nTo-Path: {}\r\nFrom-Path: msrp://127.0.0.1:9/rawpeer;tcp\r\nMessage-ID: {mid}\r\nByte-Range: {}-*/{total}\r\n{headers}Content-Type: application/octet-stream\r\n\r\n",
            self.to,
            offset + 1
        );
        self.stream.write_all(head.as_bytes()).unwrap();
        self.stream.write_all(body).unwrap();
        let end = format!("\r\n-------{tid}{flag}\r\n");
        self.stream.write_all(end.as_bytes()).unwrap();
    }

    /// Sends a message whole, in one chunk: `body` as a file named `name`.
    fn send_file(&mut self, tid: &str, name: &str, body: &[u8]) {
        let mid = format!("message-{tid}");
        let disposition = format!("Content-Disposition: attachment; filename=\"{name}\"\r\n");
        self.send(tid, &mid, 0, body.len(), body, '$', &disposition);
    }

    /// The status code of the answer to the transaction `tid`.
    fn answer(&mut self, tid: &str) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(code) = self.early.remove(tid) {
                return code;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let (id, code) = self
                .answers
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {tid}"));
            self.early.insert(id, code);
        }
    }
}

impl Drop for RawPeer {
    fn drop(&mut self) {
        // The reading thread holds a clone of the socket: shut it down rather than wait.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// The resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib << 10
}

/// Starts `msrp listen` with `args` and pushes 200 MiB at it in chunks of 1 MiB, each a chunk
/// 2..N of a message whose first MiB is never sent, answer by answer; a message refused with
/// 413 is followed by another. Returns the listener and the peer, how much the listener's
/// resident memory grew at most meanwhile, and how many messages were refused.
fn push_gapped(args: &[&str]) -> (Listener, RawPeer, u64, usize) {
    let l = Listener::start(args);
    let mut peer = RawPeer::connect(&l.uri);
    let before = rss(l.child.id());
    let chunk = vec![b'g'; 1 << 20];
    let (mut message, mut k, mut refused, mut peak) = (0, 1, 0, before);
    for n in 0..200 {
        let tid = format!("gap{n:05}");
        let mid = format!("gapped-{message}");
        peer.send(&tid, &mid, k << 20, 1 << 30, &chunk, '+', "");
        match peer.answer(&tid) {
            200 => k += 1,
            413 => {
                refused += 1;
                message += 1;
                k = 1;
            }
            other => panic!("chunk {n} answered {other}"),
        }
        peak = peak.max(rss(l.child.id()));
    }
    println!(
        "listen {args:?}: resident memory {} MiB before, {} MiB at most while 200 MiB beyond gaps went by; {refused} messages refused",
        before >> 20,
        peak >> 20
    );
    (l, peer, peak - before, refused)
}

/// Chunks 2..N of messages whose chunk 1 never comes: the listener answers 413 once a message
/// has 16 MiB beyond its gap (`Limits::max_gap_bytes`), and its memory stays bounded while 200
/// MiB go by. It once held every such chunk until the gap filled (issue 11).
#[test]
fn chunks_beyond_a_gap_get_413_and_the_listener_stays_small() {
    let (l, _peer, growth, refused) = push_gapped(&[]);
    // 17 chunks a message: 16 MiB beyond the gap are let through, the 17th gets 413.
    assert_eq!(refused, 200 / 17);
    assert!(growth < 96 << 20, "grew by {} MiB", growth >> 20);
    assert_eq!(l.event("aborted")["reason"], "toolarge");
}

/// With `--out` the chunks go to the file at their offsets: every one is taken and nothing is
/// held in memory for the gap.
#[test]
fn chunks_beyond_a_gap_are_written_in_place_with_out() {
    let dir = TempDir::new("gapped-out");
    let (l, peer, growth, refused) = push_gapped(&["--out", dir.arg()]);
    assert_eq!(refused, 0);
    assert!(growth < 48 << 20, "grew by {} MiB", growth >> 20);
    // The sender goes: the message is given up and its file removed.
    drop(peer);
    assert_eq!(l.event("aborted")["reason"], "sessionended");
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
}

/// A file name of 300 bytes is saved under a shortened one; a message that cannot be stored
/// at all is refused before its 200; the listener takes the next message either way. It once
/// acknowledged the message, then exited: "File name too long" (issue 11).
#[test]
fn a_name_too_long_is_shortened_and_a_message_that_cannot_be_stored_fails_alone() {
    let dir = TempDir::new("names");
    let l = Listener::start(&["--out", dir.arg()]);
    let mut peer = RawPeer::connect(&l.uri);
    let long = format!("{}.txt", "n".repeat(296));
    peer.send_file("long1", &long, b"first");
    assert_eq!(peer.answer("long1"), 200);
    let m = l.event("message");
    let saved = std::path::PathBuf::from(m["file"].as_str().unwrap());
    let name = saved.file_name().unwrap().to_str().unwrap();
    assert_eq!(name.len(), 255);
    assert!(name.starts_with("nnnn") && name.ends_with(".txt"), "{name}");
    assert_eq!(std::fs::read(&saved).unwrap(), b"first");

    // The folder is gone: no name can be made, and the message is refused before its 200.
    std::fs::remove_dir_all(&dir.0).unwrap();
    peer.send_file("gone1", "x.txt", b"lost");
    assert_eq!(peer.answer("gone1"), 413);
    let r = l.event("refused");
    assert_eq!(r["status"], 413);
    assert!(
        r["error"].as_str().unwrap().contains("cannot create"),
        "{r}"
    );

    // The listener goes on with the next message.
    std::fs::create_dir_all(&dir.0).unwrap();
    peer.send_file("next1", "next.txt", b"next");
    assert_eq!(peer.answer("next1"), 200);
    let m = l.event("message");
    assert_eq!(m["file"], dir.0.join("next.txt").to_str().unwrap());
    assert_eq!(m["sha256"], sha256_hex(b"next"));
    assert!(l.child.id() > 0 && std::fs::read(dir.0.join("next.txt")).unwrap() == b"next");
}

/// 2,000 files of the same name are saved under distinct names in a small fraction of a
/// second of CPU: finding a free name takes constant time. It once tried `name`, `name.1`,
/// `name.2` … for each file, and 6,000 of them took 10.9 s of CPU (issue 11).
#[test]
fn two_thousand_files_of_one_name_all_get_names_of_their_own() {
    // That finding a free name costs one probe per file, not a scan, is checked exactly by
    // store.rs's many_files_of_one_name_each_take_one_probe; here the listener saves them all.
    let dir = TempDir::new("same");
    let l = Listener::start(&["--out", dir.arg()]);
    let mut peer = RawPeer::connect(&l.uri);
    for i in 0..2000 {
        peer.send_file(&format!("same{i:05}"), "same.txt", b"same");
    }
    for i in 0..2000 {
        assert_eq!(peer.answer(&format!("same{i:05}")), 200);
    }
    let files: std::collections::HashSet<String> = (0..2000)
        .map(|_| l.event("message")["file"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(files.len(), 2000, "distinct names");
    assert!(files.iter().all(|f| std::fs::read(f).unwrap() == b"same"));
}
