//! `uri_parse`: arbitrary text (inputs that are not UTF-8 are skipped) parsed as an
//! [`MsrpUri`] and as a [`Path`].
//!
//! Asserted for a URI: `Display` gives back the parsed text, which parses again to a URI that
//! matches the first both ways and prints the same; a URI matches itself; it has a socket address
//! exactly when its host is an IP address; its components, given to the builder, build a URI that
//! matches it, and so do they with the host name and transport in upper case (RFC 4975 §6.1
//! compares them ignoring case); `param` finds the first parameter of a name in any case.
//!
//! Asserted for a path: `Display` gives back the text; the URIs are the space-separated pieces,
//! each of which passes the URI checks; the text parses again to a path that matches. Without a
//! space in the text, a path parses exactly when a URI does, with the same error. Error offsets
//! lie within the text.

use msrp_uri::{Host, MsrpUri, Path, Transport};

/// Runs the target on one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let uri = MsrpUri::parse(text);
    match &uri {
        Ok(uri) => check_uri(uri, text),
        Err(e) => assert!(e.offset() <= text.len(), "{e:?}"),
    }
    let path = Path::parse(text);
    match &path {
        Ok(path) => check_path(path, text),
        Err(e) => assert!(e.offset() <= text.len(), "{e:?}"),
    }
    if !text.contains(' ') {
        match (&uri, &path) {
            (Ok(_), Ok(path)) => assert_eq!(path.len(), 1),
            (Err(a), Err(b)) => assert_eq!(a, b),
            (uri, path) => panic!("URI {uri:?} but path {path:?}"),
        }
    }
}

/// Checks a parsed URI.
fn check_uri(uri: &MsrpUri, text: &str) {
    let printed = uri.to_string();
    assert_eq!(printed, text);
    assert_eq!(uri.as_str(), text);
    let again = MsrpUri::parse(&printed).expect("the text of a URI parses");
    assert!(again.matches(uri) && uri.matches(&again));
    assert_eq!(again.to_string(), text);
    assert!(uri.matches(uri));
    assert_eq!(uri.socket_addr().is_some(), uri.host().is_ip());
    assert!(uri.authority().contains(uri.host_str()));

    let rebuilt = rebuild(uri, uri.host(), uri.transport());
    assert!(rebuilt.matches(uri) && uri.matches(&rebuilt), "{rebuilt:?}");
    assert!(rebuilt.params().eq(uri.params()));
    if let Host::Name(name) = uri.host() {
        let name = name.to_ascii_uppercase();
        let transport = uri.transport().as_str().to_ascii_uppercase();
        let shouted = rebuild(uri, Host::Name(&name), Transport::from_name(&transport));
        assert!(shouted.matches(uri) && uri.matches(&shouted), "{shouted:?}");
    }

    for (name, _) in uri.params() {
        let first = uri.params().find(|(n, _)| n.eq_ignore_ascii_case(name));
        assert_eq!(uri.param(name), first.map(|(_, value)| value));
        assert_eq!(uri.param(&name.to_ascii_uppercase()), uri.param(name));
    }
}

/// Builds a URI from the components of `uri`, with the given host and transport.
fn rebuild(uri: &MsrpUri, host: Host<'_>, transport: Transport<'_>) -> MsrpUri {
    let mut builder = MsrpUri::builder(uri.scheme(), host).transport(transport);
    if let Some(userinfo) = uri.userinfo() {
        builder = builder.userinfo(userinfo);
    }
    if let Some(port) = uri.port() {
        builder = builder.port(port);
    }
    if let Some(session_id) = uri.session_id() {
        builder = builder.session_id(session_id);
    }
    for (name, value) in uri.params() {
        builder = builder.param(name, value);
    }
    match builder.build() {
        Ok(built) => built,
        Err(e) => panic!("the components of {uri:?} do not build: {e:?}"),
    }
}

/// Checks a parsed path.
fn check_path(path: &Path, text: &str) {
    let printed = path.to_string();
    assert_eq!(printed, text);
    let pieces: Vec<&str> = text.split(' ').collect();
    assert_eq!(path.len(), pieces.len());
    assert_eq!(path.iter().len(), pieces.len());
    assert!(path.iter().map(MsrpUri::as_str).eq(pieces.iter().copied()));
    assert_eq!(path.first().as_str(), pieces[0]);
    assert_eq!(path.last().as_str(), pieces[pieces.len() - 1]);
    for (uri, piece) in path.iter().zip(&pieces) {
        check_uri(uri, piece);
    }
    let again = Path::parse(&printed).expect("the text of a path parses");
    assert!(again.matches(path) && path.matches(&again));
    let copy = Path::from_vec(path.clone().into_vec()).expect("not empty");
    assert!(copy.matches(path));
}
