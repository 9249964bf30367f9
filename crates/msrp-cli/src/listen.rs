//! `msrp listen`: accept MSRP sessions and report what arrives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use msrp_mio_transport::{
    Endpoint, EndpointConfig, EndpointEvent, PeerVerification, Role, SessionSpec, secure_random,
};
use msrp_sdp::{Fingerprint, FormatEntry};
use msrp_session::{Event, FromPathCheck, IncomingKey, SessionConfig};
use msrp_wire::Head;
use serde_json::json;

use crate::Failure;
use crate::store::{Folder, Stored, read_back};
use crate::util::{Hasher, InOrder, NOT_DELIVERED, RelayArgs, USAGE, is_text_type, out_line};

/// Arguments of `msrp listen`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR:PORT")]
    bind: SocketAddr,
    /// Session-id of the URI to send to; a random one (120 bits) by default.
    #[arg(long)]
    session_id: Option<String>,
    /// Media types accepted, as in SDP `a=accept-types` (others get 415).
    #[arg(long, default_value = "*", value_name = "TYPES")]
    accept_types: String,
    /// Largest message accepted, in bytes (larger ones get 413).
    #[arg(long, value_name = "BYTES")]
    max_size: Option<u64>,
    /// Save each message as a file in this folder, written in place as its chunks arrive:
    /// under its Content-Disposition file name when there is one (never outside the folder;
    /// shortened when too long, `-1`, `-2` … before the extension when taken), otherwise, or
    /// when the file system refuses that name, under its Message-ID. A message that cannot be
    /// stored is refused (413) or, once acknowledged, reported failed to its sender.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Exit after this many complete messages.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Use TLS (`msrps`) with a self-signed certificate; its fingerprint is printed.
    #[arg(long)]
    tls: bool,
    /// With --tls: accept only a client certificate with this fingerprint
    /// (`sha-256 AB:CD:…`).
    #[arg(long, value_name = "FINGERPRINT")]
    peer_fingerprint: Option<String>,
    /// Print one JSON object per line after the URI.
    #[arg(long)]
    json: bool,
    /// Show at most this many bytes of each text message.
    #[arg(long, default_value_t = 4096, value_name = "BYTES")]
    show: usize,
    /// Receive through a relay: the first line printed is then the whole path a peer sends
    /// to, the relay's URI first.
    #[command(flatten)]
    relay: RelayArgs,
}

/// A message being received in pieces, or into a file.
struct Receiving {
    head: Head,
    message_id: String,
    /// The hash of its data as events bring it; `None` when it goes to a file.
    order: Option<InOrder>,
}

struct Listener<'a> {
    args: &'a Args,
    received: u64,
    /// Where messages are saved, with `--out`.
    folder: Option<Folder>,
}

impl Listener<'_> {
    fn event(&self, value: serde_json::Value) -> Result<(), Failure> {
        if self.args.json {
            out_line(&value.to_string())
        } else {
            Ok(())
        }
    }

    /// Why the message `message_id` could not be stored, when that is what happened to it.
    fn store_error(&self, message_id: &str) -> Option<String> {
        match self.folder.as_ref()?.take(message_id)? {
            Stored::Failed { error } => Some(error),
            Stored::Saved { .. } => None,
        }
    }

    /// Reports a complete message whose data came as events, or went to a file.
    fn complete(&mut self, r: Receiving, size: u64) -> Result<(), Failure> {
        let (digest, file) = match (r.order, &self.folder) {
            (Some(order), _) => (Ok(order.finish()), None),
            (None, Some(folder)) => match folder.take(&r.message_id) {
                Some(Stored::Saved { path, digest }) => {
                    let digest = match digest {
                        Some(digest) => Ok(digest),
                        // Its pieces came out of order: the file has it all now.
                        None => read_back(&path, self.args.show)
                            .map_err(|e| format!("cannot read {} back: {e}", path.display())),
                    };
                    (digest, Some(path))
                }
                Some(Stored::Failed { error }) => (Err(error), None),
                None => (Err("it was not saved".to_owned()), None),
            },
            (None, None) => (Err("it was not saved".to_owned()), None),
        };
        match digest {
            Ok((sha256, text)) => self.report(&r.head, &r.message_id, size, sha256, &text, file),
            Err(error) => self.error(&r.message_id, &error),
        }
    }

    /// Says that something went wrong with one message; the listener goes on.
    fn error(&self, message_id: &str, error: &str) -> Result<(), Failure> {
        if self.args.json {
            self.event(json!({"event": "error", "message_id": message_id, "error": error}))
        } else {
            eprintln!("msrp: message {message_id}: {error}");
            Ok(())
        }
    }

    fn report(
        &mut self,
        head: &Head,
        message_id: &str,
        size: u64,
        sha256: String,
        text: &[u8],
        file: Option<PathBuf>,
    ) -> Result<(), Failure> {
        self.received += 1;
        let content_type = head
            .content_type_str()
            .ok()
            .flatten()
            .unwrap_or("")
            .to_owned();
        let shown = is_text_type(&content_type)
            .then(|| String::from_utf8_lossy(&text[..text.len().min(self.args.show)]).into_owned());
        if self.args.json {
            let mut obj = json!({
                "event": "message",
                "message_id": message_id,
                "content_type": content_type,
                "size": size,
                "sha256": sha256,
            });
            if let Some(text) = &shown {
                obj["text"] = json!(text);
            }
            if let Some(path) = &file {
                obj["file"] = json!(path.display().to_string());
            }
            return out_line(&obj.to_string());
        }
        let mut line = format!(
            "message {}: {content_type}, {size} bytes, sha256 {sha256}, Message-ID {message_id}",
            self.received
        );
        if let Some(path) = &file {
            line.push_str(&format!(", saved as {}", path.display()));
        }
        out_line(&line)?;
        if let Some(text) = shown {
            out_line(&text)?;
        }
        Ok(())
    }
}

