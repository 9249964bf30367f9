//! Receiving: the SENDs a session receives, their chunks reassembled by Byte-Range in any
//! order, duplicates, the limits a peer may not exceed, and the responses.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::time::Instant;

use bytes::Bytes;
use msrp_wire::{
    ByteRange, FailureReport, Flag, Head, HeadTemplate, HeaderError, StatusCode, SuccessReport,
    encode_response,
};

use super::report::{report_failure, report_success, send_report};
use super::{Ctx, Env, PathHeader, media_type, reply_to};
use crate::FormatEntry;
use crate::config::SessionConfig;
use crate::event::{Event, IncomingFailure, Message, MessageData, MessageEnd, MessageStart};
use crate::frames::write_traced;
use crate::gaps::{GapBudget, GapCharge};
use crate::hash::{FastMap, FastSet};
use crate::ranges::RangeSet;
use crate::sink::BodySink;
use crate::timer::Timers;
use crate::{IncomingKey, MessageId};

/// Message-IDs refused with 413 that are remembered, so later chunks get 413 too.
const REFUSED_MEMORY: usize = 64;

/// How chunks of a message being received are delivered.
enum Delivery {
    /// Into a buffer of the announced total, delivered whole when complete.
    Whole(Vec<u8>),
    /// As data events at their offsets.
    Pieces,
    /// To the application's sink, at their offsets.
    Sink(Box<dyn BodySink>),
}

/// A message being received.
pub(super) struct Incoming {
    pub(super) message_id: MessageId,
    key: u64,
    /// The head of the latest chunk: its From-Path addresses REPORTs.
    pub(super) head: Head,
    pub(super) total: Option<u64>,
    pub(super) received: RangeSet,
    delivery: Delivery,
    success_report: bool,
    pub(super) failure_report: FailureReport,
    /// When it is dropped if no data arrives.
    pub(super) deadline: Instant,
    /// Whether `total` was set by the chunk that ended with `$`, rather than announced.
    final_total: bool,
    /// The bytes received beyond its first gap, as counted against the limits (only for
    /// delivery in pieces).
    gap: GapCharge,
}

impl Incoming {
    /// Counts what the message holds beyond its first gap now, against the session's limit
    /// (`limit`, with `session_held` held by all of its messages) and the shared `budget`.
    /// `false`, changing nothing, when that would go past either.
    #[inline]
    fn count_gap(
        &mut self,
        session_held: &mut u64,
        limit: u64,
        budget: Option<&GapBudget>,
    ) -> bool {
        let held = self.received.beyond_gap();
        let before = self.gap.bytes();
        if held == before {
            return true;
        }
        let others = *session_held - before;
        // RFC 4975 §7.3.1: "The receiver forms a virtual buffer to receive the message, keeping
        // track of which bytes have been received and which are missing." What arrives beyond
        // a missing byte is bounded, per session and per endpoint.
        if others.saturating_add(held) > limit || !self.gap.set(held, budget) {
            return false;
        }
        *session_held = others + held;
        true
    }
}

/// Where the body of a SEND being received goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Route {
    /// Into the incoming message whose Message-ID has the digest `digest`, at `offset` (from
    /// zero) for the next byte.
    Deliver {
        /// The keyed digest of the Message-ID, which the message is found by.
        digest: u64,
        /// Whether the From-Path is the peer's path as the session writes it, so that the
        /// response goes to the session's next hop without reading the header again.
        from_expected: bool,
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

impl Route {
    /// Into the message of `chunk`, whose Message-ID has the digest `digest`.
    #[inline]
    pub(super) fn deliver(chunk: &Chunk<'_>, digest: u64) -> Self {
        Route::Deliver {
            digest,
            from_expected: matches!(chunk.from_path, PathHeader::Expected),
            offset: chunk.start,
            failure_report: chunk.failure_report,
            answered: false,
            done: false,
        }
    }

    /// The same route, for a body that must not be delivered again.
    #[inline]
    fn delivered(mut self) -> Self {
        if let Route::Deliver { done, .. } = &mut self {
            *done = true;
        }
        self
    }

    /// Moves the route past `len` body bytes, and returns where they lie in the message, from
    /// zero, when they are to be delivered.
    #[inline]
    pub(super) fn advance(&mut self, len: usize) -> Option<(u64, u64)> {
        let Route::Deliver {
            offset,
            done: false,
            ..
        } = self
        else {
            return None;
        };
        let start = *offset;
        let end = start + len as u64;
        *offset = end;
        Some((start, end))
    }
}

/// A SEND being received, as read from its head.
pub(super) struct Chunk<'a> {
    pub(super) head: &'a Head,
    /// Its From-Path, which REPORTs about it are addressed to.
    pub(super) from_path: PathHeader<'a>,
    pub(super) message_id: MessageId,
    /// Where its body starts in the message, from zero.
    pub(super) start: u64,
    /// The total its Byte-Range announces.
    pub(super) total: Option<u64>,
    pub(super) failure_report: FailureReport,
    pub(super) success_report: bool,
}

