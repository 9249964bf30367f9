//! Through Kamailio's MSRP relay, an independent RFC 4976 implementation: `msrp listen --relay`
//! and `msrp send --relay` authenticate to it (with and without digest), exchange texts and a
//! 1 MiB file with success reports through one hop and through two relays, and meet its 481
//! for a relay session it does not know.
//!
//! Each test starts its own Kamailio from the project's configuration
//! (`interop/kamailio/relay.cfg`) on a free loopback port and stops it by its pid file. CI
//! installs Kamailio and sets `CI=true`, where a missing Kamailio fails the tests; elsewhere
//! they say they are skipped.

mod common;
use common::{Kamailio, Listener, kamailio_or_skip, send, sha256_hex, stderr, temp_file};

/// The password the configuration's digest accepts, for any user name.
const PASSWORD: &str = "xyz123";

/// `--relay URI` with the digest credentials, when there are any.
fn relay_args(relay: &Kamailio, password: Option<&str>) -> Vec<String> {
    let mut args = vec!["--relay".to_owned(), relay.uri()];
    if let Some(password) = password {
        args.extend(["--user", "alice", "--password", password].map(str::to_owned));
    }
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Sends a text and a 1 MiB file with success reports from behind `sender` to the listener,
/// and checks what arrives.
fn exchange(listener: &Listener, sender: &[String]) {
    let mut args = strs(sender);
    args.extend(["--text", "Hello through the relay", "--success-report"]);
    let out = send(&listener.uri, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    // The listener's REPORT came back through the relays.
    assert!(
        stderr(&out).contains("success report received"),
        "{}",
        stderr(&out)
    );
    let message = listener.event("message");
    assert_eq!(message["text"], "Hello through the relay");

    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    let file = temp_file("relayed.bin", &data);
    let mut args = strs(sender);
    args.extend(["--file", file.to_str().unwrap(), "--success-report"]);
    let out = send(&listener.uri, &args);
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}", stderr(&out));
    let message = listener.event("message");
    assert_eq!(message["size"], 1 << 20);
    assert_eq!(message["sha256"], sha256_hex(&data));
}

#[test]
fn a_text_and_a_file_through_one_kamailio_hop() {
    let Some(binary) = kamailio_or_skip() else {
        return;
    };
    let relay = Kamailio::start(&binary, "one-hop", &[]);
    let listener = Listener::start(&strs(&relay_args(&relay, None)));
    // The path to send to: the relay's URI for the session, then the listener's own.
    let path: Vec<&str> = listener.uri.split(' ').collect();
    assert_eq!(path.len(), 2, "{}", listener.uri);
    assert!(path[0].starts_with(&format!("msrp://127.0.0.1:{}/", relay.port)));
    exchange(&listener, &relay_args(&relay, None));

    // A sender that reaches the listener's relay directly, with its own URI on no relay:
    // Kamailio would open a connection to that URI for a REPORT, so none is asked for.
    let out = send(&listener.uri, &["--text", "Hello from outside"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(listener.event("message")["text"], "Hello from outside");
}

#[test]
fn digest_authentication_with_kamailio() {
    let Some(binary) = kamailio_or_skip() else {
        return;
    };
    let relay = Kamailio::start(&binary, "digest", &["WITH_AUTH"]);
    let listener = Listener::start(&strs(&relay_args(&relay, Some(PASSWORD))));
    exchange(&listener, &relay_args(&relay, Some(PASSWORD)));

    // -v shows the AUTH exchange: the challenge, the credentials, the granted Use-Path.
    let mut args = vec!["-v".to_owned(), "send".to_owned(), "--to".to_owned()];
    args.push(listener.uri.clone());
    args.extend(relay_args(&relay, Some(PASSWORD)));
    args.extend(["--text", "shown"].map(str::to_owned));
    let out = common::msrp().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stderr(&out);
    for part in [
        " AUTH\r\n",
        " 401 Unauthorized\r\n",
        "Authorization: Digest username=\"alice\"",
        "Use-Path: ",
    ] {
        assert!(shown.contains(part), "{part:?} not in {shown}");
    }
    assert_eq!(listener.event("message")["text"], "shown");

    // A wrong password, and none: each fails, saying why.
    for (password, why) in [
        (Some("wrong"), "credentials refused"),
        (None, "credentials asked for, none given"),
    ] {
        let mut args = relay_args(&relay, password);
        args.extend(["--text", "hi"].map(str::to_owned));
        let out = send(&listener.uri, &strs(&args));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }
}

#[test]
fn a_relay_session_kamailio_does_not_know_gets_481() {
    let Some(binary) = kamailio_or_skip() else {
        return;
    };
    let relay = Kamailio::start(&binary, "unknown", &[]);
    let path = format!(
        "msrp://127.0.0.1:{}/nosuchsession;tcp msrp://127.0.0.1:9/someone;tcp",
        relay.port
    );
    let out = send(&path, &["--text", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("481"), "{}", stderr(&out));
}

#[test]
fn two_kamailio_relays_one_for_each_side() {
    let Some(binary) = kamailio_or_skip() else {
        return;
    };
    let theirs = Kamailio::start(&binary, "listener-side", &["WITH_AUTH"]);
    let ours = Kamailio::start(&binary, "sender-side", &[]);
    let listener = Listener::start(&strs(&relay_args(&theirs, Some(PASSWORD))));
    exchange(&listener, &relay_args(&ours, None));
}
