//! AUTH requests addressed to the relay (RFC 4976 §6.3): digest challenges with fresh nonces,
//! the check of the credentials, the Expires bounds, and the URI granted.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use msrp_wire::digest::{Answer, challenge};
use msrp_wire::{Flag, Head, HeadWriter, StatusCode, TransactionId};
use sha2::{Digest, Sha256};

use crate::relay::{Relay, RelaySession};
use crate::types::{CloseReason, ConnectionId, RelayEvent};

/// Nonces remembered with their highest nonce count, at most; older ones go first.
const MAX_NONCE_COUNTS: usize = 65_536;

/// What a nonce is worth when answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NonceCheck {
    Valid,
    /// Made by this relay, but older than the nonce lifetime.
    Stale,
    Invalid,
}

/// What the relay does with an AUTH.
enum Verdict {
    /// Challenge (again): 401 with a fresh nonce.
    Challenge {
        stale: bool,
        failed: bool,
        user: Option<String>,
    },
    /// 403: the user may not use the relay.
    Forbidden(Option<String>),
    /// 423 with the bound the Expires asked for went past.
    Interval { min: bool },
    /// Grant a URI for this long, to this user (whose answer gets an Authentication-Info), or
    /// to this peer relay.
    Grant {
        expires: u32,
        answer: Option<(Answer, String)>,
        relay: Option<Box<str>>,
    },
}

impl Relay {
    /// Handles an AUTH addressed to the relay alone: `us` is the relay's URI as its To-Path
    /// named it.
    pub(crate) fn auth(&mut self, now: Instant, connection: ConnectionId, head: &Head, us: &str) {
        let verdict = self.judge(now, connection, head, us);
        let Ok(tid) = TransactionId::new(head.transaction_id()) else {
            return;
        };
        let from_path = match head.from_path() {
            Ok(Some(list)) => list.as_str().to_owned(),
            _ => return,
        };
        let mut extra: Vec<(&str, String)> = Vec::new();
        let status = match verdict {
            Verdict::Challenge {
                stale,
                failed,
                user,
            } => {
                let nonce = self.nonce(now);
                extra.push((
                    "WWW-Authenticate",
                    challenge(&self.config.realm, &nonce, stale),
                ));
                if failed {
                    self.events.push_back(RelayEvent::AuthRefused {
                        connection,
                        user,
                        status: 401,
                    });
                    if self.count_failure(now, connection) {
                        return;
                    }
                }
                StatusCode::UNAUTHORIZED
            }
            Verdict::Forbidden(user) => {
                self.events.push_back(RelayEvent::AuthRefused {
                    connection,
                    user,
                    status: 403,
                });
                if self.count_failure(now, connection) {
                    return;
                }
                StatusCode::FORBIDDEN
            }
            Verdict::Interval { min } => {
                // RFC 4976 §6.3: "the relay needs to check that the time is acceptable to it
                // and, if not, return an error containing a Min-Expires or Max-Expires header".
                if min {
                    extra.push(("Min-Expires", self.config.min_expires.to_string()));
                } else {
                    extra.push(("Max-Expires", self.config.max_expires.to_string()));
                }
                self.events.push_back(RelayEvent::AuthRefused {
                    connection,
                    user: None,
                    status: 423,
                });
                StatusCode::INTERVAL_OUT_OF_BOUNDS
            }
            Verdict::Grant {
                expires,
                answer,
                relay,
            } => {
                let relay_user = relay.as_ref().map(|host| format!("relay {host}"));
                let Some(uri) = self.grant(now, connection, expires, relay) else {
                    // No room for another relay session.
                    self.refuse(connection, head, StatusCode::FORBIDDEN, Some(us));
                    return;
                };
                // RFC 4976 §6.3: "A successful AUTH response returns a Use-Path header that
                // contains an MSRP URI that the client can use. It also returns an Expires
                // header that indicates how long the URI will be valid".
                extra.push(("Use-Path", uri.clone()));
                extra.push(("Expires", expires.to_string()));
                let user = answer
                    .as_ref()
                    .map(|(a, _)| a.username.clone())
                    .or(relay_user);
                if let Some((answer, password)) = answer {
                    let next = self.nonce(now);
                    extra.push((
                        "Authentication-Info",
                        answer.authentication_info(&password, &next),
                    ));
                }
                self.events.push_back(RelayEvent::Authenticated {
                    connection,
                    user,
                    uri,
                    expires: Duration::from_secs(expires.into()),
                });
                StatusCode::OK
            }
        };
        // RFC 4975 §7.2: "For responses to all other request methods, the To-Path header field
        // contains the full path back to the original sender."
        let mut out = BytesMut::new();
        let written = (|| {
            let mut w = HeadWriter::response(&mut out, &tid, status, status.canonical_reason())?;
            w.header("To-Path", &from_path)?.header("From-Path", us)?;
            for (name, value) in &extra {
                w.header(name, value)?;
            }
            w.end(Flag::End)
        })();
        if written.is_ok() {
            self.send_control(connection, out.to_vec());
        }
    }

