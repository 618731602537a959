//! Is ColumnStore running on this node? A scan of `/proc` for its daemons.
//!
//! The names are the programs the systemd units start (oam/install_scripts/mcs-*.service.in:
//! controllernode, workernode, PrimProc, DMLProc, DDLProc, WriteEngineServer, StorageManager) plus
//! ExeMgr, which releases before 23.02 also ran. A process matches when the file name of its
//! `argv[0]` is one of them, or when its `comm` (cut to 15 bytes by the kernel) is the name cut
//! the same way.

use serde::Serialize;
use std::path::Path;

/// The daemons whose presence means the extent map is in use.
pub const DAEMONS: [&str; 8] = [
    "controllernode",
    "workernode",
    "PrimProc",
    "ExeMgr",
    "DMLProc",
    "DDLProc",
    "WriteEngineServer",
    "StorageManager",
];

/// One running ColumnStore process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Running {
    /// Process id.
    pub pid: u32,
    /// Which daemon.
    pub name: &'static str,
}

/// Every ColumnStore daemon running, found under `proc_root` (normally `/proc`). Processes that
/// vanish or cannot be read during the scan are skipped.
pub fn running(proc_root: &Path) -> Vec<Running> {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let argv0 = std::fs::read(dir.join("cmdline"))
            .ok()
            .and_then(|c| c.split(|&b| b == 0).next().map(<[u8]>::to_vec))
            .map(|a| {
                String::from_utf8_lossy(&a)
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string()
            });
        let comm = std::fs::read_to_string(dir.join("comm"))
            .ok()
            .map(|c| c.trim_end_matches('\n').to_string());
        let hit = DAEMONS.iter().find(|&&d| {
            argv0.as_deref() == Some(d) || comm.as_deref() == Some(&d[..d.len().min(15)])
        });
        if let Some(&name) = hit {
            found.push(Running { pid, name });
        }
    }
    found.sort_by_key(|r| r.pid);
    found
}
