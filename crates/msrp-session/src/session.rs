//! One MSRP session: what it sends, what it receives, and what it reports.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use msrp_uri::MsrpUri;
use msrp_wire::{
    FailureReport, Flag, Frame, Head, Method, StatusCode, SuccessReport, TransactionId,
    choose_transaction_id, find_end_line,
};

use crate::config::{Chunking, FromPathCheck, SessionConfig};
use crate::event::{
    ConnectionEvent, Delivered, Event, FailedBy, Failure, IncomingFailure, Message, MessageData,
    MessageEnd, MessageStart, Outcome, SessionFailure,
};
use crate::frames::{
    ChunkHead, Report, write_chunk_end, write_chunk_head, write_report, write_response,
};
use crate::message::{Body, BodySource, OutgoingMessage};
use crate::ranges::RangeSet;
use crate::timer::Timers;
use crate::{IncomingKey, MessageHandle, MessageId, SessionKey};

/// Bytes read from a body source at a time.
const READ_SIZE: usize = 64 << 10;
/// Message-IDs refused with 413 that are remembered, so later chunks get 413 too.
const REFUSED_MEMORY: usize = 64;
/// Quiet time after which a session gives back the memory its bursts left in its tables, and
/// forgets the Message-IDs of completed messages.
const IDLE_RELEASE: Duration = Duration::from_secs(30);
/// Message-IDs of completed messages that are remembered, so that duplicate chunks are
/// acknowledged without delivering the message twice.
const COMPLETED_MEMORY: usize = 256;
/// RFC 4975 §7.1.1: "senders MUST NOT send chunks with a body larger than 2048 octets unless
/// they are prepared to interrupt them".
const UNINTERRUPTIBLE_MAX: usize = 2048;

/// Why a message could not be queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The session has failed or was closed.
    SessionFailed,
    /// The peer's accept-types do not list the content type (RFC 4975 §8.6: "An MSRP endpoint
    /// MUST NOT send content of a type not signaled by the peer").
    NotAccepted,
    /// The message is larger than the peer's max-size (RFC 4975 §8.6: "Senders SHOULD NOT
    /// exceed the max-size limit").
    TooLarge,
    /// The content type or an added header cannot be encoded, or names a header the session
    /// writes itself.
    InvalidHeader,
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::SessionFailed => "the session has failed",
            Self::NotAccepted => "the peer does not accept this content type",
            Self::TooLarge => "the message is larger than the peer accepts",
            Self::InvalidHeader => "invalid content type or header",
        })
    }
}

impl std::error::Error for SendError {}

/// Where a session's output goes while the connection drives it.
pub(crate) struct Ctx<'a> {
    pub(crate) key: SessionKey,
    pub(crate) events: &'a mut VecDeque<ConnectionEvent>,
    pub(crate) control: &'a mut BytesMut,
}

impl Ctx<'_> {
    fn emit(&mut self, event: Event) {
        self.events
            .push_back(ConnectionEvent::Session(self.key, event));
    }
}

/// A queue of body pieces that holds its first piece inline, so that a message with its body
/// in memory queues it without an allocation.
#[derive(Default)]
struct Pieces {
    first: Option<Bytes>,
    rest: VecDeque<Bytes>,
}

impl Pieces {
    fn push_back(&mut self, piece: Bytes) {
        if self.first.is_none() {
            self.first = Some(piece);
        } else {
            self.rest.push_back(piece);
        }
    }

    fn front(&self) -> Option<&Bytes> {
        self.first.as_ref()
    }

    fn front_mut(&mut self) -> Option<&mut Bytes> {
        self.first.as_mut()
    }

    fn pop_front(&mut self) {
        self.first = self.rest.pop_front();
    }

    fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.first.iter().chain(self.rest.iter())
    }
}

/// The body of a message being sent: pieces read ahead, and the source if there is one.
struct OutBody {
    pieces: Pieces,
    buffered: usize,
    source: Option<Box<dyn BodySource>>,
    eof: bool,
}

impl OutBody {
    fn new(body: Body) -> (Self, bool) {
        let mut pieces = Pieces::default();
        let (source, bodiless) = match body {
            Body::None => (None, true),
            Body::Bytes(b) => {
                if !b.is_empty() {
                    pieces.push_back(b);
                }
                (None, false)
            }
            Body::Source(s) => (Some(s), false),
        };
        let buffered = pieces.iter().map(Bytes::len).sum();
        let eof = source.is_none();
        (
            Self {
                pieces,
                buffered,
                source,
                eof,
            },
            bodiless,
        )
    }

    /// Reads from the source until `want` bytes are buffered or it ends.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        while self.buffered < want && !self.eof {
            let Some(source) = self.source.as_mut() else {
                self.eof = true;
                break;
            };
            let piece = source.read(READ_SIZE.max(want - self.buffered))?;
            if piece.is_empty() {
                self.eof = true;
            } else {
                self.buffered += piece.len();
                self.pieces.push_back(piece);
            }
        }
        Ok(())
    }

    /// Copies up to `n` buffered bytes from offset `from` into `out`.
    fn peek_into(&self, from: usize, n: usize, out: &mut Vec<u8>) {
        let mut skip = from;
        let mut left = n;
        for piece in self.pieces.iter() {
            if left == 0 {
                break;
            }
            if skip >= piece.len() {
                skip -= piece.len();
                continue;
            }
            let take = (piece.len() - skip).min(left);
            out.extend_from_slice(&piece[skip..skip + take]);
            left -= take;
            skip = 0;
        }
    }

    /// Removes the first `n` bytes (at most the first piece) and returns them without copying.
    fn take(&mut self, n: usize) -> Bytes {
        let Some(front) = self.pieces.front_mut() else {
            return Bytes::new();
        };
        let piece = front.split_to(n.min(front.len()));
        if front.is_empty() {
            self.pieces.pop_front();
        }
        self.buffered -= piece.len();
        piece
    }
}

/// A message being sent.
struct Outgoing {
    message_id: MessageId,
    content_type: Cow<'static, str>,
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    success_report: bool,
    failure_report: FailureReport,
    body: OutBody,
    bodiless: bool,
    total: Option<u64>,
    /// Bytes handed to the connection.
    sent: u64,
    /// The chunk with `$` was written.
    all_sent: bool,
    /// Chunks awaiting their 200.
    outstanding: u32,
    /// Byte ranges (from zero) confirmed by success REPORTs.
    reported: RangeSet,
    /// The end-line of the open chunk occurs ahead in the body: end the chunk first.
    cut: bool,
}

/// A chunk of a message being written, open on the connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpenChunk {
    pub(crate) handle: u64,
    pub(crate) tid: TransactionId,
    /// Body bytes written in this chunk.
    pub(crate) written: u64,
    /// For fixed chunking: the chunk's length.
    pub(crate) limit: Option<u64>,
}

