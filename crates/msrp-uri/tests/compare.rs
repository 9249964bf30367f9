//! RFC 4975 §6.1 comparison, one table per rule.

use msrp_uri::MsrpUri;

/// Checks every `(a, b, expected)` row both ways round, and that each URI matches itself.
fn check(rule: &str, table: &[(&str, &str, bool)]) {
    for &(a, b, expected) in table {
        let ua = MsrpUri::parse(a).unwrap_or_else(|e| panic!("{a}: {e}"));
        let ub = MsrpUri::parse(b).unwrap_or_else(|e| panic!("{b}: {e}"));
        assert_eq!(ua.matches(&ub), expected, "{rule}: {a} vs {b}");
        assert_eq!(ub.matches(&ua), expected, "{rule} (reversed): {b} vs {a}");
        assert!(ua.matches(&ua), "{a} must match itself");
        assert!(ub.matches(&ub), "{b} must match itself");
    }
}

#[test]
fn rule_1_scheme() {
    // RFC 4975 §6.1: "The scheme MUST match.  Scheme comparison is case insensitive."
    check(
        "scheme",
        &[
            (
                "msrp://h.example.com:1/s;tcp",
                "MSRP://h.example.com:1/s;tcp",
                true,
            ),
            (
                "MsRpS://h.example.com:1/s;tcp",
                "msrps://h.example.com:1/s;tcp",
                true,
            ),
            (
                "msrp://h.example.com:1/s;tcp",
                "msrps://h.example.com:1/s;tcp",
                false,
            ),
            (
                "MSRPS://h.example.com:1/s;tcp",
                "msrp://h.example.com:1/s;tcp",
                false,
            ),
        ],
    );
}

#[test]
fn rule_2_ip_addresses_by_address_equivalence() {
    // RFC 4975 §6.1: "If the authority component contains an explicit IP address and/or port,
    // these are compared for address and port equivalence."
    check(
        "ip address",
        &[
            (
                "msrp://[::1]:1/s;tcp",
                "msrp://[0:0:0:0:0:0:0:1]:1/s;tcp",
                true,
            ),
            (
                "msrp://[2001:db8::1]:1/s;tcp",
                "msrp://[2001:DB8:0:0::0001]:1/s;tcp",
                true,
            ),
            (
                "msrp://[::ffff:192.0.2.1]:1/s;tcp",
                "msrp://[::FFFF:c000:0201]:1/s;tcp",
                true,
            ),
            ("msrp://[::1]:1/s;tcp", "msrp://[::2]:1/s;tcp", false),
            ("msrp://192.0.2.1:1/s;tcp", "msrp://192.0.2.1:1/s;tcp", true),
            (
                "msrp://192.0.2.1:1/s;tcp",
                "msrp://192.0.2.2:1/s;tcp",
                false,
            ),
            // An IPv4 address and its IPv4-mapped IPv6 form are different authorities.
            (
                "msrp://192.0.2.1:1/s;tcp",
                "msrp://[::ffff:192.0.2.1]:1/s;tcp",
                false,
            ),
            // Nothing is resolved: an address never matches a name.
            (
                "msrp://127.0.0.1:1/s;tcp",
                "msrp://localhost:1/s;tcp",
                false,
            ),
            ("msrp://[::1]:1/s;tcp", "msrp://localhost:1/s;tcp", false),
        ],
    );
}

#[test]
fn rule_2_percent_encoding_normalization() {
    // RFC 4975 §6.1: "Percent-encoding normalization [10] applies; that is, if any
    // percent-encoded nonreserved characters exist in the authority component, they must be
    // decoded prior to comparison."
    check(
        "percent-encoding",
        &[
            (
                "msrp://h%2Eexample.com;tcp",
                "msrp://h.example.com;tcp",
                true,
            ),
            (
                "msrp://%68.example.com;tcp",
                "msrp://H.EXAMPLE.COM;tcp",
                true,
            ),
            (
                "msrp://%41%42.example.com;tcp",
                "msrp://%61%62.example.com;tcp",
                true,
            ),
            (
                "msrp://a%7Eb.example.com;tcp",
                "msrp://a~b.example.com;tcp",
                true,
            ),
            (
                "msrp://a%5Fb.example.com;tcp",
                "msrp://a_b.example.com;tcp",
                true,
            ),
            (
                "msrp://a%2Db.example.com;tcp",
                "msrp://a-b.example.com;tcp",
                true,
            ),
            // Reserved characters stay encoded: the hex digits compare without case, but an
            // encoded sub-delimiter is not the same as the sub-delimiter itself.
            (
                "msrp://a%2Fb.example.com;tcp",
                "msrp://a%2fb.example.com;tcp",
                true,
            ),
            (
                "msrp://a%21b.example.com;tcp",
                "msrp://a!b.example.com;tcp",
                false,
            ),
            (
                "msrp://a%2Bb.example.com;tcp",
                "msrp://a+b.example.com;tcp",
                false,
            ),
            (
                "msrp://a%2Eb.example.com;tcp",
                "msrp://a%2Ec.example.com;tcp",
                false,
            ),
        ],
    );
}

#[test]
fn rule_2_userinfo_is_ignored() {
    // RFC 4975 §6.1: "Userinfo parts are not considered for URI comparison."
    check(
        "userinfo",
        &[
            (
                "msrps://alice@h.example.com;tcp",
                "msrps://bob@h.example.com;tcp",
                true,
            ),
            (
                "msrps://alice@h.example.com;tcp",
                "msrps://h.example.com;tcp",
                true,
            ),
            (
                "msrps://ALICE@h.example.com;tcp",
                "msrps://alice@h.example.com;tcp",
                true,
            ),
            (
                "msrps://alice@h.example.com;tcp",
                "msrps://alice@g.example.com;tcp",
                false,
            ),
        ],
    );
}

