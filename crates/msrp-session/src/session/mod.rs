//! One MSRP session: what it sends, what it receives, and what it reports.
//!
//! The work is split by job, each in its own file, and each state owns its behaviour:
//!
//! - here, the [`Session`] type: its construction, the paths it writes and expects, the routing
//!   checks of a received request, and the entry points the [`Connection`](crate::Connection)
//!   calls, which hand the work to the state that owns it;
//! - `send`: the state of sending ([`Sending`]) and what it does: queueing, chunking, the
//!   interruption of RFC 4975 §7.1.1, transactions and their responses, outcomes, abort;
//! - `receive`: the state of receiving ([`Receiving`]) and what it does with an incoming SEND:
//!   reassembly by Byte-Range, duplicates, limits, responses;
//! - `report`: the REPORTs a session sends, and what a received REPORT does to a message it
//!   sent (RFC 4975 §7.1.2 to §7.2);
//! - `timers`: transaction and report timeouts, incomplete messages, and the release of the
//!   memory of a quiet session.
//!
//! What a session sends is decided here and written by `msrp-wire`: requests from the session's
//! `HeadTemplate`, responses by `encode_response`.
//!
//! Each file is compiled apart from the others, so the entry points and the small helpers that
//! every message crosses between files are marked `#[inline]`: the split costs no call on the
//! path of a message.

mod receive;
mod report;
mod send;
mod timers;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use msrp_uri::{MsrpUri, Path};
use msrp_wire::{
    ByteRange, FailureReport, Flag, Frame, Head, HeadTemplate, HeaderName, MessageHeaders, Method,
    SendHead, StatusCode, SuccessReport, TransactionId, UriList,
};

use crate::config::{Chunking, FromPathCheck, Random, SessionConfig};
use crate::event::{ConnectionEvent, Event, FailedBy, SessionFailure};
use crate::frames::{received_tid, write_traced};
use crate::gaps::GapBudget;
use crate::message::OutgoingMessage;
use crate::{MessageHandle, MessageId, Role, SessionKey};

use receive::{Receiving, refuse};
use send::{Sending, UNINTERRUPTIBLE_MAX};

pub(crate) use receive::Route;
pub use send::SendError;
pub(crate) use send::{OpenChunk, Piece};

/// Where a session's output goes while the connection drives it.
pub(crate) struct Ctx<'a> {
    pub(crate) key: SessionKey,
    pub(crate) events: &'a mut VecDeque<ConnectionEvent>,
    pub(crate) control: &'a mut BytesMut,
    /// Scratch space, shared by the sessions of a connection.
    pub(crate) work: &'a mut Vec<u8>,
    /// The budget of bytes beyond gaps that the connection's sessions share with others.
    pub(crate) gaps: Option<&'a GapBudget>,
}

impl Ctx<'_> {
    /// Emits an event of this session.
    #[inline]
    fn emit(&mut self, event: Event) {
        self.events
            .push_back(ConnectionEvent::Session(self.key, event));
    }
}

/// What the states of sending and receiving borrow from their session while they work: its
/// configuration, whose random source they draw from, and the template its requests are written
/// with.
struct Env<'a> {
    config: &'a mut SessionConfig,
    template: &'a HeadTemplate,
}

impl Env<'_> {
    /// The same borrows, lent for one call.
    #[inline]
    fn reborrow(&mut self) -> Env<'_> {
        Env {
            config: &mut *self.config,
            template: self.template,
        }
    }
}

/// One MSRP session: the state machines for the messages it sends and receives.
///
/// A session lives on a [`Connection`](crate::Connection), which feeds it the frames addressed
/// to it and writes what it sends; the application drives it through the connection. It can be
/// moved between connections with [`Connection::take_session`](crate::Connection::take_session)
/// and [`Connection::insert_session`](crate::Connection::insert_session).
pub struct Session {
    config: SessionConfig,
    /// The lines its SENDs and REPORTs begin with: the peer's path as To-Path, the local URI as
    /// From-Path. A template holds only paths that the decoder reads back as themselves, so a
    /// received path header that is exactly one of them is known valid without being read
    /// again ([`PathHeader::Expected`]).
    template: HeadTemplate,
    failed: bool,
    /// Whether the memory of the last burst was given back since the last activity.
    released: bool,
    /// Whether the bodiless SEND of an active endpoint is still to be written.
    bind_pending: bool,
    /// That bodiless SEND, written and awaiting its response: its transaction id and deadline.
    bind: Option<(TransactionId, Instant)>,
    next_handle: u64,
    next_incoming: u64,
    /// The state of sending, made with the first message and dropped when the session has been
    /// quiet for a while, so that an idle session holds none.
    sending: Option<Box<Sending>>,
    /// The state of receiving, likewise.
    receiving: Option<Box<Receiving>>,
    /// The last time the session did anything.
    last_activity: Option<Instant>,
}

