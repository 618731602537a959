//! `restore` refuses while ColumnStore daemons run on this node. In a test binary of its own: the
//! fake daemon it starts would make every other restore running at the same time refuse too.

mod dbrm_site;
mod util;

use dbrm_site::*;
use std::fs;

#[test]
fn restore_refuses_while_columnstore_runs() {
    let site = site();
    let root = back_up(&site, "one");
    // A process whose argv[0] is PrimProc, as the systemd unit starts it.
    let fake = site.root.join("PrimProc");
    fs::copy("/bin/sleep", &fake).unwrap();
    let mut child = std::process::Command::new(&fake).arg("60").spawn().unwrap();
    let before = digests(&site.dbrm);
    let (_, err) = emrebuild(&restore_args(&site, &root.join("one")), 2);
    let pid = child.id();
    assert!(err.contains(&format!("PrimProc (pid {pid})")), "{err}");
    assert_eq!(digests(&site.dbrm), before);
    let bk = root.join("one");
    let mut args = restore_args(&site, &bk);
    args.push("--force");
    emrebuild(&args, 0);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_restored(&site, &[1, 0, 0, 0, 17]);
}
