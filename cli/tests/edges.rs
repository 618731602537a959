//! Safe at the edges (issue 9): hostile output paths, DBRoot specifications that would change the
//! map, special and huge files named like segment files, exit codes with `-q` and closed pipes,
//! non-UTF-8 names in `--json`, overlapping maps, Ctrl-C and concurrent writers — each with the real
//! binary.
#![cfg(unix)]

mod util;

use assert_cmd::cargo::CommandCargoExt;
use emengine::em::{CasualPartition, CpState, EmVersion, ExtentMap, ExtentRecord};
use emengine::types::{DbRootId, Lbid, Oid};
use serde_json::Value;
use std::fs;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use util::{emrebuild, findings, s, text};

fn rec(oid: i32, start: i64, hwm: u32) -> ExtentRecord {
    ExtentRecord {
        range_start: Lbid(start),
        range_size: 1,
        oid: Oid(oid),
        block_offset: 0,
        hwm,
        partition: 0,
        segment: 0,
        dbroot: DbRootId(1),
        col_width: 1,
        status: 0,
        cp: CasualPartition::narrow(CpState::VALID, 0, 9),
    }
}

/// A map of `n` one-unit extents at consecutive LBIDs, written in V5.
fn map_file(path: &Path, n: usize, hwm: u32) -> PathBuf {
    let extents = (0..n)
        .map(|i| rec(3000 + i as i32, i as i64 * 1024, hwm))
        .collect();
    ExtentMap::from_extents(extents)
        .write(path, EmVersion::V5)
        .unwrap();
    path.to_path_buf()
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(ok.success(), "mkfifo {}", path.display());
}

/// A small generated tree in `dir`.
fn gen_tree(dir: &Path) -> PathBuf {
    let t = dir.join("tree");
    emrebuild(
        &["gen", "--out", s(&t), "--size", "1MiB", "--seed", "9", "-q"],
        0,
    );
    t
}

/// DBRoot folders without data and a Columnstore.xml naming them: enough for every check that
/// comes before the scan.
fn bare_tree(dir: &Path) -> PathBuf {
    let t = dir.join("tree");
    for d in ["data1", "data2", "data4", "systemFiles/dbrm"] {
        fs::create_dir_all(t.join(d)).unwrap();
    }
    let xml = format!(
        "<Columnstore><SystemConfig><DBRoot1>{0}/data1</DBRoot1><DBRoot2>{0}/data2</DBRoot2>\
         <DBRoot4>{0}/data4</DBRoot4><DBRMRoot>{0}/systemFiles/dbrm/BRM_saves</DBRMRoot>\
         </SystemConfig></Columnstore>",
        s(&t)
    );
    fs::write(t.join("Columnstore.xml"), xml).unwrap();
    t
}

/// Run and wait at most `limit`; a run that does not end fails the test (and is killed).
fn run_within(args: &[&str], limit: Duration) -> Output {
    let child = Command::cargo_bin("emrebuild")
        .unwrap()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_within(child, limit, args)
}

fn wait_within(mut child: Child, limit: Duration, args: &[&str]) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "emrebuild {} still running after {limit:?}; stderr: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn one_error_line(err: &str) -> &str {
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("emrebuild: "), "{err}");
    err.trim_end()
}

// ---- outputs -------------------------------------------------------------------------------

#[test]
fn rebuild_refuses_devices_and_its_own_inputs_as_output() {
    let dir = tempfile::tempdir().unwrap();
    let t = bare_tree(dir.path());
    let cfg = t.join("Columnstore.xml");
    let cfg_bytes = fs::read(&cfg).unwrap();
    for dev in ["/dev/null", "/dev/full"] {
        let out = emrebuild(&["rebuild", "--config", s(&cfg), "-o", dev, "-q"], 2);
        let (_, e) = text(&out);
        assert_eq!(
            one_error_line(&e),
            format!(
                "emrebuild: {dev}: refusing to write: it is a character device, not a regular file"
            )
        );
        assert!(fs::metadata(dev).unwrap().file_type().is_char_device());
    }
    let out = emrebuild(
        &["rebuild", "--config", s(&cfg), "-o", s(&cfg), "--force"],
        2,
    );
    let (_, e) = text(&out);
    assert!(one_error_line(&e).ends_with("an input of this run"), "{e}");
    assert_eq!(fs::read(&cfg).unwrap(), cfg_bytes);
}

