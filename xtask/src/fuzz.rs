//! `cargo xtask fuzz [TARGET] [--time S] [--smoke]`: run the cargo-fuzz targets for a while.
//!
//! The targets are those `cargo fuzz list` names (the binaries of `fuzz/Cargo.toml`, one per file
//! in `fuzz/fuzz_targets/`). `cargo-fuzz` is installed with `cargo install cargo-fuzz --locked`
//! when it is missing, and every `cargo fuzz` command runs with `RUSTC_BOOTSTRAP=1`, which lets
//! the stable toolchain accept the sanitizer flags that cargo-fuzz passes.
//!
//! All targets are built first, so that fuzzing time is not build time. Then each target runs for
//! S seconds (`-max_total_time=S`, default 60; `--smoke`: 10) on two corpus directories:
//! `fuzz/corpus/TARGET`, created if needed and ignored by git, where libFuzzer writes the inputs
//! it finds, and `fuzz/seeds/TARGET`, the committed seeds, which libFuzzer reads but never writes.
//!
//! With `-print_final_stats=1` libFuzzer ends with `stat::` lines; from them (and its `Done N runs
//! in S second(s)` line) this prints, per target, `fuzz TARGET execs N time S crashes C`. A crash
//! (or leak, timeout or out-of-memory) leaves an artifact under `fuzz/artifacts/TARGET/`: its path
//! is printed, and the task exits non-zero after the remaining targets have run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::{Error, Result, exec};

/// Seconds per target when no time is given.
const DEFAULT_SECONDS: u64 = 60;

/// Seconds per target with `--smoke`.
const SMOKE_SECONDS: u64 = 10;

/// Prefixes of the artifact files that libFuzzer writes for a failure. (It also writes
/// `slow-unit-` files, which are not failures.)
const FAILURE_PREFIXES: &[&str] = &["crash-", "leak-", "timeout-", "oom-"];

/// What `cargo xtask fuzz` was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Options {
    /// The one target to run, or all of them.
    target: Option<String>,
    /// How long to run each target.
    seconds: u64,
}

impl Options {
    /// Parses the arguments that follow `fuzz`.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let usage = |message: String| {
            Error::usage(format!(
                "xtask fuzz: {message}\nusage: cargo xtask fuzz [TARGET] [--time S] [--smoke]"
            ))
        };
        let mut target = None;
        let mut time = None;
        let mut smoke = false;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let value = if arg == "--time" {
                Some(
                    args.next()
                        .ok_or_else(|| usage("--time needs a number of seconds".into()))?
                        .as_str(),
                )
            } else {
                arg.strip_prefix("--time=")
            };
            if let Some(value) = value {
                match value.parse::<u64>() {
                    Ok(seconds) if seconds > 0 => time = Some(seconds),
                    _ => {
                        return Err(usage(format!(
                            "--time wants whole seconds > 0, not `{value}`"
                        )));
                    }
                }
            } else if arg == "--smoke" {
                smoke = true;
            } else if arg.starts_with('-') {
                return Err(usage(format!("unknown option `{arg}`")));
            } else if let Some(first) = &target {
                return Err(usage(format!(
                    "one target at most (got `{first}` and `{arg}`)"
                )));
            } else {
                target = Some(arg.clone());
            }
        }
        let seconds = match (time, smoke) {
            (Some(_), true) => return Err(usage("--smoke and --time exclude each other".into())),
            (Some(seconds), false) => seconds,
            (None, true) => SMOKE_SECONDS,
            (None, false) => DEFAULT_SECONDS,
        };
        Ok(Self { target, seconds })
    }
}

/// Fails with a clear message unless the fuzz workspace exists.
pub(crate) fn require_workspace(root: &Path) -> Result<()> {
    if root.join("fuzz").join("Cargo.toml").is_file() {
        Ok(())
    } else {
        Err(Error::failed(
            "fuzz/Cargo.toml is missing: there is no cargo-fuzz workspace to build or run yet",
        ))
    }
}

