//! Helpers shared by the commands.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Failure;

/// Exit status for a message that was not delivered, or a connection or peer failure.
pub(crate) const NOT_DELIVERED: u8 = 1;
/// Exit status for wrong arguments (as clap uses).
pub(crate) const USAGE: u8 = 2;

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

/// A path in `dir` for `name` that does not exist yet: `name`, then `name.1`, `name.2` …
pub(crate) fn unique_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    (1..)
        .map(|i| dir.join(format!("{name}.{i}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
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