#[test]
fn convert_refuses_directories_fifos_and_dangling_links() {
    let dir = tempfile::tempdir().unwrap();
    let input = map_file(&dir.path().join("in_em"), 3, 0);
    let out_dir = dir.path().join("a_dir");
    fs::create_dir(&out_dir).unwrap();
    let fifo = dir.path().join("a_fifo");
    mkfifo(&fifo);
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    for (out, what) in [
        (&out_dir, "it is a directory, not a regular file"),
        (&fifo, "it is a FIFO, not a regular file"),
        (&dangling, "it is a symbolic link to"),
    ] {
        // --force never applies to these.
        let o = run_within(
            &["convert", s(&input), s(out), "--force"],
            Duration::from_secs(20),
        );
        assert_eq!(o.status.code(), Some(2));
        let (_, e) = text(&o);
        assert!(one_error_line(&e).contains(what), "{e}");
    }
    assert!(out_dir.is_dir());
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(
        !dir.path().join("nowhere").exists(),
        "written through the link"
    );
    // Nothing else appeared: no backup, no temporary, no lock file.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 4);
}

// ---- DBRoots and configuration -------------------------------------------------------------

#[test]
fn dbroot_specifications_that_would_change_the_map_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let t = &bare_tree(dir.path());
    let d1 = format!("1={}", s(&t.join("data1")));
    let out = t.parent().unwrap().join("never_written");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--dbroot".into(), d1.clone(), "--dbroot".into(), format!("1={}", s(&t.join("data2")))],
            format!("emrebuild: --dbroot 1 is given twice ({} and {})", s(&t.join("data1")), s(&t.join("data2"))),
        ),
        (
            vec!["--dbroot".into(), d1.clone(), "--dbroot".into(), format!("2={}/", s(&t.join("data1")))],
            format!(
                "emrebuild: DBRoot 1 ({}) and DBRoot 2 ({}/) are the same directory {}",
                s(&t.join("data1")),
                s(&t.join("data1")),
                s(&t.join("data1").canonicalize().unwrap())
            ),
        ),
        (
            vec!["--dbroot".into(), format!("1={}", s(t))],
            format!(
                "emrebuild: DBRoot 1 ({}) holds data1, data2, data4: that is the folder of several DBRoots, not one; give each as its own --dbroot ID=PATH",
                s(t)
            ),
        ),
    ];
    for (args, expected) in cases {
        let mut all: Vec<&str> = vec!["rebuild", "-o", s(&out)];
        all.extend(args.iter().map(String::as_str));
        let (_, e) = text(&emrebuild(&all, 2));
        assert_eq!(one_error_line(&e), expected);
    }
    assert!(!out.exists());
}

#[test]
fn configurations_that_are_ambiguous_or_incomplete_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let t = bare_tree(dir.path());
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        fs::write(
            &p,
            format!("<Columnstore><SystemConfig>{body}</SystemConfig></Columnstore>"),
        )
        .unwrap();
        p
    };
    let (a, b) = (
        s(&t.join("data1")).to_owned(),
        s(&t.join("data2")).to_owned(),
    );
    let twice = write(
        "twice.xml",
        &format!("<DBRoot1>{a}</DBRoot1><DBRoot2>{b}</DBRoot2><DBRoot2>{a}</DBRoot2><DBRMRoot>{}/em</DBRMRoot>", s(dir.path())),
    );
    let (_, e) = text(&emrebuild(&["rebuild", "--config", s(&twice)], 2));
    assert_eq!(
        one_error_line(&e),
        format!("emrebuild: {}: element \"DBRoot2\" appears twice (first \"{b}\", then \"{a}\"); ColumnStore would silently use one of them", s(&twice))
    );
    let none = write("none.xml", "<DBRootCount>1</DBRootCount>");
    let (_, e) = text(&emrebuild(&["rebuild", "--config", s(&none)], 2));
    assert_eq!(
        one_error_line(&e),
        format!("emrebuild: {}: names no DBRoot (no SystemConfig/DBRoot<N> element); give --dbroot ID=PATH", s(&none))
    );
    let no_dbrm = write("nodbrm.xml", &format!("<DBRoot1>{a}</DBRoot1>"));
    let (_, e) = text(&emrebuild(&["rebuild", "--config", s(&no_dbrm)], 2));
    assert_eq!(
        one_error_line(&e),
        format!(
            "emrebuild: {}: has no SystemConfig/DBRMRoot, so where ColumnStore loads the extent map from is not known (its built-in default is /var/lib/columnstore/data1/systemFiles/dbrm/BRM_saves_em); give --output",
            s(&no_dbrm)
        )
    );
}

