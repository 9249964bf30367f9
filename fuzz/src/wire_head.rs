//! `wire_head`: arbitrary bytes pushed at once into a [`Decoder`]; every frame it returns is
//! checked against the input and read through every typed accessor.
//!
//! Asserted: frames follow each other from offset 0 and each is the slice of the input at its
//! offset; the head is the start line, the header lines in order and (before a body) the blank
//! line, with every header's name, value and offset where [`Frame::headers`] says; the body is a
//! zero-copy slice right after the head, followed by exactly its end-line, and does not contain
//! that end-line itself; [`Head::header`] finds the first header of a name in any case; every
//! typed accessor is `Ok(None)` exactly when its header is absent, a duplicate error exactly when
//! it is repeated, and a located error or a value consistent with the raw text otherwise; a
//! framing error lies in the unfinished frame and is returned again on every later call.

use std::str;

use msrp_uri::Path;
use msrp_wire::{
    Decoder, Flag, Frame, Head, HeaderError, HeaderErrorKind, HeaderName, Method, UriList, is_ident,
};

/// Runs the target on one input.
pub fn check(data: &[u8]) {
    let mut decoder = Decoder::new();
    decoder.push(data);
    let mut next = 0u64;
    loop {
        match decoder.decode() {
            Ok(Some(frame)) => {
                assert_eq!(frame.offset(), next, "frames follow each other");
                check_frame(&frame, data);
                next += frame.as_bytes().len() as u64;
                assert_eq!(decoder.position(), next);
            }
            Ok(None) => {
                // What is left is the beginning of a frame.
                assert_eq!(decoder.position(), next);
                assert_eq!(decoder.buffered() as u64, data.len() as u64 - next);
                assert_eq!(decoder.is_mid_frame(), decoder.buffered() > 0);
                assert_eq!(decoder.error(), None);
                return;
            }
            Err(e) => {
                assert!(
                    (next..data.len() as u64).contains(&e.offset()),
                    "{e:?} is outside the unfinished frame {next}..{}",
                    data.len()
                );
                assert_eq!(decoder.error(), Some(e));
                assert_eq!(decoder.decode().err(), Some(e), "errors are sticky");
                decoder.push(b"MSRP abcd SEND\r\nTo-Path: a\r\nFrom-Path: b\r\n-------abcd$\r\n");
                assert_eq!(decoder.decode().err(), Some(e), "errors are sticky");
                return;
            }
        }
    }
}

/// Checks one frame against the input it was decoded from.
fn check_frame(frame: &Frame, data: &[u8]) {
    let start = frame.offset() as usize;
    let bytes = frame.as_bytes();
    assert_eq!(&data[start..start + bytes.len()], bytes);
    assert_eq!(frame.to_bytes(), bytes);
    let head = frame.head().as_bytes();
    assert!(bytes.starts_with(head));

    let pos = check_start_line(frame, head);
    let pos = check_header_lines(frame, head, pos);
    let tid = frame.transaction_id().as_bytes();
    let flag = frame.flag().as_byte();
    match frame.body() {
        Some(body) => {
            assert!(frame.has_body());
            assert_eq!(&head[pos..], b"\r\n", "a blank line opens the body");
            let rest = &bytes[head.len()..];
            assert!(
                std::ptr::eq(body.as_ptr(), rest.as_ptr()),
                "the body is the received bytes after the head"
            );
            let end_line = [b"\r\n-------", tid, &[flag], b"\r\n"].concat();
            assert_eq!(&rest[body.len()..], end_line);
            assert_eq!(frame.body_bytes().as_deref(), Some(body));
            // RFC 4975 §7.1: the end-line is not present in the body. The CRLF of the blank line
            // counts as the CRLF in front of it.
            let lead = [b"\r\n-------", tid].concat();
            let text = [b"\r\n", body].concat();
            let holds_end_line = text
                .windows(lead.len() + 1)
                .any(|w| w.starts_with(&lead) && Flag::from_byte(w[lead.len()]).is_some());
            assert!(!holds_end_line, "the body holds its own end-line");
        }
        None => {
            assert!(!frame.has_body());
            assert_eq!(pos, head.len(), "the end-line follows the headers");
            let end_line = [b"-------", tid, &[flag], b"\r\n"].concat();
            assert_eq!(&bytes[head.len()..], end_line);
        }
    }
    check_lookups(frame);
    check_accessors(frame);
}

