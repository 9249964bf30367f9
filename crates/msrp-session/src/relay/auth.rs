//! The AUTH exchanges of one session with its relays (RFC 4976 §5.1), as a state machine that
//! writes requests and reads responses.

use std::time::Duration;

use msrp_uri::{MsrpUri, Path};
use msrp_wire::{Flag, Head, HeadWriter, StatusCode, TransactionId};

use super::{Relay, RelayError, RelayErrorKind};
use crate::config::Random;
use msrp_wire::digest::{Challenge, DigestInput, authorization, digest};

/// What the endpoint does after a response to an AUTH.
#[derive(Debug)]
pub(crate) enum AuthStep {
    /// Send the next AUTH ([`RelayAuth::request`]): a retry with credentials or another
    /// Expires, or the AUTH to the next relay.
    Send,
    /// Every relay has granted its URI.
    Done {
        /// The Use-Path after the outermost authentication, in To-Path order.
        use_path: Path,
        /// The shortest validity any relay granted, when one said.
        expires: Option<Duration>,
    },
    /// The session cannot go through its relays.
    Failed(RelayError),
}

/// A challenge of one relay and the nonce count used with it.
#[derive(Clone, Debug)]
struct Answered {
    challenge: Challenge,
    nc: u32,
}

/// What an AUTH in flight was sent with, for its response.
#[derive(Clone, Debug)]
struct InFlight {
    tid: TransactionId,
    /// The nonce, nonce count and cnonce of its Authorization, if it had one.
    credentials: Option<(String, u32, String)>,
}

/// The AUTH exchanges of one session with its relays, innermost first (RFC 4976 §5.1: "The
/// client would then send a second AUTH destined to extra-org but sent through intra-org").
#[derive(Debug)]
pub(crate) struct RelayAuth {
    relays: Vec<Relay>,
    /// The relay being authenticated to.
    hop: usize,
    /// The Use-Path granted so far this round.
    granted: Vec<MsrpUri>,
    /// Per relay: its last challenge (or next nonce), kept across rounds.
    challenges: Vec<Option<Answered>>,
    /// Per relay: the Expires asked for.
    asked: Vec<Option<u32>>,
    /// Whether this relay was sent credentials for its current challenge already.
    answered: bool,
    /// Whether this relay's 423 was followed already.
    interval_retried: bool,
    /// The shortest validity granted this round.
    expires: Option<u32>,
    in_flight: Option<InFlight>,
}

impl RelayAuth {
    /// The exchanges with `relays`, which must not be empty.
    pub(crate) fn new(relays: Vec<Relay>) -> Self {
        let n = relays.len();
        Self {
            asked: relays.iter().map(|r| r.expires).collect(),
            relays,
            hop: 0,
            granted: Vec::new(),
            challenges: vec![None; n],
            answered: false,
            interval_retried: false,
            expires: None,
            in_flight: None,
        }
    }

    /// The transaction id of the AUTH waiting for its response.
    pub(crate) fn pending(&self) -> Option<&TransactionId> {
        self.in_flight.as_ref().map(|f| &f.tid)
    }

    /// Starts another round from the first relay, to renew the granted URIs before they
    /// expire. Nonces from Authentication-Info are used, so a round may need no challenge.
    pub(crate) fn restart(&mut self) {
        self.hop = 0;
        self.granted.clear();
        self.answered = false;
        self.interval_retried = false;
        self.expires = None;
        self.in_flight = None;
    }

    /// The failure `kind` of the relay being authenticated to.
    pub(crate) fn error(&self, kind: RelayErrorKind) -> RelayError {
        let relay = &self.relays[self.hop.min(self.relays.len() - 1)];
        RelayError {
            relay: relay.uri.to_string(),
            kind,
        }
    }

