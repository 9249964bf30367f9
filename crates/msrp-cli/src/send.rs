//! `msrp send`: deliver one message and say whether it arrived.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_mio_transport::{
    Endpoint, EndpointConfig, EndpointEvent, FileSource, PeerVerification, Role, SessionId,
    SessionSpec, secure_random,
};
use msrp_sdp::Fingerprint;
use msrp_session::{BodySource, Chunking, Event, OutgoingMessage, SessionConfig};
use msrp_uri::{MsrpUri, Path};
use msrp_wire::FailureReport;
use serde_json::json;

use crate::Failure;
use crate::util::{NOT_DELIVERED, RelayArgs, USAGE, guess_content_type, out_line};

/// The report modes of `--failure-report`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum FailureMode {
    Yes,
    No,
    Partial,
}

/// Arguments of `msrp send`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The path to send to, as `msrp listen` prints it: one URI, or several separated by
    /// spaces (relays first, the listener last).
    #[arg(long, value_name = "PATH")]
    to: String,
    /// Send this text.
    #[arg(long, conflicts_with = "file")]
    text: Option<String>,
    /// Send this file (its name goes in Content-Disposition).
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Media type; guessed from the file name, `text/plain` for --text and stdin.
    #[arg(long, value_name = "TYPE")]
    content_type: Option<String>,
    /// Chunk size in bytes; 0 sends as few chunks as possible, interrupted only when other
    /// traffic waits (RFC 4975 §7.1.1).
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    chunk_size: usize,
    /// Ask for a success REPORT, and wait for it. Always so with --relay: a relay's 200
    /// responses only say that it took a chunk.
    #[arg(long)]
    success_report: bool,
    /// Failure-Report mode.
    #[arg(long, value_enum, default_value = "yes")]
    failure_report: FailureMode,
    /// Our URI (From-Path); a random session on localhost by default.
    #[arg(long, value_name = "URI")]
    from: Option<String>,
    /// The peer's certificate fingerprint, for msrps (`sha-256 AB:CD:…`).
    #[arg(long, value_name = "FINGERPRINT")]
    fingerprint: Option<String>,
    /// Seconds without progress before giving up: a chunk unanswered this long fails with 408,
    /// and so does a transfer the peer takes nothing of for this long. A transfer that keeps
    /// moving never times out, however long it takes.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    timeout: u64,
    /// Print the outcome as one JSON object.
    #[arg(long)]
    json: bool,
    /// Send through our own relay first; --chunk-size, when given, also sets the chunk size
    /// toward it (8192 bytes by default, which Kamailio's relay passes).
    #[command(flatten)]
    relay: RelayArgs,
}

/// A body source that counts what has been read, for the progress bar.
struct Counted<S> {
    inner: S,
    read: Arc<AtomicU64>,
}

impl<S: BodySource> BodySource for Counted<S> {
    fn total_len(&self) -> Option<u64> {
        self.inner.total_len()
    }

    fn read(&mut self, max: usize) -> std::io::Result<Bytes> {
        let data = self.inner.read(max)?;
        self.read.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(data)
    }
}

/// A body held in memory, served through the same counting path as files.
struct InMemory(Bytes);

impl BodySource for InMemory {
    fn total_len(&self) -> Option<u64> {
        Some(self.0.len() as u64)
    }

    fn read(&mut self, max: usize) -> std::io::Result<Bytes> {
        let n = max.min(self.0.len());
        Ok(self.0.split_to(n))
    }
}

fn usage(message: String) -> Failure {
    Failure::new(USAGE, message)
}

/// Why `session` failed, when the endpoint says so among its next events.
fn session_failure(endpoint: &Endpoint, session: SessionId) -> Option<String> {
    while let Some(event) = endpoint.events().recv_timeout(Duration::from_secs(1)) {
        if let EndpointEvent::Session(s, Event::SessionFailed(why)) = event {
            if s == session {
                return Some(why.to_string());
            }
        }
    }
    None
}

