//! `cargo xtask bench [--quick]`: run the criterion benches and report their ratios.
//!
//! This runs `cargo bench -p msrp-benches --bench '*'`: every bench target of the `msrp-benches`
//! crate (the files in `benches/benches/`), but not its library's unit tests, which would reject
//! criterion's options. The benches' output is streamed through as it comes.
//!
//! Each bench measures its own baseline in the same run and prints its result on standard output
//! as a line `ratio NAME VALUE goal GOAL` (VALUE and GOAL decimal numbers). This task collects
//! those lines and, at the very end, prints them again together, with `MISSED` after each whose
//! VALUE is below its GOAL, then a line saying how many met their goal. A missed goal is
//! reported, not failed: the exit status is 0 unless `cargo bench` itself fails.
//!
//! `--quick` keeps the whole run short (under two minutes is the aim) in two ways:
//!
//! - it sets `MSRP_BENCH_QUICK=1`, which the benches read to shorten their own loops and inputs;
//! - it passes `--warm-up-time 0.5 --measurement-time 1 --sample-size 10 --noplot` to criterion,
//!   which shortens every benchmark whose settings the bench code does not fix itself.

use std::fmt;
use std::path::Path;

use crate::{Error, Result, exec};

/// The options criterion gets with `--quick`.
const QUICK_CRITERION_ARGS: &[&str] = &[
    "--warm-up-time",
    "0.5",
    "--measurement-time",
    "1",
    "--sample-size",
    "10",
    "--noplot",
];

/// What `cargo xtask bench` was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Options {
    /// Short run: `MSRP_BENCH_QUICK=1` and short criterion times.
    quick: bool,
}

impl Options {
    /// Parses the arguments that follow `bench`.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut quick = false;
        for arg in args {
            match arg.as_str() {
                "--quick" => quick = true,
                other => {
                    return Err(Error::usage(format!(
                        "xtask bench: unexpected argument `{other}`\nusage: cargo xtask bench [--quick]"
                    )));
                }
            }
        }
        Ok(Self { quick })
    }
}

/// Runs the benches and prints the ratio report; see the module documentation.
pub(crate) fn run(root: &Path, options: &Options) -> Result<()> {
    let bench_dir = root.join("benches").join("benches");
    let has_benches = std::fs::read_dir(&bench_dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok())
                .any(|entry| entry.path().extension().is_some_and(|ext| ext == "rs"))
        })
        .unwrap_or(false);
    if !has_benches {
        return Err(Error::failed(
            "xtask bench: benches/benches/ holds no .rs file: there is no bench to run yet",
        ));
    }
    let mut command = exec::cargo(root);
    command.args(["bench", "-p", "msrp-benches", "--bench", "*"]);
    if options.quick {
        command
            .env("MSRP_BENCH_QUICK", "1")
            .arg("--")
            .args(QUICK_CRITERION_ARGS);
    }
    println!("==> bench: {}", exec::display(&command));
    let teed = exec::run_tee(&mut command, |line| line.starts_with("ratio "))?;

    println!("\n==> bench: ratios");
    let mut met = 0;
    let mut ratios = 0;
    for line in &teed.lines {
        match Ratio::parse(line) {
            Some(ratio) => {
                ratios += 1;
                if ratio.is_met() {
                    met += 1;
                }
                println!("{ratio}");
            }
            None => println!("{line}   (not `ratio NAME VALUE goal GOAL`: ignored)"),
        }
    }
    if ratios == 0 {
        println!("bench: no bench printed a `ratio NAME VALUE goal GOAL` line");
    } else {
        println!("bench: {met} of {ratios} ratios met their goal");
    }
    exec::check(&command, teed.status)
}

/// One `ratio NAME VALUE goal GOAL` line of a bench.
#[derive(Debug, PartialEq)]
struct Ratio<'a> {
    /// What was compared, as the bench named it.
    name: &'a str,
    /// The measured ratio.
    value: f64,
    /// The ratio the issue asks for; the goal is met when `value >= goal`.
    goal: f64,
    /// The numbers as printed, so that they are shown again unchanged.
    value_text: &'a str,
    /// The goal as printed.
    goal_text: &'a str,
}

impl<'a> Ratio<'a> {
    /// Reads a line of exactly the words `ratio NAME VALUE goal GOAL`; `None` for anything else.
    fn parse(line: &'a str) -> Option<Self> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let ["ratio", name, value_text, "goal", goal_text] = words[..] else {
            return None;
        };
        Some(Self {
            name,
            value: value_text.parse().ok()?,
            goal: goal_text.parse().ok()?,
            value_text,
            goal_text,
        })
    }

    /// Tells whether the goal was met: `value >= goal` (never for a NaN).
    fn is_met(&self) -> bool {
        self.value >= self.goal
    }
}

impl fmt::Display for Ratio<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ratio {} {} goal {}",
            self.name, self.value_text, self.goal_text
        )?;
        if !self.is_met() {
            f.write_str(" MISSED")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ratio_lines() {
        let ratio = Ratio::parse("ratio decode_vs_naive 1.25 goal 0.9").unwrap();
        assert_eq!(ratio.name, "decode_vs_naive");
        assert_eq!(ratio.value, 1.25);
        assert_eq!(ratio.goal, 0.9);
        assert!(ratio.is_met());
        assert_eq!(ratio.to_string(), "ratio decode_vs_naive 1.25 goal 0.9");
    }

    #[test]
    fn below_goal_is_missed_and_equal_is_met() {
        let missed = Ratio::parse("ratio tls_vs_tcp 0.31 goal 0.40").unwrap();
        assert!(!missed.is_met());
        assert_eq!(missed.to_string(), "ratio tls_vs_tcp 0.31 goal 0.40 MISSED");
        let equal = Ratio::parse("ratio x 0.5 goal 0.50").unwrap();
        assert!(equal.is_met());
        assert!(!Ratio::parse("ratio nan NaN goal 1").unwrap().is_met());
    }

    #[test]
    fn rejects_lines_of_another_shape() {
        for line in [
            "ratio",
            "ratio a 1.0",
            "ratio a 1.0 goal",
            "ratio a x goal 1",
            "ratio a 1 goal y",
            "ratio a 1 target 1",
            "ratio a 1 goal 1 extra",
            "ratios a 1 goal 1",
        ] {
            assert_eq!(Ratio::parse(line), None, "{line}");
        }
    }

    #[test]
    fn options() {
        assert_eq!(Options::parse(&[]).unwrap(), Options { quick: false });
        assert_eq!(
            Options::parse(&["--quick".to_string()]).unwrap(),
            Options { quick: true }
        );
        assert!(Options::parse(&["--slow".to_string()]).is_err());
    }
}
