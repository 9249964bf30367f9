//! `msrp`: debug MSRP (RFC 4975) sessions: decode byte streams, listen, send, and a demo.
//!
//! Every error is one line on stderr and a non-zero exit status; the command never panics on
//! bad input.

#![forbid(unsafe_code)]

mod decode;
mod demo;
mod listen;
mod relay;
mod sdp;
mod send;
mod store;
mod util;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command-line tool for MSRP (RFC 4975).
#[derive(Debug, Parser)]
#[command(name = "msrp", version, about, propagate_version = true)]
struct Cli {
    /// Show the frames sent and received on stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Two endpoints in this process exchange text messages and a generated file over
    /// loopback, check what arrives and print a summary.
    Demo(demo::Args),
    /// Accept MSRP sessions and report each message received; the first line printed is the
    /// URI to send to.
    Listen(listen::Args),
    /// Send one message; exit status 0 only when it was delivered (and reported, when asked).
    Send(send::Args),
    /// Run an MSRP relay (RFC 4976); the first line printed is its URI.
    Relay(relay::Args),
    /// Decode an MSRP byte stream (a file, or stdin) and print each frame.
    Decode(decode::Args),
    /// Print the SDP of a session, or answer an offer.
    #[command(subcommand)]
    Sdp(sdp::Command),
}

/// A failure that ends the command: its message and exit status.
#[derive(Debug)]
pub(crate) struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    pub(crate) fn new(status: u8, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    util::verbose(cli.verbose);
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Listen(args) => listen::run(args),
        Command::Send(args) => send::run(args),
        Command::Relay(args) => relay::run(args),
        Command::Decode(args) => decode::run(args),
        Command::Sdp(command) => sdp::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("msrp: {}", failure.message);
            }
            ExitCode::from(failure.status)
        }
    }
}
