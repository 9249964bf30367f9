//! Property tests: format ∘ parse is the identity, the parser never panics, session-ids are
//! valid and distinct.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use msrp_uri::{
    Host, MsrpUri, Path, SESSION_ID_LEN, SESSION_ID_RANDOM_BYTES, Scheme, Transport,
    generate_session_id,
};
use proptest::prelude::*;

/// The host of a generated URI, with the text it is written as.
#[derive(Clone, Debug)]
enum GenHost {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr, String),
}

impl GenHost {
    fn text(&self) -> String {
        match self {
            Self::Name(name) => name.clone(),
            Self::V4(addr) => addr.to_string(),
            Self::V6(_, text) => format!("[{text}]"),
        }
    }

    fn expected(&self) -> Host<'_> {
        match self {
            Self::Name(name) => Host::Name(name),
            Self::V4(addr) => Host::V4(*addr),
            Self::V6(addr, _) => Host::V6(*addr),
        }
    }

    fn is_ip(&self) -> bool {
        !matches!(self, Self::Name(_))
    }
}

/// The components of a valid MSRP URI, written independently of the crate's builder.
#[derive(Clone, Debug)]
struct GenUri {
    scheme: String,
    userinfo: Option<String>,
    host: GenHost,
    /// The port and the number of leading zeros it is written with.
    port: Option<(u16, usize)>,
    session_id: Option<String>,
    transport: String,
    params: Vec<(String, Option<String>)>,
}

impl GenUri {
    fn text(&self) -> String {
        let mut s = format!("{}://", self.scheme);
        if let Some(userinfo) = &self.userinfo {
            s.push_str(userinfo);
            s.push('@');
        }
        s.push_str(&self.host.text());
        if let Some((port, zeros)) = self.port {
            s.push(':');
            s.push_str(&"0".repeat(zeros));
            s.push_str(&port.to_string());
        }
        if let Some(session_id) = &self.session_id {
            s.push('/');
            s.push_str(session_id);
        }
        s.push(';');
        s.push_str(&self.transport);
        for (name, value) in &self.params {
            s.push(';');
            s.push_str(name);
            if let Some(value) = value {
                s.push('=');
                s.push_str(value);
            }
        }
        s
    }

    fn scheme(&self) -> Scheme {
        if self.scheme.len() == 5 {
            Scheme::Msrps
        } else {
            Scheme::Msrp
        }
    }
}

/// A strategy for strings matching `pattern`.
fn regex(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    proptest::string::string_regex(pattern).expect("the test's regex is valid")
}

const PCT_OR: &str = "%[0-9a-fA-F]{2}";

fn userinfo() -> impl Strategy<Value = String> {
    regex(&format!("([a-zA-Z0-9._~!$&'()*+,=-]|{PCT_OR}){{0,8}}"))
}

/// A registered name whose last label starts with a letter, so it never reads as a number.
///
/// Its percent-encodings are letters or reserved characters, never `.` or digits: an encoded
/// dot would start a new label once decoded, and that label could be numeric.
fn reg_name() -> impl Strategy<Value = String> {
    let pct = "%([46][1-9a-fA-F]|2[0-9a-dA-D])";
    let label = format!("([a-zA-Z0-9_~!$&'()*+,=-]|{pct}){{0,6}}");
    regex(&format!("(({label})\\.){{0,3}}[a-zA-Z]({label})\\.?"))
}

/// An IPv6 address and one of several ways to write it.
fn ipv6() -> impl Strategy<Value = (Ipv6Addr, String)> {
    // Some addresses with runs of zeros, so that "::" compression shows up often.
    let addr = prop_oneof![
        any::<u128>().prop_map(Ipv6Addr::from),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Ipv6Addr::new(a, 0, 0, 0, 0, 0, 0, b)),
        any::<u32>().prop_map(|v| Ipv4Addr::from(v).to_ipv6_mapped()),
    ];
    (addr, 0..3u8).prop_map(|(addr, style)| {
        let text = match style {
            0 => addr.to_string(),
            1 => {
                let s = addr.segments();
                format!(
                    "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
                    s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
                )
            }
            _ => {
                let s = addr.segments();
                format!(
                    "{:04X}:{:04X}:{:04X}:{:04X}:{:04X}:{:04X}:{:04X}:{:04X}",
                    s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
                )
            }
        };
        (addr, text)
    })
}

