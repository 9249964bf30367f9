//! Helpers shared by the commands.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use msrp_mio_transport::{Credentials, PeerVerification, Relay, SessionSpec, secure_random};
use msrp_sdp::Fingerprint;
use sha2::{Digest, Sha256};

use crate::Failure;

/// Exit status for a message that was not delivered, or a connection or peer failure.
pub(crate) const NOT_DELIVERED: u8 = 1;
/// Exit status for wrong arguments (as clap uses).
pub(crate) const USAGE: u8 = 2;

/// How `listen` and `send` go through a relay (RFC 4976).
#[derive(Debug, clap::Args)]
pub(crate) struct RelayArgs {
    /// Go through this relay, authenticating to it first (RFC 4976 AUTH). An `msrp:` URI is
    /// reached over plain TCP, for tests and trusted networks; an `msrps:` one over TLS, whose
    /// certificate --relay-fingerprint names.
    #[arg(long, value_name = "URI")]
    relay: Option<String>,
    /// User name for the relay's digest challenges.
    #[arg(long, requires_all = ["relay", "password"], value_name = "NAME")]
    user: Option<String>,
    /// Password for the relay's digest challenges.
    #[arg(long, requires_all = ["relay", "user"], value_name = "PASSWORD")]
    password: Option<String>,
    /// The certificate fingerprint of an msrps relay (`sha-256 AB:CD:…`).
    #[arg(long, requires = "relay", value_name = "FINGERPRINT")]
    relay_fingerprint: Option<String>,
}

impl RelayArgs {
    /// Whether a relay was given.
    pub(crate) fn is_set(&self) -> bool {
        self.relay.is_some()
    }

    /// With a WebSocket relay (a `;ws` URI, RFC 7977), this side's own URI: a WebSocket client
    /// cannot be connected to, so its URI names a made-up `.invalid` host with transport `ws`
    /// (RFC 7977 §8.1.1: `msrps://df7jal23ls0d.invalid:2855/98cjs;ws`), and the relay routes
    /// to it over its connection. Its session id is `session`, or a random one. `None` for any
    /// other relay, or none.
    pub(crate) fn websocket_uri(&self, session: Option<&str>) -> Option<String> {
        let uri: msrp_uri::MsrpUri = self.relay.as_ref()?.parse().ok()?;
        if uri.transport() != msrp_uri::Transport::Ws {
            return None;
        }
        let mut random = secure_random();
        let mut host = [0u8; 6];
        random(&mut host);
        let session = session.map_or_else(|| msrp_uri::generate_session_id(random), str::to_owned);
        Some(format!(
            "{}://{}.invalid:2855/{session};ws",
            uri.scheme().as_str(),
            hex(&host)
        ))
    }

    /// Puts a session through the relay, when one was given, with chunks of at most
    /// `max_chunk` bytes toward it when that is given (the relay's default otherwise).
    pub(crate) fn apply(
        &self,
        mut spec: SessionSpec,
        max_chunk: Option<usize>,
    ) -> Result<SessionSpec, Failure> {
        let Some(uri) = &self.relay else {
            return Ok(spec);
        };
        let uri: msrp_uri::MsrpUri = uri
            .parse()
            .map_err(|e| Failure::new(USAGE, format!("invalid --relay URI {uri:?}: {e}")))?;
        let secure = uri.scheme().is_secure();
        let mut relay = Relay::new(uri);
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            relay = relay.credentials(Credentials::new(user, password));
        }
        if let Some(n) = max_chunk {
            relay = relay.max_chunk(n);
        }
        spec = spec.through(vec![relay]);
        match (&self.relay_fingerprint, secure) {
            (Some(fp), true) => {
                let fp = Fingerprint::parse(fp).ok_or_else(|| {
                    Failure::new(USAGE, format!("invalid --relay-fingerprint {fp:?}"))
                })?;
                Ok(spec.peer_check(PeerVerification::Fingerprints(vec![fp])))
            }
            (None, true) => Err(Failure::new(
                USAGE,
                "an msrps relay needs --relay-fingerprint",
            )),
            // An msrp: relay URI given on the command line is the explicit choice of plain TCP.
            (_, false) => Ok(spec.allow_plain_relay()),
        }
    }
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A running SHA-256 with a byte count.
#[derive(Default)]
pub(crate) struct Hasher {
    hash: Sha256,
    pub(crate) len: u64,
}

