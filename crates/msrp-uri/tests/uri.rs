//! Parsing, formatting and building single MSRP URIs.

use std::net::{Ipv4Addr, Ipv6Addr};

use msrp_uri::{ErrorKind, Host, MsrpUri, Scheme, Transport};

/// Every distinct MSRP URI printed in the RFC texts of the project's specification folder
/// (RFC 4975, 4976, 5547, 7701 and 7977), found with `grep -oE 'msrps?://[^ ]*'`.
///
/// RFC 4976 §5.1 writes `msrps://R1;tcp msrps://R2;tcp.` in prose; the final period ends the
/// sentence and is not part of the URI.
const RFC_URIS: &[(&str, &str)] = &[
    ("msrp://a.example.com:1234/agic456;tcp", "RFC 4976"),
    ("msrp://alice.example.com:7394/2s93i93idj;tcp", "RFC 4975"),
    ("msrp://alice.example.com:7394/2s93i9ek2a;tcp", "RFC 4975"),
    (
        "msrp://alice.example.com:7777/iau39soe2843z;tcp",
        "RFC 4975",
    ),
    ("msrp://alicepc.example.com:7654/iau39;tcp", "RFC 5547"),
    (
        "msrp://alicepc.example.com:7654/iau39soe2843z;tcp",
        "RFC 4975",
    ),
    ("msrp://alicepc.example.com:7654/jshA7we;tcp", "RFC 5547"),
    (
        "msrp://alicepc.example.com:7777/iau39soe2843z;tcp",
        "RFC 4975",
    ),
    (
        "msrp://alicepc.example.com:8888/9di4eae923wzd;tcp",
        "RFC 4975",
    ),
    ("msrp://atlanta.example.com:7654/jshA7we;tcp", "RFC 5547"),
    (
        "msrp://atlanta.example.com:7654/jshA7weztas;tcp",
        "RFC 4975",
    ),
    (
        "msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp",
        "RFC 4975",
    ),
    ("msrp://bob.example.com:8493/si438dsaodes;tcp", "RFC 4975"),
    ("msrp://bob.example.com:8888/9di4eae923wzd;tcp", "RFC 4975"),
    ("msrp://bobpc.example.com:8888/9di4ea;tcp", "RFC 5547"),
    (
        "msrp://bobpc.example.com:8888/9di4eae923wzd;tcp",
        "RFC 4975",
    ),
    ("msrp://bobpc.example.com:8888/eh10dsk;tcp", "RFC 5547"),
    (
        "msrp://chat.example.com:12763/kjhd37s2s20w2a;tcp",
        "RFC 7701",
    ),
    ("msrp://chat.example.com:5678/jofofo3;tcp", "RFC 7701"),
    (
        "msrp://client.atlanta.example.com:7654/jshA7weztas;tcp",
        "RFC 7701",
    ),
    (
        "msrp://client.biloxi.example.com:4923/49dufdje2;tcp",
        "RFC 7701",
    ),
    ("msrp://example.com:7777/iau39soe2843z;tcp", "RFC 4975"),
    ("msrp://host.example.com:8493/asfd34;tcp", "RFC 4975"),
    ("msrps://A.example.com/aaa;tcp", "RFC 4976"),
    ("msrps://Alice.example.com/alice;tcp", "RFC 4976"),
    ("msrps://B.example.com/bbb;tcp", "RFC 4976"),
    ("msrps://Bob.example.com/bob;tcp", "RFC 4976"),
    ("msrps://R1;tcp", "RFC 4976"),
    ("msrps://R2;tcp", "RFC 4976"),
    ("msrps://a.example.com:2855/iwnslt;tcp", "RFC 7977"),
    ("msrps://a.example.com:2855/jui787s2f;tcp", "RFC 7977"),
    ("msrps://a.example.org:9000/kjfjan;tcp", "RFC 4976"),
    ("msrps://alice.example.com:9892/98cjs;tcp", "RFC 4976"),
    ("msrps://alice.example.org:7965/bar;tcp", "RFC 4976"),
    ("msrps://alice@a.example.com:443;ws", "RFC 7977"),
    ("msrps://alice@intra.example.com;tcp", "RFC 4976"),
    (
        "msrps://atlanta.example.com:7654/jshA7weso3ks;tcp",
        "RFC 4975",
    ),
    ("msrps://b.example.net:9000/aeiug;tcp", "RFC 4976"),
    ("msrps://bob.example.com:1234/fuige;tcp", "RFC 4976"),
    ("msrps://bob.example.com:49154/foo;tcp", "RFC 7977"),
    ("msrps://bob.example.net:8145/foo;tcp", "RFC 4976"),
    ("msrps://df7jal23ls0d.invalid/98cjs;ws", "RFC 7977"),
    ("msrps://df7jal23ls0d.invalid:2855/98cjs;ws", "RFC 7977"),
    ("msrps://extra.example.com:9000/mywdEe1233;tcp", "RFC 4976"),
    ("msrps://extra.example.com;tcp", "RFC 4976"),
    ("msrps://intra.example.com:9000/jui787s2f;tcp", "RFC 4976"),
    ("msrps://jk9awp14vj8x.invalid:2855/76qwe;ws", "RFC 7977"),
    ("msrps://relay.example.com:9000/hjdhfha;tcp", "RFC 4976"),
    ("msrps://relay.example.net:2855/kwvin5f;tcp", "RFC 7977"),
];