fn host() -> impl Strategy<Value = GenHost> {
    prop_oneof![
        reg_name().prop_map(GenHost::Name),
        any::<u32>().prop_map(|v| GenHost::V4(Ipv4Addr::from(v))),
        ipv6().prop_map(|(addr, text)| GenHost::V6(addr, text)),
    ]
}

const TOKEN: &str = "[!#$%&'*+.0-9A-Z^_`a-z{|}~-]{1,8}";

fn gen_uri() -> impl Strategy<Value = GenUri> {
    (
        "[mM][sS][rR][pP][sS]?",
        proptest::option::of(userinfo()),
        host(),
        proptest::option::of((any::<u16>(), 0..3usize)),
        proptest::option::of("[a-zA-Z0-9._~+=/-]{1,24}"),
        prop_oneof!["[tT][cC][pP]", "[wW][sS]", "[a-zA-Z0-9]{1,8}"],
        proptest::collection::vec((TOKEN, proptest::option::of(TOKEN)), 0..4),
        any::<u16>(),
    )
        .prop_map(
            |(scheme, userinfo, host, port, session_id, transport, params, fallback_port)| {
                // RFC 4975 §6: an IP address needs a port.
                let port = if host.is_ip() && port.is_none() {
                    Some((fallback_port, 0))
                } else {
                    port
                };
                GenUri {
                    scheme,
                    userinfo,
                    host,
                    port,
                    session_id,
                    transport,
                    params,
                }
            },
        )
}

