//! The file transfer attributes of RFC 5547 §6.

use std::fmt;

use super::syntax::{
    hex_value, is_token, parse_hex_pairs, parse_u64, split_outside_quotes,
    strip_prefix_ignore_case, write_hex_pairs,
};

/// The value of `a=file-selector` (RFC 5547 §5, §6): the properties that identify one file.
///
/// All fields empty is the capability form (RFC 5547 §8.5: "The 'file-selector' media attribute
/// MUST be empty, i.e., it MUST NOT contain any selector").
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FileSelector {
    /// The `name` selector, percent-decoded.
    ///
    /// RFC 5547 §6 warns that the name "might still contain characters that, although not
    /// meaningful for the local operating system, might still be meaningful to the remote
    /// operating system": sanitise it before using it as a local file name.
    pub name: Option<String>,
    /// The `type` selector.
    pub media_type: Option<FileType>,
    /// The `size` selector, in octets.
    pub size: Option<u64>,
    /// The `hash` selectors, in order. RFC 5547 §6: implementations "MUST be prepared to receive
    /// SDP containing more than a single 'hash' selector".
    pub hashes: Vec<FileHash>,
}

impl FileSelector {
    /// Whether no selector is present (the capability form of RFC 5547 §8.5).
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.media_type.is_none()
            && self.size.is_none()
            && self.hashes.is_empty()
    }

    /// Parses the value of `a=file-selector` (empty for the capability form). Returns `None` on
    /// an unknown or repeated selector or on a selector that breaks its grammar.
    pub fn parse(value: &str) -> Option<Self> {
        let mut selector = Self::default();
        for piece in split_outside_quotes(value, false)? {
            if let Some(quoted) = strip_prefix_ignore_case(piece, "name:") {
                let raw = quoted.strip_prefix('"')?.strip_suffix('"')?;
                if selector.name.replace(decode_filename(raw)?).is_some() {
                    return None;
                }
            } else if let Some(size) = strip_prefix_ignore_case(piece, "size:") {
                if selector.size.replace(parse_u64(size)?).is_some() {
                    return None;
                }
            } else if let Some(media_type) = strip_prefix_ignore_case(piece, "type:") {
                if selector
                    .media_type
                    .replace(FileType::parse(media_type)?)
                    .is_some()
                {
                    return None;
                }
            } else if let Some(hash) = strip_prefix_ignore_case(piece, "hash:") {
                let (algorithm, value) = hash.split_once(':')?;
                if !is_token(algorithm) {
                    return None;
                }
                selector.hashes.push(FileHash {
                    algorithm: algorithm.to_owned(),
                    value: parse_hex_pairs(value)?,
                });
            } else {
                return None;
            }
        }
        Some(selector)
    }
}

impl fmt::Display for FileSelector {
    /// Writes the selectors (the text after `a=file-selector:`) in the order name, type, size,
    /// hashes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(name) = &self.name {
            f.write_str("name:\"")?;
            encode_filename(f, name)?;
            f.write_str("\"")?;
            sep = " ";
        }
        if let Some(media_type) = &self.media_type {
            write!(f, "{sep}type:{media_type}")?;
            sep = " ";
        }
        if let Some(size) = self.size {
            write!(f, "{sep}size:{size}")?;
            sep = " ";
        }
        for hash in &self.hashes {
            write!(f, "{sep}hash:{hash}")?;
            sep = " ";
        }
        Ok(())
    }
}