/// Installs cargo-fuzz with `cargo install cargo-fuzz --locked` unless `cargo fuzz` already runs.
pub(crate) fn ensure_cargo_fuzz(root: &Path) -> Result<()> {
    let probe = exec::cargo(root).args(["fuzz", "--version"]).output();
    if let Ok(output) = probe {
        if output.status.success() {
            println!(
                "cargo-fuzz is installed: {}",
                String::from_utf8_lossy(&output.stdout).trim()
            );
            return Ok(());
        }
    }
    println!("cargo-fuzz is missing: installing it (this takes a minute or two)");
    exec::run(exec::cargo(root).args(["install", "cargo-fuzz", "--locked"]))
}

/// A `cargo fuzz` command run from the repository root with `RUSTC_BOOTSTRAP=1`.
fn cargo_fuzz(root: &Path) -> Command {
    let mut command = exec::cargo(root);
    command.env("RUSTC_BOOTSTRAP", "1").arg("fuzz");
    command
}

/// The command that builds one fuzz target, or all of them.
pub(crate) fn build_command(root: &Path, target: Option<&str>) -> Command {
    let mut command = cargo_fuzz(root);
    command.arg("build").args(target);
    command
}

/// Runs the fuzz targets as [`Options`] say; see the module documentation.
pub(crate) fn run(root: &Path, options: &Options) -> Result<()> {
    require_workspace(root)?;
    ensure_cargo_fuzz(root)?;
    let listed = exec::output(cargo_fuzz(root).arg("list"))?;
    let all: Vec<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let targets: Vec<&str> = match &options.target {
        Some(target) if all.contains(&target.as_str()) => vec![target.as_str()],
        Some(target) => {
            return Err(Error::usage(format!(
                "xtask fuzz: no fuzz target `{target}`; the targets are: {}",
                all.join(", ")
            )));
        }
        None if all.is_empty() => {
            return Err(Error::failed(
                "xtask fuzz: `cargo fuzz list` names no target",
            ));
        }
        None => all.clone(),
    };
    println!(
        "fuzz: {} for {} s each: {}",
        if targets.len() == 1 {
            "1 target"
        } else {
            "targets"
        },
        options.seconds,
        targets.join(", ")
    );
    exec::run(&mut build_command(root, options.target.as_deref()))?;

    let mut summaries = Vec::new();
    let mut failures = Vec::new();
    for target in targets {
        let report = run_target(root, target, options.seconds)?;
        let line = report.summary_line(target);
        println!("{line}");
        summaries.push(line);
        if let Some(problem) = report.problem(target, root) {
            failures.push(problem);
        }
    }
    println!();
    for line in &summaries {
        println!("{line}");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        for failure in &failures {
            println!("{failure}");
        }
        Err(Error::failed(format!(
            "xtask fuzz: {} target(s) failed",
            failures.len()
        )))
    }
}

/// What one fuzzing run did.
#[derive(Debug)]
struct Report {
    /// What libFuzzer printed about the run.
    stats: Stats,
    /// Whether `cargo fuzz run` exited with 0.
    success: bool,
    /// The exit status as text, for messages.
    status: String,
    /// Wall-clock seconds of the run, when libFuzzer did not say.
    wall_seconds: u64,
}

impl Report {
    /// The line `fuzz TARGET execs N time S crashes C`; `?` stands for a number libFuzzer did
    /// not print.
    fn summary_line(&self, target: &str) -> String {
        let execs = self
            .stats
            .executed_units
            .or(self.stats.done_runs)
            .map_or_else(|| "?".to_string(), |n| n.to_string());
        let time = self.stats.done_seconds.unwrap_or(self.wall_seconds);
        format!(
            "fuzz {target} execs {execs} time {time} crashes {}",
            self.stats.failures().count()
        )
    }

