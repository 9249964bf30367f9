//! A connection: the byte stream that carries one or more sessions.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use msrp_uri::FramePaths;
use msrp_wire::{
    FailureReport, Flag, Frame, Head, Item, Method, StatusCode, StreamDecoder, TransactionId,
};

use crate::config::{Chunking, ConnectionConfig};
use crate::event::{ConnectionEvent, FailedBy, SessionFailure};
use crate::frames::respond;
use crate::gaps::GapBudget;
use crate::hash::FastMap;
use crate::message::OutgoingMessage;
use crate::session::{Ctx, OpenChunk, PathHeader, Paths, Piece, Route, SendError, Session};
use crate::{MessageHandle, SessionKey};

/// The least an output buffer grows by.
const OUTPUT_RESERVE: usize = 64 * 1024;
/// Body pieces up to this size are copied next to their head and end-line rather than written
/// as pieces of their own: for small messages one copy is cheaper than a separate write.
const COPY_BELOW: usize = 2048;

/// Why a session could not be attached.
#[derive(Debug)]
#[non_exhaustive]
pub enum InsertError {
    /// A session with the same session-id is attached already; the session is handed back.
    Duplicate(Box<Session>),
    /// The connection carries as many sessions as
    /// [`ConnectionConfig::max_sessions`](crate::ConnectionConfig::max_sessions) allows.
    TooMany(Box<Session>),
}

impl core::fmt::Display for InsertError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Duplicate(_) => "a session with this session-id is attached already",
            Self::TooMany(_) => "too many sessions on this connection",
        })
    }
}

impl std::error::Error for InsertError {}

struct Slot {
    /// Boxed, so that the table of slots stays small whatever a session holds.
    session: Option<Box<Session>>,
    generation: u32,
    in_rr: bool,
    /// Whether a request whose sole To-Path is the session's local URI, as the session writes
    /// it, is routed to the session without reading the To-Path: whether the session-id read
    /// from its text is the session's.
    text_routes: bool,
}

/// The body of a request being received in pieces, and where it goes.
struct Inbound {
    session: Option<u32>,
    head: Head,
    route: Route,
}

/// Where [`Connection::dispatch`] took a request or response.
enum Routed {
    /// To its session.
    Session,
    /// Nowhere: its session is not on this connection.
    Unknown(Held),
    /// Nowhere: it cannot be routed, and a request gets this code.
    Unroutable(Held, StatusCode),
}

/// A request held while the application decides about its unknown session.
enum Held {
    Frame(Frame),
    Head(Head),
}

impl Held {
    fn head(&self) -> &Head {
        match self {
            Held::Frame(f) => f.head(),
            Held::Head(h) => h,
        }
    }
}

