//! TLS for `msrps`: certificates, their SDP fingerprints, and the checks of RFC 4975 §14.4.

use std::fmt;
use std::sync::Arc;

use msrp_sdp::Fingerprint;
use msrp_session::{PeerCheck, TrustAnchors, fingerprint_of, matches_fingerprint};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
};

/// A TLS setup problem (not a peer's fault).
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate could not be generated.
    Generate(rcgen::Error),
    /// The certificate or key was refused by rustls.
    Config(rustls::Error),
    /// A TLS peer is to be checked against trust anchors that are not a rustls
    /// [`RootCertStore`], or not checked at all.
    UnknownAnchors,
    /// The host to connect to is not a valid TLS server name.
    ServerName(rustls::pki_types::InvalidDnsNameError),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Generate(e) => write!(f, "cannot generate a certificate: {e}"),
            Self::Config(e) => write!(f, "invalid TLS configuration: {e}"),
            Self::UnknownAnchors => f.write_str("no usable way to check the peer's certificate"),
            Self::ServerName(e) => write!(f, "not a valid TLS server name: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Generate(e) => Some(e),
            Self::Config(e) => Some(e),
            Self::ServerName(e) => Some(e),
            Self::UnknownAnchors => None,
        }
    }
}

/// This endpoint's certificate chain and private key.
#[derive(Debug)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    /// A new self-signed certificate for these names, as RFC 4975 §14.4 allows for
    /// peer-to-peer TLS ("TLS can be used with a self-signed certificate as long as there is a
    /// mechanism for both sides to ascertain that the other side used the correct
    /// certificate"): its [`fingerprint`](Self::fingerprint) goes into the SDP.
    pub fn self_signed(names: &[&str]) -> Result<Self, TlsError> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let certified = rcgen::generate_simple_self_signed(names).map_err(TlsError::Generate)?;
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        Ok(Self {
            chain: vec![certified.cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(key),
        })
    }

    /// An identity from DER: the certificate chain (leaf first) and a PKCS #8 private key.
    pub fn from_der(chain: Vec<Vec<u8>>, pkcs8_key: Vec<u8>) -> Self {
        Self {
            chain: chain.into_iter().map(CertificateDer::from).collect(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8_key)),
        }
    }

    /// An identity from PEM files: the certificate chain (leaf first) and its private key
    /// (PKCS #8, PKCS #1 or SEC1).
    pub fn from_pem_files(
        chain: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Self, std::io::Error> {
        use rustls::pki_types::pem::PemObject;
        let chain = certificates_from_pem(chain)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("key file: {e}"))
        })?;
        Ok(Self { chain, key })
    }

    /// The SHA-256 fingerprint of the leaf certificate, for `a=fingerprint`.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint_of(self.chain.first().map_or(&[][..], |c| c.as_ref()))
    }

    /// The rustls configuration an endpoint with this identity serves `msrps` with: ring's
    /// provider, rustls's safe default protocol versions, this certificate, and a client
    /// certificate asked for and taken whatever it is, since which one a client must present
    /// depends on the session its first request names (the endpoint checks its fingerprint
    /// when the connection is bound to that session), and no session resumption. For
    /// connections of your own that should behave as the endpoint's do.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = provider();
        let verifier = Arc::new(AnyClientCertificate {
            provider: provider.clone(),
        });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(TlsError::Config)?;
        // No resumption, as for the client: every connection shows its certificate for the
        // SDP check (RFC 4975 §14.4), so no tickets go out (they would delay the first
        // response) and no session cache is kept.
        config.send_tls13_tickets = 0;
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        Ok(Arc::new(config))
    }

    /// The rustls configuration an endpoint with this identity connects with to a peer checked
    /// as `verification` says, presenting this certificate. Sessions are not resumed: every
    /// connection shows its certificate, which the peer checks against the SDP.
    pub fn client_config(&self, check: &PeerCheck) -> Result<Arc<ClientConfig>, TlsError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?;
        let builder = match check {
            PeerCheck::Fingerprints(expected) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(FingerprintVerifier {
                    expected: expected.clone(),
                    provider,
                })),
            PeerCheck::Anchors(anchors) => {
                let roots = anchors
                    .downcast::<RootCertStore>()
                    .ok_or(TlsError::UnknownAnchors)?;
                builder.with_root_certificates(roots)
            }
            // The endpoint opens no msrps session without a check.
            _ => return Err(TlsError::UnknownAnchors),
        };
        let mut config = builder
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(TlsError::Config)?;
        config.resumption = rustls::client::Resumption::disabled();
        Ok(Arc::new(config))
    }
}

