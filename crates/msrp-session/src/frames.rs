//! Encoding the frames a session sends: responses, REPORTs and chunk heads.
//!
//! Every value these frames carry was checked against the header grammar once, where it
//! entered the engine: the session's paths when the session is created
//! ([`encode_send_lines`]), a message's content type and headers when it is queued
//! ([`check_message_head`]), both with `msrp_wire::HeadWriter`; values taken from a received
//! head were checked by the decoder (a transaction id is an `ident`, a path list is visible
//! ASCII); numbers, flags and reason phrases are made here. So the frames are written line by
//! line, in the order of RFC 4975 §9, without checking the same bytes again for every frame.

use std::borrow::Cow;

use bytes::BytesMut;
use msrp_wire::{
    EncodeError, FailureReport, Flag, Head, HeadWriter, Method, StatusCode, TransactionId,
};

use crate::MessageId;

/// Logs a frame head written for the peer (target `msrp::frame`, level debug): what `msrp -v`
/// shows.
pub(crate) fn trace_sent(bytes: &[u8]) {
    if tracing::enabled!(target: "msrp::frame", tracing::Level::DEBUG) {
        tracing::debug!(target: "msrp::frame", "sent\n{}", String::from_utf8_lossy(bytes).trim_end());
    }
}

/// Logs a frame head received from the peer.
pub(crate) fn trace_received(head: &Head) {
    if tracing::enabled!(target: "msrp::frame", tracing::Level::DEBUG) {
        tracing::debug!(
            target: "msrp::frame",
            "received at byte {}\n{}",
            head.offset(),
            String::from_utf8_lossy(head.as_bytes()).trim_end()
        );
    }
}

/// What follows `MSRP <tid>` in a SEND of a session, up to its To-Path.
pub(crate) const SEND_TO: &str = " SEND\r\nTo-Path: ";
/// What separates the To-Path and the From-Path in those lines.
pub(crate) const FROM: &str = "\r\nFrom-Path: ";
/// What follows the From-Path in those lines, up to the Message-ID.
pub(crate) const MESSAGE_ID: &str = "\r\nMessage-ID: ";

/// The part of every SEND of a session that does not change, from the method to the name of
/// the Message-ID: `SEND`, its `To-Path` and its `From-Path`, checked by the encoder once.
/// `None` if either path is not header text.
///
/// RFC 4975 §9: "headers = To-Path CRLF From-Path CRLF 1*( header CRLF )".
pub(crate) fn encode_send_lines(to_path: &str, from: &str) -> Option<String> {
    let mut check = Vec::new();
    let tid = TransactionId::from_random([0; 16]);
    let mut w = HeadWriter::request(&mut check, &tid, "SEND").ok()?;
    w.header("To-Path", to_path)
        .ok()?
        .header("From-Path", from)
        .ok()?;
    w.end(Flag::End).ok()?;
    Some(format!("{SEND_TO}{to_path}{FROM}{from}{MESSAGE_ID}"))
}

/// Checks what a message adds to the head of its chunks, its headers and content type, with
/// the encoder's rules, by writing a trial head into `work`: so that a header the grammar
/// refuses is reported when the message is queued rather than in the middle of the transfer.
/// The paths, checked when the session was created, are stood in for.
pub(crate) fn check_message_head(
    work: &mut Vec<u8>,
    headers: &[(Cow<'static, str>, Cow<'static, str>)],
    content_type: Option<&str>,
) -> Result<(), EncodeError> {
    work.clear();
    let tid = TransactionId::from_random([0; 16]);
    let mut w = HeadWriter::request(work, &tid, "SEND")?;
    w.header("To-Path", "-")?.header("From-Path", "-")?;
    for (name, value) in headers {
        w.header(name, value)?;
    }
    match content_type {
        Some(ct) => {
            w.header("Content-Type", ct)?;
            w.body_follows()
        }
        // RFC 4975 §7.1: "A request with no body MUST NOT include a Content-Type or any other
        // MIME-specific header fields."
        None => w.end(Flag::End),
    }
}

