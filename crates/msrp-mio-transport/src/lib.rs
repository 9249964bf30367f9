//! MSRP over TCP and TLS on a mio event loop: not implemented yet.
//!
//! This crate will be the only part of the workspace that owns sockets, TLS and a clock: listeners
//! and outgoing connections, connection sharing as RFC 4975 §5.4 allows, TLS with rustls,
//! backpressure and timers, driven through a handle that any thread can use.
//!
//! Today it exports nothing.

#![forbid(unsafe_code)]
