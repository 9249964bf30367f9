//! `msrp demo`: two endpoints in one process agree on a session with an SDP offer and answer,
//! then exchange messages and a file over loopback.

use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_mio_transport::{
    Endpoint, EndpointConfig, EndpointEvent, MessageRef, PeerVerification, SessionSpec,
    secure_random,
};
use msrp_sdp::{Capabilities, FormatEntry, Negotiated};
use msrp_session::{BodySource, Event, Outcome, OutgoingMessage, SessionConfig};

use crate::Failure;
use crate::util::{Hasher, NOT_DELIVERED, out_line};

/// Arguments of `msrp demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run over TLS (`msrps`), each side checking the other's certificate fingerprint.
    #[arg(long)]
    tls: bool,
    /// Size of the generated file, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    file_mib: u64,
}

/// A file generated as it is sent: the same pseudo-random bytes for the same seed.
struct Generated {
    state: u64,
    left: u64,
}

impl Generated {
    fn new(size: u64) -> Self {
        Self {
            state: 0x2545_F491_4F6C_DD1D,
            left: size,
        }
    }
}

impl BodySource for Generated {
    fn total_len(&self) -> Option<u64> {
        Some(self.left)
    }

    fn read(&mut self, max: usize) -> std::io::Result<Bytes> {
        let n = (max as u64).min(self.left) as usize & !7;
        let n = if n == 0 { self.left as usize } else { n };
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            out.extend_from_slice(&self.state.to_le_bytes());
        }
        out.truncate(n);
        self.left -= n as u64;
        Ok(Bytes::from(out))
    }
}

fn fail(message: impl Into<String>) -> Failure {
    Failure::new(NOT_DELIVERED, message)
}

/// Waits for the outcome of `message`.
fn outcome_of(endpoint: &Endpoint, message: MessageRef, what: &str) -> Result<Outcome, Failure> {
    wait(endpoint, what, |e| match e {
        EndpointEvent::Outcome {
            message: m,
            outcome,
            ..
        } if m == message => Some(outcome),
        _ => None,
    })
}

/// Waits for the event `want` picks, with a deadline.
fn wait<T>(
    endpoint: &Endpoint,
    what: &str,
    mut want: impl FnMut(EndpointEvent) -> Option<T>,
) -> Result<T, Failure> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(fail(format!("demo: timed out waiting for {what}")));
        }
        match endpoint.events().recv_timeout(left) {
            Some(EndpointEvent::ConnectionClosed { error, .. }) => {
                return Err(fail(format!("demo: {error}")));
            }
            Some(event) => {
                if let Some(found) = want(event) {
                    return Ok(found);
                }
            }
            None => {}
        }
    }
}

/// What an endpoint of the demo offers or accepts for the session whose URI is `uri`.
fn capabilities(endpoint: &Endpoint, uri: &str) -> Result<Capabilities, Failure> {
    let path = msrp_sdp::Path::parse(uri).map_err(|e| fail(format!("demo: {e}")))?;
    let mut caps = Capabilities::new(path).map_err(|e| fail(format!("demo: {e}")))?;
    // The demo sends text and a file: both sides take any media type.
    caps.accept_types = vec![FormatEntry::Any];
    if caps.protocol().is_tls() {
        // RFC 4975 §14.4: each side puts its certificate's fingerprint in its SDP.
        let fingerprint = endpoint.handle().fingerprint().cloned();
        caps.fingerprint = Some(fingerprint.ok_or_else(|| fail("demo: no fingerprint"))?);
    }
    Ok(caps)
}

/// Alice offers and Bob answers, the SDP going between them as text, as SIP would carry it.
/// Returns what each side agreed on: (Alice's, Bob's).
fn negotiate(
    alice: &Capabilities,
    bob: &Capabilities,
) -> Result<(Negotiated, Negotiated), Failure> {
    let offer = alice.create_offer(crate::sdp::origin(alice)).to_string();
    let offer = msrp_sdp::parse(offer.as_bytes()).map_err(|e| fail(format!("demo: offer: {e}")))?;
    let (answer, bobs) = bob
        .create_answer(&offer, crate::sdp::origin(bob))
        .map_err(|e| fail(format!("demo: cannot answer: {e}")))?;
    let answer = msrp_sdp::parse(answer.to_string().as_bytes())
        .map_err(|e| fail(format!("demo: answer: {e}")))?;
    let alices = alice
        .handle_answer(&answer)
        .map_err(|e| fail(format!("demo: answer refused: {e}")))?;
    Ok((alices, bobs))
}

/// The endpoint's part of the session both sides agreed on: the session configuration, and the
/// peer's SDP fingerprints to check its certificate against when the session uses TLS.
fn session_spec(negotiated: &Negotiated) -> SessionSpec {
    let config = SessionConfig::from_negotiated(negotiated, secure_random());
    let spec = SessionSpec::new(config, negotiated.role);
    if negotiated.is_tls() {
        spec.peer_check(PeerVerification::Fingerprints(
            negotiated.peer_fingerprints.clone(),
        ))
    } else {
        spec
    }
}