/// What to do next with an open chunk.
pub(crate) enum Piece {
    /// Write these body bytes.
    Data(Bytes),
    /// End the chunk with this flag.
    End(Flag),
}

/// A transaction awaiting its response.
#[derive(Clone, Copy, Debug)]
struct Tx {
    /// The message, or `None` for the bodiless SEND that binds the connection.
    handle: Option<u64>,
    /// Whether a 200 is expected (Failure-Report `yes`); otherwise only errors may come.
    expects_ok: bool,
}

/// How chunks of a message being received are delivered.
enum Delivery {
    /// Into a buffer of the announced total, delivered whole when complete.
    Whole(Vec<u8>),
    /// As data events at their offsets.
    Pieces,
}

/// A message being received.
struct Incoming {
    key: u64,
    /// The head of the latest chunk: its From-Path addresses REPORTs.
    head: Head,
    total: Option<u64>,
    received: RangeSet,
    delivery: Delivery,
    success_report: bool,
    failure_report: FailureReport,
    /// When it is dropped if no data arrives.
    deadline: Instant,
    /// Whether `total` was set by the chunk that ended with `$`, rather than announced.
    final_total: bool,
}

/// Where the body of a SEND being received goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Route {
    /// Into the incoming message `message_id`, at `offset` (from zero) for the next byte.
    Deliver {
        message_id: MessageId,
        offset: u64,
        failure_report: FailureReport,
        /// Whether an error response was already sent for this chunk.
        answered: bool,
        /// Whether the body is delivered already (or a duplicate): only the response is due.
        done: bool,
    },
    /// Nowhere: the request was refused or answered already.
    Discard,
}

/// One MSRP session: the state machines for the messages it sends and receives.
///
/// A session lives on a [`Connection`](crate::Connection), which feeds it the frames addressed
/// to it and writes what it sends; the application drives it through the connection. It can be
/// moved between connections with [`Connection::take_session`](crate::Connection::take_session)
/// and [`Connection::insert_session`](crate::Connection::insert_session).
pub struct Session {
    config: SessionConfig,
    session_id: Box<str>,
    local: Box<str>,
    peer_path: Box<str>,
    failed: bool,
    scratch: String,
    scratch_bytes: Vec<u8>,
    trial: BytesMut,

    next_handle: u64,
    outgoing: HashMap<u64, Outgoing>,
    by_message_id: HashMap<MessageId, u64>,
    ready: VecDeque<u64>,
    transactions: HashMap<TransactionId, Tx>,
    tx_timers: Timers<TransactionId>,
    report_timers: Timers<u64>,
    bind_pending: bool,

    next_incoming: u64,
    incoming: HashMap<MessageId, Incoming>,
    incomplete_timers: Timers<MessageId>,
    buffered: usize,
    refused: VecDeque<MessageId>,
    completed: HashSet<MessageId>,
    completed_order: VecDeque<MessageId>,

    /// The last time the session did anything, and whether its memory was given back since.
    last_activity: Option<Instant>,
    released: bool,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.session_id)
            .field("failed", &self.failed)
            .field("sending", &self.outgoing.len())
            .field("receiving", &self.incoming.len())
            .field("transactions", &self.transactions.len())
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
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NoSessionId => "the local URI has no session-id",
            Self::Chunking => "the quantum must be at least 2048 bytes and chunks non-empty",
        })
    }
}

impl std::error::Error for ConfigError {}

fn media_type(content_type: &str) -> (&str, &str) {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.split_once('/').unwrap_or((essence, ""))
}

impl Session {
    /// Creates a session from its configuration.
    pub fn new(config: SessionConfig) -> Result<Self, ConfigError> {
        let session_id = config
            .local_uri
            .session_id()
            .ok_or(ConfigError::NoSessionId)?
            .into();
        if config.quantum < UNINTERRUPTIBLE_MAX || config.chunking == Chunking::Fixed(0) {
            return Err(ConfigError::Chunking);
        }
        Ok(Self {
            local: config.local_uri.as_str().into(),
            peer_path: config.peer_path.to_string().into(),
            session_id,
            failed: false,
            scratch: String::new(),
            scratch_bytes: Vec::new(),
            trial: BytesMut::new(),
            next_handle: 0,
            outgoing: HashMap::new(),
            by_message_id: HashMap::new(),
            ready: VecDeque::new(),
            transactions: HashMap::new(),
            tx_timers: Timers::new(),
            report_timers: Timers::new(),
            bind_pending: config.active,
            next_incoming: 0,
            incoming: HashMap::new(),
            incomplete_timers: Timers::new(),
            buffered: 0,
            refused: VecDeque::new(),
            completed: HashSet::new(),
            completed_order: VecDeque::new(),
            last_activity: None,
            released: true,
            config,
        })
    }

    /// The session-id of the local URI, which routes requests to this session.
    pub fn session_id(&self) -> &str {
        &self.session_id
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
        self.outgoing.len()
    }

    /// Messages being received.
    pub fn messages_receiving(&self) -> usize {
        self.incoming.len()
    }

    /// Bytes held for incoming messages delivered whole (bounded by
    /// [`Limits::max_buffered_bytes`](crate::Limits::max_buffered_bytes)).
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    fn random_tid(&mut self) -> TransactionId {
        let mut r = [0u8; 16];
        self.config.random.fill(&mut r);
        TransactionId::from_random(r)
    }

    // ---------------------------------------------------------------------------------------
    // Sending.
    // ---------------------------------------------------------------------------------------