impl<'a> Chunk<'a> {
    /// Reads the headers of a SEND that routing let through; `failure_report` is its
    /// Failure-Report as read already. `Err` with the code to refuse it with.
    #[inline]
    pub(super) fn read(
        head: &'a Head,
        from_path: PathHeader<'a>,
        failure_report: Result<Option<FailureReport>, HeaderError>,
        config: &SessionConfig,
    ) -> Result<Self, StatusCode> {
        // RFC 4975 §10.2: "A 400 response indicates that a request was unintelligible."
        let sr = head.success_report();
        let (Ok(Some(mid)), Ok(range), Ok(fr), Ok(sr)) =
            (head.message_id(), head.byte_range(), failure_report, sr)
        else {
            return Err(StatusCode::BAD_REQUEST);
        };
        let message_id = MessageId::new(mid).map_err(|_| StatusCode::BAD_REQUEST)?;
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
                    return Err(StatusCode::BAD_REQUEST);
                }
                (r.start - 1, r.total)
            }
            // RFC 4975 §7.3.1: "If the request contains no Byte-Range header field, or contains
            // one with a range-start value of "1", and the closing line continuation flag has a
            // value of "$", then the request contained the entire message."
            None => (0, None),
        };
        if head.has_body() {
            // RFC 4975 §7.1: "If the request has a body, it MUST contain a Content-Type header
            // field."
            let Ok(Some(ct)) = head.content_type_str() else {
                return Err(StatusCode::BAD_REQUEST);
            };
            // RFC 4975 §7.3.1: "If the SEND request contained a Content-Type header field
            // indicating an unsupported media-type, and the Failure-Report value is not "no",
            // the receiver MUST generate a response with a status code of 415."
            let accepted = &config.accept_types;
            let any = accepted.iter().any(|e| matches!(e, FormatEntry::Any));
            if !any && {
                let (t, s) = media_type(ct);
                !accepted.iter().any(|e| e.matches(t, s))
            } {
                return Err(StatusCode::UNSUPPORTED_MEDIA_TYPE);
            }
        }
        Ok(Self {
            head,
            from_path,
            message_id,
            start,
            total,
            failure_report: fr.unwrap_or_default(),
            success_report: sr.unwrap_or_default() == SuccessReport::Yes,
        })
    }
}

/// Writes a response to the request `head`, from the session's local URI.
#[inline]
pub(super) fn respond(ctx: &mut Ctx<'_>, template: &HeadTemplate, head: &Head, code: StatusCode) {
    crate::frames::respond(ctx.control, head, code, template.from_path());
}

/// Acknowledges the SEND `head` with a 200, whose From-Path routing read as `from_path`.
#[inline]
pub(super) fn acknowledge(
    ctx: &mut Ctx<'_>,
    template: &HeadTemplate,
    head: &Head,
    from_path: PathHeader<'_>,
) {
    let (to, from) = (reply_to(template, from_path), template.from_path());
    write_traced(ctx.control, |out| {
        encode_response(out, head, StatusCode::OK, to, from);
    });
}

/// Refuses a request: answers it with `code` unless its Failure-Report `fr` is "no", and tells
/// the application. The request's body goes nowhere.
pub(super) fn refuse(
    ctx: &mut Ctx<'_>,
    template: &HeadTemplate,
    head: &Head,
    code: StatusCode,
    fr: FailureReport,
) -> Route {
    if fr != FailureReport::No {
        respond(ctx, template, head, code);
    }
    ctx.emit(Event::Refused(crate::event::Refusal {
        status: code,
        head: head.clone(),
    }));
    Route::Discard
}

