//! Character classes and validators for the components of an MSRP URI.
//!
//! Every validator reports offsets relative to the start of the component it checked; callers
//! shift them to the position of the component in the whole text.

use crate::error::{Error, ErrorKind};

/// RFC 3986 §2.3: `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §2.2 `sub-delims`, without `;`.
///
/// The MSRP-URI rule puts `";" transport` right after the authority, and RFC 3986 would let a
/// host or userinfo contain `;` too. Such a URI could not be split unambiguously, so `;` always
/// ends the authority here.
fn is_sub_delim_but_semicolon(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'='
    )
}

/// RFC 4975 §9: `token`, the characters allowed in URI parameter names and values.
pub(crate) fn is_token_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x27 | 0x2A..=0x2B | 0x2D..=0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E)
}

/// RFC 4975 §9: `session-id = 1*( unreserved / "+" / "=" / "/" )`.
pub(crate) fn is_session_id_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'+' | b'=' | b'/')
}

/// The value of one hexadecimal digit, if `b` is one.
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Checks the text of a component made of `unreserved / pct-encoded / sub-delims` (minus `;`),
/// plus whatever `extra` accepts. `bad` is the error for a character outside that set.
fn check_pct_component(
    text: &str,
    extra: impl Fn(u8) -> Option<ErrorKind>,
    bad: ErrorKind,
) -> Result<(), Error> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            if hi.is_none() || lo.is_none() {
                return Err(Error::new(ErrorKind::InvalidPercentEncoding, i));
            }
            i += 3;
            continue;
        }
        if !(is_unreserved(b) || is_sub_delim_but_semicolon(b)) {
            return Err(Error::new(extra(b).unwrap_or(bad), i));
        }
        i += 1;
    }
    Ok(())
}

/// Checks a userinfo (the part before `@`).
///
/// RFC 3986 §3.2.1 allows `*( unreserved / pct-encoded / sub-delims / ":" )`; a `:` separates
/// the deprecated password, which RFC 4975 forbids, so it is rejected.
pub(crate) fn check_userinfo(text: &str) -> Result<(), Error> {
    check_pct_component(
        text,
        // RFC 4975 §6: "A userinfo part MUST NOT contain password information."
        |b| (b == b':').then_some(ErrorKind::PasswordInUserinfo),
        ErrorKind::InvalidUserinfo,
    )
}

/// Checks a registered name (a host that is not an IP address).
///
/// The name must be non-empty RFC 3986 `reg-name` text (without `;`), and must not look like a
/// numeric address: RFC 3986 §7.4 warns that many resolvers read forms such as `1.2.3`,
/// `0x7f.1` or `01.02.03.04` as IPv4 addresses. A name whose last label is all digits, or is
/// `0x` followed by hexadecimal digits, is therefore refused. Otherwise such a host would
/// escape both the port rule of RFC 4975 §6 and the address comparison of §6.1.
pub(crate) fn check_reg_name(text: &str) -> Result<(), Error> {
    if text.is_empty() {
        return Err(Error::new(ErrorKind::EmptyHost, 0));
    }
    check_pct_component(text, |_| None, ErrorKind::InvalidHost)?;
    if ends_in_number(text) {
        return Err(Error::new(ErrorKind::InvalidHost, 0));
    }
    Ok(())
}

/// Whether the last label of a dotted name (ignoring one trailing dot) is a number: all
/// decimal digits, or `0x` followed by hexadecimal digits.
///
/// Labels are looked at after percent-decoding, as §6.1 compares them, so that `1.2.3.%34` is
/// caught as well as `1.2.3.4`.
fn ends_in_number(text: &str) -> bool {
    let mut last = Label::default();
    let mut previous = None;
    for b in normalized_name(text) {
        if b == b'.' {
            previous = Some(last);
            last = Label::default();
        } else {
            last.push(b);
        }
    }
    if last.len == 0 {
        // A trailing dot: the label before it is the last one.
        previous.is_some_and(|label| label.is_number())
    } else {
        last.is_number()
    }
}

/// What [`ends_in_number`] tracks about one label, fed one lowercased byte at a time.
#[derive(Clone, Copy)]
struct Label {
    len: usize,
    all_digits: bool,
    /// Whether the bytes so far fit `"0x" *HEXDIG`.
    hex_form: bool,
}

impl Default for Label {
    fn default() -> Self {
        Self {
            len: 0,
            all_digits: true,
            hex_form: true,
        }
    }
}

impl Label {
    fn push(&mut self, b: u8) {
        self.all_digits &= b.is_ascii_digit();
        self.hex_form &= match self.len {
            0 => b == b'0',
            1 => b == b'x',
            _ => b.is_ascii_hexdigit(),
        };
        self.len += 1;
    }

    fn is_number(self) -> bool {
        self.len > 0 && (self.all_digits || (self.hex_form && self.len >= 2))
    }
}

/// Checks a session-id: `1*( unreserved / "+" / "=" / "/" )`.
pub(crate) fn check_session_id(text: &str) -> Result<(), Error> {
    if text.is_empty() {
        return Err(Error::new(ErrorKind::EmptySessionId, 0));
    }
    match text.bytes().position(|b| !is_session_id_char(b)) {
        Some(i) => Err(Error::new(ErrorKind::InvalidSessionId, i)),
        None => Ok(()),
    }
}

/// Checks a transport: `1*ALPHANUM` (RFC 7977 §5.2.1 keeps the same language).
pub(crate) fn check_transport(text: &str) -> Result<(), Error> {
    if text.is_empty() {
        return Err(Error::new(ErrorKind::InvalidTransport, 0));
    }
    match text.bytes().position(|b| !b.is_ascii_alphanumeric()) {
        Some(i) => Err(Error::new(ErrorKind::InvalidTransport, i)),
        None => Ok(()),
    }
}