/// A path header of a received request, read once.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PathHeader<'a> {
    /// Exactly the path the session expects there: its local URI in a To-Path, the peer's
    /// path in a From-Path.
    Expected,
    /// A list of URIs as received (checked by the decoder's accessors).
    List(UriList<'a>),
}

/// The path headers of a received request, as far as routing read them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Paths<'a> {
    /// The To-Path, which routed the request here.
    pub(crate) to: PathHeader<'a>,
    /// Whether the From-Path is known to be exactly the peer's path; otherwise it is read
    /// when needed.
    pub(crate) from_expected: bool,
}

impl<'a> Paths<'a> {
    /// Paths that routing read as `to`, and nothing else.
    pub(crate) fn to(to: PathHeader<'a>) -> Self {
        Self {
            to,
            from_expected: false,
        }
    }
}

/// Where a response to a SEND with this From-Path goes. RFC 4975 §7.2: "If the request
/// triggering the response was a SEND request, the To-Path header field is formed by copying the
/// first (leftmost) URI in the From-Path header field of the request."
#[inline]
fn reply_to<'a>(template: &'a HeadTemplate, from_path: PathHeader<'a>) -> UriList<'a> {
    match from_path {
        PathHeader::Expected => template.next_hop(),
        PathHeader::List(list) => list.first(),
    }
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.session_id())
            .field("failed", &self.failed)
            .field("sending", &self.messages_in_flight())
            .field("receiving", &self.messages_receiving())
            .field(
                "transactions",
                &self.sending.as_ref().map_or(0, |t| t.transaction_count()),
            )
            .finish_non_exhaustive()
    }
}

/// Why a session could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The local URI has no session-id, so no request could be routed to the session.
    NoSessionId,
    /// The quantum is below 2048 bytes, or a fixed chunk size is zero.
    Chunking,
    /// The local URI or the peer's path cannot be written in a header.
    Path,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NoSessionId => "the local URI has no session-id",
            Self::Chunking => "the quantum must be at least 2048 bytes and chunks non-empty",
            Self::Path => "the local URI or the peer's path cannot be written in a header",
        })
    }
}

impl std::error::Error for ConfigError {}

/// The type and subtype of a content type, without its parameters.
#[inline]
fn media_type(content_type: &str) -> (&str, &str) {
    let end = content_type
        .bytes()
        .position(|b| b == b';')
        .unwrap_or(content_type.len());
    let essence = content_type[..end].trim();
    match essence.bytes().position(|b| b == b'/') {
        Some(slash) => (&essence[..slash], &essence[slash + 1..]),
        None => (essence, ""),
    }
}

/// 16 bytes of `random`, for a transaction id.
#[inline]
fn draw_tid_random(random: &mut dyn Random) -> [u8; 16] {
    let mut r = [0u8; 16];
    random.fill(&mut r);
    r
}

/// A transaction id from 16 bytes of `random`.
#[inline]
fn draw_tid(random: &mut dyn Random) -> TransactionId {
    TransactionId::from_random(draw_tid_random(random))
}

/// The two halves of 32 random bytes.
#[inline]
fn halves(r: [u8; 32]) -> ([u8; 16], [u8; 16]) {
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    a.copy_from_slice(&r[..16]);
    b.copy_from_slice(&r[16..]);
    (a, b)
}

impl Session {
    /// Creates a session from its configuration.
    pub fn new(config: SessionConfig) -> Result<Self, ConfigError> {
        if config.local_uri.session_id().is_none() {
            return Err(ConfigError::NoSessionId);
        }
        if config.quantum < UNINTERRUPTIBLE_MAX || config.chunking == Chunking::Fixed(0) {
            return Err(ConfigError::Chunking);
        }
        let template = HeadTemplate::new(&config.peer_path.to_string(), config.local_uri.as_str())
            .map_err(|_| ConfigError::Path)?;
        Ok(Self {
            template,
            failed: false,
            released: true,
            bind_pending: config.role == Role::Active,
            bind: None,
            next_handle: 0,
            next_incoming: 0,
            sending: None,
            receiving: None,
            last_activity: None,
            config,
        })
    }

