//! `msrp relay`, run as the built binary over loopback: our clients through it (texts, a 256
//! MiB file, reports, digest, 481), a listener that stops reading, and Kamailio's relay in the
//! chain in both positions.

use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{
    Kamailio, Listener, OurRelay, TempDir, kamailio_or_skip, msrp, send, sha256_hex, stderr, strs,
    temp_file, through,
};

/// The resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn texts_a_large_file_and_reports_through_our_relay() {
    let relay = OurRelay::start(&[]);
    assert!(relay.uri.starts_with("msrp://127.0.0.1:"), "{}", relay.uri);
    let listener = Listener::start(&strs(&through(&relay.uri, &[])));
    let granted = relay.event("auth");
    assert!(listener.uri.starts_with(granted["uri"].as_str().unwrap()));

    let args = through(
        &relay.uri,
        &["--text", "Hello through msrp relay", "--success-report"],
    );
    let out = send(&listener.uri, &strs(&args));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("success report received"));
    assert_eq!(
        listener.event("message")["text"],
        "Hello through msrp relay"
    );

    // 256 MiB, through the relay in 8 KiB chunks, with a success report back through it.
    let dir = TempDir::new("relay-large");
    let path = dir.0.join("large.bin");
    let data: Vec<u8> = (0..256u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();
    let args = through(
        &relay.uri,
        &["--file", path.to_str().unwrap(), "--success-report"],
    );
    let out = send(&listener.uri, &strs(&args));
    assert!(out.status.success(), "{}", stderr(&out));
    let message = listener.event("message");
    assert_eq!(message["size"], 256u64 << 20);
    assert_eq!(message["sha256"], sha256_hex(&data));
}

