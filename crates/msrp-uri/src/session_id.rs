//! Generation of session-ids that are hard to guess.

/// How many random bytes [`generate_session_id`] asks its generator for.
pub const SESSION_ID_RANDOM_BYTES: usize = 15;

/// How many bits of randomness a session-id from [`generate_session_id`] carries: 120, when
/// the generator's bytes are uniformly random.
///
/// RFC 4975 §14.1 requires at least 80: "Therefore, when an MSRP device generates an MSRP URI
/// to be used in the initiation of an MSRP session, the session-id component MUST contain at
/// least 80 bits of randomness."
pub const SESSION_ID_RANDOM_BITS: u32 = 120;

// The constants above must agree, and must meet the RFC's minimum.
const _: () = assert!(SESSION_ID_RANDOM_BYTES as u32 * 8 == SESSION_ID_RANDOM_BITS);
const _: () = assert!(SESSION_ID_RANDOM_BITS >= 80);
// Whole groups of three bytes encode to four characters with no padding.
const _: () = assert!(SESSION_ID_RANDOM_BYTES % 3 == 0);

/// The length in characters of a session-id from [`generate_session_id`].
pub const SESSION_ID_LEN: usize = SESSION_ID_RANDOM_BYTES / 3 * 4;

/// The URL-safe base64 alphabet of RFC 4648 §5. Every character is RFC 3986 `unreserved`, so
/// it is valid in a session-id.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Makes a new session-id from random bytes.
///
/// RFC 4975 §14.1 explains why this matters: "Most components of the URI, such as the scheme
/// and the authority components, are common knowledge.  The secrecy is entirely provided by the
/// session-id component." and "Therefore, when an MSRP device generates an MSRP URI to be used
/// in the initiation of an MSRP session, the session-id component MUST contain at least 80 bits
/// of randomness."
///
/// `fill` is called once with a buffer of [`SESSION_ID_RANDOM_BYTES`] (15) bytes and must fill
/// it from a cryptographically secure generator (for example `getrandom::fill` or a
/// `rand::CryptoRng`). The bytes are written in URL-safe base64 without padding, which gives
/// [`SESSION_ID_LEN`] (20) characters carrying [`SESSION_ID_RANDOM_BITS`] (120) bits. The
/// encoding is one-to-one, so different bytes always give different session-ids.
///
/// This crate takes no dependency on a random number generator, and draws no randomness of
/// its own: the caller decides where it comes from, which keeps tests reproducible.
///
/// ```
/// use msrp_uri::{generate_session_id, Host, MsrpUri, Scheme, Transport};
///
/// // A real caller fills the buffer from a secure generator; this one is for the example.
/// let id = generate_session_id(|buf| buf.fill(0xA5));
/// assert_eq!(id, "paWlpaWlpaWlpaWlpaWl");
/// let uri = MsrpUri::new(Scheme::Msrp, Host::Name("alice.example.com"), Some(7777), Some(&id), Transport::Tcp)?;
/// assert_eq!(uri.session_id(), Some(id.as_str()));
/// # Ok::<(), msrp_uri::Error>(())
/// ```
pub fn generate_session_id(mut fill: impl FnMut(&mut [u8])) -> String {
    let mut bytes = [0u8; SESSION_ID_RANDOM_BYTES];
    fill(&mut bytes);
    let mut id = String::with_capacity(SESSION_ID_LEN);
    for group in bytes.chunks_exact(3) {
        if let [a, b, c] = *group {
            let bits = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
            for shift in [18, 12, 6, 0] {
                let index = (bits >> shift & 0x3f) as usize;
                // The index is below 64 by the mask, so the lookup always succeeds.
                if let Some(&ch) = ALPHABET.get(index) {
                    id.push(char::from(ch));
                }
            }
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        assert_eq!(generate_session_id(|b| b.fill(0)), "AAAAAAAAAAAAAAAAAAAA");
        assert_eq!(
            generate_session_id(|b| b.fill(0xff)),
            "____________________"
        );
        // Bytes 0xfb 0xef 0xbe encode to "-" "-" "-" "-" in URL-safe base64 (62 each).
        assert_eq!(
            generate_session_id(|b| {
                for (i, x) in b.iter_mut().enumerate() {
                    *x = [0xfb, 0xef, 0xbe][i % 3];
                }
            }),
            "--------------------"
        );
    }

    #[test]
    fn asks_for_exactly_the_documented_number_of_bytes() {
        let mut calls = 0;
        let mut sizes = Vec::new();
        let id = generate_session_id(|b| {
            calls += 1;
            sizes.push(b.len());
        });
        assert_eq!(calls, 1);
        assert_eq!(sizes, [SESSION_ID_RANDOM_BYTES]);
        assert_eq!(id.len(), SESSION_ID_LEN);
    }
}