/// Decodes an RFC 5547 `filename-string`: any byte but NUL, CR, LF, `"` and `%`, or a
/// `%` followed by two hexadecimal digits. The result must be UTF-8 (RFC 5547 §6: "The filename
/// is encoded in UTF-8").
fn decode_filename(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = hex_value(*bytes.get(i + 1)?)?;
                let lo = hex_value(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            0 | b'\r' | b'\n' | b'"' => return None,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes a file name for the `name` selector.
///
/// RFC 5547 §6: "If a file name contains double quotes or any other character that the syntax
/// does not allow in the 'name' selector, they MUST be percent-encoded. The 'name' selector MUST
/// NOT contain characters that can be interpreted as directory structure by the local operating
/// system." NUL, CR, LF, `"` and `%` are encoded because the grammar excludes them; `/` and `\`
/// because they separate directories.
fn encode_filename(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    for c in name.chars() {
        match c {
            '\0' | '\r' | '\n' | '"' | '%' | '/' | '\\' => write!(f, "%{:02X}", c as u32)?,
            _ => fmt::Write::write_char(f, c)?,
        }
    }
    Ok(())
}

/// The `type` selector of `a=file-selector`: `type/subtype` with `;name="value"` parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileType {
    /// The top-level type, such as `image`.
    pub type_name: String,
    /// The subtype, such as `jpeg`.
    pub subtype: String,
    /// Parameters in order; each value is the text between the double quotes, still
    /// percent-encoded as RFC 5547 `value-string` requires.
    pub params: Vec<(String, String)>,
}

impl FileType {
    /// A type selector without parameters.
    pub fn new(type_name: &str, subtype: &str) -> Self {
        Self {
            type_name: type_name.to_owned(),
            subtype: subtype.to_owned(),
            params: Vec::new(),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        // The parameter values are double-quoted `filename-string`s, which may hold `;` but never
        // `"`, so a `;` outside quotes always starts a parameter.
        let mut pieces = Vec::new();
        let mut start = 0;
        let mut in_quotes = false;
        for (i, b) in text.bytes().enumerate() {
            match b {
                b'"' => in_quotes = !in_quotes,
                b';' if !in_quotes => {
                    pieces.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if in_quotes {
            return None;
        }
        pieces.push(&text[start..]);
        let mut pieces = pieces.into_iter();
        let (type_name, subtype) = pieces.next()?.split_once('/')?;
        if !is_token(type_name) || !is_token(subtype) {
            return None;
        }
        let mut params = Vec::new();
        for param in pieces {
            let (name, quoted) = param.split_once('=')?;
            let value = quoted.strip_prefix('"')?.strip_suffix('"')?;
            if !is_token(name) || decode_filename(value).is_none() {
                return None;
            }
            params.push((name.to_owned(), value.to_owned()));
        }
        Some(Self {
            type_name: type_name.to_owned(),
            subtype: subtype.to_owned(),
            params,
        })
    }
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.type_name, self.subtype)?;
        for (name, value) in &self.params {
            write!(f, ";{name}=\"{value}\"")?;
        }
        Ok(())
    }
}

/// The `hash` selector of `a=file-selector`: an algorithm from the IANA Hash Function Textual
/// Names registry (RFC 5547 uses `sha-1`) and the digest of the whole file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileHash {
    /// The algorithm as written, such as `sha-1`.
    pub algorithm: String,
    /// The digest bytes.
    pub value: Vec<u8>,
}

impl fmt::Display for FileHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.algorithm)?;
        write_hex_pairs(f, &self.value)
    }
}

/// The value of `a=file-date` (RFC 5547 §6). Each date is the RFC 5322 `date-time` text between
/// the double quotes, kept as written.
///
/// RFC 5547 §6: the attribute "MUST NOT contain more than one of each type"; the parser rejects
/// repeats.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FileDate {
    /// The `creation` date.
    pub creation: Option<String>,
    /// The `modification` date.
    pub modification: Option<String>,
    /// The `read` date.
    pub read: Option<String>,
}

impl FileDate {
    /// Parses the value of `a=file-date`. Returns `None` when it holds no date, an unknown or
    /// repeated parameter, or a date that is not a non-empty double-quoted string.
    pub fn parse(value: &str) -> Option<Self> {
        let mut date = Self::default();
        for piece in split_outside_quotes(value, false)? {
            let (name, quoted) = piece.split_once(':')?;
            let text = quoted.strip_prefix('"')?.strip_suffix('"')?;
            if text.is_empty() || text.contains('"') {
                return None;
            }
            let slot = if name.eq_ignore_ascii_case("creation") {
                &mut date.creation
            } else if name.eq_ignore_ascii_case("modification") {
                &mut date.modification
            } else if name.eq_ignore_ascii_case("read") {
                &mut date.read
            } else {
                return None;
            };
            if slot.replace(text.to_owned()).is_some() {
                return None;
            }
        }
        if date.creation.is_none() && date.modification.is_none() && date.read.is_none() {
            return None;
        }
        Some(date)
    }
}

impl fmt::Display for FileDate {
    /// Writes the parameters in the order creation, modification, read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for (name, value) in [
            ("creation", &self.creation),
            ("modification", &self.modification),
            ("read", &self.read),
        ] {
            if let Some(value) = value {
                write!(f, "{sep}{name}:\"{value}\"")?;
                sep = " ";
            }
        }
        Ok(())
    }
}

/// The value of `a=file-range` (RFC 5547 §6): the first and last octet of the file to transfer,
/// counted from 1, both inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileRange {
    /// The first octet, at least 1.
    pub start: u64,
    /// The last octet, or `None` for `*`: RFC 5547 §6, "The "stop offset" value MAY contain a "*"
    /// if the total size of the file is not known in advance."
    pub stop: Option<u64>,
}