    /// Describes what went wrong, if anything: the artifacts of failures, or a failed command
    /// that left none.
    fn problem(&self, target: &str, root: &Path) -> Option<String> {
        let failures: Vec<String> = self
            .stats
            .failures()
            .map(|path| {
                let path = Path::new(path);
                path.strip_prefix(root)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            })
            .collect();
        if !failures.is_empty() {
            Some(
                failures
                    .iter()
                    .map(|path| format!("fuzz {target}: artifact {path}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        } else if !self.success {
            Some(format!(
                "fuzz {target}: `cargo fuzz run` failed ({}) and left no artifact",
                self.status
            ))
        } else {
            None
        }
    }
}

/// Runs one target for `seconds` on its corpus and seeds, with the output streamed through.
fn run_target(root: &Path, target: &str, seconds: u64) -> Result<Report> {
    let corpus = root.join("fuzz").join("corpus").join(target);
    fs::create_dir_all(&corpus).map_err(|e| {
        Error::failed(format!(
            "xtask fuzz: cannot create {}: {e}",
            corpus.display()
        ))
    })?;
    let seeds: PathBuf = root.join("fuzz").join("seeds").join(target);
    let mut command = cargo_fuzz(root);
    command.args(["run", target]).arg(&corpus);
    if seeds.is_dir() {
        command.arg(&seeds);
    } else {
        println!("fuzz {target}: no fuzz/seeds/{target}/, starting from the corpus alone");
    }
    command
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1");
    println!("\n==> fuzz {target}: {}", exec::display(&command));
    let started = Instant::now();
    let teed = exec::run_tee(&mut command, Stats::is_wanted)?;
    Ok(Report {
        stats: Stats::parse(&teed.lines),
        success: teed.status.success(),
        status: teed.status.to_string(),
        wall_seconds: started.elapsed().as_secs_f64().round() as u64,
    })
}

/// What libFuzzer printed about a run, read from its output.
#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    /// `stat::number_of_executed_units`, printed with `-print_final_stats=1`.
    executed_units: Option<u64>,
    /// N of `Done N runs in S second(s)`, printed when a run ends without a failure.
    done_runs: Option<u64>,
    /// S of the same line.
    done_seconds: Option<u64>,
    /// The files named by `Test unit written to PATH`, in order.
    artifacts: Vec<String>,
}

impl Stats {
    /// Tells whether an output line is one that [`Stats::parse`] reads.
    fn is_wanted(line: &str) -> bool {
        line.starts_with("stat::")
            || line.contains("Test unit written to ")
            || (line.contains("Done ") && line.contains(" runs in "))
    }

    /// Reads the lines of a libFuzzer run's output; lines it does not know are skipped.
    fn parse<S: AsRef<str>>(lines: &[S]) -> Self {
        let mut stats = Self::default();
        for line in lines {
            let line = line.as_ref().trim();
            if let Some(rest) = line.strip_prefix("stat::number_of_executed_units:") {
                stats.executed_units = rest.trim().parse().ok();
            } else if let Some((_, path)) = line.split_once("Test unit written to ") {
                stats.artifacts.push(path.trim().to_string());
            } else if let Some((_, rest)) = line.split_once("Done ") {
                // `Done 1234 runs in 10 second(s)`, possibly after a `==PID== ` prefix.
                let words: Vec<&str> = rest.split_whitespace().collect();
                if let [runs, "runs", "in", secs, ..] = words[..] {
                    if let (Ok(runs), Ok(secs)) = (runs.parse(), secs.parse()) {
                        stats.done_runs = Some(runs);
                        stats.done_seconds = Some(secs);
                    }
                }
            }
        }
        stats
    }

    /// The artifacts that record a failure (crash, leak, timeout, out of memory).
    fn failures(&self) -> impl Iterator<Item = &str> {
        self.artifacts.iter().map(String::as_str).filter(|path| {
            let name = Path::new(path)
                .file_name()
                .map(|name| name.to_string_lossy())
                .unwrap_or_default();
            FAILURE_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_default_to_all_targets_for_sixty_seconds() {
        let options = Options::parse(&[]).unwrap();
        assert_eq!(
            options,
            Options {
                target: None,
                seconds: 60
            }
        );
    }

    #[test]
    fn options_take_a_target_time_or_smoke() {
        let options = Options::parse(&args(&["decode", "--time", "5"])).unwrap();
        assert_eq!(
            options,
            Options {
                target: Some("decode".into()),
                seconds: 5
            }
        );
        let options = Options::parse(&args(&["--time=7"])).unwrap();
        assert_eq!(options.seconds, 7);
        let options = Options::parse(&args(&["--smoke", "uri"])).unwrap();
        assert_eq!(
            options,
            Options {
                target: Some("uri".into()),
                seconds: 10
            }
        );
    }

    #[test]
    fn options_reject_bad_input() {
        for bad in [
            &["--time"][..],
            &["--time", "0"],
            &["--time", "1.5"],
            &["--time=x"],
            &["--smoke", "--time", "3"],
            &["a", "b"],
            &["--runs"],
        ] {
            assert!(Options::parse(&args(bad)).is_err(), "{bad:?} was accepted");
        }
    }

    /// The end of a libFuzzer run that reached `-max_total_time` with `-print_final_stats=1`.
    const CLEAN_RUN: &str = "\
#524288\tpulse  cov: 310 ft: 1021 corp: 120/6133b lim: 4096 exec/s: 52428 rss: 61Mb
#612002\tDONE   cov: 312 ft: 1030 corp: 121/6180b lim: 4096 exec/s: 55636 rss: 61Mb
Done 612002 runs in 11 second(s)
stat::number_of_executed_units: 612002
stat::average_exec_per_sec:     55636
stat::new_units_added:          37
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              61
";

    #[test]
    fn parses_a_clean_run() {
        let lines: Vec<&str> = CLEAN_RUN.lines().filter(|l| Stats::is_wanted(l)).collect();
        assert_eq!(lines.len(), 6);
        let stats = Stats::parse(&lines);
        assert_eq!(
            stats,
            Stats {
                executed_units: Some(612_002),
                done_runs: Some(612_002),
                done_seconds: Some(11),
                artifacts: vec![],
            }
        );
        let report = Report {
            stats,
            success: true,
            status: "exit status: 0".into(),
            wall_seconds: 12,
        };
        assert_eq!(
            report.summary_line("decode"),
            "fuzz decode execs 612002 time 11 crashes 0"
        );
        assert_eq!(report.problem("decode", Path::new("repo")), None);
    }

    #[test]
    fn parses_a_crash_and_ignores_slow_units() {
        let output = "\
Slowest unit: 2 s:
artifact_prefix='repo/fuzz/artifacts/decode/'; Test unit written to repo/fuzz/artifacts/decode/slow-unit-0a1b
thread '<unnamed>' panicked at fuzz_targets/decode.rs:5:5:
==4242== ERROR: libFuzzer: deadly signal
MS: 2 ChangeBit-InsertByte-; base unit: 0000000000000000000000000000000000000000
artifact_prefix='repo/fuzz/artifacts/decode/'; Test unit written to repo/fuzz/artifacts/decode/crash-da39a3ee
Base64: TVNSUA==
stat::number_of_executed_units: 1337
stat::average_exec_per_sec:     0
";
        let lines: Vec<&str> = output.lines().filter(|l| Stats::is_wanted(l)).collect();
        let stats = Stats::parse(&lines);
        assert_eq!(stats.executed_units, Some(1337));
        assert_eq!(stats.done_runs, None);
        assert_eq!(stats.artifacts.len(), 2);
        assert_eq!(
            stats.failures().collect::<Vec<_>>(),
            ["repo/fuzz/artifacts/decode/crash-da39a3ee"]
        );
        let report = Report {
            stats,
            success: false,
            status: "exit status: 1".into(),
            wall_seconds: 3,
        };
        assert_eq!(
            report.summary_line("decode"),
            "fuzz decode execs 1337 time 3 crashes 1"
        );
        assert_eq!(
            report.problem("decode", Path::new("repo")).as_deref(),
            Some("fuzz decode: artifact fuzz/artifacts/decode/crash-da39a3ee")
        );
    }

    #[test]
    fn a_failed_run_without_artifact_is_still_a_problem() {
        let report = Report {
            stats: Stats::default(),
            success: false,
            status: "exit status: 101".into(),
            wall_seconds: 0,
        };
        assert_eq!(
            report.summary_line("uri"),
            "fuzz uri execs ? time 0 crashes 0"
        );
        assert!(
            report
                .problem("uri", Path::new("."))
                .unwrap()
                .contains("no artifact")
        );
    }

    #[test]
    fn done_line_with_pid_prefix_and_junk_is_handled() {
        let stats = Stats::parse(&["==77== Done 42 runs in 3 second(s)", "Done reading corpus"]);
        assert_eq!((stats.done_runs, stats.done_seconds), (Some(42), Some(3)));
    }
}