/// Checks the start line `MSRP tid (method | code [SP comment]) CRLF`; returns where it ends.
fn check_start_line(frame: &Frame, head: &[u8]) -> usize {
    let tid = frame.transaction_id();
    assert!(is_ident(tid.as_bytes()));
    let end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("a start line");
    let line = &head[..end];
    let prefix = format!("MSRP {tid} ");
    assert!(line.starts_with(prefix.as_bytes()));
    let rest = &line[prefix.len()..];
    match (frame.method(), frame.status_code()) {
        (Some(method), None) => {
            assert!(frame.is_request());
            assert_eq!(rest, method.as_str().as_bytes());
            assert!(rest.iter().all(u8::is_ascii_uppercase));
            assert_eq!(Method::from_name(method.as_str()), method);
            assert_eq!(frame.comment(), None);
        }
        (None, Some(code)) => {
            assert!(!frame.is_request());
            assert!(!frame.has_body(), "a response has no body");
            let digits = code.to_string();
            match frame.comment() {
                None => assert_eq!(rest, digits.as_bytes()),
                Some(comment) => assert_eq!(rest, [digits.as_bytes(), b" ", comment].concat()),
            }
        }
        other => panic!("neither a request nor a response: {other:?}"),
    }
    end + 2
}

/// Checks that the header lines from `pos` are `name: value CRLF` as [`Frame::headers`] reports
/// them; returns where they end.
fn check_header_lines(frame: &Frame, head: &[u8], mut pos: usize) -> usize {
    assert_eq!(frame.headers().len(), frame.header_count());
    assert_eq!(frame.headers().count(), frame.header_count());
    for h in frame.headers() {
        let line = [h.raw_name, b": ", h.value, b"\r\n"].concat();
        assert_eq!(&head[pos..pos + line.len()], line);
        assert_eq!(
            h.offset,
            frame.offset() + (pos + h.raw_name.len() + 2) as u64
        );
        assert_eq!(h.name, HeaderName::from_bytes(h.raw_name));
        assert_eq!(h.name_str().as_bytes(), h.raw_name);
        assert!(!h.value.contains(&b'\r') && !h.value.contains(&b'\n'));
        pos += line.len();
    }
    pos
}