/// Bytes drawn from the operating system at a time by [`secure_random`]: a session draws 16 for
/// each chunk it sends, and a system call for each would cost more than the rest of the chunk's
/// work.
const RANDOM_POOL: usize = 1024;

/// A cryptographically secure random source for session configurations (transaction ids,
/// Message-IDs and session-ids), from the TLS crypto provider. It draws from the operating
/// system 1 KiB at a time and hands each byte out once, wiping it from the pool
/// as it goes; larger requests are drawn directly.
pub fn secure_random() -> impl FnMut(&mut [u8]) + Send + 'static {
    let random = rustls::crypto::ring::default_provider().secure_random;
    let mut pool = vec![0u8; RANDOM_POOL];
    // Bytes not handed out yet, at the end of the pool.
    let mut left = 0;
    move |buf: &mut [u8]| {
        // The provider's generator reads the operating system's; it does not fail in practice,
        // and a failure leaves zeros, which the session's id checks then catch.
        if buf.len() > RANDOM_POOL / 2 {
            if random.fill(buf).is_err() {
                buf.fill(0);
            }
            return;
        }
        if left < buf.len() {
            if random.fill(&mut pool).is_err() {
                pool.fill(0);
            }
            left = pool.len();
        }
        let start = pool.len() - left;
        let drawn = &mut pool[start..start + buf.len()];
        buf.copy_from_slice(drawn);
        drawn.fill(0);
        left -= buf.len();
    }
}

/// The certificates of a PEM file, at least one.
fn certificates_from_pem(
    path: &std::path::Path,
) -> Result<Vec<CertificateDer<'static>>, std::io::Error> {
    use rustls::pki_types::pem::PemObject;
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(format!("certificate file: {e}")))?;
    if certificates.is_empty() {
        return Err(invalid("certificate file: no certificate".into()));
    }
    Ok(certificates)
}

/// How the certificate of a peer is checked: what [`SessionSpec::peer_check`](msrp_session::SessionSpec::peer_check) takes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PeerVerification {
    /// Against the fingerprints the peer put in its SDP (RFC 4975 §14.4): "if the fingerprint
    /// does not match the hashed certificate then the endpoint MUST tear down the media session
    /// immediately".
    Fingerprints(Vec<msrp_sdp::Fingerprint>),
    /// Against trusted roots and the host name (RFC 4975 §5.4: "The SubjectAltName in the
    /// received certificate MUST match the hostname part of the URI and the certificate MUST be
    /// valid").
    WebPki(Arc<RootCertStore>),
}

impl PeerVerification {
    /// Trusted roots from a PEM file of CA certificates, for [`PeerVerification::WebPki`].
    pub fn roots_from_pem_file(path: &std::path::Path) -> Result<Self, std::io::Error> {
        let mut roots = RootCertStore::empty();
        for certificate in certificates_from_pem(path)? {
            roots.add(certificate).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("CA certificate: {e}"),
                )
            })?;
        }
        Ok(Self::WebPki(Arc::new(roots)))
    }
}

impl From<PeerVerification> for PeerCheck {
    fn from(verification: PeerVerification) -> Self {
        match verification {
            PeerVerification::Fingerprints(list) => PeerCheck::Fingerprints(list),
            PeerVerification::WebPki(roots) => PeerCheck::Anchors(TrustAnchors::new(roots)),
        }
    }
}

/// Peer relays known by certificates valid for their host names under trusted roots (RFC
/// 4976 §6.3 and §9.2: "The SubjectAltName in the certificate received from a relay MUST
/// match the hostname part of the URI, and the certificate MUST be valid according to RFC
/// 3280 [...], including having a date that is valid and being signed by an acceptable
/// certification authority"). Only the leaf the peer showed is checked, so its issuer must be
/// one of the roots.
#[derive(Debug)]
pub(crate) struct WebPkiRelays {
    verifier: Arc<rustls::client::WebPkiServerVerifier>,
}

impl WebPkiRelays {
    pub(crate) fn new(roots: Arc<RootCertStore>) -> Result<Self, TlsError> {
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
        Ok(Self { verifier })
    }
}