impl FileRange {
    /// Parses `start-offset "-" stop-offset`. Returns `None` when the start is 0 or the stop is
    /// before the start.
    pub fn parse(value: &str) -> Option<Self> {
        let (start, stop) = value.split_once('-')?;
        let start = parse_u64(start)?;
        let stop = if stop == "*" {
            None
        } else {
            Some(parse_u64(stop)?)
        };
        // RFC 5547 §6: "The first octet of a file is denoted by the ordinal number "1"."
        if start == 0 || stop.is_some_and(|s| s < start) {
            return None;
        }
        Some(Self { start, stop })
    }
}

impl fmt::Display for FileRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stop {
            Some(stop) => write!(f, "{}-{stop}", self.start),
            None => write!(f, "{}-*", self.start),
        }
    }
}

/// Everything RFC 5547 lets an SDP body say about one file transfer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileDescription {
    /// `a=file-selector`.
    pub selector: FileSelector,
    /// `a=file-transfer-id`: RFC 5547 §8.1 recommends "a relatively big random identifier (e.g.,
    /// 32 characters)", new for every transfer.
    pub transfer_id: String,
    /// `a=file-disposition`; absent means `render` (RFC 5547 §7).
    pub disposition: Option<String>,
    /// `a=file-date`.
    pub date: Option<FileDate>,
    /// `a=file-icon`.
    pub icon: Option<String>,
    /// `a=file-range`; absent means the whole file, `1-*`.
    pub range: Option<FileRange>,
}

impl FileDescription {
    /// A description with a selector and a transfer id and nothing else.
    pub fn new(selector: FileSelector, transfer_id: &str) -> Self {
        Self {
            selector,
            transfer_id: transfer_id.to_owned(),
            disposition: None,
            date: None,
            icon: None,
            range: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_round_trip() {
        let text = r#"name:"My cool picture.jpg" type:image/jpeg size:32349 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E"#;
        let s = FileSelector::parse(text).unwrap();
        assert_eq!(s.name.as_deref(), Some("My cool picture.jpg"));
        assert_eq!(s.media_type, Some(FileType::new("image", "jpeg")));
        assert_eq!(s.size, Some(32349));
        assert_eq!(s.hashes.len(), 1);
        assert_eq!(s.hashes[0].value.len(), 20);
        assert_eq!(s.to_string(), text);
    }

    #[test]
    fn names_are_percent_coded() {
        let s = FileSelector::parse(r#"name:"a%22b%2Fc d""#).unwrap();
        assert_eq!(s.name.as_deref(), Some("a\"b/c d"));
        assert_eq!(s.to_string(), r#"name:"a%22b%2Fc d""#);
        assert!(FileSelector::parse(r#"name:"""#).is_none());
        assert!(FileSelector::parse(r#"name:"%G0""#).is_none());
        assert!(FileSelector::parse(r#"name:"%FF""#).is_none());
        assert!(FileSelector::parse(r#"name:"a" name:"b""#).is_none());
        assert!(FileSelector::parse("colour:red").is_none());
    }

    #[test]
    fn type_parameters() {
        let s = FileSelector::parse(r#"type:text/plain;charset="utf-8";x="a;b""#).unwrap();
        let t = s.media_type.unwrap();
        assert_eq!(
            t.params,
            vec![
                ("charset".into(), "utf-8".into()),
                ("x".into(), "a;b".into())
            ]
        );
        assert_eq!(t.to_string(), r#"text/plain;charset="utf-8";x="a;b""#);
    }

    #[test]
    fn dates_and_ranges() {
        let d = FileDate::parse(r#"creation:"Mon, 15 May 2006 15:01:31 +0300" read:"x""#).unwrap();
        assert_eq!(
            d.creation.as_deref(),
            Some("Mon, 15 May 2006 15:01:31 +0300")
        );
        assert_eq!(d.read.as_deref(), Some("x"));
        assert!(FileDate::parse(r#"creation:"a" creation:"b""#).is_none());
        assert!(FileDate::parse("").is_none());
        assert_eq!(
            FileRange::parse("1-*"),
            Some(FileRange {
                start: 1,
                stop: None
            })
        );
        assert_eq!(FileRange::parse("10-20").unwrap().to_string(), "10-20");
        assert!(FileRange::parse("0-5").is_none());
        assert!(FileRange::parse("5-4").is_none());
    }
}
