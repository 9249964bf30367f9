//! Sans-IO MSRP session engine (RFC 4975): the SDP layer is implemented, the session engine is
//! not yet.
//!
//! The [`sdp`] module reads and writes the SDP media description of MSRP (RFC 4975 §8, with
//! RFC 4145/6135 `a=setup`, RFC 4572 `a=fingerprint`, RFC 5547 file transfer, RFC 6714 CEMA and
//! RFC 7701 `a=chatroom`) and runs offer/answer, producing the To-Path, the connection role, the
//! accepted media types and the limits of a session.
//!
//! Not implemented yet: the state machines that decide what an MSRP endpoint sends and what a
//! received frame means (outgoing chunking, reassembly by Byte-Range, success and failure reports,
//! transaction responses and their timers, session matching). The crate never opens a socket,
//! reads a clock or spawns a thread. Frames can already be decoded and encoded with `msrp-wire`.
//!
//! ```
//! let sd = msrp_session::sdp::parse(b"c=IN IP4 a.example.com\r\nm=message 1234 TCP/MSRP *\r\n")?;
//! assert!(sd.is_fragment());
//! # Ok::<(), msrp_session::sdp::ParseError>(())
//! ```

#![forbid(unsafe_code)]

pub mod sdp;
