//! The frames a session sends, as far as this crate is concerned: where a response goes, and
//! what was sent and received, for the log. The bytes themselves are written by `msrp-wire`
//! (`HeadTemplate`, `encode_response`, `end_line`).

use bytes::BytesMut;
use msrp_wire::{Head, Method, StatusCode, UriList, encode_response};

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

/// Writes a frame head into `out` with `write`, and logs it.
#[inline]
pub(crate) fn write_traced(out: &mut BytesMut, write: impl FnOnce(&mut BytesMut)) {
    let mark = out.len();
    write(out);
    trace_sent(&out[mark..]);
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

/// Writes the response `code` to the request `head` into `out`, from `from`; `false` if the
/// request carries no usable From-Path to address it to.
pub(crate) fn respond(
    out: &mut BytesMut,
    head: &Head,
    code: StatusCode,
    from: UriList<'_>,
) -> bool {
    let Ok(Some(from_path)) = head.from_path() else {
        return false;
    };
    // RFC 4975 §7.2: "If the request triggering the response was a SEND request, the To-Path
    // header field is formed by copying the first (leftmost) URI in the From-Path header field
    // of the request. ... For responses to all other request methods, the To-Path header field
    // contains the full path back to the original sender."
    let to = if head.method() == Some(Method::Send) {
        from_path.first()
    } else {
        from_path
    };
    write_traced(out, |out| encode_response(out, head, code, to, from));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use msrp_wire::Decoder;

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

    /// A response to a SEND goes to the first URI of its From-Path; to another request, along
    /// the whole From-Path.
    #[test]
    fn responses_go_back_along_the_from_path() {
        let mut decoder = Decoder::new();
        decoder.push(
            b"MSRP a786hjs2 SEND\r\nTo-Path: msrp://b.example.com:8888/9di4ea;tcp\r\n\
From-Path: msrp://r.example.com:1/x;tcp msrp://a.example.com:7654/iau39;tcp\r\n\
Message-ID: 4564dpWd\r\n-------a786hjs2$\r\n\
MSRP k3y4 NICKNAME\r\nTo-Path: msrp://b.example.com:8888/9di4ea;tcp\r\n\
From-Path: msrp://r.example.com:1/x;tcp msrp://a.example.com:7654/iau39;tcp\r\n\
-------k3y4$\r\n",
        );
        let send = decoder.decode().unwrap().unwrap();
        let other = decoder.decode().unwrap().unwrap();
        let to_path = send.to_path().unwrap().unwrap();
        let mut out = BytesMut::new();
        assert!(respond(&mut out, send.head(), StatusCode::OK, to_path));
        assert_eq!(
            &out[..],
            b"MSRP a786hjs2 200 OK\r\nTo-Path: msrp://r.example.com:1/x;tcp\r\n\
From-Path: msrp://b.example.com:8888/9di4ea;tcp\r\n-------a786hjs2$\r\n"
        );
        out.clear();
        assert!(respond(
            &mut out,
            other.head(),
            StatusCode::NOT_IMPLEMENTED,
            to_path
        ));
        assert_eq!(
            &out[..],
            b"MSRP k3y4 501 Not Implemented\r\n\
To-Path: msrp://r.example.com:1/x;tcp msrp://a.example.com:7654/iau39;tcp\r\n\
From-Path: msrp://b.example.com:8888/9di4ea;tcp\r\n-------k3y4$\r\n"
        );
    }
}