    /// Decides about an AUTH: who sends it (a peer relay by its certificate, or a client by
    /// its credentials), then the Expires asked for.
    fn judge(&mut self, now: Instant, connection: ConnectionId, head: &Head, us: &str) -> Verdict {
        let mut granted_to = None;
        // RFC 4976 §6.3: "When the previous hop is a relay, authentication is done with TLS
        // using mutual authentication. If the TLS client presented a host certificate, the
        // relay checks that the subjectAltName in the certificate of the TLS client matches
        // the hostname in the first From-Path URI. If the TLS client doesn't provide a host
        // certificate, the relay assumes the TLS client is an MSRP client and sends it a
        // challenge."
        let first_host = head
            .from_path()
            .ok()
            .flatten()
            .and_then(|path| path.iter().next().map(str::to_owned))
            .and_then(|first| msrp_uri::MsrpUri::parse(&first).ok())
            .map(|uri| uri.host_str().to_owned());
        let relay = first_host
            .filter(|host| self.is_relay_connection(connection, host))
            .map(|host| Box::<str>::from(host.to_ascii_lowercase()));
        if relay.is_some() {
            // Authorized as every relay that can be authenticated is ("Many relays will choose
            // to authorize all relays that can be authenticated").
        } else if let Some(users) = &self.config.users {
            // RFC 4976 §5.1: "In response to an AUTH request that does not contain an
            // Authorization header, a relay MUST respond with a "401 Unauthorized" response
            // containing a WWW-Authenticate header."
            let Ok(Some(params)) = head.authorization() else {
                return Verdict::Challenge {
                    stale: false,
                    failed: false,
                    user: None,
                };
            };
            let Ok(answer) = Answer::parse(&params) else {
                return Verdict::Challenge {
                    stale: false,
                    failed: true,
                    user: None,
                };
            };
            let user = Some(answer.username.clone());
            // RFC 4976 §6.3: "If the client is not authorized, the relay returns a 403
            // response."
            let Some(password) = users.password(&answer.username).map(str::to_owned) else {
                return Verdict::Forbidden(user);
            };
            // RFC 4976 §9.1: "The request-URI to be used in calculating H(A2) is the rightmost
            // URI in the To-Path header", here the relay's own.
            let right = answer.realm == self.config.realm
                && answer.uri == us
                && answer.is_correct(&password, "AUTH");
            if !right {
                return Verdict::Challenge {
                    stale: false,
                    failed: true,
                    user,
                };
            }
            match self.check_nonce(now, &answer.nonce) {
                NonceCheck::Valid => {}
                // Right credentials on an old nonce: asked again, not refused (RFC 2617
                // §3.2.1: "stale ... indicating that the previous request from the client was
                // rejected because the nonce value was stale").
                NonceCheck::Stale => {
                    return Verdict::Challenge {
                        stale: true,
                        failed: false,
                        user,
                    };
                }
                NonceCheck::Invalid => {
                    return Verdict::Challenge {
                        stale: false,
                        failed: true,
                        user,
                    };
                }
            }
            // RFC 2617 §3.2.2: the nonce count lets the server "detect request replays by
            // maintaining its own copy of this count".
            if !self.note_count(&answer.nonce, answer.nc) {
                return Verdict::Challenge {
                    stale: false,
                    failed: true,
                    user,
                };
            }
            granted_to = Some((answer, password));
        }
        let expires = match head.expires() {
            Ok(Some(asked)) if asked < self.config.min_expires => {
                return Verdict::Interval { min: true };
            }
            Ok(Some(asked)) if asked > self.config.max_expires => {
                return Verdict::Interval { min: false };
            }
            Ok(Some(asked)) => asked,
            _ => self.config.max_expires,
        };
        Verdict::Grant {
            expires,
            answer: granted_to,
            relay,
        }
    }