    /// Sends its requests along `to_path` from now on: the peer's path behind the Use-Path of
    /// the session's relays (RFC 4976 §5.1: "the client takes the list of URIs in the Use-Path
    /// header after the outermost authentication and appends the list of URIs provided in the
    /// path attribute in the peer's session description").
    pub(crate) fn set_to_path(&mut self, to_path: Path) -> Result<(), ConfigError> {
        self.template = HeadTemplate::new(&to_path.to_string(), self.config.local_uri.as_str())
            .map_err(|_| ConfigError::Path)?;
        self.config.peer_path = to_path;
        Ok(())
    }

    /// The session's source of random bytes.
    pub(crate) fn random(&mut self) -> &mut dyn Random {
        &mut *self.config.random
    }

    /// The session-id of the local URI, which routes requests to this session.
    pub fn session_id(&self) -> &str {
        self.config.local_uri.session_id().unwrap_or_default()
    }

    /// The local URI, as written in the session's From-Path.
    pub(crate) fn local(&self) -> &str {
        self.template.from_path().as_str()
    }

    /// Reads the path headers of a received frame in one pass, for the paths this session
    /// expects: `None` unless its only To-Path is exactly the local URI; then whether its only
    /// From-Path is exactly the peer's path.
    ///
    /// The template holds only paths that the decoder reads back as themselves, so this is what
    /// reading the headers with the decoder's accessors and comparing the lists would say: the
    /// accessors refuse a repeated header, and check what the expected paths are known to pass.
    pub(crate) fn expected_paths(&self, head: &Head) -> Option<bool> {
        let (local, peer) = (
            self.template.from_path().as_str().as_bytes(),
            self.template.to_path().as_str().as_bytes(),
        );
        let (mut to, mut from) = (false, Some(false));
        for header in head.headers() {
            match header.name {
                HeaderName::ToPath if to || header.value != local => return None,
                HeaderName::ToPath => to = true,
                HeaderName::FromPath => {
                    from = (from == Some(false) && header.value == peer).then_some(true);
                }
                _ => {}
            }
        }
        to.then_some(from == Some(true))
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether the session has failed or was closed.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Messages queued or in flight (sent but without an outcome yet).
    pub fn messages_in_flight(&self) -> usize {
        self.sending.as_ref().map_or(0, |t| t.messages())
    }

    /// Messages being received.
    pub fn messages_receiving(&self) -> usize {
        self.receiving.as_ref().map_or(0, |r| r.messages())
    }

    /// Bytes held for incoming messages delivered whole (bounded by
    /// [`Limits::max_buffered_bytes`](crate::Limits::max_buffered_bytes)).
    pub fn buffered_bytes(&self) -> usize {
        self.receiving.as_ref().map_or(0, |r| r.buffered())
    }

    /// Bytes received beyond the first gap of incoming messages delivered in pieces (bounded
    /// by [`Limits::max_gap_bytes`](crate::Limits::max_gap_bytes)).
    pub fn gap_bytes(&self) -> u64 {
        self.receiving.as_ref().map_or(0, |r| r.gap_bytes())
    }

    /// The session's configuration and template, lent to the state of sending or receiving.
    fn env(&mut self) -> Env<'_> {
        Env {
            config: &mut self.config,
            template: &self.template,
        }
    }

    /// The state of sending, if there is one, with what it borrows from the session.
    #[inline]
    fn sending(&mut self) -> Option<(&mut Sending, Env<'_>)> {
        let Self {
            config,
            template,
            sending,
            ..
        } = self;
        Some((sending.as_deref_mut()?, Env { config, template }))
    }

    /// The state of receiving, if there is one, with what it borrows from the session.
    #[inline]
    fn receiving(&mut self) -> Option<(&mut Receiving, Env<'_>)> {
        let Self {
            config,
            template,
            receiving,
            ..
        } = self;
        Some((receiving.as_deref_mut()?, Env { config, template }))
    }

