//! Path lists, including every path in the project's test vectors.

use msrp_uri::{ErrorKind, MsrpUri, Path};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors");

#[test]
fn single_and_multiple_uris() {
    let one = Path::parse("msrp://atlanta.example.com:7654/jshA7weztas;tcp").unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one.first().as_str(), one.last().as_str());
    assert_eq!(
        one.to_string(),
        "msrp://atlanta.example.com:7654/jshA7weztas;tcp"
    );

    let value = "msrps://a.example.com:2855/iwnslt;tcp msrps://a.example.com:2855/jui787s2f;tcp \
                 msrps://df7jal23ls0d.invalid/98cjs;ws";
    let three: Path = value.parse().unwrap();
    assert_eq!(three.len(), 3);
    assert_eq!(three.first().session_id(), Some("iwnslt"));
    assert_eq!(three.last().session_id(), Some("98cjs"));
    assert_eq!(
        three.get(1).and_then(MsrpUri::session_id),
        Some("jui787s2f")
    );
    assert!(three.get(3).is_none());
    assert_eq!(three.to_string(), value);
    let ids: Vec<_> = three.iter().rev().filter_map(MsrpUri::session_id).collect();
    assert_eq!(ids, ["98cjs", "jui787s2f", "iwnslt"]);
    assert_eq!(three.iter().len(), 3);
    assert_eq!((&three).into_iter().count(), 3);
    let owned: Vec<MsrpUri> = three.clone().into_iter().collect();
    assert_eq!(owned.len(), 3);
    assert_eq!(three.clone().into_vec().len(), 3);
}

#[test]
fn building_paths() {
    let relay = MsrpUri::parse("msrps://relay.example.com:9000/hjdhfha;tcp").unwrap();
    let bob = MsrpUri::parse("msrps://bob.example.com:1234/fuige;tcp").unwrap();
    let mut path = Path::new(relay.clone());
    path.push(bob.clone());
    assert_eq!(
        path.to_string(),
        "msrps://relay.example.com:9000/hjdhfha;tcp msrps://bob.example.com:1234/fuige;tcp"
    );
    let same = Path::from_vec(vec![relay.clone(), bob]).unwrap();
    assert!(path.matches(&same));
    assert!(!path.matches(&Path::from(relay)));
    assert!(Path::from_vec(Vec::new()).is_none());
}

#[test]
fn path_matching_is_element_wise() {
    let a = Path::parse("msrp://A.example.com:1/x;tcp msrp://b.example.com:2/y;tcp").unwrap();
    let b = Path::parse("msrp://a.example.com:1/x;TCP msrp://B.example.com:2/y;tcp").unwrap();
    let c = Path::parse("msrp://a.example.com:1/x;tcp msrp://b.example.com:2/Y;tcp").unwrap();
    assert!(a.matches(&b));
    assert!(!a.matches(&c));
}

#[test]
fn errors_carry_the_position_in_the_header_value() {
    use ErrorKind::*;
    let first = "msrp://a.example.com:1/x;tcp"; // 28 bytes
    let table: Vec<(String, ErrorKind, usize)> = vec![
        (String::new(), Empty, 0),
        (" ".to_owned(), InvalidSeparator, 0),
        (format!(" {first}"), InvalidSeparator, 0),
        (format!("{first} "), InvalidSeparator, 29),
        (format!("{first}  {first}"), InvalidSeparator, 29),
        (format!("{first}\t{first}"), InvalidTransport, 28),
        (
            format!("{first} msrp://b.example.com:99999/y;tcp"),
            InvalidPort,
            50,
        ),
        (
            format!("{first} {first} msrp://192.0.2.1/z;tcp"),
            MissingPort,
            74,
        ),
        (format!("{first} x"), InvalidScheme, 29),
        (format!("{first}\r\n"), InvalidTransport, 28),
    ];
    for (value, kind, offset) in table {
        let err = Path::parse(&value).expect_err(&value);
        assert_eq!(
            (err.kind(), err.offset()),
            (kind, offset),
            "{value:?}: {err}"
        );
    }
}

/// The path header values (To-Path, From-Path, Use-Path) of every frame in `INDEX.json`.
fn vector_path_headers() -> Vec<(String, String, String)> {
    let index = std::fs::read_to_string(format!("{VECTORS}/INDEX.json")).unwrap();
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    let frames = index["msrp"].as_array().unwrap();
    let mut found = Vec::new();
    for frame in frames {
        let file = frame["file"].as_str().unwrap();
        for header in frame["headers"].as_array().unwrap() {
            let name = header[0].as_str().unwrap();
            let value = header[1].as_str().unwrap();
            if ["To-Path", "From-Path", "Use-Path"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name))
            {
                found.push((file.to_owned(), name.to_owned(), value.to_owned()));
            }
        }
    }
    found
}

