//! Property tests: encode then decode is the identity (with the checking encoder and with head
//! templates), any split of a stream decodes the same, the end-line search never examines a byte
//! twice, and no input panics the decoders.

mod common;

use common::{decode_pieces, stream_pieces};
use msrp_wire::{
    ByteRange, Decoder, FailureReport, Flag, HeadTemplate, HeadWriter, MessageHeaders, MessageId,
    SendHead, StatusCode, StreamDecoder, SuccessReport, TransactionId, end_line, find_end_line,
};
use proptest::prelude::*;

/// A frame described by its parts.
#[derive(Clone, Debug)]
struct Spec {
    tid: String,
    start: Result<String, (u16, Option<String>)>,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
    flag: Flag,
}

impl Spec {
    fn encode(&self, out: &mut Vec<u8>) {
        let tid = TransactionId::new(&self.tid).unwrap();
        let mut w = match &self.start {
            Ok(method) => HeadWriter::request(out, &tid, method).unwrap(),
            Err((code, comment)) => HeadWriter::response(
                out,
                &tid,
                StatusCode::new(*code).unwrap(),
                comment.as_deref(),
            )
            .unwrap(),
        };
        w.header("To-Path", "msrp://b.example.com:9/s;tcp").unwrap();
        w.header("From-Path", "msrp://a.example.com:9/t;tcp")
            .unwrap();
        for (n, v) in &self.headers {
            w.header(n, v).unwrap();
        }
        match &self.body {
            Some((ctype, body)) => {
                w.header("Content-Type", ctype).unwrap();
                w.body_follows().unwrap();
                out.extend_from_slice(body);
                end_line(out, &tid, self.flag);
            }
            None => w.end(self.flag).unwrap(),
        }
    }
}

fn tid() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.+%=-]{3,31}"
}

/// Bodies made of the pieces that stress end-line detection.
fn body(tid: String) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"-------".to_vec()),
        Just(b"-".to_vec()),
        Just(tid.clone().into_bytes()),
        Just(tid.as_bytes()[..tid.len() - 1].to_vec()),
        Just(b"$".to_vec()),
        Just(b"+".to_vec()),
        Just(b"#".to_vec()),
        Just(b"\0".to_vec()),
        any::<Vec<u8>>(),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

fn flag() -> impl Strategy<Value = Flag> {
    prop_oneof![Just(Flag::End), Just(Flag::Continued), Just(Flag::Aborted)]
}

fn header() -> impl Strategy<Value = (String, String)> {
    ("[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,20}", "[ -~\t]{0,40}").prop_filter(
        "not a name with a fixed position",
        |(n, _)| {
            let l = n.to_ascii_lowercase();
            !matches!(l.as_str(), "to-path" | "from-path" | "content-type")
                && !l.starts_with("content-")
        },
    )
}

fn spec() -> impl Strategy<Value = Spec> {
    tid().prop_flat_map(|tid| {
        let start = prop_oneof![
            "[A-Z]{1,12}".prop_map(Ok),
            (100u16..1000, proptest::option::of("[ -~]{0,20}")).prop_map(Err),
        ];
        (
            Just(tid.clone()),
            start,
            prop::collection::vec(header(), 0..6),
            proptest::option::of(("[a-z]{1,8}/[a-z0-9.+-]{1,12}", body(tid))),
            flag(),
        )
            .prop_map(|(tid, start, headers, body, flag)| {
                // Responses never carry a body.
                let body = if start.is_err() { None } else { body };
                Spec {
                    tid,
                    start,
                    headers,
                    body,
                    flag,
                }
            })
            .prop_filter("a body must not contain its own end-line", |s| {
                let tid = TransactionId::new(&s.tid).unwrap();
                s.body
                    .as_ref()
                    .is_none_or(|(_, b)| find_end_line(b, &tid).is_none())
            })
    })
}