impl Hasher {
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.hash.update(data);
        self.len += data.len() as u64;
    }

    pub(crate) fn hex(self) -> String {
        hex(&self.hash.finalize())
    }
}

/// Appends to `text` what it takes of `data` to hold the first `show` bytes of a message.
pub(crate) fn keep_first(text: &mut Vec<u8>, show: usize, data: &[u8]) {
    let room = show.saturating_sub(text.len());
    text.extend_from_slice(&data[..room.min(data.len())]);
}

/// The SHA-256 and the first bytes of a message whose pieces come in any order, as data events
/// bring them. Pieces in order are hashed at once; pieces ahead of a gap are kept (copied,
/// without overlaps) until it fills. What is kept is thus no more than what the session let
/// through beyond the message's first gap, which `Limits::max_gap_bytes` bounds.
pub(crate) struct InOrder {
    hasher: Hasher,
    /// Where the next byte to hash lies in the message.
    next: u64,
    /// Pieces ahead of `next`, by offset, disjoint.
    ahead: BTreeMap<u64, Vec<u8>>,
    /// The first bytes, up to `show` of them.
    text: Vec<u8>,
    show: usize,
}

impl InOrder {
    /// Nothing hashed yet; keeps the first `show` bytes.
    pub(crate) fn new(show: usize) -> Self {
        Self {
            hasher: Hasher::default(),
            next: 0,
            ahead: BTreeMap::new(),
            text: Vec::new(),
            show,
        }
    }

    /// Takes a piece at `offset`.
    pub(crate) fn add(&mut self, offset: u64, data: &[u8]) {
        // What lies before `next` was hashed already (a duplicate, or an overlap): only what is
        // new counts.
        let skip = self.next.saturating_sub(offset);
        if skip >= data.len() as u64 {
            return;
        }
        let (offset, data) = (offset + skip, &data[skip as usize..]);
        if offset > self.next {
            self.keep(offset, data);
            return;
        }
        self.hash(data);
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() > self.next {
                break;
            }
            let (start, piece) = entry.remove_entry();
            let skip = (self.next - start) as usize;
            if skip < piece.len() {
                self.hash(&piece[skip..]);
            }
        }
    }

    /// Hashes bytes that lie at `next`.
    fn hash(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.next += data.len() as u64;
        keep_first(&mut self.text, self.show, data);
    }

    /// Keeps a piece ahead of `next`. A later piece takes precedence over what it overlaps (RFC
    /// 4975 §7.3.1), so that no byte is kept twice.
    fn keep(&mut self, start: u64, data: &[u8]) {
        let end = start + data.len() as u64;
        if let Some((&before, piece)) = self.ahead.range_mut(..start).next_back() {
            let piece_end = before + piece.len() as u64;
            if piece_end > start {
                let tail = (piece_end > end).then(|| piece[(end - before) as usize..].to_vec());
                piece.truncate((start - before) as usize);
                piece.shrink_to_fit();
                if let Some(tail) = tail {
                    self.ahead.insert(end, tail);
                }
            }
        }
        while let Some((&inside, _)) = self.ahead.range(start..end).next() {
            let Some(piece) = self.ahead.remove(&inside) else {
                break;
            };
            let piece_end = inside + piece.len() as u64;
            if piece_end > end {
                self.ahead
                    .insert(end, piece[(end - inside) as usize..].to_vec());
            }
        }
        self.ahead.insert(start, data.to_vec());
    }

    /// Bytes kept ahead of a gap.
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.ahead.values().map(Vec::len).sum()
    }

    /// The hex SHA-256 of what was hashed, and the first bytes.
    pub(crate) fn finish(self) -> (String, Vec<u8>) {
        (self.hasher.hex(), self.text)
    }
}