/// Checks [`Head::header`]: the value of the first header with the name, in any case.
fn check_lookups(frame: &Frame) {
    let first = |name: &[u8]| {
        frame
            .headers()
            .find(|h| h.raw_name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    for h in frame.headers() {
        assert_eq!(frame.header(h.name_str()), first(h.raw_name));
        let upper = h.name_str().to_ascii_uppercase();
        assert_eq!(frame.header(&upper), first(h.raw_name));
    }
    for &name in HeaderName::ALL {
        assert_eq!(frame.header(name.as_str()), first(name.as_str().as_bytes()));
    }
}

/// The value of the header `name` when it occurs exactly once.
fn once(head: &Head, name: HeaderName) -> Option<&[u8]> {
    let mut found = head.headers().filter(|h| h.name == name);
    let first = found.next()?;
    found.next().is_none().then_some(first.value)
}

/// Checks the promises every typed accessor shares, and returns its value with the raw header
/// value when the header is present once and well formed.
fn typed<T>(
    head: &Head,
    name: HeaderName,
    result: Result<Option<T>, HeaderError>,
) -> Option<(T, &[u8])> {
    let mut found = head.headers().filter(|h| h.name == name);
    let first = found.next();
    let repeated = found.next().is_some();
    match (result, first) {
        (Ok(None), None) => None,
        (Ok(Some(value)), Some(h)) => {
            assert!(!repeated, "{name} is repeated but was read");
            assert!(str::from_utf8(h.value).is_ok());
            Some((value, h.value))
        }
        (Err(e), Some(h)) => {
            assert_eq!(e.name(), name);
            assert_eq!(e.offset(), h.offset, "{name} error is not at its value");
            assert_eq!(e.kind() == HeaderErrorKind::Duplicate, repeated, "{e:?}");
            assert_eq!(
                e.kind() == HeaderErrorKind::Utf8,
                !repeated && str::from_utf8(h.value).is_err(),
                "{e:?}"
            );
            None
        }
        (result, first) => panic!(
            "{name}: accessor says present = {:?}, headers say {first:?}",
            result.map(|v| v.is_some())
        ),
    }
}

/// Reads every typed accessor and checks each value against its raw text.
fn check_accessors(frame: &Frame) {
    let head = frame.head();
    for (name, result) in [
        (HeaderName::ToPath, head.to_path()),
        (HeaderName::FromPath, head.from_path()),
        (HeaderName::UsePath, head.use_path()),
    ] {
        match typed(head, name, result) {
            Some((list, raw)) => check_uri_list(list, raw),
            None => {
                // A value that msrp-uri reads as a path is a valid URI list.
                let text = once(head, name).and_then(|v| str::from_utf8(v).ok());
                assert!(
                    text.is_none_or(|t| Path::parse(t).is_err()),
                    "{name}: {text:?}"
                );
            }
        }
    }
    if let Some((id, raw)) = typed(head, HeaderName::MessageId, head.message_id()) {
        assert!(is_ident(id.as_bytes()));
        assert_eq!(id.as_bytes(), raw);
    }
    if let Some((range, raw)) = typed(head, HeaderName::ByteRange, head.byte_range()) {
        // `start "-" (end | "*") "/" (total | "*")`, numbers with any leading zeros.
        let raw = str::from_utf8(raw).expect("checked");
        let fields: Vec<&str> = raw.split(['-', '/']).collect();
        let number = |s: &str| (s != "*").then(|| s.parse::<u64>().expect("digits"));
        assert_eq!(fields.len(), 3, "{raw}");
        assert_eq!(Some(range.start), number(fields[0]));
        assert_eq!(range.end, number(fields[1]));
        assert_eq!(range.total, number(fields[2]));
    }
    if let Some((report, raw)) = typed(head, HeaderName::SuccessReport, head.success_report()) {
        assert!(raw.eq_ignore_ascii_case(report.as_str().as_bytes()));
    }
    if let Some((report, raw)) = typed(head, HeaderName::FailureReport, head.failure_report()) {
        assert!(raw.eq_ignore_ascii_case(report.as_str().as_bytes()));
    }
    if let Some((status, raw)) = typed(head, HeaderName::Status, head.status()) {
        // `namespace SP status-code [SP comment]`, both numbers of exactly three digits.
        let mut text = format!("{:03} {}", status.namespace, status.code);
        if let Some(comment) = status.comment {
            text = format!("{text} {comment}");
        }
        assert_eq!(text.as_bytes(), raw);
    }
    let content_type = typed(head, HeaderName::ContentType, head.content_type_str());
    if let Some((text, raw)) = content_type {
        assert_eq!(text.as_bytes(), raw);
    }
    if typed(head, HeaderName::ContentType, head.content_type()).is_some() {
        assert!(content_type.is_some());
    }
    for (name, result) in [
        (HeaderName::ContentId, head.content_id()),
        (HeaderName::ContentDescription, head.content_description()),
    ] {
        if let Some((text, raw)) = typed(head, name, result) {
            assert_eq!(text.as_bytes(), raw);
        }
    }
    let disposition = head.content_disposition();
    if let Some((disposition, raw)) = typed(head, HeaderName::ContentDisposition, disposition) {
        assert!(!disposition.kind.is_empty());
        assert!(raw.starts_with(disposition.kind.as_bytes()));
        for (name, _) in &disposition.params {
            assert!(!name.is_empty());
            assert!(disposition.param(name).is_some());
        }
    }
    for (name, result) in [
        (HeaderName::Expires, head.expires()),
        (HeaderName::MinExpires, head.min_expires()),
        (HeaderName::MaxExpires, head.max_expires()),
    ] {
        let value = typed(head, name, result).map(|(seconds, _)| seconds);
        if let Some(raw) = once(head, name) {
            // Seconds are `1*DIGIT` that fit in 32 bits.
            let expected = str::from_utf8(raw)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u32>().ok());
            assert_eq!(value, expected, "{name}");
        }
    }
    for (name, result) in [
        (HeaderName::WwwAuthenticate, head.www_authenticate()),
        (HeaderName::Authorization, head.authorization()),
        (HeaderName::AuthenticationInfo, head.authentication_info()),
    ] {
        if let Some((digest, _)) = typed(head, name, result) {
            assert!(!digest.params.is_empty());
            for (param, _) in &digest.params {
                assert!(!param.is_empty());
                let first = digest
                    .params
                    .iter()
                    .find(|(p, _)| p.eq_ignore_ascii_case(param));
                assert_eq!(digest.get(param), first.map(|(_, v)| v.as_ref()));
            }
        }
    }
    if let Some((nick, raw)) = typed(head, HeaderName::UseNickname, head.use_nickname()) {
        assert!(!nick.is_empty() && nick.chars().count() <= 1023);
        assert!(raw.len() >= 2 && raw.starts_with(b"\"") && raw.ends_with(b"\""));
    }
}

/// Checks a To-Path, From-Path or Use-Path list against its raw value, and against `msrp-uri`.
fn check_uri_list(list: UriList<'_>, raw: &[u8]) {
    assert_eq!(list.as_str().as_bytes(), raw);
    let uris: Vec<&str> = list.iter().collect();
    assert_eq!(uris.join(" "), list.as_str());
    for uri in &uris {
        assert!(!uri.is_empty() && uri.bytes().all(|b| b.is_ascii_graphic()));
    }
    if let Ok(path) = Path::parse(list.as_str()) {
        assert_eq!(path.len(), uris.len());
        assert!(path.iter().map(|u| u.as_str()).eq(uris.iter().copied()));
    }
}