/// A SEND written from a template, described by its parts.
#[derive(Clone, Debug)]
struct TemplateSpec {
    to_path: String,
    from_path: String,
    tid: String,
    message_id: String,
    success_report: SuccessReport,
    failure_report: FailureReport,
    byte_range: ByteRange,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

/// A path: one to three URIs of visible ASCII, separated by single spaces.
fn path() -> impl Strategy<Value = String> {
    prop::collection::vec("[!-~]{1,30}", 1..4).prop_map(|uris| uris.join(" "))
}

fn template_spec() -> impl Strategy<Value = TemplateSpec> {
    let reports = (
        prop_oneof![Just(SuccessReport::Yes), Just(SuccessReport::No)],
        prop_oneof![
            Just(FailureReport::Yes),
            Just(FailureReport::No),
            Just(FailureReport::Partial)
        ],
    );
    let range = (any::<u64>(), any::<Option<u64>>(), any::<Option<u64>>())
        .prop_map(|(start, end, total)| ByteRange { start, end, total });
    // Headers the template writes itself are not the message's to add.
    let headers = prop::collection::vec(header(), 0..4).prop_filter("no reserved name", |hs| {
        hs.iter().all(|(n, _)| {
            let l = n.to_ascii_lowercase();
            !matches!(
                l.as_str(),
                "message-id" | "byte-range" | "success-report" | "failure-report" | "status"
            )
        })
    });
    (path(), path(), tid(), tid(), reports, range, headers).prop_flat_map(
        |(to_path, from_path, tid, message_id, reports, byte_range, headers)| {
            let body = proptest::option::of(("[a-z]{1,8}/[a-z0-9.+-]{1,12}", body(tid.clone())));
            (
                Just((
                    to_path, from_path, tid, message_id, reports, byte_range, headers,
                )),
                body,
            )
                .prop_map(
                    |(
                        (to_path, from_path, tid, message_id, (sr, fr), byte_range, headers),
                        body,
                    )| {
                        TemplateSpec {
                            to_path,
                            from_path,
                            tid,
                            message_id,
                            success_report: sr,
                            failure_report: fr,
                            byte_range,
                            headers,
                            body,
                        }
                    },
                )
                .prop_filter("a body must not contain its own end-line", |s| {
                    let tid = TransactionId::new(&s.tid).unwrap();
                    s.body
                        .as_ref()
                        .is_none_or(|(_, b)| find_end_line(b, &tid).is_none())
                })
        },
    )
}

/// Body bytes plus end-line bytes: what the end-line search must examine, once each.
fn search_span(s: &Spec) -> u64 {
    s.body
        .as_ref()
        .map_or(0, |(_, b)| (b.len() + 2 + 7 + s.tid.len() + 3) as u64)
}

fn splits(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..12).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

fn cut<'a>(wire: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut prev = 0;
    for &p in points {
        out.push(&wire[prev..p]);
        prev = p;
    }
    out.push(&wire[prev..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_is_identity(s in spec()) {
        let mut wire = Vec::new();
        s.encode(&mut wire);
        let mut d = Decoder::new();
        d.push(&wire);
        let f = d.decode().unwrap().expect("complete frame");
        prop_assert_eq!(d.buffered(), 0);
        prop_assert_eq!(f.transaction_id(), s.tid.as_str());
        match &s.start {
            Ok(m) => prop_assert_eq!(f.method().map(|m| m.as_str()), Some(m.as_str())),
            Err((code, comment)) => {
                prop_assert_eq!(f.status_code().map(|c| c.as_u16()), Some(*code));
                prop_assert_eq!(f.comment(), comment.as_deref().map(str::as_bytes));
            }
        }
        let got: Vec<(String, String)> = f
            .headers()
            .skip(2)
            .map(|h| (h.name_str().to_owned(), String::from_utf8(h.value.to_vec()).unwrap()))
            .collect();
        let mut want = s.headers.clone();
        if let Some((ctype, _)) = &s.body {
            want.push(("Content-Type".into(), ctype.clone()));
        }
        prop_assert_eq!(got, want);
        prop_assert_eq!(f.body(), s.body.as_ref().map(|(_, b)| &b[..]));
        prop_assert_eq!(f.flag(), s.flag);
        prop_assert_eq!(d.scanned(), search_span(&s));
        let mut again = Vec::new();
        f.encode(&mut again).unwrap();
        prop_assert_eq!(again, wire);
    }

    #[test]
    fn any_split_decodes_the_same(
        (specs, points) in prop::collection::vec(spec(), 1..5).prop_flat_map(|specs| {
            let mut wire = Vec::new();
            for s in &specs {
                s.encode(&mut wire);
            }
            let len = wire.len();
            (Just(specs), splits(len))
        })
    ) {
        let mut wire = Vec::new();
        for s in &specs {
            s.encode(&mut wire);
        }
        let (whole, err) = decode_pieces([&wire[..]]);
        prop_assert_eq!(err, None);
        prop_assert_eq!(whole.len(), specs.len());
        let pieces = cut(&wire, &points);
        prop_assert_eq!(decode_pieces(pieces.clone()), (whole.clone(), None));
        prop_assert_eq!(stream_pieces(pieces.clone()), (whole.clone(), None));

        // However the stream is split, the end-line search examines each body byte and each
        // end-line byte exactly once.
        let span: u64 = specs.iter().map(search_span).sum();
        let mut d = Decoder::new();
        for p in &pieces {
            d.push(p);
            while d.decode().unwrap().is_some() {}
        }
        prop_assert_eq!(d.scanned(), span);
        let mut d = Decoder::new();
        for p in wire.chunks(1) {
            d.push(p);
            while d.decode().unwrap().is_some() {}
        }
        prop_assert_eq!(d.scanned(), span);
        let mut d = StreamDecoder::new();
        for p in wire.chunks(1) {
            d.push(p);
            while d.decode().unwrap().is_some() {}
        }
        prop_assert_eq!(d.scanned(), span);
    }

    #[test]
    fn template_heads_decode_back(s in template_spec()) {
        let template = HeadTemplate::new(&s.to_path, &s.from_path).unwrap();
        let tid = TransactionId::new(&s.tid).unwrap();
        let message_id = MessageId::new(&s.message_id).unwrap();
        let headers = s
            .headers
            .iter()
            .map(|(n, v)| (n.clone().into(), v.clone().into()))
            .collect();
        let content_type = s.body.as_ref().map(|(ct, _)| ct.clone().into());
        let headers = MessageHeaders::new(headers, content_type).unwrap();
        let head = SendHead {
            message_id: &message_id,
            success_report: s.success_report,
            failure_report: s.failure_report,
            byte_range: s.byte_range,
            headers: &headers,
        };
        let mut wire = Vec::new();
        template.encode_send(&mut wire, &tid, &head);
        if let Some((_, body)) = &s.body {
            wire.extend_from_slice(body);
            end_line(&mut wire, &tid, Flag::Continued);
        }
        let mut d = Decoder::new();
        d.push(&wire);
        let f = d.decode().unwrap().expect("complete frame");
        prop_assert_eq!(d.buffered(), 0);
        prop_assert_eq!(f.transaction_id(), s.tid.as_str());
        prop_assert_eq!(f.method().map(|m| m.as_str()), Some("SEND"));
        prop_assert_eq!(f.to_path().unwrap().map(|p| p.as_str()), Some(s.to_path.as_str()));
        prop_assert_eq!(f.from_path().unwrap().map(|p| p.as_str()), Some(s.from_path.as_str()));
        prop_assert_eq!(f.message_id().unwrap(), Some(s.message_id.as_str()));
        prop_assert_eq!(f.success_report().unwrap().unwrap_or_default(), s.success_report);
        prop_assert_eq!(f.failure_report().unwrap().unwrap_or_default(), s.failure_report);
        prop_assert_eq!(f.byte_range().unwrap(), Some(s.byte_range));
        // To-Path, From-Path, Message-ID, the report headers written, Byte-Range; then the
        // message's headers, then Content-Type.
        let fixed = 4
            + usize::from(s.success_report == SuccessReport::Yes)
            + usize::from(s.failure_report != FailureReport::Yes);
        let got: Vec<(String, String)> = f
            .headers()
            .skip(fixed)
            .take(s.headers.len())
            .map(|h| (h.name_str().to_owned(), String::from_utf8(h.value.to_vec()).unwrap()))
            .collect();
        prop_assert_eq!(f.header_count(), fixed + s.headers.len() + usize::from(s.body.is_some()));
        prop_assert_eq!(&got, &s.headers);
        prop_assert_eq!(f.content_type_str().unwrap(), s.body.as_ref().map(|(ct, _)| ct.as_str()));
        prop_assert_eq!(f.body(), s.body.as_ref().map(|(_, b)| &b[..]));
        // What decodes re-encodes to the same bytes through the checking encoder.
        let mut again = Vec::new();
        f.encode(&mut again).unwrap();
        prop_assert_eq!(again, wire);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..600),
        points in splits(600),
        prefix in any::<bool>(),
    ) {
        let mut wire = if prefix { b"MSRP abcd SEND\r\n".to_vec() } else { Vec::new() };
        wire.extend_from_slice(&data);
        let points: Vec<usize> = points.into_iter().map(|p| p.min(wire.len())).collect();
        let pieces = cut(&wire, &points);
        let (a, ea) = decode_pieces(pieces.clone());
        let (b, eb) = decode_pieces([&wire[..]]);
        prop_assert_eq!(a, b);
        prop_assert_eq!(ea, eb);
        let (_, es) = stream_pieces(pieces);
        prop_assert_eq!(es, eb);
    }
}
