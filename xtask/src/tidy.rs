//! `cargo xtask tidy`: a few checks of the repository that the compiler does not make.
//!
//! 1. No file in the repository (tracked, or new and not ignored) holds an absolute path of a
//!    developer machine: a path that starts at a home or work directory at the file system root.
//!    Such a path works on one machine only. A line that must keep one says `tidy:allow-path`.
//! 2. Every crate under `crates/` has `#![forbid(unsafe_code)]` in each of its `src/lib.rs` and
//!    `src/main.rs`, and a `README.md`.
//! 3. Every publishable crate under `crates/` names `description`, `license`, `readme`,
//!    `keywords` and `categories` in the `[package]` table of its `Cargo.toml` (directly or
//!    `.workspace = true`), as crates.io shows them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, Result};

/// Directories at the file system root under which a developer's files live. The checker looks
/// for `/` + one of these + `/`; the names are kept apart from the slashes here so that this file
/// passes its own check.
const MACHINE_DIRS: &[&str] = &["home", "root", "work", "Users"];

/// A marker that exempts its line from the absolute path check.
const ALLOW_MARKER: &str = "tidy:allow-path";

/// The `[package]` keys that a publishable crate must have.
const REQUIRED_PACKAGE_KEYS: &[&str] =
    &["description", "license", "readme", "keywords", "categories"];

/// The attribute every crate root must carry.
const FORBID_UNSAFE: &str = "#![forbid(unsafe_code)]";

/// Runs every check, prints each problem on a line of its own, and fails if there was any.
pub(crate) fn run(root: &Path) -> Result<()> {
    let mut problems = Vec::new();
    let files = repository_files(root)?;
    let mut checked = 0;
    for file in &files {
        let Ok(bytes) = fs::read(root.join(file)) else {
            // Listed by git but deleted from the work tree: nothing to check.
            continue;
        };
        if bytes.contains(&0) {
            continue; // Binary.
        }
        checked += 1;
        let text = String::from_utf8_lossy(&bytes);
        for (line, path) in find_machine_paths(&text) {
            problems.push(format!(
                "{}:{line}: absolute path of a developer machine `{path}`; use a relative path \
                 (or mark the line `{ALLOW_MARKER}`)",
                file.display()
            ));
        }
    }
    let crates = crate_dirs(root)?;
    for dir in &crates {
        problems.extend(check_crate(root, dir));
    }
    for problem in &problems {
        println!("tidy: {problem}");
    }
    if problems.is_empty() {
        println!(
            "tidy: ok ({checked} text files, {} crates under crates/)",
            crates.len()
        );
        Ok(())
    } else {
        Err(Error::failed(format!(
            "tidy: {} problem(s) found",
            problems.len()
        )))
    }
}

