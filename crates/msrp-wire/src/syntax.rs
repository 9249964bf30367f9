//! Character classes of the RFC 4975 §9 grammar.

/// Longest transaction id: `ident = ALPHANUM 3*31ident-char`.
pub(crate) const MAX_TID: usize = 32;
/// Shortest transaction id.
pub(crate) const MIN_TID: usize = 4;

const fn is_token_byte(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x27 | 0x2A..=0x2B | 0x2D..=0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E)
}

const fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'%' | b'=')
}

/// Tabulates a byte class, so that checks in loops are one load.
macro_rules! table {
    ($f:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $f(i as u8);
            i += 1;
        }
        t
    }};
}

/// `token = 1*(%x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E)`
static TOKEN: [bool; 256] = table!(is_token_byte);

/// `ident-char = ALPHANUM / "." / "-" / "+" / "%" / "="`
static IDENT_CHAR: [bool; 256] = table!(is_ident_char);

/// Whether `b` may appear in a `token`.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// Whether `s` is an `ident` (transaction id or Message-ID): one ALPHANUM then 3 to 31
/// ident-chars.
pub fn is_ident(s: &[u8]) -> bool {
    (MIN_TID..=MAX_TID).contains(&s.len())
        && s[0].is_ascii_alphanumeric()
        && s[1..].iter().all(|&b| IDENT_CHAR[b as usize])
}

/// Whether `b` may start an `hname` (`ALPHA *token`).
#[inline]
pub(crate) fn is_hname(s: &[u8]) -> bool {
    match s.split_first() {
        Some((first, rest)) => first.is_ascii_alphabetic() && rest.iter().all(|&b| is_token(b)),
        None => false,
    }
}

/// Position of the first byte of `s` that `utf8text` does not allow, if any.
///
/// `utf8text = *(HTAB / %x20-7E / UTF8-NONASCII)`: every control byte other than HTAB, and DEL,
/// is refused. Bytes from 0x80 up are let through here; their UTF-8 structure is checked by the
/// accessors that return `&str`. Eight bytes are checked at a time; only a word that holds a
/// suspicious byte is looked at byte by byte.
#[inline]
pub(crate) fn find_non_text(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // A byte below 0x20 sets its high bit in `x - 0x20..` while its own high bit is clear.
        let below_space = x.wrapping_sub(LO * 0x20) & !x & HI;
        // A DEL byte becomes zero after the XOR.
        let del = x ^ (LO * 0x7F);
        let is_del = del.wrapping_sub(LO) & !del & HI;
        if below_space | is_del != 0 {
            if let Some(i) = chunk.iter().position(|&b| !is_text(b)) {
                return Some(base + i);
            }
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| !is_text(b))
        .map(|i| base + i)
}

#[inline]
fn is_text(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idents() {
        assert!(is_ident(b"a786hjs2"));
        assert!(is_ident(b"49fh"));
        assert!(is_ident(b"a.-+%=bc"));
        assert!(!is_ident(b"abc"), "three characters are too few");
        assert!(!is_ident(&[b'a'; 33]), "33 characters are too many");
        assert!(is_ident(&[b'a'; 32]));
        assert!(
            !is_ident(b".abc"),
            "the first character must be alphanumeric"
        );
        assert!(!is_ident(b"ab cd"));
        assert!(!is_ident(b"ab/cd"));
    }

    #[test]
    fn header_names() {
        assert!(is_hname(b"To-Path"));
        assert!(is_hname(b"X"));
        assert!(!is_hname(b""));
        assert!(!is_hname(b"1abc"));
        assert!(!is_hname(b"-abc"));
        assert!(!is_hname(b"To Path"));
        assert!(!is_hname(b"To(Path"));
    }

    #[test]
    fn text_check_agrees_with_bytewise_check() {
        for b in 0..=255u8 {
            for pos in 0..20 {
                let mut v = vec![b'a'; 20];
                v[pos] = b;
                let expect = if is_text(b) { None } else { Some(pos) };
                assert_eq!(find_non_text(&v), expect, "byte {b:#x} at {pos}");
            }
        }
        assert_eq!(find_non_text(b""), None);
        assert_eq!(find_non_text("caf\u{e9} \t ok".as_bytes()), None);
    }
}