#[test]
fn every_uri_printed_in_the_rfcs_parses_and_round_trips() {
    for &(text, source) in RFC_URIS {
        let uri: MsrpUri = text
            .parse()
            .unwrap_or_else(|e| panic!("{text} ({source}): {e}"));
        assert_eq!(uri.to_string(), text, "{source}");
        assert!(uri.matches(&uri), "{text}");
        assert!(matches!(uri.host(), Host::Name(_)), "{text}");
        let scheme = if text.starts_with("msrps:") {
            Scheme::Msrps
        } else {
            Scheme::Msrp
        };
        assert_eq!(uri.scheme(), scheme, "{text}");
        let transport = if text.ends_with(";ws") {
            Transport::Ws
        } else {
            Transport::Tcp
        };
        assert_eq!(uri.transport(), transport, "{text}");
        assert_eq!(uri.params().count(), 0, "{text}");
    }
}

#[test]
fn rfc_4975_example_uri_components() {
    // RFC 4975 §6: "The following is an example of a typical MSRP URI:"
    let uri: MsrpUri = "msrp://host.example.com:8493/asfd34;tcp".parse().unwrap();
    assert_eq!(uri.scheme(), Scheme::Msrp);
    assert!(!uri.scheme().is_secure());
    assert_eq!(uri.userinfo(), None);
    assert_eq!(uri.host(), Host::Name("host.example.com"));
    assert_eq!(uri.host_str(), "host.example.com");
    assert_eq!(uri.port(), Some(8493));
    assert_eq!(uri.authority(), "host.example.com:8493");
    assert_eq!(uri.session_id(), Some("asfd34"));
    assert_eq!(uri.transport(), Transport::Tcp);
    assert_eq!(uri.socket_addr(), None);
    assert_eq!(uri.as_str(), "msrp://host.example.com:8493/asfd34;tcp");
    assert_eq!(
        format!("{uri:?}"),
        r#"MsrpUri("msrp://host.example.com:8493/asfd34;tcp")"#
    );
}

/// The expected view of one valid URI.
struct Valid {
    text: &'static str,
    scheme: Scheme,
    userinfo: Option<&'static str>,
    host: Host<'static>,
    host_str: &'static str,
    port: Option<u16>,
    session_id: Option<&'static str>,
    transport: Transport<'static>,
    params: &'static [(&'static str, Option<&'static str>)],
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> Host<'static> {
    Host::V4(Ipv4Addr::new(a, b, c, d))
}

const LOOPBACK_V6: Host<'static> = Host::V6(Ipv6Addr::LOCALHOST);

