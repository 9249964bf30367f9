//! `cargo xtask`: the project's automation, written as plain Rust with no dependencies.
//!
//! Run it through the alias in `.cargo/config.toml`, from any directory inside the repository:
//! `cargo xtask ci`, `cargo xtask tidy`, `cargo xtask fuzz`, `cargo xtask bench`. Each task lives
//! in a module of its own; this file only parses the task name and hands over to it.
//!
//! This crate does not build or test anything itself: it runs `cargo` (and `cargo fuzz`) in the
//! right order with the right settings, checks the repository's hygiene (`tidy`), and reads the
//! output of the fuzzers and benches to print a short summary.

#![forbid(unsafe_code)]

mod bench;
mod ci;
mod exec;
mod fuzz;
mod tidy;

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

/// The text printed by `cargo xtask help` and when no task is given.
const USAGE: &str = "\
Usage: cargo xtask <TASK> [OPTIONS]

Tasks:
  ci                       run every CI check in order, stopping at the first failure:
                           fmt, tidy, clippy, doc, test, then fmt/clippy/build of fuzz/
                           (this is what .ci/run runs)
  tidy                     check the repository: no absolute paths of a developer machine in
                           tracked files; every crate under crates/ forbids unsafe code and has
                           a README.md and the crates.io metadata in its Cargo.toml
  fuzz [TARGET] [--time S] [--smoke]
                           run every fuzz target (or TARGET) for S seconds each (default 60;
                           --smoke: 10), corpus in fuzz/corpus/TARGET seeded from
                           fuzz/seeds/TARGET; prints `fuzz TARGET execs N time S crashes C`
                           per target and exits non-zero on a crash
  bench [--quick]          run the criterion benches of msrp-benches, then repeat every
                           `ratio NAME VALUE goal GOAL` line they printed and count how many met
                           their goal; --quick sets MSRP_BENCH_QUICK=1 and short criterion times
  help                     print this text

  interop: not yet implemented
";

/// An error that ends a task: printed as one line on stderr, with the process's exit status.
#[derive(Debug)]
pub(crate) struct Error {
    /// What went wrong, as one line.
    message: String,
    /// The process exit status to use: 1 for a failed task, 2 for a usage error.
    code: u8,
}

impl Error {
    /// A task failed (a check did not pass, a command could not be run).
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }

    /// The command line was wrong.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The result of a task or of a step of one.
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// Returns the repository root: the parent of the `xtask/` directory.
///
/// `cargo run` sets `CARGO_MANIFEST_DIR` for the program it runs; the value baked in at build time
/// is the fallback for a binary started by hand. Either way the tasks work from any directory.
pub(crate) fn repo_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    match manifest_dir.parent() {
        Some(root) => root.to_path_buf(),
        None => manifest_dir,
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let result = match task.as_deref() {
        None | Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some("ci") => no_options("ci", &rest).and_then(|()| ci::run(&repo_root())),
        Some("tidy") => no_options("tidy", &rest).and_then(|()| tidy::run(&repo_root())),
        Some("fuzz") => fuzz::Options::parse(&rest).and_then(|o| fuzz::run(&repo_root(), &o)),
        Some("bench") => bench::Options::parse(&rest).and_then(|o| bench::run(&repo_root(), &o)),
        Some("interop") => Err(Error::usage(
            "xtask interop: not yet implemented (there is no interop harness in this repository yet)",
        )),
        Some(other) => Err(Error::usage(format!(
            "xtask: unknown task `{other}`; run `cargo xtask help` for the list"
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(error.code)
        }
    }
}

/// Fails with a usage error when a task that takes no options was given some.
fn no_options(task: &str, rest: &[String]) -> Result<()> {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(Error::usage(format!(
            "xtask {task}: unexpected argument `{arg}`; run `cargo xtask help`"
        ))),
    }
}