    /// Queues a message; see [`Connection::send`](crate::Connection::send).
    pub(crate) fn send(&mut self, msg: OutgoingMessage) -> Result<MessageHandle, SendError> {
        if self.failed {
            return Err(SendError::SessionFailed);
        }
        let bodiless = matches!(msg.body, Body::None);
        if !bodiless {
            let (t, s) = media_type(&msg.content_type);
            if t.is_empty() || s.is_empty() {
                return Err(SendError::InvalidHeader);
            }
            // RFC 4975 §8.6: "An MSRP endpoint MUST NOT send content of a type not signaled by
            // the peer in either an accept-types or an accept-wrapped-types attribute.
            // Furthermore, it MUST NOT send a top-level (i.e., not wrapped) MIME document of a
            // type not signaled in the accept-types attribute."
            if let Some(accepted) = &self.config.peer_accept_types {
                if !accepted.iter().any(|e| e.matches(t, s)) {
                    return Err(SendError::NotAccepted);
                }
            }
        }
        if let (Some(max), Some(len)) = (self.config.peer_max_size, msg.len()) {
            if len > max {
                return Err(SendError::TooLarge);
            }
        }
        let reserved = [
            "to-path",
            "from-path",
            "message-id",
            "byte-range",
            "success-report",
            "failure-report",
            "content-type",
            "status",
        ];
        if msg
            .headers
            .iter()
            .any(|(n, _)| reserved.iter().any(|r| n.eq_ignore_ascii_case(r)))
        {
            return Err(SendError::InvalidHeader);
        }
        let message_id = match msg.message_id {
            Some(id) => id,
            None => {
                let mut r = [0u8; 16];
                self.config.random.fill(&mut r);
                MessageId::from_random(r)
            }
        };
        // Encode a head once now, so that a header the grammar refuses is reported here rather
        // than in the middle of the transfer.
        let tid = self.random_tid();
        self.trial.clear();
        let head = ChunkHead {
            to_path: &self.peer_path,
            from: &self.local,
            message_id: &message_id,
            success_report: msg.success_report,
            failure_report: msg.failure_report,
            range: (1, None, msg.len()),
            headers: &msg.headers,
            content_type: (!bodiless).then_some(&*msg.content_type),
        };
        write_chunk_head(&mut self.trial, &tid, &head, &mut self.scratch, false)
            .map_err(|_| SendError::InvalidHeader)?;

        let (body, bodiless) = OutBody::new(msg.body);
        let handle = self.next_handle;
        self.next_handle += 1;
        let total = match (&body.source, bodiless) {
            (Some(source), _) => source.total_len(),
            (None, true) => Some(0),
            (None, false) => Some(body.buffered as u64),
        };
        self.outgoing.insert(
            handle,
            Outgoing {
                message_id,
                content_type: msg.content_type,
                headers: msg.headers,
                success_report: msg.success_report,
                failure_report: msg.failure_report,
                body,
                bodiless,
                total,
                sent: 0,
                all_sent: false,
                outstanding: 0,
                reported: RangeSet::default(),
                cut: false,
            },
        );
        self.by_message_id.insert(message_id, handle);
        self.ready.push_back(handle);
        self.bind_pending = false;
        Ok(MessageHandle(handle))
    }

    /// Whether a message waits for its turn on the connection.
    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The next message to write, removed from the queue.
    pub(crate) fn pop_ready(&mut self) -> Option<u64> {
        while let Some(h) = self.ready.pop_front() {
            if self.outgoing.contains_key(&h) {
                return Some(h);
            }
        }
        None
    }