/// What a session holds while it receives messages, what it remembers of them, and what it
/// does with their chunks.
#[derive(Default)]
pub(super) struct Receiving {
    /// The key of the digests of Message-IDs, per session: a peer chooses the ids, so they
    /// are digested with the standard keyed hash, once per chunk, and the tables below are
    /// keyed by the digests.
    digest_key: RandomState,
    /// Messages being received, by the digests of their Message-IDs.
    pub(super) incoming: FastMap<u64, Incoming>,
    pub(super) incomplete_timers: Timers<u64>,
    /// Bytes held for messages delivered whole.
    buffered: usize,
    /// Bytes received beyond the first gap of messages delivered in pieces.
    gap_bytes: u64,
    pub(super) refused: VecDeque<MessageId>,
    /// Keyed 64-bit digests of the Message-IDs of completed messages, and their order.
    pub(super) completed: FastSet<u64>,
    pub(super) completed_order: VecDeque<u64>,
}

impl Receiving {
    /// Messages being received.
    #[inline]
    pub(super) fn messages(&self) -> usize {
        self.incoming.len()
    }

    /// Bytes held for messages delivered whole.
    #[inline]
    pub(super) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Bytes received beyond the first gap of messages delivered in pieces.
    #[inline]
    pub(super) fn gap_bytes(&self) -> u64 {
        self.gap_bytes
    }

    /// Whether the message `message_id`, of digest `digest`, is being received.
    #[inline]
    pub(super) fn is_receiving(&self, message_id: &MessageId, digest: u64) -> bool {
        self.incoming
            .get(&digest)
            .is_some_and(|m| m.message_id == *message_id)
    }

    /// The digest of a Message-ID, keyed with a per-session key, so that a peer can neither
    /// predict it nor make two ids collide on purpose.
    #[inline]
    pub(super) fn digest(&self, message_id: &MessageId) -> u64 {
        self.digest_key.hash_one(message_id)
    }

