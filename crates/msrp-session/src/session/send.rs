//! Sending: the messages a session sends, cut into chunks (interrupted as RFC 4975 §7.1.1
//! allows), their transactions and responses, and their outcomes.

use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::io;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use msrp_wire::{
    ByteRange, FailureReport, Flag, Frame, MessageHeaders, SendHead, StatusCode, SuccessReport,
    TransactionId, choose_transaction_id, end_line, find_end_line,
};

use super::{Ctx, Env, draw_tid, draw_tid_random, halves, media_type};
use crate::config::{Chunking, Random, SessionConfig};
use crate::event::{Delivered, Event, FailedBy, Failure, Outcome};
use crate::frames::write_traced;
use crate::hash::FastMap;
use crate::message::{Body, BodySource, OutgoingMessage};
use crate::ranges::RangeSet;
use crate::timer::Timers;
use crate::transactions::{Transactions, tx_key};
use crate::{MessageHandle, MessageId};

/// Bytes read from a body source at a time.
const READ_SIZE: usize = 64 << 10;
/// RFC 4975 §7.1.1: "senders MUST NOT send chunks with a body larger than 2048 octets unless
/// they are prepared to interrupt them".
pub(super) const UNINTERRUPTIBLE_MAX: usize = 2048;
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
    /// The body of a message, and whether it is bodiless.
    #[inline]
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
pub(super) struct Outgoing {
    message_id: MessageId,
    /// Its extension headers and Content-Type, checked when it was queued.
    headers: MessageHeaders,
    pub(super) success_report: bool,
    failure_report: FailureReport,
    body: OutBody,
    bodiless: bool,
    pub(super) total: Option<u64>,
    /// Bytes handed to the connection.
    pub(super) sent: u64,
    /// The chunk with `$` was written.
    pub(super) all_sent: bool,
    /// Chunks awaiting their 200.
    outstanding: u32,
    /// Byte ranges (from zero) confirmed by success REPORTs.
    pub(super) reported: RangeSet,
    /// The end-line of the open chunk occurs ahead in the body: end the chunk first.
    cut: bool,
    /// Random bytes for a transaction id, drawn with the Message-ID, tried first for the
    /// first chunk.
    first_tid: Option<[u8; 16]>,
}

impl Outgoing {
    /// The head of a chunk of the message that covers `byte_range`.
    #[inline]
    fn send_head(&self, byte_range: ByteRange) -> SendHead<'_> {
        SendHead {
            message_id: &self.message_id,
            success_report: if self.success_report {
                SuccessReport::Yes
            } else {
                SuccessReport::No
            },
            failure_report: self.failure_report,
            byte_range,
            headers: &self.headers,
        }
    }
}

/// A message that passed [`Sending::check`], ready to be queued.
pub(super) struct Checked {
    message_id: Option<MessageId>,
    body: Body,
    headers: MessageHeaders,
    success_report: bool,
    failure_report: FailureReport,
    /// Whether its content type is to be remembered as checked.
    remember: bool,
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
    /// Whether the chunk states its range-end: a fixed-size chunk of at most 2048 bytes, or the
    /// whole rest of a short body. Its id was chosen against all of its body, so that its
    /// end-line cannot occur in it, and it is written whole, never interrupted.
    pub(crate) stated: bool,
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
pub(super) struct Tx {
    /// The message.
    pub(super) handle: u64,
    /// Whether a 200 is expected (Failure-Report `yes`); otherwise only errors may come.
    pub(super) expects_ok: bool,
}

/// What a session holds while it sends messages, and what it does with them.
#[derive(Default)]
pub(super) struct Sending {
    /// The last content type that passed the checks of its type in [`Sending::check`]: the
    /// next message of that type needs them not again.
    checked_content_type: String,
    pub(super) outgoing: FastMap<u64, Outgoing>,
    pub(super) by_message_id: FastMap<MessageId, u64>,
    ready: VecDeque<u64>,
    /// Transactions awaiting their response, by the ids this session drew for them.
    pub(super) transactions: Transactions<Tx>,
    pub(super) tx_timers: Timers<u128>,
    pub(super) report_timers: Timers<u64>,
}

impl Sending {
    /// Messages queued or in flight.
    #[inline]
    pub(super) fn messages(&self) -> usize {
        self.outgoing.len()
    }