fn open(
    endpoint: &Endpoint,
    args: &Args,
    uri: &str,
    folder: Option<&Folder>,
) -> Result<(), Failure> {
    let local = uri
        .parse()
        .map_err(|e| Failure::new(USAGE, format!("invalid session URI {uri}: {e}")))?;
    // The peer is whoever connects and names the session: its From-Path is not known ahead.
    let placeholder = "msrp://peer.invalid:9/anyone;tcp"
        .parse()
        .map_err(|e| Failure::new(USAGE, format!("internal placeholder URI: {e}")))?;
    let mut config = SessionConfig::new(local, placeholder, secure_random());
    config.from_path_check = FromPathCheck::Off;
    config.accept_types = FormatEntry::parse_list(&args.accept_types).ok_or_else(|| {
        Failure::new(
            USAGE,
            format!("invalid --accept-types {:?}", args.accept_types),
        )
    })?;
    if let Some(max) = args.max_size {
        config.limits.max_message_size = max;
    }
    // Saved messages are written in place as their chunks arrive: one that comes out of order
    // or with a gap holds no memory.
    config.sink = folder.map(|f| Box::new(f.sink(args.show)) as _);
    let mut spec = args
        .relay
        .apply(SessionSpec::new(config, Role::Passive), None)?;
    if let Some(fp) = &args.peer_fingerprint {
        let fp = Fingerprint::parse(fp)
            .ok_or_else(|| Failure::new(USAGE, format!("invalid --peer-fingerprint {fp:?}")))?;
        spec = spec.peer_check(PeerVerification::Fingerprints(vec![fp]));
    }
    endpoint.handle().open_session(spec).map_err(|e| {
        Failure::new(
            crate::util::NOT_DELIVERED,
            format!("cannot open the session: {e}"),
        )
    })?;
    Ok(())
}

/// Waits for the relay to grant the session its path, and returns it.
fn granted_path(endpoint: &Endpoint) -> Result<String, Failure> {
    let mut closed = None;
    while let Some(event) = endpoint.events().recv() {
        match event {
            EndpointEvent::Authenticated { path, .. } => return Ok(path.to_string()),
            EndpointEvent::ConnectionClosed { error, .. } => closed = Some(error.to_string()),
            EndpointEvent::Session(_, Event::SessionFailed(why)) => {
                let why = closed.unwrap_or_else(|| why.to_string());
                return Err(Failure::new(
                    NOT_DELIVERED,
                    format!("the relay did not take the session: {why}"),
                ));
            }
            _ => {}
        }
    }
    Err(Failure::new(NOT_DELIVERED, "the endpoint stopped"))
}