/// Appends `n` in decimal.
fn put_decimal(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `/total`, or `/*` when the total is unknown.
fn put_total(out: &mut BytesMut, total: Option<u64>) {
    match total {
        Some(t) => {
            out.extend_from_slice(b"/");
            put_decimal(out, t);
        }
        None => out.extend_from_slice(b"/*"),
    }
}

/// Appends a status code and its reason phrase, if it has one.
fn put_status(out: &mut BytesMut, code: StatusCode) {
    put_decimal(out, u64::from(code.as_u16()));
    if let Some(reason) = code.canonical_reason() {
        out.extend_from_slice(b" ");
        out.extend_from_slice(reason.as_bytes());
    }
}

/// Appends the end of the last header line and the end-line of a frame without a body. RFC
/// 4975 §7.2: "Since a response is never chunked, the continuation flag in the end-line will
/// always contain a dollar sign".
fn put_final_end_line(out: &mut BytesMut, tid: &[u8]) {
    out.extend_from_slice(b"\r\n-------");
    out.extend_from_slice(tid);
    out.extend_from_slice(b"$\r\n");
}

/// The transaction id of a received frame: what `Head::transaction_id` gives, read as the bytes
/// between `MSRP ` and the next space of the start line that the decoder checked, without
/// checking them again as UTF-8. RFC 4975 §9: "req-start = pMSRP SP transact-id SP method
/// CRLF" and "resp-line = pMSRP SP transact-id SP status-code [SP comment] CRLF".
pub(crate) fn received_tid(head: &Head) -> &[u8] {
    let rest = head.as_bytes().get(5..).unwrap_or_default();
    match rest.iter().position(|&b| b == b' ') {
        Some(len) => &rest[..len],
        None => head.transaction_id().as_bytes(),
    }
}

/// Writes a response to the request `head` into `out`; `false` if the request carries no
/// usable From-Path to address it to.
pub(crate) fn write_response(
    out: &mut BytesMut,
    head: &Head,
    code: StatusCode,
    local_uri: &str,
) -> bool {
    let Ok(Some(from_path)) = head.from_path() else {
        return false;
    };
    // RFC 4975 §7.2: "If the request triggering the response was a SEND request, the To-Path
    // header field is formed by copying the first (leftmost) URI in the From-Path header field
    // of the request. ... For responses to all other request methods, the To-Path header field
    // contains the full path back to the original sender."
    let to = if head.method() == Some(Method::Send) {
        from_path.iter().next().unwrap_or_default()
    } else {
        from_path.as_str()
    };
    write_response_to(out, head, to, code, local_uri);
    true
}

/// Writes a response to the request `head` into `out`, addressed to `to`.
pub(crate) fn write_response_to(
    out: &mut BytesMut,
    head: &Head,
    to: &str,
    code: StatusCode,
    local_uri: &str,
) {
    let mark = out.len();
    let tid = received_tid(head);
    // Each line is ended by what follows it.
    out.extend_from_slice(b"MSRP ");
    out.extend_from_slice(tid);
    out.extend_from_slice(b" ");
    put_status(out, code);
    out.extend_from_slice(b"\r\nTo-Path: ");
    out.extend_from_slice(to.as_bytes());
    out.extend_from_slice(FROM.as_bytes());
    out.extend_from_slice(local_uri.as_bytes());
    put_final_end_line(out, tid);
    trace_sent(&out[mark..]);
}

/// What a REPORT says.
pub(crate) struct Report<'a> {
    pub(crate) to_path: &'a str,
    pub(crate) from: &'a str,
    pub(crate) message_id: &'a MessageId,
    /// `(range-start, range-end, total)`, positions from one.
    pub(crate) range: (u64, u64, Option<u64>),
    pub(crate) status: StatusCode,
}