/// One transport connection and the MSRP sessions it carries: a sans-IO state machine.
///
/// A connection never touches a socket or a clock. The application (or a transport such as
/// `msrp-mio-transport`) moves bytes and time in and out. Call it in this order:
///
/// 1. Attach sessions with [`insert_session`](Self::insert_session).
/// 2. Feed received bytes with [`handle_input`](Self::handle_input) (or
///    [`fill`](Self::fill)), only while [`wants_read`](Self::wants_read) says so.
/// 3. Give commands: [`send`](Self::send), [`abort`](Self::abort),
///    [`close_session`](Self::close_session).
/// 4. Drain [`poll_transmit`](Self::poll_transmit) into the socket while it accepts bytes, and
///    [`poll_event`](Self::poll_event) into the application.
/// 5. Sleep until [`poll_timeout`](Self::poll_timeout), then call
///    [`handle_timeout`](Self::handle_timeout); on end of stream or error call
///    [`handle_close`](Self::handle_close).
///
/// Requests are routed to sessions by the session-id of their first To-Path URI. A request for
/// a session the connection does not carry pauses input and raises
/// [`ConnectionEvent::UnknownSession`]: attach the session, or refuse it (481).
///
/// ```
/// # use std::time::Instant;
/// # use msrp_session::{Connection, ConnectionConfig, ConnectionEvent, Event, OutgoingMessage,
/// #     Session, SessionConfig};
/// let now = Instant::now();
/// let alice_uri = "msrp://alice.example.com:7654/iau39;tcp";
/// let bob_uri = "msrp://bob.example.com:8888/9di4ea;tcp";
/// let session = |local: &str, peer: &str, seed: u8| {
///     let mut n = seed;
///     let random = move |buf: &mut [u8]| buf.iter_mut().for_each(|b| { n = n.wrapping_mul(31).wrapping_add(7); *b = n });
///     Session::new(SessionConfig::new(local.parse().unwrap(), peer.parse().unwrap(), random)).unwrap()
/// };
/// let mut alice = Connection::new(ConnectionConfig::default());
/// let mut bob = Connection::new(ConnectionConfig::default());
/// let a = alice.insert_session(session(alice_uri, bob_uri, 1)).unwrap();
/// bob.insert_session(session(bob_uri, alice_uri, 2)).unwrap();
///
/// let handle = alice.send(a, OutgoingMessage::new("text/plain", "Hi Bob")).unwrap();
/// // Move bytes both ways until both sides are quiet.
/// let mut wire = Vec::new();
/// loop {
///     wire.clear();
///     alice.poll_transmit(now, &mut wire);
///     bob.handle_input(now, &wire);
///     let moved = wire.len();
///     wire.clear();
///     bob.poll_transmit(now, &mut wire);
///     alice.handle_input(now, &wire);
///     if moved + wire.len() == 0 { break; }
/// }
/// let received = std::iter::from_fn(|| bob.poll_event()).find_map(|e| match e {
///     ConnectionEvent::Session(_, Event::Message(m)) => Some(m),
///     _ => None,
/// });
/// assert_eq!(&received.unwrap().body[..], b"Hi Bob");
/// let outcome = std::iter::from_fn(|| alice.poll_event()).find_map(|e| match e {
///     ConnectionEvent::Session(_, Event::Outcome(o)) => Some(o),
///     _ => None,
/// });
/// assert_eq!(outcome.unwrap().handle, handle);
/// ```
pub struct Connection {
    config: ConnectionConfig,
    decoder: StreamDecoder,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Sessions by the session-ids of their local URIs, which the endpoint chose.
    by_id: FastMap<Box<str>, u32>,
    /// Sessions with messages waiting, in turn order.
    rr: VecDeque<u32>,
    /// Active sessions whose first SEND is still to be written.
    binds: VecDeque<u32>,
    /// The slot of the session the last request or response was routed to.
    last_routed: u32,
    open: Option<(u32, OpenChunk)>,
    control: BytesMut,
    scratch: BytesMut,
    /// Scratch space for the sessions.
    work: Vec<u8>,
    pieces: Vec<Bytes>,
    inbound: Option<Inbound>,
    held: Option<Held>,
    events: VecDeque<ConnectionEvent>,
    failed: bool,
    /// When bytes last arrived, and when output was last taken.
    last_progress: Option<Instant>,
    /// When the first byte of the head being received arrived.
    head_since: Option<Instant>,
    last_output: Option<Instant>,
    /// Whether the buffers were given back since the connection was last active.
    released: bool,
    /// The budget of bytes beyond gaps its sessions share with other connections, if any.
    gaps: Option<GapBudget>,
    /// The transaction ids of requests written with [`Connection::send_request`] that await
    /// their responses.
    own: Vec<TransactionId>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("sessions", &self.by_id.len())
            .field("failed", &self.failed)
            .field("queued_control", &self.control.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection without sessions.
    pub fn new(config: ConnectionConfig) -> Self {
        Self {
            decoder: StreamDecoder::with_limits(config.wire),
            config,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: FastMap::default(),
            rr: VecDeque::new(),
            binds: VecDeque::new(),
            last_routed: 0,
            open: None,
            control: BytesMut::new(),
            scratch: BytesMut::new(),
            work: Vec::new(),
            pieces: Vec::new(),
            inbound: None,
            held: None,
            events: VecDeque::new(),
            failed: false,
            last_progress: None,
            head_since: None,
            last_output: None,
            released: true,
            gaps: None,
            own: Vec::new(),
        }
    }

    /// A connection without sessions whose sessions share `budget` with those of other
    /// connections: the bytes they may have received beyond the first gap of their incoming
    /// messages, all together (each session has its own bound too,
    /// [`Limits::max_gap_bytes`](crate::Limits::max_gap_bytes)). An
    /// [`Endpoint`](crate::Endpoint) makes its connections this way.
    pub fn with_gap_budget(config: ConnectionConfig, budget: GapBudget) -> Self {
        let mut connection = Self::new(config);
        connection.gaps = Some(budget);
        connection
    }

    // ---------------------------------------------------------------------------------------
    // Sessions.
    // ---------------------------------------------------------------------------------------

    /// Attaches a session (or a boxed one, which is kept in its box). Its queued messages are
    /// sent, and an active session's first SEND is written, on the next
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn insert_session(
        &mut self,
        session: impl Into<Box<Session>>,
    ) -> Result<SessionKey, InsertError> {
        let session = session.into();
        if self.by_id.contains_key(session.session_id()) {
            return Err(InsertError::Duplicate(session));
        }
        if self.by_id.len() >= self.config.max_sessions {
            return Err(InsertError::TooMany(session));
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    session: None,
                    generation: 0,
                    in_rr: false,
                    text_routes: false,
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.by_id.insert(session.session_id().into(), index);
        let has_ready = session.has_ready();
        let wants_bind = session.wants_bind();
        let slot = &mut self.slots[index as usize];
        slot.text_routes = msrp_uri::session_id_of(session.local()) == Some(session.session_id());
        slot.session = Some(session);
        slot.in_rr = false;
        let key = SessionKey {
            index,
            generation: slot.generation,
        };
        if has_ready {
            self.schedule(index);
        } else if wants_bind {
            self.binds.push_back(index);
        }
        Ok(key)
    }

    /// Detaches a session, to close it or move it to another connection. A chunk of it that
    /// is being written is ended here and its message continues where it attaches next.
    pub fn take_session(&mut self, key: SessionKey) -> Option<Session> {
        self.session(key)?;
        let index = key.index;
        if let Some((i, open)) = self.open {
            if i == index {
                self.open = None;
                msrp_wire::end_line(&mut self.scratch, &open.tid, Flag::Continued);
                if let Some(s) = self.slots[index as usize].session.as_deref_mut() {
                    s.requeue(open.handle);
                }
            }
        }
        if self
            .inbound
            .as_ref()
            .is_some_and(|i| i.session == Some(index))
        {
            if let Some(inbound) = &mut self.inbound {
                inbound.session = None;
            }
        }
        let slot = &mut self.slots[index as usize];
        let session = slot.session.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        slot.in_rr = false;
        self.by_id.remove(session.session_id());
        self.rr.retain(|&i| i != index);
        self.binds.retain(|&i| i != index);
        self.free.push(index);
        Some(*session)
    }

    /// The session of a key, if it is still attached.
    pub fn session(&self, key: SessionKey) -> Option<&Session> {
        let slot = self.slots.get(key.index as usize)?;
        (slot.generation == key.generation)
            .then_some(slot.session.as_deref())
            .flatten()
    }

    /// The session of a key, to change what it sends along (its path through relays).
    pub(crate) fn session_mut(&mut self, key: SessionKey) -> Option<&mut Session> {
        let slot = self.slots.get_mut(key.index as usize)?;
        (slot.generation == key.generation)
            .then_some(slot.session.as_deref_mut())
            .flatten()
    }

    /// The key of the attached session with this session-id.
    pub fn session_key(&self, session_id: &str) -> Option<SessionKey> {
        let index = *self.by_id.get(session_id)?;
        Some(self.key_of(index))
    }

    /// Number of attached sessions.
    pub fn session_count(&self) -> usize {
        self.by_id.len()
    }

    fn key_of(&self, index: u32) -> SessionKey {
        SessionKey {
            index,
            generation: self.slots[index as usize].generation,
        }
    }

    fn schedule(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        if !slot.in_rr {
            slot.in_rr = true;
            self.rr.push_back(index);
        }
    }

    /// Runs `f` on the session at `index` with a context that collects its output.
    fn with_session<R>(
        &mut self,
        index: u32,
        f: impl FnOnce(&mut Session, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let key = self.key_of(index);
        let session = self.slots.get_mut(index as usize)?.session.as_deref_mut()?;
        let mut ctx = Ctx {
            key,
            events: &mut self.events,
            control: &mut self.control,
            work: &mut self.work,
            gaps: self.gaps.as_ref(),
        };
        Some(f(session, &mut ctx))
    }

    // ---------------------------------------------------------------------------------------
    // Commands.
    // ---------------------------------------------------------------------------------------

    /// Queues a message on a session. It is refused here, before anything is sent, when the
    /// peer's SDP says it cannot take it (RFC 4975 §8.6).
    pub fn send(
        &mut self,
        key: SessionKey,
        message: OutgoingMessage,
    ) -> Result<MessageHandle, SendError> {
        let session = self
            .slots
            .get_mut(key.index as usize)
            .filter(|slot| slot.generation == key.generation)
            .and_then(|slot| slot.session.as_deref_mut())
            .ok_or(SendError::SessionFailed)?;
        let handle = session.send(message)?;
        self.binds.retain(|&i| i != key.index);
        self.schedule(key.index);
        Ok(handle)
    }

    /// Aborts a message: its outcome is a failure, a chunk of it being written ends with `#`,
    /// and a receiver that has part of it is told with an empty chunk that ends with `#`.
    /// Returns `false` if the message has its outcome already.
    pub fn abort(&mut self, key: SessionKey, handle: MessageHandle) -> bool {
        if self.session(key).is_none() {
            return false;
        }
        let open = self
            .open
            .is_some_and(|(i, o)| i == key.index && o.handle == handle.0);
        self.with_session(key.index, |s, ctx| s.abort(ctx, handle.0, open))
            .unwrap_or(false)
    }

    /// Closes a session: every message without an outcome fails with
    /// [`FailedBy::SessionClosed`](crate::FailedBy::SessionClosed). The session stays attached
    /// (it answers requests no more) until taken.
    pub fn close_session(&mut self, key: SessionKey) {
        if self.session(key).is_some() {
            self.with_session(key.index, |s, ctx| s.close(ctx));
        }
    }

    /// Writes a request that belongs to no session (an AUTH to a relay, RFC 4976 §5.1), whole
    /// as `frame` with transaction id `tid`, ahead of any chunk; its response comes back as
    /// [`ConnectionEvent::Response`] instead of going to a session. A request whose response
    /// never comes is forgotten with [`forget_request`](Self::forget_request).
    pub fn send_request(&mut self, tid: TransactionId, frame: &[u8]) {
        crate::frames::trace_sent(frame);
        self.control.extend_from_slice(frame);
        self.own.push(tid);
    }

    /// Stops waiting for the response to a request written with
    /// [`send_request`](Self::send_request).
    pub fn forget_request(&mut self, tid: &TransactionId) {
        self.own.retain(|t| t != tid);
    }

    // ---------------------------------------------------------------------------------------
    // Input.
    // ---------------------------------------------------------------------------------------

    /// Whether the connection takes input: it has not failed, no request waits for a decision
    /// about its session, and the peer reads the responses it asked for.
    pub fn wants_read(&self) -> bool {
        !self.failed && self.held.is_none() && self.control.len() <= self.config.max_queued_control
    }

    /// Handles received bytes.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.failed {
            return;
        }
        if !data.is_empty() {
            self.decoder.push(data);
            self.last_progress = Some(now);
            self.released = false;
        }
        self.process(now);
    }

    /// Lets `read` write up to `max` received bytes straight into the decoder's buffer, then
    /// handles them; see [`StreamDecoder::fill`].
    pub fn fill<E>(
        &mut self,
        now: Instant,
        max: usize,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let n = self.decoder.fill(max, read)?;
        if n > 0 {
            self.last_progress = Some(now);
            self.released = false;
        }
        self.process(now);
        Ok(n)
    }

    /// Handles what is buffered, after input was paused (an attached or refused session, or
    /// responses that were sent).
    pub fn resume(&mut self, now: Instant) {
        self.process(now);
    }

    /// Refuses the request that named an unknown session, and resumes input: with 481
    /// ([`StatusCode::NO_SUCH_SESSION`]) when no such session exists (RFC 4975 §7.3: "the
    /// receiver MUST generate a 481 error and ignore the request"), or with 506
    /// ([`StatusCode::WRONG_CONNECTION`]) when it is bound to another connection (RFC 4975 §5.4:
    /// "If the session is already in use, it MUST reject the request with a 506 response").
    pub fn refuse_unknown_session(&mut self, now: Instant, code: StatusCode) {
        let Some(held) = self.held.take() else {
            return;
        };
        self.answer_unroutable(held.head(), code);
        if let Held::Head(head) = held {
            self.inbound = Some(Inbound {
                session: None,
                head,
                route: Route::Discard,
            });
        }
        self.process(now);
    }

    /// Answers a request no session takes, when it asks for a response.
    fn answer_unroutable(&mut self, head: &Head, code: StatusCode) {
        let wants_response = head.method().is_some_and(|m| m != Method::Report)
            && head.failure_report().ok().flatten().unwrap_or_default() != FailureReport::No;
        if !wants_response {
            return;
        }
        // The response comes from the URI the request was sent to.
        if let Ok(Some(to_path)) = head.to_path() {
            respond(&mut self.control, head, code, to_path.first());
        }
    }

    /// Finds the session a request or response is for, by the session-id of the first URI of
    /// its To-Path, and returns it with the To-Path, read once for the session too; `Err` with
    /// the code to answer when it cannot be routed, `Ok(None)` when the session is unknown.
    fn route<'h>(&self, head: &'h Head) -> Result<Option<(u32, Paths<'h>)>, StatusCode> {
        // Most frames are for the session the last one was for, and name it by its URI as the
        // session writes it: that To-Path routes as its session-id would.
        let last = self.last_routed;
        if let Some(slot) = self.slots.get(last as usize).filter(|s| s.text_routes) {
            if let Some(from_expected) =
                slot.session.as_deref().and_then(|s| s.expected_paths(head))
            {
                let paths = Paths {
                    to: PathHeader::Expected,
                    from_expected,
                };
                return Ok(Some((last, paths)));
            }
        }
        let Ok(Some(to_path)) = head.to_path() else {
            return Err(StatusCode::BAD_REQUEST);
        };
        let first = to_path.iter().next().unwrap_or_default();
        let Some(id) = msrp_uri::session_id_of(first) else {
            return Err(StatusCode::NO_SUCH_SESSION);
        };
        Ok(self
            .by_id
            .get(id)
            .map(|&index| (index, Paths::to(PathHeader::List(to_path)))))
    }