    /// Transactions awaiting their response.
    #[inline]
    pub(super) fn transaction_count(&self) -> usize {
        self.transactions.len()
    }

    /// Whether no message is queued or in flight, and no 200 is awaited.
    #[inline]
    pub(super) fn is_idle(&self) -> bool {
        self.outgoing.is_empty() && self.transactions.values().all(|t| !t.expects_ok)
    }

    /// Checks a message before it is queued, against the state of sending `sending` if there
    /// is one: what the peer takes, and what the message adds to the heads of its chunks.
    #[inline]
    pub(super) fn check(
        sending: Option<&Self>,
        config: &SessionConfig,
        msg: OutgoingMessage,
    ) -> Result<Checked, SendError> {
        let bodiless = matches!(msg.body, Body::None);
        // A message of the same type as the last one passes the same checks of its type: only
        // its size and its headers are left to check.
        let same = !bodiless
            && !msg.content_type.is_empty()
            && sending.is_some_and(|t| t.checked_content_type == msg.content_type);
        if !bodiless && !same {
            let (t, s) = media_type(&msg.content_type);
            if t.is_empty() || s.is_empty() {
                return Err(SendError::InvalidHeader);
            }
            // RFC 4975 §8.6: "An MSRP endpoint MUST NOT send content of a type not signaled by
            // the peer in either an accept-types or an accept-wrapped-types attribute.
            // Furthermore, it MUST NOT send a top-level (i.e., not wrapped) MIME document of a
            // type not signaled in the accept-types attribute."
            if let Some(accepted) = &config.peer_accept_types {
                if !accepted.iter().any(|e| e.matches(t, s)) {
                    return Err(SendError::NotAccepted);
                }
            }
        }
        // RFC 4975 §8.6: "Senders SHOULD NOT exceed the max-size limit".
        if let (Some(max), Some(len)) = (config.peer_max_size, msg.len()) {
            if len > max {
                return Err(SendError::TooLarge);
            }
        }
        let OutgoingMessage {
            content_type,
            body,
            success_report,
            failure_report,
            headers,
            message_id,
        } = msg;
        // What the message adds to its chunks' heads is checked now, so that a header the
        // grammar refuses, or one the session writes itself, is reported here rather than in
        // the middle of the transfer.
        let headers = MessageHeaders::new(headers, (!bodiless).then_some(content_type))
            .map_err(|_| SendError::InvalidHeader)?;
        Ok(Checked {
            message_id,
            body,
            headers,
            success_report,
            failure_report,
            remember: !bodiless && !same,
        })
    }

