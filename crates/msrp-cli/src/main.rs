//! `msrp`: decode MSRP byte streams, and (in later releases) debug live MSRP sessions.
//!
//! Every error is one line on stderr and a non-zero exit status; the command never panics on
//! bad input.

#![forbid(unsafe_code)]

mod decode;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command-line tool for MSRP (RFC 4975).
#[derive(Debug, Parser)]
#[command(name = "msrp", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode an MSRP byte stream (a file, or stdin) and print each frame.
    Decode(decode::Args),
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
    let result = match cli.command {
        Command::Decode(args) => decode::run(&args),
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
