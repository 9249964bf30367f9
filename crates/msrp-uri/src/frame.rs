//! Reading the path headers of a decoded frame.

use std::fmt;

use msrp_wire::{Head, HeaderError, HeaderName, UriList};

use crate::error::Error;
use crate::path::Path;

/// Why a path header of a frame could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathHeaderError {
    /// The header is repeated or its value is not a list of URIs separated by single spaces.
    Header(HeaderError),
    /// A URI in the list is malformed; the error's offset is within the header value.
    Uri {
        /// The header.
        header: HeaderName,
        /// Offset in the stream of the header value.
        value_offset: u64,
        /// What is wrong with the URI.
        error: Error,
    },
}

impl PathHeaderError {
    /// Offset in the stream of the offending byte.
    pub fn offset(&self) -> u64 {
        match self {
            Self::Header(e) => e.offset(),
            Self::Uri {
                value_offset,
                error,
                ..
            } => value_offset + error.offset() as u64,
        }
    }
}

impl fmt::Display for PathHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(e) => e.fmt(f),
            Self::Uri { header, error, .. } => {
                write!(f, "{header}: {} at byte {}", error.kind(), self.offset())
            }
        }
    }
}

impl std::error::Error for PathHeaderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Its text is this error's own.
            Self::Header(e) => e.source(),
            Self::Uri { error, .. } => Some(error),
        }
    }
}

impl From<HeaderError> for PathHeaderError {
    fn from(e: HeaderError) -> Self {
        Self::Header(e)
    }
}

/// The To-Path, From-Path and Use-Path headers of a frame's [`Head`], parsed into [`Path`]s.
///
/// Each method returns `Ok(None)` when the header is absent.
///
/// ```
/// use msrp_uri::FramePaths;
///
/// let mut decoder = msrp_wire::Decoder::new();
/// decoder.push(b"MSRP a786hjs2 200 OK\r\n\
/// To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n\
/// From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n\
/// -------a786hjs2$\r\n");
/// let frame = decoder.decode()?.expect("complete");
/// let to = frame.parsed_to_path()?.expect("present");
/// assert_eq!(to.last().session_id(), Some("jshA7weztas"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait FramePaths {
    /// `To-Path`, parsed.
    fn parsed_to_path(&self) -> Result<Option<Path>, PathHeaderError>;
    /// `From-Path`, parsed.
    fn parsed_from_path(&self) -> Result<Option<Path>, PathHeaderError>;
    /// `Use-Path` (RFC 4976), parsed.
    fn parsed_use_path(&self) -> Result<Option<Path>, PathHeaderError>;

    /// The session-id of the first To-Path URI, read without parsing the URIs: what a
    /// connection that carries several sessions routes requests by. `None` when To-Path is
    /// absent or malformed, or its first URI has no session-id.
    fn to_path_session_id(&self) -> Option<&str>;
}

/// The session-id of a URI's text, found without validating the rest: the text after the first
/// `/` that follows the authority, up to the first `;`.
pub fn session_id_of(uri: &str) -> Option<&str> {
    let (_, rest) = uri.split_once("://")?;
    let end = rest.find(';').unwrap_or(rest.len());
    let rest = &rest[..end];
    let (_, id) = rest.split_once('/')?;
    (!id.is_empty()).then_some(id)
}

fn parse(
    head: &Head,
    header: HeaderName,
    list: Result<Option<UriList<'_>>, HeaderError>,
) -> Result<Option<Path>, PathHeaderError> {
    let Some(list) = list? else {
        return Ok(None);
    };
    let value_offset = head
        .headers()
        .find(|h| h.name == header)
        .map_or(0, |h| h.offset);
    Path::parse(list.as_str())
        .map(Some)
        .map_err(|error| PathHeaderError::Uri {
            header,
            value_offset,
            error,
        })
}

impl FramePaths for Head {
    fn parsed_to_path(&self) -> Result<Option<Path>, PathHeaderError> {
        parse(self, HeaderName::ToPath, self.to_path())
    }

    fn parsed_from_path(&self) -> Result<Option<Path>, PathHeaderError> {
        parse(self, HeaderName::FromPath, self.from_path())
    }

    fn parsed_use_path(&self) -> Result<Option<Path>, PathHeaderError> {
        parse(self, HeaderName::UsePath, self.use_path())
    }

    fn to_path_session_id(&self) -> Option<&str> {
        let list = self.to_path().ok()??;
        session_id_of(list.iter().next()?)
    }
}

#[cfg(test)]
mod tests {
    use super::session_id_of;

    #[test]
    fn session_ids_of_uri_texts() {
        let cases = [
            (
                "msrp://a.example.com:7654/jshA7weztas;tcp",
                Some("jshA7weztas"),
            ),
            ("msrps://[::1]:2855/a/b=c+d;tcp;x=y", Some("a/b=c+d")),
            ("msrp://relay.example.net:2855;tcp", None),
            ("msrp://h:1/;tcp", None),
            ("msrp://h:1/abc", Some("abc")),
            ("not a uri", None),
            ("", None),
        ];
        for (uri, id) in cases {
            assert_eq!(session_id_of(uri), id, "{uri}");
        }
    }
}
