//! `backup create --lock` against a real MariaDB server (`scripts/mariadb-test-server.sh`, which
//! `.ci/run` starts and whose socket it exports as `EMREBUILD_TEST_MARIADB_SOCKET`).
//!
//! The lock is observed from another session: a write with `lock_wait_timeout = 1` times out
//! (error 1205) while `save_brm` runs and after the copy, and succeeds once emrebuild has finished.
//! Skipped, saying so, where no server was started; under `CI=true` a missing server fails.

mod dbrm_site;
mod util;

use dbrm_site::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use util::s;

/// The global read lock is server-wide: the tests of this file take turns.
static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The test server's socket, or `None` (skip) outside CI.
fn server() -> Option<PathBuf> {
    match std::env::var_os("EMREBUILD_TEST_MARIADB_SOCKET") {
        Some(p) if Path::new(&p).exists() => Some(PathBuf::from(p)),
        other => {
            let why = match other {
                Some(p) => format!("EMREBUILD_TEST_MARIADB_SOCKET={} does not exist", Path::new(&p).display()),
                None => "EMREBUILD_TEST_MARIADB_SOCKET is not set (start one with scripts/mariadb-test-server.sh start)".into(),
            };
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("no MariaDB test server under CI: {why}");
            }
            println!("skipped: {why}");
            None
        }
    }
}

fn client() -> &'static str {
    if Path::new("/usr/bin/mariadb").exists() {
        "/usr/bin/mariadb"
    } else {
        "mysql"
    }
}

/// A shell script that tries one INSERT from its own session and appends `blocked` (error 1205,
/// lock wait timeout) or `written` to `log`; `then` runs after it.
fn probe_script(path: &Path, sock: &Path, log: &Path, then: &str) {
    let script = format!(
        "#!/bin/sh\n\
         if {client} --no-defaults -S {sock} -u emtest -pemtest \
           -e 'SET SESSION lock_wait_timeout=1; INSERT INTO emtest.t VALUES (1)' 2>{log}.err; then\n\
           echo written >> {log}\n\
         elif grep -q 'Lock wait timeout' {log}.err; then echo blocked >> {log}; else cat {log}.err >> {log}; fi\n\
         {then}\n",
        client = client(),
        sock = sock.display(),
        log = log.display(),
    );
    fs::write(path, script).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn lines(log: &Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `backup create --lock` of `site` into `root`, with `save_brm`, the server at `sock` and the
/// test user's `password`, followed by `extra`.
fn locked_backup<'a>(
    site: &'a Site,
    root: &'a Path,
    save_brm: &'a str,
    sock: &'a Path,
    password: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "backup",
        "create",
        "--config",
        s(&site.config),
        "--to",
        s(root),
        "--lock",
        "--save-brm",
        save_brm,
        "--socket",
        s(sock),
        "--user",
        "emtest",
        "--password",
        password,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn the_lock_is_held_for_save_brm_and_the_whole_copy() {
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(sock) = server() else { return };
    let site = site();
    let log = site.root.join("probe.log");
    // The fake save_brm saves as the real one does: <prefix>_em, an empty journal, and
    // `_current` naming BRM_saves (EM §4.2) — here the map of the B snapshot.
    let save_brm = site.root.join("save_brm");
    let d = &site.dbrm;
    let then = format!(
        "cp {b} {d}/BRM_saves_em && : > {d}/BRM_saves_journal && printf 'BRM_saves\\n' > {d}/BRM_saves_current",
        b = d.join("BRM_savesB_em").display(),
        d = d.display()
    );
    probe_script(&save_brm, &sock, &log, &then);
    let hook = site.root.join("after_copy");
    probe_script(&hook, &sock, &log, "");
    let root = site.root.join("bk");
    let (out, _) = emrebuild(
        &locked_backup(
            &site,
            &root,
            s(&save_brm),
            &sock,
            "emtest",
            &["--name", "locked", "--after-copy-hook", s(&hook), "--json"],
        ),
        0,
    );
    // During save_brm and after the copy, from another session: blocked.
    assert_eq!(
        lines(&log),
        ["blocked", "blocked"],
        "{:?}",
        fs::read_to_string(log.with_extension("log.err"))
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["manifest"]["locked"], true);
    assert_eq!(doc["manifest"]["loaded_prefix"], "BRM_saves");
    assert_eq!(fs::read(root.join("locked/BRM_saves_em")).unwrap(), site.em);
    assert_eq!(
        fs::read(root.join("locked/BRM_saves_journal")).unwrap(),
        b""
    );
    // Released: the same write now goes through.
    let after = site.root.join("after");
    probe_script(&after, &sock, &log, "");
    assert!(std::process::Command::new(&after)
        .status()
        .unwrap()
        .success());
    assert_eq!(lines(&log).last().map(String::as_str), Some("written"));
}

#[test]
fn a_missing_save_brm_is_a_clear_error_and_the_lock_is_released() {
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(sock) = server() else { return };
    let site = site();
    let root = site.root.join("bk");
    let (_, err) = emrebuild(
        &locked_backup(&site, &root, "/nonexistent/save_brm", &sock, "emtest", &[]),
        2,
    );
    assert!(
        err.contains("save_brm not found") && err.contains("--save-brm"),
        "{err}"
    );
    assert_eq!(
        fs::read_dir(&root)
            .unwrap()
            .filter(|e| !e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("objects"))
            .count(),
        0
    );
    let log = site.root.join("probe.log");
    let probe = site.root.join("probe");
    probe_script(&probe, &sock, &log, "");
    std::process::Command::new(&probe).status().unwrap();
    assert_eq!(lines(&log), ["written"]);
    // Wrong password: the connection error names the server.
    let (_, err) = emrebuild(
        &locked_backup(&site, &root, "/bin/true", &sock, "wrong", &[]),
        2,
    );
    assert!(err.contains("cannot connect to MariaDB at socket"), "{err}");
}