/// Writes one line to stdout and flushes it, so that scripts see it at once.
pub(crate) fn out_line(line: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(NOT_DELIVERED, format!("cannot write to stdout: {e}")))
}

/// A file name from a Content-Disposition `filename`, reduced to its last component, or
/// `None` when nothing safe is left (empty, `.`, `..`, hidden path tricks).
pub(crate) fn safe_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next()?.trim();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && *c != ':')
        .collect();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return None;
    }
    Some(cleaned)
}

/// The media type for a file name, from its extension; `application/octet-stream` otherwise.
pub(crate) fn guess_content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "log" | "md" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "xml" => "application/xml",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "cpim" => "message/cpim",
        _ => "application/octet-stream",
    }
}

/// Whether a media type is text that can be shown.
pub(crate) fn is_text_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("text/"))
}

/// Sets up `-v`: frames sent and received go to stderr.
pub(crate) fn verbose(on: bool) {
    if on {
        let _ = tracing_subscriber::fmt()
            .with_writer(io::stderr)
            .with_max_level(tracing::Level::DEBUG)
            .with_target(false)
            .without_time()
            .try_init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_stay_inside_the_folder() {
        assert_eq!(safe_file_name("photo.jpg").as_deref(), Some("photo.jpg"));
        assert_eq!(
            safe_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(safe_file_name("C:\\x\\..\\y.txt").as_deref(), Some("y.txt"));
        assert_eq!(safe_file_name("/"), None);
        assert_eq!(safe_file_name(".."), None);
        assert_eq!(safe_file_name("a/.."), None);
        assert_eq!(safe_file_name("c:evil").as_deref(), Some("cevil"));
        assert_eq!(safe_file_name(""), None);
    }

    /// Pieces in any order, duplicated and overlapping (the later piece taking precedence): the
    /// hash is the message's, and no byte is kept twice.
    #[test]
    fn pieces_in_any_order_hash_as_the_message() {
        let message: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 256) as u8).collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..200 {
            let mut pieces = Vec::new();
            let mut at = 0;
            while at < message.len() {
                let end = (at + 1 + random(700) as usize).min(message.len());
                pieces.push((at, end));
                at = end;
            }
            // Overlapping pieces of the same bytes, as a resending peer makes.
            for _ in 0..5 {
                let start = random(message.len() as u64) as usize;
                let end = (start + 1 + random(900) as usize).min(message.len());
                pieces.push((start, end));
            }
            for i in (1..pieces.len()).rev() {
                pieces.swap(i, random(i as u64 + 1) as usize);
            }
            let mut order = InOrder::new(100);
            let mut covered = vec![false; message.len()];
            for &(start, end) in &pieces {
                order.add(start as u64, &message[start..end]);
                covered[start..end].iter_mut().for_each(|c| *c = true);
                let beyond_gap = covered.iter().skip_while(|&&c| c).filter(|&&c| c).count();
                assert!(order.kept() <= beyond_gap);
            }
            let mut whole = Hasher::default();
            whole.update(&message);
            assert_eq!(order.finish(), (whole.hex(), message[..100].to_vec()));
        }
    }

    #[test]
    fn content_types_from_extensions() {
        assert_eq!(guess_content_type(Path::new("a/B.JPG")), "image/jpeg");
        assert_eq!(guess_content_type(Path::new("notes.txt")), "text/plain");
        assert_eq!(
            guess_content_type(Path::new("blob")),
            "application/octet-stream"
        );
        assert!(is_text_type("text/plain; charset=utf-8"));
        assert!(!is_text_type("image/png"));
    }
}