/// Runs `msrp listen`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    if let Some(dir) = &args.out {
        if !dir.is_dir() {
            return Err(Failure::new(
                USAGE,
                format!("--out {} is not a folder", dir.display()),
            ));
        }
    }
    let endpoint = Endpoint::start(EndpointConfig::default())
        .map_err(|e| Failure::new(crate::util::NOT_DELIVERED, format!("cannot start: {e}")))?;
    let session_id = match &args.session_id {
        Some(id) => id.clone(),
        None => msrp_uri::generate_session_id(secure_random()),
    };
    // Behind a WebSocket relay nothing listens: everything comes over the connection to it.
    let websocket = args.relay.websocket_uri(Some(&session_id));
    let uri = match &websocket {
        Some(uri) => uri.clone(),
        None => {
            let addr = endpoint.handle().listen(args.bind, args.tls).map_err(|e| {
                Failure::new(
                    crate::util::NOT_DELIVERED,
                    format!("cannot listen on {}: {e}", args.bind),
                )
            })?;
            let scheme = if args.tls { "msrps" } else { "msrp" };
            format!("{scheme}://{addr}/{session_id};tcp")
        }
    };
    let folder = args.out.as_deref().map(Folder::new);
    open(&endpoint, args, &uri, folder.as_ref())?;
    // Through a relay, peers send to the path it granted.
    let first_line = if args.relay.is_set() {
        granted_path(&endpoint)?
    } else {
        uri.clone()
    };
    out_line(&first_line)?;
    let mut listener = Listener {
        args,
        received: 0,
        folder,
    };
    if args.tls && websocket.is_none() {
        let fingerprint = endpoint
            .handle()
            .fingerprint()
            .map(ToString::to_string)
            .unwrap_or_default();
        if args.json {
            listener.event(json!({"event": "fingerprint", "fingerprint": fingerprint}))?;
        } else {
            out_line(&format!("fingerprint: {fingerprint}"))?;
        }
    }
    let mut receiving: HashMap<IncomingKey, Receiving> = HashMap::new();
    while args.count.is_none_or(|n| listener.received < n) {
        let Some(event) = endpoint.events().recv() else {
            break;
        };
        match event {
            EndpointEvent::Bound { peer, .. } => {
                listener.event(json!({"event": "connected", "peer": peer.to_string()}))?;
            }
            // A message delivered whole: never one that went to a file.
            EndpointEvent::Session(_, Event::Message(m)) => {
                let message_id = m.message_id.to_string();
                let mut hasher = Hasher::default();
                hasher.update(&m.body);
                let size = hasher.len;
                listener.report(&m.head, &message_id, size, hasher.hex(), &m.body, None)?;
            }
            EndpointEvent::Session(_, Event::MessageStart(s)) => {
                // Without a folder the data comes as events. What arrives ahead of a gap is
                // kept for the hash only as far as the session lets it through
                // (`Limits::max_gap_bytes`).
                let order = listener.folder.is_none().then(|| InOrder::new(args.show));
                receiving.insert(
                    s.key,
                    Receiving {
                        head: s.head,
                        message_id: s.message_id.to_string(),
                        order,
                    },
                );
            }
            EndpointEvent::Session(_, Event::MessageData(d)) => {
                if let Some(order) = receiving.get_mut(&d.key).and_then(|r| r.order.as_mut()) {
                    order.add(d.offset, &d.data);
                }
            }
            EndpointEvent::Session(_, Event::MessageEnd(end)) => {
                let Some(r) = receiving.remove(&end.key) else {
                    continue;
                };
                match end.result {
                    Ok(size) => listener.complete(r, size)?,
                    Err(why) => {
                        let error = listener.store_error(&r.message_id);
                        let reason = format!("{why:?}").to_lowercase();
                        if args.json {
                            let mut obj = json!({"event": "aborted", "message_id": r.message_id, "reason": reason});
                            if let Some(error) = error {
                                obj["error"] = json!(error);
                            }
                            listener.event(obj)?;
                        } else {
                            let error = error.map(|e| format!(": {e}")).unwrap_or_default();
                            eprintln!("msrp: message {} given up: {reason}{error}", r.message_id);
                        }
                    }
                }
            }
            EndpointEvent::Session(_, Event::Refused(r)) => {
                let message_id = r.head.message_id().ok().flatten().unwrap_or("").to_owned();
                let status = r.status.as_u16();
                let error = listener.store_error(&message_id);
                if args.json {
                    let mut obj =
                        json!({"event": "refused", "status": status, "message_id": message_id});
                    if let Some(error) = error {
                        obj["error"] = json!(error);
                    }
                    listener.event(obj)?;
                } else {
                    let error = error.map(|e| format!(": {e}")).unwrap_or_default();
                    eprintln!(
                        "msrp: refused a request with {} (Message-ID {message_id:?}){error}",
                        r.status
                    );
                }
            }
            EndpointEvent::Authenticated { path, .. } => {
                // A renewal may grant another path; the one printed stays valid while the
                // relay keeps it.
                listener.event(json!({"event": "path", "path": path.to_string()}))?;
            }
            EndpointEvent::Session(_, Event::SessionFailed(why)) if args.relay.is_set() => {
                // The path printed led through the relay, which no longer takes it.
                return Err(Failure::new(
                    NOT_DELIVERED,
                    format!("the session through the relay ended: {why}"),
                ));
            }
            EndpointEvent::Session(_, Event::SessionFailed(why)) => {
                receiving.clear();
                // Ready for the next sender, on the same URI, before saying so: a script may
                // start the next sender as soon as it reads this line.
                open(&endpoint, args, &uri, listener.folder.as_ref())?;
                listener.event(json!({"event": "closed", "reason": why.to_string()}))?;
            }
            EndpointEvent::ConnectionClosed { peer, error, .. } => {
                listener.event(json!({"event": "connection_error", "peer": peer.map(|p| p.to_string()), "error": error.to_string()}))?;
            }
            _ => {}
        }
    }
    Ok(())
}