    /// Takes the head of a chunk of a message (one with a body, or a bodiless one of a message
    /// being received): refuses it, answers a duplicate, delivers a small whole message at
    /// once, or keeps the message's state and says where the body goes. `whole` is the flag
    /// and body of a chunk that came whole; `next_key` numbers the messages of the session.
    #[inline]
    pub(super) fn receive_head(
        &mut self,
        ctx: &mut Ctx<'_>,
        env: Env<'_>,
        now: Instant,
        chunk: &Chunk<'_>,
        whole: Option<(Flag, &mut Option<Bytes>)>,
        next_key: &mut u64,
    ) -> Route {
        let Chunk {
            head,
            from_path,
            message_id,
            start,
            total,
            failure_report: fr_mode,
            success_report,
        } = *chunk;
        let digest = self.digest(&message_id);
        let limits = env.config.limits;
        // RFC 4975 §10.5: "A 413 response indicates that the receiver wishes the sender to stop
        // sending the particular message."
        if self.refused.contains(&message_id)
            || total.is_some_and(|t| t > limits.max_message_size)
            || start > limits.max_message_size
        {
            return self.refuse_too_large(ctx, env.template, head, &message_id, digest, fr_mode);
        }

        // RFC 4975 §5.4: "If the receiving endpoint receives more than one message with the same
        // Message-ID, it SHOULD assume that the messages are duplicates." and "acknowledgments
        // as needed based on the Failure-Report and Success-Report settings are still necessary
        // even for requests containing duplicate content."
        if self.completed.contains(&digest) {
            let route = Route::deliver(chunk, digest).delivered();
            let Some((_, body)) = whole else {
                return route;
            };
            if fr_mode == FailureReport::Yes {
                acknowledge(ctx, env.template, head, from_path);
            }
            if success_report {
                let end = start + body.as_ref().map_or(0, Bytes::len) as u64;
                send_report(
                    ctx,
                    env,
                    from_path,
                    &message_id,
                    ByteRange {
                        start: start + 1,
                        end: Some(end),
                        total,
                    },
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
                && env.config.sink.is_none()
                && !self.incoming.contains_key(&digest)
            {
                ctx.emit(Event::Message(Message {
                    message_id,
                    head: head.clone(),
                    body: body.take().unwrap_or_default(),
                }));
                self.remember_completed(digest, limits.remembered_message_ids);
                // The chunk is complete: answer it now, before its success REPORT.
                if fr_mode == FailureReport::Yes {
                    acknowledge(ctx, env.template, head, from_path);
                }
                if success_report {
                    report_success(ctx, env, from_path, &message_id, len as u64);
                }
                return Route::Discard;
            }
        }

        if let Some(m) = self.incoming.get_mut(&digest) {
            if m.message_id != message_id {
                // Two Message-IDs with one 64-bit keyed digest: a peer cannot aim for it, and
                // it practically never happens by chance. The newcomer is refused rather than
                // mixed into the other message.
                return refuse(
                    ctx,
                    env.template,
                    head,
                    StatusCode::MESSAGE_TOO_LARGE,
                    fr_mode,
                );
            }
            m.head = head.clone();
            m.deadline = now + limits.incomplete_message_timeout;
            if total.is_some() && m.total.is_none() {
                m.total = total;
            }
        } else {
            if self.incoming.len() >= limits.max_incoming_messages {
                return self.refuse_too_large(
                    ctx,
                    env.template,
                    head,
                    &message_id,
                    digest,
                    fr_mode,
                );
            }
            let key = *next_key;
            *next_key += 1;
            let announce = || MessageStart {
                key: IncomingKey(key),
                message_id,
                head: head.clone(),
                total,
            };
            let mut taken = None;
            if let Some(sink) = env.config.sink.as_mut() {
                let announced = announce();
                match sink.start(&announced) {
                    Ok(body) => taken = body.map(|body| (body, announced)),
                    Err(code) => {
                        // RFC 4975 §7.1.4: "If an MSRP endpoint receives a SEND request that it
                        // cannot process for some reason, and the Failure-Report header field
                        // either was not present in the original request or had a value of
                        // "yes", it SHOULD simply include the appropriate error code in the
                        // transaction response." Its later chunks get 413 (RFC 4975 §10.5).
                        let code = if code.is_success() {
                            StatusCode::MESSAGE_TOO_LARGE
                        } else {
                            code
                        };
                        self.remember_refused(&message_id);
                        return refuse(ctx, env.template, head, code, fr_mode);
                    }
                }
            }
            let whole_size = total.filter(|&t| {
                t <= limits.deliver_whole_up_to as u64
                    && self.buffered + t as usize <= limits.max_buffered_bytes
            });
            let delivery = match (taken, whole_size) {
                (Some((body, announced)), _) => {
                    ctx.emit(Event::MessageStart(announced));
                    Delivery::Sink(body)
                }
                (None, Some(t)) => {
                    self.buffered += t as usize;
                    Delivery::Whole(vec![0; t as usize])
                }
                (None, None) => {
                    ctx.emit(Event::MessageStart(announce()));
                    Delivery::Pieces
                }
            };
            let deadline = now + limits.incomplete_message_timeout;
            self.incoming.insert(
                digest,
                Incoming {
                    message_id,
                    key,
                    head: head.clone(),
                    total,
                    received: RangeSet::default(),
                    delivery,
                    success_report,
                    failure_report: fr_mode,
                    deadline,
                    final_total: false,
                    gap: GapCharge::default(),
                },
            );
            self.incomplete_timers.push(deadline, digest);
        }
        Route::deliver(chunk, digest)
    }

    /// Takes body bytes of a SEND being received, which lie at `range` (from zero) in their
    /// message; a refusal (413, or 400 for data past a total the peer set) ends the `route`.
    #[inline]
    pub(super) fn receive_data(
        &mut self,
        ctx: &mut Ctx<'_>,
        env: Env<'_>,
        now: Instant,
        route: &mut Route,
        (start, end): (u64, u64),
        data: Bytes,
    ) {
        let Route::Deliver {
            digest,
            failure_report,
            answered,
            ..
        } = *route
        else {
            return;
        };
        let limits = env.config.limits;
        let Some(m) = self.incoming.get_mut(&digest) else {
            return;
        };
        let mid = m.message_id;
        let too_large = (StatusCode::MESSAGE_TOO_LARGE, IncomingFailure::TooLarge);
        let refusal = if end > limits.max_message_size {
            Some(too_large)
        } else if m.final_total && m.total.is_some_and(|t| end > t) {
            // Data past the end that a `$` chunk set: the peer contradicts itself.
            Some((StatusCode::BAD_REQUEST, IncomingFailure::TooLarge))
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
                    self.buffered -= buf.len();
                    to_pieces(ctx, m);
                }
            }
            m.received.insert(start, end);
            if m.received.pieces() > limits.max_ranges {
                Some(too_large)
            } else {
                match &mut m.delivery {
                    // The later chunk takes precedence (RFC 4975 §7.3.1).
                    Delivery::Whole(buf) => {
                        buf[start as usize..end as usize].copy_from_slice(&data);
                        None
                    }
                    Delivery::Pieces => {
                        if m.count_gap(&mut self.gap_bytes, limits.max_gap_bytes, ctx.gaps) {
                            ctx.emit(Event::MessageData(MessageData {
                                key: IncomingKey(m.key),
                                offset: start,
                                data,
                            }));
                            None
                        } else {
                            // RFC 4975 §10.5: "A 413 response indicates that the receiver
                            // wishes the sender to stop sending the particular message."
                            Some(too_large)
                        }
                    }
                    Delivery::Sink(body) => match body.write_at(start, &data) {
                        Ok(()) => None,
                        // RFC 4975 §7.1.4: "it SHOULD simply include the appropriate error
                        // code in the transaction response": this chunk is not answered yet.
                        Err(_) => Some((StatusCode::MESSAGE_TOO_LARGE, IncomingFailure::Sink)),
                    },
                }
            }
        };
        let Some((code, why)) = refusal else {
            return;
        };
        let head = m.head.clone();
        let respond_now = failure_report != FailureReport::No && !answered;
        self.refuse_message(ctx, &mid, digest, why);
        if respond_now {
            respond(ctx, env.template, &head, code);
        }
        *route = Route::Discard;
    }

