//! The real ColumnStore files of `../shared/real` (SEG §8), for every engine test that reads
//! them: one locator, one rule. A test whose file is absent is skipped (it prints a line and
//! passes) on a developer's machine, but FAILS under `CI=true`, so CI can never pass by
//! skipping the tests whose truth comes from outside the code.
#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;

/// The folder holding the real files.
pub const REAL_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/real");

/// Whether the environment says this is CI (`CI=true`, as GitHub Actions and most CI set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The path of `../shared/real/<name>`, or `None` when it is absent (the caller returns: the
/// test is skipped). Under `CI=true` an absent file fails the test instead.
pub fn real(name: &str) -> Option<PathBuf> {
    real_under(name, in_ci())
}

/// [`real`] with the CI flag given (so the rule itself can be tested without touching the
/// process environment).
pub fn real_under(name: &str, ci: bool) -> Option<PathBuf> {
    let p = PathBuf::from(REAL_DIR).join(name);
    if p.is_file() {
        return Some(p);
    }
    if ci {
        panic!(
            "{} is absent and CI=true: a test that needs ../shared/real must not pass by skipping",
            p.display()
        );
    }
    println!("skipped: {} is absent", p.display());
    None
}

/// The bytes of `../shared/real/<name>`, under the rule of [`real`].
pub fn real_bytes(name: &str) -> Option<(PathBuf, Vec<u8>)> {
    let p = real(name)?;
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    Some((p, bytes))
}
