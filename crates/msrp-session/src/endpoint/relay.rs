//! The endpoint's side of relays (RFC 4976 §5): sessions that authenticate to their relays
//! over a shared connection to the first one, are attached once every relay has granted them
//! a path, and renew it before it expires.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use msrp_uri::Path;
use msrp_wire::{Head, Slab, TransactionId};

use super::{Conn, ConnectionId, Endpoint, EndpointEvent, Place, SessionEntry, SessionId};
use crate::event::{Event, SessionFailure};
use crate::relay::{AuthStep, Relay, RelayAuth, RelayError, RelayErrorKind};
use crate::session::Session;

/// A session's relays and its AUTH exchanges with them.
pub(super) struct RelayState {
    auth: RelayAuth,
    /// The connection to the first relay.
    connection: ConnectionId,
    /// The peer's own path (its SDP `a=path`), which the relays' Use-Path goes before.
    peer_path: Path,
    /// The Use-Path the relays last granted, in To-Path order.
    use_path: Option<Path>,
    /// The path the relays last granted, as the peer sends to it.
    path: Option<Path>,
    /// Counts the timers set, so that earlier ones are known stale.
    epoch: u64,
}

impl Endpoint {
    /// Sets a session up to authenticate to its relays over `connection`, and writes its first
    /// AUTH (sent once the connection is up).
    pub(super) fn start_relayed(
        &mut self,
        now: Instant,
        mut entry: SessionEntry,
        connection: ConnectionId,
        relays: Vec<Relay>,
    ) -> SessionId {
        let session_id = entry.session_id.clone();
        let Place::Waiting(session) = entry.place else {
            unreachable!("a new session waits");
        };
        entry.relay = Some(Box::new(RelayState {
            auth: RelayAuth::new(relays),
            connection,
            peer_path: session.config().peer_path.clone(),
            use_path: None,
            path: None,
            epoch: 0,
        }));
        entry.place = Place::Authenticating(session);
        let id = SessionId(self.sessions.insert(entry));
        self.by_session_id.insert(session_id, id);
        if let Some(conn) = self.conns.get_mut(connection.0) {
            conn.authenticating.push(id);
            if conn.established {
                // A connection kept after its last session went is in use again.
                conn.deadline = None;
            }
        }
        // The AUTH waits for the connection to be set up first.
        self.send_auth(now, id, self.config.connect_timeout);
        self.after(now, connection);
        id
    }

    /// The path a session that goes through relays advertises, once they have granted it: see
    /// [`EndpointEvent::Authenticated`].
    pub fn local_path(&self, session: SessionId) -> Option<&Path> {
        self.sessions.get(session.0)?.relay.as_ref()?.path.as_ref()
    }

    /// Changes the path a session sends to: the peer's SDP `a=path`, for a session opened
    /// before the peer's answer came (one that needed its relays' path for its own offer).
    /// Through relays, requests go along their Use-Path, then this path. It changes where
    /// requests go, not the connection the session is on; requests written already keep their
    /// path. `Err` when no request could be written to that path.
    pub fn set_peer_path(
        &mut self,
        session: SessionId,
        peer_path: Path,
    ) -> Result<(), crate::ConfigError> {
        let Some(entry) = self.sessions.get_mut(session.0) else {
            return Ok(());
        };
        let to_path = match entry.relay.as_deref_mut() {
            Some(relay) => {
                relay.peer_path = peer_path.clone();
                match &relay.use_path {
                    Some(use_path) => through(use_path, &peer_path),
                    // Written with the Use-Path once the relays have granted it.
                    None => peer_path,
                }
            }
            None => peer_path,
        };
        let session_state: &mut Session = match &mut entry.place {
            Place::Waiting(s) | Place::Authenticating(s) => s,
            Place::Bound { connection, key } => {
                match self
                    .conns
                    .get_mut(connection.0)
                    .and_then(|c| c.msrp.session_mut(*key))
                {
                    Some(s) => s,
                    None => return Ok(()),
                }
            }
        };
        session_state.set_to_path(to_path)
    }

