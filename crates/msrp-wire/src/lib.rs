//! The MSRP frame codec (RFC 4975 §7 and §9, RFC 4976 §7, RFC 7701 §7.1): an incremental,
//! zero-copy decoder and an encoder.
//!
//! This crate turns bytes into frames and frames into bytes, and nothing else. It knows no
//! sessions, sockets or clocks: it does not match transactions, reassemble messages, check that
//! To-Path names a session, or decide how to answer a request. Those belong to `msrp-session`;
//! URIs are parsed by `msrp-uri`.
//!
//! - [`Decoder`] yields whole [`Frame`]s from a stream pushed in any split; a frame's body is a
//!   [`Bytes`](bytes::Bytes) slice of the received buffer, never a copy.
//! - [`StreamDecoder`] yields a [`Head`], then body pieces, then the end-line's [`Flag`], for
//!   chunks of any size in constant memory.
//! - The end-line `CRLF "-------" transaction-id flag CRLF` is found with one prebuilt
//!   `memchr::memmem::Finder` for the constant `CRLF "-------"` followed by a compare of the id
//!   and flag; the scan position is kept across pushes, so no byte is searched twice.
//! - [`Head`] has typed accessors for the headers of RFC 4975 and RFC 4976 (To-Path, Byte-Range,
//!   Status, Content-Type via `mime`, the digest headers …), and keeps every header, known or
//!   not, in wire order.
//! - [`HeadWriter`] and [`end_line`] encode frames, with the body written separately so it need
//!   not be copied; [`choose_transaction_id`] picks an id whose end-line is not in a body.
//! - [`HeadTemplate`] writes the SENDs and REPORTs of one endpoint along one path from lines
//!   written and checked once, and [`encode_response`] its responses: the session layer's
//!   frames, at the speed of copying their bytes, and always decodable. Bytes on the wire are
//!   written by this crate alone.
//! - [`ws`] carries MSRP over WebSocket (RFC 7977): RFC 6455 framing with in-place unmasking,
//!   one MSRP frame per WebSocket message, and the opening handshake with the `msrp`
//!   subprotocol.
//! - [`Limits`] bounds everything a peer controls. A framing error is a [`ParseError`] with the
//!   byte offset where it was found, and ends the stream: no guessing, no panic.
//!
//! ```
//! use msrp_wire::{Decoder, Flag, Method};
//!
//! let wire = b"MSRP a786hjs2 SEND\r\n\
//! To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n\
//! From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n\
//! Message-ID: 87652491\r\n\
//! Byte-Range: 1-25/25\r\n\
//! Content-Type: text/plain\r\n\
//! \r\n\
//! Hey Bob, are you there?\r\n\
//! -------a786hjs2$\r\n";
//!
//! let mut decoder = Decoder::new();
//! decoder.push(wire);
//! let frame = decoder.decode()?.expect("one complete frame");
//! assert_eq!(frame.method(), Some(Method::Send));
//! assert_eq!(frame.message_id().unwrap(), Some("87652491"));
//! assert_eq!(frame.byte_range().unwrap().map(|r| r.total), Some(Some(25)));
//! assert_eq!(frame.body(), Some(&b"Hey Bob, are you there?"[..]));
//! assert_eq!(frame.flag(), Flag::End);
//!
//! // Re-encoding from the parsed parts gives the same bytes.
//! let mut out = Vec::new();
//! frame.encode(&mut out).unwrap();
//! assert_eq!(out, wire);
//! # Ok::<(), msrp_wire::ParseError>(())
//! ```

#![forbid(unsafe_code)]

mod accessors;
mod decoder;
pub mod digest;
mod encode;
mod error;
mod frame;
mod header;
mod limits;
mod random;
mod slab;
mod syntax;
mod template;
pub mod ws;

pub use accessors::{
    ByteRange, ContentDisposition, DigestParams, FailureReport, Status, SuccessReport, UriList,
};
pub use decoder::{Decoder, Item, StreamDecoder};
pub use encode::{
    EncodeError, HeadWriter, MessageId, TransactionId, choose_transaction_id, end_line,
    find_end_line,
};
pub use error::{ErrorKind, HeaderError, HeaderErrorKind, ParseError};
pub use frame::{Flag, Frame, Head, Header, Headers, Method, StatusCode};
pub use header::HeaderName;
pub use limits::Limits;
pub use random::Random;
pub use slab::Slab;
pub use syntax::is_ident;
pub use template::{HeadTemplate, MessageHeaders, ReportHead, SendHead, encode_response};

/// Runs the example of `README.md` as a doctest, so that it stays correct.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
