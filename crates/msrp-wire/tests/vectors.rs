//! Conformance: every RFC example frame in `vectors/` parses to exactly the fields its entry in
//! `vectors/INDEX.json` lists, re-encodes byte-identical, and decodes the same in any split.

mod common;

use common::{Logical, decode_pieces, msrp_vectors, stream_pieces, vectors_dir};
use msrp_wire::{ByteRange, Decoder, Flag};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn index() -> Vec<Value> {
    let text = std::fs::read_to_string(vectors_dir().join("INDEX.json")).expect("INDEX.json");
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    json["msrp"].as_array().expect("msrp entries").clone()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn uri_list(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|u| u.as_str().expect("uri").to_owned())
        .collect()
}

fn range_part(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) if s == "*" => None,
        other => Some(other.as_u64().expect("number")),
    }
}

#[test]
fn every_vector_parses_to_its_index_entry() {
    let entries = index();
    let files = msrp_vectors();
    assert_eq!(entries.len(), files.len(), "one index entry per .msrp file");
    assert!(entries.len() >= 80);
    for entry in &entries {
        let name = entry["file"].as_str().expect("file");
        let (_, wire) = files.iter().find(|(n, _)| n == name).expect("file exists");
        assert_eq!(wire.len() as u64, entry["size"].as_u64().unwrap(), "{name}");
        assert_eq!(
            hex(&Sha256::digest(wire)),
            entry["sha256"].as_str().unwrap(),
            "{name}"
        );

        let mut decoder = Decoder::new();
        decoder.push(wire);
        let frame = decoder
            .decode()
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: incomplete"));
        assert_eq!(
            decoder.decode().unwrap().map(|f| f.offset()),
            None,
            "{name}"
        );
        assert_eq!(decoder.buffered(), 0, "{name}: bytes left over");
        assert_eq!(frame.as_bytes().len(), wire.len(), "{name}");

        assert_eq!(
            frame.transaction_id(),
            entry["transaction_id"].as_str().unwrap(),
            "{name}"
        );
        match entry["kind"].as_str().unwrap() {
            "request" => {
                assert!(frame.is_request(), "{name}");
                let method = frame.method().expect("method");
                assert_eq!(method.as_str(), entry["method"].as_str().unwrap(), "{name}");
            }
            "response" => {
                assert!(!frame.is_request(), "{name}");
                let code = frame.status_code().expect("status").as_u16();
                assert_eq!(
                    u64::from(code),
                    entry["status_code"].as_u64().unwrap(),
                    "{name}"
                );
                let comment = frame
                    .comment()
                    .map(|c| String::from_utf8(c.to_vec()).unwrap());
                assert_eq!(comment.as_deref(), entry["reason"].as_str(), "{name}");
            }
            other => panic!("{name}: unknown kind {other}"),
        }

        let headers: Vec<(String, String)> = frame
            .headers()
            .map(|h| {
                (
                    h.name_str().to_owned(),
                    String::from_utf8(h.value.to_vec()).unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = entry["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_owned(),
                    p[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(headers, expected, "{name}");
        for (n, v) in &expected {
            assert_eq!(frame.header(n), Some(v.as_bytes()), "{name}: lookup of {n}");
            assert_eq!(
                frame.header(&n.to_ascii_lowercase()),
                Some(v.as_bytes()),
                "{name}: case-insensitive lookup of {n}"
            );
        }

        let to: Vec<String> = frame
            .to_path()
            .unwrap()
            .expect("To-Path")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(to, uri_list(&entry["to_path"]), "{name}");
        let from: Vec<String> = frame
            .from_path()
            .unwrap()
            .expect("From-Path")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(from, uri_list(&entry["from_path"]), "{name}");

        match entry.get("byte_range") {
            Some(r) => {
                let expected = ByteRange {
                    start: r["start"].as_u64().unwrap(),
                    end: range_part(&r["end"]),
                    total: range_part(&r["total"]),
                };
                assert_eq!(frame.byte_range().unwrap(), Some(expected), "{name}");
            }
            None => assert_eq!(frame.byte_range().unwrap(), None, "{name}"),
        }

        let has_body = entry["has_body"].as_bool().unwrap();
        assert_eq!(frame.has_body(), has_body, "{name}");
        match frame.body() {
            Some(body) => {
                assert!(has_body);
                assert_eq!(
                    body.len() as u64,
                    entry["body_length"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    hex(&Sha256::digest(body)),
                    entry["body_sha256"].as_str().unwrap()
                );
                if let Some(text) = entry["body"].as_str() {
                    assert_eq!(body, text.as_bytes(), "{name}");
                }
            }
            None => assert!(!has_body, "{name}"),
        }
        let flag = entry["continuation_flag"].as_str().unwrap().as_bytes()[0];
        assert_eq!(Some(frame.flag()), Flag::from_byte(flag), "{name}");

        // Typed accessors accept every header the RFC examples use.
        frame.message_id().unwrap_or_else(|e| panic!("{name}: {e}"));
        frame
            .success_report()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        frame
            .failure_report()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        frame.status().unwrap_or_else(|e| panic!("{name}: {e}"));
        frame
            .content_type()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        frame
            .content_disposition()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        frame.use_path().unwrap_or_else(|e| panic!("{name}: {e}"));
        frame.expires().unwrap_or_else(|e| panic!("{name}: {e}"));
        frame
            .min_expires()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        frame
            .max_expires()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        frame
            .www_authenticate()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        frame
            .authorization()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        frame
            .authentication_info()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        frame
            .use_nickname()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn every_vector_reencodes_byte_identical() {
    for (name, wire) in msrp_vectors() {
        let mut decoder = Decoder::new();
        decoder.push(&wire);
        let frame = decoder.decode().unwrap().unwrap();
        let mut out = Vec::new();
        frame
            .encode(&mut out)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out, wire, "{name}");
    }
}

#[test]
fn every_vector_decodes_the_same_in_any_split() {
    for (name, wire) in msrp_vectors() {
        let (whole, err) = decode_pieces([&wire[..]]);
        assert!(err.is_none(), "{name}");
        assert_eq!(whole.len(), 1);
        for cut in 0..=wire.len() {
            let (a, b) = wire.split_at(cut);
            assert_eq!(
                decode_pieces([a, b]),
                (whole.clone(), None),
                "{name} cut at {cut}"
            );
            assert_eq!(
                stream_pieces([a, b]),
                (whole.clone(), None),
                "{name} cut at {cut}"
            );
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(
            decode_pieces(bytes.clone()),
            (whole.clone(), None),
            "{name} bytewise"
        );
        assert_eq!(
            stream_pieces(bytes),
            (whole.clone(), None),
            "{name} bytewise"
        );
    }
}

#[test]
fn all_vectors_back_to_back_form_one_stream() {
    let files = msrp_vectors();
    let stream: Vec<u8> = files.iter().flat_map(|(_, w)| w.iter().copied()).collect();
    let (frames, err) = decode_pieces([&stream[..]]);
    assert!(err.is_none());
    assert_eq!(frames.len(), files.len());
    let mut offset = 0u64;
    for (frame, (_, wire)) in frames.iter().zip(&files) {
        assert_eq!(frame.offset, offset);
        offset += wire.len() as u64;
    }
    let (bytewise, err) = stream_pieces(stream.chunks(1));
    assert!(err.is_none());
    assert_eq!(bytewise, frames);
    let first: Vec<Logical> = frames.into_iter().take(3).collect();
    assert_eq!(first.len(), 3);
}

#[test]
fn typed_values_of_selected_vectors() {
    let read = |name: &str| {
        let wire = std::fs::read(vectors_dir().join(name)).unwrap();
        let mut d = Decoder::new();
        d.push(&wire);
        d.decode().unwrap().unwrap()
    };
    let report = read("rfc4975-11.6-report.msrp");
    let status = report.status().unwrap().unwrap();
    assert_eq!(
        (status.namespace, status.code.as_u16(), status.comment),
        (0, 200, Some("OK"))
    );

    let auth = read("rfc4976-5.1-401-49fh.msrp");
    let challenge = auth.www_authenticate().unwrap().unwrap();
    assert!(challenge.get("realm").is_some());
    assert!(challenge.get("nonce").is_some());

    let ok = read("rfc4976-5.1-200ok-49fi.msrp");
    assert!(ok.use_path().unwrap().unwrap().iter().count() >= 1);
    assert!(ok.expires().unwrap().is_some());

    let nick = read("rfc7701-9.2-f1-nickname.msrp");
    assert!(!nick.use_nickname().unwrap().unwrap().is_empty());

    let send = read("rfc4975-11.2-send-xhtml.msrp");
    let mime = send.content_type().unwrap().unwrap();
    assert_eq!(mime.essence_str(), "application/xhtml+xml");
}