#[test]
fn valid_uris_table() {
    use Scheme::{Msrp, Msrps};
    let table = [
        Valid {
            text: "MSRPS://Host.Example.COM:2855/ABC;TCP",
            scheme: Msrps,
            userinfo: None,
            host: Host::Name("Host.Example.COM"),
            host_str: "Host.Example.COM",
            port: Some(2855),
            session_id: Some("ABC"),
            transport: Transport::Tcp,
            params: &[],
        },
        Valid {
            text: "msrp://192.0.2.1:1/a;tcp",
            scheme: Msrp,
            userinfo: None,
            host: v4(192, 0, 2, 1),
            host_str: "192.0.2.1",
            port: Some(1),
            session_id: Some("a"),
            transport: Transport::Tcp,
            params: &[],
        },
        Valid {
            text: "msrp://[2001:db8::1]:2855/a;tcp",
            scheme: Msrp,
            userinfo: None,
            host: Host::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            host_str: "[2001:db8::1]",
            port: Some(2855),
            session_id: Some("a"),
            transport: Transport::Tcp,
            params: &[],
        },
        Valid {
            text: "msrp://[0:0:0:0:0:0:0:1]:9;tcp",
            scheme: Msrp,
            userinfo: None,
            host: LOOPBACK_V6,
            host_str: "[0:0:0:0:0:0:0:1]",
            port: Some(9),
            session_id: None,
            transport: Transport::Tcp,
            params: &[],
        },
        Valid {
            text: "msrp://[::FFFF:192.0.2.1]:1;ws",
            scheme: Msrp,
            userinfo: None,
            host: Host::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()),
            host_str: "[::FFFF:192.0.2.1]",
            port: Some(1),
            session_id: None,
            transport: Transport::Ws,
            params: &[],
        },
        Valid {
            text: "msrps://alice@a.example.com:443;ws",
            scheme: Msrps,
            userinfo: Some("alice"),
            host: Host::Name("a.example.com"),
            host_str: "a.example.com",
            port: Some(443),
            session_id: None,
            transport: Transport::Ws,
            params: &[],
        },
        Valid {
            text: "msrp://h.example.com;SCTP",
            scheme: Msrp,
            userinfo: None,
            host: Host::Name("h.example.com"),
            host_str: "h.example.com",
            port: None,
            session_id: None,
            transport: Transport::Other("sctp"),
            params: &[],
        },
        Valid {
            text: "msrp://h.example.com/a+b=c/d.e_f~g-h;tcp;foo;bar=baz;Q=%25",
            scheme: Msrp,
            userinfo: None,
            host: Host::Name("h.example.com"),
            host_str: "h.example.com",
            port: None,
            session_id: Some("a+b=c/d.e_f~g-h"),
            transport: Transport::Tcp,
            params: &[("foo", None), ("bar", Some("baz")), ("Q", Some("%25"))],
        },
        Valid {
            text: "msrp://%41l!ce@h%2Dx.example.com;tcp",
            scheme: Msrp,
            userinfo: Some("%41l!ce"),
            host: Host::Name("h%2Dx.example.com"),
            host_str: "h%2Dx.example.com",
            port: None,
            session_id: None,
            transport: Transport::Tcp,
            params: &[],
        },
        Valid {
            text: "msrp://@h.example.com:00080;tcp",
            scheme: Msrp,
            userinfo: Some(""),
            host: Host::Name("h.example.com"),
            host_str: "h.example.com",
            port: Some(80),
            session_id: None,
            transport: Transport::Tcp,
            params: &[],
        },
        Valid {
            text: "msrp://localhost:0/x;tcp",
            scheme: Msrp,
            userinfo: None,
            host: Host::Name("localhost"),
            host_str: "localhost",
            port: Some(0),
            session_id: Some("x"),
            transport: Transport::Tcp,
            params: &[],
        },
        Valid {
            text: "msrp://example.com.:65535/x;tcp",
            scheme: Msrp,
            userinfo: None,
            host: Host::Name("example.com."),
            host_str: "example.com.",
            port: Some(65535),
            session_id: Some("x"),
            transport: Transport::Tcp,
            params: &[],
        },
        Valid {
            text: "msrp://1host.example:7/x;tcp",
            scheme: Msrp,
            userinfo: None,
            host: Host::Name("1host.example"),
            host_str: "1host.example",
            port: Some(7),
            session_id: Some("x"),
            transport: Transport::Tcp,
            params: &[],
        },
    ];
    for case in &table {
        let uri = MsrpUri::parse(case.text).unwrap_or_else(|e| panic!("{}: {e}", case.text));
        let t = case.text;
        assert_eq!(uri.to_string(), t);
        assert_eq!(uri.scheme(), case.scheme, "{t}");
        assert_eq!(uri.userinfo(), case.userinfo, "{t}");
        assert_eq!(uri.host(), case.host, "{t}");
        assert_eq!(uri.host_str(), case.host_str, "{t}");
        assert_eq!(uri.port(), case.port, "{t}");
        assert_eq!(uri.session_id(), case.session_id, "{t}");
        assert_eq!(uri.transport(), case.transport, "{t}");
        assert_eq!(uri.params().collect::<Vec<_>>(), case.params, "{t}");
        let expected_addr = case.host.ip().zip(case.port).map(Into::into);
        assert_eq!(uri.socket_addr(), expected_addr, "{t}");
    }
}