#[test]
fn rule_2_names_without_case() {
    // RFC 4975 §6.1: "Otherwise, the authority component is compared as a case-insensitive
    // character string."
    check(
        "host name",
        &[
            (
                "msrp://Host.Example.COM:7/s;tcp",
                "msrp://host.example.com:7/s;tcp",
                true,
            ),
            (
                "msrp://host.example.com:7/s;tcp",
                "msrp://host.example.org:7/s;tcp",
                false,
            ),
            (
                "msrp://host.example.com:7/s;tcp",
                "msrp://host.example.com.:7/s;tcp",
                false,
            ),
            (
                "msrp://a.example.com:7/s;tcp",
                "msrp://ab.example.com:7/s;tcp",
                false,
            ),
        ],
    );
}

#[test]
fn rule_3_port() {
    // RFC 4975 §6.1: "If the port exists explicitly in either URI, then it MUST match exactly.
    // A URI with an explicit port is never equivalent to another with no port specified."
    check(
        "port",
        &[
            (
                "msrp://h.example.com:1/s;tcp",
                "msrp://h.example.com:1/s;tcp",
                true,
            ),
            (
                "msrp://h.example.com:1/s;tcp",
                "msrp://h.example.com:2/s;tcp",
                false,
            ),
            (
                "msrp://h.example.com:2855/s;tcp",
                "msrp://h.example.com/s;tcp",
                false,
            ),
            (
                "msrp://h.example.com/s;tcp",
                "msrp://h.example.com/s;tcp",
                true,
            ),
            // Ports are compared as numbers ("port equivalence").
            (
                "msrp://h.example.com:080/s;tcp",
                "msrp://h.example.com:80/s;tcp",
                true,
            ),
            ("msrp://[::1]:1/s;tcp", "msrp://[::1]:2/s;tcp", false),
        ],
    );
}

#[test]
fn rule_4_session_id() {
    // RFC 4975 §6.1: "The session-id part is compared as case sensitive.  A URI without a
    // session-id part is never equivalent to one that includes one."
    check(
        "session-id",
        &[
            (
                "msrp://h.example.com:1/abc;tcp",
                "msrp://h.example.com:1/abc;tcp",
                true,
            ),
            (
                "msrp://h.example.com:1/abc;tcp",
                "msrp://h.example.com:1/ABC;tcp",
                false,
            ),
            (
                "msrp://h.example.com:1/abc;tcp",
                "msrp://h.example.com:1;tcp",
                false,
            ),
            (
                "msrp://h.example.com:1;tcp",
                "msrp://h.example.com:1;tcp",
                true,
            ),
            (
                "msrp://h.example.com:1/abc;tcp",
                "msrp://h.example.com:1/abcd;tcp",
                false,
            ),
            // RFC 4975 §6.1: "Path normalization [10] is not relevant for MSRP URIs."
            (
                "msrp://h.example.com:1/a/../b;tcp",
                "msrp://h.example.com:1/b;tcp",
                false,
            ),
            (
                "msrp://h.example.com:1/a/./b;tcp",
                "msrp://h.example.com:1/a/b;tcp",
                false,
            ),
        ],
    );
}

#[test]
fn rule_5_transport() {
    // RFC 4975 §6.1: "URIs with different "transport" parameters never match.  Two URIs that
    // are identical except for transport are not equivalent.  The transport parameter is case
    // insensitive."
    check(
        "transport",
        &[
            (
                "msrp://h.example.com:1/s;tcp",
                "msrp://h.example.com:1/s;TCP",
                true,
            ),
            (
                "msrp://h.example.com:1/s;Ws",
                "msrp://h.example.com:1/s;wS",
                true,
            ),
            (
                "msrp://h.example.com:1/s;SCTP",
                "msrp://h.example.com:1/s;sctp",
                true,
            ),
            (
                "msrp://h.example.com:1/s;tcp",
                "msrp://h.example.com:1/s;ws",
                false,
            ),
            (
                "msrp://h.example.com:1/s;tcp",
                "msrp://h.example.com:1/s;tls",
                false,
            ),
            (
                "msrp://h.example.com:1/s;tcp",
                "msrp://h.example.com:1/s;tcp2",
                false,
            ),
        ],
    );
}

#[test]
fn other_uri_parameters_are_not_compared() {
    // §6.1 lists no rule for URI parameters other than the transport, so they do not count.
    check(
        "parameters",
        &[
            (
                "msrp://h.example.com:1/s;tcp;a=1",
                "msrp://h.example.com:1/s;tcp",
                true,
            ),
            (
                "msrp://h.example.com:1/s;tcp;a=1",
                "msrp://h.example.com:1/s;tcp;a=2",
                true,
            ),
        ],
    );
}

#[test]
fn rfc_7977_example_paths_differ_by_port() {
    // RFC 7977 §8.3.1 and §8.4.1: the SDP offers of the WebSocket client give its URI with a
    // port, but some SENDs of §8.3.2 and §8.4.2 carry it in From-Path without one. By §6.1
    // rule 3 they are different URIs, so a strict receiver would not recognise the session.
    check(
        "rfc 7977 example",
        &[(
            "msrps://df7jal23ls0d.invalid:2855/98cjs;ws",
            "msrps://df7jal23ls0d.invalid/98cjs;ws",
            false,
        )],
    );
}
