//! `msrp relay`: run an RFC 4976 relay.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_mio_transport::{
    Identity, PeerVerification, RelayConfig, RelayEvent, RelayServer, RelayServerConfig,
    RelayStats, Users, WebPage,
};
use serde_json::json;

use crate::Failure;
use crate::util::{NOT_DELIVERED, USAGE, out_line};

/// The browser chat page `--web` serves (`examples/web-chat/index.html`).
const WEB_CHAT: &str = include_str!("../../../examples/web-chat/index.html");

/// How often `--json` prints the relay's counters, when they changed.
const STATS_EVERY: Duration = Duration::from_secs(10);

/// Arguments of `msrp relay`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:2855", value_name = "ADDR:PORT")]
    bind: SocketAddr,
    /// The host in the relay's URIs; the bound IP address by default.
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// Listen for msrps (TLS), with a generated certificate unless --cert and --key give one.
    #[arg(long)]
    tls: bool,
    /// With --tls: the certificate chain, PEM.
    #[arg(long, requires_all = ["tls", "key"], value_name = "FILE")]
    cert: Option<PathBuf>,
    /// With --tls: the private key, PEM.
    #[arg(long, requires_all = ["tls", "cert"], value_name = "FILE")]
    key: Option<PathBuf>,
    /// Challenge every AUTH with HTTP digest (RFC 4976 §6.3) against these users: one
    /// `name:password` per line, `#` for comments. Without it every AUTH is granted.
    #[arg(long, value_name = "FILE")]
    auth_file: Option<PathBuf>,
    /// Trust these CA certificates (PEM) for peer relays (RFC 4976 §6.3): next hops reached
    /// over msrps must show a certificate from them for the host of their URI, and a relay
    /// that connects with one for the host of its first From-Path URI is granted URIs without
    /// digest. Without it no msrps next hop can be reached.
    #[arg(long, value_name = "FILE")]
    relay_ca: Option<PathBuf>,
    /// Listen for WebSocket clients (RFC 7977) too, over TLS (wss) with --tls: browsers reach
    /// MSRP only this way. The second line printed is then the relay's WebSocket URI.
    #[arg(long, value_name = "ADDR:PORT")]
    ws_bind: Option<SocketAddr>,
    /// With --ws-bind: serve the browser chat page at `http://ADDR:PORT/` (`https://` with
    /// --tls), which connects back to this relay's WebSocket listener.
    #[arg(long, requires = "ws_bind")]
    web: bool,
    /// The digest realm; the host by default.
    #[arg(long, value_name = "REALM")]
    realm: Option<String>,
    /// Print one JSON object per line after the URI: auth, auth_refused, session_ended,
    /// failure_report, connection_closed, stats.
    #[arg(long)]
    json: bool,
}

/// Runs `msrp relay`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let host = args.host.clone().unwrap_or_else(|| match args.bind.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    });
    let mut relay = RelayConfig::new(host, args.bind.port());
    if let Some(realm) = &args.realm {
        relay.realm.clone_from(realm);
    }
    match &args.auth_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::new(USAGE, format!("cannot read {}: {e}", path.display())))?;
            let users = Users::parse(&text)
                .map_err(|e| Failure::new(USAGE, format!("{}: {e}", path.display())))?;
            relay.users = Some(users);
        }
        None => eprintln!(
            "msrp: relay without --auth-file: every AUTH is granted, no one is challenged"
        ),
    }
    let mut config = RelayServerConfig::new(relay);
    config.ws_bind = args.ws_bind;
    if args.web {
        config.transport.web_page = Some(WebPage {
            content_type: "text/html; charset=utf-8",
            body: Bytes::from_static(WEB_CHAT.as_bytes()),
        });
    }
    if let Some(path) = &args.relay_ca {
        let roots = PeerVerification::roots_from_pem_file(path)
            .map_err(|e| Failure::new(USAGE, format!("cannot read {}: {e}", path.display())))?;
        config.next_hop_check = roots.into();
    }
    if args.tls {
        let identity = match (&args.cert, &args.key) {
            (Some(cert), Some(key)) => Identity::from_pem_files(cert, key)
                .map_err(|e| Failure::new(USAGE, format!("cannot read --cert/--key: {e}")))?,
            _ => Identity::self_signed(&[&config.relay.host]).map_err(|e| {
                Failure::new(NOT_DELIVERED, format!("cannot make a certificate: {e}"))
            })?,
        };
        // Clients check the relay's certificate by this (`--relay-fingerprint`); stdout keeps
        // the URI alone on its first line.
        eprintln!(
            "msrp: relay certificate fingerprint {}",
            identity.fingerprint()
        );
        config.transport.identity = Some(identity);
    }
    let server = RelayServer::start(config, args.bind, args.tls).map_err(|e| {
        Failure::new(
            NOT_DELIVERED,
            format!("cannot listen on {}: {e}", args.bind),
        )
    })?;
    out_line(server.uri())?;
    if let Some(uri) = server.ws_uri() {
        out_line(uri)?;
    }
    if let (true, Some(addr)) = (args.web, server.ws_addr()) {
        let scheme = if args.tls { "https" } else { "http" };
        eprintln!("msrp: browser chat page at {scheme}://{addr}/");
    }
    let mut last = RelayStats::default();
    let mut printed = Instant::now();
    loop {
        let event = server.events().recv_timeout(Duration::from_secs(1));
        if args.json {
            if let Some(event) = &event {
                out_line(&event_json(event).to_string())?;
            }
            if printed.elapsed() >= STATS_EVERY {
                printed = Instant::now();
                let Ok(stats) = server.handle().stats() else {
                    break;
                };
                if stats != last {
                    last = stats;
                    out_line(
                        &json!({
                            "event": "stats",
                            "forwarded": stats.forwarded,
                            "forwarded_bytes": stats.forwarded_bytes,
                            "relayed_responses": stats.relayed_responses,
                            "refused": stats.refused,
                            "failure_reports": stats.failure_reports,
                        })
                        .to_string(),
                    )?;
                }
            }
        } else if let Some(RelayEvent::Authenticated { user, uri, .. }) = &event {
            eprintln!(
                "msrp: granted {uri}{}",
                user.as_ref()
                    .map(|u| format!(" to {u}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// A relay event as one JSON object.
fn event_json(event: &RelayEvent) -> serde_json::Value {
    match event {
        RelayEvent::Authenticated {
            user, uri, expires, ..
        } => json!({"event": "auth", "user": user, "uri": uri, "expires": expires.as_secs()}),
        RelayEvent::AuthRefused { user, status, .. } => {
            json!({"event": "auth_refused", "user": user, "status": status})
        }
        RelayEvent::SessionEnded { uri } => json!({"event": "session_ended", "uri": uri}),
        RelayEvent::FailureReported { status, message_id } => {
            json!({"event": "failure_report", "status": status, "message_id": message_id})
        }
        RelayEvent::ConnectionClosed { peer, reason, .. } => json!({
            "event": "connection_closed",
            "peer": peer.map(|p| p.to_string()),
            "reason": reason.to_string(),
        }),
        other => json!({"event": "other", "debug": format!("{other:?}")}),
    }
}
