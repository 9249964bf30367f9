//! Properties of the SDP layer: parsing never panics, and encoding a description then parsing
//! it gives the same description back.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use msrp_sdp::{
    Attribute, Chatroom, ConnectionData, Direction, FileDate, FileHash, FileRange, FileSelector,
    FileType, Fingerprint, FormatEntry, Media, MsrpMedia, Origin, OtherMedia, Path, Protocol,
    SdpLine, SessionDescription, Setup, TcpConnection, Timing,
};

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.+_-]{0,8}"
}

fn printable(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~]{{0,{max}}}")).expect("valid regex")
}

fn format_entry() -> impl Strategy<Value = FormatEntry> {
    let param = (token(), prop_oneof![token(), "\"[ a-z;]{0,6}\""]);
    prop_oneof![
        1 => Just(FormatEntry::Any),
        4 => (token(), prop_oneof![token(), Just("*".to_owned())], vec(param, 0..3))
            .prop_map(|(type_name, subtype, params)| FormatEntry::Media { type_name, subtype, params }),
    ]
}

fn uri() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        "[a-z]{1,8}(\\.[a-z]{1,8}){0,2}",
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("[2001:db8::7]".to_owned()),
    ];
    (
        prop_oneof!["msrp", "msrps"],
        host,
        option::of(1u16..),
        option::of("[a-zA-Z0-9]{1,10}"),
        prop_oneof!["tcp", "ws"],
    )
        .prop_filter_map(
            "an ip address needs a port",
            |(scheme, host, port, session, transport)| {
                let is_name = host.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
                if port.is_none() && !is_name {
                    return None;
                }
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                let session = session.map(|s| format!("/{s}")).unwrap_or_default();
                Some(format!("{scheme}://{host}{port}{session};{transport}"))
            },
        )
}

fn path() -> impl Strategy<Value = Path> {
    vec(uri(), 1..4)
        .prop_map(|uris| Path::parse(&uris.join(" ")).expect("generated uris are valid"))
}

fn file_selector() -> impl Strategy<Value = FileSelector> {
    let name = "[^\u{0}]{1,12}";
    let file_type = (
        token(),
        token(),
        vec((token(), "[a-zA-Z0-9 ;,]{1,6}"), 0..2),
    )
        .prop_map(|(type_name, subtype, params)| FileType {
            type_name,
            subtype,
            params,
        });
    let hash = (token(), vec(any::<u8>(), 1..21))
        .prop_map(|(algorithm, value)| FileHash { algorithm, value });
    (
        option::of(name),
        option::of(file_type),
        option::of(any::<u64>()),
        vec(hash, 0..3),
    )
        .prop_map(|(name, media_type, size, hashes)| FileSelector {
            name,
            media_type,
            size,
            hashes,
        })
}

fn file_date() -> impl Strategy<Value = FileDate> {
    let date = "[ !#-~]{1,20}";
    (option::of(date), option::of(date), option::of(date))
        .prop_filter("at least one date", |(c, m, r)| {
            c.is_some() || m.is_some() || r.is_some()
        })
        .prop_map(|(creation, modification, read)| FileDate {
            creation,
            modification,
            read,
        })
}

fn file_range() -> impl Strategy<Value = FileRange> {
    (1u64.., option::of(any::<u64>())).prop_map(|(start, stop)| FileRange {
        start,
        stop: stop.map(|s| s.max(start)),
    })
}

fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        path().prop_map(Attribute::Path),
        vec(format_entry(), 1..4).prop_map(Attribute::AcceptTypes),
        vec(format_entry(), 1..4).prop_map(Attribute::AcceptWrappedTypes),
        any::<u64>().prop_map(Attribute::MaxSize),
        prop_oneof![
            Just(Setup::Active),
            Just(Setup::Passive),
            Just(Setup::Actpass),
            Just(Setup::Holdconn)
        ]
        .prop_map(Attribute::Setup),
        prop_oneof![Just(TcpConnection::New), Just(TcpConnection::Existing)]
            .prop_map(Attribute::Connection),
        (token(), vec(any::<u8>(), 1..33))
            .prop_map(|(f, v)| Attribute::Fingerprint(Fingerprint::new(&f, v))),
        Just(Attribute::MsrpCema),
        prop_oneof![
            Just(Direction::SendRecv),
            Just(Direction::SendOnly),
            Just(Direction::RecvOnly),
            Just(Direction::Inactive)
        ]
        .prop_map(Attribute::Direction),
        vec(token(), 0..3).prop_map(|t| Attribute::Chatroom(Chatroom { tokens: t })),
        file_selector().prop_map(Attribute::FileSelector),
        token().prop_map(Attribute::FileTransferId),
        token().prop_map(Attribute::FileDisposition),
        file_date().prop_map(Attribute::FileDate),
        "cid:[a-z0-9@.]{1,12}".prop_map(Attribute::FileIcon),
        file_range().prop_map(Attribute::FileRange),
        ("x-[a-z]{1,8}", option::of(printable(20)))
            .prop_map(|(name, value)| Attribute::Other { name, value }),
    ]
}

fn connection() -> impl Strategy<Value = ConnectionData> {
    (prop_oneof!["IP4", "IP6"], "[a-z0-9.:]{1,15}").prop_map(|(addr_type, address)| {
        ConnectionData {
            net_type: "IN".into(),
            addr_type,
            address,
        }
    })
}

fn line(kinds: &'static [char]) -> impl Strategy<Value = SdpLine> {
    (proptest::sample::select(kinds), printable(20))
        .prop_map(|(kind, value)| SdpLine { kind, value })
}

fn msrp_media() -> impl Strategy<Value = MsrpMedia> {
    let protocol = prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::TcpTls),
        Just(Protocol::TcpWs),
        Just(Protocol::TcpWss)
    ];
    (
        any::<u16>(),
        protocol,
        vec("[a-z0-9*]{1,4}", 0..3),
        option::of(printable(20)),
        option::of(connection()),
        vec(line(&['b', 'k', 'x']), 0..3),
        vec(attribute(), 0..10),
    )
        .prop_map(
            |(port, protocol, formats, title, connection, other_lines, attributes)| MsrpMedia {
                port,
                protocol,
                formats,
                title,
                connection,
                other_lines,
                attributes,
            },
        )
}

fn other_media() -> impl Strategy<Value = OtherMedia> {
    (
        prop_oneof!["audio", "video", "message"],
        any::<u16>(),
        option::of(any::<u16>()),
        prop_oneof!["RTP/AVP", "TCP/CPIM", "udp"],
        vec("[a-z0-9*]{1,4}", 0..3),
        vec(line(&['a', 'b', 'c', 'i', 'k', 'x']), 0..4),
    )
        .prop_map(
            |(media, port, port_count, protocol, formats, lines)| OtherMedia {
                media,
                port,
                port_count,
                protocol,
                formats,
                lines,
            },
        )
}

/// The position of a session-level line in RFC 4566 order, as the encoder sorts them.
fn rank(kind: char) -> u8 {
    match kind {
        'i' => 3,
        'u' => 4,
        'e' => 5,
        'p' => 6,
        'b' => 8,
        'r' => 9,
        'z' => 10,
        'k' => 11,
        _ => 13,
    }
}

