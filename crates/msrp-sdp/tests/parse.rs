//! The session description parser and encoder: tolerance, unknown lines, errors and limits.

use msrp_sdp::{
    Attribute, Direction, Fingerprint, Media, ParseErrorKind, ParserConfig, Protocol, SdpLine,
    SessionDescription, Setup,
};

fn parse(text: &str) -> SessionDescription {
    msrp_sdp::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> (usize, ParseErrorKind) {
    let e = msrp_sdp::parse(text.as_bytes()).expect_err(text);
    (e.line(), e.kind())
}

#[test]
fn unknown_lines_and_attributes_are_kept_in_order() {
    let text = "v=0\r\n\
        o=- 1 2 IN IP6 2001:db8::1\r\n\
        s=Chat\r\n\
        i=A session\r\n\
        u=http://example.com/\r\n\
        e=alice@example.com\r\n\
        c=IN IP6 2001:db8::1\r\n\
        b=AS:64\r\n\
        t=0 0\r\n\
        r=604800 3600 0 90000\r\n\
        t=10 20\r\n\
        z=2882844526 -1h\r\n\
        a=tool:example\r\n\
        a=sendrecv\r\n\
        x=unknown\r\n\
        m=audio 49170 RTP/AVP 0\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        m=message 2855 TCP/MSRP *\r\n\
        i=Messages\r\n\
        c=IN IP6 2001:db8::2\r\n\
        b=AS:10\r\n\
        a=x-first\r\n\
        a=accept-types:text/plain\r\n\
        a=x-middle:some value\r\n\
        a=path:msrp://[2001:db8::2]:2855/abc;tcp\r\n\
        a=x-last:\r\n";
    let sd = parse(text);
    assert_eq!(sd.to_string(), text);
    assert_eq!(sd.origin.as_ref().unwrap().addr_type, "IP6");
    assert_eq!(sd.other_lines.len(), 8);
    assert_eq!(sd.other_lines[0], SdpLine::new('i', "A session"));
    assert_eq!(sd.attributes[1], Attribute::Direction(Direction::SendRecv));
    let Media::Other(audio) = &sd.media[0] else {
        panic!("audio")
    };
    assert_eq!(
        (audio.media.as_str(), audio.port, audio.protocol.as_str()),
        ("audio", 49170, "RTP/AVP")
    );
    assert_eq!(audio.lines, [SdpLine::new('a', "rtpmap:0 PCMU/8000")]);
    let (index, m) = sd.msrp_media().next().unwrap();
    assert_eq!(index, 1);
    assert_eq!(m.title.as_deref(), Some("Messages"));
    assert_eq!(m.connection.as_ref().unwrap().address, "2001:db8::2");
    assert_eq!(sd.media_connection(1).unwrap().address, "2001:db8::2");
    assert_eq!(sd.media_connection(0).unwrap().address, "2001:db8::1");
    assert_eq!(m.other_lines, [SdpLine::new('b', "AS:10")]);
    assert_eq!(
        m.attributes[0],
        Attribute::Other {
            name: "x-first".into(),
            value: None
        }
    );
    assert_eq!(
        m.attributes[2],
        Attribute::Other {
            name: "x-middle".into(),
            value: Some("some value".into())
        }
    );
    assert_eq!(
        m.attributes[4],
        Attribute::Other {
            name: "x-last".into(),
            value: Some(String::new())
        }
    );
    assert_eq!(m.path().unwrap().first().port(), Some(2855));
}

#[test]
fn line_feeds_blank_lines_and_case() {
    let sd =
        parse("\nc=IN IP4 a.example.com\n\nm=message 1 tcp/tls/msrp *\na=setup:ACTPASS\r\n\r\n");
    assert!(sd.is_fragment());
    let m = sd.msrp_media().next().unwrap().1;
    assert_eq!(m.protocol, Protocol::TcpTls);
    assert_eq!(m.setup(), Some(Setup::Actpass));
    assert_eq!(
        sd.to_string(),
        "c=IN IP4 a.example.com\r\nm=message 1 TCP/TLS/MSRP *\r\na=setup:actpass\r\n"
    );
    assert_eq!(parse(""), SessionDescription::default());
}

#[test]
fn fragments_start_at_m() {
    let sd =
        parse("m=message 7654 TCP/MSRP *\r\nc=IN IP4 atlanta.example.com\r\na=accept-types:*\r\n");
    assert!(sd.connection.is_none());
    assert_eq!(
        sd.media_connection(0).unwrap().address,
        "atlanta.example.com"
    );
}

#[test]
fn message_media_with_other_protocols_is_kept_untyped() {
    let sd = parse("m=message 5060 TCP/CPIM *\r\na=path:whatever\r\n");
    assert!(sd.msrp_media().next().is_none());
    let Media::Other(m) = &sd.media[0] else {
        panic!("other")
    };
    assert_eq!(m.lines, [SdpLine::new('a', "path:whatever")]);
}

#[test]
fn fingerprints_are_written_uppercase() {
    let sd = parse("m=message 1 TCP/TLS/MSRP *\r\na=fingerprint:sha-256 ab:cd:EF\r\n");
    let m = sd.msrp_media().next().unwrap().1;
    assert_eq!(
        m.fingerprints().next(),
        Some(&Fingerprint::new("sha-256", vec![0xab, 0xcd, 0xef]))
    );
    assert!(
        sd.to_string()
            .contains("a=fingerprint:sha-256 AB:CD:EF\r\n")
    );
}

#[test]
fn errors_carry_the_line() {
    let cases: &[(&str, (usize, ParseErrorKind))] = &[
        ("v=1\r\n", (1, ParseErrorKind::InvalidVersion)),
        ("c=IN IP4 a\r\nv=0\r\n", (2, ParseErrorKind::InvalidVersion)),
        ("v=0\r\no=alice\r\n", (2, ParseErrorKind::InvalidOrigin)),
        (
            "v=0\r\no=alice x 1 IN IP4 a\r\n",
            (2, ParseErrorKind::InvalidOrigin),
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 a\r\no=- 1 1 IN IP4 a\r\n",
            (3, ParseErrorKind::DuplicateLine),
        ),
        ("s=a\r\ns=b\r\n", (2, ParseErrorKind::DuplicateLine)),
        (
            "c=IN IP4 a\r\nc=IN IP4 b\r\n",
            (2, ParseErrorKind::DuplicateLine),
        ),
        ("c=IN IP4\r\n", (1, ParseErrorKind::InvalidConnection)),
        ("t=0\r\n", (1, ParseErrorKind::InvalidTiming)),
        ("t=now later\r\n", (1, ParseErrorKind::InvalidTiming)),
        ("garbage\r\n", (1, ParseErrorKind::InvalidLine)),
        ("=x\r\n", (1, ParseErrorKind::InvalidLine)),
        ("1=x\r\n", (1, ParseErrorKind::InvalidLine)),
        ("s=a\rb\r\n", (1, ParseErrorKind::InvalidLine)),
        ("m=message\r\n", (1, ParseErrorKind::InvalidMediaLine)),
        (
            "m=message x TCP/MSRP *\r\n",
            (1, ParseErrorKind::InvalidMediaLine),
        ),
        (
            "m=message 70000 TCP/MSRP *\r\n",
            (1, ParseErrorKind::InvalidMediaLine),
        ),
        (
            "m=message 1/2 TCP/MSRP *\r\n",
            (1, ParseErrorKind::InvalidMediaLine),
        ),
        (
            "m=message 1 TCP/MSRP *\r\ni=a\r\ni=b\r\n",
            (3, ParseErrorKind::DuplicateLine),
        ),
        (
            "m=message 1 TCP/MSRP *\r\nc=IN\r\n",
            (2, ParseErrorKind::InvalidConnection),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(error(text), *expected, "{text:?}");
    }
    let e = msrp_sdp::parse(b"m=message 1 TCP/MSRP *\r\n\r\na=max-size:ten\r\n").unwrap_err();
    assert_eq!(e.to_string(), "line 3: invalid a=max-size attribute");
    assert_eq!(
        msrp_sdp::parse(b"s=\xff\r\n").unwrap_err().to_string(),
        "not utf-8"
    );
}

#[test]
fn typed_attributes_reject_bad_values() {
    let cases: &[(&str, &str)] = &[
        ("path", "path:"),
        ("path", "path:http://example.com/"),
        ("path", "path:msrp://1.2.3.4/s;tcp"),
        ("accept-types", "accept-types:"),
        ("accept-types", "accept-types:text"),
        ("accept-types", "accept-types:text/plain;charset"),
        ("accept-wrapped-types", "accept-wrapped-types:a/b/c"),
        ("max-size", "max-size:-1"),
        ("max-size", "max-size:99999999999999999999999"),
        ("setup", "setup:sometimes"),
        ("connection", "connection:old"),
        ("fingerprint", "fingerprint:SHA-1"),
        ("fingerprint", "fingerprint:SHA-1 4A:A"),
        ("fingerprint", "fingerprint:SHA-1 4A AD"),
        ("msrp-cema", "msrp-cema:yes"),
        ("sendonly", "sendonly:yes"),
        ("inactive", "inactive:1"),
        ("chatroom", "chatroom:nick(name)"),
        ("file-selector", "file-selector:name:unquoted"),
        ("file-selector", "file-selector:size:big"),
        ("file-selector", "file-selector:hash:sha-1"),
        ("file-selector", "file-selector:hash:sha-1:7"),
        ("file-selector", "file-selector:type:image"),
        ("file-selector", "file-selector:type:image/png;x=unquoted"),
        ("file-selector", "file-selector:size:1 size:2"),
        ("file-selector", "file-selector:name:\"open"),
        ("file-transfer-id", "file-transfer-id:"),
        ("file-transfer-id", "file-transfer-id:a b"),
        ("file-disposition", "file-disposition"),
        ("file-date", "file-date:creation:unquoted"),
        ("file-date", "file-date:birth:\"x\""),
        ("file-date", "file-date:read:\"\""),
        ("file-icon", "file-icon:http://example.com/icon.png"),
        ("file-icon", "file-icon:cid:"),
        ("file-range", "file-range:0-10"),
        ("file-range", "file-range:10-1"),
        ("file-range", "file-range:1"),
        ("file-range", "file-range:*-10"),
    ];
    for (name, attribute) in cases {
        let text = format!("m=message 1 TCP/MSRP *\r\na={attribute}\r\n");
        assert_eq!(
            error(&text),
            (2, ParseErrorKind::InvalidAttribute(name)),
            "{attribute}"
        );
    }
}

#[test]
fn typed_attributes_tolerate_blanks() {
    let sd = parse(
        "m=message 1 TCP/MSRP *\r\n\
         a=path: msrp://a.example.com:1/s;tcp \t msrp://b.example.com:2/t;tcp \r\n\
         a=accept-types:  text/plain   message/cpim \r\n\
         a=max-size: 10 \r\n\
         a=msrp-cema:\r\n\
         a=chatroom\r\n\
         a=file-selector:\r\n",
    );
    let m = sd.msrp_media().next().unwrap().1;
    assert_eq!(m.path().unwrap().len(), 2);
    assert_eq!(m.accept_types().unwrap().len(), 2);
    assert_eq!(m.max_size(), Some(10));
    assert!(m.has_msrp_cema());
    assert!(m.chatroom().unwrap().tokens.is_empty());
    assert!(m.file_selector().unwrap().is_empty());
    let again = msrp_sdp::parse(sd.to_string().as_bytes()).unwrap();
    assert_eq!(again, sd);
    assert!(
        sd.to_string()
            .contains("a=path:msrp://a.example.com:1/s;tcp msrp://b.example.com:2/t;tcp\r\n")
    );
}

#[test]
fn limits() {
    let config = ParserConfig {
        max_len: 12,
        max_lines: 2,
    };
    assert_eq!(
        config.parse(b"s=0123456789a").unwrap_err().kind(),
        ParseErrorKind::TooLong
    );
    assert!(config.parse(b"s=0123456789").is_ok());
    assert_eq!(
        config.parse(b"s=a\na=b\na=c").unwrap_err().kind(),
        ParseErrorKind::TooManyLines
    );
    assert!(config.parse(b"s=a\n\n\na=b").is_ok());
    assert_eq!(ParserConfig::default().max_len, 64 * 1024);
    let long = "a=x\r\n".repeat(2000);
    assert_eq!(
        msrp_sdp::parse(long.as_bytes()).unwrap_err().kind(),
        ParseErrorKind::TooManyLines
    );
}

#[test]
fn encode_appends() {
    let sd = parse("c=IN IP4 a\r\n");
    let mut out = String::from("previous\r\n");
    sd.encode(&mut out);
    assert_eq!(out, "previous\r\nc=IN IP4 a\r\n");
}