// ---- special and huge files named like segment files ---------------------------------------

/// The path of segment `seg` next to the first user column file (kind "column") the
/// generator's manifest lists.
fn beside_a_column_file(tree: &Path, seg: u32) -> PathBuf {
    let m: Value = serde_json::from_slice(&fs::read(tree.join("manifest.json")).unwrap()).unwrap();
    let f = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "column" && f["oid"].as_i64().unwrap() >= 3000)
        .expect("a user column file");
    tree.join(f["path"].as_str().unwrap())
        .with_file_name(format!("FILE{seg:03}.cdf"))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn a_fifo_named_like_a_segment_file_blocks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = gen_tree(dir.path());
    let fifo = beside_a_column_file(&t, 9);
    mkfifo(&fifo);
    let limit = Duration::from_secs(60);
    let expected = format!("{}: is a FIFO, not a regular file", s(&fifo));
    for extra in [None, Some("--no-mmap")] {
        let mut args = vec!["rebuild", "--dry-run", "--json", "-q"];
        let cfg = t.join("Columnstore.xml");
        args.extend(["--config", s(&cfg)]);
        args.extend(extra);
        let o = run_within(&args, limit);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let damaged = findings(&v, "damaged");
        assert!(
            damaged
                .iter()
                .any(|d| d["path"] == s(&fifo) && d["detail"] == "is a FIFO, not a regular file"),
            "{damaged:?}"
        );
    }
    let o = run_within(&["inspect", s(&fifo)], limit);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        one_error_line(&text(&o).1),
        format!("emrebuild: {expected}")
    );
    let o = run_within(&["dump", s(&fifo)], limit);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        one_error_line(&text(&o).1),
        format!("emrebuild: {expected}")
    );
}

#[test]
fn a_huge_sparse_file_named_like_a_column_segment_is_reported_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let t = gen_tree(dir.path());
    let huge = beside_a_column_file(&t, 7);
    fs::File::create(&huge).unwrap().set_len(50 << 30).unwrap();
    for extra in [None, Some("--no-mmap")] {
        let mut args = vec!["rebuild", "--dry-run", "--json", "-q"];
        let cfg = t.join("Columnstore.xml");
        args.extend(["--config", s(&cfg)]);
        args.extend(extra);
        let o = run_within(&args, Duration::from_secs(120));
        assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let damaged = findings(&v, "damaged");
        let hit = damaged
            .iter()
            .find(|d| d["path"] == s(&huge))
            .unwrap_or_else(|| panic!("{damaged:?}"));
        let err = hit["detail"].as_str().unwrap();
        assert!(
            err.contains("invalid file size: expected at most")
                && err.contains("found 53687091200 bytes"),
            "{err}"
        );
        // Scanned bytes are those of the real files only.
        assert!(v["bytes_scanned"].as_u64().unwrap() < 1 << 30);
    }
}

// ---- exit codes and output -----------------------------------------------------------------