    /// Queues a message that passed [`check`](Self::check) as `handle`, drawing its Message-ID
    /// (unless it has one) from `random`.
    #[inline]
    pub(super) fn queue(&mut self, random: &mut dyn Random, handle: u64, checked: Checked) {
        let Checked {
            message_id,
            body,
            headers,
            success_report,
            failure_report,
            remember,
        } = checked;
        if let Some(content_type) = headers.content_type().filter(|_| remember) {
            self.checked_content_type.clear();
            self.checked_content_type.push_str(content_type);
        }
        // One draw gives the Message-ID and the id first tried for the first chunk.
        let mut r = [0u8; 32];
        random.fill(&mut r);
        let (id_random, tid_random) = halves(r);
        let message_id = message_id.unwrap_or_else(|| MessageId::from_random(id_random));
        let (body, bodiless) = OutBody::new(body);
        let total = match (&body.source, bodiless) {
            (Some(source), _) => source.total_len(),
            (None, true) => Some(0),
            (None, false) => Some(body.buffered as u64),
        };
        self.outgoing.insert(
            handle,
            Outgoing {
                message_id,
                headers,
                success_report,
                failure_report,
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
        self.by_message_id.insert(message_id, handle);
        self.ready.push_back(handle);
    }

    /// Whether a message waits for its turn on the connection.
    #[inline]
    pub(super) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The next message to write, removed from the queue.
    #[inline]
    pub(super) fn pop_ready(&mut self) -> Option<u64> {
        while let Some(h) = self.ready.pop_front() {
            if self.outgoing.contains_key(&h) {
                return Some(h);
            }
        }
        None
    }

    /// Puts a message back at the end of the queue after its turn.
    #[inline]
    pub(super) fn requeue(&mut self, handle: u64) {
        if self.outgoing.contains_key(&handle) {
            self.ready.push_back(handle);
        }
    }

    /// Starts a chunk of message `handle`: writes its head into `out`. `bind` is the id of the
    /// bodiless SEND of an active endpoint while it awaits its response. Returns `None` when
    /// nothing stays open: the message is gone, or was bodiless and is written whole.
    #[inline]
    pub(super) fn start_chunk(
        &mut self,
        ctx: &mut Ctx<'_>,
        env: Env<'_>,
        bind: Option<TransactionId>,
        now: Instant,
        handle: u64,
        out: &mut BytesMut,
    ) -> Option<OpenChunk> {
        let chunking = env.config.chunking;
        let m = self.outgoing.get_mut(&handle)?;
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
        let transactions = &self.transactions;
        let taken = |t: &TransactionId| {
            tx_key(t.as_bytes()).is_none_or(|k| transactions.contains_key(&k)) || bind == Some(*t)
        };
        let random = &mut *env.config.random;
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
            choose_transaction_id(bytes, TID_ATTEMPTS, &mut next)
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
            // RFC 4975 §7.1.1: "The range-end field SHOULD indicate the position of the last
            // byte in the body, if known. It MUST take the value of "*" if the position is
            // unknown, or if the request needs to be interruptible." The rest of a short body,
            // all here, goes whole: its end is known, and it is not interrupted.
            _ if whole => {
                let len = checked_len as u64;
                (Some(len), Some(m.sent + len))
            }
            (Chunking::Fixed(size), None) => (Some(size as u64), None),
            _ => (None, None),
        };
        let head = m.send_head(ByteRange {
            start: if m.bodiless { 1 } else { start },
            end: range_end,
            total: m.total,
        });
        write_traced(out, |out| env.template.encode_send(out, &tid, &head));
        // The transaction exists from its first byte: a response may come before its last, such
        // as a 413 that stops the message.
        if m.failure_report != FailureReport::No {
            let expects_ok = m.failure_report == FailureReport::Yes;
            if let Some(key) = tx_key(tid.as_bytes()) {
                self.transactions.insert(key, Tx { handle, expects_ok });
            }
            if expects_ok {
                m.outstanding += 1;
            }
        }
        if m.bodiless {
            self.finish_chunk(ctx, env.config, now, handle, tid, Flag::End);
            return None;
        }
        Some(OpenChunk {
            handle,
            tid,
            written: 0,
            limit,
            stated: stated.is_some() || whole,
        })
    }

    /// The next piece of an open chunk, at most `max` bytes.
    #[inline]
    pub(super) fn next_piece(&mut self, ctx: &mut Ctx<'_>, open: &OpenChunk, max: usize) -> Piece {
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
        let scan = n + lookahead - 1;
        let hit = if open.stated {
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

    /// Ends a chunk whose end-line was written: a chunk ended with `#` takes its transaction
    /// with it; any other is finished.
    #[inline]
    pub(super) fn end_chunk(
        &mut self,
        ctx: &mut Ctx<'_>,
        config: &SessionConfig,
        now: Instant,
        open: &OpenChunk,
        flag: Flag,
    ) {
        if flag == Flag::Aborted {
            // The message is over; a response to this chunk no longer matters.
            if let Some(key) = tx_key(open.tid.as_bytes()) {
                self.transactions.remove(&key);
            }
        } else {
            self.finish_chunk(ctx, config, now, open.handle, open.tid, flag);
        }
    }

    /// Ends a chunk: registers its transaction, and settles the message when it was the last.
    fn finish_chunk(
        &mut self,
        ctx: &mut Ctx<'_>,
        config: &SessionConfig,
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
        let key = tx_key(tid.as_bytes());
        if let Some(key) = key.filter(|k| self.transactions.contains_key(k)) {
            self.tx_timers.push(now + config.transaction_timeout, key);
        }
        if flag == Flag::End {
            m.all_sent = true;
            if m.success_report {
                self.report_timers
                    .push(now + config.success_report_timeout, handle);
            }
            // Settled now unless a response or report is still awaited.
            if m.outstanding == 0 {
                self.settle(ctx, handle, false);
            }
        }
    }

    /// The message `handle`, if it has no outcome yet.
    pub(super) fn outgoing(&self, handle: u64) -> Option<&Outgoing> {
        self.outgoing.get(&handle)
    }

    /// Emits the outcome of a message whose delivery is confirmed as far as it can be.
    /// With `acked`, a chunk of the message was acknowledged first.
    pub(super) fn settle(&mut self, ctx: &mut Ctx<'_>, handle: u64, acked: bool) {
        let Entry::Occupied(mut entry) = self.outgoing.entry(handle) else {
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
        self.by_message_id.remove(&message_id);
        ctx.emit(Event::Outcome(Outcome {
            handle: MessageHandle(handle),
            message_id,
            result: Ok(delivered),
        }));
    }

    /// Fails a message: its outcome is emitted now, and a chunk of it still open is ended
    /// with `#`.
    pub(super) fn fail(&mut self, ctx: &mut Ctx<'_>, handle: u64, failure: Failure) {
        let Some(m) = self.outgoing.remove(&handle) else {
            return;
        };
        let message_id = m.message_id;
        self.by_message_id.remove(&message_id);
        ctx.emit(Event::Outcome(Outcome {
            handle: MessageHandle(handle),
            message_id,
            result: Err(failure),
        }));
    }

    /// Fails every message without an outcome, in the order they were queued, with `status`
    /// and `by`: the session has ended.
    pub(super) fn fail_all(&mut self, ctx: &mut Ctx<'_>, status: Option<StatusCode>, by: FailedBy) {
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
    }

    /// Aborts a message; see [`Connection::abort`](crate::Connection::abort). `open` says
    /// whether a chunk of it is open on the connection (which then ends it with `#`).
    pub(super) fn abort(
        &mut self,
        ctx: &mut Ctx<'_>,
        env: Env<'_>,
        handle: u64,
        open: bool,
    ) -> bool {
        let Some(m) = self.outgoing.get(&handle) else {
            return false;
        };
        if !open && m.sent > 0 && !m.all_sent {
            // Between chunks: tell the receiver with an empty chunk that ends with `#`.
            let tid = draw_tid(&mut *env.config.random);
            let head = m.send_head(ByteRange {
                start: m.sent + 1,
                end: None,
                total: m.total,
            });
            write_traced(ctx.control, |out| {
                env.template.encode_send(out, &tid, &head)
            });
            end_line(ctx.control, &tid, Flag::Aborted);
        }
        let failure = Failure {
            status: None,
            by: FailedBy::Aborted,
            comment: None,
        };
        self.fail(ctx, handle, failure);
        true
    }

    /// Handles a response to a transaction of a message: the 200 that settles a chunk, or the
    /// error that fails its message. Returns the code when it fails the session too (481, 506).
    #[inline]
    pub(super) fn handle_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        tid: &[u8],
        frame: &Frame,
    ) -> Option<StatusCode> {
        let t = self.transactions.remove(&tx_key(tid)?)?;
        let code = frame.status_code()?;
        let fatal = code == StatusCode::NO_SUCH_SESSION || code == StatusCode::WRONG_CONNECTION;
        let handle = t.handle;
        if code.is_success() {
            self.settle(ctx, handle, t.expects_ok);
            return None;
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
        fatal.then_some(code)
    }
}

fn source_failure(e: &io::Error) -> Failure {
    Failure {
        status: None,
        by: FailedBy::Source,
        comment: Some(e.to_string()),
    }
}