    /// Handles what the decoder holds, then notes whether a head is coming in, and since when.
    fn process(&mut self, now: Instant) {
        self.process_items(now);
        if self.decoder.is_mid_head() {
            self.head_since.get_or_insert(now);
        } else {
            self.head_since = None;
        }
    }

    fn process_items(&mut self, now: Instant) {
        if self.failed {
            return;
        }
        if let Some(held) = self.held.take() {
            match self.dispatch(now, held) {
                Routed::Session => {}
                Routed::Unknown(held) | Routed::Unroutable(held, _) => {
                    self.held = Some(held);
                    return;
                }
            }
        }
        while self.control.len() <= self.config.max_queued_control && self.held.is_none() {
            Self::room(&mut self.control);
            let item = match self.decoder.decode() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    self.fail(SessionFailure::Framing(e));
                    return;
                }
            };
            if matches!(item, Item::Frame(_) | Item::Head(_)) {
                // A head is complete; the next byte starts another.
                self.head_since = None;
            }
            match item {
                Item::Frame(frame) => self.incoming(now, Held::Frame(frame)),
                Item::Head(head) => self.incoming(now, Held::Head(head)),
                Item::Body(data) => {
                    if let Some(mut inbound) = self.inbound.take() {
                        if let Some(index) = inbound.session {
                            self.with_session(index, |s, ctx| {
                                s.receive_data(ctx, now, &mut inbound.route, data)
                            });
                        }
                        self.inbound = Some(inbound);
                    }
                }
                Item::End(flag) => {
                    if let Some(inbound) = self.inbound.take() {
                        if let Some(index) = inbound.session {
                            self.with_session(index, |s, ctx| {
                                s.receive_end(ctx, now, &inbound.head, inbound.route, flag)
                            });
                        }
                    }
                }
            }
        }
    }

    /// Routes a frame or a streamed head.
    fn incoming(&mut self, now: Instant, item: Held) {
        crate::frames::trace_received(item.head());
        if !self.own.is_empty() && !item.head().is_request() {
            let tid = item.head().transaction_id();
            if let Some(at) = self.own.iter().position(|t| t.as_str() == tid) {
                self.own.swap_remove(at);
                let head = item.head().clone();
                self.discard(item);
                self.events.push_back(ConnectionEvent::Response(head));
                return;
            }
        }
        match self.dispatch(now, item) {
            Routed::Session => {}
            Routed::Unknown(item)
                if item.head().is_request() && item.head().method() != Some(Method::Report) =>
            {
                let head = item.head();
                let session_id = head.to_path_session_id().unwrap_or_default().to_owned();
                let to_path = match head.to_path() {
                    Ok(Some(list)) => list.as_str().to_owned(),
                    _ => String::new(),
                };
                self.held = Some(item);
                self.events.push_back(ConnectionEvent::UnknownSession {
                    session_id,
                    to_path,
                });
            }
            // Responses and REPORTs for unknown sessions are dropped: neither is answered.
            Routed::Unknown(item) => self.discard(item),
            Routed::Unroutable(item, code) => {
                self.answer_unroutable(item.head(), code);
                self.discard(item);
            }
        }
    }

    fn discard(&mut self, item: Held) {
        if let Held::Head(head) = item {
            self.inbound = Some(Inbound {
                session: None,
                head,
                route: Route::Discard,
            });
        }
    }

    /// Hands a frame or a streamed head to its session, or back when it has none here.
    fn dispatch(&mut self, now: Instant, item: Held) -> Routed {
        let (index, route) = match self.route(item.head()) {
            Ok(Some((index, paths))) => {
                self.last_routed = index;
                let route = match &item {
                    Held::Frame(frame) => {
                        self.with_session(index, |s, ctx| s.handle_frame(ctx, now, frame, paths));
                        None
                    }
                    Held::Head(head) => Some(
                        self.with_session(index, |s, ctx| s.handle_head(ctx, now, head, paths))
                            .unwrap_or(Route::Discard),
                    ),
                };
                (index, route)
            }
            Ok(None) => return Routed::Unknown(item),
            Err(code) => return Routed::Unroutable(item, code),
        };
        if let (Held::Head(head), Some(route)) = (item, route) {
            self.inbound = Some(Inbound {
                session: Some(index),
                head,
                route,
            });
        }
        Routed::Session
    }

    // ---------------------------------------------------------------------------------------
    // Output.
    // ---------------------------------------------------------------------------------------

    /// Whether anything waits to be written.
    pub fn wants_write(&self) -> bool {
        !self.control.is_empty()
            || !self.scratch.is_empty()
            || self.open.is_some()
            || !self.rr.is_empty()
            || !self.binds.is_empty()
    }

    /// Appends up to about `max` bytes of output to `out` as pieces to write in order (heads
    /// and end-lines are small pieces; bodies are slices of the messages' own buffers, not
    /// copies). Returns the number of bytes appended.
    ///
    /// Responses and REPORTs go first, interrupting a chunk in progress (RFC 4975 §7.1.1: "SEND
    /// requests larger than 2048 octets MUST be interrupted if the sender needs to send pending
    /// responses or REPORT requests"). Messages take turns of
    /// [`SessionConfig::quantum`](crate::SessionConfig::quantum) bytes when several wait; a
    /// message alone on the connection is sent as one chunk.
    pub fn poll_transmit_vectored(
        &mut self,
        now: Instant,
        max: usize,
        out: &mut Vec<Bytes>,
    ) -> usize {
        if !self.wants_write() {
            // Nothing to write: no buffer is made for it.
            return 0;
        }
        let mut n = 0;
        Self::room(&mut self.scratch);
        while n + self.scratch.len() < max {
            if self.scratch.capacity() - self.scratch.len() < 1024 {
                self.flush_scratch(out, &mut n);
                Self::room(&mut self.scratch);
            }
            // A chunk that states its range-end is finished first: only chunks that may be
            // interrupted give way (RFC 4975 §7.1.1: a range-end "MUST take the value of "*" if
            // ... the request needs to be interruptible").
            if !self.control.is_empty() && self.open.is_none_or(|(_, open)| !open.stated) {
                if self.open.is_some() {
                    self.end_open(now, Flag::Continued);
                }
                self.flush_scratch(out, &mut n);
                let control = self.control.split().freeze();
                n += control.len();
                out.push(control);
                continue;
            }
            if let Some((index, mut open)) = self.open {
                let others = !self.rr.is_empty()
                    || !self.binds.is_empty()
                    || self.slots[index as usize]
                        .session
                        .as_deref()
                        .is_some_and(Session::has_ready);
                let (quantum, interruptible) = self.slots[index as usize]
                    .session
                    .as_deref()
                    .map_or((usize::MAX, true), |s| {
                        (
                            s.config().quantum,
                            s.config().chunking == Chunking::Interruptible,
                        )
                    });
                let turn_left = quantum.saturating_sub(open.written as usize);
                if others && interruptible && turn_left == 0 {
                    self.end_open(now, Flag::Continued);
                    continue;
                }
                let mut allowed = max - n - self.scratch.len();
                if others && interruptible {
                    allowed = allowed.min(turn_left);
                }
                let piece = self
                    .with_session(index, |s, ctx| s.next_piece(ctx, &open, allowed))
                    .unwrap_or(Piece::End(Flag::Aborted));
                match piece {
                    Piece::Data(data) => {
                        open.written += data.len() as u64;
                        if data.len() < COPY_BELOW {
                            self.scratch.extend_from_slice(&data);
                        } else {
                            self.flush_scratch(out, &mut n);
                            n += data.len();
                            out.push(data);
                        }
                        self.open = Some((index, open));
                    }
                    Piece::End(flag) => self.end_open(now, flag),
                }
                continue;
            }
            if let Some(index) = self.binds.pop_front() {
                if let Some(s) = self.slots[index as usize].session.as_deref_mut() {
                    if s.wants_bind() {
                        s.write_bind(now, &mut self.scratch);
                    }
                }
                continue;
            }
            let Some(index) = self.rr.pop_front() else {
                break;
            };
            self.slots[index as usize].in_rr = false;
            let next = self.slots[index as usize]
                .session
                .as_deref_mut()
                .and_then(Session::pop_ready);
            let Some(handle) = next else {
                continue;
            };
            if self.slots[index as usize]
                .session
                .as_deref()
                .is_some_and(Session::has_ready)
            {
                self.schedule(index);
            }
            let mut scratch = core::mem::take(&mut self.scratch);
            let open = self
                .with_session(index, |s, ctx| {
                    s.start_chunk(ctx, now, handle, &mut scratch)
                })
                .flatten();
            self.scratch = scratch;
            if let Some(open) = open {
                self.open = Some((index, open));
            }
        }
        self.flush_scratch(out, &mut n);
        if n > 0 {
            self.last_output = Some(now);
            self.released = false;
        }
        n
    }

    /// Appends output to `out`, copying; see
    /// [`poll_transmit_vectored`](Self::poll_transmit_vectored), which avoids the copy.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> usize {
        let mut pieces = core::mem::take(&mut self.pieces);
        let n = self.poll_transmit_vectored(now, usize::MAX, &mut pieces);
        for piece in pieces.drain(..) {
            out.extend_from_slice(&piece);
        }
        self.pieces = pieces;
        n
    }

    /// Makes room in an output buffer before frames are written into it: it grows in large
    /// steps, and is reused in place once the pieces cut from it have been written and dropped,
    /// so steady traffic does not allocate.
    fn room(buf: &mut BytesMut) {
        // An empty buffer is rewound to the start of its allocation when the pieces written
        // from it have been dropped; otherwise it grows when it runs low.
        if buf.is_empty() || buf.capacity() - buf.len() < 4096 {
            buf.reserve(OUTPUT_RESERVE);
        }
    }

    /// When the connection, if it stays quiet, gives back its buffers:
    /// [`ConnectionConfig::buffer_release`] after it last read or wrote (never, if that is
    /// too far off to name).
    fn release_at(&self) -> Option<Instant> {
        let quiet =
            !self.released && !self.wants_write() && self.inbound.is_none() && self.held.is_none();
        let last = self.last_progress.max(self.last_output)?;
        quiet.then(|| last.checked_add(self.config.buffer_release))?
    }

    /// Gives back the buffers of a quiet connection and the spare capacity of its queues; a
    /// buffer is made again when there is something to read or write.
    fn release_memory(&mut self) {
        self.released = true;
        self.decoder.release_memory();
        self.control = BytesMut::new();
        self.scratch = BytesMut::new();
        self.work = Vec::new();
        self.pieces = Vec::new();
        self.events.shrink_to_fit();
        self.rr.shrink_to_fit();
        self.binds.shrink_to_fit();
        self.free.shrink_to_fit();
    }

    fn flush_scratch(&mut self, out: &mut Vec<Bytes>, n: &mut usize) {
        if !self.scratch.is_empty() {
            let bytes = self.scratch.split().freeze();
            *n += bytes.len();
            out.push(bytes);
        }
    }

    /// Ends the open chunk with `flag`; its message gets another turn unless it is complete.
    fn end_open(&mut self, now: Instant, flag: Flag) {
        let Some((index, open)) = self.open.take() else {
            return;
        };
        let mut scratch = core::mem::take(&mut self.scratch);
        self.with_session(index, |s, ctx| {
            s.end_chunk(ctx, now, &open, flag, &mut scratch);
            if flag == Flag::Continued {
                s.requeue(open.handle);
            }
        });
        self.scratch = scratch;
        if flag == Flag::Continued {
            self.schedule(index);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Events, timers and the end.
    // ---------------------------------------------------------------------------------------

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        self.events.pop_front()
    }

    /// The earliest time at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let frame = self
            .last_progress
            .filter(|_| self.decoder.is_mid_frame() && !self.failed)
            .map(|t| t + self.config.frame_timeout);
        self.slots
            .iter()
            .filter_map(|s| s.session.as_deref()?.poll_timeout())
            .chain(frame)
            .chain(self.head_deadline())
            .chain(self.release_at())
            .min()
    }

    /// Fires the timers due at `now`: transaction timeouts (408), success-report timeouts,
    /// incomplete incoming messages, an incomplete frame that makes no progress, and the
    /// release of the buffers of a quiet connection ([`ConnectionConfig::buffer_release`]) and
    /// of the tables of sessions quiet for 30 s.
    pub fn handle_timeout(&mut self, now: Instant) {
        for index in 0..self.slots.len() as u32 {
            if self.slots[index as usize]
                .session
                .as_deref()
                .and_then(Session::poll_timeout)
                .is_some_and(|t| t <= now)
            {
                self.with_session(index, |s, ctx| s.handle_timeout(ctx, now));
            }
        }
        let stalled = self.decoder.is_mid_frame()
            && self
                .last_progress
                .is_some_and(|t| t + self.config.frame_timeout <= now);
        if stalled && !self.failed {
            self.fail(SessionFailure::FrameTimeout);
        }
        if self.head_deadline().is_some_and(|t| t <= now) {
            self.fail(SessionFailure::HeadTimeout);
        }
        if self.release_at().is_some_and(|t| t <= now) {
            self.release_memory();
        }
    }

    /// When the head coming in must be complete, while the connection takes input (a head
    /// that waits because this side paused input is not the peer's delay).
    fn head_deadline(&self) -> Option<Instant> {
        let since = self.head_since.filter(|_| self.wants_read())?;
        since.checked_add(self.config.head_timeout)
    }

    /// The connection is gone (closed by the peer, reset, or dropped by the application):
    /// every message in flight on every session fails, and every session reports
    /// [`SessionFailure::ConnectionLost`]. RFC 4975 §5.4: "If a connection fails for any
    /// reason, then an MSRP endpoint MUST consider any sessions associated with the connection
    /// as also having failed."
    pub fn handle_close(&mut self, _now: Instant) {
        self.fail_sessions(SessionFailure::ConnectionLost, FailedBy::ConnectionLost);
        self.failed = true;
    }

    fn fail(&mut self, why: SessionFailure) {
        self.fail_sessions(why.clone(), FailedBy::ConnectionLost);
        self.failed = true;
        self.events.push_back(ConnectionEvent::Failed(why));
    }

    fn fail_sessions(&mut self, why: SessionFailure, by: FailedBy) {
        self.open = None;
        self.inbound = None;
        self.held = None;
        for index in 0..self.slots.len() as u32 {
            let why = why.clone();
            self.with_session(index, |s, ctx| s.fail_session(ctx, why, by));
        }
        self.rr.clear();
        self.binds.clear();
    }

    /// Received bytes held by the decoder, not yet handed out as frames or pieces.
    pub fn buffered_input(&self) -> usize {
        self.decoder.buffered()
    }

    /// Responses and REPORTs queued for the peer, not yet taken by
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn queued_control(&self) -> usize {
        self.control.len()
    }

    /// Whether the connection has failed or was closed.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Whether every session is idle: nothing queued, nothing unacknowledged, nothing to write.
    pub fn is_idle(&self) -> bool {
        !self.wants_write()
            && self
                .slots
                .iter()
                .filter_map(|s| s.session.as_deref())
                .all(Session::is_idle)
    }
}
