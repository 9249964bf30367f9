//! An independent check with Wireshark's MSRP dissector: a `send` to a `listen` is captured on
//! loopback, and every frame tshark dissects must show the method, transaction id, Byte-Range,
//! Message-ID, status and continuation flag that `msrp decode` finds in the same bytes.
//!
//! Capturing needs tshark and the right to capture (root). CI installs tshark and runs as root
//! (`CI=true`), where a missing tshark fails the test; elsewhere the test says it is skipped.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn msrp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_msrp"))
}

fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("tshark check cannot run in CI: {why}");
    }
    eprintln!("skipped: {why} (CI installs tshark and runs this check)");
}

/// Kills a child process when dropped.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[test]
fn wireshark_dissector_agrees_with_decode() {
    if Command::new("tshark").arg("--version").output().is_err() {
        return skip("tshark is not installed");
    }
    let dir = std::env::temp_dir().join(format!("msrp-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("capture.pcapng");

    let mut listen = Guard(
        msrp()
            .args(["listen", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(listen.0.stdout.take().unwrap()).lines();
    let uri = lines.next().unwrap().unwrap();
    let port: u16 = uri
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("a port in the URI");

    let mut tshark = Guard(
        Command::new("tshark")
            .args(["-i", "lo", "-f", &format!("tcp port {port}"), "-w"])
            .arg(&capture)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Wait until tshark says it captures (or gives up).
    let mut err = BufReader::new(tshark.0.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut started = false;
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.contains("Capturing on") {
            started = true;
            break;
        }
    }
    if !started {
        return skip(&format!(
            "tshark cannot capture on loopback: {}",
            line.trim()
        ));
    }
    std::thread::spawn(move || {
        let mut sink = String::new();
        while err.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    std::thread::sleep(Duration::from_millis(500));

    let file = dir.join("data.bin");
    std::fs::write(
        &file,
        (0..20_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    for args in [
        vec!["--text", "hello, Wireshark"],
        vec!["--text", "a second message", "--failure-report", "partial"],
        vec!["--text", "a third, with a report", "--success-report"],
        vec![
            "--file",
            file.to_str().unwrap(),
            "--chunk-size",
            "3000",
            "--success-report",
        ],
    ] {
        let out = msrp()
            .args(["send", "--to", &uri])
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    // Stop the capture cleanly so the file is complete.
    let _ = Command::new("kill")
        .args(["-INT", &tshark.0.id().to_string()])
        .status();
    let _ = tshark.0.wait();

    // What the dissector sees: one line per dissected frame.
    let fields = Command::new("tshark")
        .arg("-r")
        .arg(&capture)
        .args([
            "-d",
            &format!("tcp.port=={port},msrp"),
            "-Y",
            "msrp",
            "-T",
            "fields",
            "-E",
            "separator=|",
        ])
        .args([
            "-e",
            "tcp.stream",
            "-e",
            "tcp.srcport",
            "-e",
            "msrp.method",
            "-e",
            "msrp.transaction.id",
        ])
        .args([
            "-e",
            "msrp.byte.range",
            "-e",
            "msrp.messageid",
            "-e",
            "msrp.cnt.flg",
            "-e",
            "msrp.status.code",
        ])
        .output()
        .unwrap();
    assert!(fields.status.success());
    let dissected = String::from_utf8_lossy(&fields.stdout).into_owned();

    let mut checked = 0;
    let mut streams: std::collections::HashMap<(String, bool), Vec<Value>> = Default::default();
    for row in dissected.lines() {
        let cols: Vec<&str> = row.split('|').collect();
        let [stream, src, method, tid, range, mid, flag, status] = cols[..] else {
            continue;
        };
        let from_client = src != port.to_string();
        let frames = streams
            .entry((stream.to_owned(), from_client))
            .or_insert_with(|| {
                // The bytes of this direction of the stream, decoded by `msrp decode`.
                let follow = Command::new("tshark")
                    .arg("-r")
                    .arg(&capture)
                    .args(["-q", "-z", &format!("follow,tcp,raw,{stream}")])
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&follow.stdout).into_owned();
                let bytes: Vec<u8> = text
                    .lines()
                    .filter(|l| {
                        !l.is_empty() && l.chars().all(|c| c.is_ascii_hexdigit() || c == '\t')
                    })
                    .filter(|l| l.starts_with('\t') != from_client)
                    .flat_map(|l| hex_to_bytes(l.trim()))
                    .collect();
                let mut decode = msrp()
                    .args(["decode", "--json"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                decode.stdin.take().unwrap().write_all(&bytes).unwrap();
                let out = decode.wait_with_output().unwrap();
                assert!(
                    out.status.success(),
                    "msrp decode accepts the captured stream"
                );
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect()
            });
        let tid = tid.split(',').next().unwrap_or("");
        let ours = frames
            .iter()
            .find(|f| f["transaction_id"] == tid)
            .unwrap_or_else(|| panic!("tshark saw transaction {tid}, msrp decode did not"));
        let header = |name: &str| {
            ours["headers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h[0] == name)
                .map(|h| h[1].as_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(
            ours["method"].as_str().unwrap_or(""),
            method,
            "method of {tid}"
        );
        assert_eq!(header("Byte-Range"), range, "Byte-Range of {tid}");
        assert_eq!(header("Message-ID"), mid, "Message-ID of {tid}");
        assert_eq!(ours["flag"], flag, "flag of {tid}");
        let code = ours["status"]
            .as_u64()
            .map(|c| c.to_string())
            .unwrap_or_default();
        assert_eq!(code, status, "status of {tid}");
        checked += 1;
    }
    assert!(
        checked >= 6,
        "only {checked} frames dissected:\n{dissected}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    drop(listen);
}
