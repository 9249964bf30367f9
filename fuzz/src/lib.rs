//! The properties behind the cargo-fuzz targets of `msrp-wire` (its WebSocket framing too),
//! `msrp-uri`, `msrp-sdp`, `msrp-session` and `msrp-relay`.
//!
//! Each file in `fuzz_targets/` is one line that hands libFuzzer's input to the `check` function
//! of the module with the same name. The checks assert what the crates promise (split input gives
//! the same frames, encode ∘ decode is the identity, streaming holds constant memory, a URI
//! prints back as parsed …), so a fuzzer finding is a broken promise, not only a panic.
//!
//! This crate is not a test suite of its own: it has no tests and is built only by `cargo fuzz`.
//! See `README.md` for the targets, their input formats and how to run them.

#![forbid(unsafe_code)]

mod drive;
pub mod endpoint_drive;
pub mod record;
pub mod relay_drive;
pub mod schedule;
pub mod sdp_parse;
pub mod session_drive;
pub mod uri_parse;
pub mod wire_head;
pub mod wire_roundtrip;
pub mod wire_split;
pub mod wire_stream;
pub mod ws_frames;