    /// Writes the AUTH for the relay being authenticated to, from `local` (the session's URI,
    /// where the response comes back to), and returns its transaction id.
    pub(crate) fn request(
        &mut self,
        out: &mut Vec<u8>,
        local: &MsrpUri,
        random: &mut dyn Random,
    ) -> Result<TransactionId, RelayError> {
        let mut r = [0u8; 24];
        random.fill(&mut r);
        let mut tid_random = [0u8; 16];
        tid_random.copy_from_slice(&r[..16]);
        let tid = TransactionId::from_random(tid_random);
        let relay = &self.relays[self.hop];
        // RFC 4976 §5.1: an AUTH to a further relay is "routed through" the ones before it:
        // its To-Path is the Use-Path granted so far, then that relay.
        let mut to_path = String::new();
        for uri in &self.granted {
            to_path.push_str(uri.as_str());
            to_path.push(' ');
        }
        to_path.push_str(relay.uri.as_str());
        let mut credentials = None;
        let mut value = None;
        if let (Some(answered), Some(creds)) = (&mut self.challenges[self.hop], &relay.credentials)
        {
            answered.nc += 1;
            let cnonce: String = r[16..].iter().map(|b| format!("{b:02x}")).collect();
            // RFC 4976 §9.1: "The request-URI to be used in calculating H(A2) is the rightmost
            // URI in the To-Path header."
            value = Some(authorization(
                creds,
                &answered.challenge,
                relay.uri.as_str(),
                answered.nc,
                &cnonce,
            ));
            credentials = Some((answered.challenge.nonce.clone(), answered.nc, cnonce));
            self.answered = true;
        }
        let start = out.len();
        let written = (|| {
            let mut head = HeadWriter::request(out, &tid, "AUTH")?;
            head.header("To-Path", &to_path)?
                .header("From-Path", local.as_str())?;
            if let Some(value) = &value {
                head.header("Authorization", value)?;
            }
            if let Some(seconds) = self.asked[self.hop] {
                head.header("Expires", &seconds.to_string())?;
            }
            head.end(Flag::End)
        })();
        if written.is_err() {
            out.truncate(start);
            return Err(self.error(RelayErrorKind::Credentials));
        }
        self.in_flight = Some(InFlight { tid, credentials });
        Ok(tid)
    }

    /// Handles the response to the AUTH in flight.
    pub(crate) fn handle_response(&mut self, head: &Head) -> AuthStep {
        let Some(in_flight) = self.in_flight.take() else {
            return AuthStep::Failed(self.error(RelayErrorKind::Refused(StatusCode::BAD_REQUEST)));
        };
        let code = head.status_code().unwrap_or(StatusCode::BAD_REQUEST);
        match code.as_u16() {
            200 => self.granted(head, in_flight),
            401 => self.challenged(head),
            423 => self.interval(head),
            _ => AuthStep::Failed(self.error(RelayErrorKind::Refused(code))),
        }
    }

    /// A 401: answers the challenge, unless these credentials were refused already.
    fn challenged(&mut self, head: &Head) -> AuthStep {
        if self.relays[self.hop].credentials.is_none() {
            return AuthStep::Failed(self.error(RelayErrorKind::NoCredentials));
        }
        let challenge = match head.www_authenticate() {
            Ok(Some(params)) => match Challenge::parse(&params) {
                Ok(challenge) => challenge,
                Err(why) => return AuthStep::Failed(self.error(RelayErrorKind::Challenge(why))),
            },
            _ => {
                return AuthStep::Failed(
                    self.error(RelayErrorKind::Challenge("no WWW-Authenticate header")),
                );
            }
        };
        // A second challenge after credentials refuses them, unless it only says that the
        // nonce they answered had run out (RFC 2617 §3.2.1: "stale").
        if self.answered && !challenge.stale {
            return AuthStep::Failed(self.error(RelayErrorKind::Unauthorized));
        }
        self.answered = false;
        self.challenges[self.hop] = Some(Answered { challenge, nc: 0 });
        AuthStep::Send
    }