/// Runs `msrp send`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let to: Path = args
        .to
        .parse()
        .map_err(|e| usage(format!("invalid --to URI {:?}: {e}", args.to)))?;
    // The first hop is whom the connection goes to, and whose certificate --fingerprint names;
    // through --relay, the relay's is checked instead.
    let secure = !args.relay.is_set() && to.first().scheme().is_secure();
    if args.relay.is_set() && args.fingerprint.is_some() {
        return Err(usage(
            "--fingerprint checks a peer reached directly; a relay's is --relay-fingerprint".into(),
        ));
    }
    let from = match (&args.from, args.relay.websocket_uri(None)) {
        (Some(from), _) => from.clone(),
        (None, Some(ws)) => ws,
        (None, None) => format!(
            "{}://localhost:2855/{};tcp",
            to.last().scheme().as_str(),
            msrp_uri::generate_session_id(secure_random())
        ),
    };
    let from: MsrpUri = from
        .parse()
        .map_err(|e| usage(format!("invalid --from URI: {e}")))?;
    let verification = match (&args.fingerprint, secure) {
        (Some(fp), _) => Some(PeerVerification::Fingerprints(vec![
            Fingerprint::parse(fp).ok_or_else(|| usage(format!("invalid --fingerprint {fp:?}")))?,
        ])),
        (None, true) => {
            return Err(usage(
                "an msrps first hop needs --fingerprint (the listener prints it)".into(),
            ));
        }
        (None, false) => None,
    };

    // The body, and what it is.
    let read = Arc::new(AtomicU64::new(0));
    let (body, size, content_type, disposition): (
        Box<dyn BodySource>,
        u64,
        String,
        Option<String>,
    ) = match (&args.text, &args.file) {
        (Some(text), _) => {
            let bytes = Bytes::from(text.clone().into_bytes());
            let n = bytes.len() as u64;
            (Box::new(InMemory(bytes)), n, "text/plain".into(), None)
        }
        (None, Some(path)) => {
            let source = FileSource::open(path).map_err(|e| {
                Failure::new(
                    NOT_DELIVERED,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let n = source.total_len().unwrap_or(0);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().replace(['"', '\\'], "_"))
                .unwrap_or_default();
            (
                Box::new(source),
                n,
                guess_content_type(path).into(),
                Some(format!("attachment; filename=\"{name}\"")),
            )
        }
        (None, None) => {
            let mut data = Vec::new();
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| Failure::new(NOT_DELIVERED, format!("cannot read stdin: {e}")))?;
            let n = data.len() as u64;
            (
                Box::new(InMemory(Bytes::from(data))),
                n,
                "text/plain".into(),
                None,
            )
        }
    };
    let content_type = args.content_type.clone().unwrap_or(content_type);
    let counted = Counted {
        inner: body,
        read: read.clone(),
    };
    // RFC 4976 §6.4.1: through a relay, a 200 "indicates the successful receipt of a message
    // fragment but does not mean that the message has been forwarded on to the next hop".
    // Only the receiver's success REPORT then tells that the message arrived, so it is always
    // asked for through a relay of our own, which brings it back. (Sent straight to the
    // peer's relays, from no relay of ours, a REPORT would go to the --from URI.)
    let mut message = OutgoingMessage::from_source(content_type, counted)
        .success_report(args.success_report || args.relay.is_set())
        .failure_report(match args.failure_report {
            FailureMode::Yes => FailureReport::Yes,
            FailureMode::No => FailureReport::No,
            FailureMode::Partial => FailureReport::Partial,
        });
    if let Some(d) = disposition {
        message = message.header("Content-Disposition", d);
    }

    let timeout = Duration::from_secs(args.timeout.max(1));
    let mut config = SessionConfig::new(from, to.clone(), secure_random());
    config.transaction_timeout = timeout;
    config.success_report_timeout = timeout;
    if args.chunk_size > 0 {
        config.chunking = Chunking::Fixed(args.chunk_size);
    }
    let mut endpoint_config = EndpointConfig::default();
    // A peer that takes nothing for --timeout fails the send then.
    endpoint_config.endpoint.write_timeout = timeout;
    let endpoint = Endpoint::start(endpoint_config)
        .map_err(|e| Failure::new(NOT_DELIVERED, format!("cannot start: {e}")))?;
    let chunk = (args.chunk_size > 0).then_some(args.chunk_size);
    let mut spec = args
        .relay
        .apply(SessionSpec::new(config, Role::Active), chunk)?;
    if let Some(v) = verification {
        spec = spec.peer_check(v);
    }
    let session = endpoint
        .handle()
        .open_session(spec)
        .map_err(|e| Failure::new(NOT_DELIVERED, format!("cannot open a session to {to}: {e}")))?;
    let started = Instant::now();
    let handle = endpoint
        .handle()
        .send(session, message)
        .map_err(|e| Failure::new(NOT_DELIVERED, format!("not delivered: {e}")))?;

    let bar = (std::io::stderr().is_terminal() && size > 1 << 20).then(|| {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    // Why the session ended, when the connection or the session said so before the outcome:
    // it is added to the outcome's reason.
    let mut ended: Option<String> = None;
    // Wait for the outcome. The endpoint's timers decide it: a transaction unanswered for
    // --timeout (RFC 4975 §7.1.1) or a peer that takes nothing for --timeout. As a safety net,
    // the wait also ends when nothing at all has happened for much longer than that: no body
    // byte read, no event.
    let quiet_limit = timeout * 3 + Duration::from_secs(10);
    let mut last_read = 0;
    let mut last_progress = Instant::now();
    let outcome = loop {
        let read_now = read.load(Ordering::Relaxed);
        if let Some(bar) = &bar {
            bar.set_position(read_now);
        }
        if read_now != last_read {
            last_read = read_now;
            last_progress = Instant::now();
        }
        if last_progress.elapsed() > quiet_limit {
            break Err(format!(
                "no progress for {} s",
                last_progress.elapsed().as_secs()
            ));
        }
        let Some(event) = endpoint.events().recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        last_progress = Instant::now();
        match event {
            EndpointEvent::Outcome {
                message, outcome, ..
            } if message == handle => {
                break outcome.result.map_err(|f| match &ended {
                    Some(e) => format!("{f} ({e})"),
                    None => f.to_string(),
                });
            }
            EndpointEvent::Refused {
                session: refused,
                message,
                error,
            } if message == handle => {
                // A session that failed before sending anything (its relay refused it, say)
                // says why right after.
                let why = ended
                    .clone()
                    .or_else(|| session_failure(&endpoint, refused));
                break Err(why.unwrap_or_else(|| format!("refused: {error}")));
            }
            // A connection's end comes before the session failures it causes, and says more.
            EndpointEvent::ConnectionClosed { error, .. } => ended = Some(error.to_string()),
            EndpointEvent::Session(_, Event::SessionFailed(why)) if ended.is_none() => {
                ended = Some(format!("session failed: {why}"));
            }
            _ => {}
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(endpoint);
    match outcome {
        Ok(delivered) => {
            let rate = delivered.bytes as f64 / seconds.max(1e-9) / 1e6;
            if args.json {
                out_line(
                    &json!({
                        "event": "outcome",
                        "delivered": true,
                        "bytes": delivered.bytes,
                        "seconds": seconds,
                        "acknowledged": delivered.acknowledged,
                        "reported": delivered.reported,
                    })
                    .to_string(),
                )?;
            }
            eprintln!(
                "msrp: delivered {} bytes in {seconds:.3} s ({rate:.1} MB/s){}",
                delivered.bytes,
                if delivered.reported {
                    ", success report received"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Err(reason) => {
            if args.json {
                out_line(
                    &json!({"event": "outcome", "delivered": false, "reason": reason}).to_string(),
                )?;
            }
            Err(Failure::new(
                NOT_DELIVERED,
                format!("not delivered: {reason}"),
            ))
        }
    }
}
