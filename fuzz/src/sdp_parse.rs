//! `sdp_parse`: arbitrary bytes parsed as an SDP session description with
//! `msrp_sdp::parse`, which promises to take any bytes without panicking.
//!
//! Asserted for a description that parses: `encode` and `Display` write the same text, made of
//! CRLF-terminated lines without stray CR or LF; that text parses again, and the description it
//! gives encodes to the very same text (encoding normalises the line order once, then is a fixed
//! point); the text with bare LF line ends parses to the same description; `is_fragment` is the
//! absence of `v=`; the per-media lookups answer for every media index. For input that does not
//! parse, the error's line number lies within the input.

use msrp_sdp::SessionDescription;

/// Runs the target on one input.
pub fn check(data: &[u8]) {
    let sd = match msrp_sdp::parse(data) {
        Ok(sd) => sd,
        Err(e) => {
            let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
            assert!(e.line() <= lines, "{e:?} in {lines} lines");
            return;
        }
    };
    let text = sd.to_string();
    let mut encoded = String::new();
    sd.encode(&mut encoded);
    assert_eq!(encoded, text);
    assert!(text.is_empty() || text.ends_with("\r\n"));
    for line in text.split_terminator("\r\n") {
        assert!(!line.contains(['\r', '\n']), "stray line break in {line:?}");
    }
    assert_eq!(sd.is_fragment(), sd.version.is_none());
    check_media_lookups(&sd);

    let again = match msrp_sdp::parse(text.as_bytes()) {
        Ok(again) => again,
        Err(e) => panic!("{e:?}: the encoding of {sd:?} does not parse:\n{text}"),
    };
    assert_eq!(again.to_string(), text, "encoding is not a fixed point");
    let bare_lf = text.replace("\r\n", "\n");
    assert_eq!(
        msrp_sdp::parse(bare_lf.as_bytes()).as_ref(),
        Ok(&again),
        "bare LF"
    );
}

/// Asks every per-media lookup about every media description.
fn check_media_lookups(sd: &SessionDescription) {
    for index in 0..sd.media.len() {
        let _ = sd.media_direction(index);
        let _ = sd.media_fingerprints(index);
        if sd.media_connection(index).is_none() {
            assert!(sd.connection.is_none());
        }
    }
    for (index, msrp) in sd.msrp_media() {
        assert_eq!(sd.media[index].as_msrp(), Some(msrp));
    }
}
