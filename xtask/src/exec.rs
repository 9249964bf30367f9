//! Running child processes: `cargo` itself, plain runs, and runs whose output is both streamed to
//! the terminal and read for a few lines of interest.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;

use crate::{Error, Result};

/// The longest line kept for parsing; longer lines are cut (the output itself is never cut).
const MAX_LINE: usize = 64 * 1024;

/// Returns a `Command` for the cargo that runs this xtask, with the repository root as its
/// working directory.
///
/// `CARGO` is set by cargo for the programs it runs, so nested commands use the same toolchain;
/// plain `cargo` from `PATH` is the fallback.
pub(crate) fn cargo(root: &Path) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(program);
    command.current_dir(root);
    command
}

/// Renders a command as a shell-like line for headers and error messages: its environment
/// overrides, `cargo` for the program, then the arguments.
pub(crate) fn display(command: &Command) -> String {
    let mut parts = Vec::new();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            parts.push(format!(
                "{}={}",
                key.to_string_lossy(),
                quote(&value.to_string_lossy())
            ));
        }
    }
    let program = Path::new(command.get_program())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    parts.push(program);
    parts.extend(command.get_args().map(|arg| quote(&arg.to_string_lossy())));
    parts.join(" ")
}

/// Quotes a word for display when it holds characters a shell would treat specially.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("\"{}\"", word.replace('"', "\\\""))
    }
}

/// Runs a command with the terminal as its input and output; fails unless it exits with 0.
pub(crate) fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .map_err(|e| Error::failed(format!("could not run `{}`: {e}", display(command))))?;
    check(command, status)
}

/// Fails with a message naming the command unless `status` is success.
pub(crate) fn check(command: &Command, status: ExitStatus) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "`{}` failed ({status})",
            display(command)
        )))
    }
}

/// Runs a command and returns its standard output as text, for short listings such as
/// `cargo fuzz list`. Its standard error goes to the terminal.
pub(crate) fn output(command: &mut Command) -> Result<String> {
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::failed(format!("could not run `{}`: {e}", display(command))))?;
    check(command, output.status)?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What a command printed that was worth keeping, and how it ended.
#[derive(Debug)]
pub(crate) struct Teed {
    /// How the command exited.
    pub(crate) status: ExitStatus,
    /// The lines (from standard output, then standard error) that the filter kept, trimmed.
    pub(crate) lines: Vec<String>,
}

/// Runs a command whose standard output and standard error are passed through to ours as they
/// come (unchanged, byte for byte), and keeps the lines for which `keep` is true.
///
/// A line is split at `\r` as well as `\n`, so that progress output that redraws a line does not
/// hide a line of interest. The command's exit status is returned, not judged.
pub(crate) fn run_tee(command: &mut Command, keep: fn(&str) -> bool) -> Result<Teed> {
    let shown = display(command);
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::failed(format!("could not run `{shown}`: {e}")))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Error::failed(format!("`{shown}`: no pipes to read from")));
    };
    let (from_stdout, from_stderr) = thread::scope(|scope| {
        let out = scope.spawn(move || tee(stdout, io::stdout(), keep));
        let err = scope.spawn(move || tee(stderr, io::stderr(), keep));
        (out.join(), err.join())
    });
    let status = child
        .wait()
        .map_err(|e| Error::failed(format!("`{shown}`: could not wait for it: {e}")))?;
    let mut lines = Vec::new();
    for from in [from_stdout, from_stderr] {
        match from {
            Ok(Ok(kept)) => lines.extend(kept),
            Ok(Err(e)) => return Err(Error::failed(format!("`{shown}`: reading output: {e}"))),
            Err(_) => return Err(Error::failed(format!("`{shown}`: output reader panicked"))),
        }
    }
    Ok(Teed { status, lines })
}

/// Copies `from` to `to` until end of file and returns the lines that `keep` selects.
///
/// Errors writing to `to` (a closed terminal or pipe) are ignored so that the child is never
/// blocked on a full pipe; errors reading `from` are returned.
fn tee(mut from: impl Read, mut to: impl Write, keep: fn(&str) -> bool) -> io::Result<Vec<String>> {
    let mut buffer = [0u8; 8192];
    let mut line = Vec::new();
    let mut kept = Vec::new();
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buffer[..n];
        let _ = to.write_all(chunk).and_then(|()| to.flush());
        for &byte in chunk {
            if byte == b'\n' || byte == b'\r' {
                keep_line(&mut line, keep, &mut kept);
            } else if line.len() < MAX_LINE {
                line.push(byte);
            }
        }
    }
    keep_line(&mut line, keep, &mut kept);
    Ok(kept)
}

/// Moves a finished line into `kept` when `keep` selects it, and empties it either way.
fn keep_line(line: &mut Vec<u8>, keep: fn(&str) -> bool, kept: &mut Vec<String>) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if !text.is_empty() && keep(text) {
        kept.push(text.to_string());
    }
    line.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts_with_ratio(line: &str) -> bool {
        line.starts_with("ratio ")
    }

    #[test]
    fn tee_copies_everything_and_keeps_selected_lines() {
        let input = b"Benchmarking x\rratio a 1.0 goal 0.5\nother\nratio b 2 goal 3";
        let mut copy = Vec::new();
        let kept = tee(&input[..], &mut copy, starts_with_ratio).unwrap();
        assert_eq!(copy, input);
        assert_eq!(kept, ["ratio a 1.0 goal 0.5", "ratio b 2 goal 3"]);
    }

    #[test]
    fn tee_handles_crlf_and_blank_lines() {
        let mut copy = Vec::new();
        let kept = tee(
            &b"\r\n\r\nratio c 1 goal 1\r\n"[..],
            &mut copy,
            starts_with_ratio,
        )
        .unwrap();
        assert_eq!(kept, ["ratio c 1 goal 1"]);
    }

    #[test]
    fn display_shows_env_and_quotes() {
        let mut command = Command::new("/usr/bin/cargo");
        command
            .env("RUSTDOCFLAGS", "-D warnings")
            .args(["doc", "--bench", "*"]);
        assert_eq!(
            display(&command),
            "RUSTDOCFLAGS=\"-D warnings\" cargo doc --bench \"*\""
        );
    }
}
