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
/// accessors that return `&str`. Sixteen bytes are tested at a time for a byte below 0x20 or
/// equal to 0x7F, then eight at a time to tell which one it is; a tab found that way is stepped
/// over.
#[inline(always)]
pub(crate) fn find_non_text(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Borrows only travel upwards, so the lowest flagged byte is the first byte below 0x20 or
    // equal to 0x7F; bytes from 0x80 up are never flagged first (`!x` clears them).
    let flag = |word: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        let del = x ^ (LO * 0x7F);
        ((x.wrapping_sub(LO * 0x20) & !x) | (del.wrapping_sub(LO) & !del)) & HI
    };
    let mut i = 0;
    loop {
        // Pieces of sixteen bytes none of which is below 0x20 or 0x7F are skipped. The test is
        // written as one reduction over the piece, which compilers turn into a few vector
        // instructions, rather than as a search that stops early.
        let mut rest = &s[i..];
        while let Some((piece, tail)) = rest.split_first_chunk::<16>() {
            if piece
                .iter()
                .fold(false, |any, &b| any | (b < 0x20) | (b == 0x7F))
            {
                break;
            }
            rest = tail;
        }
        i = s.len() - rest.len();
        let (at, flagged) = match rest.get(..16) {
            Some(pair) => match flag(&pair[..8]) {
                0 => (i + 8, flag(&pair[8..])),
                low => (i, low),
            },
            None => match s.get(i..i + 8) {
                Some(word) => match flag(word) {
                    0 => {
                        i += 8;
                        continue;
                    }
                    f => (i, f),
                },
                None => return s[i..].iter().position(|&b| !is_text(b)).map(|p| i + p),
            },
        };
        let at = at + (flagged.trailing_zeros() / 8) as usize;
        if s[at] != b'\t' {
            return Some(at);
        }
        i = at + 1;
    }
}

/// Whether two short slices are equal, compared eight bytes at a time rather than through a
/// call to `memcmp`: for transaction ids and end-lines.
#[inline(always)]
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
    // The first and last words overlap for n < 16; the words between cover the rest.
    let mut diff = (load(a, 0) ^ load(b, 0)) | (load(a, n - 8) ^ load(b, n - 8));
    let mut i = 8;
    while i + 8 < n {
        diff |= load(a, i) ^ load(b, i);
        i += 8;
    }
    diff == 0
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
        assert_eq!(find_non_text(b"\t\t\t\t\t\t\t\t\t\t\r"), Some(10));
        assert_eq!(find_non_text(b"ab\tcd\tef\x7fgh"), Some(8));
        assert_eq!(find_non_text("caf\u{e9} \t ok".as_bytes()), None);
    }

    #[test]
    fn text_check_finds_the_first_of_two_suspicious_bytes() {
        // Borrows from one flagged byte must not make a later byte, or a byte from 0x80 up,
        // look like the first.
        let interesting = [
            0x00, 0x09, 0x0D, 0x1F, 0x20, 0x7E, 0x7F, 0x80, 0x9F, 0xA0, 0xFF,
        ];
        for &a in &interesting {
            for &b in &interesting {
                for p in 0..12 {
                    for q in p + 1..20 {
                        let mut v = vec![b'x'; 20];
                        v[p] = a;
                        v[q] = b;
                        let expect = v.iter().position(|&c| !is_text(c));
                        assert_eq!(find_non_text(&v), expect, "{a:#x}@{p} {b:#x}@{q}");
                    }
                }
            }
        }
    }
}