/// Checks one URI parameter name or value: a non-empty `token`.
pub(crate) fn check_token(text: &str) -> Result<(), Error> {
    if text.is_empty() {
        return Err(Error::new(ErrorKind::InvalidParameter, 0));
    }
    match text.bytes().position(|b| !is_token_char(b)) {
        Some(i) => Err(Error::new(ErrorKind::InvalidParameter, i)),
        None => Ok(()),
    }
}

/// Checks one `URI-parameter = token ["=" token]` (without its leading `;`).
pub(crate) fn check_parameter(text: &str) -> Result<(), Error> {
    match text.split_once('=') {
        Some((name, value)) => {
            check_token(name)?;
            check_token(value).map_err(|e| e.shifted(name.len() + 1))
        }
        None => check_token(text),
    }
}

/// Parses a port: `1*DIGIT` whose value fits in 16 bits.
///
/// RFC 3986 allows an empty port, but an MSRP URI with `host:` and no digits is almost surely
/// a mistake and would be ambiguous under the port rule of RFC 4975 §6.1, so it is refused.
pub(crate) fn parse_port(text: &str) -> Result<u16, Error> {
    if text.is_empty() {
        return Err(Error::new(ErrorKind::InvalidPort, 0));
    }
    let mut value: u32 = 0;
    for (i, b) in text.bytes().enumerate() {
        if !b.is_ascii_digit() {
            return Err(Error::new(ErrorKind::InvalidPort, i));
        }
        value = value * 10 + u32::from(b - b'0');
        if value > u32::from(u16::MAX) {
            return Err(Error::new(ErrorKind::InvalidPort, 0));
        }
    }
    u16::try_from(value).map_err(|_| Error::new(ErrorKind::InvalidPort, 0))
}

/// Iterates over a registered name the way RFC 4975 §6.1 compares it: percent-encoded
/// unreserved characters are decoded, and every character is lowercased.
///
/// Percent-encoded characters that are not unreserved stay encoded, with their hexadecimal
/// digits lowercased, so that `%2F` and `%2f` compare equal and never equal a decoded
/// character (a decoded character is never `%`).
pub(crate) fn normalized_name(text: &str) -> impl Iterator<Item = u8> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    // A pending tail of an undecoded triplet: up to two hexadecimal digits still to yield.
    let mut pending: [Option<u8>; 2] = [None, None];
    std::iter::from_fn(move || {
        if let Some(b) = pending[0].take() {
            pending.swap(0, 1);
            return Some(b);
        }
        let b = *bytes.get(i)?;
        if b == b'%' {
            let hi = bytes.get(i + 1).copied();
            let lo = bytes.get(i + 2).copied();
            if let (Some(h), Some(l)) = (hi, lo) {
                if let (Some(hv), Some(lv)) = (hex_value(h), hex_value(l)) {
                    let decoded = hv * 16 + lv;
                    i += 3;
                    if is_unreserved(decoded) {
                        return Some(decoded.to_ascii_lowercase());
                    }
                    pending = [Some(h.to_ascii_lowercase()), Some(l.to_ascii_lowercase())];
                    return Some(b'%');
                }
            }
        }
        i += 1;
        Some(b.to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_excludes_separators() {
        for b in [
            b' ', b'"', b'(', b')', b',', b'/', b':', b';', b'<', b'=', b'>', b'?', b'@',
        ] {
            assert!(!is_token_char(b), "{:?}", b as char);
        }
        for b in [
            b'!', b'#', b'%', b'*', b'+', b'-', b'.', b'a', b'Z', b'0', b'^', b'~',
        ] {
            assert!(is_token_char(b), "{:?}", b as char);
        }
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("2855"), Ok(2855));
        assert_eq!(parse_port("065535"), Ok(65535));
        assert_eq!(
            parse_port("65536").map_err(|e| e.kind()),
            Err(ErrorKind::InvalidPort)
        );
        assert_eq!(
            parse_port("99999999999999999999").map_err(|e| e.kind()),
            Err(ErrorKind::InvalidPort)
        );
        assert_eq!(
            parse_port("12a"),
            Err(Error::new(ErrorKind::InvalidPort, 2))
        );
        assert_eq!(parse_port(""), Err(Error::new(ErrorKind::InvalidPort, 0)));
    }

    #[test]
    fn numeric_looking_names() {
        for bad in [
            "1.2.3",
            "01.2.3.4",
            "1234",
            "0x7f.1",
            "a.0X1f",
            "1.2.3.4.",
            "256.1.1.1",
            "0x",
            "1.2.3.%34",
            "a.%30x%41",
            "1.2.3%2E",
        ] {
            assert_eq!(
                check_reg_name(bad).map_err(|e| e.kind()),
                Err(ErrorKind::InvalidHost),
                "{bad}"
            );
        }
        for good in [
            "1host",
            "example.com",
            "example.com.",
            "a.0xg",
            "x1.example",
            "a.%30y",
            "1.2.3.a",
            ".",
        ] {
            assert_eq!(check_reg_name(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn normalization() {
        let n = |s: &str| String::from_utf8(normalized_name(s).collect()).unwrap_or_default();
        assert_eq!(n("Ex%41mple.COM"), "example.com");
        assert_eq!(n("a%2Fb"), "a%2fb");
        assert_eq!(n("a%2"), "a%2");
        assert_eq!(n("%7e%7E"), "~~");
    }
}
