//! The value of `a=path` (RFC 4975 §8.2): a non-empty list of MSRP URIs.

use std::fmt;
use std::hash::{Hash, Hasher};

use msrp_uri::MsrpUri;

/// The value of an `a=path` attribute: one or more MSRP URIs, parsed into a [`msrp_uri::Path`].
///
/// RFC 4975 §8.2: "If the path attribute received from the peer contains more than one URI, then
/// the target URI is the rightmost, while the leftmost entry represents the adjacent hop."
///
/// Unlike [`msrp_uri::Path`], which compares URIs only by [`MsrpUri::matches`], this wrapper is
/// `Eq` and `Hash` on the exact text of each URI, so that a parsed and re-encoded session
/// description compares equal to the original. Use [`Path::matches`] for RFC 4975 §6.1
/// comparison.
#[derive(Clone, Debug)]
pub struct Path(msrp_uri::Path);

impl Path {
    /// Parses the value of `a=path`. Runs of spaces or tabs between URIs are accepted (RFC 4975
    /// asks for one space), and so are leading and trailing ones.
    pub fn parse(value: &str) -> Result<Self, msrp_uri::Error> {
        let uris = value
            .split([' ', '\t'])
            .filter(|s| !s.is_empty())
            .map(MsrpUri::parse)
            .collect::<Result<Vec<_>, _>>()?;
        match msrp_uri::Path::from_vec(uris) {
            Some(path) => Ok(Self(path)),
            // No URI at all: let `msrp-uri` report the empty list.
            None => msrp_uri::Path::parse("").map(Self),
        }
    }

    /// The URIs as a [`msrp_uri::Path`], for To-Path and From-Path headers.
    pub fn as_uri_path(&self) -> &msrp_uri::Path {
        &self.0
    }

    /// Gives back the [`msrp_uri::Path`].
    pub fn into_uri_path(self) -> msrp_uri::Path {
        self.0
    }

    /// The leftmost URI: the adjacent hop, to which a connection is made.
    pub fn first(&self) -> &MsrpUri {
        self.0.first()
    }

    /// The rightmost URI: the endpoint that owns the path (RFC 4975 §8.2).
    pub fn last(&self) -> &MsrpUri {
        self.0.last()
    }

    /// The number of URIs, at least one.
    #[allow(clippy::len_without_is_empty)] // A path is never empty.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Iterates over the URIs, leftmost first.
    pub fn iter(&self) -> msrp_uri::Iter<'_> {
        self.0.iter()
    }

    /// Whether the path names relays, that is holds more than one URI (RFC 4976).
    pub fn uses_relay(&self) -> bool {
        self.0.len() > 1
    }

    /// Whether both paths have the same length and their URIs match pairwise by RFC 4975 §6.1.
    pub fn matches(&self, other: &Path) -> bool {
        self.0.matches(&other.0)
    }
}

impl From<msrp_uri::Path> for Path {
    fn from(path: msrp_uri::Path) -> Self {
        Self(path)
    }
}

impl From<MsrpUri> for Path {
    fn from(uri: MsrpUri) -> Self {
        Self(msrp_uri::Path::new(uri))
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(other.0.iter())
                .all(|(a, b)| a.as_str() == b.as_str())
    }
}

impl Eq for Path {}

impl Hash for Path {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for uri in self.0.iter() {
            uri.as_str().hash(state);
        }
    }
}

impl fmt::Display for Path {
    /// Writes the URIs as parsed, separated by single spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Path {
    type Err = msrp_uri::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        let p = Path::parse(
            " msrps://relay.example.com:9000/hjdhfha;tcp  msrps://bob.example.com:1234/fuige;tcp",
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert!(p.uses_relay());
        assert_eq!(
            p.first().as_str(),
            "msrps://relay.example.com:9000/hjdhfha;tcp"
        );
        assert_eq!(p.last().session_id(), Some("fuige"));
        assert_eq!(
            p.to_string(),
            "msrps://relay.example.com:9000/hjdhfha;tcp msrps://bob.example.com:1234/fuige;tcp"
        );
        assert!(Path::parse("").is_err());
        assert!(Path::parse("sip:bob@example.com").is_err());
    }

    #[test]
    fn equality_is_textual_and_matching_is_not() {
        let a = Path::parse("msrp://a.example.com:1/x;tcp").unwrap();
        let b = Path::parse("MSRP://A.example.com:1/x;TCP").unwrap();
        assert_ne!(a, b);
        assert!(a.matches(&b));
    }
}
