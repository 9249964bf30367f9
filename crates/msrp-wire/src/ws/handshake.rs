//! The WebSocket opening handshake (RFC 6455 §4) with the `msrp` subprotocol (RFC 7977 §4.1),
//! both sides, and the plain HTTP answers a WebSocket server gives to anything else.
//!
//! ```
//! use msrp_wire::ws::handshake::{self, ClientHandshake, Request};
//! use msrp_wire::ws::WsLimits;
//!
//! let client = ClientHandshake::with_key("dGhlIHNhbXBsZSBub25jZQ==");
//! let request = client.request("a.example.com", "/");
//! let (parsed, len) = handshake::read_request(&request, &WsLimits::default())?.unwrap();
//! assert_eq!(len, request.len());
//! let Request::Upgrade { key, .. } = parsed else { panic!() };
//! // RFC 7977 §4.1's example.
//! let response = handshake::accept_response(&key, None);
//! assert!(String::from_utf8_lossy(&response).contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
//! assert_eq!(client.read_response(&response, &WsLimits::default())?, Some(response.len()));
//! # Ok::<(), msrp_wire::ws::handshake::HandshakeError>(())
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use super::WsLimits;
use crate::Random;

/// The subprotocol of MSRP (RFC 7977 §4.1: "The Client MUST include the value "msrp" in the
/// Sec-WebSocket-Protocol header").
pub const SUBPROTOCOL: &str = "msrp";

/// RFC 6455 §1.3: the GUID appended to the key before hashing.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Most header fields read in a handshake head.
const MAX_FIELDS: usize = 48;

/// Why a handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head is not HTTP/1.1.
    Malformed(httparse::Error),
    /// The head is longer than [`WsLimits::max_handshake`].
    TooLarge,
    /// The server answered with another status than 101 (RFC 6455 §4.1: the client then
    /// handles the response per HTTP).
    Status(u16),
    /// A required field is missing or wrong; the text names it.
    Field(&'static str),
    /// The client's `Sec-WebSocket-Version` is not 13: the server answers 426 (RFC 6455 §4.4).
    Version,
    /// The `msrp` subprotocol was not offered, or not accepted (RFC 7977 §4.1).
    Subprotocol,
}

impl HandshakeError {
    /// The HTTP status a server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Version => 426,
            Self::TooLarge => 431,
            _ => 400,
        }
    }
}

impl core::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "a malformed WebSocket handshake: {e}"),
            Self::TooLarge => f.write_str("a WebSocket handshake head too large"),
            Self::Status(code) => write!(f, "the WebSocket server answered {code}, not 101"),
            Self::Field(name) => write!(f, "a WebSocket handshake without a valid {name}"),
            Self::Version => f.write_str("a WebSocket version other than 13"),
            Self::Subprotocol => f.write_str("the msrp WebSocket subprotocol was not agreed"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// The `Sec-WebSocket-Accept` value for a key (RFC 6455 §4.2.2): base64 of the SHA-1 of the key
/// followed by the protocol's GUID.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// A client's side of the handshake.
#[derive(Clone, Debug)]
pub struct ClientHandshake {
    key: String,
    accept: String,
}

impl ClientHandshake {
    /// A handshake with a fresh key: RFC 6455 §4.1, "a randomly selected 16-byte value that
    /// has been base64-encoded".
    pub fn new(random: &mut dyn Random) -> Self {
        let mut nonce = [0u8; 16];
        random.fill(&mut nonce);
        Self::with_key(&STANDARD.encode(nonce))
    }

    /// A handshake with the given key (for tests and examples).
    pub fn with_key(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            accept: accept_key(key),
        }
    }

    /// The upgrade request for `path` on `host` (with its port when not the scheme's
    /// default, RFC 6455 §4.1).
    pub fn request(&self, host: &str, path: &str) -> Vec<u8> {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {}\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n",
            self.key
        )
        .into_bytes()
    }

    /// Reads the server's response: `None` while its head is incomplete, then the head's
    /// length once it accepts the upgrade with the `msrp` subprotocol. WebSocket frames may
    /// follow the head in `buf`.
    pub fn read_response(
        &self,
        buf: &[u8],
        limits: &WsLimits,
    ) -> Result<Option<usize>, HandshakeError> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut response = httparse::Response::new(&mut fields);
        let len = match response.parse(buf).map_err(HandshakeError::Malformed)? {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial if buf.len() > limits.max_handshake => {
                return Err(HandshakeError::TooLarge);
            }
            httparse::Status::Partial => return Ok(None),
        };
        let status = response.code.unwrap_or(0);
        if status != 101 {
            return Err(HandshakeError::Status(status));
        }
        let fields = response.headers;
        // RFC 6455 §4.1: the client fails the connection unless Upgrade is "websocket",
        // Connection has "Upgrade", and Sec-WebSocket-Accept is the key's hash.
        if !has_token(fields, "upgrade", "websocket") {
            return Err(HandshakeError::Field("Upgrade"));
        }
        if !has_token(fields, "connection", "upgrade") {
            return Err(HandshakeError::Field("Connection"));
        }
        if field(fields, "sec-websocket-accept").is_none_or(|v| v.trim() != self.accept) {
            return Err(HandshakeError::Field("Sec-WebSocket-Accept"));
        }
        // "If the response includes a |Sec-WebSocket-Extensions| header field and this header
        // field indicates the use of an extension that was not present in the client's
        // handshake ..., the client MUST _Fail the WebSocket Connection_."
        if field(fields, "sec-websocket-extensions").is_some_and(|v| !v.trim().is_empty()) {
            return Err(HandshakeError::Field("Sec-WebSocket-Extensions"));
        }
        // RFC 7977 §4.1: "The 101 reply from the Server MUST contain "msrp" in its
        // corresponding Sec-WebSocket-Protocol header."
        if field(fields, "sec-websocket-protocol").is_none_or(|v| v.trim() != SUBPROTOCOL) {
            return Err(HandshakeError::Subprotocol);
        }
        Ok(Some(len))
    }
}

