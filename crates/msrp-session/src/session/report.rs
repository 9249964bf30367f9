//! Reports: the success and failure REPORTs a session sends about the messages it receives,
//! and what a REPORT it receives does to a message it sent (RFC 4975 §7.1.2 to §7.2).

use msrp_wire::{ByteRange, Head, ReportHead, StatusCode};

use super::send::Sending;
use super::{Ctx, Env, PathHeader, draw_tid};
use crate::MessageId;
use crate::event::{FailedBy, Failure};
use crate::frames::write_traced;

/// Sends a success REPORT for a whole message to `to_path`, the From-Path of its request
/// (RFC 4975 §7.1.3: "it MUST send a success report or reports covering all bytes that are
/// received successfully").
pub(super) fn report_success(
    ctx: &mut Ctx<'_>,
    env: Env<'_>,
    to_path: PathHeader<'_>,
    message_id: &MessageId,
    total: u64,
) {
    let range = ByteRange {
        start: 1,
        end: Some(total),
        total: Some(total),
    };
    send_report(ctx, env, to_path, message_id, range, StatusCode::OK);
}

/// Sends a REPORT about the bytes `byte_range` of a message to `to_path`, the From-Path of the
/// request it is about.
pub(super) fn send_report(
    ctx: &mut Ctx<'_>,
    env: Env<'_>,
    to_path: PathHeader<'_>,
    message_id: &MessageId,
    byte_range: ByteRange,
    status: StatusCode,
) {
    let tid = draw_tid(&mut *env.config.random);
    let to = match to_path {
        PathHeader::Expected => env.template.to_path(),
        PathHeader::List(list) => list,
    };
    let report = ReportHead {
        message_id,
        byte_range,
        status,
    };
    write_traced(ctx.control, |out| {
        env.template.encode_report(out, &tid, to, &report);
    });
}

/// Sends a failure REPORT with `status` about the bytes `byte_range` of a message being
/// received to the From-Path of its latest chunk, `head` (RFC 4975 §7.1.4: "Construction of
/// failure REPORT requests is identical to that for success REPORT requests, except the Status
/// header field code field MUST contain the appropriate error code").
pub(super) fn report_failure(
    ctx: &mut Ctx<'_>,
    env: Env<'_>,
    head: &Head,
    message_id: &MessageId,
    byte_range: ByteRange,
    status: StatusCode,
) {
    if let Ok(Some(from_path)) = head.from_path() {
        let to = PathHeader::List(from_path);
        send_report(ctx, env, to, message_id, byte_range, status);
    }
}

impl Sending {
    /// Handles a REPORT about a message this session sent: a success REPORT confirms a range
    /// of it, a failure REPORT fails it. Returns the status when the session fails with it.
    pub(super) fn handle_report(&mut self, ctx: &mut Ctx<'_>, head: &Head) -> Option<StatusCode> {
        // RFC 4975 §7.1.2: "If an MSRP element receives a REPORT for a Message-ID it does not
        // recognize, it SHOULD silently ignore the REPORT."
        let mid = MessageId::new(head.message_id().ok().flatten()?).ok()?;
        let &handle = self.by_message_id.get(&mid)?;
        let Ok(Some(status)) = head.status() else {
            return None;
        };
        // RFC 4975 §7.3.2: "An endpoint that receives a REPORT request containing a Status
        // header field with a namespace field of "000" MUST interpret the report in exactly
        // the same way it would interpret an MSRP transaction response with a response code
        // matching the status-code field."
        if status.namespace != 0 {
            return None;
        }
        if status.code.is_success() {
            let m = self.outgoing.get_mut(&handle)?;
            if !m.success_report {
                return None;
            }
            match head.byte_range() {
                Ok(Some(r)) => {
                    let end = r.end.unwrap_or(m.sent);
                    m.reported.insert(r.start.saturating_sub(1), end);
                }
                // A report without Byte-Range covers the whole message.
                Ok(None) => m.reported.insert(0, m.total.unwrap_or(m.sent)),
                Err(_) => return None,
            }
            self.settle(ctx, handle, false);
            None
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
            Some(status.code)
        }
    }
}
