//! Path lists: the values of To-Path, From-Path and Use-Path, and of the SDP `path` attribute.

use std::fmt;
use std::iter::FusedIterator;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};
use crate::uri::MsrpUri;

/// A non-empty list of MSRP URIs: `MSRP-URI *( SP MSRP-URI )`.
///
/// This is the value of the To-Path and From-Path header fields (RFC 4975 §9), of Use-Path
/// (RFC 4976 §7) and of the SDP `path` attribute (RFC 4975 §8.2).
///
/// RFC 4975 §8.2: "If the path attribute received from the peer contains more than one URI,
/// then the target URI is the rightmost, while the leftmost entry represents the adjacent
/// hop." [`Path::first`] is that adjacent hop and [`Path::last`] the target.
///
/// Like [`MsrpUri`], a path has no `PartialEq`; use [`Path::matches`].
///
/// ```
/// use msrp_uri::Path;
///
/// let path: Path = "msrps://relay.example.net:2855/kwvin5f;tcp msrps://bob.example.com:49154/foo;tcp"
///     .parse()?;
/// assert_eq!(path.len(), 2);
/// assert_eq!(path.first().host_str(), "relay.example.net");
/// assert_eq!(path.last().session_id(), Some("foo"));
/// # Ok::<(), msrp_uri::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Path {
    /// The first URI; keeping it apart makes the list non-empty by construction.
    head: MsrpUri,
    /// The URIs after the first.
    tail: Vec<MsrpUri>,
}

impl Path {
    /// Parses a path list from a header or attribute value, without the header name, the colon
    /// and the space that follows it.
    ///
    /// The URIs must be separated by exactly one space, as the grammar says; leading, trailing
    /// or doubled spaces are an [`ErrorKind::InvalidSeparator`]. Error offsets are byte
    /// positions within `value`.
    pub fn parse(value: &str) -> Result<Self, Error> {
        if value.is_empty() {
            return Err(Error::new(ErrorKind::Empty, 0));
        }
        let mut pieces = value.split(' ');
        let mut start = 0;
        let mut next_uri = |piece: &str| {
            let piece_start = start;
            start += piece.len() + 1;
            if piece.is_empty() {
                return Err(Error::new(ErrorKind::InvalidSeparator, piece_start));
            }
            MsrpUri::parse(piece).map_err(|e| e.shifted(piece_start))
        };
        let head = next_uri(pieces.next().unwrap_or(""))?;
        let tail = pieces.map(next_uri).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { head, tail })
    }

    /// Makes a path of one URI.
    pub fn new(uri: MsrpUri) -> Self {
        Self {
            head: uri,
            tail: Vec::new(),
        }
    }

    /// Makes a path from a list of URIs, or returns `None` if the list is empty.
    pub fn from_vec(uris: Vec<MsrpUri>) -> Option<Self> {
        let mut uris = uris.into_iter();
        let head = uris.next()?;
        Some(Self {
            head,
            tail: uris.collect(),
        })
    }

    /// Appends a URI at the end (the target side).
    pub fn push(&mut self, uri: MsrpUri) {
        self.tail.push(uri);
    }

    /// The first URI: the adjacent hop, to which a connection is made.
    ///
    /// RFC 4975 §8.3: "only the first entry is relevant for purposes of resolving the address
    /// and port, and establishing the network connection, as it describes the first adjacent
    /// hop."
    pub fn first(&self) -> &MsrpUri {
        &self.head
    }

    /// The last URI: the target (in a To-Path) or the originator (in a From-Path).
    pub fn last(&self) -> &MsrpUri {
        self.tail.last().unwrap_or(&self.head)
    }

    /// The number of URIs, at least one.
    #[allow(clippy::len_without_is_empty)] // A path is never empty.
    pub fn len(&self) -> usize {
        1 + self.tail.len()
    }

    /// The URI at `index` (0 is the first), if there is one.
    pub fn get(&self, index: usize) -> Option<&MsrpUri> {
        match index.checked_sub(1) {
            None => Some(&self.head),
            Some(i) => self.tail.get(i),
        }
    }

    /// Iterates over the URIs in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: std::iter::once(&self.head).chain(self.tail.iter()),
        }
    }

    /// Gives back the URIs in order.
    pub fn into_vec(self) -> Vec<MsrpUri> {
        let mut uris = Vec::with_capacity(self.len());
        uris.push(self.head);
        uris.extend(self.tail);
        uris
    }

    /// Whether both paths have the same number of URIs and every URI
    /// [matches](MsrpUri::matches) the one at the same place in the other path.
    pub fn matches(&self, other: &Path) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a.matches(b))
    }
}

impl fmt::Display for Path {
    /// Writes the URIs as parsed, separated by single spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.head, f)?;
        for uri in &self.tail {
            f.write_str(" ")?;
            fmt::Display::fmt(uri, f)?;
        }
        Ok(())
    }
}

impl FromStr for Path {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Path {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl From<MsrpUri> for Path {
    fn from(uri: MsrpUri) -> Self {
        Self::new(uri)
    }
}

impl<'a> IntoIterator for &'a Path {
    type Item = &'a MsrpUri;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Path {
    type Item = MsrpUri;
    type IntoIter = std::vec::IntoIter<MsrpUri>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

/// An iterator over the URIs of a [`Path`], from [`Path::iter`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    inner: std::iter::Chain<std::iter::Once<&'a MsrpUri>, std::slice::Iter<'a, MsrpUri>>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a MsrpUri;

    fn next(&mut self) -> Option<&'a MsrpUri> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl FusedIterator for Iter<'_> {}