#[test]
fn param_lookup_ignores_case() {
    let uri = MsrpUri::parse("msrp://h.example.com;tcp;Foo;bar=Baz;bar=2").unwrap();
    assert_eq!(uri.param("foo"), Some(None));
    assert_eq!(uri.param("BAR"), Some(Some("Baz")));
    assert_eq!(uri.param("baz"), None);
    assert_eq!(uri.param("tcp"), None, "the transport is not a parameter");
}

#[test]
fn transport_other_keeps_its_spelling() {
    let uri = MsrpUri::parse("msrp://h.example.com;SCTP").unwrap();
    assert_eq!(uri.transport().as_str(), "SCTP");
    assert_eq!(uri.transport(), Transport::Other("sctp"));
    assert_eq!(Transport::Other("TcP"), Transport::Tcp);
    assert_eq!(Transport::from_name("WS"), Transport::Ws);
    assert!(matches!(Transport::from_name("WS"), Transport::Ws));
    assert_ne!(Transport::Tcp, Transport::Ws);
}

#[test]
fn invalid_uris_table() {
    use ErrorKind::*;
    let table: &[(&str, ErrorKind, usize)] = &[
        ("", Empty, 0),
        ("http://a.example.com:1/x;tcp", InvalidScheme, 0),
        ("msrpx://a.example.com;tcp", InvalidScheme, 0),
        (" msrp://a.example.com;tcp", InvalidScheme, 0),
        ("msrp:/a.example.com;tcp", MissingSchemeSeparator, 4),
        ("msrp//a.example.com;tcp", MissingSchemeSeparator, 4),
        ("msrp", MissingSchemeSeparator, 4),
        ("msrp://user:pw@h.example.com;tcp", PasswordInUserinfo, 11),
        ("msrp://user:@h.example.com;tcp", PasswordInUserinfo, 11),
        ("msrp://us er@h.example.com;tcp", InvalidUserinfo, 9),
        ("msrp://u%4@h.example.com;tcp", InvalidPercentEncoding, 8),
        ("msrp://h%zz.example.com;tcp", InvalidPercentEncoding, 8),
        ("msrp://;tcp", EmptyHost, 7),
        ("msrp://:80;tcp", EmptyHost, 7),
        ("msrp://alice@;tcp", EmptyHost, 13),
        ("msrp://h^st.example.com;tcp", InvalidHost, 8),
        ("msrp://hé.example.com;tcp", InvalidHost, 8),
        ("msrp://a@b@c.example.com;tcp", InvalidHost, 10),
        ("msrp://1.2.3:1;tcp", InvalidHost, 7),
        ("msrp://01.2.3.4:1;tcp", InvalidHost, 7),
        ("msrp://0x7f.1:1;tcp", InvalidHost, 7),
        ("msrp://256.0.0.1:1;tcp", InvalidHost, 7),
        // RFC 4975 §6: "If the authority field contains a numeric IP address, it MUST also
        // contain a port."
        ("msrp://192.0.2.1;tcp", MissingPort, 16),
        ("msrp://192.0.2.1/abc;tcp", MissingPort, 16),
        ("msrp://[::1];tcp", MissingPort, 12),
        ("msrp://[::1/x;tcp", InvalidIpLiteral, 7),
        ("msrp://[::g]:1;tcp", InvalidIpLiteral, 8),
        ("msrp://[192.0.2.1]:1;tcp", InvalidIpLiteral, 8),
        ("msrp://[v1.x]:1;tcp", InvalidIpLiteral, 8),
        ("msrp://[fe80::1%25eth0]:1;tcp", InvalidIpLiteral, 8),
        ("msrp://[]:1;tcp", InvalidIpLiteral, 8),
        ("msrp://[::1]x:1;tcp", InvalidHost, 12),
        ("msrp://::1:1;tcp", EmptyHost, 7),
        ("msrp://h.example.com:;tcp", InvalidPort, 21),
        ("msrp://h.example.com:65536;tcp", InvalidPort, 21),
        ("msrp://h.example.com:12a;tcp", InvalidPort, 23),
        ("msrp://h.example.com:1:2;tcp", InvalidPort, 22),
        ("msrp://h.example.com:-1;tcp", InvalidPort, 21),
        ("msrp://h.example.com:1/;tcp", EmptySessionId, 23),
        ("msrp://h.example.com:1/ab%20;tcp", InvalidSessionId, 25),
        ("msrp://h.example.com:1/a b;tcp", InvalidSessionId, 24),
        ("msrp://h.example.com:1/abc", MissingTransport, 26),
        ("msrp://h.example.com:1", MissingTransport, 22),
        ("msrp://h.example.com", MissingTransport, 20),
        ("msrp://h.example.com:1/abc;", InvalidTransport, 27),
        ("msrp://h.example.com:1/abc;t-cp", InvalidTransport, 28),
        ("msrp://h.example.com:1/abc;tcp ", InvalidTransport, 30),
        ("msrp://h.example.com:1/abc;tcp\r\n", InvalidTransport, 30),
        ("msrp://h.example.com:1/abc;a=b", InvalidTransport, 28),
        ("msrp://h.example.com:1/abc;tcp;", InvalidParameter, 31),
        ("msrp://h.example.com:1/abc;tcp;a=", InvalidParameter, 33),
        ("msrp://h.example.com:1/abc;tcp;=b", InvalidParameter, 31),
        ("msrp://h.example.com:1/abc;tcp;a=b=c", InvalidParameter, 34),
        ("msrp://h.example.com:1/abc;tcp;a b", InvalidParameter, 32),
        ("msrp://h.example.com:1/abc;tcp;a;;b", InvalidParameter, 33),
        (
            "msrp://h.example.com:1/abc;tcp msrp://h.example.com:1/abc;tcp",
            InvalidTransport,
            30,
        ),
    ];
    for &(text, kind, offset) in table {
        let err = MsrpUri::parse(text).expect_err(text);
        assert_eq!(
            (err.kind(), err.offset()),
            (kind, offset),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn error_display_is_lowercase_with_position() {
    let err = MsrpUri::parse("msrp://user:pw@h.example.com;tcp").unwrap_err();
    assert_eq!(err.to_string(), "userinfo contains a password at byte 11");
    let err = MsrpUri::parse("msrp://192.0.2.1;tcp").unwrap_err();
    assert_eq!(err.to_string(), "ip address without a port at byte 16");
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.source().is_none());
}

#[test]
fn from_string_keeps_the_text() {
    let text = String::from("msrp://h.example.com:1/x;tcp");
    let uri = MsrpUri::try_from(text).unwrap();
    assert_eq!(uri.as_str(), "msrp://h.example.com:1/x;tcp");
    let uri = MsrpUri::try_from("msrp://h.example.com:1/x;ws").unwrap();
    assert_eq!(uri.transport(), Transport::Ws);
    assert_eq!(uri.as_ref(), "msrp://h.example.com:1/x;ws");
}

#[test]
fn recommended_port_is_not_a_default() {
    let uri = MsrpUri::parse("msrp://relay.example.com;tcp").unwrap();
    assert_eq!(uri.port(), None);
    assert_eq!(msrp_uri::RECOMMENDED_PORT, 2855);
}

#[test]
fn builder_writes_what_it_is_given() {
    let uri = MsrpUri::new(
        Scheme::Msrp,
        Host::Name("alice.example.com"),
        Some(7394),
        Some("2s93i9ek2a"),
        Transport::Tcp,
    )
    .unwrap();
    assert_eq!(uri.as_str(), "msrp://alice.example.com:7394/2s93i9ek2a;tcp");

    let uri = MsrpUri::new(Scheme::Msrps, LOOPBACK_V6, Some(2855), None, Transport::Ws).unwrap();
    assert_eq!(uri.as_str(), "msrps://[::1]:2855;ws");
    assert_eq!(uri.host(), LOOPBACK_V6);
    assert_eq!(uri.socket_addr(), Some("[::1]:2855".parse().unwrap()));

    let uri = MsrpUri::builder(Scheme::Msrp, Host::Name("h.example.com"))
        .userinfo("bob")
        .transport(Transport::Other("sctp"))
        .param("a", Some("1"))
        .param("flag", None)
        .build()
        .unwrap();
    assert_eq!(uri.as_str(), "msrp://bob@h.example.com;sctp;a=1;flag");
    assert_eq!(uri.transport(), Transport::Other("SCTP"));
}

#[test]
fn builder_reads_an_ipv4_name_as_an_address() {
    let uri = MsrpUri::new(
        Scheme::Msrp,
        Host::Name("192.0.2.9"),
        Some(1),
        None,
        Transport::Tcp,
    )
    .unwrap();
    assert_eq!(uri.host(), v4(192, 0, 2, 9));
    let err = MsrpUri::new(
        Scheme::Msrp,
        Host::Name("192.0.2.9"),
        None,
        None,
        Transport::Tcp,
    )
    .unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::MissingPort, 16));
}

