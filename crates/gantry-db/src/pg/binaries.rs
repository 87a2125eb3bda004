//! Finding the PostgreSQL server programs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::error::{DbError, Result};

/// The directory of `initdb`, `pg_ctl` and `postgres`, and their version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgBinaries {
    /// The directory holding the programs (symlinks resolved).
    pub bindir: PathBuf,
    /// `15.8` from `postgres --version`.
    pub version: String,
    /// `15`.
    pub major: u32,
    /// How the directory was found (`GANTRY_PG_BIN`, `PATH`, …), for status.
    pub found_via: &'static str,
}

impl PgBinaries {
    /// The path of one program.
    pub fn program(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }

    /// Finds the binaries once per process: `GANTRY_PG_BIN`, then `PATH`,
    /// then the highest `/usr/lib/postgresql/*/bin`, then
    /// `pg_config --bindir`.
    pub fn find() -> Result<PgBinaries> {
        static FOUND: OnceLock<PgBinaries> = OnceLock::new();
        if let Some(b) = FOUND.get() {
            return Ok(b.clone());
        }
        let found = search()?;
        Ok(FOUND.get_or_init(|| found).clone())
    }
}

fn complete(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|p| dir.join(p).is_file())
}

fn search() -> Result<PgBinaries> {
    let mut searched = Vec::new();
    if let Some(dir) = std::env::var_os("GANTRY_PG_BIN") {
        let dir = PathBuf::from(dir);
        if complete(&dir) {
            return with_version(dir, "GANTRY_PG_BIN");
        }
        return Err(DbError::BinariesNotFound {
            searched: format!(
                "GANTRY_PG_BIN=`{}`, which lacks initdb, pg_ctl or postgres",
                dir.display()
            ),
        });
    }
    searched.push("PATH".to_owned());
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if !initdb.is_file() {
                continue;
            }
            // Debian puts symlinks on PATH; the other programs live next
            // to the real initdb.
            let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
            if let Some(real_dir) = real.parent() {
                if complete(real_dir) {
                    return with_version(real_dir.to_path_buf(), "PATH");
                }
            }
            if complete(&dir) {
                return with_version(dir, "PATH");
            }
        }
    }
    searched.push("/usr/lib/postgresql/*/bin".to_owned());
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let v: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
                let bin = e.path().join("bin");
                v.filter(|_| complete(&bin)).map(|v| (v, bin))
            })
            .collect();
        versions.sort();
        if let Some((_, bin)) = versions.pop() {
            return with_version(bin, "/usr/lib/postgresql");
        }
    }
    searched.push("`pg_config --bindir`".to_owned());
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if complete(&dir) {
                return with_version(dir, "pg_config");
            }
        }
    }
    searched.push("GANTRY_PG_BIN (unset)".to_owned());
    Err(DbError::BinariesNotFound {
        searched: searched.join(", "),
    })
}

fn with_version(bindir: PathBuf, found_via: &'static str) -> Result<PgBinaries> {
    let postgres = bindir.join("postgres");
    let out = Command::new(&postgres)
        .arg("--version")
        .output()
        .map_err(|e| DbError::io(format!("running `{} --version`", postgres.display()), e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "postgres (PostgreSQL) 15.8 (Debian 15.8-1.pgdg120+1)"
    let version = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("")
        .to_owned();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| DbError::ServerCommand {
            command: format!("{} --version", postgres.display()),
            status: out.status.to_string(),
            output: text.trim().to_owned(),
            hint: Some("could not read the PostgreSQL version from this output".into()),
        })?;
    if major < 13 {
        return Err(DbError::ServerCommand {
            command: format!("{} --version", postgres.display()),
            status: out.status.to_string(),
            output: text.trim().to_owned(),
            hint: Some(format!(
                "PostgreSQL {version} is too old; gantry-db needs 13 or newer (set GANTRY_PG_BIN to a newer installation)"
            )),
        });
    }
    Ok(PgBinaries {
        bindir,
        version,
        major,
        found_via,
    })
}