/// Writes a REPORT into `out`.
///
/// RFC 4975 §7.1.3: the endpoint "inserts a To-Path header field containing the From-Path
/// value from the original request, and a From-Path header field containing the URI
/// identifying itself in the session. The endpoint then inserts a Status header field with a
/// namespace of "000" ... It also inserts a Message-ID header field containing the value from
/// the original request." RFC 4975 §7.1.2: REPORTs "MUST NOT include Success-Report or
/// Failure-Report header fields".
pub(crate) fn write_report(out: &mut BytesMut, tid: &TransactionId, report: &Report<'_>) {
    let mark = out.len();
    let tid = tid.as_bytes();
    // Each line is ended by what follows it.
    out.extend_from_slice(b"MSRP ");
    out.extend_from_slice(tid);
    out.extend_from_slice(b" REPORT\r\nTo-Path: ");
    out.extend_from_slice(report.to_path.as_bytes());
    out.extend_from_slice(FROM.as_bytes());
    out.extend_from_slice(report.from.as_bytes());
    out.extend_from_slice(MESSAGE_ID.as_bytes());
    out.extend_from_slice(report.message_id.as_bytes());
    let (start, end, total) = report.range;
    out.extend_from_slice(b"\r\nByte-Range: ");
    put_decimal(out, start);
    out.extend_from_slice(b"-");
    put_decimal(out, end);
    put_total(out, total);
    out.extend_from_slice(b"\r\nStatus: 000 ");
    put_status(out, report.status);
    put_final_end_line(out, tid);
    trace_sent(&out[mark..]);
}

/// The parts of a SEND chunk's head.
pub(crate) struct ChunkHead<'a> {
    /// The session's lines from `SEND` to the name of the Message-ID, from
    /// [`encode_send_lines`].
    pub(crate) lines: &'a str,
    pub(crate) message_id: &'a MessageId,
    pub(crate) success_report: bool,
    pub(crate) failure_report: FailureReport,
    /// Range-start (from one), range-end (`None` for `*`), total (`None` for `*`).
    pub(crate) range: (u64, Option<u64>, Option<u64>),
    /// Checked by [`check_message_head`].
    pub(crate) headers: &'a [(Cow<'static, str>, Cow<'static, str>)],
    /// `None` for a bodiless SEND; checked by [`check_message_head`].
    pub(crate) content_type: Option<&'a str>,
}