    /// Puts a message back at the end of the queue after its turn.
    pub(crate) fn requeue(&mut self, handle: u64) {
        if self.outgoing.contains_key(&handle) {
            self.ready.push_back(handle);
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
        let tid = self.random_tid();
        let mut r = [0u8; 16];
        self.config.random.fill(&mut r);
        let message_id = MessageId::from_random(r);
        let head = ChunkHead {
            to_path: &self.peer_path,
            from: &self.local,
            message_id: &message_id,
            success_report: false,
            failure_report: FailureReport::Yes,
            range: (1, Some(0), Some(0)),
            headers: &[],
            content_type: None,
        };
        if write_chunk_head(out, &tid, &head, &mut self.scratch, true).is_ok() {
            self.transactions.insert(
                tid,
                Tx {
                    handle: None,
                    expects_ok: true,
                },
            );
            self.tx_timers
                .push(now + self.config.transaction_timeout, tid);
        }
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
        let chunking = self.config.chunking;
        let m = self.outgoing.get_mut(&handle)?;
        m.cut = false;
        let start = m.sent + 1;
        // A chunk that states its range-end must not be cut short, so its id is chosen against
        // all of its bytes. Any other chunk may be cut where its end-line would occur, but it
        // must make progress: its id is chosen so that the body does not start with the
        // end-line.
        let stated = match chunking {
            Chunking::Fixed(size) if size <= UNINTERRUPTIBLE_MAX && !m.bodiless => Some(size),
            _ => None,
        };
        let check = stated.unwrap_or(7 + TransactionId::RANDOM_LEN + 1);
        if let Err(e) = m.body.fill(check) {
            let failure = source_failure(&e);
            self.fail(ctx, handle, failure);
            return None;
        }
        let len = check.min(m.body.buffered);
        self.scratch_bytes.clear();
        m.body.peek_into(0, len, &mut self.scratch_bytes);
        // RFC 4975 §7.1: "The transaction identifier MUST NOT collide with that of other
        // transactions that exist at the same time."
        let mut random = [0u8; 16 * 8];
        self.config.random.fill(&mut random);
        let transactions = &self.transactions;
        let mut candidates = random
            .chunks_exact(16)
            .map(|r| {
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(r);
                TransactionId::from_random(bytes)
            })
            .filter(|t| !transactions.contains_key(t));
        let chosen = choose_transaction_id(&self.scratch_bytes, 8, || {
            candidates
                .next()
                .unwrap_or_else(|| TransactionId::from_random([0; 16]))
        })
        .filter(|t| !transactions.contains_key(t));
        let Some(tid) = chosen else {
            let failure = Failure {
                status: None,
                by: FailedBy::Aborted,
                comment: Some(
                    "the random source gave no transaction id that is unused and absent from \
                     the body"
                        .into(),
                ),
            };
            self.fail(ctx, handle, failure);
            return None;
        };
        let m = self.outgoing.get_mut(&handle)?;
        let (limit, range_end) = match (chunking, stated) {
            // RFC 4975 §7.1.1: "a Byte-Range header field referring to nonexistent or
            // zero-length content MUST still have a range-start value of 1. For example,
            // "1-0/0"."
            _ if m.bodiless || m.total == Some(0) => (None, Some(0)),
            (_, Some(_)) => (Some(len as u64), Some(m.sent + len as u64)),
            (Chunking::Fixed(size), None) => (Some(size as u64), None),
            _ => (None, None),
        };
        let head = ChunkHead {
            to_path: &self.peer_path,
            from: &self.local,
            message_id: &m.message_id,
            success_report: m.success_report,
            failure_report: m.failure_report,
            range: (if m.bodiless { 1 } else { start }, range_end, m.total),
            headers: &m.headers,
            content_type: (!m.bodiless).then_some(&*m.content_type),
        };
        if write_chunk_head(out, &tid, &head, &mut self.scratch, true).is_err() {
            // The head was validated when the message was queued; this cannot happen, but a
            // message that cannot be encoded fails rather than stalls.
            let failure = Failure {
                status: None,
                by: FailedBy::Aborted,
                comment: Some("the chunk head could not be encoded".into()),
            };
            self.fail(ctx, handle, failure);
            return None;
        }
        // The transaction exists from its first byte: a response may come before its last, such
        // as a 413 that stops the message.
        if m.failure_report != FailureReport::No {
            let expects_ok = m.failure_report == FailureReport::Yes;
            self.transactions.insert(
                tid,
                Tx {
                    handle: Some(handle),
                    expects_ok,
                },
            );
            if expects_ok {
                m.outstanding += 1;
            }
        }
        if m.bodiless {
            self.finish_chunk(ctx, now, handle, tid, Flag::End);
            return None;
        }
        Some(OpenChunk {
            handle,
            tid,
            written: 0,
            limit,
        })
    }

    /// The next piece of an open chunk, at most `max` bytes.
    pub(crate) fn next_piece(&mut self, ctx: &mut Ctx<'_>, open: &OpenChunk, max: usize) -> Piece {
        let handle = open.handle;
        let Some(m) = self.outgoing.get_mut(&handle) else {
            // The message failed or was aborted while its chunk was open: RFC 4975 §10.5 "If
            // the sender receives the 413 while in the process of sending a chunk, and the
            // chunk is interruptible, the sender MUST interrupt it."
            return Piece::End(Flag::Aborted);
        };
        if m.cut {
            return Piece::End(Flag::Continued);
        }
        let fixed_left = open.limit.map(|l| (l - open.written) as usize);
        if fixed_left == Some(0) {
            return if m.body.buffered == 0 && m.body.eof {
                Piece::End(Flag::End)
            } else {
                Piece::End(Flag::Continued)
            };
        }
        let tid_len = open.tid.as_bytes().len();
        // An end-line that starts in this piece may end after it.
        let lookahead = 7 + tid_len + 1;
        let want = max.min(fixed_left.unwrap_or(usize::MAX)).max(1);
        if let Err(e) = m.body.fill(want.saturating_add(lookahead)) {
            let failure = source_failure(&e);
            self.fail(ctx, handle, failure);
            return Piece::End(Flag::Aborted);
        }
        let Some(front) = m.body.pieces.front() else {
            // The body has ended.
            return match m.total {
                Some(total) if total != m.sent => {
                    let failure = Failure {
                        status: None,
                        by: FailedBy::Source,
                        comment: Some(format!(
                            "the body source ended after {} of {total} bytes",
                            m.sent
                        )),
                    };
                    self.fail(ctx, handle, failure);
                    Piece::End(Flag::Aborted)
                }
                _ => Piece::End(Flag::End),
            };
        };
        let mut n = want.min(front.len());
        if m.total.is_some_and(|t| m.sent + n as u64 > t) {
            let failure = Failure {
                status: None,
                by: FailedBy::Source,
                comment: Some("the body source gave more bytes than it announced".into()),
            };
            self.fail(ctx, handle, failure);
            return Piece::End(Flag::Aborted);
        }
        // RFC 4975 §7.1: "the sender MUST ensure that the end-line ... is not present in the
        // body" and "Some implementations may choose to scan for the closing sequence as they
        // send the body, and if it is encountered, simply interrupt the chunk at that point".
        let hit = if front.len() >= n + lookahead - 1 {
            find_end_line(&front[..n + lookahead - 1], &open.tid)
        } else {
            self.scratch_bytes.clear();
            m.body
                .peek_into(0, n + lookahead - 1, &mut self.scratch_bytes);
            find_end_line(&self.scratch_bytes, &open.tid)
        };
        if let Some(p) = hit.filter(|&p| p < n) {
            n = p;
            m.cut = true;
            if n == 0 {
                return Piece::End(Flag::Continued);
            }
        }
        let piece = m.body.take(n);
        m.sent += piece.len() as u64;
        Piece::Data(piece)
    }

    /// Ends a chunk: registers its transaction, and settles the message when it was the last.
    pub(crate) fn finish_chunk(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Instant,
        handle: u64,
        tid: TransactionId,
        flag: Flag,
    ) {
        let Some(m) = self.outgoing.get_mut(&handle) else {
            return;
        };
        // RFC 4975 §7.1.1: "If a 200 response to the transaction is not received within 30
        // seconds from the time the last byte of the transaction is sent, or submitted to the
        // operating system for sending, the element MUST inform the user".
        if self.transactions.contains_key(&tid) {
            self.tx_timers
                .push(now + self.config.transaction_timeout, tid);
        }
        if flag == Flag::End {
            m.all_sent = true;
            if m.success_report {
                self.report_timers
                    .push(now + self.config.success_report_timeout, handle);
            }
            self.settle(ctx, handle);
        }
        self.compact_timers();
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
        write_chunk_end(out, &open.tid, flag);
        if flag == Flag::Aborted {
            // The message is over; a response to this chunk no longer matters.
            self.transactions.remove(&open.tid);
        } else {
            self.finish_chunk(ctx, now, open.handle, open.tid, flag);
        }
    }

    /// Emits the outcome of a message whose delivery is confirmed as far as it can be.
    fn settle(&mut self, ctx: &mut Ctx<'_>, handle: u64) {
        let Some(m) = self.outgoing.get(&handle) else {
            return;
        };
        let done =
            m.all_sent && m.outstanding == 0 && (!m.success_report || m.reported.covers(m.sent));
        if !done {
            return;
        }
        let delivered = Delivered {
            bytes: m.sent,
            acknowledged: m.failure_report == FailureReport::Yes,
            reported: m.success_report,
        };
        let message_id = m.message_id;
        self.forget(handle);
        ctx.emit(Event::Outcome(Outcome {
            handle: MessageHandle(handle),
            message_id,
            result: Ok(delivered),
        }));
    }

    fn forget(&mut self, handle: u64) {
        if let Some(m) = self.outgoing.remove(&handle) {
            self.by_message_id.remove(&m.message_id);
        }
    }

    /// Fails a message: its outcome is emitted now, and a chunk of it still open is ended
    /// with `#`.
    fn fail(&mut self, ctx: &mut Ctx<'_>, handle: u64, failure: Failure) {
        let Some(m) = self.outgoing.get(&handle) else {
            return;
        };
        let message_id = m.message_id;
        self.forget(handle);
        ctx.emit(Event::Outcome(Outcome {
            handle: MessageHandle(handle),
            message_id,
            result: Err(failure),
        }));
    }

    /// Aborts a message; see [`Connection::abort`](crate::Connection::abort). `open` says
    /// whether a chunk of it is open on the connection (which then ends it with `#`).
    pub(crate) fn abort(&mut self, ctx: &mut Ctx<'_>, handle: u64, open: bool) -> bool {
        let Some(m) = self.outgoing.get(&handle) else {
            return false;
        };
        if !open && m.sent > 0 && !m.all_sent {
            // Between chunks: tell the receiver with an empty chunk that ends with `#`.
            let tid = self.random_tid();
            let Some(m) = self.outgoing.get(&handle) else {
                return false;
            };
            let head = ChunkHead {
                to_path: &self.peer_path,
                from: &self.local,
                message_id: &m.message_id,
                success_report: m.success_report,
                failure_report: m.failure_report,
                range: (m.sent + 1, None, m.total),
                headers: &m.headers,
                content_type: Some(&m.content_type),
            };
            if write_chunk_head(ctx.control, &tid, &head, &mut self.scratch, true).is_ok() {
                write_chunk_end(ctx.control, &tid, Flag::Aborted);
            }
        }
        let failure = Failure {
            status: None,
            by: FailedBy::Aborted,
            comment: None,
        };
        self.fail(ctx, handle, failure);
        true
    }

    // ---------------------------------------------------------------------------------------
    // Receiving.
    // ---------------------------------------------------------------------------------------

    /// Handles a whole frame addressed to this session.
    pub(crate) fn handle_frame(&mut self, ctx: &mut Ctx<'_>, now: Instant, frame: Frame) {
        self.touch(now);
        match frame.method() {
            None => self.handle_response(ctx, now, &frame),
            Some(Method::Send) => {
                let body = frame.body_bytes();
                let mut route =
                    self.begin_send(ctx, now, frame.head(), Some((frame.flag(), &body)));
                if let Some(data) = body {
                    if !data.is_empty() {
                        self.send_data(ctx, now, &mut route, data);
                    }
                }
                self.end_send(ctx, now, frame.head(), route, frame.flag());
            }
            Some(Method::Report) => self.handle_report(ctx, now, frame.head()),
            Some(_) => self.handle_other(ctx, frame.head()),
        }
    }

    /// Handles the head of a request whose body is streamed; the returned route says where the
    /// body pieces go.
    pub(crate) fn handle_head(&mut self, ctx: &mut Ctx<'_>, now: Instant, head: &Head) -> Route {
        self.touch(now);
        match head.method() {
            Some(Method::Send) => self.begin_send(ctx, now, head, None),
            Some(Method::Report) => {
                self.handle_report(ctx, now, head);
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
        self.refuse(ctx, head, StatusCode::NOT_IMPLEMENTED, fr);
    }

    fn refuse(
        &mut self,
        ctx: &mut Ctx<'_>,
        head: &Head,
        code: StatusCode,
        fr: FailureReport,
    ) -> Route {
        if fr != FailureReport::No {
            write_response(ctx.control, head, code, &self.local);
        }
        ctx.emit(Event::Refused(crate::event::Refusal {
            status: code,
            head: head.clone(),
        }));
        Route::Discard
    }

    /// Whether the To-Path names this session: RFC 4975 §7.3: "the To-Path will have exactly
    /// one URI, which MUST map to an existing session". `None` when To-Path is unusable.
    fn is_for_us(&self, head: &Head) -> Option<bool> {
        let list = head.to_path().ok()??;
        let text = list.as_str();
        if text == &*self.local {
            return Some(true);
        }
        if text.contains(' ') {
            return Some(false);
        }
        MsrpUri::parse(text)
            .ok()
            .map(|uri| uri.matches(&self.config.local_uri))
    }

    /// Whether the original sender in From-Path is the peer. `None` when From-Path is unusable.
    fn is_from_peer(&self, head: &Head) -> Option<bool> {
        let list = head.from_path().ok()??;
        let sender = list.iter().last()?;
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

    /// Checks a SEND and decides where its body goes.
    fn begin_send(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Instant,
        head: &Head,
        whole: Option<(Flag, &Option<Bytes>)>,
    ) -> Route {
        // An unreadable Failure-Report is answered as if it were "yes", the default.
        let fr = head.failure_report();
        let fr_mode = fr.ok().flatten().unwrap_or_default();
        // RFC 4975 §7.3: "If this is not true, then the receiver MUST generate a 481 error and
        // ignore the request."
        match self.is_for_us(head) {
            Some(true) => {}
            Some(false) => return self.refuse(ctx, head, StatusCode::NO_SUCH_SESSION, fr_mode),
            None => return self.refuse(ctx, head, StatusCode::BAD_REQUEST, fr_mode),
        }
        match self.is_from_peer(head) {
            Some(true) => {}
            Some(false) => return self.refuse(ctx, head, StatusCode::FORBIDDEN, fr_mode),
            None => return self.refuse(ctx, head, StatusCode::BAD_REQUEST, fr_mode),
        }
        // RFC 4975 §10.2: "A 400 response indicates that a request was unintelligible."
        let sr = head.success_report();
        let (Ok(Some(mid)), Ok(range), Ok(_), Ok(sr)) =
            (head.message_id(), head.byte_range(), fr, sr)
        else {
            return self.refuse(ctx, head, StatusCode::BAD_REQUEST, fr_mode);
        };
        let Some(message_id) = MessageId::new(mid) else {
            return self.refuse(ctx, head, StatusCode::BAD_REQUEST, fr_mode);
        };
        let (start, total) = match range {
            Some(r) => {
                let consistent = r.start >= 1
                    && r.end.is_none_or(|e| e + 1 >= r.start)
                    && match (r.end, r.total) {
                        (Some(e), Some(t)) => e <= t,
                        (None, Some(t)) => r.start <= t + 1,
                        _ => true,
                    };
                if !consistent {
                    return self.refuse(ctx, head, StatusCode::BAD_REQUEST, fr_mode);
                }
                (r.start - 1, r.total)
            }
            // RFC 4975 §7.3.1: "If the request contains no Byte-Range header field, or contains
            // one with a range-start value of "1", and the closing line continuation flag has a
            // value of "$", then the request contained the entire message."
            None => (0, None),
        };
        let success_report = sr.unwrap_or_default() == SuccessReport::Yes;
        if head.has_body() {
            // RFC 4975 §7.1: "If the request has a body, it MUST contain a Content-Type header
            // field."
            let Ok(Some(ct)) = head.content_type_str() else {
                return self.refuse(ctx, head, StatusCode::BAD_REQUEST, fr_mode);
            };
            // RFC 4975 §7.3.1: "If the SEND request contained a Content-Type header field
            // indicating an unsupported media-type, and the Failure-Report value is not "no",
            // the receiver MUST generate a response with a status code of 415."
            let (t, s) = media_type(ct);
            if !self.config.accept_types.iter().any(|e| e.matches(t, s)) {
                return self.refuse(ctx, head, StatusCode::UNSUPPORTED_MEDIA_TYPE, fr_mode);
            }
        } else if !self.incoming.contains_key(&message_id) {
            // A bodiless SEND (such as the first SEND of an active endpoint) carries no
            // message; it is acknowledged and, if asked, reported.
            if success_report {
                self.report_success(ctx, head, &message_id, 0);
            }
            return Route::deliver(message_id, start, fr_mode);
        }
        let limits = self.config.limits;
        // RFC 4975 §10.5: "A 413 response indicates that the receiver wishes the sender to stop
        // sending the particular message."
        if self.refused.contains(&message_id)
            || total.is_some_and(|t| t > limits.max_message_size)
            || start > limits.max_message_size
        {
            self.refuse_message(ctx, &message_id);
            return self.refuse(ctx, head, StatusCode::MESSAGE_TOO_LARGE, fr_mode);
        }

        // RFC 4975 §5.4: "If the receiving endpoint receives more than one message with the same
        // Message-ID, it SHOULD assume that the messages are duplicates." and "acknowledgments
        // as needed based on the Failure-Report and Success-Report settings are still necessary
        // even for requests containing duplicate content."
        if self.completed.contains(&message_id) {
            let route = Route::deliver(message_id, start, fr_mode).delivered();
            let Some((_, body)) = whole else {
                return route;
            };
            if fr_mode == FailureReport::Yes {
                write_response(ctx.control, head, StatusCode::OK, &self.local);
            }
            if success_report {
                let end = start + body.as_ref().map_or(0, Bytes::len) as u64;
                self.send_report(
                    ctx,
                    head,
                    &message_id,
                    (start + 1, end, total),
                    StatusCode::OK,
                );
            }
            return Route::Discard;
        }

        // The whole message in one frame, small enough: deliver it without keeping state.
        if let Some((Flag::End, body)) = whole {
            let len = body.as_ref().map_or(0, Bytes::len);
            if start == 0
                && len <= limits.deliver_whole_up_to
                && !self.incoming.contains_key(&message_id)
            {
                ctx.emit(Event::Message(Message {
                    message_id,
                    head: head.clone(),
                    body: body.clone().unwrap_or_default(),
                }));
                self.remember_completed(message_id);
                // The chunk is complete: answer it now, before its success REPORT.
                if fr_mode == FailureReport::Yes {
                    write_response(ctx.control, head, StatusCode::OK, &self.local);
                }
                if success_report {
                    self.report_success(ctx, head, &message_id, len as u64);
                }
                return Route::Discard;
            }
        }

        if let Some(m) = self.incoming.get_mut(&message_id) {
            m.head = head.clone();
            m.deadline = now + limits.incomplete_message_timeout;
            if total.is_some() && m.total.is_none() {
                m.total = total;
            }
        } else {
            if self.incoming.len() >= limits.max_incoming_messages {
                self.refuse_message(ctx, &message_id);
                return self.refuse(ctx, head, StatusCode::MESSAGE_TOO_LARGE, fr_mode);
            }
            let key = self.next_incoming;
            self.next_incoming += 1;
            let whole_size = total.filter(|&t| {
                t <= limits.deliver_whole_up_to as u64
                    && self.buffered + t as usize <= limits.max_buffered_bytes
            });
            let delivery = match whole_size {
                Some(t) => {
                    self.buffered += t as usize;
                    Delivery::Whole(vec![0; t as usize])
                }
                None => {
                    ctx.emit(Event::MessageStart(MessageStart {
                        key: IncomingKey(key),
                        message_id,
                        head: head.clone(),
                        total,
                    }));
                    Delivery::Pieces
                }
            };
            let deadline = now + limits.incomplete_message_timeout;
            self.incoming.insert(
                message_id,
                Incoming {
                    key,
                    head: head.clone(),
                    total,
                    received: RangeSet::default(),
                    delivery,
                    success_report,
                    failure_report: fr_mode,
                    deadline,
                    final_total: false,
                },
            );
            self.incomplete_timers.push(deadline, message_id);
        }
        Route::deliver(message_id, start, fr_mode)
    }

    fn remember_completed(&mut self, message_id: MessageId) {
        if self.completed.capacity() == 0 {
            // Sized once so that the churn of a full memory never grows the table again.
            self.completed.reserve(2 * COMPLETED_MEMORY);
            self.completed_order.reserve(COMPLETED_MEMORY);
        }
        if self.completed.insert(message_id) {
            if self.completed_order.len() == COMPLETED_MEMORY {
                if let Some(old) = self.completed_order.pop_front() {
                    self.completed.remove(&old);
                }
            }
            self.completed_order.push_back(message_id);
        }
    }

    /// Remembers a refused Message-ID so that its later chunks are refused too, and drops what
    /// was received of it.
    fn refuse_message(&mut self, ctx: &mut Ctx<'_>, message_id: &MessageId) {
        if !self.refused.contains(message_id) {
            if self.refused.len() == REFUSED_MEMORY {
                self.refused.pop_front();
            }
            self.refused.push_back(*message_id);
        }
        self.drop_incoming(ctx, message_id, IncomingFailure::TooLarge);
    }

    fn drop_incoming(&mut self, ctx: &mut Ctx<'_>, message_id: &MessageId, why: IncomingFailure) {
        if let Some(m) = self.incoming.remove(message_id) {
            match m.delivery {
                Delivery::Whole(buf) => self.buffered -= buf.len(),
                Delivery::Pieces => ctx.emit(Event::MessageEnd(MessageEnd {
                    key: IncomingKey(m.key),
                    result: Err(why),
                })),
            }
        }
    }

    /// Takes body bytes of a SEND being received.
    pub(crate) fn send_data(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Instant,
        route: &mut Route,
        data: Bytes,
    ) {
        self.touch(now);
        let Route::Deliver {
            message_id,
            offset,
            failure_report,
            answered,
            done: false,
        } = route
        else {
            return;
        };
        let start = *offset;
        let end = start + data.len() as u64;
        *offset = end;
        let limits = self.config.limits;
        let mid = *message_id;
        let Self {
            incoming, buffered, ..
        } = self;
        let Some(m) = incoming.get_mut(&mid) else {
            return;
        };
        let refusal = if end > limits.max_message_size {
            Some(StatusCode::MESSAGE_TOO_LARGE)
        } else if m.final_total && m.total.is_some_and(|t| end > t) {
            // Data past the end that a `$` chunk set: the peer contradicts itself.
            Some(StatusCode::BAD_REQUEST)
        } else {
            // RFC 4975 §7.3.1: the receiver "SHOULD determine the actual length of each chunk by
            // inspecting the payload itself", and the chunk with "$" defines the total: data
            // beyond an announced total makes the total unknown until then.
            let beyond_total = m.total.is_some_and(|t| end > t);
            if beyond_total && !m.final_total {
                m.total = None;
            }
            m.deadline = now + limits.incomplete_message_timeout;
            if let Delivery::Whole(buf) = &m.delivery {
                if end > buf.len() as u64 {
                    // Larger than announced: deliver in pieces after all.
                    *buffered -= buf.len();
                    to_pieces(ctx, m, &mid);
                }
            }
            m.received.insert(start, end);
            match &mut m.delivery {
                // The later chunk takes precedence (RFC 4975 §7.3.1).
                Delivery::Whole(buf) => buf[start as usize..end as usize].copy_from_slice(&data),
                Delivery::Pieces => ctx.emit(Event::MessageData(MessageData {
                    key: IncomingKey(m.key),
                    offset: start,
                    data,
                })),
            }
            (m.received.pieces() > limits.max_ranges).then_some(StatusCode::MESSAGE_TOO_LARGE)
        };
        let Some(code) = refusal else {
            return;
        };
        let head = m.head.clone();
        let respond = *failure_report != FailureReport::No && !*answered;
        self.refuse_message(ctx, &mid);
        if respond {
            write_response(ctx.control, &head, code, &self.local);
        }
        *route = Route::Discard;
    }

    /// Ends a SEND being received: answers it, and completes or aborts its message.
    pub(crate) fn end_send(
        &mut self,
        ctx: &mut Ctx<'_>,
        _now: Instant,
        head: &Head,
        route: Route,
        flag: Flag,
    ) {
        let Route::Deliver {
            message_id,
            offset,
            failure_report,
            answered,
            done,
        } = route
        else {
            return;
        };
        // RFC 4975 §7.2: "if an MSRP endpoint receives a request that either contains a
        // Failure-Report header field value of "yes" or does not contain a Failure-Report
        // header field at all, it MUST immediately generate a response." RFC 4975 §7.1.4: with
        // "partial", "it MUST NOT send a 200 transaction response".
        if failure_report == FailureReport::Yes && !answered {
            write_response(ctx.control, head, StatusCode::OK, &self.local);
        }
        if done {
            return;
        }
        if flag == Flag::Aborted {
            self.drop_incoming(ctx, &message_id, IncomingFailure::Aborted);
            return;
        }
        let Some(m) = self.incoming.get_mut(&message_id) else {
            return;
        };
        // RFC 4975 §7.3.1: "the chunk that has a termination character of "$" defines the total
        // length of the message."
        if flag == Flag::End {
            if m.total != Some(offset) {
                if let Delivery::Whole(buf) = &mut m.delivery {
                    let keep = (offset as usize).min(buf.len());
                    self.buffered -= buf.len() - keep;
                    buf.truncate(keep);
                }
                m.total = Some(offset);
                // Whatever arrived beyond the end is not part of the message.
                m.received.truncate(offset);
            }
            m.final_total = true;
        }
        let complete = m.total.is_some_and(|total| m.received.covers(total));
        if !complete {
            return;
        }
        let Some(m) = self.incoming.remove(&message_id) else {
            return;
        };
        self.remember_completed(message_id);
        let total = m.total.unwrap_or_default();
        match m.delivery {
            Delivery::Whole(buf) => {
                self.buffered -= buf.len();
                ctx.emit(Event::Message(Message {
                    message_id,
                    head: m.head.clone(),
                    body: Bytes::from(buf),
                }));
            }
            Delivery::Pieces => ctx.emit(Event::MessageEnd(MessageEnd {
                key: IncomingKey(m.key),
                result: Ok(total),
            })),
        }
        if m.success_report {
            self.report_success(ctx, &m.head, &message_id, total);
        }
    }

    /// Sends a success REPORT for a whole message (RFC 4975 §7.1.3: "it MUST send a success
    /// report or reports covering all bytes that are received successfully").
    fn report_success(
        &mut self,
        ctx: &mut Ctx<'_>,
        head: &Head,
        message_id: &MessageId,
        total: u64,
    ) {
        self.send_report(
            ctx,
            head,
            message_id,
            (1, total, Some(total)),
            StatusCode::OK,
        );
    }

    fn send_report(
        &mut self,
        ctx: &mut Ctx<'_>,
        head: &Head,
        message_id: &MessageId,
        range: (u64, u64, Option<u64>),
        status: StatusCode,
    ) {
        let Ok(Some(from_path)) = head.from_path() else {
            return;
        };
        let tid = self.random_tid();
        let report = Report {
            to_path: from_path.as_str(),
            from: &self.local,
            message_id,
            range,
            status,
        };
        write_report(ctx.control, &tid, &report, &mut self.scratch);
    }

    /// Handles a REPORT about a message this session sent. REPORTs are never answered (RFC 4975
    /// §7.1.2: "MSRP nodes MUST NOT send MSRP responses to REPORT requests").
    fn handle_report(&mut self, ctx: &mut Ctx<'_>, _now: Instant, head: &Head) {
        if self.is_for_us(head) != Some(true) {
            return;
        }
        // RFC 4975 §7.1.2: "If an MSRP element receives a REPORT for a Message-ID it does not
        // recognize, it SHOULD silently ignore the REPORT."
        let Some(mid) = head.message_id().ok().flatten().and_then(MessageId::new) else {
            return;
        };
        let Some(&handle) = self.by_message_id.get(&mid) else {
            return;
        };
        let Ok(Some(status)) = head.status() else {
            return;
        };
        // RFC 4975 §7.3.2: "An endpoint that receives a REPORT request containing a Status
        // header field with a namespace field of "000" MUST interpret the report in exactly
        // the same way it would interpret an MSRP transaction response with a response code
        // matching the status-code field."
        if status.namespace != 0 {
            return;
        }
        if status.code.is_success() {
            let Some(m) = self.outgoing.get_mut(&handle) else {
                return;
            };
            if !m.success_report {
                return;
            }
            match head.byte_range() {
                Ok(Some(r)) => {
                    let end = r.end.unwrap_or(m.sent);
                    m.reported.insert(r.start.saturating_sub(1), end);
                }
                // A report without Byte-Range covers the whole message.
                Ok(None) => m.reported.insert(0, m.total.unwrap_or(m.sent)),
                Err(_) => return,
            }
            self.settle(ctx, handle);
        } else {
            // RFC 4975 §7.3.2: "When an endpoint that sent a SEND request receives a failure
            // REPORT indicating that a particular byte range was not received, it MUST treat
            // the session as failed."
            let failure = Failure {
                status: Some(status.code),
                by: FailedBy::PeerReport,
                comment: status.comment.map(str::to_owned),
            };
            self.fail(ctx, handle, failure);
            self.fail_session(
                ctx,
                SessionFailure::Rejected(status.code),
                FailedBy::SessionFailed,
            );
        }
    }

    /// Handles a response to a transaction of this session.
    fn handle_response(&mut self, ctx: &mut Ctx<'_>, _now: Instant, frame: &Frame) {
        let Ok(tid) = TransactionId::new(frame.transaction_id()) else {
            return;
        };
        let Some(tx) = self.transactions.remove(&tid) else {
            return;
        };
        let Some(code) = frame.status_code() else {
            return;
        };
        let fatal = code == StatusCode::NO_SUCH_SESSION || code == StatusCode::WRONG_CONNECTION;
        let Some(handle) = tx.handle else {
            // The bodiless SEND of an active endpoint.
            if fatal {
                self.fail_session(ctx, SessionFailure::Rejected(code), FailedBy::SessionFailed);
            }
            return;
        };
        if code.is_success() {
            if let Some(m) = self.outgoing.get_mut(&handle) {
                if tx.expects_ok {
                    m.outstanding = m.outstanding.saturating_sub(1);
                }
            }
            self.settle(ctx, handle);
            return;
        }
        // RFC 4975 §10.4: "An endpoint MUST treat a 408 response in the same manner as it would
        // treat a local timeout." Every other non-200 code ends the message; RFC 4975 §10.5:
        // after a 413 the sender "MUST NOT send any further chunks in the message".
        let by = if code == StatusCode::REQUEST_TIMEOUT {
            FailedBy::Timeout
        } else {
            FailedBy::PeerResponse
        };
        let comment = frame
            .comment()
            .map(|c| String::from_utf8_lossy(c).into_owned());
        self.fail(
            ctx,
            handle,
            Failure {
                status: Some(code),
                by,
                comment,
            },
        );
        // RFC 4975 §10.8: "A 481 response indicates that the indicated session does not exist.
        // The sender should terminate the session." §10.10: 506 means "The sender should cease
        // sending messages for that session on this connection."
        if fatal {
            self.fail_session(ctx, SessionFailure::Rejected(code), FailedBy::SessionFailed);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Timers and the end of the session.
    // ---------------------------------------------------------------------------------------

    fn touch(&mut self, now: Instant) {
        self.last_activity = Some(now);
        self.released = false;
    }

    /// When the session, if it stays quiet, gives its spare memory back.
    fn release_at(&self) -> Option<Instant> {
        let quiet =
            self.outgoing.is_empty() && self.incoming.is_empty() && self.transactions.is_empty();
        (!self.released && quiet)
            .then_some(self.last_activity)
            .flatten()
            .map(|t| t + IDLE_RELEASE)
    }

    /// Gives back the capacity that bursts left in the session's tables, so that an idle
    /// session stays small.
    fn release_memory(&mut self) {
        self.released = true;
        self.outgoing.shrink_to_fit();
        self.by_message_id.shrink_to_fit();
        self.ready.shrink_to_fit();
        self.transactions.shrink_to_fit();
        self.tx_timers.shrink_to_fit();
        self.report_timers.shrink_to_fit();
        self.incoming.shrink_to_fit();
        self.incomplete_timers.shrink_to_fit();
        self.completed = HashSet::new();
        self.completed_order = VecDeque::new();
        self.scratch = String::new();
        self.scratch_bytes = Vec::new();
        self.trial = BytesMut::new();
    }

    /// The earliest deadline of the session's timers.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.tx_timers.next(),
            self.report_timers.next(),
            self.incomplete_timers.next(),
            self.release_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires every timer due at `now`.
    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>, now: Instant) {
        while let Some((_, tid)) = self.tx_timers.pop_due(now) {
            let Some(tx) = self.transactions.remove(&tid) else {
                continue;
            };
            if !tx.expects_ok {
                continue;
            }
            match tx.handle {
                None => {
                    self.fail_session(ctx, SessionFailure::BindTimeout, FailedBy::SessionFailed)
                }
                Some(handle) => self.fail(
                    ctx,
                    handle,
                    Failure {
                        status: Some(StatusCode::REQUEST_TIMEOUT),
                        by: FailedBy::Timeout,
                        comment: None,
                    },
                ),
            }
        }
        while let Some((_, handle)) = self.report_timers.pop_due(now) {
            if self.outgoing.get(&handle).is_some_and(|m| m.all_sent) {
                self.fail(
                    ctx,
                    handle,
                    Failure {
                        status: Some(StatusCode::REQUEST_TIMEOUT),
                        by: FailedBy::ReportTimeout,
                        comment: None,
                    },
                );
            }
        }
        while let Some((_, mid)) = self.incomplete_timers.pop_due(now) {
            let Some(m) = self.incoming.get(&mid) else {
                continue;
            };
            if m.deadline > now {
                let at = m.deadline;
                self.incomplete_timers.push(at, mid);
                continue;
            }
            // Nothing is lost silently: the sender learns that the message failed.
            let head = m.head.clone();
            let range = (1, m.received.end(), m.total);
            let report = m.failure_report != FailureReport::No;
            self.drop_incoming(ctx, &mid, IncomingFailure::TimedOut);
            if report {
                self.send_report(ctx, &head, &mid, range, StatusCode::REQUEST_TIMEOUT);
            }
        }
        self.compact_timers();
        if self.release_at().is_some_and(|t| t <= now) {
            self.release_memory();
        }
    }

    fn compact_timers(&mut self) {
        let transactions = &self.transactions;
        self.tx_timers
            .compact(transactions.len(), |tid| transactions.contains_key(tid));
        let outgoing = &self.outgoing;
        self.report_timers
            .compact(outgoing.len(), |h| outgoing.contains_key(h));
        let incoming = &self.incoming;
        self.incomplete_timers
            .compact(incoming.len(), |m| incoming.contains_key(m));
    }

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
    /// message being received ends, and all state is dropped. `false` when it had already ended.
    fn end(&mut self, ctx: &mut Ctx<'_>, status: Option<StatusCode>, by: FailedBy) -> bool {
        if self.failed {
            return false;
        }
        self.failed = true;
        let mut handles: Vec<u64> = self.outgoing.keys().copied().collect();
        handles.sort_unstable();
        for handle in handles {
            self.fail(
                ctx,
                handle,
                Failure {
                    status,
                    by,
                    comment: None,
                },
            );
        }
        let mut receiving: Vec<MessageId> = self.incoming.keys().copied().collect();
        receiving.sort_unstable();
        for mid in receiving {
            self.drop_incoming(ctx, &mid, IncomingFailure::SessionEnded);
        }
        self.ready.clear();
        self.transactions.clear();
        self.tx_timers.clear();
        self.report_timers.clear();
        self.incomplete_timers.clear();
        true
    }

    /// Whether nothing remains to send or to wait for.
    pub(crate) fn is_idle(&self) -> bool {
        self.outgoing.is_empty() && self.transactions.values().all(|t| !t.expects_ok)
    }
}

impl Route {
    fn deliver(message_id: MessageId, offset: u64, failure_report: FailureReport) -> Self {
        Route::Deliver {
            message_id,
            offset,
            failure_report,
            answered: false,
            done: false,
        }
    }

    /// The same route, for a body that must not be delivered again.
    fn delivered(self) -> Self {
        match self {
            Route::Deliver {
                message_id,
                offset,
                failure_report,
                answered,
                ..
            } => Route::Deliver {
                message_id,
                offset,
                failure_report,
                answered,
                done: true,
            },
            Route::Discard => Route::Discard,
        }
    }
}

/// Switches a message buffered for whole delivery to delivery in pieces: announces it and hands
/// out what was received so far.
fn to_pieces(ctx: &mut Ctx<'_>, m: &mut Incoming, message_id: &MessageId) {
    let Delivery::Whole(buf) = core::mem::replace(&mut m.delivery, Delivery::Pieces) else {
        return;
    };
    let key = IncomingKey(m.key);
    ctx.emit(Event::MessageStart(MessageStart {
        key,
        message_id: *message_id,
        head: m.head.clone(),
        total: m.total,
    }));
    for (start, end) in m.received.iter() {
        // Received ranges lie within the buffer; the bound keeps that true whatever happens.
        let (start, end) = (start as usize, (end as usize).min(buf.len()));
        if start < end {
            ctx.emit(Event::MessageData(MessageData {
                key,
                offset: start as u64,
                data: Bytes::copy_from_slice(&buf[start..end]),
            }));
        }
    }
}

fn source_failure(e: &io::Error) -> Failure {
    Failure {
        status: None,
        by: FailedBy::Source,
        comment: Some(e.to_string()),
    }
}
