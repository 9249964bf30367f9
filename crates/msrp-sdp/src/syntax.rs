//! Small lexical helpers shared by the SDP parsers: tokens, quoted strings, hexadecimal pairs.

/// Whether `b` may appear in an RFC 4566 / RFC 4975 `token`.
///
/// Both RFCs define `token` as `1*(%x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A /
/// %x5E-7E)`.
pub(crate) fn is_token_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x27 | 0x2A..=0x2B | 0x2D..=0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E)
}

/// Whether `s` is a non-empty `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Whether `s` is a non-empty string of ASCII digits.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a non-empty run of ASCII digits into a `u64`; `None` on any other input or on overflow.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if is_digits(s) { s.parse().ok() } else { None }
}

/// Parses a non-empty run of ASCII digits into a `u16`; `None` on any other input or on overflow.
pub(crate) fn parse_u16(s: &str) -> Option<u16> {
    if is_digits(s) { s.parse().ok() } else { None }
}

/// Splits `s` at runs of spaces and tabs that are outside double quotes.
///
/// With `escapes`, a backslash inside quotes escapes the next character (RFC 4975 `quoted-string`);
/// without, a backslash is an ordinary character (RFC 5547 `filename-string`). Returns `None` when a
/// quote is left open. Empty pieces are never returned.
pub(crate) fn split_outside_quotes(s: &str, escapes: bool) -> Option<Vec<&str>> {
    let bytes = s.as_bytes();
    let mut pieces = Vec::new();
    let mut start = None;
    let mut in_quotes = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_quotes {
            if b == b'\\' && escapes {
                i += 1;
            } else if b == b'"' {
                in_quotes = false;
            }
        } else if b == b' ' || b == b'\t' {
            if let Some(from) = start.take() {
                pieces.push(&s[from..i]);
            }
        } else {
            if start.is_none() {
                start = Some(i);
            }
            if b == b'"' {
                in_quotes = true;
            }
        }
        i += 1;
    }
    if in_quotes {
        return None;
    }
    if let Some(from) = start {
        pieces.push(&s[from..]);
    }
    Some(pieces)
}

/// Whether `s` is an RFC 4975 `quoted-string`: a double quote, then any mix of characters other
/// than a double quote or a backslash and of backslash escapes, then a closing double quote.
pub(crate) fn is_quoted_string(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() < 2 || bytes[0] != b'"' || bytes[bytes.len() - 1] != b'"' {
        return false;
    }
    let inner = &bytes[1..bytes.len() - 1];
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' => {
                if i + 1 >= inner.len() {
                    return false;
                }
                i += 2;
            }
            b'"' | b'\r' | b'\n' => return false,
            _ => i += 1,
        }
    }
    true
}

/// The value of one hexadecimal digit, either case.
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses `2HEXDIG *(":" 2HEXDIG)` into bytes. Lowercase digits are accepted.
pub(crate) fn parse_hex_pairs(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(s.len().div_ceil(3));
    for pair in s.split(':') {
        let p = pair.as_bytes();
        if p.len() != 2 {
            return None;
        }
        out.push(hex_value(p[0])? << 4 | hex_value(p[1])?);
    }
    Some(out)
}

/// Writes bytes as uppercase hexadecimal pairs separated by colons.
pub(crate) fn write_hex_pairs(out: &mut impl std::fmt::Write, bytes: &[u8]) -> std::fmt::Result {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.write_char(':')?;
        }
        write!(out, "{b:02X}")?;
    }
    Ok(())
}

/// Whether `haystack` starts with `prefix`, ignoring ASCII case; returns the rest when it does.
pub(crate) fn strip_prefix_ignore_case<'a>(haystack: &'a str, prefix: &str) -> Option<&'a str> {
    let n = prefix.len();
    if haystack.len() >= n
        && haystack.is_char_boundary(n)
        && haystack[..n].eq_ignore_ascii_case(prefix)
    {
        Some(&haystack[n..])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes() {
        assert_eq!(
            split_outside_quotes(r#"name:"My cool picture.jpg" size:1"#, false),
            Some(vec![r#"name:"My cool picture.jpg""#, "size:1"])
        );
        assert_eq!(
            split_outside_quotes("  a \t b  ", true),
            Some(vec!["a", "b"])
        );
        assert_eq!(
            split_outside_quotes(r#"x="a\" b" c"#, true),
            Some(vec![r#"x="a\" b""#, "c"])
        );
        assert_eq!(
            split_outside_quotes(r#"x="a\" b"#, false),
            Some(vec![r#"x="a\""#, "b"])
        );
        assert_eq!(split_outside_quotes(r#"x="open"#, false), None);
        assert_eq!(split_outside_quotes("", false), Some(vec![]));
    }

    #[test]
    fn hex_pairs() {
        assert_eq!(parse_hex_pairs("4A:ad:00"), Some(vec![0x4a, 0xad, 0]));
        assert_eq!(parse_hex_pairs("4A:"), None);
        assert_eq!(parse_hex_pairs("4"), None);
        assert_eq!(parse_hex_pairs("GG"), None);
        let mut s = String::new();
        write_hex_pairs(&mut s, &[0x4a, 0xad, 0]).unwrap();
        assert_eq!(s, "4A:AD:00");
    }

    #[test]
    fn quoted_strings() {
        assert!(is_quoted_string(r#""a b""#));
        assert!(is_quoted_string(r#""a\"b""#));
        assert!(!is_quoted_string(r#""a"b""#));
        assert!(!is_quoted_string(r#""a\""#));
        assert!(!is_quoted_string("\""));
    }

    #[test]
    fn prefixes() {
        assert_eq!(strip_prefix_ignore_case("NAME:x", "name:"), Some("x"));
        assert_eq!(strip_prefix_ignore_case("na", "name:"), None);
        assert_eq!(strip_prefix_ignore_case("né:xxxx", "nam:"), None);
    }
}