    /// Ends a chunk of the message of digest `digest` whose body ended at `offset` (from zero)
    /// with `flag`: aborts the message, or completes it when every byte is in (RFC 4975
    /// §7.3.1).
    #[inline]
    pub(super) fn receive_end(
        &mut self,
        ctx: &mut Ctx<'_>,
        env: Env<'_>,
        digest: u64,
        offset: u64,
        flag: Flag,
    ) {
        if flag == Flag::Aborted {
            self.drop_incoming(ctx, digest, IncomingFailure::Aborted);
            return;
        }
        let Some(m) = self.incoming.get_mut(&digest) else {
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
                if matches!(m.delivery, Delivery::Pieces) {
                    // Less is held beyond the gap now: counting it gives some back.
                    m.count_gap(&mut self.gap_bytes, u64::MAX, None);
                }
            }
            m.final_total = true;
        }
        let complete = m.total.is_some_and(|total| m.received.covers(total));
        if !complete {
            return;
        }
        let Some(m) = self.remove(digest) else {
            return;
        };
        let message_id = &m.message_id;
        let total = m.total.unwrap_or_default();
        let key = IncomingKey(m.key);
        let stored = match m.delivery {
            Delivery::Whole(buf) => {
                ctx.emit(Event::Message(Message {
                    message_id: *message_id,
                    head: m.head.clone(),
                    body: Bytes::from(buf),
                }));
                true
            }
            Delivery::Pieces => {
                ctx.emit(Event::MessageEnd(MessageEnd {
                    key,
                    result: Ok(total),
                }));
                true
            }
            Delivery::Sink(body) => {
                let stored = body.finish(Ok(total)).is_ok();
                let result = if stored {
                    Ok(total)
                } else {
                    Err(IncomingFailure::Sink)
                };
                ctx.emit(Event::MessageEnd(MessageEnd { key, result }));
                stored
            }
        };
        if !stored {
            // The last chunk was acknowledged before the sink failed to finish the message.
            // RFC 4975 §7.1.4: "it MAY send a 200 OK response to the request, and then send a
            // failure REPORT request when the error is detected."
            self.remember_refused(message_id);
            if m.failure_report != FailureReport::No {
                let range = ByteRange {
                    start: 1,
                    end: Some(total),
                    total: Some(total),
                };
                let code = StatusCode::MESSAGE_TOO_LARGE;
                report_failure(ctx, env, &m.head, message_id, range, code);
            }
            return;
        }
        self.remember_completed(digest, env.config.limits.remembered_message_ids);
        if m.success_report {
            if let Ok(Some(from_path)) = m.head.from_path() {
                report_success(ctx, env, PathHeader::List(from_path), message_id, total);
            }
        }
    }

    /// Removes a message being received from the tables, with what it counted.
    fn remove(&mut self, digest: u64) -> Option<Incoming> {
        let m = self.incoming.remove(&digest)?;
        if let Delivery::Whole(buf) = &m.delivery {
            self.buffered -= buf.len();
        }
        // Its charge against the shared budget is given back when it is dropped.
        self.gap_bytes -= m.gap.bytes();
        Some(m)
    }

    /// Remembers a completed message by the digest of its Message-ID, forgetting the oldest
    /// beyond `limit` ([`Limits::remembered_message_ids`](crate::Limits::remembered_message_ids)).
    /// The tables grow with use, not ahead of it.
    fn remember_completed(&mut self, digest: u64, limit: usize) {
        if limit == 0 || !self.completed.insert(digest) {
            return;
        }
        if self.completed.len() > limit && self.completed.capacity() < 2 * limit + 2 {
            // Once full, the set is churned at a fixed size, and the slots its removals leave
            // behind count as used: a table under half full cleans them up in place when it
            // runs out, a fuller one grows instead, at a moment that depends on where the
            // digests fell. Room for twice the limit, taken once, keeps every later message
            // free of allocations.
            self.completed.reserve(limit + 2);
        }
        while self.completed_order.len() >= limit {
            let Some(old) = self.completed_order.pop_front() else {
                break;
            };
            self.completed.remove(&old);
        }
        self.completed_order.push_back(digest);
    }

    /// Refuses a chunk of the message `message_id` with 413, and the rest of the message with
    /// it.
    fn refuse_too_large(
        &mut self,
        ctx: &mut Ctx<'_>,
        template: &HeadTemplate,
        head: &Head,
        message_id: &MessageId,
        digest: u64,
        fr: FailureReport,
    ) -> Route {
        self.refuse_message(ctx, message_id, digest, IncomingFailure::TooLarge);
        refuse(ctx, template, head, StatusCode::MESSAGE_TOO_LARGE, fr)
    }

    /// Remembers a refused Message-ID so that its later chunks are refused too.
    fn remember_refused(&mut self, message_id: &MessageId) {
        if !self.refused.contains(message_id) {
            if self.refused.len() == REFUSED_MEMORY {
                self.refused.pop_front();
            }
            self.refused.push_back(*message_id);
        }
    }

    /// Refuses the rest of a message, and drops what was received of it.
    fn refuse_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        message_id: &MessageId,
        digest: u64,
        why: IncomingFailure,
    ) {
        self.remember_refused(message_id);
        self.drop_incoming(ctx, digest, why);
    }

    /// Drops what was received of a message, and tells the application why when it had
    /// announced the message.
    pub(super) fn drop_incoming(&mut self, ctx: &mut Ctx<'_>, digest: u64, why: IncomingFailure) {
        let Some(m) = self.remove(digest) else {
            return;
        };
        let key = IncomingKey(m.key);
        match m.delivery {
            Delivery::Whole(_) => return,
            Delivery::Pieces => {}
            // The sink has its own error, if it returns one: the message is over either way.
            Delivery::Sink(body) => drop(body.finish(Err(why))),
        }
        ctx.emit(Event::MessageEnd(MessageEnd {
            key,
            result: Err(why),
        }));
    }

    /// Ends every message being received, in the order of their Message-IDs: the session has
    /// ended.
    pub(super) fn end(&mut self, ctx: &mut Ctx<'_>) {
        let mut receiving: Vec<(MessageId, u64)> = self
            .incoming
            .iter()
            .map(|(&digest, m)| (m.message_id, digest))
            .collect();
        receiving.sort_unstable();
        for (_, digest) in receiving {
            self.drop_incoming(ctx, digest, IncomingFailure::SessionEnded);
        }
        self.incomplete_timers = Timers::default();
    }
}

/// Switches a message buffered for whole delivery to delivery in pieces: announces it and hands
/// out what was received so far.
fn to_pieces(ctx: &mut Ctx<'_>, m: &mut Incoming) {
    let Delivery::Whole(buf) = core::mem::replace(&mut m.delivery, Delivery::Pieces) else {
        return;
    };
    let key = IncomingKey(m.key);
    ctx.emit(Event::MessageStart(MessageStart {
        key,
        message_id: m.message_id,
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