/// Lists the repository's files relative to `root`: those git tracks plus new files that are
/// not ignored, so that a file is checked before it is first committed.
fn repository_files(root: &Path) -> Result<Vec<PathBuf>> {
    let output = Command::new("git")
        .current_dir(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .map_err(|e| Error::failed(format!("tidy: could not run git ls-files: {e}")))?;
    if !output.status.success() {
        return Err(Error::failed(format!(
            "tidy: git ls-files failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let mut files: Vec<PathBuf> = output
        .stdout
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// Finds absolute paths of a developer machine in `text`: returns each one's 1-based line number
/// and the path as written (up to the first character that cannot be part of a path).
///
/// A path counts when `/DIR/` (DIR one of [`MACHINE_DIRS`]) starts at the beginning of a line or
/// after a character that cannot continue a word or path (space, quote, `=`, `(`, `:` ...), or
/// after `file://`. So `https://example.com/home/x` and `crates/work/x` are not reported.
fn find_machine_paths(text: &str) -> Vec<(usize, String)> {
    let needles: Vec<String> = MACHINE_DIRS.iter().map(|dir| format!("/{dir}/")).collect();
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.contains(ALLOW_MARKER) {
            continue;
        }
        for needle in &needles {
            let mut from = 0;
            while let Some(at) = line[from..].find(needle.as_str()) {
                let start = from + at;
                if starts_path(&line[..start]) {
                    let end = line[start..]
                        .find(|c: char| c.is_whitespace() || "\"'`)]},;<>|".contains(c))
                        .map_or(line.len(), |len| start + len);
                    found.push((index + 1, line[start..end].to_string()));
                }
                from = start + needle.len();
            }
        }
    }
    found.sort();
    found
}

/// Tells whether an absolute path may begin right after `before`.
fn starts_path(before: &str) -> bool {
    match before.chars().next_back() {
        None => true,
        Some('/') => before.ends_with("file://"),
        Some(c) => c.is_whitespace() || "\"'`=([{<>:,;|".contains(c),
    }
}

/// Lists the directories under `crates/` that hold a `Cargo.toml`, relative to `root`.
fn crate_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let entries = fs::read_dir(root.join("crates"))
        .map_err(|e| Error::failed(format!("tidy: cannot read crates/: {e}")))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::failed(format!("tidy: reading crates/: {e}")))?;
        let dir = Path::new("crates").join(entry.file_name());
        if root.join(&dir).join("Cargo.toml").is_file() {
            dirs.push(dir);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Checks one crate directory (relative to `root`) and returns its problems.
fn check_crate(root: &Path, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let shown = dir.display();
    if !root.join(dir).join("README.md").is_file() {
        problems.push(format!("{shown}: no README.md"));
    }
    let roots: Vec<PathBuf> = ["src/lib.rs", "src/main.rs"]
        .iter()
        .map(|file| dir.join(file))
        .filter(|file| root.join(file).is_file())
        .collect();
    if roots.is_empty() {
        problems.push(format!("{shown}: neither src/lib.rs nor src/main.rs"));
    }
    for file in roots {
        match fs::read_to_string(root.join(&file)) {
            Ok(source) if forbids_unsafe(&source) => {}
            Ok(_) => problems.push(format!("{}: no `{FORBID_UNSAFE}`", file.display())),
            Err(e) => problems.push(format!("{}: cannot read: {e}", file.display())),
        }
    }
    let manifest = dir.join("Cargo.toml");
    match fs::read_to_string(root.join(&manifest)) {
        Ok(text) => {
            for key in missing_package_keys(&text) {
                problems.push(format!(
                    "{}: [package] has no `{key}` (needed to publish; or set `publish = false`)",
                    manifest.display()
                ));
            }
        }
        Err(e) => problems.push(format!("{}: cannot read: {e}", manifest.display())),
    }
    problems
}

/// Tells whether a crate root carries `#![forbid(unsafe_code)]` (possibly among other lints,
/// as in `#![forbid(unsafe_code, missing_docs)]`) on a line of its own.
fn forbids_unsafe(source: &str) -> bool {
    source.lines().map(str::trim).any(|line| {
        line.strip_prefix("#![forbid(")
            .and_then(|rest| rest.strip_suffix(")]"))
            .is_some_and(|lints| lints.split(',').any(|lint| lint.trim() == "unsafe_code"))
    })
}

/// Returns the required `[package]` keys that a manifest lacks; none when the crate is not
/// published (`publish = false`).
///
/// This reads only what it needs of TOML: table headers, and the key before `=` on each line of
/// the `[package]` table, where `key.workspace = true` counts as `key`, and `license-file` counts
/// as `license`.
fn missing_package_keys(manifest: &str) -> Vec<&'static str> {
    let mut in_package = false;
    let mut keys = Vec::new();
    let mut published = true;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let key = key.strip_suffix(".workspace").unwrap_or(key).trim();
        let key = if key == "license-file" {
            "license"
        } else {
            key
        };
        if key == "publish" && matches!(value.trim(), "false" | "[]") {
            published = false;
        }
        keys.push(key.to_string());
    }
    if !published {
        return Vec::new();
    }
    REQUIRED_PACKAGE_KEYS
        .iter()
        .copied()
        .filter(|required| !keys.iter().any(|key| key == required))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds `/DIR/REST` at run time, so that this file holds no such path literally.
    fn abs(dir: &str, rest: &str) -> String {
        format!("/{dir}/{rest}")
    }

    #[test]
    fn finds_machine_paths_after_word_boundaries() {
        let text = format!(
            "first line\ncd {}\nlet p = \"{}\";\nPATH=x:{} and {}\n{}\n",
            abs("home", "alice/msrp"),
            abs("work", "main/target"),
            abs("root", ".cargo/bin"),
            abs("Users", "bob/x"),
            abs("work", "shared/DESIGN.md"),
        );
        assert_eq!(
            find_machine_paths(&text),
            [
                (2, abs("home", "alice/msrp")),
                (3, abs("work", "main/target")),
                (4, abs("Users", "bob/x")),
                (4, abs("root", ".cargo/bin")),
                (5, abs("work", "shared/DESIGN.md")),
            ]
        );
    }

    #[test]
    fn file_urls_are_paths_but_web_urls_and_relative_paths_are_not() {
        let text = format!(
            "see file://{}\nsee https://example.com{}\ncrates{}\n$HOME{}\n",
            abs("home", "a/b"),
            abs("home", "index.html"),
            abs("work", "lib.rs"),
            abs("work", "x"),
        );
        assert_eq!(find_machine_paths(&text), [(1, abs("home", "a/b"))]);
    }

    #[test]
    fn other_roots_and_partial_names_are_not_reported() {
        let text = format!(
            "{}\n{}\n/homework/x\n/tmp/x\n{}",
            abs("usr", "bin/cargo"),
            abs("workspace", "x"),
            "/home" // No trailing slash: not a path under the directory.
        );
        assert!(find_machine_paths(&text).is_empty());
    }

    #[test]
    fn allow_marker_exempts_its_line_only() {
        let text = format!(
            "{} # {ALLOW_MARKER}\n{}\n",
            abs("root", "a"),
            abs("root", "b")
        );
        assert_eq!(find_machine_paths(&text), [(2, abs("root", "b"))]);
    }

    #[test]
    fn a_path_ends_at_a_quote_or_bracket() {
        let text = format!("x = [\"{}\"]", abs("home", "c/d"));
        assert_eq!(find_machine_paths(&text), [(1, abs("home", "c/d"))]);
    }

    #[test]
    fn this_file_passes_its_own_check() {
        assert!(find_machine_paths(include_str!("tidy.rs")).is_empty());
    }

    #[test]
    fn forbid_unsafe_is_found_alone_or_among_lints() {
        assert!(forbids_unsafe("//! Docs.\n\n#![forbid(unsafe_code)]\n"));
        assert!(forbids_unsafe("#![forbid(missing_docs, unsafe_code)]"));
        assert!(!forbids_unsafe("// #![forbid(unsafe_code)]\n"));
        assert!(!forbids_unsafe("#![deny(unsafe_code)]\n"));
        assert!(!forbids_unsafe("#![forbid(unsafe_op_in_unsafe_fn)]\n"));
        assert!(!forbids_unsafe("//! placeholder\n"));
    }

    #[test]
    fn complete_manifest_lacks_nothing() {
        let manifest = r#"
[package]
name = "msrp-wire"
description = "MSRP frames"
readme = "README.md"
keywords = ["msrp", "rfc4975"]
categories = [
    "network-programming",
]
version.workspace = true
license.workspace = true

[dependencies]
bytes.workspace = true
"#;
        assert!(missing_package_keys(manifest).is_empty());
    }

    #[test]
    fn keys_outside_package_do_not_count() {
        let manifest = r#"
[package]
name = "x"
license-file = "LICENSE"

[package.metadata.docs]
keywords = ["no"]

[dependencies]
description = "not a package key"
"#;
        assert_eq!(
            missing_package_keys(manifest),
            ["description", "readme", "keywords", "categories"]
        );
    }

    #[test]
    fn unpublished_crates_need_no_metadata() {
        assert!(missing_package_keys("[package]\nname = \"x\"\npublish = false\n").is_empty());
        assert_eq!(
            missing_package_keys("[package]\nname = \"x\"\npublish = true\n").len(),
            REQUIRED_PACKAGE_KEYS.len()
        );
    }
}
