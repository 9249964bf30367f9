//! `cargo xtask ci`: every check CI makes, in order, stopping at the first failure.
//!
//! The steps, cheapest first:
//!
//! | step | what it runs |
//! | --- | --- |
//! | `fmt` | `cargo fmt --all -- --check` |
//! | `tidy` | the checks of [`crate::tidy`], in this process |
//! | `clippy` | `cargo clippy --workspace --all-targets -- -D warnings` |
//! | `doc` | `RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps` |
//! | `test` | `cargo test --workspace` |
//! | `fuzz-fmt` | `cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check` |
//! | `fuzz-clippy` | `RUSTFLAGS="--cfg fuzzing" cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings` |
//! | `fuzz-install` | `cargo install cargo-fuzz --locked`, only when `cargo fuzz` is missing |
//! | `fuzz-build` | `RUSTC_BOOTSTRAP=1 cargo fuzz build` (every target, with the sanitizer, on stable) |
//!
//! `fuzz-clippy` sets `--cfg fuzzing` as `cargo fuzz` does, so that it checks the same code the
//! fuzz build compiles, including modules gated on `cfg(fuzzing)`. The fuzz steps fail with a
//! clear message when `fuzz/Cargo.toml` does not exist. No fuzzing is done here: that is
//! `cargo xtask fuzz`.
//!
//! Each step prints a header line before it starts and its time when it ends; a failed step
//! ends the run with its name and a non-zero exit status.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{Error, Result, exec, fuzz, tidy};

/// What a step does, given the repository root.
type Action = Box<dyn Fn(&Path) -> Result<()>>;

/// One step of the CI run.
struct Step {
    /// A short name, shown in headers and in the failure message.
    name: &'static str,
    /// What the step runs, as a command line or a sentence.
    what: String,
    /// Runs the step from the repository root.
    run: Action,
}

/// A step that runs cargo with `args` and `env` from the repository root.
fn cargo_step(
    name: &'static str,
    root: &Path,
    env: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
) -> Step {
    let command = move |root: &Path| {
        let mut command = exec::cargo(root);
        command.envs(env.iter().copied()).args(args);
        command
    };
    Step {
        name,
        what: exec::display(&command(root)),
        run: Box::new(move |root| exec::run(&mut command(root))),
    }
}

/// Wraps a fuzz step so that it first checks that the fuzz workspace exists.
fn needs_fuzz_workspace(step: Step) -> Step {
    let Step { name, what, run } = step;
    Step {
        name,
        what,
        run: Box::new(move |root| {
            fuzz::require_workspace(root)?;
            run(root)
        }),
    }
}

/// The steps of a CI run, in order.
fn steps(root: &Path) -> Vec<Step> {
    vec![
        cargo_step("fmt", root, &[], &["fmt", "--all", "--", "--check"]),
        Step {
            name: "tidy",
            what: "xtask tidy (machine paths, unsafe_code, READMEs, crate metadata)".to_string(),
            run: Box::new(tidy::run),
        },
        cargo_step(
            "clippy",
            root,
            &[],
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
        cargo_step(
            "doc",
            root,
            &[("RUSTDOCFLAGS", "-D warnings")],
            &["doc", "--workspace", "--no-deps"],
        ),
        cargo_step("test", root, &[], &["test", "--workspace"]),
        needs_fuzz_workspace(cargo_step(
            "fuzz-fmt",
            root,
            &[],
            &[
                "fmt",
                "--manifest-path",
                "fuzz/Cargo.toml",
                "--all",
                "--",
                "--check",
            ],
        )),
        needs_fuzz_workspace(cargo_step(
            "fuzz-clippy",
            root,
            &[("RUSTFLAGS", "--cfg fuzzing")],
            &[
                "clippy",
                "--manifest-path",
                "fuzz/Cargo.toml",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        )),
        Step {
            name: "fuzz-install",
            what: "cargo install cargo-fuzz --locked (only if `cargo fuzz` is missing)".to_string(),
            run: Box::new(fuzz::ensure_cargo_fuzz),
        },
        needs_fuzz_workspace(Step {
            name: "fuzz-build",
            what: exec::display(&fuzz::build_command(root, None)),
            run: Box::new(|root| exec::run(&mut fuzz::build_command(root, None))),
        }),
    ]
}

/// Runs every step in order; stops at the first failure.
pub(crate) fn run(root: &Path) -> Result<()> {
    let steps = steps(root);
    let total = steps.len();
    let started = Instant::now();
    let mut times = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        println!(
            "\n==> ci [{}/{total}] {}: {}",
            index + 1,
            step.name,
            step.what
        );
        let step_started = Instant::now();
        let result = (step.run)(root);
        let elapsed = step_started.elapsed();
        if let Err(error) = result {
            return Err(Error::failed(format!(
                "ci: step `{}` failed after {}: {error}",
                step.name,
                seconds(elapsed)
            )));
        }
        println!(
            "<== ci [{}/{total}] {}: ok in {}",
            index + 1,
            step.name,
            seconds(elapsed)
        );
        times.push((step.name, elapsed));
    }
    println!(
        "\nci: all {total} steps passed in {}",
        seconds(started.elapsed())
    );
    for (name, elapsed) in times {
        println!("  {name:<14} {:>9}", seconds(elapsed));
    }
    Ok(())
}

/// Formats a duration as seconds with one decimal, e.g. `12.3 s`.
fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}