#[test]
fn clients_reach_our_relay_over_tls_checked_by_its_fingerprint() {
    let relay = OurRelay::start(&["--tls"]);
    assert!(relay.uri.starts_with("msrps://127.0.0.1:"), "{}", relay.uri);
    let fingerprint = relay.fingerprint.clone().unwrap();
    let tls = |extra: &[&str]| {
        let mut args = through(&relay.uri, &["--relay-fingerprint", &fingerprint]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let listener = Listener::start(&strs(&tls(&[])));
    assert!(
        listener.uri.starts_with("msrps://127.0.0.1:"),
        "{}",
        listener.uri
    );
    let out = send(
        &listener.uri,
        &strs(&tls(&["--text", "Hello over TLS", "--success-report"])),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(listener.event("message")["text"], "Hello over TLS");

    // Another certificate's fingerprint: the sender refuses the relay.
    let wrong = format!("sha-256 {}", ["00"; 32].join(":"));
    let args = through(
        &relay.uri,
        &["--relay-fingerprint", &wrong, "--text", "not sent"],
    );
    let out = send(&listener.uri, &strs(&args));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));
}

/// A certificate authority and, signed by it, a certificate for 127.0.0.1 for each of `n`
/// relays, as PEM files in `dir`: (the CA's file, the relays' (certificate, key) files).
fn relay_certificates(dir: &TempDir, n: usize) -> (String, Vec<(String, String)>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let write = |name: &str, text: &str| {
        let path = dir.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let relays = (0..n)
        .map(|i| {
            let key = KeyPair::generate().unwrap();
            let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            (
                write(&format!("relay{i}.pem"), &cert.pem()),
                write(&format!("relay{i}.key"), &key.serialize_pem()),
            )
        })
        .collect();
    (write("ca.pem", &ca_pem), relays)
}

#[test]
fn two_of_our_relays_over_mutual_tls_checked_by_a_certificate_authority() {
    let dir = TempDir::new("relay-mtls");
    let (ca, certs) = relay_certificates(&dir, 2);
    let start = |(cert, key): &(String, String), ca: Option<&str>| {
        let mut args = vec!["--tls", "--cert", cert, "--key", key];
        if let Some(ca) = ca {
            args.extend(["--relay-ca", ca]);
        }
        OurRelay::start(&args)
    };
    // The listener is behind B, the sender behind A; A reaches B over TLS, checking B's
    // certificate against the authority and showing its own.
    let b = start(&certs[1], Some(&ca));
    let a = start(&certs[0], Some(&ca));
    let behind = |relay: &OurRelay, extra: &[&str]| {
        let fp = relay.fingerprint.clone().unwrap();
        let mut args = through(&relay.uri, &["--relay-fingerprint", &fp]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let listener = Listener::start(&strs(&behind(&b, &[])));
    let out = send(
        &listener.uri,
        &strs(&behind(
            &a,
            &["--text", "Across two relays", "--success-report"],
        )),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(listener.event("message")["text"], "Across two relays");

    // A relay without the authority cannot check B: it reaches no msrps next hop, and the
    // sender learns that its message failed from the relay's REPORT (its 200 only said that
    // the relay took the message).
    let lone = start(&certs[0], None);
    let out = send(
        &listener.uri,
        &strs(&behind(&lone, &["--text", "not through", "--timeout", "5"])),
    );
    assert_eq!(lone.event("failure_report")["status"], 408);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("408"), "{}", stderr(&out));
}

#[test]
fn digest_users_and_unknown_relay_sessions() {
    let dir = TempDir::new("relay-users");
    let users = dir.0.join("users");
    std::fs::write(&users, "# who may use the relay\nalice:xyz123\n").unwrap();
    let relay = OurRelay::start(&["--auth-file", users.to_str().unwrap()]);
    let creds = ["--user", "alice", "--password", "xyz123"];
    let listener = Listener::start(&strs(&through(&relay.uri, &creds)));
    assert_eq!(relay.event("auth")["user"], "alice");
    let args = through(&relay.uri, &[&creds[..], &["--text", "digest ok"]].concat());
    let out = send(&listener.uri, &strs(&args));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(listener.event("message")["text"], "digest ok");

    for (extra, why) in [
        (
            vec!["--user", "alice", "--password", "wrong"],
            "credentials refused",
        ),
        (
            vec!["--user", "mallory", "--password", "xyz123"],
            "AUTH refused with 403",
        ),
        (vec![], "credentials asked for, none given"),
    ] {
        let args = through(&relay.uri, &[&extra[..], &["--text", "hi"]].concat());
        let out = send(&listener.uri, &strs(&args));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(why), "{why}: {}", stderr(&out));
    }

    // A relay session it never granted: 481 (RFC 4976 §6.4).
    let port = relay
        .uri
        .trim_end_matches(";tcp")
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let bogus = format!("msrp://127.0.0.1:{port}/neverhanded;tcp msrp://127.0.0.1:9/x;tcp");
    let out = send(&bogus, &["--text", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("481"), "{}", stderr(&out));
}

/// A listener whose process is stopped reads nothing: the relay holds a bounded amount for it
/// (and the sender is told once no progress is made), whatever the sender pushes.
#[test]
fn a_listener_that_stops_reading_holds_the_relay_to_bounded_memory() {
    let relay = OurRelay::start(&[]);
    let listener = Listener::start(&strs(&through(&relay.uri, &[])));
    let baseline = rss(relay.child.id());
    let pid = listener.child.id().to_string();
    assert!(msrp_stop(&pid, "-STOP"));
    let file = temp_file("relay-stalled.bin", &vec![7u8; 64 << 20]);
    let args = through(
        &relay.uri,
        &["--file", file.to_str().unwrap(), "--timeout", "3"],
    );
    let mut sender = msrp()
        .arg("send")
        .arg("--to")
        .arg(&listener.uri)
        .args(strs(&args))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        peak = peak.max(rss(relay.child.id()));
        if let Some(status) = sender.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the sender never gave up");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(msrp_stop(&pid, "-CONT"));
    let _ = std::fs::remove_file(&file);
    eprintln!("relay RSS idle {baseline} B, peak {peak} B");
    // It did not get through, and said so.
    assert_eq!(status.code(), Some(1));
    // The relay held at most a few MiB more than when idle, for a 64 MiB push.
    assert!(
        peak < baseline + (16 << 20),
        "relay grew from {baseline} to {peak} bytes"
    );
}

fn msrp_stop(pid: &str, signal: &str) -> bool {
    std::process::Command::new("kill")
        .args([signal, pid])
        .status()
        .is_ok_and(|s| s.success())
}

/// Kamailio's relay and ours in one chain, in both orders: the listener behind one, the sender
/// behind the other.
#[test]
fn our_relay_and_kamailio_in_one_chain_both_ways() {
    let Some(binary) = kamailio_or_skip() else {
        return;
    };
    let kamailio = Kamailio::start(&binary, "chain", &[]);
    let ours = OurRelay::start(&[]);
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();
    let file = temp_file("chain.bin", &data);
    for (listener_side, sender_side) in [
        (kamailio.uri(), ours.uri.clone()),
        (ours.uri.clone(), kamailio.uri()),
    ] {
        let listener = Listener::start(&strs(&through(&listener_side, &[])));
        let args = through(
            &sender_side,
            &["--text", "across two relays", "--success-report"],
        );
        let out = send(&listener.uri, &strs(&args));
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(listener.event("message")["text"], "across two relays");
        let args = through(
            &sender_side,
            &["--file", file.to_str().unwrap(), "--success-report"],
        );
        let out = send(&listener.uri, &strs(&args));
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(listener.event("message")["sha256"], sha256_hex(&data));
    }
    let _ = std::fs::remove_file(&file);
}