#[test]
fn quiet_hides_the_summary_but_never_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("damaged");
    emrebuild(
        &[
            "gen",
            "--out",
            s(&t),
            "--size",
            "2MiB",
            "--seed",
            "3",
            "--scenario",
            "damaged",
            "-q",
        ],
        0,
    );
    let out = dir.path().join("em");
    let (o, e) = text(&emrebuild(
        &[
            "rebuild",
            "--config",
            s(&t.join("Columnstore.xml")),
            "-o",
            s(&out),
            "-q",
        ],
        2,
    ));
    assert!(o.is_empty());
    let line = one_error_line(&e);
    assert!(
        line.contains("nothing written: ") && line.contains("damaged") && line.contains("first: "),
        "{line}"
    );
    assert!(!out.exists());
}

#[test]
fn names_that_are_not_utf8_are_escaped_in_json() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let t = gen_tree(dir.path());
    let odd = t
        .join("data1")
        .join(std::ffi::OsStr::from_bytes(b"stray-\xff\xfe.txt"));
    fs::write(&odd, b"x").unwrap();
    let out = dir.path().join("em");
    let mut args = vec!["rebuild", "--json", "-q", "-o", s(&out)];
    let cfg = t.join("Columnstore.xml");
    args.extend(["--config", s(&cfg)]);
    let o = emrebuild(&args, 0);
    let v: Value = serde_json::from_slice(&o.stdout).expect("complete JSON");
    let skipped: Vec<&str> = findings(&v, "skipped")
        .iter()
        .map(|x| x["path"].as_str().unwrap())
        .collect();
    let want = format!("{}/stray-\\xff\\xfe.txt", s(&t.join("data1")));
    assert!(skipped.contains(&want.as_str()), "{skipped:?}");
    assert_eq!(v["written"], true);
    assert!(out.is_file());
}

#[test]
fn diff_into_a_closed_pipe_still_exits_1_when_the_maps_differ() {
    let dir = tempfile::tempdir().unwrap();
    // 5,000 extents differing in HWM: far more output than a pipe buffer holds.
    let a = map_file(&dir.path().join("a"), 5000, 1);
    let b = map_file(&dir.path().join("b"), 5000, 2);
    for (x, y, code) in [(&a, &b, 1), (&a, &a, 0)] {
        let mut child = Command::cargo_bin("emrebuild")
            .unwrap()
            .args(["diff", s(x), s(y)])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // `| head -1`: read one line, then close the pipe.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        let n = stdout.read(&mut first).unwrap();
        assert!(n > 0);
        drop(stdout);
        let o = wait_within(child, Duration::from_secs(60), &["diff"]);
        assert_eq!(o.status.code(), Some(code), "{}", text(&o).1);
        assert!(o.stderr.is_empty(), "{}", text(&o).1);
    }
}

#[test]
fn overlapping_records_are_warned_about_and_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("overlap_em");
    // Two records at LBID 1024, and a third at 2048.
    // (Encoded by hand: every writer of the crate refuses such a map.)
    let bytes = ExtentMap::from_extents(vec![
        rec(3000, 1024, 0),
        rec(3001, 1024, 0),
        rec(3002, 2048, 0),
    ])
    .encode(EmVersion::V5);
    fs::write(&p, bytes).unwrap();
    let (o, e) = text(&emrebuild(&["dump", s(&p)], 0));
    assert_eq!(o.lines().count(), 4, "{o}");
    assert_eq!(
        e.trim_end(),
        format!(
            "warning: {}: record 0 (oid 3000 dbroot 1 partition 0 segment 0 fbo 0, lbid 1024..=2047) overlaps record 1 (oid 3001 dbroot 1 partition 0 segment 0 fbo 0, lbid 1024..=2047)",
            s(&p)
        )
    );
    let out = dir.path().join("converted");
    let (_, e) = text(&emrebuild(&["convert", s(&p), s(&out)], 2));
    assert!(
        one_error_line(&e)
            .contains("1 records overlap another record's LBID range (first: record 0"),
        "{e}"
    );
    assert!(!out.exists());
}

// ---- Ctrl-C ----------------------------------------------------------------------------------

fn signal(child: &Child, sig: i32) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

