//! What a relay is and what it allows: its URI, its users, its limits and timeouts.

use core::fmt;
use std::collections::HashMap;
use std::time::Duration;

/// The digest users of a relay: names and passwords (RFC 4976 §6.3: "The relay checks the
/// credentials (username and password) provided by the client in the Authorization header").
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Users {
    passwords: HashMap<String, String>,
}

impl Users {
    /// No users.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a user.
    pub fn insert(&mut self, name: impl Into<String>, password: impl Into<String>) {
        self.passwords.insert(name.into(), password.into());
    }

    /// Reads users from text: one `name:password` per line; blank lines and lines starting
    /// with `#` are skipped. The password is everything after the first colon.
    pub fn parse(text: &str) -> Result<Self, UsersError> {
        let mut users = Self::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((name, password)) if !name.is_empty() => users.insert(name, password),
                _ => return Err(UsersError { line: n + 1 }),
            }
        }
        Ok(users)
    }

    /// The password of a user.
    pub fn password(&self, name: &str) -> Option<&str> {
        self.passwords.get(name).map(String::as_str)
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.passwords.len()
    }

    /// Whether there is no user.
    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Passwords never go to a log.
        f.debug_struct("Users")
            .field("count", &self.passwords.len())
            .finish_non_exhaustive()
    }
}

/// A line of a users file that is not `name:password`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsersError {
    /// The line, counted from 1.
    pub line: usize,
}

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: expected name:password", self.line)
    }
}

impl std::error::Error for UsersError {}

/// Tells whether a peer's TLS certificate shows that it is a relay of a given host name, for
/// the mutual TLS between relays of RFC 4976 §6.3: "When the previous hop is a relay,
/// authentication is done with TLS using mutual authentication. If the TLS client presented a
/// host certificate, the relay checks that the subjectAltName in the certificate of the TLS
/// client matches the hostname in the first From-Path URI." The I/O layer, which holds the
/// trust anchors and the X.509 code, implements it.
pub trait RelayIdentity: Send + Sync + core::fmt::Debug {
    /// Whether `certificate` (DER, the leaf the peer presented) is valid now, rooted in a
    /// trusted authority, and names `host` in its subjectAltName.
    fn is_relay(&self, certificate: &[u8], host: &str) -> bool;
}