    // ---------------------------------------------------------------------------------------
    // Sending: the entry points, which hand the work to the state of sending.
    // ---------------------------------------------------------------------------------------

    /// Queues a message; see [`Connection::send`](crate::Connection::send).
    pub(crate) fn send(&mut self, msg: OutgoingMessage) -> Result<MessageHandle, SendError> {
        if self.failed {
            return Err(SendError::SessionFailed);
        }
        let checked = Sending::check(self.sending.as_deref(), &self.config, msg)?;
        let handle = self.next_handle;
        self.next_handle += 1;
        self.sending.get_or_insert_with(Box::default).queue(
            &mut *self.config.random,
            handle,
            checked,
        );
        self.bind_pending = false;
        Ok(MessageHandle(handle))
    }

    /// Whether a message waits for its turn on the connection.
    pub(crate) fn has_ready(&self) -> bool {
        self.sending.as_ref().is_some_and(|t| t.has_ready())
    }

    /// The next message to write, removed from the queue.
    pub(crate) fn pop_ready(&mut self) -> Option<u64> {
        self.sending.as_deref_mut()?.pop_ready()
    }

    /// Puts a message back at the end of the queue after its turn.
    pub(crate) fn requeue(&mut self, handle: u64) {
        if let Some(tx) = self.sending.as_deref_mut() {
            tx.requeue(handle);
        }
    }

    /// Whether the bodiless SEND of an active endpoint is still to be written.
    pub(crate) fn wants_bind(&self) -> bool {
        self.bind_pending && !self.failed
    }

    /// Writes the bodiless SEND of an active endpoint (RFC 4975 §5.4: "the active endpoint MUST
    /// immediately issue a SEND request").
    pub(crate) fn write_bind(&mut self, now: Instant, out: &mut BytesMut) {
        self.bind_pending = false;
        let mut r = [0u8; 32];
        self.config.random.fill(&mut r);
        let (tid_random, id_random) = halves(r);
        let tid = TransactionId::from_random(tid_random);
        let head = SendHead {
            message_id: &MessageId::from_random(id_random),
            success_report: SuccessReport::No,
            failure_report: FailureReport::Yes,
            // RFC 4975 §7.1.1: "a Byte-Range header field referring to nonexistent or
            // zero-length content MUST still have a range-start value of 1".
            byte_range: ByteRange {
                start: 1,
                end: Some(0),
                total: Some(0),
            },
            headers: &MessageHeaders::default(),
        };
        write_traced(out, |out| self.template.encode_send(out, &tid, &head));
        // RFC 4975 §7.1.1: "If a 200 response to the transaction is not received within 30
        // seconds from the time the last byte of the transaction is sent, or submitted to the
        // operating system for sending, the element MUST inform the user".
        self.bind = Some((tid, now + self.config.transaction_timeout));
    }

    /// Starts a chunk of message `handle`: writes its head into `out`. Returns `None` when
    /// nothing stays open: the message is gone, or was bodiless and is written whole.
    pub(crate) fn start_chunk(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Instant,
        handle: u64,
        out: &mut BytesMut,
    ) -> Option<OpenChunk> {
        self.touch(now);
        let bind = self.bind.map(|(t, _)| t);
        let (tx, env) = self.sending()?;
        let open = tx.start_chunk(ctx, env, bind, now, handle, out);
        self.compact_timers();
        open
    }

    /// The next piece of an open chunk, at most `max` bytes.
    pub(crate) fn next_piece(&mut self, ctx: &mut Ctx<'_>, open: &OpenChunk, max: usize) -> Piece {
        match self.sending.as_deref_mut() {
            Some(tx) => tx.next_piece(ctx, open, max),
            // RFC 4975 §10.5: "If the sender receives the 413 while in the process of sending
            // a chunk, and the chunk is interruptible, the sender MUST interrupt it."
            None => Piece::End(Flag::Aborted),
        }
    }

    /// Writes an end-line for an open chunk.
    pub(crate) fn end_chunk(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Instant,
        open: &OpenChunk,
        flag: Flag,
        out: &mut BytesMut,
    ) {
        msrp_wire::end_line(out, &open.tid, flag);
        if let Some(tx) = self.sending.as_deref_mut() {
            tx.end_chunk(ctx, &self.config, now, open, flag);
        }
        self.compact_timers();
    }