impl msrp_relay::RelayIdentity for WebPkiRelays {
    fn is_relay(&self, certificate: &[u8], host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let Ok(name) = ServerName::try_from(host.to_owned()) else {
            return false;
        };
        let leaf = CertificateDer::from(certificate.to_vec());
        self.verifier
            .verify_server_cert(&leaf, &[], &name, &[], UnixTime::now())
            .is_ok()
    }
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The handshake-signature checks of a certificate verifier: the provider's own, whatever the
/// verifier decides about the certificate itself. For a type with a `provider` field.
macro_rules! signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

/// Checks a server's certificate against SDP fingerprints, and the handshake signatures with
/// the provider's algorithms.
#[derive(Debug)]
struct FingerprintVerifier {
    expected: Vec<Fingerprint>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if matches_fingerprint(end_entity.as_ref(), &self.expected) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    signature_checks!();
}

/// Asks clients for a certificate and takes any whose handshake signature is valid: which
/// certificate a client must present depends on the session its first request names, so the
/// fingerprint is checked when the connection is bound to a session.
#[derive(Debug)]
struct AnyClientCertificate {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    signature_checks!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_relays_are_known_by_certificates_from_the_roots_naming_their_host() {
        use msrp_relay::RelayIdentity;
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |names: &[&str]| {
            let params =
                CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                    .unwrap();
            params
                .signed_by(&KeyPair::generate().unwrap(), &issuer)
                .unwrap()
                .der()
                .to_vec()
        };
        let mut roots = RootCertStore::empty();
        roots.add(ca_cert.der().clone()).unwrap();
        let relays = WebPkiRelays::new(Arc::new(roots)).unwrap();
        let relay = leaf(&["relay.example.com", "127.0.0.1"]);
        assert!(relays.is_relay(&relay, "relay.example.com"));
        assert!(relays.is_relay(&relay, "RELAY.example.com"));
        assert!(relays.is_relay(&relay, "127.0.0.1"));
        // Another name, or a certificate no root vouches for: not that relay.
        assert!(!relays.is_relay(&relay, "other.example.com"));
        assert!(!relays.is_relay(&relay, "127.0.0.2"));
        let stranger = rcgen::generate_simple_self_signed(vec!["relay.example.com".to_owned()])
            .unwrap()
            .cert
            .der()
            .to_vec();
        assert!(!relays.is_relay(&stranger, "relay.example.com"));
        assert!(!relays.is_relay(b"not a certificate", "relay.example.com"));
    }

    #[test]
    fn secure_random_hands_each_drawn_byte_out_once() {
        let mut random = secure_random();
        let mut seen = std::collections::HashSet::new();
        // Far more draws than one pool holds, of the size a transaction id takes.
        for _ in 0..1000 {
            let mut id = [0u8; 16];
            random(&mut id);
            assert!(seen.insert(id), "a repeated draw");
        }
        // Sizes that straddle the pool's refills, and one drawn directly.
        for len in [
            8,
            100,
            RANDOM_POOL / 2,
            RANDOM_POOL / 2 + 1,
            4 * RANDOM_POOL,
        ] {
            let mut a = vec![0u8; len];
            let mut b = vec![0u8; len];
            random(&mut a);
            random(&mut b);
            assert_ne!(a, b, "{len} bytes");
        }
    }

    #[test]
    fn self_signed_fingerprints_match_only_their_certificate() {
        let a = Identity::self_signed(&["a.example.com"]).unwrap();
        let b = Identity::self_signed(&["b.example.com"]).unwrap();
        let fa = a.fingerprint();
        assert_eq!(fa.hash_function, "sha-256");
        assert_eq!(fa.value.len(), 32);
        assert!(matches_fingerprint(
            a.chain[0].as_ref(),
            std::slice::from_ref(&fa)
        ));
        assert!(!matches_fingerprint(
            b.chain[0].as_ref(),
            std::slice::from_ref(&fa)
        ));
        let upper = Fingerprint::new("SHA-256", fa.value.clone());
        assert!(matches_fingerprint(a.chain[0].as_ref(), &[upper]));
        let sha1 = Fingerprint::new("sha-1", vec![0; 20]);
        assert!(!matches_fingerprint(a.chain[0].as_ref(), &[sha1]));
        a.server_config().unwrap();
        a.client_config(&PeerCheck::Fingerprints(vec![b.fingerprint()]))
            .unwrap();
        let roots = Arc::new(RootCertStore::empty());
        a.client_config(&PeerVerification::WebPki(roots).into())
            .unwrap();
        let strange = PeerCheck::Anchors(TrustAnchors::new(Arc::new(1u8)));
        assert!(matches!(
            a.client_config(&strange),
            Err(TlsError::UnknownAnchors)
        ));
    }
}