/// A writer waiting for the output lock (held here) is interrupted: 130, one line, nothing written.
#[test]
fn ctrl_c_while_waiting_to_write_exits_130_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = map_file(&dir.path().join("in_em"), 3, 0);
    let out = dir.path().join("out_em");
    let old = map_file(&out, 2, 7);
    let old_bytes = fs::read(&old).unwrap();
    let lock = emengine::output::OutputLock::acquire(&out, &|| false).unwrap();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let child = Command::cargo_bin("emrebuild")
            .unwrap()
            .args(["convert", s(&input), s(&out)])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        signal(&child, sig);
        let o = wait_within(child, Duration::from_secs(5), &["convert"]);
        assert_eq!(o.status.code(), Some(130));
        assert_eq!(text(&o).1, "emrebuild: interrupted\n");
        assert_eq!(fs::read(&out).unwrap(), old_bytes);
    }
    drop(lock);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

/// The generator stops between files and leaves no partial tree behind.
#[test]
fn ctrl_c_stops_the_generator_and_leaves_no_partial_tree() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::cargo_bin("emrebuild")
        .unwrap()
        .args([
            "gen",
            "--out",
            s(&dir.path().join("big")),
            "--size",
            "8GiB",
            "-q",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, libc::SIGINT);
    let o = wait_within(child, Duration::from_secs(5), &["gen"]);
    assert_eq!(o.status.code(), Some(130));
    assert_eq!(text(&o).1, "emrebuild: interrupted\n");
    assert!(
        !dir.path().join("big").exists(),
        "an interrupted gen left its partial tree"
    );
}

// ---- concurrency -----------------------------------------------------------------------------

#[test]
fn concurrent_converts_to_one_output_serialise() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out_em");
    let inputs: Vec<PathBuf> = (0..6)
        .map(|i| map_file(&dir.path().join(format!("in{i}")), 200 + i, 0))
        .collect();
    let children: Vec<Child> = inputs
        .iter()
        .map(|i| {
            Command::cargo_bin("emrebuild")
                .unwrap()
                .args(["convert", s(i), s(&out)])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = wait_within(c, Duration::from_secs(60), &["convert"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    }
    // One map in place and the five it replaced beside it, each complete; nothing else.
    let mut counts = Vec::new();
    for e in fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("out_em") {
            counts.push(ExtentMap::read(&p).unwrap().extents.len());
        } else {
            assert!(name.starts_with("in"), "left over: {name}");
        }
    }
    counts.sort();
    assert_eq!(counts, [200, 201, 202, 203, 204, 205]);
}

// ---- atomic outputs under SIGKILL ------------------------------------------------------------

/// Run `args` (which write `out`) once to completion for the new content, then again and again,
/// killed with SIGKILL after 0 ms, then a little later each time, up to the length of a full run.
/// After every kill: `out` holds exactly the old bytes or exactly the new ones, every
/// `<out>.bak-*` holds the old bytes, and nothing else appeared under a name that is not a
/// temporary or lock file.
fn kill_at_many_points(args: &[&str], out: &Path, points: u32) {
    let dir = out.parent().unwrap();
    let old = fs::read(out).unwrap();
    let before: Vec<_> = names_in(dir);
    let start = Instant::now();
    let o = run_within(args, Duration::from_secs(300));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let full = start.elapsed();
    let new = fs::read(out).unwrap();
    assert_ne!(new, old);
    let reset = || {
        fs::write(out, &old).unwrap();
        for n in names_in(dir) {
            if !before.contains(&n) {
                fs::remove_file(dir.join(&n)).unwrap();
            }
        }
    };
    reset();
    let mut seen_new = 0;
    for i in 0..points {
        let mut child = Command::cargo_bin("emrebuild")
            .unwrap()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full * i / points);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now =
            fs::read(out).unwrap_or_else(|e| panic!("kill point {i}: {} gone: {e}", out.display()));
        assert!(
            now == old || now == new,
            "kill point {i}: {} is partial",
            out.display()
        );
        seen_new += usize::from(now == new);
        for n in names_in(dir) {
            if before.contains(&n) {
                continue;
            }
            let name = n.to_string_lossy();
            let stem = out.file_name().unwrap().to_string_lossy();
            if name.starts_with(&format!("{stem}.bak-")) {
                assert_eq!(
                    fs::read(dir.join(&n)).unwrap(),
                    old,
                    "kill point {i}: {name}"
                );
            } else {
                assert!(
                    name.starts_with(&format!(".{stem}.tmp-")) || name == format!(".{stem}.lock"),
                    "kill point {i}: unexpected {name}"
                );
            }
        }
        reset();
    }
    println!("{points} kill points, {seen_new} after the new map was in place");
}

