//! `msrp decode`, run as the built binary, against the RFC vectors and broken streams.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn vectors() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn msrp(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_msrp"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run msrp");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn json_output_of_every_vector_matches_the_index() {
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors().join("INDEX.json")).unwrap())
            .unwrap();
    let entries = index["msrp"].as_array().unwrap();
    // All frames back to back in one stream, read from stdin.
    let mut stream = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push(stream.len() as u64);
        stream.extend(std::fs::read(vectors().join(e["file"].as_str().unwrap())).unwrap());
    }
    let out = msrp(&["decode", "--json"], &stream);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), entries.len());
    for ((line, e), offset) in lines.iter().zip(entries).zip(offsets) {
        let name = e["file"].as_str().unwrap();
        let mut keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut want = vec![
            "body_base64",
            "body_len",
            "flag",
            "headers",
            "kind",
            "offset",
            "transaction_id",
        ];
        if e["kind"] == "request" {
            want.push("method");
            assert_eq!(line["method"], e["method"], "{name}");
        } else {
            want.extend(["comment", "status"]);
            assert_eq!(line["status"], e["status_code"], "{name}");
            assert_eq!(line["comment"], e["reason"], "{name}");
        }
        want.sort_unstable();
        assert_eq!(keys, want, "{name}: exactly the contract's fields");
        assert_eq!(line["kind"], e["kind"], "{name}");
        assert_eq!(line["transaction_id"], e["transaction_id"], "{name}");
        assert_eq!(line["headers"], e["headers"], "{name}");
        assert_eq!(line["flag"], e["continuation_flag"], "{name}");
        assert_eq!(line["offset"], offset, "{name}");
        assert_eq!(line["body_len"], e["body_length"], "{name}");
        match line["body_base64"].as_str() {
            Some(b64) => {
                let body = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                assert_eq!(
                    Some(hex(&Sha256::digest(&body)).as_str()),
                    e["body_sha256"].as_str()
                );
            }
            None => assert_eq!(e["has_body"], false, "{name}"),
        }
    }
}

#[test]
fn human_output_shows_headers_and_body() {
    let file = vectors().join("rfc4975-4-send.msrp");
    let out = msrp(&["decode", file.to_str().unwrap()], b"");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("#1 at byte 0: request SEND, transaction a786hjs2\n"),
        "{text}"
    );
    assert!(text.contains("  Byte-Range: 1-25/25\n"));
    assert!(text.contains("  body: 23 bytes (text), sha256 9ece0e16"));
    assert!(text.contains("flag $ (end of message)"));
    assert!(text.contains("  | Hey Bob, are you there?\n"));
}

#[test]
fn framing_error_is_reported_with_its_offset_and_status_1() {
    let good = std::fs::read(vectors().join("rfc4975-4-200ok.msrp")).unwrap();
    let mut stream = good.clone();
    stream.extend_from_slice(b"MSRP abcd SEND\r\nTo-Path x\r\n");
    let out = msrp(&["decode", "--json"], &stream);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["kind"], "response");
    let offset = good.len() as u64 + 16;
    assert_eq!(lines[1]["kind"], "error");
    assert_eq!(lines[1]["offset"], offset);
    assert!(lines[1]["error"].as_str().unwrap().contains("header"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(&format!("byte {offset}")));

    let out = msrp(&["decode"], &stream);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("#1 at byte 0: response 200 OK")
    );
}

#[test]
fn truncated_stream_and_missing_file_fail_cleanly() {
    let good = std::fs::read(vectors().join("rfc4975-4-send.msrp")).unwrap();
    let out = msrp(&["decode", "--json"], &good[..good.len() - 3]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["kind"], "error");
    assert_eq!(lines[0]["offset"], 0);

    let out = msrp(&["decode", "no/such/file.msrp"], b"");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1);
    assert!(stderr.starts_with("msrp: cannot read no/such/file.msrp"));
    assert!(out.stdout.is_empty());
}

#[test]
fn large_streamed_body_decodes() {
    let mut stream = b"MSRP big1 SEND\r\nTo-Path: msrp://b.example.com:9/s;tcp\r\n\
From-Path: msrp://a.example.com:9/t;tcp\r\nContent-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    stream.extend_from_slice(&body);
    stream.extend_from_slice(b"\r\n-------big1$\r\n");
    let out = msrp(&["decode"], &stream);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let digest = hex(&Sha256::digest(&body));
    assert!(
        text.contains(&format!("body: 3000000 bytes (binary), sha256 {digest}")),
        "{text}"
    );
    let out = msrp(&["decode", "--json"], &stream);
    let lines = json_lines(&out);
    assert_eq!(lines[0]["body_len"], 3_000_000);
}
