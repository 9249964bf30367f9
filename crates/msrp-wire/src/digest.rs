//! HTTP Digest authentication (RFC 2617) as RFC 4976 §9.1 restricts it for AUTH requests: the
//! client's answer to a challenge and the relay's check of it.

use core::fmt;
use core::fmt::Write as _;

use crate::DigestParams;
use md5::{Digest, Md5};

/// A user name and password that a client answers a relay's digest challenges with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Credentials of this user.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password never goes to a log.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A digest challenge, from a `WWW-Authenticate` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space.
    pub realm: String,
    /// The server's nonce.
    pub nonce: String,
    /// Opaque data the server wants back.
    pub opaque: Option<String>,
    /// Whether the algorithm was named (it is then named back).
    pub algorithm: bool,
    /// The nonce of an earlier challenge ran out; the credentials were not refused.
    pub stale: bool,
}

impl Challenge {
    /// Reads a challenge, or says why it cannot be answered.
    pub fn parse(params: &DigestParams<'_>) -> Result<Self, &'static str> {
        let realm = params.get("realm").ok_or("the challenge has no realm")?;
        let nonce = params.get("nonce").ok_or("the challenge has no nonce")?;
        let algorithm = params.get("algorithm");
        match algorithm {
            None => {}
            Some(a) if a.eq_ignore_ascii_case("MD5") => {}
            // RFC 4976 §9.1: "MSRP relays MUST NOT send challenges indicating the MD5-sess
            // algorithm."
            Some(_) => return Err("the challenge names an algorithm other than MD5"),
        }
        // RFC 4976 §9.1: "Clients and relays MUST include a qop parameter in all
        // "WWW-Authenticate" and "Authorization" headers", and "MSRP relays MUST NOT indicate
        // a qop of auth-int in a challenge": only `auth` can be answered.
        let qop = params.get("qop").ok_or("the challenge has no qop")?;
        if !qop
            .split(',')
            .any(|q| q.trim().eq_ignore_ascii_case("auth"))
        {
            return Err("the challenge does not offer qop auth");
        }
        // RFC 4976 §9.1: the "domain" parameter: "clients MUST ignore it if present".
        Ok(Self {
            realm: realm.to_owned(),
            nonce: nonce.to_owned(),
            opaque: params.get("opaque").map(str::to_owned),
            algorithm: algorithm.is_some(),
            stale: params
                .get("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }
}

/// MD5 of `parts` joined by colons, in lower-case hex.
fn md5_hex(parts: &[&str]) -> String {
    let mut hash = Md5::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hash.update(b":");
        }
        hash.update(part.as_bytes());
    }
    let mut hex = String::with_capacity(32);
    for byte in hash.finalize() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// What one digest computation takes besides the credentials (RFC 2617 §3.2.2, with
/// `qop=auth`).
pub struct DigestInput<'a> {
    /// The realm.
    pub realm: &'a str,
    /// The server's nonce.
    pub nonce: &'a str,
    /// The method in A2; empty for the `rspauth` of Authentication-Info (RFC 2617 §3.2.3).
    pub method: &'a str,
    /// The digest-uri: for AUTH, the last URI of the To-Path (RFC 4976 §9.1).
    pub uri: &'a str,
    /// The nonce count.
    pub nc: u32,
    /// The client's nonce.
    pub cnonce: &'a str,
}

/// The request-digest of RFC 2617 §3.2.2.1 with `qop=auth`:
/// `KD(H(A1), nonce:nc:cnonce:qop:H(A2))`, `A1 = user:realm:password`, `A2 = method:uri`.
pub fn digest(credentials: &Credentials, input: &DigestInput<'_>) -> String {
    let ha1 = md5_hex(&[&credentials.username, input.realm, &credentials.password]);
    let ha2 = md5_hex(&[input.method, input.uri]);
    let nc = format!("{:08x}", input.nc);
    md5_hex(&[&ha1, input.nonce, &nc, input.cnonce, "auth", &ha2])
}

/// Writes `value` as a quoted-string, escaping `"` and `\`.
fn quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// The value of an `Authorization` header that answers `challenge` for an AUTH whose To-Path
/// ends with `uri`. RFC 4976 §9.1: "Clients MUST send cnonce and nonce-count parameters in all
/// "Authorization" headers", qop unquoted there, and "the value of the uri parameter MUST be in
/// quotes".
pub fn authorization(
    credentials: &Credentials,
    challenge: &Challenge,
    uri: &str,
    nc: u32,
    cnonce: &str,
) -> String {
    let response = digest(
        credentials,
        &DigestInput {
            realm: &challenge.realm,
            nonce: &challenge.nonce,
            method: "AUTH",
            uri,
            nc,
            cnonce,
        },
    );
    let mut out = String::from("Digest username=");
    quoted(&mut out, &credentials.username);
    out.push_str(", realm=");
    quoted(&mut out, &challenge.realm);
    out.push_str(", nonce=");
    quoted(&mut out, &challenge.nonce);
    out.push_str(", uri=");
    quoted(&mut out, uri);
    let _ = write!(out, ", qop=auth, nc={nc:08x}, cnonce=");
    quoted(&mut out, cnonce);
    out.push_str(", response=");
    quoted(&mut out, &response);
    if let Some(opaque) = &challenge.opaque {
        out.push_str(", opaque=");
        quoted(&mut out, opaque);
    }
    if challenge.algorithm {
        out.push_str(", algorithm=MD5");
    }
    out
}

/// The value of a `WWW-Authenticate` header: a relay's challenge, with `qop="auth"` as RFC 4976
/// §9.1 requires ("Clients and relays MUST include a qop parameter in all "WWW-Authenticate"
/// ... headers"), and `stale=true` when credentials were right but their nonce had run out.
pub fn challenge(realm: &str, nonce: &str, stale: bool) -> String {
    let mut out = String::from("Digest realm=");
    quoted(&mut out, realm);
    out.push_str(", nonce=");
    quoted(&mut out, nonce);
    out.push_str(", qop=\"auth\"");
    if stale {
        out.push_str(", stale=true");
    }
    out
}

/// The credentials of an `Authorization` header, as a relay checks them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The user.
    pub username: String,
    /// The realm answered.
    pub realm: String,
    /// The nonce answered.
    pub nonce: String,
    /// The digest-uri.
    pub uri: String,
    /// The nonce count.
    pub nc: u32,
    /// The client's nonce.
    pub cnonce: String,
    /// The request-digest.
    pub response: String,
}

impl Answer {
    /// Reads credentials, or says why they cannot be checked. RFC 4976 §9.1: "Clients MUST
    /// send cnonce and nonce-count parameters in all "Authorization" headers", with qop, and
    /// qop can only be `auth`.
    pub fn parse(params: &DigestParams<'_>) -> Result<Self, &'static str> {
        let get = |name: &str| params.get(name).ok_or("a parameter is missing");
        if !get("qop")?.eq_ignore_ascii_case("auth") {
            return Err("qop is not auth");
        }
        if params
            .get("algorithm")
            .is_some_and(|a| !a.eq_ignore_ascii_case("MD5"))
        {
            return Err("the algorithm is not MD5");
        }
        let nc = get("nc")?;
        if nc.len() != 8 {
            return Err("nc is not 8 hex digits");
        }
        Ok(Self {
            username: get("username")?.to_owned(),
            realm: get("realm")?.to_owned(),
            nonce: get("nonce")?.to_owned(),
            uri: get("uri")?.to_owned(),
            nc: u32::from_str_radix(nc, 16).map_err(|_| "nc is not 8 hex digits")?,
            cnonce: get("cnonce")?.to_owned(),
            response: get("response")?.to_owned(),
        })
    }

    fn input<'a>(&'a self, method: &'a str) -> DigestInput<'a> {
        DigestInput {
            realm: &self.realm,
            nonce: &self.nonce,
            method,
            uri: &self.uri,
            nc: self.nc,
            cnonce: &self.cnonce,
        }
    }

    /// Whether the request-digest is the one `password` gives for `method`.
    pub fn is_correct(&self, password: &str, method: &str) -> bool {
        let credentials = Credentials::new(&self.username, password);
        digest(&credentials, &self.input(method)).eq_ignore_ascii_case(&self.response)
    }

    /// The value of an `Authentication-Info` header for these credentials: the `rspauth` that
    /// proves the relay knows the password (RFC 2617 §3.2.3, A2 without a method), and
    /// `nextnonce`. RFC 4976 §9.1: "Relays MUST include rspauth, cnonce, nc, and qop parameters
    /// in a "Authentication-Info" header for all "200 OK" responses to an AUTH request."
    pub fn authentication_info(&self, password: &str, nextnonce: &str) -> String {
        let credentials = Credentials::new(&self.username, password);
        let rspauth = digest(&credentials, &self.input(""));
        let mut out = String::from("nextnonce=");
        quoted(&mut out, nextnonce);
        out.push_str(", rspauth=");
        quoted(&mut out, &rspauth);
        out.push_str(", cnonce=");
        quoted(&mut out, &self.cnonce);
        let _ = write!(out, ", nc={:08x}, qop=auth", self.nc);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Decoder;

    fn head_of(frame: &[u8]) -> crate::Head {
        let mut decoder = Decoder::new();
        decoder.push(frame);
        match decoder.decode() {
            Ok(Some(frame)) => frame.head().clone(),
            other => panic!("not a frame: {other:?}"),
        }
    }

    /// RFC 2617 §3.5's example, which RFC 4976 §5.1 copies: the one digest whose password is
    /// known.
    #[test]
    fn the_rfc_2617_example_gives_its_response() {
        let credentials = Credentials::new("Mufasa", "Circle Of Life");
        let input = DigestInput {
            realm: "testrealm@host.com",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method: "GET",
            uri: "/dir/index.html",
            nc: 1,
            cnonce: "0a4f113b",
        };
        assert_eq!(
            digest(&credentials, &input),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    #[test]
    fn a_challenge_from_the_rfc_is_answered_with_every_parameter() {
        let head = head_of(include_bytes!("../../../vectors/rfc4976-5.1-401-49fh.msrp"));
        let params = head.www_authenticate().unwrap().unwrap();
        let challenge = Challenge::parse(&params).unwrap();
        assert_eq!(challenge.realm, "intra.example.com");
        assert_eq!(challenge.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
        assert!(!challenge.stale);
        let credentials = Credentials::new("Alice", "secret");
        let uri = "msrps://alice@intra.example.com;tcp";
        let value = authorization(&credentials, &challenge, uri, 1, "0a4f113b");
        let expected = digest(
            &credentials,
            &DigestInput {
                realm: "intra.example.com",
                nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                method: "AUTH",
                uri,
                nc: 1,
                cnonce: "0a4f113b",
            },
        );
        assert_eq!(
            value,
            format!(
                "Digest username=\"Alice\", realm=\"intra.example.com\", \
                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"{uri}\", qop=auth, \
                 nc=00000001, cnonce=\"0a4f113b\", response=\"{expected}\""
            )
        );
        // What we write, msrp-wire reads back as the same parameters.
        let frame = format!(
            "MSRP 49fi AUTH\r\nTo-Path: {uri}\r\nFrom-Path: msrps://alice.example.com:9892/98cjs;tcp\r\nAuthorization: {value}\r\n-------49fi$\r\n"
        );
        let head = head_of(frame.as_bytes());
        let read = head.authorization().unwrap().unwrap();
        assert_eq!(read.get("response"), Some(expected.as_str()));
        assert_eq!(read.get("qop"), Some("auth"));
        assert_eq!(read.get("nc"), Some("00000001"));
        assert_eq!(read.get("uri"), Some(uri));
    }

    #[test]
    fn challenges_that_cannot_be_answered_are_refused() {
        let parse = |value: &str| {
            let frame = format!(
                "MSRP abcd 401 Unauthorized\r\nTo-Path: msrp://a.example.com:1/s;tcp\r\nFrom-Path: msrp://r.example.com:2;tcp\r\nWWW-Authenticate: {value}\r\n-------abcd$\r\n"
            );
            let head = head_of(frame.as_bytes());
            let params = head.www_authenticate().unwrap().unwrap();
            Challenge::parse(&params).map(|c| c.stale)
        };
        assert_eq!(
            parse(r#"Digest realm="r", nonce="n", qop="auth""#),
            Ok(false)
        );
        assert_eq!(
            parse(r#"Digest realm="r", nonce="n", qop="auth-int,auth", stale=TRUE"#),
            Ok(true)
        );
        assert!(parse(r#"Digest realm="r", nonce="n""#).is_err());
        assert!(parse(r#"Digest realm="r", nonce="n", qop="auth-int""#).is_err());
        assert!(parse(r#"Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess"#).is_err());
        assert!(parse(r#"Digest nonce="n", qop="auth""#).is_err());
        assert!(parse(r#"Digest realm="r", qop="auth""#).is_err());
    }

    #[test]
    fn quotes_in_names_are_escaped() {
        let challenge = Challenge {
            realm: "r\"1".into(),
            nonce: "n".into(),
            opaque: Some("o".into()),
            algorithm: true,
            stale: false,
        };
        let value = authorization(&Credentials::new("a\\b", "p"), &challenge, "u", 2, "c");
        assert!(value.starts_with(r#"Digest username="a\\b", realm="r\"1""#));
        assert!(value.contains("nc=00000002"));
        assert!(value.ends_with(r#", opaque="o", algorithm=MD5"#));
    }

    #[test]
    fn a_relay_checks_what_a_client_answers() {
        let challenge_value = challenge("msrp-test", "n1", false);
        let frame = format!(
            "MSRP abcd 401 Unauthorized\r\nTo-Path: msrp://a.example.com:1/s;tcp\r\nFrom-Path: msrp://r.example.com:2;tcp\r\nWWW-Authenticate: {challenge_value}\r\n-------abcd$\r\n"
        );
        let head = head_of(frame.as_bytes());
        let parsed = Challenge::parse(&head.www_authenticate().unwrap().unwrap()).unwrap();
        let credentials = Credentials::new("alice", "xyz123");
        let uri = "msrp://r.example.com:2;tcp";
        let value = authorization(&credentials, &parsed, uri, 1, "c0ffee");
        let frame = format!(
            "MSRP abce AUTH\r\nTo-Path: {uri}\r\nFrom-Path: msrp://a.example.com:1/s;tcp\r\nAuthorization: {value}\r\n-------abce$\r\n"
        );
        let head = head_of(frame.as_bytes());
        let answer = Answer::parse(&head.authorization().unwrap().unwrap()).unwrap();
        assert_eq!(answer.username, "alice");
        assert_eq!(answer.nc, 1);
        assert!(answer.is_correct("xyz123", "AUTH"));
        assert!(!answer.is_correct("wrong", "AUTH"));
        assert!(!answer.is_correct("xyz123", "SEND"));
        // The client's check of the relay's rspauth agrees.
        let info = answer.authentication_info("xyz123", "n2");
        let expected = digest(
            &credentials,
            &DigestInput {
                realm: "msrp-test",
                nonce: "n1",
                method: "",
                uri,
                nc: 1,
                cnonce: "c0ffee",
            },
        );
        assert!(info.contains(&format!("rspauth=\"{expected}\"")), "{info}");
        assert!(info.starts_with("nextnonce=\"n2\""));
        assert!(challenge("r", "n", true).ends_with(", stale=true"));
    }
}