    /// Writes a session's next AUTH on its relay connection, whose response is due within the
    /// session's transaction timeout after `extra`.
    fn send_auth(&mut self, now: Instant, session: SessionId, extra: Duration) {
        let Some((relay, session_state, connection)) =
            relayed(&mut self.sessions, &mut self.conns, session)
        else {
            return;
        };
        let local = session_state.config().local_uri.clone();
        let timeout = session_state.config().transaction_timeout;
        let mut frame = Vec::new();
        match relay
            .auth
            .request(&mut frame, &local, session_state.random())
        {
            Ok(tid) => {
                if let Some(conn) = self.conns.get_mut(connection.0) {
                    conn.msrp.send_request(tid, &frame);
                }
                self.auth_tids.insert(tid, session);
                self.set_relay_timer(session, Some(now + extra + timeout));
            }
            Err(error) => self.fail_relayed(now, session, error),
        }
    }

    /// Arms a session's relay timer for `at` (or disarms it), making the earlier one stale.
    fn set_relay_timer(&mut self, session: SessionId, at: Option<Instant>) {
        let Some(relay) = relay_of(&mut self.sessions, session) else {
            return;
        };
        relay.epoch += 1;
        if let Some(at) = at {
            self.relay_timers.push(Reverse((at, session, relay.epoch)));
        }
        // Stale entries wait for their time to be dropped; under churn they are swept here.
        if self.relay_timers.len() > 2 * self.sessions.len() + 64 {
            let sessions = &self.sessions;
            self.relay_timers.retain(|Reverse((_, s, epoch))| {
                sessions
                    .get(s.0)
                    .and_then(|e| e.relay.as_ref())
                    .is_some_and(|r| r.epoch == *epoch)
            });
        }
    }

    /// A response to an AUTH, from a session's relay connection.
    pub(super) fn auth_response(&mut self, now: Instant, connection: ConnectionId, head: &Head) {
        let Ok(tid) = TransactionId::new(head.transaction_id()) else {
            return;
        };
        let Some(session) = self.auth_tids.remove(&tid) else {
            return;
        };
        let Some(relay) = relay_of(&mut self.sessions, session) else {
            return;
        };
        if relay.connection != connection || relay.auth.pending() != Some(&tid) {
            return;
        }
        match relay.auth.handle_response(head) {
            AuthStep::Send => self.send_auth(now, session, Duration::ZERO),
            AuthStep::Done { use_path, expires } => {
                self.relay_granted(now, session, use_path, expires)
            }
            AuthStep::Failed(error) => self.fail_relayed(now, session, error),
        }
    }

    /// Every relay granted the session a path: it sends through them, is attached (the first
    /// time), says its path, and renews it before it expires.
    fn relay_granted(
        &mut self,
        now: Instant,
        session: SessionId,
        use_path: Path,
        expires: Option<Duration>,
    ) {
        let Some((relay, session_state, connection)) =
            relayed(&mut self.sessions, &mut self.conns, session)
        else {
            return;
        };
        // RFC 4976 §5.1: "To form the SDP path attribute to provide to the peer, the client
        // reverses the list of URIs in the Use-Path header (after the outermost
        // authentication), and appends the client's own URI."
        let to_path = through(&use_path, &relay.peer_path);
        relay.use_path = Some(use_path.clone());
        let mut advertised = use_path.into_vec();
        advertised.reverse();
        advertised.push(session_state.config().local_uri.clone());
        let path = Path::from_vec(advertised).expect("it holds the local URI");
        if session_state.set_to_path(to_path).is_err() {
            let error = relay.auth.error(RelayErrorKind::NoUsePath);
            self.fail_relayed(now, session, error);
            return;
        }
        relay.path = Some(path.clone());
        // Renewed when three quarters of the time granted have passed.
        let renew = expires.map(|e| now + (e * 3 / 4).max(Duration::from_secs(1)));
        self.set_relay_timer(session, renew);
        self.events.push_back(EndpointEvent::Authenticated {
            session,
            path,
            expires,
        });
        self.attach_relayed(session, connection);
    }