fn session() -> impl Strategy<Value = SessionDescription> {
    let origin = (
        "[a-zA-Z0-9_-]{1,8}",
        "[0-9]{1,12}",
        any::<u64>(),
        "[a-z0-9.]{1,12}",
    )
        .prop_map(|(username, session_id, session_version, address)| Origin {
            username,
            session_id,
            session_version,
            net_type: "IN".into(),
            addr_type: "IP4".into(),
            address,
        });
    let timing = (any::<u64>(), any::<u64>()).prop_map(|(start, stop)| Timing { start, stop });
    let media = prop_oneof![3 => msrp_media().prop_map(Media::Msrp), 1 => other_media().prop_map(Media::Other)];
    (
        any::<bool>(),
        option::of(origin),
        option::of(printable(12)),
        option::of(connection()),
        option::of(timing),
        vec(attribute(), 0..4),
        vec(line(&['i', 'u', 'e', 'p', 'b', 'r', 'z', 'k', 'x']), 0..5),
        vec(media, 0..4),
    )
        .prop_map(
            |(
                complete,
                origin,
                session_name,
                connection,
                timing,
                attributes,
                mut other_lines,
                media,
            )| {
                // Lines are kept in the order the encoder writes them; `r=` lines only follow `t=`.
                if timing.is_none() {
                    other_lines.retain(|l| l.kind != 'r');
                }
                other_lines.sort_by_key(|l| rank(l.kind));
                SessionDescription {
                    version: complete.then_some(0),
                    origin,
                    session_name,
                    connection,
                    timing,
                    attributes,
                    other_lines,
                    media,
                }
            },
        )
}

/// Lines that look like SDP, to reach deeper into the parser than random bytes do.
fn sdp_like() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        Just("v=0"),
        Just("o="),
        Just("s="),
        Just("c=IN IP4 "),
        Just("t="),
        Just("m=message "),
        Just("m=message 7 TCP/MSRP *"),
        Just("a=path:msrp://"),
        Just("a=accept-types:"),
        Just("a=max-size:"),
        Just("a=setup:"),
        Just("a=fingerprint:"),
        Just("a=file-selector:name:\""),
        Just("a=file-selector:hash:sha-1:"),
        Just("a=file-date:creation:\""),
        Just("a=file-range:"),
        Just("a=chatroom:"),
        Just("a="),
    ];
    vec(
        (prefix, "[ -~]{0,24}", prop_oneof!["\r\n", "\n", "\r", ""]),
        0..16,
    )
    .prop_map(|lines| {
        lines
            .into_iter()
            .map(|(p, rest, end)| format!("{p}{rest}{end}"))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_parse_is_identity(sd in session()) {
        let text = sd.to_string();
        prop_assert!(text.is_empty() || text.ends_with("\r\n"));
        let parsed = msrp_sdp::parse(text.as_bytes());
        prop_assert_eq!(parsed.as_ref(), Ok(&sd), "{}", text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(sd) = msrp_sdp::parse(&bytes) {
            // Whatever parses, re-parses to itself once encoded.
            let once = sd.to_string();
            let again = msrp_sdp::parse(once.as_bytes()).expect("an encoded description parses");
            prop_assert_eq!(again.to_string(), once);
        }
    }

    #[test]
    fn sdp_like_text_never_panics(text in sdp_like()) {
        if let Ok(sd) = msrp_sdp::parse(text.as_bytes()) {
            let once = sd.to_string();
            let again = msrp_sdp::parse(once.as_bytes()).expect("an encoded description parses");
            prop_assert_eq!(again.to_string(), once);
        }
    }

    #[test]
    fn negotiation_never_panics(text in sdp_like(), setup in 0usize..3, cema in any::<bool>()) {
        if let Ok(offer) = msrp_sdp::parse(text.as_bytes()) {
            let mut caps = msrp_sdp::Capabilities::new(Path::parse("msrp://bob.example.com:8493/s;tcp").unwrap()).unwrap();
            caps.setup = [msrp_sdp::SetupPreference::Rfc4975, msrp_sdp::SetupPreference::ActPass, msrp_sdp::SetupPreference::Active][setup];
            caps.cema = cema;
            let origin = Origin {
                username: "b".into(),
                session_id: "1".into(),
                session_version: 1,
                net_type: "IN".into(),
                addr_type: "IP4".into(),
                address: "bob.example.com".into(),
            };
            let _ = caps.create_answer(&offer, origin);
            let _ = caps.handle_answer(&offer);
        }
    }
}