/// Configuration of a [`Relay`](crate::Relay).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RelayConfig {
    /// The relay's host, as in the URIs it hands out and in the To-Path of what is addressed
    /// to it: a name, or an IP literal (IPv6 in brackets).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Whether it is reached over TLS: its URIs are `msrps:`.
    pub secure: bool,
    /// The port of its WebSocket listener (RFC 7977), if it has one. A `;ws` URI with this
    /// port names the relay too, as WebSocket clients address their AUTH to it (RFC 7977
    /// §8.1.1: `To-Path: msrps://alice@a.example.com:443;ws`); the Use-Path it grants them is
    /// its TCP URI, which its other peers reach. Default `None`.
    pub ws_port: Option<u16>,
    /// The realm of its digest challenges. Default: the host (RFC 4976 §5.1: "it is not
    /// unreasonable to always use the relay's hostname as the realm").
    pub realm: String,
    /// Who may authenticate; `None` grants every AUTH without a challenge (for tests and
    /// trusted networks).
    pub users: Option<Users>,
    /// How peer relays are recognised by their TLS certificates. A peer whose certificate
    /// names the host of the first From-Path URI of its AUTH is a relay: it is granted a URI
    /// without a digest challenge, valid across any connection from that relay (RFC 4976
    /// §6.3). Every other peer is a client, whatever certificate it shows (§9.2: "MSRP relays
    /// SHOULD ignore any certificates presented by the client"). Default `None`: every peer is
    /// a client.
    pub peer_relays: Option<std::sync::Arc<dyn RelayIdentity>>,
    /// The shortest and longest validity a granted URI may be asked for; AUTH outside gets 423
    /// with the bound (RFC 4976 §6.3). Defaults 60 s and 3600 s; an AUTH without `Expires` is
    /// granted the longest.
    pub min_expires: u32,
    /// See [`min_expires`](Self::min_expires).
    pub max_expires: u32,
    /// How long a nonce of a challenge may be answered. Default 5 minutes.
    pub nonce_lifetime: Duration,
    /// Limits of the frame decoder on every connection.
    pub wire: msrp_wire::Limits,
    /// Connections at once, incoming and to next hops. Default 10,000.
    pub max_connections: usize,
    /// Relay sessions (granted URIs) at once. Default 100,000.
    pub max_sessions: usize,
    /// Relay sessions one connection may hold. Default 1,000.
    pub max_sessions_per_connection: usize,
    /// Bytes waiting to be written to a connection beyond which the connections that send
    /// toward it stop being read (backpressure: a slow next hop slows the previous one, it
    /// does not fill memory). Default 256 KiB.
    pub max_output: usize,
    /// Requests a connection may have forwarded and waiting for their responses; one more is
    /// not read until an answer comes or one is given up (after the transaction timeout). It
    /// bounds what the relay remembers for a peer, and the failure REPORTs that go back to it
    /// at once when a next hop is lost. Default 1024.
    pub max_pending: usize,
    /// Time a forwarded SEND with `Failure-Report: yes` waits for the next hop's response,
    /// from its last byte sent, before a 408 REPORT goes to its sender (RFC 4976 §6.4.1).
    /// Default 30 s.
    pub transaction_timeout: Duration,
    /// Time a new connection has to send its first request (RFC 4976 §6.1: "the server waits
    /// for up to 30 seconds to receive an MSRP request over the channel"). Default 30 s.
    pub first_request_timeout: Duration,
    /// Time a frame being forwarded may go without a byte of it coming while its connection is
    /// read; then the connection is closed and the frame ends aborted on its next hop. Frames
    /// toward one next hop are written one at a time, so a stalled one would hold the others
    /// back. Default 30 s.
    pub frame_timeout: Duration,
    /// Time a connection to a next hop has to be set up. Default 10 s.
    pub connect_timeout: Duration,
    /// Time a connection may go unused before it is closed (RFC 4976 §6.5: "more than one
    /// hour"). Default 1 hour.
    pub idle_timeout: Duration,
    /// Time a connection may be quiet (nothing received, nothing waiting to be written)
    /// before it gives back its buffers; the next bytes get new ones. An idle client then
    /// costs the relay a few hundred bytes instead of a 64 KiB receive buffer. Default 1 s.
    pub buffer_release: Duration,
    /// Failed AUTHs (credentials refused) on a connection before it is closed (RFC 4976 §6.3:
    /// "the relay SHOULD terminate the corresponding connection"). Default 5.
    pub max_auth_failures: u32,
}

impl RelayConfig {
    /// A relay at this host and port, plain TCP, granting every AUTH.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        let host = host.into();
        Self {
            realm: host.clone(),
            host,
            port,
            secure: false,
            ws_port: None,
            users: None,
            peer_relays: None,
            min_expires: 60,
            max_expires: 3600,
            nonce_lifetime: Duration::from_secs(300),
            wire: msrp_wire::Limits::default(),
            max_connections: 10_000,
            max_sessions: 100_000,
            max_sessions_per_connection: 1000,
            max_output: 256 << 10,
            max_pending: 1024,
            transaction_timeout: Duration::from_secs(30),
            first_request_timeout: Duration::from_secs(30),
            frame_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(3600),
            buffer_release: Duration::from_secs(1),
            max_auth_failures: 5,
        }
    }

    /// The relay's URI without a session, as clients address their AUTH to it.
    pub fn uri(&self) -> String {
        let scheme = if self.secure { "msrps" } else { "msrp" };
        format!("{scheme}://{}:{};tcp", self.host, self.port)
    }

    /// The relay's WebSocket URI without a session (`msrp://127.0.0.1:8080;ws`), if it
    /// listens for WebSocket clients.
    pub fn ws_uri(&self) -> Option<String> {
        let scheme = if self.secure { "msrps" } else { "msrp" };
        let port = self.ws_port?;
        Some(format!("{scheme}://{}:{port};ws", self.host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_files_are_read_line_by_line() {
        let users = Users::parse("# relay users\nalice:xyz:123\n\nbob:\r\n").unwrap();
        assert_eq!(users.password("alice"), Some("xyz:123"));
        assert_eq!(users.password("bob"), Some(""));
        assert_eq!(users.len(), 2);
        assert_eq!(Users::parse("alice\n"), Err(UsersError { line: 1 }));
        assert_eq!(Users::parse("ok:1\n:nobody\n"), Err(UsersError { line: 2 }));
        assert!(!format!("{users:?}").contains("xyz"));
    }
}