    /// Attaches a session that has its path to the connection to its first relay, unless it
    /// is attached already (a renewal).
    fn attach_relayed(&mut self, session: SessionId, connection: ConnectionId) {
        let Some(entry) = self.sessions.get_mut(session.0) else {
            return;
        };
        if !matches!(entry.place, Place::Authenticating(_)) {
            return;
        }
        let Some(conn) = self.conns.get_mut(connection.0) else {
            return;
        };
        let placeholder = Place::Bound {
            connection,
            key: crate::SessionKey {
                index: u32::MAX,
                generation: 0,
            },
        };
        let Place::Authenticating(waiting) = core::mem::replace(&mut entry.place, placeholder)
        else {
            return;
        };
        conn.authenticating.retain(|s| *s != session);
        match conn.msrp.insert_session(waiting) {
            Ok(key) => self.attached(session, connection, key),
            Err(crate::InsertError::Duplicate(s) | crate::InsertError::TooMany(s)) => {
                entry.place = Place::Authenticating(s);
                self.fail_unbound(session, SessionFailure::ConnectionLost);
            }
        }
    }

    /// A session's relays refused it, or did not answer: it fails, with what it had queued or
    /// in flight.
    fn fail_relayed(&mut self, now: Instant, session: SessionId, error: RelayError) {
        let Some(entry) = self.sessions.get(session.0) else {
            return;
        };
        let why = SessionFailure::Relay(error);
        match entry.place {
            Place::Bound { .. } => {
                // Its messages fail as when it is closed; then it says why.
                self.close_session(now, session);
                self.events
                    .push_back(EndpointEvent::Session(session, Event::SessionFailed(why)));
            }
            _ => self.fail_unbound(session, why),
        }
    }

    /// Lets go of what a session held for its relays: its AUTH awaiting a response, and its
    /// place among the connection's sessions authenticating.
    pub(super) fn release_relay(&mut self, session: SessionId, relay: Option<&RelayState>) {
        let Some(relay) = relay else {
            return;
        };
        let pending = relay.auth.pending();
        if let Some(tid) = pending {
            self.auth_tids.remove(tid);
        }
        if let Some(conn) = self.conns.get_mut(relay.connection.0) {
            if let Some(tid) = pending {
                conn.msrp.forget_request(tid);
            }
            conn.authenticating.retain(|s| *s != session);
        }
    }

    /// Fires the relay timers due at `now`: an AUTH unanswered in time fails its session; a
    /// granted path due for renewal is asked for again.
    pub(super) fn relay_timeouts(&mut self, now: Instant) {
        while let Some(&Reverse((at, session, epoch))) = self.relay_timers.peek() {
            if at > now {
                break;
            }
            self.relay_timers.pop();
            let Some(relay) = relay_of(&mut self.sessions, session) else {
                continue;
            };
            if relay.epoch != epoch {
                continue;
            }
            let connection = relay.connection;
            if relay.auth.pending().is_some() {
                let error = relay.auth.error(RelayErrorKind::Timeout);
                self.fail_relayed(now, session, error);
            } else {
                // RFC 4976 §4.6: the Expires of the relay's response says "how long its URI
                // from the Use-Path will be valid": it is asked for again before then.
                relay.auth.restart();
                self.send_auth(now, session, Duration::ZERO);
            }
            self.after(now, connection);
        }
    }
}

/// The To-Path of a session through relays (RFC 4976 §5.1): "the client takes the list of URIs
/// in the Use-Path header after the outermost authentication and appends the list of URIs
/// provided in the path attribute in the peer's session description".
fn through(use_path: &Path, peer_path: &Path) -> Path {
    let mut to_path = use_path.clone().into_vec();
    to_path.extend(peer_path.iter().cloned());
    Path::from_vec(to_path).expect("a Use-Path is never empty")
}

/// A session that goes through relays, when it is authenticating or bound on the connection to
/// its first relay: its relay state, the session, and that connection.
fn relayed<'a>(
    sessions: &'a mut Slab<SessionEntry>,
    conns: &'a mut Slab<Conn>,
    session: SessionId,
) -> Option<(&'a mut RelayState, &'a mut Session, ConnectionId)> {
    let SessionEntry { relay, place, .. } = sessions.get_mut(session.0)?;
    let relay = relay.as_deref_mut()?;
    let connection = relay.connection;
    let state = match place {
        Place::Authenticating(s) => s.as_mut(),
        Place::Bound { key, .. } => conns.get_mut(connection.0)?.msrp.session_mut(*key)?,
        Place::Waiting(_) => return None,
    };
    Some((relay, state, connection))
}

/// A session's relay state, if it goes through relays.
fn relay_of(sessions: &mut Slab<SessionEntry>, session: SessionId) -> Option<&mut RelayState> {
    sessions.get_mut(session.0)?.relay.as_deref_mut()
}