    /// Aborts a message; see [`Connection::abort`](crate::Connection::abort). `open` says
    /// whether a chunk of it is open on the connection (which then ends it with `#`).
    pub(crate) fn abort(&mut self, ctx: &mut Ctx<'_>, handle: u64, open: bool) -> bool {
        self.sending()
            .is_some_and(|(tx, env)| tx.abort(ctx, env, handle, open))
    }

    // ---------------------------------------------------------------------------------------
    // Receiving: routing checks, then the state of receiving, of sending (for responses and
    // REPORTs), or an answer.
    // ---------------------------------------------------------------------------------------

    /// Handles a whole frame addressed to this session; `paths` are its path headers as far as
    /// routing read them.
    pub(crate) fn handle_frame(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Instant,
        frame: &Frame,
        paths: Paths<'_>,
    ) {
        self.touch(now);
        match frame.method() {
            None => self.handle_response(ctx, now, frame),
            Some(Method::Send) => {
                let mut body = frame.body_bytes();
                let mut route = self.receive_head(
                    ctx,
                    now,
                    frame.head(),
                    paths,
                    Some((frame.flag(), &mut body)),
                );
                if let Some(data) = body {
                    if !data.is_empty() {
                        self.receive_data(ctx, now, &mut route, data);
                    }
                }
                self.receive_end(ctx, now, frame.head(), route, frame.flag());
            }
            Some(Method::Report) => self.handle_report(ctx, now, frame.head(), paths.to),
            Some(_) => self.handle_other(ctx, frame.head()),
        }
    }

    /// Handles the head of a request whose body is streamed; the returned route says where the
    /// body pieces go.
    pub(crate) fn handle_head(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Instant,
        head: &Head,
        paths: Paths<'_>,
    ) -> Route {
        self.touch(now);
        match head.method() {
            Some(Method::Send) => self.receive_head(ctx, now, head, paths, None),
            Some(Method::Report) => {
                self.handle_report(ctx, now, head, paths.to);
                Route::Discard
            }
            Some(_) => {
                self.handle_other(ctx, head);
                Route::Discard
            }
            // A response never has a body; the decoder refuses one.
            None => Route::Discard,
        }
    }

    /// Answers a request of a method this endpoint does not implement.
    fn handle_other(&mut self, ctx: &mut Ctx<'_>, head: &Head) {
        // RFC 4975 §10.9: "A 501 response indicates that the recipient does not understand the
        // request method." RFC 4975 §7.2: the endpoint "MUST immediately generate a response"
        // unless Failure-Report is "no".
        let fr = head.failure_report().ok().flatten().unwrap_or_default();
        refuse(ctx, &self.template, head, StatusCode::NOT_IMPLEMENTED, fr);
    }

    /// Whether the To-Path names this session: RFC 4975 §7.3: "the To-Path will have exactly
    /// one URI, which MUST map to an existing session". `None` when its URI is malformed.
    fn is_for_us(&self, to_path: PathHeader<'_>) -> Option<bool> {
        let PathHeader::List(to_path) = to_path else {
            return Some(true);
        };
        self.is_named_by(to_path.as_str())
    }

    /// Whether a To-Path, as a request carries it, names this session: one URI that is the
    /// session's own by the rules of RFC 4975 §6.1. `None` when the URI is malformed.
    pub(crate) fn is_named_by(&self, to_path: &str) -> Option<bool> {
        if to_path == self.local() {
            return Some(true);
        }
        if to_path.contains(' ') {
            return Some(false);
        }
        MsrpUri::parse(to_path)
            .ok()
            .map(|uri| uri.matches(&self.config.local_uri))
    }

    /// Whether the original sender in From-Path is the peer. `None` when its URI is malformed.
    fn is_from_peer(&self, from_path: PathHeader<'_>) -> Option<bool> {
        // The peer's path ends with the peer.
        let PathHeader::List(from_path) = from_path else {
            return Some(true);
        };
        let sender = from_path.as_str().rsplit(' ').next()?;
        let peer = self.config.peer_path.last();
        if self.config.from_path_check == FromPathCheck::Off || sender == peer.as_str() {
            return Some(true);
        }
        let uri = MsrpUri::parse(sender).ok()?;
        Some(match self.config.from_path_check {
            FromPathCheck::SessionId => {
                uri.session_id().is_some() && uri.session_id() == peer.session_id()
            }
            _ => uri.matches(peer),
        })
    }

