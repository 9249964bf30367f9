//! Certificate fingerprints (RFC 4572), as SDP `a=fingerprint` names them and as the endpoint
//! checks them when it binds a TLS connection to a session (RFC 4975 §14.4).

use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::Fingerprint;

/// The SHA-256 fingerprint of a DER certificate (RFC 4572: "computed over the DER form of the
/// certificate"), for this endpoint's `a=fingerprint`.
pub fn fingerprint_of(der: &[u8]) -> Fingerprint {
    Fingerprint::new("sha-256", Sha256::digest(der).to_vec())
}

/// The digest of `der` with the fingerprint's hash function, if it is one this crate computes
/// (SHA-256, SHA-384, SHA-512).
fn digest_for(hash_function: &str, der: &[u8]) -> Option<Vec<u8>> {
    match hash_function.to_ascii_lowercase().as_str() {
        "sha-256" => Some(Sha256::digest(der).to_vec()),
        "sha-384" => Some(Sha384::digest(der).to_vec()),
        "sha-512" => Some(Sha512::digest(der).to_vec()),
        _ => None,
    }
}

/// Whether a DER certificate matches one of the fingerprints from the peer's SDP. A fingerprint
/// with a hash function this crate does not compute (such as SHA-1) matches nothing.
pub fn matches_fingerprint(der: &[u8], expected: &[Fingerprint]) -> bool {
    expected
        .iter()
        .any(|f| digest_for(&f.hash_function, der).is_some_and(|d| f.matches(&f.hash_function, &d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_match_only_their_certificate() {
        let a = b"certificate a";
        let b = b"certificate b";
        let fa = fingerprint_of(a);
        assert_eq!(fa.hash_function, "sha-256");
        assert_eq!(fa.value.len(), 32);
        assert!(matches_fingerprint(a, std::slice::from_ref(&fa)));
        assert!(!matches_fingerprint(b, std::slice::from_ref(&fa)));
        let upper = Fingerprint::new("SHA-256", fa.value.clone());
        assert!(matches_fingerprint(a, &[upper]));
        let sha512 = Fingerprint::new("sha-512", Sha512::digest(a).to_vec());
        assert!(matches_fingerprint(a, &[sha512]));
        let sha1 = Fingerprint::new("sha-1", vec![0; 20]);
        assert!(!matches_fingerprint(a, &[sha1]));
        assert!(!matches_fingerprint(a, &[]));
    }
}