    /// Counts a refused AUTH on a connection; closes it after too many (RFC 4976 §6.3: "If a
    /// relay receives several unsuccessful AUTH requests from a client that is directly
    /// connected to it via TLS, the relay SHOULD terminate the corresponding connection").
    /// Returns whether it was closed.
    fn count_failure(&mut self, now: Instant, connection: ConnectionId) -> bool {
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return true;
        };
        conn.auth_failures += 1;
        if conn.auth_failures >= self.config.max_auth_failures {
            self.close(now, connection, CloseReason::AuthFailures);
            return true;
        }
        false
    }

    /// Grants a client or a peer relay a URI for `expires` seconds; `None` when no more may
    /// be granted.
    fn grant(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        expires: u32,
        relay: Option<Box<str>>,
    ) -> Option<String> {
        if self.sessions.len() >= self.config.max_sessions {
            return None;
        }
        let conn = self.conns.get(connection.0)?;
        if relay.is_none() && conn.owned.len() >= self.config.max_sessions_per_connection {
            return None;
        }
        // RFC 4976 §6.3: "The URI MUST contain at least 64 bits of cryptographically random
        // material so that it is not guessable by attackers": 120 bits here.
        let random = &mut self.random;
        let id = msrp_uri::generate_session_id(|buf: &mut [u8]| random.fill(buf));
        let scheme = if self.config.secure { "msrps" } else { "msrp" };
        let uri = format!(
            "{scheme}://{}:{}/{id};tcp",
            self.config.host, self.config.port
        );
        let id: Box<str> = id.into();
        let expires_at = now + Duration::from_secs(expires.into());
        self.sessions.insert(
            id.clone(),
            RelaySession {
                owner: connection,
                uri: uri.clone().into(),
                expires_at,
                peer_relay: relay.clone(),
            },
        );
        let conn = self.conns.get_mut(connection.0)?;
        // A client's URI ends with its connection; a peer relay's lives on across its
        // connections, until it expires.
        if relay.is_none() {
            conn.owned.push(id.clone());
        }
        conn.mark_used(now, self.config.idle_timeout);
        self.arm_session(expires_at, id);
        Some(uri)
    }

    /// A fresh nonce: its age in seconds, 64 random bits, and a MAC of both under the relay's
    /// secret, so that the relay keeps no state for the challenges it sends and no two
    /// challenges share a nonce.
    fn nonce(&mut self, now: Instant) -> String {
        let age = now.saturating_duration_since(self.epoch).as_secs();
        let mut salt = [0u8; 8];
        self.random.fill(&mut salt);
        let salt = u64::from_be_bytes(salt);
        format!("{age:016x}{salt:016x}{}", self.nonce_mac(age, salt))
    }

    fn nonce_mac(&self, age: u64, salt: u64) -> String {
        let mut hash = Sha256::new();
        hash.update(self.secret);
        hash.update(age.to_be_bytes());
        hash.update(salt.to_be_bytes());
        hash.update(self.config.realm.as_bytes());
        hash.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn check_nonce(&self, now: Instant, nonce: &str) -> NonceCheck {
        let (Some(age), Some(salt), Some(mac)) =
            (nonce.get(..16), nonce.get(16..32), nonce.get(32..))
        else {
            return NonceCheck::Invalid;
        };
        let (Ok(age), Ok(salt)) = (u64::from_str_radix(age, 16), u64::from_str_radix(salt, 16))
        else {
            return NonceCheck::Invalid;
        };
        if mac != self.nonce_mac(age, salt) {
            return NonceCheck::Invalid;
        }
        let made = self.epoch + Duration::from_secs(age);
        if now.saturating_duration_since(made) > self.config.nonce_lifetime {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }

    /// Records a nonce count; `false` when it is not above the last one seen for the nonce (a
    /// replay).
    fn note_count(&mut self, nonce: &str, nc: u32) -> bool {
        if self.nonce_counts.len() >= MAX_NONCE_COUNTS && !self.nonce_counts.contains_key(nonce) {
            // The oldest nonces first: their age leads them, in hex of a fixed width.
            let mut nonces: Vec<String> = self.nonce_counts.keys().cloned().collect();
            nonces.sort_unstable();
            for old in nonces.iter().take(MAX_NONCE_COUNTS / 2) {
                self.nonce_counts.remove(old);
            }
        }
        let last = self.nonce_counts.entry(nonce.to_owned()).or_insert(0);
        if nc <= *last {
            return false;
        }
        *last = nc;
        true
    }
}