/// What a client asked a WebSocket server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A WebSocket upgrade with the `msrp` subprotocol.
    Upgrade {
        /// The request target.
        path: String,
        /// The client's `Sec-WebSocket-Key`.
        key: String,
        /// Its `Origin`, if it sent one.
        origin: Option<String>,
    },
    /// A plain `GET` or `HEAD` (no upgrade): for a page the server may serve.
    Get {
        /// The request target.
        path: String,
        /// `HEAD`: answer with the head only.
        head_only: bool,
    },
}

/// Reads a client's request: `None` while its head is incomplete, then the request and the
/// head's length.
pub fn read_request(
    buf: &[u8],
    limits: &WsLimits,
) -> Result<Option<(Request, usize)>, HandshakeError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut request = httparse::Request::new(&mut fields);
    let len = match request.parse(buf).map_err(HandshakeError::Malformed)? {
        httparse::Status::Complete(len) if len <= limits.max_handshake => len,
        httparse::Status::Complete(_) => return Err(HandshakeError::TooLarge),
        httparse::Status::Partial if buf.len() > limits.max_handshake => {
            return Err(HandshakeError::TooLarge);
        }
        httparse::Status::Partial => return Ok(None),
    };
    let path = request.path.unwrap_or("/").to_owned();
    let method = request.method.unwrap_or("");
    let fields = request.headers;
    let upgrade = field(fields, "upgrade").is_some();
    if !upgrade && (method == "GET" || method == "HEAD") {
        return Ok(Some((
            Request::Get {
                path,
                head_only: method == "HEAD",
            },
            len,
        )));
    }
    // RFC 6455 §4.1: "The method of the request MUST be GET, and the HTTP version MUST be at
    // least 1.1."
    if method != "GET" || request.version != Some(1) {
        return Err(HandshakeError::Field("method or version"));
    }
    if field(fields, "host").is_none() {
        return Err(HandshakeError::Field("Host"));
    }
    if !has_token(fields, "upgrade", "websocket") {
        return Err(HandshakeError::Field("Upgrade"));
    }
    if !has_token(fields, "connection", "upgrade") {
        return Err(HandshakeError::Field("Connection"));
    }
    if field(fields, "sec-websocket-version").is_none_or(|v| v.trim() != "13") {
        return Err(HandshakeError::Version);
    }
    // "a randomly selected 16-byte value that has been base64-encoded": 24 characters.
    let key = field(fields, "sec-websocket-key")
        .map(str::trim)
        .filter(|k| STANDARD.decode(k).is_ok_and(|nonce| nonce.len() == 16))
        .ok_or(HandshakeError::Field("Sec-WebSocket-Key"))?
        .to_owned();
    if !has_token(fields, "sec-websocket-protocol", SUBPROTOCOL) {
        return Err(HandshakeError::Subprotocol);
    }
    let origin = field(fields, "origin").map(|o| o.trim().to_owned());
    Ok(Some((Request::Upgrade { path, key, origin }, len)))
}

/// The server's 101 response accepting an upgrade, with the `msrp` subprotocol, and
/// `Access-Control-Allow-Origin` for a request with an `Origin` (RFC 7977 §7: the server
/// "SHOULD indicate Cross-Origin Resource Sharing").
pub fn accept_response(key: &str, origin: Option<&str>) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n",
        accept_key(key)
    );
    if let Some(origin) = origin.filter(|o| is_field_value(o)) {
        head.push_str("Access-Control-Allow-Origin: ");
        head.push_str(origin);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// A response head that ends the exchange: `status`, a content type and length, and
/// `Connection: close`. A 426 names the version this server speaks (RFC 6455 §4.4).
pub fn response_head(status: u16, content_type: &str, content_length: usize) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {content_length}\r\nCache-Control: no-store\r\nConnection: close\r\n"
    );
    if status == 426 {
        head.push_str("Sec-WebSocket-Version: 13\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The value of the first field called `name` (lower case), if it is text.
fn field<'a>(fields: &'a [httparse::Header<'_>], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .and_then(|f| core::str::from_utf8(f.value).ok())
}

/// Whether a comma-separated list field (any of its occurrences) holds `token`, without case.
fn has_token(fields: &[httparse::Header<'_>], name: &str, token: &str) -> bool {
    fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case(name))
        .filter_map(|f| core::str::from_utf8(f.value).ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Whether `value` may be written back as a field value: visible characters and spaces.
fn is_field_value(value: &str) -> bool {
    value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}
