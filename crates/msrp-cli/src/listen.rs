//! `msrp listen`: accept MSRP sessions and report what arrives.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;
use msrp_mio_transport::{
    Endpoint, EndpointConfig, EndpointEvent, PeerVerification, Role, SessionSpec, secure_random,
};
use msrp_sdp::{Fingerprint, FormatEntry};
use msrp_session::{Event, FromPathCheck, IncomingKey, SessionConfig};
use msrp_wire::Head;
use serde_json::json;

use crate::Failure;
use crate::util::{Hasher, USAGE, is_text_type, out_line, safe_file_name, unique_path};

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
    /// Save each message as a file in this folder: under its Content-Disposition file name
    /// when there is one (never outside the folder), otherwise under its Message-ID.
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
}

/// A message being received in pieces.
struct Receiving {
    head: Head,
    message_id: String,
    file: Option<(File, PathBuf)>,
    hasher: Hasher,
    /// Pieces that arrived ahead of the next expected offset, for the hash.
    pending: BTreeMap<u64, Bytes>,
    next: u64,
    text: Vec<u8>,
}

struct Listener<'a> {
    args: &'a Args,
    received: u64,
}

impl Listener<'_> {
    fn event(&self, value: serde_json::Value) -> Result<(), Failure> {
        if self.args.json {
            out_line(&value.to_string())
        } else {
            Ok(())
        }
    }

    fn save_target(
        &self,
        head: &Head,
        message_id: &str,
    ) -> Result<Option<(File, PathBuf)>, Failure> {
        let Some(dir) = &self.args.out else {
            return Ok(None);
        };
        let name = head
            .content_disposition()
            .ok()
            .flatten()
            .and_then(|d| d.filename().and_then(safe_file_name))
            .unwrap_or_else(|| format!("{message_id}.msg"));
        let path = unique_path(dir, &name);
        let file = File::create(&path).map_err(|e| {
            Failure::new(
                crate::util::NOT_DELIVERED,
                format!("cannot create {}: {e}", path.display()),
            )
        })?;
        Ok(Some((file, path)))
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

fn open(endpoint: &Endpoint, args: &Args, uri: &str) -> Result<(), Failure> {
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
    let mut spec = SessionSpec::new(config, Role::Passive);
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
    let addr = endpoint.handle().listen(args.bind, args.tls).map_err(|e| {
        Failure::new(
            crate::util::NOT_DELIVERED,
            format!("cannot listen on {}: {e}", args.bind),
        )
    })?;
    let session_id = match &args.session_id {
        Some(id) => id.clone(),
        None => msrp_uri::generate_session_id(secure_random()),
    };
    let scheme = if args.tls { "msrps" } else { "msrp" };
    let uri = format!("{scheme}://{addr}/{session_id};tcp");
    open(&endpoint, args, &uri)?;
    out_line(&uri)?;
    let mut listener = Listener { args, received: 0 };
    if args.tls {
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
            EndpointEvent::Session(_, Event::Message(m)) => {
                let message_id = m.message_id.to_string();
                let mut hasher = Hasher::default();
                hasher.update(&m.body);
                let file = match listener.save_target(&m.head, &message_id)? {
                    Some((mut file, path)) => {
                        file.write_all(&m.body).map_err(|e| {
                            Failure::new(
                                crate::util::NOT_DELIVERED,
                                format!("cannot write {}: {e}", path.display()),
                            )
                        })?;
                        Some(path)
                    }
                    None => None,
                };
                let size = hasher.len;
                listener.report(&m.head, &message_id, size, hasher.hex(), &m.body, file)?;
            }
            EndpointEvent::Session(_, Event::MessageStart(s)) => {
                let message_id = s.message_id.to_string();
                let file = listener.save_target(&s.head, &message_id)?;
                receiving.insert(
                    s.key,
                    Receiving {
                        head: s.head,
                        message_id,
                        file,
                        hasher: Hasher::default(),
                        pending: BTreeMap::new(),
                        next: 0,
                        text: Vec::new(),
                    },
                );
            }
            EndpointEvent::Session(_, Event::MessageData(d)) => {
                let Some(r) = receiving.get_mut(&d.key) else {
                    continue;
                };
                if let Some((file, path)) = &mut r.file {
                    file.seek(SeekFrom::Start(d.offset))
                        .and_then(|_| file.write_all(&d.data))
                        .map_err(|e| {
                            Failure::new(
                                crate::util::NOT_DELIVERED,
                                format!("cannot write {}: {e}", path.display()),
                            )
                        })?;
                }
                r.pending.insert(d.offset, d.data);
                while let Some(piece) = r.pending.remove(&r.next) {
                    r.hasher.update(&piece);
                    if r.text.len() < args.show {
                        r.text
                            .extend_from_slice(&piece[..piece.len().min(args.show - r.text.len())]);
                    }
                    r.next += piece.len() as u64;
                }
            }
            EndpointEvent::Session(_, Event::MessageEnd(end)) => {
                let Some(r) = receiving.remove(&end.key) else {
                    continue;
                };
                match end.result {
                    Ok(size) => {
                        let file = r.file.map(|(_, path)| path);
                        listener.report(
                            &r.head,
                            &r.message_id,
                            size,
                            r.hasher.hex(),
                            &r.text,
                            file,
                        )?;
                    }
                    Err(why) => {
                        if let Some((_, path)) = r.file {
                            let _ = std::fs::remove_file(path);
                        }
                        let reason = format!("{why:?}").to_lowercase();
                        if args.json {
                            listener.event(json!({"event": "aborted", "message_id": r.message_id, "reason": reason}))?;
                        } else {
                            eprintln!("msrp: message {} given up: {reason}", r.message_id);
                        }
                    }
                }
            }
            EndpointEvent::Session(_, Event::Refused(r)) => {
                let message_id = r.head.message_id().ok().flatten().unwrap_or("").to_owned();
                let status = r.status.as_u16();
                if args.json {
                    listener.event(
                        json!({"event": "refused", "status": status, "message_id": message_id}),
                    )?;
                } else {
                    eprintln!(
                        "msrp: refused a request with {} (Message-ID {message_id:?})",
                        r.status
                    );
                }
            }
            EndpointEvent::Session(_, Event::SessionFailed(why)) => {
                receiving.clear();
                // Ready for the next sender, on the same URI, before saying so: a script may
                // start the next sender as soon as it reads this line.
                open(&endpoint, args, &uri)?;
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