#[test]
fn builder_checks_every_component() {
    use ErrorKind::*;
    let name = |n| Host::Name(n);
    let cases: Vec<(msrp_uri::MsrpUriBuilder<'_>, ErrorKind, usize)> = vec![
        (
            MsrpUri::builder(Scheme::Msrp, v4(192, 0, 2, 1)),
            MissingPort,
            16,
        ),
        (MsrpUri::builder(Scheme::Msrp, LOOPBACK_V6), MissingPort, 12),
        (MsrpUri::builder(Scheme::Msrp, name("")), EmptyHost, 7),
        (MsrpUri::builder(Scheme::Msrp, name("a:1")), InvalidHost, 8),
        (MsrpUri::builder(Scheme::Msrp, name("a;b")), InvalidHost, 8),
        (MsrpUri::builder(Scheme::Msrp, name("a/b")), InvalidHost, 8),
        (
            MsrpUri::builder(Scheme::Msrp, name("[::1]")),
            InvalidHost,
            7,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("1.2.3")),
            InvalidHost,
            7,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).userinfo("a:b"),
            PasswordInUserinfo,
            8,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).userinfo("a@b"),
            InvalidUserinfo,
            8,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).session_id(""),
            EmptySessionId,
            9,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).session_id("a;tcp"),
            InvalidSessionId,
            10,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).session_id("a%41"),
            InvalidSessionId,
            10,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).transport(Transport::Other("")),
            InvalidTransport,
            9,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).transport(Transport::Other("tcp;x")),
            InvalidTransport,
            12,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).param("", None),
            InvalidParameter,
            13,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).param("a=b", None),
            InvalidParameter,
            14,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).param("a", Some("")),
            InvalidParameter,
            15,
        ),
        (
            MsrpUri::builder(Scheme::Msrp, name("h")).param("a", Some("b;c")),
            InvalidParameter,
            16,
        ),
    ];
    for (builder, kind, offset) in cases {
        let debug = format!("{builder:?}");
        let err = builder.build().expect_err(&debug);
        assert_eq!((err.kind(), err.offset()), (kind, offset), "{debug}: {err}");
    }
}