/// Writes the head of a SEND chunk. With a content type the blank line is written and the
/// body follows; without, the end-line is written too (a bodiless SEND).
///
/// The order follows RFC 4975 §9: To-Path, From-Path, then Message-ID, the report headers and
/// Byte-Range, then MIME headers with Content-Type last (§7.1: "The Content-Type header field
/// MUST be the last field in the message header section").
pub(crate) fn write_chunk_head(out: &mut BytesMut, tid: &TransactionId, chunk: &ChunkHead<'_>) {
    let mark = out.len();
    let tid = tid.as_bytes();
    // Each line is ended by what follows it.
    out.extend_from_slice(b"MSRP ");
    out.extend_from_slice(tid);
    out.extend_from_slice(chunk.lines.as_bytes());
    out.extend_from_slice(chunk.message_id.as_bytes());
    if chunk.success_report {
        out.extend_from_slice(b"\r\nSuccess-Report: yes");
    }
    if chunk.failure_report != FailureReport::Yes {
        out.extend_from_slice(b"\r\nFailure-Report: ");
        out.extend_from_slice(chunk.failure_report.as_str().as_bytes());
    }
    let (start, end, total) = chunk.range;
    out.extend_from_slice(b"\r\nByte-Range: ");
    put_decimal(out, start);
    match end {
        Some(e) => {
            out.extend_from_slice(b"-");
            put_decimal(out, e);
        }
        None => out.extend_from_slice(b"-*"),
    }
    put_total(out, total);
    for (name, value) in chunk.headers {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
    }
    match chunk.content_type {
        Some(ct) => {
            // With the blank line that opens the body.
            out.extend_from_slice(b"\r\nContent-Type: ");
            out.extend_from_slice(ct.as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
        }
        None => put_final_end_line(out, tid),
    }
    trace_sent(&out[mark..]);
}

/// Writes the end of a chunk with a body.
pub(crate) fn write_chunk_end(out: &mut BytesMut, tid: &TransactionId, flag: Flag) {
    msrp_wire::end_line(out, tid, flag);
}

#[cfg(test)]
mod tests {
    use super::*;
    use msrp_wire::Decoder;

    fn mid() -> MessageId {
        MessageId::new("4564dpWd").unwrap()
    }

    /// The line-by-line writer gives exactly what the checking encoder gives.
    #[test]
    fn chunk_heads_match_the_encoder() {
        let tid = TransactionId::new("dkei38sd").unwrap();
        let lines = encode_send_lines(
            "msrp://b.example.com:8888/9di4ea;tcp",
            "msrp://a.example.com:7654/iau39;tcp",
        )
        .unwrap();
        let headers = [(
            Cow::Borrowed("Content-Disposition"),
            Cow::Borrowed("inline"),
        )];
        for (sr, fr, range, content_type) in [
            (
                false,
                FailureReport::Yes,
                (1, None, Some(8)),
                Some("text/plain"),
            ),
            (
                true,
                FailureReport::Partial,
                (9, Some(2056), None),
                Some("a/b"),
            ),
            (false, FailureReport::No, (1, Some(0), Some(0)), None),
        ] {
            let chunk = ChunkHead {
                lines: &lines,
                message_id: &mid(),
                success_report: sr,
                failure_report: fr,
                range,
                headers: if content_type.is_some() {
                    &headers
                } else {
                    &[]
                },
                content_type,
            };
            let mut ours = BytesMut::new();
            write_chunk_head(&mut ours, &tid, &chunk);

            let mut theirs = Vec::new();
            let mut w = HeadWriter::request(&mut theirs, &tid, "SEND").unwrap();
            w.header("To-Path", "msrp://b.example.com:8888/9di4ea;tcp")
                .unwrap()
                .header("From-Path", "msrp://a.example.com:7654/iau39;tcp")
                .unwrap()
                .header("Message-ID", "4564dpWd")
                .unwrap();
            if sr {
                w.header("Success-Report", "yes").unwrap();
            }
            if fr != FailureReport::Yes {
                w.header("Failure-Report", fr.as_str()).unwrap();
            }
            let star = |v: Option<u64>| v.map_or("*".to_owned(), |v| v.to_string());
            let br = format!("{}-{}/{}", range.0, star(range.1), star(range.2));
            w.header("Byte-Range", &br).unwrap();
            match content_type {
                Some(ct) => {
                    w.header("Content-Disposition", "inline").unwrap();
                    w.header("Content-Type", ct).unwrap();
                    w.body_follows().unwrap();
                }
                None => w.end(Flag::End).unwrap(),
            }
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }

    /// Responses and REPORTs match the checking encoder too.
    #[test]
    fn responses_and_reports_match_the_encoder() {
        let mut decoder = Decoder::new();
        decoder.push(
            b"MSRP a786hjs2 SEND\r\nTo-Path: msrp://b.example.com:8888/9di4ea;tcp\r\n\
From-Path: msrp://r.example.com:1/x;tcp msrp://a.example.com:7654/iau39;tcp\r\n\
Message-ID: 4564dpWd\r\n-------a786hjs2$\r\n",
        );
        let frame = decoder.decode().unwrap().unwrap();
        let local = "msrp://b.example.com:8888/9di4ea;tcp";
        for code in [StatusCode::OK, StatusCode::new(599).unwrap()] {
            let mut ours = BytesMut::new();
            assert!(write_response(&mut ours, frame.head(), code, local));
            let mut theirs = Vec::new();
            let tid = TransactionId::new("a786hjs2").unwrap();
            let mut w =
                HeadWriter::response(&mut theirs, &tid, code, code.canonical_reason()).unwrap();
            w.header("To-Path", "msrp://r.example.com:1/x;tcp")
                .unwrap()
                .header("From-Path", local)
                .unwrap();
            w.end(Flag::End).unwrap();
            assert_eq!(&ours[..], &theirs[..]);
        }

        let tid = TransactionId::new("r3p0rt99").unwrap();
        let from = "msrp://r.example.com:1/x;tcp msrp://a.example.com:7654/iau39;tcp";
        for (range, status) in [
            ((1, 80, Some(80)), StatusCode::OK),
            ((1, 4096, None), StatusCode::REQUEST_TIMEOUT),
        ] {
            let mut ours = BytesMut::new();
            let report = Report {
                to_path: from,
                from: local,
                message_id: &mid(),
                range,
                status,
            };
            write_report(&mut ours, &tid, &report);
            let mut theirs = Vec::new();
            let mut w = HeadWriter::request(&mut theirs, &tid, "REPORT").unwrap();
            let total = range.2.map_or("*".to_owned(), |t| t.to_string());
            let status_text = format!("000 {} {}", status, status.canonical_reason().unwrap());
            w.header("To-Path", from)
                .unwrap()
                .header("From-Path", local)
                .unwrap()
                .header("Message-ID", "4564dpWd")
                .unwrap()
                .header("Byte-Range", &format!("{}-{}/{total}", range.0, range.1))
                .unwrap()
                .header("Status", &status_text)
                .unwrap();
            w.end(Flag::End).unwrap();
            assert_eq!(&ours[..], &theirs[..]);
        }
    }

    #[test]
    fn transaction_ids_are_read_as_the_decoder_reads_them() {
        let mut decoder = Decoder::new();
        decoder.push(
            b"MSRP a786hjs2 SEND\r\nTo-Path: msrp://b.example.com:8888/9di4ea;tcp\r\n\
From-Path: msrp://a.example.com:7654/iau39;tcp\r\n-------a786hjs2$\r\n\
MSRP 0123456789abcdefghijABCDEFGHIJ.- 200 OK\r\nTo-Path: msrp://a:1/b;tcp\r\n\
From-Path: msrp://c:2/d;tcp\r\n-------0123456789abcdefghijABCDEFGHIJ.-$\r\n\
MSRP x1y2 481\r\nTo-Path: msrp://a:1/b;tcp\r\nFrom-Path: msrp://c:2/d;tcp\r\n-------x1y2$\r\n",
        );
        let mut seen = 0;
        while let Some(frame) = decoder.decode().unwrap() {
            assert_eq!(
                received_tid(frame.head()),
                frame.transaction_id().as_bytes()
            );
            seen += 1;
        }
        assert_eq!(seen, 3);
    }

    #[test]
    fn message_heads_are_checked() {
        let mut work = Vec::new();
        let ok = [(Cow::Borrowed("Content-Description"), Cow::Borrowed("a"))];
        assert!(check_message_head(&mut work, &ok, Some("text/plain")).is_ok());
        let bad_value = [(Cow::Borrowed("X-A"), Cow::Borrowed("a\r\nb"))];
        assert!(check_message_head(&mut work, &bad_value, Some("text/plain")).is_err());
        let bad_name = [(Cow::Borrowed("X A"), Cow::Borrowed("a"))];
        assert!(check_message_head(&mut work, &bad_name, Some("text/plain")).is_err());
        assert!(check_message_head(&mut work, &[], Some("text/pl\nain")).is_err());
        // A MIME header on a bodiless SEND.
        assert!(check_message_head(&mut work, &ok, None).is_err());
        assert!(check_message_head(&mut work, &[], None).is_ok());
        assert!(encode_send_lines("msrp://a:1/b;tcp", "msrp://c:2/d;tcp").is_some());
        assert!(encode_send_lines("msrp://a:1/b;tcp\r\n", "msrp://c:2/d;tcp").is_none());
    }
}
