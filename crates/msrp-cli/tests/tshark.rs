//! An independent check with Wireshark's MSRP dissector: a `send` to a `listen` is captured on
//! loopback, and every frame tshark dissects must show the method, transaction id, Byte-Range,
//! Message-ID, status and continuation flag that `msrp decode` finds in the same bytes.
//!
//! The same check runs on an AUTH exchange with digest captured at Kamailio's relay (RFC 4976),
//! comparing the paths and the Use-Path as well.
//!
//! Capturing needs tshark and the right to capture (root). CI installs tshark and runs as root
//! (`CI=true`), where a missing tshark fails the test; elsewhere the test says it is skipped.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::msrp;

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

/// A tshark capture on a loopback port, into a file of its own.
struct Capture {
    tshark: Guard,
    dir: std::path::PathBuf,
    file: std::path::PathBuf,
    port: u16,
}

impl Capture {
    /// Starts capturing on `port`; `Err` says why it cannot.
    fn start(name: &str, port: u16) -> Result<Capture, String> {
        let dir = std::env::temp_dir().join(format!("msrp-tshark-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("capture.pcapng");
        let mut tshark = Guard(
            Command::new("tshark")
                .args(["-i", "lo", "-f", &format!("tcp port {port}"), "-w"])
                .arg(&file)
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
            return Err(format!(
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
        Ok(Capture {
            tshark,
            dir,
            file,
            port,
        })
    }

    /// Stops the capture cleanly, so that the file is complete.
    fn stop(&mut self) {
        std::thread::sleep(Duration::from_millis(500));
        let _ = Command::new("kill")
            .args(["-INT", &self.tshark.0.id().to_string()])
            .status();
        let _ = self.tshark.0.wait();
    }

    /// Checks every frame the dissector finds against what `msrp decode` finds in the same
    /// bytes: method, transaction id, Byte-Range, Message-ID, flag and status, and the header
    /// fields named in `headers` (`(tshark field, MSRP header)`). Returns the frames checked,
    /// by method or status.
    fn compare(&self, headers: &[(&str, &str)]) -> Vec<String> {
        let port = self.port;
        let mut fields = Command::new("tshark");
        fields.arg("-r").arg(&self.file).args([
            "-d",
            &format!("tcp.port=={port},msrp"),
            "-Y",
            "msrp",
            "-T",
            "fields",
            "-E",
            "separator=|",
        ]);
        for field in [
            "tcp.stream",
            "tcp.srcport",
            "msrp.method",
            "msrp.transaction.id",
            "msrp.byte.range",
            "msrp.messageid",
            "msrp.cnt.flg",
            "msrp.status.code",
        ]
        .into_iter()
        .chain(headers.iter().map(|(field, _)| *field))
        {
            fields.args(["-e", field]);
        }
        let fields = fields.output().unwrap();
        assert!(fields.status.success());
        let dissected = String::from_utf8_lossy(&fields.stdout).into_owned();

        let mut checked = Vec::new();
        let mut streams: std::collections::HashMap<(String, bool), Vec<Value>> = Default::default();
        for row in dissected.lines() {
            let cols: Vec<&str> = row.split('|').collect();
            if cols.len() < 8 + headers.len() {
                continue;
            }
            let [stream, src, method, tid, range, mid, flag, status] = cols[..8] else {
                continue;
            };
            let from_client = src != port.to_string();
            let frames = streams
                .entry((stream.to_owned(), from_client))
                .or_insert_with(|| self.decoded(stream, from_client));
            let tid = tid.split(',').next().unwrap_or("");
            let ours = frames
                .iter()
                .find(|f| {
                    f["transaction_id"] == tid && f["method"].as_str().unwrap_or("") == method
                })
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
            assert_eq!(header("Byte-Range"), range, "Byte-Range of {tid}");
            assert_eq!(header("Message-ID"), mid, "Message-ID of {tid}");
            assert_eq!(ours["flag"], flag, "flag of {tid}");
            let code = ours["status"]
                .as_u64()
                .map(|c| c.to_string())
                .unwrap_or_default();
            assert_eq!(code, status, "status of {tid}");
            for ((_, name), value) in headers.iter().zip(&cols[8..]) {
                assert_eq!(header(name), *value, "{name} of {tid}");
            }
            checked.push(if method.is_empty() {
                status.to_owned()
            } else {
                method.to_owned()
            });
        }
        checked
    }

    /// One direction of a captured TCP stream, decoded by `msrp decode --json`.
    fn decoded(&self, stream: &str, from_client: bool) -> Vec<Value> {
        let follow = Command::new("tshark")
            .arg("-r")
            .arg(&self.file)
            .args(["-q", "-z", &format!("follow,tcp,raw,{stream}")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&follow.stdout).into_owned();
        let bytes: Vec<u8> = text
            .lines()
            .filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_hexdigit() || c == '\t'))
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
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tshark_installed() -> bool {
    Command::new("tshark").arg("--version").output().is_ok()
}

#[test]
fn wireshark_dissector_agrees_with_decode() {
    if !tshark_installed() {
        return skip("tshark is not installed");
    }
    let listener = common::Listener::start(&[]);
    let uri = listener.uri.clone();
    let port: u16 = uri
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("a port in the URI");
    let mut capture = match Capture::start("direct", port) {
        Ok(capture) => capture,
        Err(why) => return skip(&why),
    };

    let file = capture.dir.join("data.bin");
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
        // The listener is ready for the next sender once it says the session closed.
        listener.event("closed");
    }
    capture.stop();
    let checked = capture.compare(&[]);
    assert!(checked.len() >= 6, "only {checked:?} dissected");
}

/// RFC 4976's AUTH with digest, through Kamailio: the 401, the AUTH with credentials, the 200
/// with its Use-Path, and a SEND along the granted path, each read alike by both.
#[test]
fn wireshark_dissector_agrees_with_decode_on_auth_through_a_relay() {
    if !tshark_installed() {
        return skip("tshark is not installed");
    }
    let Some(binary) = common::kamailio_or_skip() else {
        return;
    };
    let relay = common::Kamailio::start(&binary, "tshark", &["WITH_AUTH"]);
    let mut capture = match Capture::start("relay", relay.port) {
        Ok(capture) => capture,
        Err(why) => return skip(&why),
    };
    let credentials = ["--user", "alice", "--password", "xyz123"];
    let mut args = vec!["--relay".to_owned(), relay.uri()];
    args.extend(credentials.map(str::to_owned));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let listener = common::Listener::start(&args);
    let mut send_args = args.clone();
    send_args.extend(["--text", "hello through Kamailio"]);
    let out = common::send(&listener.uri, &send_args);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(listener.event("message")["text"], "hello through Kamailio");
    capture.stop();
    let checked = capture.compare(&[
        ("msrp.to.path", "To-Path"),
        ("msrp.from.path", "From-Path"),
        ("msrp.use.path", "Use-Path"),
    ]);
    // Per client: AUTH, 401, AUTH, 200; then the SEND and its 200, both ways.
    let count = |what: &str| checked.iter().filter(|c| *c == what).count();
    assert_eq!(count("AUTH"), 4, "{checked:?}");
    assert_eq!(count("401"), 2, "{checked:?}");
    assert!(count("SEND") >= 2, "{checked:?}");
    assert!(count("200") >= 4, "{checked:?}");
}
