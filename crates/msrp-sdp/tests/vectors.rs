//! Every `.sdp` file of `vectors/` parses, re-encodes to a description that parses back equal,
//! and carries the values that `vectors/INDEX.md` lists for it.

use std::fs;

use msrp_sdp::{
    Attribute, Direction, FileDate, FileRange, FileType, FormatEntry, Media, MsrpMedia, Protocol,
    SessionDescription,
};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors");

fn read(name: &str) -> Vec<u8> {
    fs::read(format!("{VECTORS}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load(name: &str) -> SessionDescription {
    msrp_sdp::parse(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn msrp(sd: &SessionDescription) -> &MsrpMedia {
    let mut media = sd.msrp_media();
    let (_, m) = media.next().expect("an msrp media description");
    assert!(media.next().is_none(), "exactly one msrp media description");
    m
}

fn formats(list: Option<&[FormatEntry]>) -> Option<String> {
    list.map(|l| {
        l.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// The values every vector is checked for.
struct Expected {
    file: &'static str,
    fragment: bool,
    connection: &'static str,
    port: u16,
    protocol: Protocol,
    path: &'static [&'static str],
    accept_types: &'static str,
    accept_wrapped_types: Option<&'static str>,
    max_size: Option<u64>,
    direction: Option<Direction>,
    /// Whether re-encoding gives back the file byte for byte.
    identical: bool,
}

const TCP: Protocol = Protocol::Tcp;
const TLS: Protocol = Protocol::TcpTls;

const fn e(
    file: &'static str,
    fragment: bool,
    connection: &'static str,
    port: u16,
    protocol: Protocol,
    path: &'static [&'static str],
    accept_types: &'static str,
) -> Expected {
    Expected {
        file,
        fragment,
        connection,
        port,
        protocol,
        path,
        accept_types,
        accept_wrapped_types: None,
        max_size: None,
        direction: None,
        identical: true,
    }
}

const fn wrapped(mut x: Expected, w: &'static str) -> Expected {
    x.accept_wrapped_types = Some(w);
    x
}

const fn dir(mut x: Expected, d: Direction) -> Expected {
    x.direction = Some(d);
    x
}

const fn not_identical(mut x: Expected) -> Expected {
    x.identical = false;
    x
}

const fn max_size(mut x: Expected, n: u64) -> Expected {
    x.max_size = Some(n);
    x
}

#[rustfmt::skip]
const EXPECTED: &[Expected] = &[
    e("rfc4975-4-offer.sdp", true, "atlanta.example.com", 7654, TCP, &["msrp://atlanta.example.com:7654/jshA7weztas;tcp"], "text/plain"),
    e("rfc4975-4-answer.sdp", true, "biloxi.example.com", 12763, TCP, &["msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp"], "text/plain"),
    e("rfc4975-8.2-offer.sdp", false, "alice.example.com", 7394, TCP, &["msrp://alice.example.com:7394/2s93i9ek2a;tcp"], "text/plain"),
    e("rfc4975-8.7-offer.sdp", false, "alice.example.com", 7394, TCP, &["msrp://alice.example.com:7394/2s93i93idj;tcp"], "message/cpim text/plain text/html"),
    e("rfc4975-8.7-answer.sdp", false, "bob.example.com", 8493, TCP, &["msrp://bob.example.com:8493/si438dsaodes;tcp"], "message/cpim text/plain"),
    e("rfc4975-11.1-offer.sdp", false, "alicepc.example.com", 7777, TCP, &["msrp://alicepc.example.com:7777/iau39soe2843z;tcp"], "text/plain"),
    e("rfc4975-11.1-answer.sdp", false, "bob.example.com", 8888, TCP, &["msrp://bob.example.com:8888/9di4eae923wzd;tcp"], "text/plain"),
    e("rfc4975-14.4-fingerprint.sdp", true, "atlanta.example.com", 7654, TLS, &["msrps://atlanta.example.com:7654/jshA7weso3ks;tcp"], "text/plain"),
    // RFC 4976 §11 prints "a=accept-types: " with a space, which the encoder drops.
    not_identical(e("rfc4976-11-offer.sdp", true, "a.example.com", 1234, TCP, &["msrp://a.example.com:1234/agic456;tcp"], "message/cpim text/plain text/html")),
    not_identical(e("rfc4976-11-answer.sdp", true, "bob.example.com", 1234, TLS, &["msrps://relay.example.com:9000/hjdhfha;tcp", "msrps://bob.example.com:1234/fuige;tcp"], "message/cpim text/plain")),
    dir(wrapped(e("rfc5547-6-file-transfer.sdp", false, "host.atlanta.example.com", 7654, TCP, &["msrp://atlanta.example.com:7654/jshA7we;tcp"], "message/cpim"), "*"), Direction::SendOnly),
    dir(wrapped(e("rfc5547-9.1-f1-offer.sdp", false, "alicepc.example.com", 7654, TCP, &["msrp://alicepc.example.com:7654/jshA7we;tcp"], "message/cpim"), "*"), Direction::SendOnly),
    dir(wrapped(e("rfc5547-9.1-f2-answer.sdp", false, "bobpc.example.com", 8888, TCP, &["msrp://bobpc.example.com:8888/9di4ea;tcp"], "message/cpim"), "*"), Direction::RecvOnly),
    dir(wrapped(e("rfc5547-9.2-f1-offer.sdp", false, "alicepc.example.com", 7654, TCP, &["msrp://alicepc.example.com:7654/jshA7we;tcp"], "message/cpim"), "*"), Direction::RecvOnly),
    dir(wrapped(e("rfc5547-9.2-f2-answer.sdp", false, "bobpc.example.com", 8888, TCP, &["msrp://bobpc.example.com:8888/9di4ea;tcp"], "message/cpim"), "*"), Direction::SendOnly),
    dir(wrapped(e("rfc5547-9.2-f6-reoffer.sdp", false, "alicepc.example.com", 7654, TCP, &["msrp://alicepc.example.com:7654/iau39;tcp"], "message/cpim"), "*"), Direction::SendOnly),
    dir(wrapped(e("rfc5547-9.2-f7-reanswer.sdp", false, "bobpc.example.com", 8888, TCP, &["msrp://bobpc.example.com:8888/eh10dsk;tcp"], "message/cpim"), "*"), Direction::RecvOnly),
    max_size(wrapped(e("rfc5547-9.3-capability.sdp", false, "bobpc.example.com", 0, TCP, &[], "message/cpim"), "*"), 20000),
    e("rfc7701-9.1-f1-offer.sdp", false, "client.atlanta.example.com", 7654, TCP, &["msrp://client.atlanta.example.com:7654/jshA7weztas;tcp"], "message/cpim text/plain text/html"),
    wrapped(e("rfc7701-9.1-f2-answer.sdp", false, "chat.example.com", 12763, TCP, &["msrp://chat.example.com:12763/kjhd37s2s20w2a;tcp"], "message/cpim"), "text/plain text/html *"),
    e("rfc7977-8.2.1-offer.sdp", true, "a.example.com", 1234, TLS, &["msrps://a.example.com:2855/jui787s2f;tcp", "msrps://df7jal23ls0d.invalid:2855/98cjs;ws"], "message/cpim text/plain text/html"),
    e("rfc7977-8.2.1-answer.sdp", true, "bob.example.com", 1234, TLS, &["msrps://bob.example.com:49154/foo;tcp"], "message/cpim text/plain"),
    e("rfc7977-8.3.1-offer.sdp", true, "a.example.com", 1234, TLS, &["msrps://a.example.com:2855/jui787s2f;tcp", "msrps://df7jal23ls0d.invalid:2855/98cjs;ws"], "message/cpim text/plain text/html"),
    e("rfc7977-8.3.1-answer.sdp", true, "a.example.com", 1234, TLS, &["msrps://a.example.com:2855/iwnslt;tcp", "msrps://jk9awp14vj8x.invalid:2855/76qwe;ws"], "message/cpim text/plain"),
    e("rfc7977-8.4.1-offer.sdp", true, "a.example.com", 1234, TLS, &["msrps://a.example.com:2855/jui787s2f;tcp", "msrps://df7jal23ls0d.invalid:2855/98cjs;ws"], "message/cpim text/plain text/html"),
    e("rfc7977-8.4.1-answer.sdp", true, "bob.example.com", 1234, TLS, &["msrps://relay.example.net:2855/kwvin5f;tcp", "msrps://bob.example.com:49154/foo;tcp"], "message/cpim text/plain"),
];

#[test]
fn every_sdp_vector_is_covered() {
    let mut files: Vec<String> = fs::read_dir(VECTORS)
        .expect("vectors directory")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".sdp"))
        .collect();
    files.sort();
    let mut covered: Vec<String> = EXPECTED.iter().map(|x| x.file.to_owned()).collect();
    covered.sort();
    assert_eq!(files, covered);
}

#[test]
fn every_sdp_vector_parses_with_its_values() {
    for x in EXPECTED {
        let sd = load(x.file);
        let m = msrp(&sd);
        let name = x.file;
        assert_eq!(sd.is_fragment(), x.fragment, "{name}: fragment");
        let connection = sd
            .media_connection(sd.msrp_media().next().unwrap().0)
            .expect("c= line");
        assert_eq!(connection.address, x.connection, "{name}: c=");
        assert_eq!(
            (connection.net_type.as_str(), connection.addr_type.as_str()),
            ("IN", "IP4"),
            "{name}"
        );
        assert_eq!(m.port, x.port, "{name}: port");
        assert_eq!(m.protocol, x.protocol, "{name}: protocol");
        assert_eq!(m.formats, ["*"], "{name}: formats");
        let path: Vec<String> = m
            .path()
            .map(|p| p.iter().map(|u| u.as_str().to_owned()).collect())
            .unwrap_or_default();
        assert_eq!(path, x.path, "{name}: path");
        assert_eq!(
            formats(m.accept_types()).as_deref(),
            Some(x.accept_types),
            "{name}: accept-types"
        );
        assert_eq!(
            formats(m.accept_wrapped_types()).as_deref(),
            x.accept_wrapped_types,
            "{name}: wrapped"
        );
        assert_eq!(m.max_size(), x.max_size, "{name}: max-size");
        assert_eq!(m.direction(), x.direction, "{name}: direction");
        assert!(
            !m.attributes
                .iter()
                .any(|a| matches!(a, Attribute::Other { .. })),
            "{name}: every attribute is typed"
        );
    }
}

#[test]
fn every_sdp_vector_round_trips() {
    for x in EXPECTED {
        let bytes = read(x.file);
        let sd = load(x.file);
        let encoded = sd.to_string();
        assert_eq!(
            msrp_sdp::parse(encoded.as_bytes()).as_ref(),
            Ok(&sd),
            "{}",
            x.file
        );
        assert!(
            encoded.split_terminator("\r\n").all(|l| !l.contains('\n')),
            "{}: crlf",
            x.file
        );
        if x.identical {
            assert_eq!(encoded.as_bytes(), bytes.as_slice(), "{}", x.file);
        }
    }
}

#[test]
fn rfc4976_accept_types_with_a_space() {
    // RFC 4976 §11 prints "a=accept-types: message/cpim ..." with a space after the colon.
    let sd = load("rfc4976-11-offer.sdp");
    assert_eq!(
        msrp(&sd).accept_types().unwrap(),
        [
            FormatEntry::media("message", "cpim"),
            FormatEntry::media("text", "plain"),
            FormatEntry::media("text", "html")
        ]
    );
    assert!(
        sd.to_string()
            .contains("a=accept-types:message/cpim text/plain text/html\r\n")
    );
}

#[test]
fn complete_descriptions_have_session_lines() {
    let sd = load("rfc4975-8.7-offer.sdp");
    let origin = sd.origin.as_ref().unwrap();
    assert_eq!(origin.username, "usera");
    assert_eq!(origin.session_id, "2890844526");
    assert_eq!(origin.session_version, 2890844527);
    assert_eq!(origin.address, "alice.example.com");
    assert_eq!(sd.session_name.as_deref(), Some(" -"));
    assert_eq!(sd.timing.map(|t| (t.start, t.stop)), Some((0, 0)));

    // RFC 5547 prints an empty s= line; RFC 7701 prints no t= line.
    assert_eq!(
        load("rfc5547-6-file-transfer.sdp").session_name.as_deref(),
        Some("")
    );
    let chat = load("rfc7701-9.1-f1-offer.sdp");
    assert!(!chat.is_fragment());
    assert_eq!(chat.timing, None);
}

#[test]
fn rfc4975_fingerprint() {
    let sd = load("rfc4975-14.4-fingerprint.sdp");
    let fingerprints: Vec<_> = msrp(&sd).fingerprints().collect();
    assert_eq!(fingerprints.len(), 1);
    assert_eq!(fingerprints[0].hash_function, "SHA-1");
    assert_eq!(
        fingerprints[0].value,
        [
            0x4A, 0xAD, 0xB9, 0xB1, 0x3F, 0x82, 0x18, 0x3B, 0x54, 0x02, 0x12, 0xDF, 0x3E, 0x5D,
            0x49, 0x6B, 0x19, 0xE5, 0x7C, 0xAB
        ]
    );
    assert!(fingerprints[0].matches("sha-1", &fingerprints[0].value));
    assert_eq!(
        fingerprints[0].to_string(),
        "SHA-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB"
    );
}

const PICTURE_SHA1: [u8; 20] = [
    0x72, 0x24, 0x5F, 0xE8, 0x65, 0x3D, 0xDA, 0xF3, 0x71, 0x36, 0x2F, 0x86, 0xD4, 0x71, 0x91, 0x3E,
    0xE4, 0xA2, 0xCE, 0x2E,
];

#[test]
fn rfc5547_file_attributes() {
    let sd = load("rfc5547-6-file-transfer.sdp");
    let m = msrp(&sd);
    assert_eq!(m.title.as_deref(), Some("This is my latest picture"));
    let selector = m.file_selector().unwrap();
    assert_eq!(selector.name.as_deref(), Some("My cool picture.jpg"));
    assert_eq!(selector.media_type, Some(FileType::new("image", "jpeg")));
    assert_eq!(selector.size, Some(32349));
    assert_eq!(selector.hashes.len(), 1);
    assert_eq!(selector.hashes[0].algorithm, "sha-1");
    assert_eq!(selector.hashes[0].value, PICTURE_SHA1);
    assert_eq!(
        m.file_transfer_id(),
        Some("vBnG916bdberum2fFEABR1FR3ExZMUrd")
    );
    assert_eq!(m.file_disposition(), Some("attachment"));
    assert_eq!(
        m.file_date(),
        Some(&FileDate {
            creation: Some("Mon, 15 May 2006 15:01:31 +0300".into()),
            modification: None,
            read: None
        })
    );
    assert_eq!(m.file_icon(), Some("cid:id2@alicepc.example.com"));
    assert_eq!(
        m.file_range(),
        Some(FileRange {
            start: 1,
            stop: Some(32349)
        })
    );
    let file = m.file_description().unwrap();
    assert_eq!(file.transfer_id, "vBnG916bdberum2fFEABR1FR3ExZMUrd");
}

#[test]
fn rfc5547_pull_offer_selects_by_hash_only() {
    let sd = load("rfc5547-9.2-f1-offer.sdp");
    let selector = msrp(&sd).file_selector().unwrap();
    assert_eq!(selector.name, None);
    assert_eq!(selector.media_type, None);
    assert_eq!(selector.size, None);
    assert_eq!(selector.hashes[0].value, PICTURE_SHA1);
    assert_eq!(
        msrp(&sd).file_transfer_id(),
        Some("aCQYuBRVoUPGVsFZkCK98vzcX2FXDIk2")
    );

    let answer = load("rfc5547-9.2-f2-answer.sdp");
    let selector = msrp(&answer).file_selector().unwrap();
    assert_eq!(selector.media_type, Some(FileType::new("image", "jpeg")));
    assert_eq!(selector.hashes[0].value, PICTURE_SHA1);

    let reoffer = load("rfc5547-9.2-f6-reoffer.sdp");
    let selector = msrp(&reoffer).file_selector().unwrap();
    assert_eq!(selector.name.as_deref(), Some("sunset.jpg"));
    assert_eq!(selector.size, Some(4096));
    assert_eq!(
        msrp(&reoffer).file_icon(),
        Some("cid:id3@alicepc.example.com")
    );
    assert_eq!(
        msrp(&load("rfc5547-9.2-f7-reanswer.sdp")).file_disposition(),
        Some("render")
    );
}

#[test]
fn rfc5547_capability_description() {
    let sd = load("rfc5547-9.3-capability.sdp");
    let m = msrp(&sd);
    assert_eq!(m.port, 0);
    assert!(m.path().is_none());
    assert!(m.file_selector().unwrap().is_empty());
    assert!(m.file_description().is_none());
    assert!(
        sd.to_string()
            .ends_with("a=max-size:20000\r\na=file-selector\r\n")
    );
}

#[test]
fn rfc7701_chatroom() {
    for name in ["rfc7701-9.1-f1-offer.sdp", "rfc7701-9.1-f2-answer.sdp"] {
        let sd = load(name);
        let room = msrp(&sd).chatroom().unwrap();
        assert_eq!(room.tokens, ["nickname", "private-messages"], "{name}");
        assert!(
            room.allows_nicknames() && room.allows_private_messages(),
            "{name}"
        );
    }
}

#[test]
fn rfc7977_websocket_paths() {
    let sd = load("rfc7977-8.2.1-offer.sdp");
    let path = msrp(&sd).path().unwrap();
    assert!(path.uses_relay());
    assert_eq!(path.last().transport(), msrp_uri::Transport::Ws);
    assert_eq!(path.first().transport(), msrp_uri::Transport::Tcp);
}

#[test]
fn media_list_holds_only_msrp() {
    for x in EXPECTED {
        let sd = load(x.file);
        assert_eq!(sd.media.len(), 1, "{}", x.file);
        assert!(matches!(sd.media[0], Media::Msrp(_)), "{}", x.file);
    }
}
