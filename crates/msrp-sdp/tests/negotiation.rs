//! Offer/answer: the RFC 4975 §8 examples, RFC 6135 roles, RFC 5547 push and pull, RFC 6714 CEMA,
//! and the errors for offers and answers that cannot be accepted.

use std::fs;

use msrp_sdp::{
    Attribute, Capabilities, ConnectTarget, Direction, FileDescription, FileRange, FileSelector,
    FileType, Fingerprint, FormatEntry, Media, MsrpMedia, NegotiationError, Origin, Path, Protocol,
    Role, SessionDescription, Setup, SetupPreference,
};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors");

fn vector_text(name: &str) -> String {
    fs::read_to_string(format!("{VECTORS}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn vector(name: &str) -> SessionDescription {
    msrp_sdp::parse(vector_text(name).as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse(text: &str) -> SessionDescription {
    msrp_sdp::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn origin(username: &str, id: &str, version: u64, host: &str) -> Origin {
    Origin {
        username: username.into(),
        session_id: id.into(),
        session_version: version,
        net_type: "IN".into(),
        addr_type: "IP4".into(),
        address: host.into(),
    }
}

fn path(text: &str) -> Path {
    Path::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn caps(path_text: &str, accept: &str) -> Capabilities {
    let mut caps = Capabilities::new(path(path_text)).unwrap();
    caps.accept_types = FormatEntry::parse_list(accept).unwrap();
    caps
}

fn media(sd: &SessionDescription) -> &MsrpMedia {
    sd.msrp_media().next().expect("msrp media").1
}

fn target(host: &str, port: u16, from_media_line: bool) -> Option<ConnectTarget> {
    Some(ConnectTarget {
        host: host.into(),
        port,
        from_media_line,
    })
}

fn with_setup(mut caps: Capabilities, setup: SetupPreference) -> Capabilities {
    caps.setup = setup;
    caps
}

// ---------------------------------------------------------------------------------------------
// RFC 4975 §8.7 and §11.1: the examples, reproduced byte for byte.
// ---------------------------------------------------------------------------------------------

fn rfc4975_alice() -> Capabilities {
    with_setup(
        caps(
            "msrp://alice.example.com:7394/2s93i93idj;tcp",
            "message/cpim text/plain text/html",
        ),
        SetupPreference::Rfc4975,
    )
}

fn rfc4975_bob() -> Capabilities {
    with_setup(
        caps(
            "msrp://bob.example.com:8493/si438dsaodes;tcp",
            "message/cpim text/plain",
        ),
        SetupPreference::Rfc4975,
    )
}

#[test]
fn rfc4975_8_7_offer_is_reproduced() {
    let mut offer = rfc4975_alice().create_offer(origin(
        "usera",
        "2890844526",
        2890844527,
        "alice.example.com",
    ));
    offer.session_name = Some(" -".into());
    assert_eq!(offer.to_string(), vector_text("rfc4975-8.7-offer.sdp"));
}

#[test]
fn rfc4975_8_7_answer_is_reproduced() {
    let offer = vector("rfc4975-8.7-offer.sdp");
    let (mut answer, bob) = rfc4975_bob()
        .create_answer(
            &offer,
            origin("userb", "2890844530", 2890844532, "bob.example.com"),
        )
        .unwrap();
    answer.session_name = Some(" -".into());
    assert_eq!(answer.to_string(), vector_text("rfc4975-8.7-answer.sdp"));

    // RFC 4975 §8.5: "The party that sent the original offer is responsible for connecting to its
    // peer."
    assert_eq!(bob.role, Role::Passive);
    assert_eq!(bob.connect_to, None);
    assert_eq!(
        bob.to_path().to_string(),
        "msrp://alice.example.com:7394/2s93i93idj;tcp"
    );
    assert_eq!(
        bob.from_path().to_string(),
        "msrp://bob.example.com:8493/si438dsaodes;tcp"
    );
    assert!(bob.peer_accepts("text/html"));
    assert!(!bob.is_tls());
    assert!(!bob.cema);
    assert_eq!(bob.direction, Direction::SendRecv);
    assert!(bob.peer_prefers_cpim());
}

#[test]
fn rfc4975_8_7_offerer_processes_the_answer() {
    let alice = rfc4975_alice()
        .handle_answer(&vector("rfc4975-8.7-answer.sdp"))
        .unwrap();
    assert_eq!(alice.role, Role::Active);
    assert!(alice.is_active());
    assert_eq!(alice.connect_to, target("bob.example.com", 8493, false));
    assert_eq!(alice.to_path().last().session_id(), Some("si438dsaodes"));
    assert_eq!(alice.protocol, Protocol::Tcp);
    assert!(alice.peer_accepts("message/cpim"));
    assert!(alice.peer_accepts("text/plain; charset=UTF-8"));
    assert!(alice.peer_accepts("TEXT/PLAIN"));
    // RFC 4975 §8.6: B "has rejected the text/html content offered by Alice", as RFC 4976 puts it
    // for the same pair of lists.
    assert!(!alice.peer_accepts("text/html"));
    assert!(!alice.peer_accepts_wrapped("message/cpim", "text/html"));
    assert!(alice.peer_accepts_wrapped("message/cpim", "text/plain"));
    assert!(!alice.peer_accepts("garbage"));
    assert!(alice.accepts("text/html"));
    assert_eq!(alice.peer_max_size, None);
    assert!(
        alice.is_local_uri(
            &"MSRP://Alice.Example.com:7394/2s93i93idj;TCP"
                .parse()
                .unwrap()
        )
    );
    assert!(
        alice.is_peer_uri(
            &"msrp://bob.example.com:8493/si438dsaodes;tcp"
                .parse()
                .unwrap()
        )
    );
    assert!(!alice.is_peer_uri(&"msrp://bob.example.com:8493/other;tcp".parse().unwrap()));
}

#[test]
fn rfc4975_other_examples_negotiate() {
    for (offer, answer, offerer_path, answerer_path) in [
        (
            "rfc4975-11.1-offer.sdp",
            "rfc4975-11.1-answer.sdp",
            "msrp://alicepc.example.com:7777/iau39soe2843z;tcp",
            "msrp://bob.example.com:8888/9di4eae923wzd;tcp",
        ),
        (
            "rfc4975-4-offer.sdp",
            "rfc4975-4-answer.sdp",
            "msrp://atlanta.example.com:7654/jshA7weztas;tcp",
            "msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp",
        ),
    ] {
        let bob = with_setup(caps(answerer_path, "text/plain"), SetupPreference::Rfc4975);
        let (generated, negotiated) = bob.answer_media(&vector(offer), 0).unwrap();
        let printed = vector(answer);
        assert_eq!(
            &generated.attributes,
            &media(&printed).attributes,
            "{answer}"
        );
        assert_eq!(generated.port, media(&printed).port, "{answer}");
        assert_eq!(negotiated.role, Role::Passive);

        let alice = with_setup(caps(offerer_path, "text/plain"), SetupPreference::Rfc4975);
        let negotiated = alice.handle_answer(&printed).unwrap();
        assert_eq!(negotiated.role, Role::Active);
        assert_eq!(negotiated.to_path().to_string(), answerer_path);
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 6135: a=setup roles.
// ---------------------------------------------------------------------------------------------

const PREFERENCES: [SetupPreference; 3] = [
    SetupPreference::Rfc4975,
    SetupPreference::ActPass,
    SetupPreference::Active,
];

#[test]
fn rfc6135_every_pair_of_preferences() {
    // (offerer, answerer) => (offer a=setup, answer a=setup, offerer's role)
    let expected = |o: SetupPreference,
                    a: SetupPreference|
     -> Result<(Option<Setup>, Option<Setup>, Role), NegotiationError> {
        use SetupPreference::*;
        Ok(match (o, a) {
            (Rfc4975, Rfc4975) => (None, None, Role::Active),
            (Rfc4975, _) => (None, Some(Setup::Passive), Role::Active),
            (ActPass, Rfc4975) => (Some(Setup::Actpass), None, Role::Active),
            (ActPass, ActPass) => (Some(Setup::Actpass), Some(Setup::Passive), Role::Active),
            (ActPass, Active) => (Some(Setup::Actpass), Some(Setup::Active), Role::Passive),
            (Active, Rfc4975) => (Some(Setup::Active), None, Role::Active),
            (Active, _) => (Some(Setup::Active), Some(Setup::Passive), Role::Active),
        })
    };
    for o in PREFERENCES {
        for a in PREFERENCES {
            let offerer = with_setup(
                caps("msrp://alice.example.com:7394/s1;tcp", "text/plain"),
                o,
            );
            let answerer = with_setup(caps("msrp://bob.example.com:8493/s2;tcp", "text/plain"), a);
            let offer = offerer.create_offer(origin("a", "1", 1, "alice.example.com"));
            let (answer, theirs) = answerer
                .create_answer(&offer, origin("b", "2", 1, "bob.example.com"))
                .unwrap();
            let ours = offerer.handle_answer(&answer).unwrap();
            let (offer_setup, answer_setup, role) = expected(o, a).unwrap();
            assert_eq!(media(&offer).setup(), offer_setup, "{o:?}/{a:?}");
            assert_eq!(media(&answer).setup(), answer_setup, "{o:?}/{a:?}");
            assert_eq!(ours.role, role, "{o:?}/{a:?}");
            // Exactly one side connects, and it connects to the other's path.
            assert_ne!(ours.role, theirs.role, "{o:?}/{a:?}");
            let (active, passive_path) = if ours.is_active() {
                (&ours, "bob")
            } else {
                (&theirs, "alice")
            };
            assert_eq!(
                active.connect_to.as_ref().unwrap().host,
                format!("{passive_path}.example.com")
            );
            assert_eq!(
                if ours.is_active() { &theirs } else { &ours }.connect_to,
                None
            );
        }
    }
}

fn offer_with_setup(setup: Option<&str>) -> SessionDescription {
    let line = setup
        .map(|s| format!("a=setup:{s}\r\n"))
        .unwrap_or_default();
    parse(&format!(
        "c=IN IP4 alice.example.com\r\nm=message 7394 TCP/MSRP *\r\na=accept-types:text/plain\r\n\
         a=path:msrp://alice.example.com:7394/s1;tcp\r\n{line}"
    ))
}

/// The answer's `a=setup` and the answerer's role, or the error.
type Outcome = Result<(Option<Setup>, Role), NegotiationError>;

const PASSIVE: Outcome = Ok((Some(Setup::Passive), Role::Passive));
const ACTIVE: Outcome = Ok((Some(Setup::Active), Role::Active));
const SILENT_PASSIVE: Outcome = Ok((None, Role::Passive));

#[test]
fn rfc6135_answerer_against_every_offered_value() {
    use SetupPreference::{ActPass, Rfc4975};
    const ACT: SetupPreference = SetupPreference::Active;
    // (offered a=setup, answerer preference) => answer a=setup and the answerer's role.
    let cases: &[(Option<&str>, SetupPreference, Outcome)] = &[
        (None, Rfc4975, SILENT_PASSIVE),
        (None, ActPass, PASSIVE),
        (None, ACT, PASSIVE),
        (Some("actpass"), Rfc4975, SILENT_PASSIVE),
        (Some("actpass"), ActPass, PASSIVE),
        (Some("actpass"), ACT, ACTIVE),
        (Some("active"), Rfc4975, SILENT_PASSIVE),
        (Some("active"), ActPass, PASSIVE),
        (Some("active"), ACT, PASSIVE),
        // RFC 6135 forbids "passive" in offers, but RFC 4145 defines the answer to it.
        (
            Some("passive"),
            Rfc4975,
            Err(NegotiationError::SetupConflict),
        ),
        (Some("passive"), ActPass, ACTIVE),
        (Some("passive"), ACT, ACTIVE),
        // RFC 6135 §4.2.1: "holdconn" is ignored, as if there were no a=setup.
        (Some("holdconn"), Rfc4975, SILENT_PASSIVE),
        (Some("holdconn"), ActPass, PASSIVE),
        (Some("holdconn"), ACT, PASSIVE),
    ];
    for (offered, preference, expected) in cases {
        let bob = with_setup(
            caps("msrp://bob.example.com:8493/s2;tcp", "text/plain"),
            *preference,
        );
        let got = bob
            .answer_media(&offer_with_setup(*offered), 0)
            .map(|(m, n)| (m.setup(), n.role));
        assert_eq!(&got, expected, "{offered:?}/{preference:?}");
        if let Ok((_, Role::Active)) = got {
            let (_, n) = bob.answer_media(&offer_with_setup(*offered), 0).unwrap();
            assert_eq!(n.connect_to, target("alice.example.com", 7394, false));
        }
    }
}

fn answer_with_setup(setup: &str) -> SessionDescription {
    parse(&format!(
        "c=IN IP4 bob.example.com\r\nm=message 8493 TCP/MSRP *\r\na=accept-types:text/plain\r\n\
         a=path:msrp://bob.example.com:8493/s2;tcp\r\na=setup:{setup}\r\n"
    ))
}

#[test]
fn rfc6135_offerer_against_every_answered_value() {
    use SetupPreference::*;
    let cases: &[(SetupPreference, &str, Result<Role, NegotiationError>)] = &[
        (ActPass, "active", Ok(Role::Passive)),
        (ActPass, "passive", Ok(Role::Active)),
        (ActPass, "holdconn", Ok(Role::Active)),
        (ActPass, "actpass", Err(NegotiationError::InvalidSetup)),
        (Active, "passive", Ok(Role::Active)),
        (Active, "active", Err(NegotiationError::SetupConflict)),
        (Active, "holdconn", Ok(Role::Active)),
        (Rfc4975, "passive", Ok(Role::Active)),
        (Rfc4975, "active", Err(NegotiationError::SetupConflict)),
        (Rfc4975, "actpass", Err(NegotiationError::InvalidSetup)),
    ];
    for (preference, answered, expected) in cases {
        let alice = with_setup(
            caps("msrp://alice.example.com:7394/s1;tcp", "text/plain"),
            *preference,
        );
        let got = alice
            .handle_answer(&answer_with_setup(answered))
            .map(|n| n.role);
        assert_eq!(&got, expected, "{preference:?}/{answered}");
    }
}

#[test]
fn rfc6135_a_connection_is_ignored() {
    let offer = parse(&(vector_text("rfc4975-8.7-offer.sdp") + "a=connection:existing\r\n"));
    assert!(
        media(&offer)
            .attributes
            .contains(&Attribute::Connection(msrp_sdp::TcpConnection::Existing))
    );
    assert_eq!(
        rfc4975_bob()
            .create_answer(&offer, origin("b", "1", 1, "b"))
            .unwrap()
            .1
            .role,
        Role::Passive
    );
}

// ---------------------------------------------------------------------------------------------
// RFC 5547: push and pull.
// ---------------------------------------------------------------------------------------------

const PICTURE_SHA1: [u8; 20] = [
    0x72, 0x24, 0x5F, 0xE8, 0x65, 0x3D, 0xDA, 0xF3, 0x71, 0x36, 0x2F, 0x86, 0xD4, 0x71, 0x91, 0x3E,
    0xE4, 0xA2, 0xCE, 0x2E,
];

fn picture_hash() -> msrp_sdp::FileHash {
    msrp_sdp::FileHash {
        algorithm: "sha-1".into(),
        value: PICTURE_SHA1.to_vec(),
    }
}

fn file_caps(path_text: &str, direction: Direction, file: Option<FileDescription>) -> Capabilities {
    let mut caps = with_setup(caps(path_text, "message/cpim"), SetupPreference::Rfc4975);
    caps.accept_wrapped_types = vec![FormatEntry::Any];
    caps.direction = direction;
    caps.file = file;
    caps
}

fn pushed_picture() -> FileDescription {
    let selector = FileSelector {
        name: Some("My cool picture.jpg".into()),
        media_type: Some(FileType::new("image", "jpeg")),
        size: Some(4092),
        hashes: vec![picture_hash()],
    };
    let mut file = FileDescription::new(selector, "Q6LMoGymJdh0IKIgD6wD0jkcfgva4xvE");
    file.disposition = Some("render".into());
    file.date = Some(msrp_sdp::FileDate {
        creation: Some("Mon, 15 May 2006 15:01:31 +0300".into()),
        ..Default::default()
    });
    file.icon = Some("cid:id2@alicepc.example.com".into());
    file
}

#[test]
fn rfc5547_push_offer_is_reproduced() {
    let mut alice = Capabilities::push_file(
        path("msrp://alicepc.example.com:7654/jshA7we;tcp"),
        pushed_picture(),
    )
    .unwrap();
    alice.setup = SetupPreference::Rfc4975;
    alice.accept_types = vec![FormatEntry::media("message", "cpim")];
    alice.accept_wrapped_types = vec![FormatEntry::Any];
    alice.title = Some("This is my latest picture".into());
    let mut offer = alice.create_offer(origin(
        "alice",
        "2890844526",
        2890844526,
        "alicepc.example.com",
    ));
    offer.session_name = Some(String::new());
    assert_eq!(offer.to_string(), vector_text("rfc5547-9.1-f1-offer.sdp"));
}

#[test]
fn rfc5547_push_answer_is_reproduced() {
    // The answerer is the file receiver: RFC 5547 §8.3.1.
    let bob = file_caps(
        "msrp://bobpc.example.com:8888/9di4ea;tcp",
        Direction::SendRecv,
        None,
    );
    let offer = vector("rfc5547-9.1-f1-offer.sdp");
    let (mut answer, negotiated) = bob
        .create_answer(
            &offer,
            origin("bob", "2890844656", 2890844656, "bobpc.example.com"),
        )
        .unwrap();
    answer.session_name = Some(String::new());
    assert_eq!(answer.to_string(), vector_text("rfc5547-9.1-f2-answer.sdp"));

    assert_eq!(negotiated.direction, Direction::RecvOnly);
    assert!(!negotiated.may_send() && negotiated.may_receive());
    let file = negotiated.file.unwrap();
    assert!(!file.is_sender);
    assert_eq!(file.description, media(&offer).file_description().unwrap());
    assert_eq!(file.description.selector.size, Some(4092));
    assert_eq!(
        file.description.icon.as_deref(),
        Some("cid:id2@alicepc.example.com")
    );
    // RFC 5547 §8.3.1: the receiver "MUST NOT include 'file-icon', 'file-disposition', or
    // 'file-date' attributes in the SDP answer."
    assert!(media(&answer).file_icon().is_none() && media(&answer).file_disposition().is_none());
}

#[test]
fn rfc5547_push_offerer_processes_the_answer() {
    let alice = file_caps(
        "msrp://alicepc.example.com:7654/jshA7we;tcp",
        Direction::SendOnly,
        Some(pushed_picture()),
    );
    let negotiated = alice
        .handle_answer(&vector("rfc5547-9.1-f2-answer.sdp"))
        .unwrap();
    assert_eq!(negotiated.direction, Direction::SendOnly);
    assert_eq!(negotiated.role, Role::Active);
    assert!(negotiated.peer_accepts("message/cpim"));
    assert!(!negotiated.peer_accepts("image/jpeg"));
    // RFC 5547 §8.7: the file travels wrapped when the receiver accepts it only so.
    assert!(negotiated.peer_accepts_wrapped("message/cpim", "image/jpeg"));
    let file = negotiated.file.unwrap();
    assert!(file.is_sender);
    assert_eq!(file.description, pushed_picture());
}

fn pulled_picture() -> FileDescription {
    let selector = FileSelector {
        hashes: vec![picture_hash()],
        ..Default::default()
    };
    FileDescription::new(selector, "aCQYuBRVoUPGVsFZkCK98vzcX2FXDIk2")
}

#[test]
fn rfc5547_pull_offer_and_answer_are_reproduced() {
    let alice = file_caps(
        "msrp://alicepc.example.com:7654/jshA7we;tcp",
        Direction::RecvOnly,
        Some(pulled_picture()),
    );
    let mut offer = alice.create_offer(origin(
        "alice",
        "2890844526",
        2890844526,
        "alicepc.example.com",
    ));
    offer.session_name = Some(String::new());
    assert_eq!(offer.to_string(), vector_text("rfc5547-9.2-f1-offer.sdp"));

    // Bob's application found the file the hash selects; he answers with its type and hash
    // (RFC 5547 §8.3.2: the sender "SHOULD add a 'hash' selector" and "MAY also include a 'type'
    // selector").
    let selector = FileSelector {
        media_type: Some(FileType::new("image", "jpeg")),
        hashes: vec![picture_hash()],
        ..Default::default()
    };
    let bob = file_caps(
        "msrp://bobpc.example.com:8888/9di4ea;tcp",
        Direction::SendRecv,
        Some(FileDescription::new(
            selector.clone(),
            "this id is replaced by the offer's",
        )),
    );
    let (mut answer, bobs) = bob
        .create_answer(
            &offer,
            origin("bob", "2890844656", 2890855439, "bobpc.example.com"),
        )
        .unwrap();
    answer.session_name = Some(String::new());
    assert_eq!(answer.to_string(), vector_text("rfc5547-9.2-f2-answer.sdp"));
    assert_eq!(bobs.direction, Direction::SendOnly);
    let file = bobs.file.unwrap();
    assert!(file.is_sender);
    assert_eq!(
        file.description.transfer_id,
        "aCQYuBRVoUPGVsFZkCK98vzcX2FXDIk2"
    );

    let alices = alice.handle_answer(&answer).unwrap();
    assert_eq!(alices.direction, Direction::RecvOnly);
    let file = alices.file.unwrap();
    assert!(!file.is_sender);
    // The answer's selector (with the type) is the one to check the received file against.
    assert_eq!(file.description.selector, selector);
}

#[test]
fn rfc5547_reoffer_and_reanswer() {
    // RFC 5547 §9.2 F6/F7: Alice reuses the m-line to push a second file; Bob receives it.
    let bob = file_caps(
        "msrp://bobpc.example.com:8888/eh10dsk;tcp",
        Direction::SendRecv,
        None,
    );
    let (answer, negotiated) = bob
        .answer_media(&vector("rfc5547-9.2-f6-reoffer.sdp"), 0)
        .unwrap();
    let printed = vector("rfc5547-9.2-f7-reanswer.sdp");
    // The printed re-answer also carries a=file-disposition, which RFC 5547 §8.3.1 forbids in an
    // answer from the receiver; everything else is what this module generates.
    let expected: Vec<_> = media(&printed)
        .attributes
        .iter()
        .filter(|a| !matches!(a, Attribute::FileDisposition(_)))
        .cloned()
        .collect();
    assert_eq!(answer.attributes, expected);
    assert_eq!(
        negotiated
            .file
            .unwrap()
            .description
            .selector
            .name
            .as_deref(),
        Some("sunset.jpg")
    );
}

#[test]
fn rfc5547_file_range_is_echoed() {
    let mut file = pushed_picture();
    file.range = Some(FileRange {
        start: 1025,
        stop: None,
    });
    let alice = file_caps(
        "msrp://alicepc.example.com:7654/jshA7we;tcp",
        Direction::SendOnly,
        Some(file),
    );
    let offer = alice.create_offer(origin("a", "1", 1, "alicepc.example.com"));
    assert_eq!(
        media(&offer).file_range(),
        Some(FileRange {
            start: 1025,
            stop: None
        })
    );
    let bob = file_caps(
        "msrp://bobpc.example.com:8888/9di4ea;tcp",
        Direction::SendRecv,
        None,
    );
    let (answer, theirs) = bob
        .create_answer(&offer, origin("b", "2", 1, "bobpc.example.com"))
        .unwrap();
    // RFC 5547 §8.3.1: the receiver "MUST include a 'file-range' attribute in the SDP answer with
    // the same range of values".
    assert_eq!(
        media(&answer).file_range(),
        Some(FileRange {
            start: 1025,
            stop: None
        })
    );
    assert_eq!(
        theirs.file.unwrap().description.range,
        Some(FileRange {
            start: 1025,
            stop: None
        })
    );
    assert!(alice.handle_answer(&answer).is_ok());
}

#[test]
fn rfc5547_errors() {
    let bob = file_caps(
        "msrp://bobpc.example.com:8888/9di4ea;tcp",
        Direction::SendRecv,
        None,
    );
    let offer_text = vector_text("rfc5547-9.1-f1-offer.sdp");

    // A pull without a local file to send.
    let pull = vector("rfc5547-9.2-f1-offer.sdp");
    assert_eq!(
        bob.create_answer(&pull, origin("b", "1", 1, "b"))
            .unwrap_err(),
        NegotiationError::NoLocalFile
    );

    // A file offer without a=file-transfer-id.
    let no_id: String = offer_text
        .lines()
        .filter(|l| !l.starts_with("a=file-transfer-id"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    assert_eq!(
        bob.answer_media(&parse(&no_id), 0).unwrap_err(),
        NegotiationError::MissingFileTransferId
    );

    // A file offer that is neither sendonly nor recvonly.
    let sendrecv = offer_text.replace("a=sendonly", "a=sendrecv");
    assert_eq!(
        bob.answer_media(&parse(&sendrecv), 0).unwrap_err(),
        NegotiationError::InvalidFileDirection
    );

    // An answer that does not copy the file-transfer-id.
    let alice = file_caps(
        "msrp://alicepc.example.com:7654/jshA7we;tcp",
        Direction::SendOnly,
        Some(pushed_picture()),
    );
    let changed = vector_text("rfc5547-9.1-f2-answer.sdp")
        .replace("Q6LMoGymJdh0IKIgD6wD0jkcfgva4xvE", "other");
    assert_eq!(
        alice.handle_answer(&parse(&changed)).unwrap_err(),
        NegotiationError::FileTransferIdMismatch
    );
    let missing: String = vector_text("rfc5547-9.1-f2-answer.sdp")
        .lines()
        .filter(|l| !l.starts_with("a=file-transfer-id"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    assert_eq!(
        alice.handle_answer(&parse(&missing)).unwrap_err(),
        NegotiationError::MissingFileTransferId
    );

    // A capability description (RFC 5547 §9.3) cannot be answered: its port is 0.
    assert_eq!(
        bob.create_answer(
            &vector("rfc5547-9.3-capability.sdp"),
            origin("b", "1", 1, "b")
        )
        .unwrap_err(),
        NegotiationError::PortZero
    );
}

#[test]
fn rfc5547_rejection_mirrors_the_file_attributes() {
    let offer = vector("rfc5547-9.1-f1-offer.sdp");
    let Media::Msrp(rejected) = offer.media[0].rejected() else {
        panic!("msrp")
    };
    assert_eq!(rejected.port, 0);
    assert_eq!(rejected.protocol, Protocol::Tcp);
    assert_eq!(
        rejected.attributes,
        [
            Attribute::FileSelector(media(&offer).file_selector().unwrap().clone()),
            Attribute::FileTransferId("Q6LMoGymJdh0IKIgD6wD0jkcfgva4xvE".into()),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// RFC 6714: CEMA.
// ---------------------------------------------------------------------------------------------

fn cema_caps(path_text: &str, setup: SetupPreference) -> Capabilities {
    let mut caps = with_setup(caps(path_text, "message/cpim text/plain"), setup);
    caps.cema = true;
    caps
}

/// Rewrites the c= address and the m= port, as a middlebox anchoring the media would.
fn anchor(sd: &mut SessionDescription, address: &str, port: u16) {
    sd.connection.as_mut().unwrap().address = address.into();
    match &mut sd.media[0] {
        Media::Msrp(m) => m.port = port,
        Media::Other(_) => panic!("msrp"),
    }
}

#[test]
fn rfc6714_both_endpoints_use_the_media_line() {
    let alice = cema_caps("msrp://192.0.2.10:7394/s1;tcp", SetupPreference::ActPass);
    let bob = cema_caps("msrp://198.51.100.20:8493/s2;tcp", SetupPreference::ActPass);
    let mut offer = alice.create_offer(origin("a", "1", 1, "192.0.2.10"));
    assert!(media(&offer).has_msrp_cema());
    assert_eq!(media(&offer).setup(), Some(Setup::Actpass));
    anchor(&mut offer, "203.0.113.1", 40000);

    let (mut answer, bobs) = bob
        .create_answer(&offer, origin("b", "2", 1, "198.51.100.20"))
        .unwrap();
    assert!(media(&answer).has_msrp_cema());
    assert!(bobs.cema);
    assert_eq!(bobs.role, Role::Passive);
    anchor(&mut answer, "203.0.113.2", 50000);

    let alices = alice.handle_answer(&answer).unwrap();
    assert!(alices.cema);
    assert_eq!(alices.role, Role::Active);
    // RFC 6714 §4.2: the offerer "MUST use the SDP c/m-line for establishing the MSRP TCP
    // connection". The To-Path is still the peer's a=path.
    assert_eq!(alices.connect_to, target("203.0.113.2", 50000, true));
    assert_eq!(
        alices.to_path().to_string(),
        "msrp://198.51.100.20:8493/s2;tcp"
    );
}

#[test]
fn rfc6714_active_answerer_uses_the_offer_media_line() {
    let alice = cema_caps("msrp://192.0.2.10:7394/s1;tcp", SetupPreference::ActPass);
    let bob = cema_caps("msrp://198.51.100.20:8493/s2;tcp", SetupPreference::Active);
    let mut offer = alice.create_offer(origin("a", "1", 1, "192.0.2.10"));
    anchor(&mut offer, "203.0.113.1", 40000);
    let (answer, bobs) = bob
        .create_answer(&offer, origin("b", "2", 1, "198.51.100.20"))
        .unwrap();
    assert_eq!(media(&answer).setup(), Some(Setup::Active));
    // RFC 6714 §4.3: the active answerer "MUST use the received SDP c/m-line".
    assert_eq!(bobs.connect_to, target("203.0.113.1", 40000, true));
    assert_eq!(alice.handle_answer(&answer).unwrap().role, Role::Passive);
}

#[test]
fn rfc6714_offer_rewritten_without_cema_is_rejected() {
    let alice = with_setup(
        caps("msrp://192.0.2.10:7394/s1;tcp", "text/plain"),
        SetupPreference::ActPass,
    );
    let bob = cema_caps("msrp://198.51.100.20:8493/s2;tcp", SetupPreference::ActPass);
    let mut offer = alice.create_offer(origin("a", "1", 1, "192.0.2.10"));
    // Untouched, the offer is answered without CEMA.
    let (answer, bobs) = bob
        .create_answer(&offer, origin("b", "2", 1, "198.51.100.20"))
        .unwrap();
    assert!(!media(&answer).has_msrp_cema());
    assert!(!bobs.cema);
    // Rewritten by a middlebox that does not know CEMA, it must be rejected (RFC 6714 §4.3).
    anchor(&mut offer, "203.0.113.1", 40000);
    assert_eq!(
        bob.create_answer(&offer, origin("b", "2", 1, "198.51.100.20"))
            .unwrap_err(),
        NegotiationError::MiddleboxWithoutCema
    );
    // A non-CEMA answerer does not look.
    let plain = with_setup(
        caps("msrp://198.51.100.20:8493/s2;tcp", "text/plain"),
        SetupPreference::ActPass,
    );
    assert!(
        plain
            .create_answer(&offer, origin("b", "2", 1, "198.51.100.20"))
            .is_ok()
    );
}

#[test]
fn rfc6714_offerer_falls_back() {
    let alice = cema_caps("msrp://192.0.2.10:7394/s1;tcp", SetupPreference::ActPass);
    let offer = alice.create_offer(origin("a", "1", 1, "192.0.2.10"));

    // An answerer without CEMA whose c/m-line was rewritten and that wants to connect: criterion
    // 1 of RFC 6714 §4.2, a new offer without a=msrp-cema is needed.
    let active_bob = with_setup(
        caps("msrp://198.51.100.20:8493/s2;tcp", "text/plain"),
        SetupPreference::Active,
    );
    let (mut answer, _) = active_bob
        .create_answer(&offer, origin("b", "2", 1, "198.51.100.20"))
        .unwrap();
    assert!(!media(&answer).has_msrp_cema());
    anchor(&mut answer, "203.0.113.2", 50000);
    assert_eq!(
        alice.handle_answer(&answer).unwrap_err(),
        NegotiationError::CemaFallbackRequired
    );

    // The same answer untouched: RFC 4975 behaviour, connecting to the path.
    let passive_bob = with_setup(
        caps("msrp://198.51.100.20:8493/s2;tcp", "text/plain"),
        SetupPreference::ActPass,
    );
    let (answer, _) = passive_bob
        .create_answer(&offer, origin("b", "2", 1, "198.51.100.20"))
        .unwrap();
    let negotiated = alice.handle_answer(&answer).unwrap();
    assert!(!negotiated.cema);
    assert_eq!(negotiated.connect_to, target("198.51.100.20", 8493, false));

    // An answerer using a relay whose c/m-line was rewritten, with the offerer active: criterion 3.
    let relayed = |relay: &str| {
        parse(&format!(
            "c=IN IP4 203.0.113.2\r\nm=message 50000 TCP/MSRP *\r\na=accept-types:text/plain\r\n\
             a=path:msrp://{relay}:2855/r;tcp msrp://198.51.100.20:8493/s2;tcp\r\na=setup:passive\r\n"
        ))
    };
    assert_eq!(
        alice.handle_answer(&relayed("192.0.2.99")).unwrap_err(),
        NegotiationError::CemaFallbackRequired
    );
    // A relay known by name cannot be compared with the c= address without DNS: no middlebox is
    // assumed and the path is used.
    let negotiated = alice.handle_answer(&relayed("relay.example.net")).unwrap();
    assert_eq!(
        negotiated.connect_to,
        target("relay.example.net", 2855, false)
    );
}

#[test]
fn rfc6714_relay_rules() {
    // An answerer with a relay puts the relay in its c/m-line and answers passive (RFC 6714 §4.3).
    let alice = cema_caps("msrp://192.0.2.10:7394/s1;tcp", SetupPreference::ActPass);
    let bob = cema_caps(
        "msrp://relay.example.net:2855/r1;tcp msrp://198.51.100.20:8493/s2;tcp",
        SetupPreference::Active,
    );
    let offer = alice.create_offer(origin("a", "1", 1, "192.0.2.10"));
    let (answer, bobs) = bob
        .create_answer(&offer, origin("b", "2", 1, "198.51.100.20"))
        .unwrap();
    assert!(media(&answer).has_msrp_cema());
    assert_eq!(media(&answer).setup(), Some(Setup::Passive));
    assert_eq!(media(&answer).port, 2855);
    assert_eq!(
        answer.connection.as_ref().unwrap().address,
        "relay.example.net"
    );
    assert_eq!(bobs.role, Role::Passive);

    // An offerer with a relay offers actpass and its relay's address (RFC 6714 §4.2).
    let carol = cema_caps(
        "msrp://relay.example.org:2855/r9;tcp msrp://192.0.2.30:7000/s3;tcp",
        SetupPreference::Active,
    );
    let offer = carol.create_offer(origin("c", "3", 1, "192.0.2.30"));
    assert_eq!(media(&offer).setup(), Some(Setup::Actpass));
    assert_eq!(
        offer.connection.as_ref().unwrap().address,
        "relay.example.org"
    );
    // Both using relays: criterion 1 of RFC 6714 §4.3, the answer falls back without CEMA.
    let (answer, bobs) = bob
        .create_answer(&offer, origin("b", "2", 1, "198.51.100.20"))
        .unwrap();
    assert!(!media(&answer).has_msrp_cema());
    assert!(!bobs.cema);
}

// ---------------------------------------------------------------------------------------------
// TLS, relays and WebSocket (RFC 4975 §14.4, RFC 4976 §11, RFC 7977 §8).
// ---------------------------------------------------------------------------------------------

fn fingerprint() -> Fingerprint {
    Fingerprint::parse("SHA-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF")
        .unwrap()
}

#[test]
fn rfc4975_14_4_tls_with_fingerprint() {
    let offer = vector("rfc4975-14.4-fingerprint.sdp");
    let mut bob = caps(
        "msrps://biloxi.example.com:12763/kjhd37s2s20w2a;tcp",
        "text/plain",
    );
    bob.fingerprint = Some(fingerprint());
    let (answer, bobs) = bob
        .create_answer(&offer, origin("b", "1", 1, "biloxi.example.com"))
        .unwrap();
    assert_eq!(media(&answer).protocol, Protocol::TcpTls);
    assert_eq!(
        media(&answer).fingerprints().collect::<Vec<_>>(),
        [&fingerprint()]
    );
    assert!(bobs.is_tls());
    assert_eq!(
        bobs.peer_fingerprints,
        media(&offer).fingerprints().cloned().collect::<Vec<_>>()
    );

    let mut alice = caps(
        "msrps://atlanta.example.com:7654/jshA7weso3ks;tcp",
        "text/plain",
    );
    alice.fingerprint = media(&offer).fingerprints().next().cloned();
    let alices = alice.handle_answer(&answer).unwrap();
    assert!(alices.is_tls());
    assert_eq!(alices.peer_fingerprints, [fingerprint()]);
    assert_eq!(
        alices.connect_to,
        target("biloxi.example.com", 12763, false)
    );

    // Without the answer's fingerprint the offerer cannot verify the peer.
    let (mut bare, _) = caps("msrps://biloxi.example.com:12763/x;tcp", "text/plain")
        .create_answer(&offer, origin("b", "1", 1, "biloxi.example.com"))
        .unwrap();
    assert_eq!(
        alice.handle_answer(&bare).unwrap_err(),
        NegotiationError::MissingFingerprint
    );
    alice.require_peer_fingerprint = false;
    assert!(alice.handle_answer(&bare).is_ok());
    // A session-level fingerprint counts too (RFC 4572).
    bare.attributes.push(Attribute::Fingerprint(fingerprint()));
    alice.require_peer_fingerprint = true;
    assert_eq!(
        alice.handle_answer(&bare).unwrap().peer_fingerprints,
        [fingerprint()]
    );
}

#[test]
fn rfc4976_11_answer_through_a_relay() {
    // Bob uses a relay; Alice offered TCP, Bob answers TLS toward his relay.
    let bob = caps(
        "msrps://relay.example.com:9000/hjdhfha;tcp msrps://bob.example.com:1234/fuige;tcp",
        "message/cpim text/plain",
    );
    let offer = vector("rfc4976-11-offer.sdp");
    let (mut answer, bobs) = bob.answer_media(&offer, 0).unwrap();
    let printed = vector("rfc4976-11-answer.sdp");
    assert_eq!(answer.connection.take(), printed.connection);
    let printed_media = media(&printed);
    assert_eq!(
        (answer.port, answer.protocol),
        (printed_media.port, printed_media.protocol)
    );
    let without_setup: Vec<_> = answer
        .attributes
        .iter()
        .filter(|a| !matches!(a, Attribute::Setup(_)))
        .cloned()
        .collect();
    assert_eq!(without_setup, printed_media.attributes);
    assert_eq!(bobs.role, Role::Passive);

    let alice = with_setup(
        caps(
            "msrp://a.example.com:1234/agic456;tcp",
            "message/cpim text/plain text/html",
        ),
        SetupPreference::Rfc4975,
    );
    let alices = alice.handle_answer(&printed).unwrap();
    assert_eq!(alices.role, Role::Active);
    // RFC 4975 §8.3: the first URI is where the connection goes, the whole path is the To-Path.
    assert_eq!(alices.connect_to, target("relay.example.com", 9000, false));
    assert_eq!(alices.to_path().len(), 2);
    assert_eq!(alices.protocol, Protocol::TcpTls);
    // The relay's certificate is checked by name: no fingerprint travels through relays.
    assert!(alices.peer_fingerprints.is_empty());
}

#[test]
fn rfc7977_websocket_client_through_its_relay() {
    let offer = vector("rfc7977-8.2.1-offer.sdp");
    let bob = with_setup(
        caps(
            "msrps://bob.example.com:49154/foo;tcp",
            "message/cpim text/plain",
        ),
        SetupPreference::Rfc4975,
    );
    let (answer, bobs) = bob.answer_media(&offer, 0).unwrap();
    let printed = vector("rfc7977-8.2.1-answer.sdp");
    assert_eq!(answer.attributes, media(&printed).attributes);
    assert_eq!(bobs.to_path().last().transport(), msrp_uri::Transport::Ws);

    let alice = caps(
        "msrps://a.example.com:2855/jui787s2f;tcp msrps://df7jal23ls0d.invalid:2855/98cjs;ws",
        "message/cpim text/plain text/html",
    );
    assert_eq!(alice.protocol(), Protocol::TcpTls);
    let alices = alice.handle_answer(&printed).unwrap();
    assert_eq!(alices.connect_to, target("bob.example.com", 49154, false));

    for (offer, answer) in [
        ("rfc7977-8.3.1-offer.sdp", "rfc7977-8.3.1-answer.sdp"),
        ("rfc7977-8.4.1-offer.sdp", "rfc7977-8.4.1-answer.sdp"),
    ] {
        let negotiated = alice.handle_answer(&vector(answer)).unwrap();
        assert_eq!(
            negotiated.to_path().to_string(),
            media(&vector(answer)).path().unwrap().to_string()
        );
        assert!(vector(offer).msrp_media().next().is_some());
    }
}

#[test]
fn websocket_protocol_values_are_answered_in_kind() {
    let offer = parse(
        "c=IN IP4 198.51.100.1\r\nm=message 443 TCP/WSS/MSRP *\r\na=accept-types:text/plain\r\n\
         a=path:msrps://df7jal23ls0d.invalid:443/98cjs;ws\r\na=fingerprint:SHA-1 00:01\r\n",
    );
    let mut bob = caps("msrps://bob.example.com:49154/foo;tcp", "text/plain");
    assert_eq!(
        bob.set_protocol(Protocol::TcpWs),
        Err(msrp_sdp::CapabilitiesError::ProtocolMismatch)
    );
    bob.set_protocol(Protocol::TcpWss).unwrap();
    let (answer, negotiated) = bob.answer_media(&offer, 0).unwrap();
    assert_eq!(answer.protocol, Protocol::TcpWss);
    assert!(negotiated.is_tls());
}

// ---------------------------------------------------------------------------------------------
// Media types (RFC 4975 §8.6) and RFC 7701 chat rooms.
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc7701_chat_room_negotiation() {
    let mut alice = with_setup(
        caps(
            "msrp://client.atlanta.example.com:7654/jshA7weztas;tcp",
            "message/cpim text/plain text/html",
        ),
        SetupPreference::Rfc4975,
    );
    alice.chatroom = Some(msrp_sdp::Chatroom::new(["nickname", "private-messages"]));
    let offer = alice.create_offer(origin(
        "alice",
        "2890844526",
        2890844526,
        "client.atlanta.example.com",
    ));
    let printed_offer = vector("rfc7701-9.1-f1-offer.sdp");
    assert_eq!(media(&offer).attributes, media(&printed_offer).attributes);

    let negotiated = alice
        .handle_answer(&vector("rfc7701-9.1-f2-answer.sdp"))
        .unwrap();
    let room = negotiated.peer_chatroom.as_ref().unwrap();
    assert!(room.allows_nicknames() && room.allows_private_messages());
    // The focus accepts only message/cpim at the top level, anything inside it.
    assert!(negotiated.peer_accepts("message/cpim"));
    assert!(!negotiated.peer_accepts("text/plain"));
    assert!(negotiated.peer_accepts_wrapped("message/cpim", "text/plain"));
    assert!(negotiated.peer_accepts_wrapped("message/cpim", "application/octet-stream"));
    assert!(!negotiated.peer_accepts_wrapped("text/plain", "text/html"));
    assert!(negotiated.peer_prefers_cpim());
}

#[test]
fn accept_types_wildcards() {
    let answer = |types: &str| {
        parse(&format!(
            "c=IN IP4 bob.example.com\r\nm=message 8493 TCP/MSRP *\r\na=accept-types:{types}\r\n\
             a=path:msrp://bob.example.com:8493/s2;tcp\r\n"
        ))
    };
    let alice = with_setup(
        caps("msrp://alice.example.com:7394/s1;tcp", "*"),
        SetupPreference::Rfc4975,
    );
    let any = alice.handle_answer(&answer("*")).unwrap();
    assert!(any.peer_accepts("application/vnd.example+json"));
    let text = alice
        .handle_answer(&answer("text/* image/png;q=\"1\""))
        .unwrap();
    assert!(text.peer_accepts("text/x-anything"));
    assert!(text.peer_accepts("image/png"));
    assert!(!text.peer_accepts("image/jpeg"));
    assert!(!text.peer_prefers_cpim());
    // A local "*" overlaps everything.
    assert!(alice.handle_answer(&answer("application/x-only")).is_ok());
    let narrow = with_setup(
        caps("msrp://alice.example.com:7394/s1;tcp", "text/plain"),
        SetupPreference::Rfc4975,
    );
    assert_eq!(
        narrow
            .handle_answer(&answer("application/x-only"))
            .unwrap_err(),
        NegotiationError::NoCommonAcceptTypes
    );
    assert!(narrow.handle_answer(&answer("text/*")).is_ok());
}

#[test]
fn max_size_and_direction() {
    let mut alice = with_setup(
        caps("msrp://alice.example.com:7394/s1;tcp", "text/plain"),
        SetupPreference::Rfc4975,
    );
    alice.max_size = Some(4096);
    let offer = alice.create_offer(origin("a", "1", 1, "alice.example.com"));
    assert_eq!(media(&offer).max_size(), Some(4096));

    let mut bob = with_setup(
        caps("msrp://bob.example.com:8493/s2;tcp", "text/plain"),
        SetupPreference::Rfc4975,
    );
    bob.direction = Direction::RecvOnly;
    bob.max_size = Some(1 << 20);
    let (answer, bobs) = bob
        .create_answer(&offer, origin("b", "2", 1, "bob.example.com"))
        .unwrap();
    assert_eq!(bobs.peer_max_size, Some(4096));
    assert_eq!(bobs.local_max_size, Some(1 << 20));
    assert_eq!(bobs.direction, Direction::RecvOnly);
    assert_eq!(media(&answer).direction(), Some(Direction::RecvOnly));

    let alices = alice.handle_answer(&answer).unwrap();
    assert_eq!(alices.peer_max_size, Some(1 << 20));
    assert_eq!(alices.direction, Direction::SendOnly);

    // An inactive offer stays inactive.
    let inactive = parse(&(vector_text("rfc4975-8.7-offer.sdp") + "a=inactive\r\n"));
    let (answer, negotiated) = rfc4975_bob()
        .create_answer(&inactive, origin("b", "2", 1, "b"))
        .unwrap();
    assert_eq!(negotiated.direction, Direction::Inactive);
    assert_eq!(media(&answer).direction(), Some(Direction::Inactive));
    // A session-level direction applies to the media.
    let session_level =
        vector_text("rfc4975-8.7-offer.sdp").replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n");
    let (_, negotiated) = rfc4975_bob()
        .create_answer(&parse(&session_level), origin("b", "2", 1, "b"))
        .unwrap();
    assert_eq!(negotiated.direction, Direction::SendOnly);
}

// ---------------------------------------------------------------------------------------------
// Several media lines and the errors.
// ---------------------------------------------------------------------------------------------

#[test]
fn other_media_lines_are_rejected_in_the_answer() {
    let offer = parse(
        "v=0\r\no=alice 1 1 IN IP4 alice.example.com\r\ns=-\r\nc=IN IP4 alice.example.com\r\nt=0 0\r\n\
         m=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n\
         m=message 7394 TCP/MSRP *\r\na=accept-types:text/plain\r\na=path:msrp://alice.example.com:7394/s1;tcp\r\n\
         m=message 7394 TCP/MSRP *\r\na=accept-types:text/plain\r\na=path:msrp://alice.example.com:7394/s9;tcp\r\n",
    );
    let (answer, negotiated) = rfc4975_bob()
        .create_answer(&offer, origin("b", "2", 1, "bob.example.com"))
        .unwrap();
    assert_eq!(answer.media.len(), 3);
    assert_eq!(
        answer.media.iter().map(Media::port).collect::<Vec<_>>(),
        [0, 8493, 0]
    );
    assert_eq!(answer.media[0].to_string(), "m=audio 0 RTP/AVP 0 8\r\n");
    assert_eq!(negotiated.to_path().last().session_id(), Some("s1"));
    // The offerer finds its media line by index.
    let alice = with_setup(
        caps("msrp://alice.example.com:7394/s1;tcp", "text/plain"),
        SetupPreference::Rfc4975,
    );
    assert_eq!(
        alice.handle_answer_media(&answer, 2).unwrap_err(),
        NegotiationError::PortZero
    );
    assert_eq!(
        alice.handle_answer_media(&answer, 0).unwrap_err(),
        NegotiationError::NotMsrpMedia
    );
    assert_eq!(
        alice.handle_answer_media(&answer, 1).unwrap().role,
        Role::Active
    );
    assert_eq!(
        alice.handle_answer_media(&answer, 7).unwrap_err(),
        NegotiationError::NotMsrpMedia
    );
}

#[test]
fn offers_that_cannot_be_answered() {
    let bob = rfc4975_bob();
    let answer = |text: &str| {
        bob.create_answer(&parse(text), origin("b", "2", 1, "bob.example.com"))
            .map(|_| ())
    };
    let msrp = |attributes: &str| {
        format!("c=IN IP4 alice.example.com\r\nm=message 7394 TCP/MSRP *\r\n{attributes}")
    };
    let cases: &[(String, NegotiationError)] = &[
        ("c=IN IP4 a\r\nm=audio 49170 RTP/AVP 0\r\n".into(), NegotiationError::NoMsrpMedia),
        ("v=0\r\ns=-\r\n".into(), NegotiationError::NoMsrpMedia),
        ("c=IN IP4 a\r\nm=message 7394 TCP/CPIM *\r\n".into(), NegotiationError::UnsupportedProtocol),
        ("c=IN IP4 a\r\nm=message 0 TCP/MSRP *\r\n".into(), NegotiationError::PortZero),
        (msrp("a=accept-types:text/plain\r\n"), NegotiationError::MissingPath),
        (msrp("a=path:msrp://alice.example.com:7394/s1;tcp\r\n"), NegotiationError::MissingAcceptTypes),
        (msrp("a=accept-types:image/png\r\na=path:msrp://alice.example.com:7394/s1;tcp\r\n"), NegotiationError::NoCommonAcceptTypes),
        (msrp("a=accept-types:text/plain\r\na=path:msrp://alice.example.com/s1;tcp\r\n"), NegotiationError::PathWithoutPort),
        (msrp("a=accept-types:text/plain\r\na=path:msrps://alice.example.com:7394/s1;tcp\r\n"), NegotiationError::PathSchemeMismatch),
        (
            "c=IN IP4 a\r\nm=message 7394 TCP/TLS/MSRP *\r\na=accept-types:text/plain\r\na=path:msrp://alice.example.com:7394/s1;tcp\r\n".into(),
            NegotiationError::PathSchemeMismatch,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(answer(text), Err(*expected), "{text}");
    }
    // Bob's path is plain, so Alice connects to him without TLS: no fingerprint is needed even
    // though her own media line is TLS.
    assert!(answer(
        "c=IN IP4 a\r\nm=message 7394 TCP/TLS/MSRP *\r\na=accept-types:text/plain\r\na=path:msrps://alice.example.com:7394/s1;tcp\r\n"
    )
    .is_ok());

    // Bob reached over TLS without relays needs Alice's fingerprint to check her client
    // certificate.
    let tls_bob = caps("msrps://bob.example.com:8493/s2;tcp", "text/plain");
    let offer = parse(
        "c=IN IP4 a\r\nm=message 7394 TCP/TLS/MSRP *\r\na=accept-types:text/plain\r\na=path:msrps://alice.example.com:7394/s1;tcp\r\n",
    );
    assert_eq!(
        tls_bob.answer_media(&offer, 0).unwrap_err(),
        NegotiationError::MissingFingerprint
    );
}

#[test]
fn capabilities_check_the_local_path() {
    assert_eq!(
        Capabilities::new(path("msrp://bob.example.com/s;tcp")).unwrap_err(),
        msrp_sdp::CapabilitiesError::MissingPort
    );
    assert_eq!(
        Capabilities::new(path(
            "msrps://relay.example.com:1/r;tcp msrp://bob.example.com:2/s;tcp"
        ))
        .unwrap_err(),
        msrp_sdp::CapabilitiesError::ProtocolMismatch
    );
    let v6 = Capabilities::new(path("msrp://[2001:db8::1]:7394/s;tcp")).unwrap();
    let offer = v6.create_offer(origin("a", "1", 1, "2001:db8::1"));
    assert_eq!(
        offer.connection.as_ref().unwrap().to_string(),
        "IN IP6 2001:db8::1"
    );
    assert_eq!(media(&offer).port, 7394);
}

#[test]
fn errors_display_in_lowercase() {
    for e in [
        NegotiationError::NoMsrpMedia,
        NegotiationError::MissingFingerprint,
        NegotiationError::CemaFallbackRequired,
        NegotiationError::SetupConflict,
    ] {
        let text = e.to_string();
        assert_eq!(text, text.to_lowercase());
        assert!(!text.is_empty());
    }
}
