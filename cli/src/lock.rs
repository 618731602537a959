//! `backup create --lock`: `FLUSH TABLES WITH READ LOCK` held in one open MariaDB session for the
//! whole copy, with `save_brm` run inside it. (The published procedure takes the lock in one
//! `mariadb -e` call, whose session ends at once, releasing it.)

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

/// How to reach the server.
#[derive(clap::Args, Debug, Clone)]
pub struct DbArgs {
    /// Unix socket of the MariaDB server.
    #[arg(long, value_name = "PATH", env = "EMREBUILD_DB_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Host of the MariaDB server (when no socket is given).
    #[arg(
        long,
        value_name = "HOST",
        env = "EMREBUILD_DB_HOST",
        default_value = "localhost"
    )]
    pub host: String,
    /// TCP port.
    #[arg(
        long,
        value_name = "PORT",
        env = "EMREBUILD_DB_PORT",
        default_value_t = 3306
    )]
    pub port: u16,
    /// User (needs the RELOAD privilege).
    #[arg(
        long,
        value_name = "USER",
        env = "EMREBUILD_DB_USER",
        default_value = "root"
    )]
    pub user: String,
    /// Password (prefer the environment variable).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "EMREBUILD_DB_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
}

/// An open session holding the global read lock; `UNLOCK TABLES` on [`Locked::release`].
pub struct Locked {
    conn: mysql::Conn,
}

impl Locked {
    /// Connect and take the lock.
    pub fn take(db: &DbArgs) -> anyhow::Result<Locked> {
        let mut opts = mysql::OptsBuilder::new()
            .user(Some(db.user.clone()))
            .pass(db.password.clone());
        let place = if let Some(s) = &db.socket {
            opts = opts.socket(Some(s.to_string_lossy().into_owned()));
            format!("socket {}", s.display())
        } else {
            opts = opts
                .ip_or_hostname(Some(db.host.clone()))
                .tcp_port(db.port)
                .prefer_socket(false);
            format!("{}:{}", db.host, db.port)
        };
        let mut conn = mysql::Conn::new(opts)
            .with_context(|| format!("cannot connect to MariaDB at {place}"))?;
        use mysql::prelude::Queryable;
        conn.query_drop("FLUSH TABLES WITH READ LOCK")
            .context("FLUSH TABLES WITH READ LOCK failed")?;
        Ok(Locked { conn })
    }

    /// `UNLOCK TABLES` and close the session.
    pub fn release(mut self) -> anyhow::Result<()> {
        use mysql::prelude::Queryable;
        self.conn
            .query_drop("UNLOCK TABLES")
            .context("UNLOCK TABLES failed")
    }
}

/// Run `save_brm` (a path, or a name looked up in PATH) and require success.
pub fn run_save_brm(program: &Path) -> anyhow::Result<()> {
    let resolved = resolve(program).with_context(|| {
        format!(
            "save_brm not found at {:?} (ColumnStore's tool; give its path with --save-brm)",
            program
        )
    })?;
    let out = std::process::Command::new(&resolved)
        .output()
        .with_context(|| format!("cannot run {}", resolved.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}{}",
            resolved.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn resolve(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}