    /// Checks where a request comes from and goes to: its From-Path, read once, when it is for
    /// this session and from its peer; otherwise the code to refuse it with.
    fn check_route<'a>(
        &self,
        head: &'a Head,
        paths: Paths<'a>,
    ) -> Result<PathHeader<'a>, StatusCode> {
        // RFC 4975 §7.3: "If this is not true, then the receiver MUST generate a 481 error and
        // ignore the request."
        match self.is_for_us(paths.to) {
            Some(true) => {}
            Some(false) => return Err(StatusCode::NO_SUCH_SESSION),
            None => return Err(StatusCode::BAD_REQUEST),
        }
        let from_path = if paths.from_expected {
            PathHeader::Expected
        } else {
            match head.from_path() {
                Ok(Some(list)) => PathHeader::List(list),
                _ => return Err(StatusCode::BAD_REQUEST),
            }
        };
        match self.is_from_peer(from_path) {
            Some(true) => Ok(from_path),
            Some(false) => Err(StatusCode::FORBIDDEN),
            None => Err(StatusCode::BAD_REQUEST),
        }
    }

    /// Checks a SEND and decides where its body goes: nowhere when it is refused, to no state
    /// when it is bodiless and carries no message, otherwise to the state of receiving.
    fn receive_head(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Instant,
        head: &Head,
        paths: Paths<'_>,
        whole: Option<(Flag, &mut Option<Bytes>)>,
    ) -> Route {
        // An unreadable Failure-Report is answered as if it were "yes", the default.
        let fr = head.failure_report();
        let fr_mode = fr.ok().flatten().unwrap_or_default();
        let from_path = match self.check_route(head, paths) {
            Ok(from_path) => from_path,
            Err(code) => return refuse(ctx, &self.template, head, code, fr_mode),
        };
        let chunk = match receive::Chunk::read(head, from_path, fr, &self.config) {
            Ok(chunk) => chunk,
            Err(code) => return refuse(ctx, &self.template, head, code, fr_mode),
        };
        if !head.has_body() {
            let receiving = self.receiving.as_deref().map(|r| {
                let digest = r.digest(&chunk.message_id);
                (digest, r.is_receiving(&chunk.message_id, digest))
            });
            if !receiving.is_some_and(|(_, receiving)| receiving) {
                // A bodiless SEND (such as the first SEND of an active endpoint) carries no
                // message; it is acknowledged and, if asked, reported. Without state of
                // receiving no message matches its digest, which only such state can make.
                if chunk.success_report {
                    report::report_success(ctx, self.env(), from_path, &chunk.message_id, 0);
                }
                let digest = receiving.map_or(0, |(digest, _)| digest);
                return Route::deliver(&chunk, digest);
            }
        }
        let Self {
            config,
            template,
            receiving,
            next_incoming,
            ..
        } = self;
        receiving.get_or_insert_with(Box::default).receive_head(
            ctx,
            Env { config, template },
            now,
            &chunk,
            whole,
            next_incoming,
        )
    }

    /// Takes body bytes of a SEND being received.
    pub(crate) fn receive_data(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Instant,
        route: &mut Route,
        data: Bytes,
    ) {
        self.touch(now);
        let Some(range) = route.advance(data.len()) else {
            return;
        };
        if let Some((rx, env)) = self.receiving() {
            rx.receive_data(ctx, env, now, route, range, data);
        }
    }

    /// Ends a SEND being received: answers it, and completes or aborts its message.
    pub(crate) fn receive_end(
        &mut self,
        ctx: &mut Ctx<'_>,
        _now: Instant,
        head: &Head,
        route: Route,
        flag: Flag,
    ) {
        let Route::Deliver {
            digest,
            from_expected,
            offset,
            failure_report,
            answered,
            done,
            ..
        } = route
        else {
            return;
        };
        // RFC 4975 §7.2: "if an MSRP endpoint receives a request that either contains a
        // Failure-Report header field value of "yes" or does not contain a Failure-Report
        // header field at all, it MUST immediately generate a response." RFC 4975 §7.1.4: with
        // "partial", "it MUST NOT send a 200 transaction response".
        if failure_report == FailureReport::Yes && !answered {
            if from_expected {
                // Routing found the From-Path to be the peer's path: no need to read it again.
                receive::acknowledge(ctx, &self.template, head, PathHeader::Expected);
            } else {
                receive::respond(ctx, &self.template, head, StatusCode::OK);
            }
        }
        if done {
            return;
        }
        if let Some((rx, env)) = self.receiving() {
            rx.receive_end(ctx, env, digest, offset, flag);
        }
    }

    /// Handles a REPORT: one about a message this session sent goes to the state of sending.
    /// REPORTs are never answered (RFC 4975 §7.1.2: "MSRP nodes MUST NOT send MSRP responses
    /// to REPORT requests").
    fn handle_report(
        &mut self,
        ctx: &mut Ctx<'_>,
        _now: Instant,
        head: &Head,
        to_path: PathHeader<'_>,
    ) {
        if self.is_for_us(to_path) != Some(true) {
            return;
        }
        let failure = self
            .sending
            .as_deref_mut()
            .and_then(|tx| tx.handle_report(ctx, head));
        if let Some(code) = failure {
            self.fail_session(ctx, SessionFailure::Rejected(code), FailedBy::SessionFailed);
        }
    }

    /// Handles a response to a transaction of this session: the bodiless SEND of an active
    /// endpoint here, a chunk's in the state of sending.
    fn handle_response(&mut self, ctx: &mut Ctx<'_>, _now: Instant, frame: &Frame) {
        let tid = received_tid(frame.head());
        if self.bind.is_some_and(|(bind, _)| bind.as_bytes() == tid) {
            // The bodiless SEND of an active endpoint.
            self.bind = None;
            let Some(code) = frame.status_code() else {
                return;
            };
            if code == StatusCode::NO_SUCH_SESSION || code == StatusCode::WRONG_CONNECTION {
                self.fail_session(ctx, SessionFailure::Rejected(code), FailedBy::SessionFailed);
            }
            return;
        }
        let fatal = self
            .sending
            .as_deref_mut()
            .and_then(|tx| tx.handle_response(ctx, tid, frame));
        // RFC 4975 §10.8: "A 481 response indicates that the indicated session does not exist.
        // The sender should terminate the session." §10.10: 506 means "The sender should cease
        // sending messages for that session on this connection."
        if let Some(code) = fatal {
            self.fail_session(ctx, SessionFailure::Rejected(code), FailedBy::SessionFailed);
        }
    }

    // ---------------------------------------------------------------------------------------
    // The end of the session.
    // ---------------------------------------------------------------------------------------

    /// Fails the session: every message in flight fails with `by`, every message being
    /// received ends, and [`Event::SessionFailed`] is emitted.
    pub(crate) fn fail_session(&mut self, ctx: &mut Ctx<'_>, why: SessionFailure, by: FailedBy) {
        let status = match &why {
            SessionFailure::Rejected(code) => Some(*code),
            SessionFailure::BindTimeout => Some(StatusCode::REQUEST_TIMEOUT),
            _ => None,
        };
        if self.end(ctx, status, by) {
            ctx.emit(Event::SessionFailed(why));
        }
    }

    /// Closes the session: messages without an outcome fail with
    /// [`FailedBy::SessionClosed`].
    pub(crate) fn close(&mut self, ctx: &mut Ctx<'_>) {
        // RFC 4975 §7.1.1: "if the success report has not been received by the time the
        // session is ended, the device SHOULD inform the user."
        self.end(ctx, None, FailedBy::SessionClosed);
    }

    /// Ends the session once: every message in flight fails with `status` and `by`, every
    /// message being received ends, and all state is dropped. `false` when it had already
    /// ended.
    fn end(&mut self, ctx: &mut Ctx<'_>, status: Option<StatusCode>, by: FailedBy) -> bool {
        if self.failed {
            return false;
        }
        self.failed = true;
        if let Some(tx) = self.sending.as_deref_mut() {
            tx.fail_all(ctx, status, by);
        }
        if let Some(rx) = self.receiving.as_deref_mut() {
            rx.end(ctx);
        }
        // Every message has its outcome: nothing of sending remains but spare capacity and
        // transactions whose responses no longer matter.
        self.sending = None;
        self.bind = None;
        true
    }

    /// Whether nothing remains to send or to wait for.
    pub(crate) fn is_idle(&self) -> bool {
        self.bind.is_none() && self.sending.as_ref().is_none_or(|t| t.is_idle())
    }
}