    /// A 423: asks again within the relay's bounds, once.
    fn interval(&mut self, head: &Head) -> AuthStep {
        // RFC 4976 §4.6: "The Min-Expires header contains the minimum duration a server will
        // permit in an Expires header. ... Likewise, the Max-Expires header contains the maximum
        // duration a server will permit".
        let bound = match (head.min_expires(), head.max_expires()) {
            (Ok(Some(min)), _) => Some(min),
            (_, Ok(Some(max))) => Some(max),
            _ => None,
        };
        match bound {
            Some(seconds) if !self.interval_retried => {
                self.interval_retried = true;
                self.asked[self.hop] = Some(seconds);
                // The nonce of the challenge is answered again, with the next count.
                self.answered = false;
                AuthStep::Send
            }
            _ => AuthStep::Failed(self.error(RelayErrorKind::Interval)),
        }
    }

    /// A 200: takes the relay's URI, and goes on to the next relay.
    fn granted(&mut self, head: &Head, in_flight: InFlight) -> AuthStep {
        let relay = &self.relays[self.hop];
        let info = head.authentication_info().ok().flatten();
        if let (Some(info), Some((nonce, nc, cnonce)), Some(creds)) =
            (&info, &in_flight.credentials, &relay.credentials)
        {
            // RFC 2617 §3.2.3: rspauth is the digest of A2 = ":" digest-uri, which only a
            // server that knows the password can give.
            if let Some(rspauth) = info.get("rspauth") {
                let expected = digest(
                    creds,
                    &DigestInput {
                        realm: self.challenges[self.hop]
                            .as_ref()
                            .map_or("", |a| a.challenge.realm.as_str()),
                        nonce,
                        method: "",
                        uri: relay.uri.as_str(),
                        nc: *nc,
                        cnonce,
                    },
                );
                if !rspauth.eq_ignore_ascii_case(&expected) {
                    return AuthStep::Failed(self.error(RelayErrorKind::ServerAuth));
                }
            }
        }
        // RFC 2617 §3.2.3: "The nextnonce directive allows the server to implement one-time or
        // otherwise changing nonces": the next AUTH to this relay answers it.
        if let (Some(next), Some(answered)) = (
            info.as_ref().and_then(|i| i.get("nextnonce")),
            &mut self.challenges[self.hop],
        ) {
            answered.challenge.nonce = next.to_owned();
            answered.nc = 0;
        }
        let use_path: Option<Vec<MsrpUri>> = match head.use_path() {
            Ok(Some(list)) => list.iter().map(|u| u.parse().ok()).collect(),
            _ => None,
        };
        let Some(use_path) = use_path.filter(|p| !p.is_empty()) else {
            return AuthStep::Failed(self.error(RelayErrorKind::NoUsePath));
        };
        // The relay that forwarded this AUTH may have put its own URI first (RFC 4976 §5.1's
        // example, as corrected by erratum 1273) or left the further relay's Use-Path alone:
        // either way the path goes through the relays granted before.
        let prefix = use_path.len() >= self.granted.len()
            && use_path
                .iter()
                .zip(&self.granted)
                .all(|(a, b)| a.as_str() == b.as_str());
        if prefix {
            self.granted = use_path;
        } else {
            self.granted.extend(use_path);
        }
        if let Ok(Some(seconds)) = head.expires() {
            self.expires = Some(self.expires.map_or(seconds, |e| e.min(seconds)));
        }
        self.hop += 1;
        self.answered = false;
        self.interval_retried = false;
        if self.hop < self.relays.len() {
            return AuthStep::Send;
        }
        let use_path = Path::from_vec(self.granted.clone()).expect("a relay granted a URI");
        AuthStep::Done {
            use_path,
            expires: self.expires.map(|s| Duration::from_secs(s.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::Credentials;
    use msrp_wire::Decoder;

    fn head_of(frame: &[u8]) -> Head {
        let mut decoder = Decoder::new();
        decoder.push(frame);
        match decoder.decode() {
            Ok(Some(frame)) => frame.head().clone(),
            other => panic!("not a frame: {other:?}"),
        }
    }

    fn counter() -> impl FnMut(&mut [u8]) + Send {
        let mut n = 0u8;
        move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_add(1);
                *b = n;
            }
        }
    }

    /// The session's URI.
    fn local() -> MsrpUri {
        "msrp://alice.example.com:9892/98cjs;tcp".parse().unwrap()
    }

    /// Writes the next AUTH and reads it back.
    fn next(auth: &mut RelayAuth, random: &mut dyn Random) -> Head {
        let mut out = Vec::new();
        auth.request(&mut out, &local(), random).unwrap();
        head_of(&out)
    }

    fn respond(request: &Head, status: &str, headers: &str) -> Head {
        let tid = request.transaction_id();
        let to = request.to_path().unwrap().unwrap();
        let relay = to.iter().last().unwrap();
        head_of(
            format!(
                "MSRP {tid} {status}\r\nTo-Path: {}\r\nFrom-Path: {relay}\r\n{headers}-------{tid}$\r\n",
                local()
            )
            .as_bytes(),
        )
    }

    fn done(step: AuthStep) -> (String, Option<Duration>) {
        match step {
            AuthStep::Done { use_path, expires } => (use_path.to_string(), expires),
            other => panic!("not done: {other:?}"),
        }
    }

    fn relay(uri: &str) -> Relay {
        Relay::new(uri.parse().unwrap()).credentials(Credentials::new("alice", "xyz123"))
    }

    const CHALLENGE: &str =
        "WWW-Authenticate: Digest realm=\"msrp-test\", nonce=\"abc\", qop=\"auth\"\r\n";

    #[test]
    fn a_challenge_is_answered_and_the_use_path_taken() {
        let mut random = counter();
        let mut auth = RelayAuth::new(vec![relay("msrp://127.0.0.1:2855;tcp").expires(600)]);
        let first = next(&mut auth, &mut random);
        assert_eq!(first.method().map(|m| m.as_str()), Some("AUTH"));
        assert_eq!(first.authorization().unwrap(), None);
        assert_eq!(first.expires().unwrap(), Some(600));
        let step = auth.handle_response(&respond(&first, "401 Unauthorized", CHALLENGE));
        assert!(matches!(step, AuthStep::Send));
        let second = next(&mut auth, &mut random);
        assert_ne!(second.transaction_id(), first.transaction_id());
        let params = second.authorization().unwrap().unwrap();
        assert_eq!(params.get("username"), Some("alice"));
        assert_eq!(params.get("realm"), Some("msrp-test"));
        assert_eq!(params.get("uri"), Some("msrp://127.0.0.1:2855;tcp"));
        assert_eq!(params.get("nc"), Some("00000001"));
        let expected = digest(
            &Credentials::new("alice", "xyz123"),
            &DigestInput {
                realm: "msrp-test",
                nonce: "abc",
                method: "AUTH",
                uri: "msrp://127.0.0.1:2855;tcp",
                nc: 1,
                cnonce: params.get("cnonce").unwrap(),
            },
        );
        assert_eq!(params.get("response"), Some(expected.as_str()));
        let step = auth.handle_response(&respond(
            &second,
            "200 OK",
            "Use-Path: msrp://127.0.0.1:2855/k1;tcp\r\nExpires: 300\r\n",
        ));
        assert_eq!(
            done(step),
            (
                "msrp://127.0.0.1:2855/k1;tcp".into(),
                Some(Duration::from_secs(300))
            )
        );
    }

    #[test]
    fn refused_credentials_and_refusals_fail() {
        let mut random = counter();
        let mut auth = RelayAuth::new(vec![relay("msrp://127.0.0.1:2855;tcp")]);
        let first = next(&mut auth, &mut random);
        auth.handle_response(&respond(&first, "401 Unauthorized", CHALLENGE));
        let second = next(&mut auth, &mut random);
        let step = auth.handle_response(&respond(&second, "401 Unauthorized", CHALLENGE));
        let AuthStep::Failed(error) = step else {
            panic!("not failed: {step:?}")
        };
        assert_eq!(
            error,
            RelayError {
                relay: "msrp://127.0.0.1:2855;tcp".into(),
                kind: RelayErrorKind::Unauthorized
            }
        );

        // A stale nonce is not a refusal: the new one is answered.
        let mut auth = RelayAuth::new(vec![relay("msrp://127.0.0.1:2855;tcp")]);
        let first = next(&mut auth, &mut random);
        auth.handle_response(&respond(&first, "401 Unauthorized", CHALLENGE));
        let second = next(&mut auth, &mut random);
        let stale = "WWW-Authenticate: Digest realm=\"msrp-test\", nonce=\"def\", qop=\"auth\", stale=true\r\n";
        assert!(matches!(
            auth.handle_response(&respond(&second, "401 Unauthorized", stale)),
            AuthStep::Send
        ));
        let third = next(&mut auth, &mut random);
        assert_eq!(
            third.authorization().unwrap().unwrap().get("nonce"),
            Some("def")
        );

        let mut auth = RelayAuth::new(vec![relay("msrp://127.0.0.1:2855;tcp")]);
        let first = next(&mut auth, &mut random);
        let step = auth.handle_response(&respond(&first, "403 Forbidden", ""));
        assert!(matches!(
            step,
            AuthStep::Failed(RelayError { kind: RelayErrorKind::Refused(code), .. }) if code.as_u16() == 403
        ));

        // No credentials to answer with.
        let mut auth = RelayAuth::new(vec![Relay::new(
            "msrp://127.0.0.1:2855;tcp".parse().unwrap(),
        )]);
        let first = next(&mut auth, &mut random);
        let step = auth.handle_response(&respond(&first, "401 Unauthorized", CHALLENGE));
        assert!(matches!(
            step,
            AuthStep::Failed(RelayError {
                kind: RelayErrorKind::NoCredentials,
                ..
            })
        ));

        // A 200 without a Use-Path.
        let mut auth = RelayAuth::new(vec![relay("msrp://127.0.0.1:2855;tcp")]);
        let first = next(&mut auth, &mut random);
        let step = auth.handle_response(&respond(&first, "200 OK", ""));
        assert!(matches!(
            step,
            AuthStep::Failed(RelayError {
                kind: RelayErrorKind::NoUsePath,
                ..
            })
        ));
    }

    #[test]
    fn interval_out_of_bounds_is_asked_again_within_bounds_once() {
        let mut random = counter();
        let mut auth = RelayAuth::new(vec![relay("msrp://127.0.0.1:2855;tcp").expires(10)]);
        let first = next(&mut auth, &mut random);
        let step = auth.handle_response(&respond(
            &first,
            "423 Interval Out-of-Bounds",
            "Min-Expires: 60\r\n",
        ));
        assert!(matches!(step, AuthStep::Send));
        let second = next(&mut auth, &mut random);
        assert_eq!(second.expires().unwrap(), Some(60));
        let step = auth.handle_response(&respond(
            &second,
            "423 Interval Out-of-Bounds",
            "Min-Expires: 90\r\n",
        ));
        assert!(matches!(
            step,
            AuthStep::Failed(RelayError {
                kind: RelayErrorKind::Interval,
                ..
            })
        ));

        let mut auth = RelayAuth::new(vec![relay("msrp://127.0.0.1:2855;tcp").expires(99999)]);
        let first = next(&mut auth, &mut random);
        auth.handle_response(&respond(
            &first,
            "423 Interval Out-of-Bounds",
            "Max-Expires: 3600\r\n",
        ));
        assert_eq!(next(&mut auth, &mut random).expires().unwrap(), Some(3600));
    }

    /// RFC 4976 §5.1's two relays: the AUTH to the outer one goes through the inner one, and
    /// its To-Path ends with the outer relay, the URI its digest is computed over.
    #[test]
    fn two_relays_are_authenticated_in_turn() {
        let mut random = counter();
        let mut auth = RelayAuth::new(vec![
            relay("msrps://alice@intra.example.com;tcp"),
            relay("msrps://extra.example.com;tcp"),
        ]);
        let first = next(&mut auth, &mut random);
        let step = auth.handle_response(&respond(
            &first,
            "200 OK",
            "Use-Path: msrps://intra.example.com:9000/jui787s2f;tcp\r\nExpires: 900\r\n",
        ));
        assert!(matches!(step, AuthStep::Send));
        let second = next(&mut auth, &mut random);
        assert_eq!(
            second.to_path().unwrap().unwrap().as_str(),
            "msrps://intra.example.com:9000/jui787s2f;tcp msrps://extra.example.com;tcp"
        );
        auth.handle_response(&respond(&second, "401 Unauthorized", CHALLENGE));
        let third = next(&mut auth, &mut random);
        assert_eq!(
            third.authorization().unwrap().unwrap().get("uri"),
            Some("msrps://extra.example.com;tcp")
        );
        // The Use-Path as erratum 1273 corrects it: both relays, inner first.
        let step = auth.handle_response(&respond(
            &third,
            "200 OK",
            "Use-Path: msrps://intra.example.com:9000/jui787s2f;tcp msrps://extra.example.com:9000/mywdEe1233;tcp\r\nExpires: 1800\r\n",
        ));
        let both = "msrps://intra.example.com:9000/jui787s2f;tcp msrps://extra.example.com:9000/mywdEe1233;tcp";
        assert_eq!(done(step), (both.into(), Some(Duration::from_secs(900))));

        // A relay that grants only its own URI gets it added after the inner one's.
        auth.restart();
        let first = next(&mut auth, &mut random);
        auth.handle_response(&respond(
            &first,
            "200 OK",
            "Use-Path: msrps://intra.example.com:9000/jui787s2f;tcp\r\n",
        ));
        let second = next(&mut auth, &mut random);
        // The nonce from before is answered at once, with the next count.
        assert_eq!(
            second.authorization().unwrap().unwrap().get("nc"),
            Some("00000002")
        );
        let step = auth.handle_response(&respond(
            &second,
            "200 OK",
            "Use-Path: msrps://extra.example.com:9000/mywdEe1233;tcp\r\n",
        ));
        assert_eq!(done(step), (both.into(), None));
    }

    #[test]
    fn a_forged_rspauth_fails_and_a_true_one_passes() {
        let mut random = counter();
        for forged in [true, false] {
            let mut auth = RelayAuth::new(vec![relay("msrp://127.0.0.1:2855;tcp")]);
            let first = next(&mut auth, &mut random);
            auth.handle_response(&respond(&first, "401 Unauthorized", CHALLENGE));
            let second = next(&mut auth, &mut random);
            let params = second.authorization().unwrap().unwrap();
            let rspauth = if forged {
                "00000000000000000000000000000000".to_owned()
            } else {
                digest(
                    &Credentials::new("alice", "xyz123"),
                    &DigestInput {
                        realm: "msrp-test",
                        nonce: "abc",
                        method: "",
                        uri: "msrp://127.0.0.1:2855;tcp",
                        nc: 1,
                        cnonce: params.get("cnonce").unwrap(),
                    },
                )
            };
            let headers = format!(
                "Use-Path: msrp://127.0.0.1:2855/k1;tcp\r\nAuthentication-Info: nextnonce=\"n2\", rspauth=\"{rspauth}\", cnonce=\"{}\", nc=00000001, qop=auth\r\n",
                params.get("cnonce").unwrap()
            );
            let step = auth.handle_response(&respond(&second, "200 OK", &headers));
            if forged {
                assert!(matches!(
                    step,
                    AuthStep::Failed(RelayError {
                        kind: RelayErrorKind::ServerAuth,
                        ..
                    })
                ));
            } else {
                assert!(matches!(step, AuthStep::Done { .. }));
                // The next round answers the next nonce without a challenge.
                auth.restart();
                let again = next(&mut auth, &mut random);
                let params = again.authorization().unwrap().unwrap();
                assert_eq!(params.get("nonce"), Some("n2"));
                assert_eq!(params.get("nc"), Some("00000001"));
            }
        }
    }
}
