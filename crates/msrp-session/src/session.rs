//! One MSRP session: what it sends, what it receives, and what it reports.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::io;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use msrp_uri::MsrpUri;
use msrp_wire::{
    Decoder, FailureReport, Flag, Frame, Head, HeaderName, Method, StatusCode, SuccessReport,
    TransactionId, choose_transaction_id, find_end_line,
};

use crate::config::{Chunking, FromPathCheck, Random, SessionConfig};
use crate::event::{
    ConnectionEvent, Delivered, Event, FailedBy, Failure, IncomingFailure, Message, MessageData,
    MessageEnd, MessageStart, Outcome, SessionFailure,
};
use crate::frames::{
    ChunkHead, FROM, MESSAGE_ID, Report, SEND_TO, check_message_head, encode_send_lines,
    received_tid, write_chunk_end, write_chunk_head, write_report, write_response,
    write_response_to,
};
use crate::hash::{FastMap, FastSet};
use crate::message::{Body, BodySource, OutgoingMessage};
use crate::ranges::RangeSet;
use crate::timer::Timers;
use crate::transactions::{Transactions, tx_key};
use crate::{FormatEntry, IncomingKey, MessageHandle, MessageId, Role, SessionKey};

/// Bytes read from a body source at a time.
const READ_SIZE: usize = 64 << 10;
/// Message-IDs refused with 413 that are remembered, so later chunks get 413 too.
const REFUSED_MEMORY: usize = 64;
/// Quiet time after which a session gives back the memory its bursts left in its tables, and
/// forgets the Message-IDs of completed messages.
pub(crate) const IDLE_RELEASE: Duration = Duration::from_secs(30);
/// RFC 4975 §7.1.1: "senders MUST NOT send chunks with a body larger than 2048 octets unless
/// they are prepared to interrupt them".
const UNINTERRUPTIBLE_MAX: usize = 2048;
/// Transaction ids tried for a chunk before its message fails: each is random, so one almost
/// always does.
const TID_ATTEMPTS: usize = 8;

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
    /// Scratch space, shared by the sessions of a connection.
    pub(crate) work: &'a mut Vec<u8>,
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

    /// Whether nothing follows the first piece.
    fn is_single(&self) -> bool {
        self.rest.is_empty()
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
    /// Random bytes for a transaction id, drawn with the Message-ID, tried first for the
    /// first chunk.
    first_tid: Option<[u8; 16]>,
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
    /// Whether the id was chosen against all of the chunk's body, so that its end-line cannot
    /// occur in it: a chunk that states its range-end, or the whole of a short body.
    pub(crate) checked: bool,
}

/// What to do next with an open chunk.
pub(crate) enum Piece {
    /// Write these body bytes.
    Data(Bytes),
    /// End the chunk with this flag.
    End(Flag),
}

