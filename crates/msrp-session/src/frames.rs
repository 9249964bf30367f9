//! Encoding the frames a session sends: responses, REPORTs and chunk heads.

use core::fmt::Write as _;

use bytes::BytesMut;
use msrp_wire::{Flag, Head, HeadWriter, Method, StatusCode, TransactionId, end_line};

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

/// Writes a response to the request `head` into `out`; `false` if the request carries no
/// usable From-Path to address it to.
///
/// RFC 4975 §7.2: "If the request triggering the response was a SEND request, the To-Path
/// header field is formed by copying the first (leftmost) URI in the From-Path header field of
/// the request. ... For responses to all other request methods, the To-Path header field
/// contains the full path back to the original sender." and "Since a response is never
/// chunked, the continuation flag in the end-line will always contain a dollar sign".
pub(crate) fn write_response(
    out: &mut BytesMut,
    head: &Head,
    code: StatusCode,
    local_uri: &str,
) -> bool {
    let Ok(Some(from_path)) = head.from_path() else {
        return false;
    };
    let Ok(tid) = TransactionId::new(head.transaction_id()) else {
        return false;
    };
    let to = if head.method() == Some(Method::Send) {
        from_path.iter().next().unwrap_or_default()
    } else {
        from_path.as_str()
    };
    write_frame(out, |out| {
        let mut w = HeadWriter::response(out, &tid, code, code.canonical_reason())?;
        w.header("To-Path", to)?.header("From-Path", local_uri)?;
        w.end(Flag::End)
    })
}

/// Writes a bodiless frame with `write` and logs it; `false`, with nothing left in `out`, when
/// the frame cannot be encoded.
fn write_frame(
    out: &mut BytesMut,
    write: impl FnOnce(&mut BytesMut) -> Result<(), msrp_wire::EncodeError>,
) -> bool {
    let mark = out.len();
    match write(out) {
        Ok(()) => {
            trace_sent(&out[mark..]);
            true
        }
        Err(_) => {
            out.truncate(mark);
            false
        }
    }
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
pub(crate) fn write_report(
    out: &mut BytesMut,
    tid: &TransactionId,
    report: &Report<'_>,
    scratch: &mut String,
) -> bool {
    scratch.clear();
    let (start, end, total) = report.range;
    let _ = write!(scratch, "{start}-{end}/");
    match total {
        Some(t) => {
            let _ = write!(scratch, "{t}");
        }
        None => scratch.push('*'),
    }
    let split = scratch.len();
    let _ = write!(scratch, "000 {}", report.status);
    if let Some(reason) = report.status.canonical_reason() {
        scratch.push(' ');
        scratch.push_str(reason);
    }
    let (range, status) = scratch.split_at(split);
    write_frame(out, |out| {
        let mut w = HeadWriter::request(out, tid, "REPORT")?;
        w.header("To-Path", report.to_path)?
            .header("From-Path", report.from)?
            .header("Message-ID", report.message_id.as_str())?
            .header("Byte-Range", range)?
            .header("Status", status)?;
        w.end(Flag::End)
    })
}

/// The parts of a SEND chunk's head.
pub(crate) struct ChunkHead<'a> {
    pub(crate) to_path: &'a str,
    pub(crate) from: &'a str,
    pub(crate) message_id: &'a MessageId,
    pub(crate) success_report: bool,
    pub(crate) failure_report: msrp_wire::FailureReport,
    /// Range-start (from one), range-end (`None` for `*`), total (`None` for `*`).
    pub(crate) range: (u64, Option<u64>, Option<u64>),
    pub(crate) headers: &'a [(
        std::borrow::Cow<'static, str>,
        std::borrow::Cow<'static, str>,
    )],
    /// `None` for a bodiless SEND.
    pub(crate) content_type: Option<&'a str>,
}

/// Writes the head of a SEND chunk. With a content type the blank line is written and the
/// body follows; without, the end-line is written too (a bodiless SEND).
///
/// The order follows RFC 4975 §9: To-Path, From-Path, then Message-ID, the report headers and
/// Byte-Range, then MIME headers with Content-Type last (§7.1: "The Content-Type header field
/// MUST be the last field in the message header section").
pub(crate) fn write_chunk_head(
    out: &mut BytesMut,
    tid: &TransactionId,
    chunk: &ChunkHead<'_>,
    scratch: &mut String,
    trace: bool,
) -> Result<(), msrp_wire::EncodeError> {
    scratch.clear();
    let (start, end, total) = chunk.range;
    let _ = write!(scratch, "{start}-");
    match end {
        Some(e) => {
            let _ = write!(scratch, "{e}/");
        }
        None => scratch.push_str("*/"),
    }
    match total {
        Some(t) => {
            let _ = write!(scratch, "{t}");
        }
        None => scratch.push('*'),
    }
    let mark = out.len();
    let mut w = HeadWriter::request(out, tid, "SEND")?;
    w.header("To-Path", chunk.to_path)?
        .header("From-Path", chunk.from)?
        .header("Message-ID", chunk.message_id.as_str())?;
    if chunk.success_report {
        w.header("Success-Report", "yes")?;
    }
    if chunk.failure_report != msrp_wire::FailureReport::Yes {
        w.header("Failure-Report", chunk.failure_report.as_str())?;
    }
    w.header("Byte-Range", scratch)?;
    for (name, value) in chunk.headers {
        w.header(name, value)?;
    }
    match chunk.content_type {
        Some(ct) => {
            w.header("Content-Type", ct)?;
            w.body_follows()?;
        }
        None => w.end(Flag::End)?,
    }
    if trace {
        trace_sent(&out[mark..]);
    }
    Ok(())
}

/// Writes the end of a chunk with a body.
pub(crate) fn write_chunk_end(out: &mut BytesMut, tid: &TransactionId, flag: Flag) {
    end_line(out, tid, flag);
}