#[test]
fn every_path_header_in_the_vectors_parses() {
    let headers = vector_path_headers();
    // 82 frames, each with To-Path and From-Path, plus five Use-Path headers.
    assert!(
        headers.len() >= 82 * 2 + 5,
        "only {} path headers found",
        headers.len()
    );
    for (file, name, value) in &headers {
        let path = Path::parse(value).unwrap_or_else(|e| panic!("{file} {name}: {value:?}: {e}"));
        assert_eq!(&path.to_string(), value, "{file} {name}");
        assert_eq!(path.len(), value.split(' ').count(), "{file} {name}");
        for uri in &path {
            assert!(uri.matches(uri));
            let shown = uri.to_string();
            let again = MsrpUri::parse(&shown).unwrap();
            assert!(again.matches(uri));
        }
    }
}

#[test]
fn the_to_path_and_from_path_lists_of_the_index_agree() {
    let index = std::fs::read_to_string(format!("{VECTORS}/INDEX.json")).unwrap();
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    for frame in index["msrp"].as_array().unwrap() {
        let file = frame["file"].as_str().unwrap();
        for (key, header) in [("to_path", "To-Path"), ("from_path", "From-Path")] {
            let expected: Vec<&str> = frame[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap())
                .collect();
            let value = frame["headers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h[0].as_str() == Some(header))
                .and_then(|h| h[1].as_str())
                .unwrap();
            let path = Path::parse(value).unwrap();
            let got: Vec<&str> = path.iter().map(MsrpUri::as_str).collect();
            assert_eq!(got, expected, "{file} {header}");
        }
    }
}

#[test]
fn every_sdp_path_attribute_in_the_vectors_parses() {
    let mut count = 0;
    for entry in std::fs::read_dir(VECTORS).unwrap() {
        let file = entry.unwrap().path();
        if file.extension().and_then(|e| e.to_str()) != Some("sdp") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.split("\r\n") {
            if let Some(value) = line.strip_prefix("a=path:") {
                let path = Path::parse(value)
                    .unwrap_or_else(|e| panic!("{}: {value:?}: {e}", file.display()));
                assert_eq!(path.to_string(), value);
                // RFC 4975 §8.2: "MSRP URIs included in an SDP offer or answer MUST include
                // explicit port numbers."
                assert!(
                    path.iter().all(|u| u.port().is_some()),
                    "{}",
                    file.display()
                );
                count += 1;
            }
        }
    }
    // 25 of the 26 SDP files carry one path attribute; the RFC 5547 §9.3 capability SDP has
    // none.
    assert_eq!(count, 25);
}

#[test]
fn long_inputs_parse_in_one_pass() {
    // A path of ten thousand URIs and a URI with a one-megabyte session-id: a parser that
    // rescans its input would take far longer than this test's runtime.
    let uri = "msrps://relay.example.net:2855/kwvin5f;tcp";
    let value = vec![uri; 10_000].join(" ");
    let path = Path::parse(&value).unwrap();
    assert_eq!(path.len(), 10_000);
    assert_eq!(path.to_string().len(), value.len());

    let long = format!("msrp://h.example.com:1/{};tcp", "a".repeat(1 << 20));
    assert_eq!(
        MsrpUri::parse(&long).unwrap().session_id().map(str::len),
        Some(1 << 20)
    );

    let many_params = format!("msrp://h.example.com;tcp{}", ";p=v".repeat(100_000));
    assert_eq!(
        MsrpUri::parse(&many_params).unwrap().params().count(),
        100_000
    );

    let bad = format!("{} {}", vec![uri; 10_000].join(" "), "msrp://192.0.2.1;tcp");
    let err = Path::parse(&bad).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (ErrorKind::MissingPort, bad.len() - 4)
    );
}

/// Every RFC example frame decodes, and its path headers parse through [`FramePaths`], with a
/// malformed URI located at its byte in the stream.
#[test]
fn path_headers_of_every_vector_frame() {
    use msrp_uri::FramePaths;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors");
    let mut frames = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "msrp") {
            continue;
        }
        let mut decoder = msrp_wire::Decoder::new();
        decoder.push(&std::fs::read(&path).unwrap());
        let frame = decoder.decode().unwrap().unwrap();
        let to = frame.parsed_to_path().unwrap().expect("To-Path");
        let from = frame.parsed_from_path().unwrap().expect("From-Path");
        assert_eq!(to.to_string(), frame.to_path().unwrap().unwrap().as_str());
        assert_eq!(
            from.to_string(),
            frame.from_path().unwrap().unwrap().as_str()
        );
        frame.parsed_use_path().unwrap();
        frames += 1;
    }
    assert!(frames >= 80);

    let wire = b"MSRP abcd SEND\r\nTo-Path: msrp://b.example.com:9/s;tcp msrp://x;\r\n\
From-Path: msrp://a.example.com:9/t;tcp\r\n-------abcd$\r\n";
    let mut decoder = msrp_wire::Decoder::new();
    decoder.push(wire);
    let frame = decoder.decode().unwrap().unwrap();
    let err = frame.parsed_to_path().unwrap_err();
    let bad = wire.windows(8).position(|w| w == b"msrp://x").unwrap() as u64;
    assert!(
        err.offset() >= bad && err.offset() <= bad + 9,
        "offset {}",
        err.offset()
    );
    // The URI's own error is kept as the source.
    let source = std::error::Error::source(&err).expect("the URI error");
    assert!(source.downcast_ref::<msrp_uri::Error>().is_some());
    assert!(frame.parsed_use_path().unwrap().is_none());
}