/// Strings over the characters that matter to the parser, for deeper coverage than arbitrary
/// Unicode.
fn uri_like() -> impl Strategy<Value = String> {
    "[msrpMSRP:/@%\\[\\]0-9a-fA-F.;=+~_ x!-]{0,64}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generated_uris_parse_to_their_components(g in gen_uri()) {
        let text = g.text();
        let uri = MsrpUri::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(uri.to_string(), text.as_str());
        prop_assert_eq!(uri.scheme(), g.scheme());
        prop_assert_eq!(uri.userinfo(), g.userinfo.as_deref());
        prop_assert_eq!(uri.host(), g.host.expected());
        prop_assert_eq!(uri.host_str(), g.host.text());
        prop_assert_eq!(uri.port(), g.port.map(|(p, _)| p));
        prop_assert_eq!(uri.session_id(), g.session_id.as_deref());
        prop_assert_eq!(uri.transport(), Transport::from_name(&g.transport));
        prop_assert_eq!(uri.transport().as_str().len(), g.transport.len());
        let params: Vec<_> = uri.params().collect();
        let expected: Vec<_> = g.params.iter().map(|(n, v)| (n.as_str(), v.as_deref())).collect();
        prop_assert_eq!(params, expected);
        prop_assert!(uri.matches(&uri));
    }

    #[test]
    fn display_then_parse_is_the_identity(g in gen_uri()) {
        let uri = MsrpUri::parse(&g.text()).unwrap();
        let shown = uri.to_string();
        let again = MsrpUri::parse(&shown).unwrap();
        prop_assert_eq!(again.to_string(), uri.to_string());
        prop_assert_eq!(again.host(), uri.host());
        prop_assert_eq!(again.port(), uri.port());
        prop_assert!(again.matches(&uri) && uri.matches(&again));
    }

    #[test]
    fn the_builder_makes_the_same_uri(g in gen_uri()) {
        let parsed = MsrpUri::parse(&g.text()).unwrap();
        let mut builder = MsrpUri::builder(g.scheme(), g.host.expected())
            .transport(Transport::from_name(&g.transport));
        if let Some(userinfo) = &g.userinfo {
            builder = builder.userinfo(userinfo);
        }
        if let Some((port, _)) = g.port {
            builder = builder.port(port);
        }
        if let Some(session_id) = &g.session_id {
            builder = builder.session_id(session_id);
        }
        for (name, value) in &g.params {
            builder = builder.param(name, value.as_deref());
        }
        let built = builder.build().map_err(|e| TestCaseError::fail(format!("{g:?}: {e}")))?;
        prop_assert!(built.matches(&parsed), "{} vs {}", built, parsed);
        prop_assert_eq!(built.userinfo(), parsed.userinfo());
        prop_assert_eq!(built.params().collect::<Vec<_>>(), parsed.params().collect::<Vec<_>>());
        // The builder writes the scheme in lowercase and addresses in their canonical form;
        // otherwise its text is the text it was given.
        let reparsed = MsrpUri::parse(built.as_str()).unwrap();
        prop_assert_eq!(reparsed.as_str(), built.as_str());
    }

    #[test]
    fn paths_round_trip(gs in proptest::collection::vec(gen_uri(), 1..5)) {
        let value = gs.iter().map(GenUri::text).collect::<Vec<_>>().join(" ");
        let path = Path::parse(&value).unwrap();
        prop_assert_eq!(path.len(), gs.len());
        prop_assert_eq!(path.to_string(), value);
        prop_assert!(path.matches(&path));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let _ = MsrpUri::parse(&s);
        let _ = Path::parse(&s);
    }

    #[test]
    fn uri_like_strings_never_panic(s in uri_like()) {
        let uri = MsrpUri::parse(&s);
        if let Ok(uri) = uri {
            // Whatever is accepted round-trips and matches itself.
            prop_assert_eq!(uri.to_string(), s.as_str());
            prop_assert!(uri.matches(&uri));
        }
        let _ = Path::parse(&s);
        let prefixed = format!("msrp://{s}");
        if let Ok(uri) = MsrpUri::parse(&prefixed) {
            prop_assert_eq!(uri.to_string(), prefixed);
            prop_assert!(uri.matches(&uri));
        }
    }

    #[test]
    fn mutated_uris_never_panic(g in gen_uri(), at in any::<prop::sample::Index>(), byte in any::<u8>(), op in 0..3u8) {
        let mut bytes = g.text().into_bytes();
        let i = at.index(bytes.len() + 1);
        match op {
            0 => bytes.insert(i, byte),
            1 if i < bytes.len() => { bytes.remove(i); }
            _ if i < bytes.len() => bytes[i] = byte,
            _ => bytes.push(byte),
        }
        if let Ok(s) = String::from_utf8(bytes) {
            if let Ok(uri) = MsrpUri::parse(&s) {
                prop_assert_eq!(uri.to_string(), s.as_str());
                prop_assert!(uri.matches(&uri));
            }
            let _ = Path::parse(&s);
        }
    }

    #[test]
    fn matching_is_symmetric(a in gen_uri(), b in gen_uri()) {
        let a = MsrpUri::parse(&a.text()).unwrap();
        let b = MsrpUri::parse(&b.text()).unwrap();
        prop_assert_eq!(a.matches(&b), b.matches(&a));
    }

    #[test]
    fn session_ids_are_valid(bytes in any::<[u8; SESSION_ID_RANDOM_BYTES]>()) {
        let id = generate_session_id(|buf| buf.copy_from_slice(&bytes));
        prop_assert_eq!(id.len(), SESSION_ID_LEN);
        let uri = MsrpUri::new(Scheme::Msrp, Host::Name("h.example.com"), Some(1), Some(&id), Transport::Tcp);
        prop_assert!(uri.is_ok(), "{}", id);
    }

    #[test]
    fn distinct_random_bytes_give_distinct_session_ids(
        a in any::<[u8; SESSION_ID_RANDOM_BYTES]>(),
        b in any::<[u8; SESSION_ID_RANDOM_BYTES]>(),
    ) {
        let ida = generate_session_id(|buf| buf.copy_from_slice(&a));
        let idb = generate_session_id(|buf| buf.copy_from_slice(&b));
        prop_assert_eq!(a == b, ida == idb);
    }
}

#[test]
fn session_ids_from_a_counter_are_all_distinct() {
    // Every single-bit difference, plus a counter, must give a different id.
    let mut seen = HashSet::new();
    for bit in 0..SESSION_ID_RANDOM_BYTES * 8 {
        let id = generate_session_id(|buf| {
            buf.fill(0);
            if let Some(b) = buf.get_mut(bit / 8) {
                *b = 1 << (bit % 8);
            }
        });
        assert!(seen.insert(id));
    }
    for n in 0u32..20_000 {
        let id = generate_session_id(|buf| {
            buf.fill(0xee);
            if let Some(tail) = buf.get_mut(..4) {
                tail.copy_from_slice(&n.to_be_bytes());
            }
        });
        assert!(seen.insert(id));
    }
}