/// A transaction of a message awaiting its response.
#[derive(Clone, Copy, Debug)]
struct Tx {
    /// The message.
    handle: u64,
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
    /// What every SEND of the session says from its method to the name of its Message-ID,
    /// checked once: ` SEND\r\nTo-Path: <peer path>\r\nFrom-Path: <local URI>\r\nMessage-ID: `.
    lines: Box<str>,
    /// Where the local URI starts in `lines`.
    local_at: u32,
    /// Where the first URI of the peer's path ends in `lines`.
    peer_first_end: u32,
    /// Whether the decoder reads the local URI back, as a To-Path, and the peer's path, as a
    /// From-Path, as exactly these texts: then a received path header that is exactly one of
    /// them is known valid without being read again ([`PathHeader::Expected`]).
    plain: bool,
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
    List(&'a str),
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

/// Whether the decoder reads `to_path` as a To-Path, and `from_path` as a From-Path, as exactly
/// these texts.
fn reads_back(to_path: &str, from_path: &str) -> bool {
    let mut decoder = Decoder::new();
    decoder.push(
        format!(
            "MSRP check SEND\r\nTo-Path: {to_path}\r\nFrom-Path: {from_path}\r\n-------check$\r\n"
        )
        .as_bytes(),
    );
    let Ok(Some(frame)) = decoder.decode() else {
        return false;
    };
    frame.to_path().ok().flatten().map(|l| l.as_str()) == Some(to_path)
        && frame.from_path().ok().flatten().map(|l| l.as_str()) == Some(from_path)
}

/// What a session holds while it sends messages.
#[derive(Default)]
struct Sending {
    /// The last content type that passed the checks of [`Session::send`] for a message
    /// without added headers: the next such message of that type needs none.
    checked_content_type: String,
    outgoing: FastMap<u64, Outgoing>,
    by_message_id: FastMap<MessageId, u64>,
    ready: VecDeque<u64>,
    /// Transactions awaiting their response, by the ids this session drew for them.
    transactions: Transactions<Tx>,
    tx_timers: Timers<u128>,
    report_timers: Timers<u64>,
}

/// What a session holds while it receives messages, and what it remembers of them.
#[derive(Default)]
struct Receiving {
    /// Keyed by Message-IDs the peer chooses: the standard keyed hash, which also makes the
    /// digests of `completed`.
    incoming: HashMap<MessageId, Incoming>,
    incomplete_timers: Timers<MessageId>,
    /// Bytes held for messages delivered whole.
    buffered: usize,
    refused: VecDeque<MessageId>,
    /// Keyed 64-bit digests of the Message-IDs of completed messages, and their order.
    completed: FastSet<u64>,
    completed_order: VecDeque<u64>,
}

impl Receiving {
    /// The digest of a Message-ID, keyed with the per-session key of `incoming`, so that a peer
    /// can neither predict it nor make two ids collide on purpose.
    fn digest(&self, message_id: &MessageId) -> u64 {
        self.incoming.hasher().hash_one(message_id)
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
                &self.sending.as_ref().map_or(0, |t| t.transactions.len()),
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
fn draw_tid_random(random: &mut dyn Random) -> [u8; 16] {
    let mut r = [0u8; 16];
    random.fill(&mut r);
    r
}

/// A transaction id from 16 bytes of `random`.
fn draw_tid(random: &mut dyn Random) -> TransactionId {
    TransactionId::from_random(draw_tid_random(random))
}

/// The two halves of 32 random bytes.
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
        let local = config.local_uri.as_str();
        let peer = config.peer_path.to_string();
        let lines = encode_send_lines(&peer, local).ok_or(ConfigError::Path)?;
        let offset = |at: usize| u32::try_from(at).map_err(|_| ConfigError::Path);
        let local_at = offset(lines.len() - MESSAGE_ID.len() - local.len())?;
        let peer_first_end = offset(SEND_TO.len() + peer.split(' ').next().unwrap_or("").len())?;
        let plain = reads_back(local, &peer);
        Ok(Self {
            lines: lines.into_boxed_str(),
            local_at,
            peer_first_end,
            plain,
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

    /// The session-id of the local URI, which routes requests to this session.
    pub fn session_id(&self) -> &str {
        self.config.local_uri.session_id().unwrap_or_default()
    }

    /// The local URI, as written in the session's From-Path.
    pub(crate) fn local(&self) -> &str {
        &self.lines[self.local_at as usize..self.lines.len() - MESSAGE_ID.len()]
    }

    /// The peer's path, as written in the session's To-Path.
    fn peer_path(&self) -> &str {
        &self.lines[SEND_TO.len()..self.local_at as usize - FROM.len()]
    }

    /// Whether a request whose sole To-Path is exactly the local URI is for this session:
    /// [`PathHeader::Expected`].
    pub(crate) fn expects_own_uri(&self) -> bool {
        self.plain
    }

    /// Reads the path headers of a received frame in one pass, for the paths this session
    /// expects: `None` unless its only To-Path is exactly the local URI; then whether its only
    /// From-Path is exactly the peer's path.
    ///
    /// For paths that the decoder reads back as themselves (`plain`), this is what reading the
    /// headers with the decoder's accessors and comparing the lists would say: the accessors
    /// refuse a repeated header, and check what the expected paths are known to pass.
    pub(crate) fn expected_paths(&self, head: &Head) -> Option<bool> {
        if !self.plain {
            return None;
        }
        let (local, peer) = (self.local().as_bytes(), self.peer_path().as_bytes());
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

    /// Where a response to a SEND with this From-Path goes. RFC 4975 §7.2: "If the request
    /// triggering the response was a SEND request, the To-Path header field is formed by
    /// copying the first (leftmost) URI in the From-Path header field of the request."
    fn reply_to<'a>(&'a self, from_path: PathHeader<'a>) -> &'a str {
        match from_path {
            PathHeader::Expected => &self.lines[SEND_TO.len()..self.peer_first_end as usize],
            PathHeader::List(list) => list.split(' ').next().unwrap_or_default(),
        }
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
        self.sending.as_ref().map_or(0, |t| t.outgoing.len())
    }

    /// Messages being received.
    pub fn messages_receiving(&self) -> usize {
        self.receiving.as_ref().map_or(0, |r| r.incoming.len())
    }

    /// Bytes held for incoming messages delivered whole (bounded by
    /// [`Limits::max_buffered_bytes`](crate::Limits::max_buffered_bytes)).
    pub fn buffered_bytes(&self) -> usize {
        self.receiving.as_ref().map_or(0, |r| r.buffered)
    }

    // ---------------------------------------------------------------------------------------
    // Sending.
    // ---------------------------------------------------------------------------------------

    /// Queues a message; see [`Connection::send`](crate::Connection::send). `work` is scratch
    /// space.
    pub(crate) fn send(
        &mut self,
        msg: OutgoingMessage,
        work: &mut Vec<u8>,
    ) -> Result<MessageHandle, SendError> {
        if self.failed {
            return Err(SendError::SessionFailed);
        }
        let bodiless = matches!(msg.body, Body::None);
        self.check(&msg, bodiless, work)?;
        // One draw gives the Message-ID and the id first tried for the first chunk.
        let mut r = [0u8; 32];
        self.config.random.fill(&mut r);
        let (id_random, tid_random) = halves(r);
        let message_id = msg
            .message_id
            .unwrap_or_else(|| MessageId::from_random(id_random));

        let (body, bodiless) = OutBody::new(msg.body);
        let handle = self.next_handle;
        self.next_handle += 1;
        let total = match (&body.source, bodiless) {
            (Some(source), _) => source.total_len(),
            (None, true) => Some(0),
            (None, false) => Some(body.buffered as u64),
        };
        let tx = self.sending.get_or_insert_with(Box::default);
        tx.outgoing.insert(
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
                first_tid: Some(tid_random),
            },
        );
        tx.by_message_id.insert(message_id, handle);
        tx.ready.push_back(handle);
        self.bind_pending = false;
        Ok(MessageHandle(handle))
    }

    /// Checks a message before it is queued: what the peer takes, and what the message adds to
    /// the heads of its chunks.
    fn check(
        &mut self,
        msg: &OutgoingMessage,
        bodiless: bool,
        work: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        // A message of the same type as the last one, without added headers, passes the same
        // checks of its type and head: only its size is left to check.
        let same = !bodiless
            && msg.headers.is_empty()
            && !msg.content_type.is_empty()
            && self
                .sending
                .as_ref()
                .is_some_and(|t| t.checked_content_type == msg.content_type);
        if !bodiless && !same {
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
        // RFC 4975 §8.6: "Senders SHOULD NOT exceed the max-size limit".
        if let (Some(max), Some(len)) = (self.config.peer_max_size, msg.len()) {
            if len > max {
                return Err(SendError::TooLarge);
            }
        }
        if same {
            return Ok(());
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
        // What the message adds to its chunks' heads is checked now, so that a header the
        // grammar refuses is reported here rather than in the middle of the transfer.
        check_message_head(
            work,
            &msg.headers,
            (!bodiless).then_some(&*msg.content_type),
        )
        .map_err(|_| SendError::InvalidHeader)?;
        if !bodiless && msg.headers.is_empty() {
            let tx = self.sending.get_or_insert_with(Box::default);
            tx.checked_content_type.clear();
            tx.checked_content_type.push_str(&msg.content_type);
        }
        Ok(())
    }

    /// Whether a message waits for its turn on the connection.
    pub(crate) fn has_ready(&self) -> bool {
        self.sending.as_ref().is_some_and(|t| !t.ready.is_empty())
    }

    /// The next message to write, removed from the queue.
    pub(crate) fn pop_ready(&mut self) -> Option<u64> {
        let tx = self.sending.as_deref_mut()?;
        while let Some(h) = tx.ready.pop_front() {
            if tx.outgoing.contains_key(&h) {
                return Some(h);
            }
        }
        None
    }

    /// Puts a message back at the end of the queue after its turn.
    pub(crate) fn requeue(&mut self, handle: u64) {
        if let Some(tx) = self.sending.as_deref_mut() {
            if tx.outgoing.contains_key(&handle) {
                tx.ready.push_back(handle);
            }
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
        let head = ChunkHead {
            lines: &self.lines,
            message_id: &MessageId::from_random(id_random),
            success_report: false,
            failure_report: FailureReport::Yes,
            range: (1, Some(0), Some(0)),
            headers: &[],
            content_type: None,
        };
        write_chunk_head(out, &tid, &head);
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
        let chunking = self.config.chunking;
        let tx = self.sending.as_deref_mut()?;
        let m = tx.outgoing.get_mut(&handle)?;
        m.cut = false;
        let start = m.sent + 1;
        // A chunk that states its range-end must not be cut short, so its id is chosen against
        // all of its bytes. Any other chunk may be cut where its end-line would occur, but it
        // must make progress: its id is chosen so that the body does not start with the
        // end-line; the rest of the body is scanned as it is written. A short body that is
        // all here is checked whole at once, and needs no scan.
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
        let whole = stated.is_none() && m.body.eof && m.body.buffered <= UNINTERRUPTIBLE_MAX;
        let checked_len = if whole { m.body.buffered } else { len };
        // The bytes to check: in place when the first piece holds them all.
        let bytes: &[u8] = match m.body.pieces.front() {
            Some(front) if front.len() >= checked_len => &front[..checked_len],
            _ => {
                ctx.work.clear();
                m.body.peek_into(0, checked_len, ctx.work);
                ctx.work
            }
        };
        // RFC 4975 §7.1: "The transaction identifier MUST NOT collide with that of other
        // transactions that exist at the same time."
        let transactions = &tx.transactions;
        let bind = self.bind.map(|(t, _)| t);
        let taken = |t: &TransactionId| {
            tx_key(t.as_bytes()).is_none_or(|k| transactions.contains_key(&k)) || bind == Some(*t)
        };
        let random = &mut *self.config.random;
        let mut hint = m.first_tid.take();
        let mut left = TID_ATTEMPTS;
        let mut exhausted = false;
        let chosen = {
            // Unused ids: the one drawn with the message first, then fresh ones, as many as
            // there are attempts; then a stand-in, checked again below.
            let mut next = || {
                while left > 0 {
                    left -= 1;
                    let r = hint.take().unwrap_or_else(|| draw_tid_random(random));
                    let tid = TransactionId::from_random(transactions.stamp(r));
                    if !taken(&tid) {
                        return tid;
                    }
                }
                exhausted = true;
                TransactionId::from_random([0; 16])
            };
            // An end-line starts with hyphens: no id's end-line occurs in a body without any.
            if bytes.contains(&b'-') {
                choose_transaction_id(bytes, TID_ATTEMPTS, &mut next)
            } else {
                Some(next())
            }
        };
        let chosen = chosen.filter(|t| !exhausted || !taken(t));
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
            lines: &self.lines,
            message_id: &m.message_id,
            success_report: m.success_report,
            failure_report: m.failure_report,
            range: (if m.bodiless { 1 } else { start }, range_end, m.total),
            headers: &m.headers,
            content_type: (!m.bodiless).then_some(&*m.content_type),
        };
        write_chunk_head(out, &tid, &head);
        // The transaction exists from its first byte: a response may come before its last, such
        // as a 413 that stops the message.
        if m.failure_report != FailureReport::No {
            let expects_ok = m.failure_report == FailureReport::Yes;
            if let Some(key) = tx_key(tid.as_bytes()) {
                tx.transactions.insert(key, Tx { handle, expects_ok });
            }
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
            checked: stated.is_some() || whole,
        })
    }

    /// The next piece of an open chunk, at most `max` bytes.
    pub(crate) fn next_piece(&mut self, ctx: &mut Ctx<'_>, open: &OpenChunk, max: usize) -> Piece {
        let handle = open.handle;
        let Some(m) = self
            .sending
            .as_deref_mut()
            .and_then(|t| t.outgoing.get_mut(&handle))
        else {
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
        let scan = n + lookahead - 1;
        let hit = if open.checked {
            // The id was chosen against all of this chunk's body, when it started.
            None
        } else if front.len() >= scan || (m.body.pieces.is_single() && m.body.eof) {
            // Every byte that follows is in the first piece, or there are none.
            find_end_line(&front[..scan.min(front.len())], &open.tid)
        } else {
            ctx.work.clear();
            m.body.peek_into(0, scan, ctx.work);
            find_end_line(ctx.work, &open.tid)
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
        let Some(tx) = self.sending.as_deref_mut() else {
            return;
        };
        let Some(m) = tx.outgoing.get_mut(&handle) else {
            return;
        };
        // RFC 4975 §7.1.1: "If a 200 response to the transaction is not received within 30
        // seconds from the time the last byte of the transaction is sent, or submitted to the
        // operating system for sending, the element MUST inform the user".
        let key = tx_key(tid.as_bytes());
        if let Some(key) = key.filter(|k| tx.transactions.contains_key(k)) {
            tx.tx_timers
                .push(now + self.config.transaction_timeout, key);
        }
        if flag == Flag::End {
            m.all_sent = true;
            if m.success_report {
                tx.report_timers
                    .push(now + self.config.success_report_timeout, handle);
            }
            // Settled now unless a response or report is still awaited.
            if m.outstanding == 0 {
                self.settle(ctx, handle, false);
            }
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
            if let (Some(tx), Some(key)) =
                (self.sending.as_deref_mut(), tx_key(open.tid.as_bytes()))
            {
                tx.transactions.remove(&key);
            }
        } else {
            self.finish_chunk(ctx, now, open.handle, open.tid, flag);
        }
    }

    /// The message `handle`, if it has no outcome yet.
    fn outgoing(&self, handle: u64) -> Option<&Outgoing> {
        self.sending.as_ref()?.outgoing.get(&handle)
    }

    /// Emits the outcome of a message whose delivery is confirmed as far as it can be.
    /// With `acked`, a chunk of the message was acknowledged first.
    fn settle(&mut self, ctx: &mut Ctx<'_>, handle: u64, acked: bool) {
        let Some(tx) = self.sending.as_deref_mut() else {
            return;
        };
        let Entry::Occupied(mut entry) = tx.outgoing.entry(handle) else {
            return;
        };
        let m = entry.get_mut();
        if acked {
            m.outstanding = m.outstanding.saturating_sub(1);
        }
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
        entry.remove();
        tx.by_message_id.remove(&message_id);
        ctx.emit(Event::Outcome(Outcome {
            handle: MessageHandle(handle),
            message_id,
            result: Ok(delivered),
        }));
    }

    fn forget(&mut self, handle: u64) {
        if let Some(tx) = self.sending.as_deref_mut() {
            if let Some(m) = tx.outgoing.remove(&handle) {
                tx.by_message_id.remove(&m.message_id);
            }
        }
    }

    /// Fails a message: its outcome is emitted now, and a chunk of it still open is ended
    /// with `#`.
    fn fail(&mut self, ctx: &mut Ctx<'_>, handle: u64, failure: Failure) {
        let Some(m) = self.outgoing(handle) else {
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
        let Some(m) = self.sending.as_ref().and_then(|t| t.outgoing.get(&handle)) else {
            return false;
        };
        if !open && m.sent > 0 && !m.all_sent {
            // Between chunks: tell the receiver with an empty chunk that ends with `#`.
            let tid = draw_tid(&mut *self.config.random);
            let head = ChunkHead {
                lines: &self.lines,
                message_id: &m.message_id,
                success_report: m.success_report,
                failure_report: m.failure_report,
                range: (m.sent + 1, None, m.total),
                headers: &m.headers,
                content_type: Some(&m.content_type),
            };
            write_chunk_head(ctx.control, &tid, &head);
            write_chunk_end(ctx.control, &tid, Flag::Aborted);
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
                let mut route = self.begin_send(
                    ctx,
                    now,
                    frame.head(),
                    paths,
                    Some((frame.flag(), &mut body)),
                );
                if let Some(data) = body {
                    if !data.is_empty() {
                        self.send_data(ctx, now, &mut route, data);
                    }
                }
                self.end_send(ctx, now, frame.head(), route, frame.flag());
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
            Some(Method::Send) => self.begin_send(ctx, now, head, paths, None),
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
            write_response(ctx.control, head, code, self.local());
        }
        ctx.emit(Event::Refused(crate::event::Refusal {
            status: code,
            head: head.clone(),
        }));
        Route::Discard
    }

    /// Whether the To-Path names this session: RFC 4975 §7.3: "the To-Path will have exactly
    /// one URI, which MUST map to an existing session". `None` when its URI is malformed.
    fn is_for_us(&self, to_path: PathHeader<'_>) -> Option<bool> {
        let PathHeader::List(to_path) = to_path else {
            return Some(true);
        };
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
        let sender = from_path.rsplit(' ').next()?;
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
        paths: Paths<'_>,
        whole: Option<(Flag, &mut Option<Bytes>)>,
    ) -> Route {
        // An unreadable Failure-Report is answered as if it were "yes", the default.
        let fr = head.failure_report();
        let fr_mode = fr.ok().flatten().unwrap_or_default();
        // RFC 4975 §7.3: "If this is not true, then the receiver MUST generate a 481 error and
        // ignore the request."
        match self.is_for_us(paths.to) {
            Some(true) => {}
            Some(false) => return self.refuse(ctx, head, StatusCode::NO_SUCH_SESSION, fr_mode),
            None => return self.refuse(ctx, head, StatusCode::BAD_REQUEST, fr_mode),
        }
        let from_path = if paths.from_expected {
            PathHeader::Expected
        } else {
            match head.from_path() {
                Ok(Some(list)) => PathHeader::List(list.as_str()),
                _ => return self.refuse(ctx, head, StatusCode::BAD_REQUEST, fr_mode),
            }
        };
        match self.is_from_peer(from_path) {
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
            let accepted = &self.config.accept_types;
            let any = accepted.iter().any(|e| matches!(e, FormatEntry::Any));
            if !any && {
                let (t, s) = media_type(ct);
                !accepted.iter().any(|e| e.matches(t, s))
            } {
                return self.refuse(ctx, head, StatusCode::UNSUPPORTED_MEDIA_TYPE, fr_mode);
            }
        } else if !self
            .receiving
            .as_ref()
            .is_some_and(|r| r.incoming.contains_key(&message_id))
        {
            // A bodiless SEND (such as the first SEND of an active endpoint) carries no
            // message; it is acknowledged and, if asked, reported.
            if success_report {
                self.report_success(ctx, from_path, &message_id, 0);
            }
            return Route::deliver(message_id, start, fr_mode);
        }
        let limits = self.config.limits;
        let rx = self.receiving.get_or_insert_with(Box::default);
        // RFC 4975 §10.5: "A 413 response indicates that the receiver wishes the sender to stop
        // sending the particular message."
        if rx.refused.contains(&message_id)
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
        let digest = rx.digest(&message_id);
        if rx.completed.contains(&digest) {
            let route = Route::deliver(message_id, start, fr_mode).delivered();
            let Some((_, body)) = whole else {
                return route;
            };
            if fr_mode == FailureReport::Yes {
                let to = self.reply_to(from_path);
                write_response_to(ctx.control, head, to, StatusCode::OK, self.local());
            }
            if success_report {
                let end = start + body.as_ref().map_or(0, Bytes::len) as u64;
                self.send_report(
                    ctx,
                    from_path,
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
                && !rx.incoming.contains_key(&message_id)
            {
                ctx.emit(Event::Message(Message {
                    message_id,
                    head: head.clone(),
                    body: body.take().unwrap_or_default(),
                }));
                self.remember_completed(digest);
                // The chunk is complete: answer it now, before its success REPORT.
                if fr_mode == FailureReport::Yes {
                    let to = self.reply_to(from_path);
                    write_response_to(ctx.control, head, to, StatusCode::OK, self.local());
                }
                if success_report {
                    self.report_success(ctx, from_path, &message_id, len as u64);
                }
                return Route::Discard;
            }
        }

        let rx = self.receiving.get_or_insert_with(Box::default);
        if let Some(m) = rx.incoming.get_mut(&message_id) {
            m.head = head.clone();
            m.deadline = now + limits.incomplete_message_timeout;
            if total.is_some() && m.total.is_none() {
                m.total = total;
            }
        } else {
            if rx.incoming.len() >= limits.max_incoming_messages {
                self.refuse_message(ctx, &message_id);
                return self.refuse(ctx, head, StatusCode::MESSAGE_TOO_LARGE, fr_mode);
            }
            let key = self.next_incoming;
            self.next_incoming += 1;
            let whole_size = total.filter(|&t| {
                t <= limits.deliver_whole_up_to as u64
                    && rx.buffered + t as usize <= limits.max_buffered_bytes
            });
            let delivery = match whole_size {
                Some(t) => {
                    rx.buffered += t as usize;
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
            rx.incoming.insert(
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
            rx.incomplete_timers.push(deadline, message_id);
        }
        Route::deliver(message_id, start, fr_mode)
    }

    /// Remembers a completed message by the digest of its Message-ID, forgetting the oldest
    /// beyond [`Limits::remembered_message_ids`](crate::Limits::remembered_message_ids). The
    /// tables grow with use, not ahead of it.
    fn remember_completed(&mut self, digest: u64) {
        let limit = self.config.limits.remembered_message_ids;
        let Some(rx) = self.receiving.as_deref_mut() else {
            return;
        };
        if limit == 0 || !rx.completed.insert(digest) {
            return;
        }
        while rx.completed_order.len() >= limit {
            let Some(old) = rx.completed_order.pop_front() else {
                break;
            };
            rx.completed.remove(&old);
        }
        rx.completed_order.push_back(digest);
    }

    /// Remembers a refused Message-ID so that its later chunks are refused too, and drops what
    /// was received of it.
    fn refuse_message(&mut self, ctx: &mut Ctx<'_>, message_id: &MessageId) {
        let rx = self.receiving.get_or_insert_with(Box::default);
        if !rx.refused.contains(message_id) {
            if rx.refused.len() == REFUSED_MEMORY {
                rx.refused.pop_front();
            }
            rx.refused.push_back(*message_id);
        }
        self.drop_incoming(ctx, message_id, IncomingFailure::TooLarge);
    }

    fn drop_incoming(&mut self, ctx: &mut Ctx<'_>, message_id: &MessageId, why: IncomingFailure) {
        let Some(rx) = self.receiving.as_deref_mut() else {
            return;
        };
        if let Some(m) = rx.incoming.remove(message_id) {
            match m.delivery {
                Delivery::Whole(buf) => rx.buffered -= buf.len(),
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
        let Some(rx) = self.receiving.as_deref_mut() else {
            return;
        };
        let Receiving {
            incoming, buffered, ..
        } = rx;
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
            write_response(ctx.control, &head, code, self.local());
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
            write_response(ctx.control, head, StatusCode::OK, self.local());
        }
        if done {
            return;
        }
        if flag == Flag::Aborted {
            self.drop_incoming(ctx, &message_id, IncomingFailure::Aborted);
            return;
        }
        let Some(rx) = self.receiving.as_deref_mut() else {
            return;
        };
        let Some(m) = rx.incoming.get_mut(&message_id) else {
            return;
        };
        // RFC 4975 §7.3.1: "the chunk that has a termination character of "$" defines the total
        // length of the message."
        if flag == Flag::End {
            if m.total != Some(offset) {
                if let Delivery::Whole(buf) = &mut m.delivery {
                    let keep = (offset as usize).min(buf.len());
                    rx.buffered -= buf.len() - keep;
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
        let Some(m) = rx.incoming.remove(&message_id) else {
            return;
        };
        if let Delivery::Whole(buf) = &m.delivery {
            rx.buffered -= buf.len();
        }
        let digest = rx.digest(&message_id);
        self.remember_completed(digest);
        let total = m.total.unwrap_or_default();
        match m.delivery {
            Delivery::Whole(buf) => ctx.emit(Event::Message(Message {
                message_id,
                head: m.head.clone(),
                body: Bytes::from(buf),
            })),
            Delivery::Pieces => ctx.emit(Event::MessageEnd(MessageEnd {
                key: IncomingKey(m.key),
                result: Ok(total),
            })),
        }
        if m.success_report {
            if let Ok(Some(from_path)) = m.head.from_path() {
                let from_path = PathHeader::List(from_path.as_str());
                self.report_success(ctx, from_path, &message_id, total);
            }
        }
    }

    /// Sends a success REPORT for a whole message to `to_path`, the From-Path of its request
    /// (RFC 4975 §7.1.3: "it MUST send a success report or reports covering all bytes that are
    /// received successfully").
    fn report_success(
        &mut self,
        ctx: &mut Ctx<'_>,
        to_path: PathHeader<'_>,
        message_id: &MessageId,
        total: u64,
    ) {
        self.send_report(
            ctx,
            to_path,
            message_id,
            (1, total, Some(total)),
            StatusCode::OK,
        );
    }

    /// Sends a REPORT to `to_path`, the From-Path of the request it is about.
    fn send_report(
        &mut self,
        ctx: &mut Ctx<'_>,
        to_path: PathHeader<'_>,
        message_id: &MessageId,
        range: (u64, u64, Option<u64>),
        status: StatusCode,
    ) {
        let tid = draw_tid(&mut *self.config.random);
        let report = Report {
            to_path: match to_path {
                PathHeader::Expected => self.peer_path(),
                PathHeader::List(list) => list,
            },
            from: self.local(),
            message_id,
            range,
            status,
        };
        write_report(ctx.control, &tid, &report);
    }

    /// Handles a REPORT about a message this session sent. REPORTs are never answered (RFC 4975
    /// §7.1.2: "MSRP nodes MUST NOT send MSRP responses to REPORT requests").
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
        // RFC 4975 §7.1.2: "If an MSRP element receives a REPORT for a Message-ID it does not
        // recognize, it SHOULD silently ignore the REPORT."
        let Some(mid) = head.message_id().ok().flatten().and_then(MessageId::new) else {
            return;
        };
        let Some(tx) = self.sending.as_deref_mut() else {
            return;
        };
        let Some(&handle) = tx.by_message_id.get(&mid) else {
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
            let Some(m) = tx.outgoing.get_mut(&handle) else {
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
            self.settle(ctx, handle, false);
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
        let Some(tx) = self.sending.as_deref_mut() else {
            return;
        };
        let Some(t) = tx_key(tid).and_then(|k| tx.transactions.remove(&k)) else {
            return;
        };
        let Some(code) = frame.status_code() else {
            return;
        };
        let fatal = code == StatusCode::NO_SUCH_SESSION || code == StatusCode::WRONG_CONNECTION;
        let handle = t.handle;
        if code.is_success() {
            self.settle(ctx, handle, t.expects_ok);
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
        let quiet = self.bind.is_none()
            && self
                .sending
                .as_ref()
                .is_none_or(|t| t.outgoing.is_empty() && t.transactions.is_empty())
            && self
                .receiving
                .as_ref()
                .is_none_or(|r| r.incoming.is_empty());
        (!self.released && quiet)
            .then_some(self.last_activity)
            .flatten()
            .map(|t| t + IDLE_RELEASE)
    }

    /// Gives back the memory of a quiet session: the state of sending (which holds no message
    /// and awaits no response), and the state of receiving but for the refused Message-IDs,
    /// forgetting the completed ones.
    fn release_memory(&mut self) {
        self.released = true;
        self.sending = None;
        if self
            .receiving
            .as_ref()
            .is_some_and(|r| r.refused.is_empty())
        {
            self.receiving = None;
        } else if let Some(rx) = self.receiving.as_deref_mut() {
            rx.completed = FastSet::default();
            rx.completed_order = VecDeque::new();
            rx.incoming.shrink_to_fit();
            rx.incomplete_timers = Timers::default();
            rx.refused.shrink_to_fit();
        }
    }

    /// The earliest deadline of the session's timers.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let tx = self.sending.as_deref();
        let rx = self.receiving.as_deref();
        [
            self.bind.map(|(_, at)| at),
            tx.and_then(|t| t.tx_timers.next()),
            tx.and_then(|t| t.report_timers.next()),
            rx.and_then(|r| r.incomplete_timers.next()),
            self.release_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires every timer due at `now`.
    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>, now: Instant) {
        if self.bind.is_some_and(|(_, at)| at <= now) {
            self.bind = None;
            self.fail_session(ctx, SessionFailure::BindTimeout, FailedBy::SessionFailed);
        }
        while let Some(key) = self.due(now, |t| &mut t.tx_timers) {
            let Some(tx) = self
                .sending
                .as_deref_mut()
                .and_then(|t| t.transactions.remove(&key))
            else {
                continue;
            };
            if tx.expects_ok {
                self.time_out(ctx, tx.handle, FailedBy::Timeout);
            }
        }
        while let Some(handle) = self.due(now, |t| &mut t.report_timers) {
            if self.outgoing(handle).is_some_and(|m| m.all_sent) {
                self.time_out(ctx, handle, FailedBy::ReportTimeout);
            }
        }
        while let Some((_, mid)) = self
            .receiving
            .as_deref_mut()
            .and_then(|r| r.incomplete_timers.pop_due(now))
        {
            let Some(rx) = self.receiving.as_deref_mut() else {
                break;
            };
            let Some(m) = rx.incoming.get(&mid) else {
                continue;
            };
            if m.deadline > now {
                let at = m.deadline;
                rx.incomplete_timers.push(at, mid);
                continue;
            }
            // Nothing is lost silently: the sender learns that the message failed.
            let head = m.head.clone();
            let range = (1, m.received.end(), m.total);
            let report = m.failure_report != FailureReport::No;
            self.drop_incoming(ctx, &mid, IncomingFailure::TimedOut);
            if report {
                if let Ok(Some(from_path)) = head.from_path() {
                    let to = PathHeader::List(from_path.as_str());
                    self.send_report(ctx, to, &mid, range, StatusCode::REQUEST_TIMEOUT);
                }
            }
        }
        self.compact_timers();
        if self.release_at().is_some_and(|t| t <= now) {
            self.release_memory();
        }
    }

    /// The key of a timer of the state of sending that is due at `now`, removed.
    fn due<K: Copy>(
        &mut self,
        now: Instant,
        timers: impl FnOnce(&mut Sending) -> &mut Timers<K>,
    ) -> Option<K> {
        let (_, key) = timers(self.sending.as_deref_mut()?).pop_due(now)?;
        Some(key)
    }

    /// Fails a message whose response or report did not come in time. RFC 4975 §10.4: "An
    /// endpoint MUST treat a 408 response in the same manner as it would treat a local
    /// timeout."
    fn time_out(&mut self, ctx: &mut Ctx<'_>, handle: u64, by: FailedBy) {
        let failure = Failure {
            status: Some(StatusCode::REQUEST_TIMEOUT),
            by,
            comment: None,
        };
        self.fail(ctx, handle, failure);
    }

    fn compact_timers(&mut self) {
        if let Some(tx) = self.sending.as_deref_mut() {
            let Sending {
                outgoing,
                transactions,
                tx_timers,
                report_timers,
                ..
            } = tx;
            tx_timers.compact(transactions.len(), |tid| transactions.contains_key(tid));
            report_timers.compact(outgoing.len(), |h| outgoing.contains_key(h));
        }
        if let Some(rx) = self.receiving.as_deref_mut() {
            let incoming = &rx.incoming;
            rx.incomplete_timers
                .compact(incoming.len(), |m| incoming.contains_key(m));
        }
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
        let mut handles: Vec<u64> = self
            .sending
            .as_ref()
            .map(|t| t.outgoing.keys().copied().collect())
            .unwrap_or_default();
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
        let mut receiving: Vec<MessageId> = self
            .receiving
            .as_ref()
            .map(|r| r.incoming.keys().copied().collect())
            .unwrap_or_default();
        receiving.sort_unstable();
        for mid in receiving {
            self.drop_incoming(ctx, &mid, IncomingFailure::SessionEnded);
        }
        // Every message has its outcome: nothing of sending remains but spare capacity and
        // transactions whose responses no longer matter.
        self.sending = None;
        self.bind = None;
        if let Some(rx) = self.receiving.as_deref_mut() {
            rx.incomplete_timers = Timers::default();
        }
        true
    }

    /// Whether nothing remains to send or to wait for.
    pub(crate) fn is_idle(&self) -> bool {
        self.bind.is_none()
            && self.sending.as_ref().is_none_or(|t| {
                t.outgoing.is_empty() && t.transactions.values().all(|t| !t.expects_ok)
            })
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