/// Runs `msrp demo`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let bob = Endpoint::start(EndpointConfig::default()).map_err(|e| fail(format!("demo: {e}")))?;
    let alice =
        Endpoint::start(EndpointConfig::default()).map_err(|e| fail(format!("demo: {e}")))?;
    let addr = bob
        .handle()
        .listen(
            "127.0.0.1:0".parse().map_err(|_| fail("demo: address"))?,
            args.tls,
        )
        .map_err(|e| fail(format!("demo: cannot listen: {e}")))?;
    let scheme = if args.tls { "msrps" } else { "msrp" };
    let bob_uri = format!(
        "{scheme}://{addr}/{};tcp",
        msrp_uri::generate_session_id(secure_random())
    );
    let alice_uri = format!(
        "{scheme}://127.0.0.1:2855/{};tcp",
        msrp_uri::generate_session_id(secure_random())
    );
    // Alice, the offerer, connects (RFC 4975 §8.5); Bob waits for her on his listener.
    let (alices, bobs) = negotiate(
        &capabilities(&alice, &alice_uri)?,
        &capabilities(&bob, &bob_uri)?,
    )?;
    bob.handle()
        .open_session(session_spec(&bobs))
        .map_err(|e| fail(format!("demo: {e}")))?;
    let session = alice
        .handle()
        .open_session(session_spec(&alices))
        .map_err(|e| fail(format!("demo: {e}")))?;
    out_line(&format!("demo: Alice connects to Bob at {bob_uri}"))?;

    let texts = [
        "Hey Bob, are you there?",
        "Here is a file for you.",
        "Let me know when it arrives.",
    ];
    for text in texts {
        let message = alice
            .handle()
            .send(
                session,
                OutgoingMessage::new("text/plain", text).success_report(true),
            )
            .map_err(|e| fail(format!("demo: {e}")))?;
        let body = wait(&bob, "a text message", |e| match e {
            EndpointEvent::Session(_, Event::Message(m)) => Some(m.body),
            _ => None,
        })?;
        if body != text.as_bytes() {
            return Err(fail("demo: a text message arrived altered"));
        }
        out_line(&format!(
            "demo: Bob got \"{}\"",
            String::from_utf8_lossy(&body)
        ))?;
        if let Err(f) = outcome_of(&alice, message, "an outcome")?.result {
            return Err(fail(format!("demo: text not delivered: {f}")));
        }
    }

    let size = args.file_mib << 20;
    let mut expected = Hasher::default();
    let mut generator = Generated::new(size);
    loop {
        let piece = generator.read(1 << 20).map_err(|e| fail(e.to_string()))?;
        if piece.is_empty() {
            break;
        }
        expected.update(&piece);
    }
    let expected = expected.hex();
    let started = Instant::now();
    let message = alice
        .handle()
        .send(
            session,
            OutgoingMessage::from_source("application/octet-stream", Generated::new(size))
                .header("Content-Disposition", "attachment; filename=\"demo.bin\"")
                .success_report(true),
        )
        .map_err(|e| fail(format!("demo: {e}")))?;
    let mut hasher = Hasher::default();
    let mut next = 0;
    let received = wait(&bob, "the file", |e| match e {
        EndpointEvent::Session(_, Event::MessageData(d)) => {
            if d.offset == next {
                hasher.update(&d.data);
                next += d.data.len() as u64;
            }
            None
        }
        EndpointEvent::Session(_, Event::MessageEnd(end)) => Some(end.result),
        EndpointEvent::Session(_, Event::Message(m)) => {
            hasher.update(&m.body);
            Some(Ok(m.body.len() as u64))
        }
        _ => None,
    })?;
    let received = received.map_err(|why| fail(format!("demo: the file was given up: {why:?}")))?;
    let outcome = outcome_of(&alice, message, "the file's outcome")?;
    let seconds = started.elapsed().as_secs_f64();
    let delivered = outcome
        .result
        .map_err(|f| fail(format!("demo: file not delivered: {f}")))?;
    let digest = hasher.hex();
    if received != size || digest != expected || !delivered.reported {
        return Err(fail(format!(
            "demo: the file arrived altered ({received} of {size} bytes, sha256 {digest}, expected {expected})"
        )));
    }
    out_line(&format!(
        "demo: Bob got a {} MiB file, sha256 {digest} (matches), success report received",
        args.file_mib
    ))?;
    out_line(&format!(
        "demo: {} text messages and {} MiB over {} loopback in {seconds:.2} s ({:.0} MB/s)",
        texts.len(),
        args.file_mib,
        if args.tls { "TLS" } else { "TCP" },
        size as f64 / seconds / 1e6
    ))?;
    Ok(())
}
