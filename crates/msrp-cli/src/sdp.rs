//! `msrp sdp offer|answer`: the SDP of an MSRP session, and answers to offers.

use std::io::Read;

use msrp_mio_transport::secure_random;
use msrp_sdp::{Capabilities, Fingerprint, FormatEntry, Origin, Protocol, SessionDescription};
use msrp_session::{Role, SessionConfig};

use crate::Failure;
use crate::util::{NOT_DELIVERED, USAGE};

/// What `msrp sdp` does.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print the SDP offer for a listening URI (as `msrp listen` prints it).
    Offer(Local),
    /// Read an SDP offer on stdin and print the answer; the negotiated result goes to stderr.
    Answer(Local),
}

/// The local side of the session.
#[derive(Debug, clap::Args)]
pub(crate) struct Local {
    /// Our URI, as `msrp listen` prints it (the port must be explicit).
    #[arg(long, value_name = "URI")]
    path: String,
    /// Media types accepted.
    #[arg(long, default_value = "*", value_name = "TYPES")]
    accept_types: String,
    /// Largest message accepted, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_size: Option<u64>,
    /// Our certificate fingerprint, for msrps (as `msrp listen --tls` prints it).
    #[arg(long, value_name = "FINGERPRINT")]
    fingerprint: Option<String>,
}

fn capabilities(local: &Local) -> Result<Capabilities, Failure> {
    let usage = |m: String| Failure::new(USAGE, m);
    let path = local
        .path
        .parse::<msrp_uri::Path>()
        .map_err(|e| usage(format!("invalid --path {:?}: {e}", local.path)))?;
    let secure = path.last().scheme().is_secure();
    let mut caps = Capabilities::new(path.into()).map_err(|e| usage(format!("--path: {e}")))?;
    caps.accept_types = FormatEntry::parse_list(&local.accept_types)
        .ok_or_else(|| usage(format!("invalid --accept-types {:?}", local.accept_types)))?;
    caps.max_size = local.max_size;
    if secure {
        caps.set_protocol(Protocol::TcpTls)
            .map_err(|e| usage(format!("--path: {e}")))?;
        let fp = local
            .fingerprint
            .as_deref()
            .ok_or_else(|| usage("an msrps path needs --fingerprint".into()))?;
        caps.fingerprint = Some(
            Fingerprint::parse(fp).ok_or_else(|| usage(format!("invalid --fingerprint {fp:?}")))?,
        );
    }
    Ok(caps)
}

/// An `o=` line for the local side: no user name, a random session id, version 0, and the host of
/// the local URI.
pub(crate) fn origin(caps: &Capabilities) -> Origin {
    let host = caps
        .path()
        .last()
        .host_str()
        .trim_matches(['[', ']'])
        .to_owned();
    let mut id = [0u8; 8];
    secure_random()(&mut id);
    Origin {
        username: "-".into(),
        session_id: (u64::from_le_bytes(id) >> 1).to_string(),
        session_version: 0,
        net_type: "IN".into(),
        addr_type: if host.contains(':') { "IP6" } else { "IP4" }.into(),
        address: host,
    }
}

/// Runs `msrp sdp`.
pub(crate) fn run(command: &Command) -> Result<(), Failure> {
    match command {
        Command::Offer(local) => {
            let caps = capabilities(local)?;
            print!("{}", caps.create_offer(origin(&caps)));
            Ok(())
        }
        Command::Answer(local) => {
            let caps = capabilities(local)?;
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .map_err(|e| Failure::new(NOT_DELIVERED, format!("cannot read stdin: {e}")))?;
            let offer = SessionDescription::parse(&input)
                .map_err(|e| Failure::new(NOT_DELIVERED, format!("invalid offer: {e}")))?;
            let (answer, negotiated) = caps
                .create_answer(&offer, origin(&caps))
                .map_err(|e| Failure::new(NOT_DELIVERED, format!("cannot answer: {e}")))?;
            print!("{answer}");
            // The session the answer agrees on, as a transport would be given it.
            let config = SessionConfig::from_negotiated(&negotiated, secure_random());
            eprintln!(
                "msrp: {} connects; send to {}; peer accepts {}; peer max-size {}; TLS {}",
                match config.role {
                    Role::Active => "we",
                    Role::Passive => "the peer",
                },
                config.peer_path,
                config
                    .peer_accept_types
                    .iter()
                    .flatten()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                config
                    .peer_max_size
                    .map_or("none".into(), |m| m.to_string()),
                if negotiated.is_tls() { "yes" } else { "no" },
            );
            Ok(())
        }
    }
}
