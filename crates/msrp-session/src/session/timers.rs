//! Timers: transactions and success REPORTs that do not come in time, incomplete incoming
//! messages, the bodiless SEND of an active endpoint, and the release of the memory of a quiet
//! session.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use msrp_wire::{ByteRange, FailureReport, StatusCode};

use super::receive::Receiving;
use super::report::report_failure;
use super::send::Sending;
use super::{Ctx, Env, Session};
use crate::event::{FailedBy, Failure, IncomingFailure, SessionFailure};
use crate::hash::FastSet;
use crate::timer::Timers;

/// Quiet time after which a session gives back the memory its bursts left in its tables, and
/// forgets the Message-IDs of completed messages.
pub(crate) const IDLE_RELEASE: Duration = Duration::from_secs(30);

impl Session {
    /// Notes activity at `now`: the session is not quiet.
    #[inline]
    pub(super) fn touch(&mut self, now: Instant) {
        self.last_activity = Some(now);
        self.released = false;
    }

    /// When the session, if it stays quiet, gives its spare memory back.
    fn release_at(&self) -> Option<Instant> {
        let quiet = self.bind.is_none()
            && self.sending.as_ref().is_none_or(|t| t.is_quiet())
            && self.receiving.as_ref().is_none_or(|r| r.is_quiet());
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
            rx.release_memory();
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
        if let Some(tx) = self.sending.as_deref_mut() {
            tx.handle_timeout(ctx, now);
        }
        if let Some((rx, env)) = self.receiving() {
            rx.handle_timeout(ctx, env, now);
        }
        self.compact_timers();
        if self.release_at().is_some_and(|t| t <= now) {
            self.release_memory();
        }
    }

    /// Drops the timers of what has ended once they outnumber what is live by far.
    #[inline]
    pub(super) fn compact_timers(&mut self) {
        if let Some(tx) = self.sending.as_deref_mut() {
            tx.compact_timers();
        }
        if let Some(rx) = self.receiving.as_deref_mut() {
            let incoming = &rx.incoming;
            rx.incomplete_timers
                .compact(incoming.len(), |m| incoming.contains_key(m));
        }
    }
}

impl Sending {
    /// Whether it holds no message and awaits no response.
    fn is_quiet(&self) -> bool {
        self.outgoing.is_empty() && self.transactions.is_empty()
    }

    /// Fails the messages whose 200 (RFC 4975 §7.1.1) or success REPORT did not come in time.
    fn handle_timeout(&mut self, ctx: &mut Ctx<'_>, now: Instant) {
        while let Some((_, key)) = self.tx_timers.pop_due(now) {
            let Some(tx) = self.transactions.remove(&key) else {
                continue;
            };
            if tx.expects_ok {
                self.time_out(ctx, tx.handle, FailedBy::Timeout);
            }
        }
        while let Some((_, handle)) = self.report_timers.pop_due(now) {
            if self.outgoing(handle).is_some_and(|m| m.all_sent) {
                self.time_out(ctx, handle, FailedBy::ReportTimeout);
            }
        }
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

    /// Drops the timers of transactions and messages that have ended, once they are many.
    #[inline]
    fn compact_timers(&mut self) {
        let Self {
            outgoing,
            transactions,
            tx_timers,
            report_timers,
            ..
        } = self;
        tx_timers.compact(transactions.len(), |tid| transactions.contains_key(tid));
        report_timers.compact(outgoing.len(), |h| outgoing.contains_key(h));
    }
}

impl Receiving {
    /// Whether no message is being received.
    fn is_quiet(&self) -> bool {
        self.incoming.is_empty()
    }

    /// Gives back the spare capacity of the tables, and forgets the completed Message-IDs; the
    /// refused ones are kept.
    fn release_memory(&mut self) {
        self.completed = FastSet::default();
        self.completed_order = VecDeque::new();
        self.incoming.shrink_to_fit();
        self.incomplete_timers = Timers::default();
        self.refused.shrink_to_fit();
    }

    /// Drops the incoming messages that went without data for too long, and tells their
    /// senders: nothing is lost silently.
    fn handle_timeout(&mut self, ctx: &mut Ctx<'_>, mut env: Env<'_>, now: Instant) {
        while let Some((_, digest)) = self.incomplete_timers.pop_due(now) {
            let Some(m) = self.incoming.get(&digest) else {
                continue;
            };
            if m.deadline > now {
                let at = m.deadline;
                self.incomplete_timers.push(at, digest);
                continue;
            }
            let mid = m.message_id;
            // Nothing is lost silently: the sender learns that the message failed.
            let head = m.head.clone();
            let range = ByteRange {
                start: 1,
                end: Some(m.received.end()),
                total: m.total,
            };
            let report = m.failure_report != FailureReport::No;
            self.drop_incoming(ctx, digest, IncomingFailure::TimedOut);
            if report {
                let status = StatusCode::REQUEST_TIMEOUT;
                report_failure(ctx, env.reborrow(), &head, &mid, range, status);
            }
        }
    }
}