fn names_in(dir: &Path) -> Vec<std::ffi::OsString> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    v.sort();
    v
}

#[test]
fn sigkill_while_convert_writes_leaves_the_old_or_the_new_map() {
    let dir = tempfile::tempdir().unwrap();
    let input = map_file(&dir.path().join("in_em"), 200_000, 3);
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    let out = map_file(&work.join("out_em"), 10, 1);
    kill_at_many_points(
        &["convert", s(&input), s(&out), "--em-version", "4"],
        &out,
        24,
    );
}

#[test]
fn sigkill_while_rebuild_writes_leaves_the_old_or_the_new_map() {
    let dir = tempfile::tempdir().unwrap();
    let t = gen_tree(dir.path());
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    let out = map_file(&work.join("BRM_saves_em"), 10, 1);
    let cfg = t.join("Columnstore.xml");
    kill_at_many_points(
        &["rebuild", "--config", s(&cfg), "-o", s(&out), "-q"],
        &out,
        16,
    );
}

// ---- read-only guarantee -----------------------------------------------------------------------

/// Every file under `dir`: path, size, modification time and a hash of the bytes.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime, u64)> {
    use std::hash::{Hash, Hasher};
    let mut v: Vec<_> = walk(dir)
        .into_iter()
        .map(|p| {
            let m = fs::symlink_metadata(&p).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            fs::read(&p).unwrap_or_default().hash(&mut h);
            (p, m.len(), m.modified().unwrap(), h.finish())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn reading_commands_change_nothing_under_any_dbroot() {
    let dir = tempfile::tempdir().unwrap();
    let t = gen_tree(dir.path());
    let cfg = t.join("Columnstore.xml");
    let m: Value = serde_json::from_slice(&fs::read(t.join("manifest.json")).unwrap()).unwrap();
    let roots: Vec<PathBuf> = fs::read_dir(&t)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("data"))
        .collect();
    assert!(roots.len() >= 2);
    let before: Vec<_> = roots.iter().map(|r| fingerprint(r)).collect();
    // Every command that reads the tree (rebuild, verify, inspect, dump, diff), mmap or not.
    let out = dir.path().join("em");
    emrebuild(&["rebuild", "--config", s(&cfg), "-o", s(&out), "-q"], 0);
    emrebuild(
        &[
            "rebuild",
            "--config",
            s(&cfg),
            "--dry-run",
            "--no-mmap",
            "-q",
        ],
        0,
    );
    emrebuild(
        &[
            "rebuild",
            "--config",
            s(&cfg),
            "--dry-run",
            "--json",
            "--threads",
            "1",
        ],
        0,
    );
    let files: Vec<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(&t.join(f["path"].as_str().unwrap())).to_owned())
        .collect();
    let mut inspect = vec!["inspect", "--json"];
    inspect.extend(files.iter().map(String::as_str));
    emrebuild(&inspect, 0);
    emrebuild(&["dump", s(&out), "--format", "csv"], 0);
    for extra in [None, Some("--no-mmap")] {
        let mut args = vec!["verify", "--map", s(&out), "--config", s(&cfg), "-q"];
        args.extend(extra);
        let v = run_within(&args, Duration::from_secs(120));
        assert!(matches!(v.status.code(), Some(0 | 1)), "{v:?}");
    }
    let truth = t.join("BRM_saves_em");
    let d = run_within(&["diff", s(&out), s(&truth)], Duration::from_secs(60));
    assert!(matches!(d.status.code(), Some(0 | 1)), "{d:?}");
    let after: Vec<_> = roots.iter().map(|r| fingerprint(r)).collect();
    assert_eq!(before, after);
}
