//! Running the real `emrebuild` binary from integration tests: on an unexpected exit code the
//! test fails printing the command, the exit code, stdout and stderr.
#![allow(dead_code)] // each test file uses its own subset

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Run `emrebuild args...` and require exit code `expect_code`.
pub fn emrebuild(args: &[&str], expect_code: i32) -> Output {
    let out = Command::cargo_bin("emrebuild")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    if out.status.code() != Some(expect_code) {
        panic!(
            "command: emrebuild {}\nexit: {:?} (expected {expect_code})\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// stdout and stderr of a run, as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A path as the `&str` an argument list needs.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Whether the environment says this is CI (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// `../shared/real/<name>`, or `None` (with a line saying the test is skipped) when it is
/// absent. Under `CI=true` an absent file fails the test instead: CI can never pass by
/// skipping the tests whose truth comes from real files.
pub fn real(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/real")).join(name);
    if p.is_file() {
        return Some(p);
    }
    if in_ci() {
        panic!(
            "{} is absent and CI=true: a test that needs ../shared/real must not pass by skipping",
            p.display()
        );
    }
    println!("skipped: {} is absent", p.display());
    None
}

/// The real V4 extent map of `../shared/real`, under the rule of [`real`].
pub fn real_v4() -> Option<PathBuf> {
    real("BRM_saves_em.v4-syscat")
}

/// The findings of kind `kind` in a `rebuild --json` report.
pub fn findings<'a>(report: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    report["findings"]
        .as_array()
        .expect("a findings array")
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

/// `emrebuild rebuild --json` of the tree at `tree` (its `Columnstore.xml`) into `out` with
/// `extra` arguments, requiring exit code `code`: the report (parsed) and stderr.
pub fn rebuild_json(
    tree: &Path,
    out: &Path,
    extra: &[&str],
    code: i32,
) -> (serde_json::Value, String) {
    let config = tree.join("Columnstore.xml");
    let mut args = vec![
        "rebuild",
        "--config",
        s(&config),
        "--output",
        s(out),
        "--json",
    ];
    args.extend_from_slice(extra);
    let (stdout, stderr) = text(&emrebuild(&args, code));
    (serde_json::from_str(&stdout).unwrap(), stderr)
}

/// The files next to `out` named `<its name>.bak-…`: extent maps a command moved aside.
pub fn moved_aside(out: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.bak-", out.file_name().unwrap().to_string_lossy());
    std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .collect()
}
