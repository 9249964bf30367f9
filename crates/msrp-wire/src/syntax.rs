//! Character classes of the RFC 4975 §9 grammar.

/// Longest transaction id: `ident = ALPHANUM 3*31ident-char`.
pub(crate) const MAX_TID: usize = 32;
/// Shortest transaction id.
pub(crate) const MIN_TID: usize = 4;

const fn is_token_byte(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x27 | 0x2A..=0x2B | 0x2D..=0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E)
}

const fn ident_char(b: u8) -> bool {
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
static IDENT_CHAR: [bool; 256] = table!(ident_char);

/// Whether `b` may appear in a `token`.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// Whether `b` may appear in an `ident` after its first character.
#[inline]
pub(crate) fn is_ident_char(b: u8) -> bool {
    IDENT_CHAR[b as usize]
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

/// Position of the first `needle` in `s`: for the short runs (header names) where a call to
/// `memchr` costs more than the search.
#[inline]
pub(crate) fn find_byte(s: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ (LO * needle as u64);
        // The lowest flagged byte is the first zero byte: borrows only travel upwards.
        let zero = x.wrapping_sub(LO) & !x & HI;
        if zero != 0 {
            return Some(base + (zero.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| base + i)
}

/// Position of the first byte of `s` that `utf8text` does not allow, if any.
///
/// `utf8text = *(HTAB / %x20-7E / UTF8-NONASCII)`: every control byte other than HTAB, and DEL,
/// is refused. Bytes from 0x80 up are let through here; their UTF-8 structure is checked by the
/// accessors that return `&str`. Sixteen bytes are checked at a time; only a block that holds a
/// suspicious byte is looked at byte by byte.
#[inline]
pub(crate) fn find_non_text(s: &[u8]) -> Option<usize> {
    let mut chunks = s.chunks_exact(16);
    let mut base = 0;
    for chunk in &mut chunks {
        // A fixed-size loop without early exit, which compiles to a few vector instructions.
        let mut bad = false;
        for &b in chunk {
            bad |= (b < 0x20 && b != b'\t') | (b == 0x7F);
        }
        if bad {
            return Some(base + first_non_text_in_block(chunk));
        }
        base += 16;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| !is_text(b))
        .map(|i| base + i)
}

/// Whether two short slices are equal, compared eight bytes at a time rather than through a
/// call to `memcmp`: for transaction ids and end-lines.
#[inline]
pub(crate) fn eq_short(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let load = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut i = 0;
    let mut diff = 0;
    while i + 8 < n {
        diff |= load(a, i) ^ load(b, i);
        i += 8;
    }
    diff |= load(a, n - 8) ^ load(b, n - 8);
    diff == 0
}

/// Position of the first non-text byte of a 16-byte block known to hold one, eight bytes at a
/// time with exact per-byte tests (no borrow or carry crosses a byte, so the lowest flagged byte
/// is the first one).
fn first_non_text_in_block(block: &[u8]) -> usize {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LO: u64 = 0x0101_0101_0101_0101;
    // High bit set where the byte is zero.
    let zero = |y: u64| !(((y & LOW7) + LOW7) | y) & HIGH;
    for (half, word) in block.chunks_exact(8).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        // High bit set where the low seven bits reach 0x20, or where the byte is 0x80 or more.
        let text_range = (((x & LOW7) + LO * 0x60) | x) & HIGH;
        let control = !text_range & HIGH & !zero(x ^ (LO * b'\t' as u64));
        let bad = control | zero(x ^ (LO * 0x7F));
        if bad != 0 {
            return half * 8 + (bad.trailing_zeros() / 8) as usize;
        }
    }
    block
        .iter()
        .position(|&b| !is_text(b))
        .unwrap_or(block.len())
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
    fn short_compare_agrees_with_slice_equality() {
        for len in 0..40 {
            let a: Vec<u8> = (0..len as u8).collect();
            assert!(eq_short(&a, &a.clone()));
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x40;
                assert!(!eq_short(&a, &b), "{len} {at}");
            }
            assert!(!eq_short(&a, &a[..len.saturating_sub(1)]) || len == 0);
        }
    }

    #[test]
    fn byte_search_agrees_with_position() {
        for len in 0..40 {
            for at in 0..=len {
                let mut v = vec![b'a'; len];
                if at < len {
                    v[at] = b':';
                }
                // A byte just above the needle must not be taken for it (borrow propagation).
                if at + 1 < len {
                    v[at + 1] = b';';
                }
                assert_eq!(
                    find_byte(&v, b':'),
                    v.iter().position(|&b| b == b':'),
                    "{len} {at}"
                );
            }
        }
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
