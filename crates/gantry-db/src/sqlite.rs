//! The SQLite engine: a template file built once per content hash of the
//! migrations (under a file lock), copied for each checkout and deleted on
//! return. Copies are named after the process, so files of killed runs
//! are recognized and removed by the next start and by `gc`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::Connection;

use crate::config::DatabaseConfig;
use crate::error::{DbError, Result};
use crate::lock::lock_exclusive;
use crate::migrations::{line_of, shorten, split_statements, MigrationSet, SqlFile};
use crate::OpenMode;

/// A pool of SQLite copies of one template.
pub(crate) struct SqlitePool {
    pub cfg: DatabaseConfig,
    pub dir: PathBuf,
    pub template: PathBuf,
    counter: AtomicU64,
}

/// A checked-out copy.
#[derive(Debug)]
pub(crate) struct SqliteLease {
    pub path: PathBuf,
    pub url: String,
}

/// `<workspace>/target/gantry/sqlite`.
pub(crate) fn sqlite_dir(root: &Path) -> PathBuf {
    root.join("target").join("gantry").join("sqlite")
}

impl SqlitePool {
    /// Builds the template if needed and removes leftovers.
    pub fn open(root: &Path, cfg: &DatabaseConfig, mode: OpenMode) -> Result<Arc<SqlitePool>> {
        let set = MigrationSet::load(root, cfg)?;
        let dir = sqlite_dir(root);
        let template = crate::sqlite_template_path(root, &cfg.name, &set.hash);
        let pool = SqlitePool {
            cfg: cfg.clone(),
            dir,
            template,
            counter: AtomicU64::new(0),
        };
        if mode != OpenMode::Maintenance {
            let _lock = lock_exclusive(&pool.dir.join(format!("{}.lock", cfg.name)))?;
            if !pool.template.is_file() {
                pool.build(&set)?;
            }
        }
        if mode == OpenMode::Tests {
            let _ = pool.sweep(false);
        }
        Ok(Arc::new(pool))
    }

    fn build(&self, set: &MigrationSet) -> Result<()> {
        let building = self
            .template
            .with_extension(format!("building-{}", std::process::id()));
        remove_db_files(&building);
        let conn = Connection::open(&building).map_err(|e| DbError::Sqlite {
            context: format!("creating `{}`", building.display()),
            source: e,
        })?;
        let applied = (|| {
            for f in &set.files {
                apply(&conn, "migration", f)?;
            }
            if let Some(seed) = &set.seed {
                apply(&conn, "seed", seed)?;
            }
            // Copies are plain file copies: nothing may stay in a WAL.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| DbError::Sqlite {
                    context: "checkpointing the template".into(),
                    source: e,
                })?;
            conn.execute_batch("PRAGMA journal_mode = DELETE")
                .map_err(|e| DbError::Sqlite {
                    context: "finishing the template".into(),
                    source: e,
                })
        })();
        drop(conn);
        if let Err(e) = applied {
            remove_db_files(&building);
            return Err(e);
        }
        std::fs::rename(&building, &self.template).map_err(|e| {
            DbError::io(
                format!("moving the template to `{}`", self.template.display()),
                e,
            )
        })?;
        remove_db_files_except_main(&building);
        Ok(())
    }

    /// Copies the template.
    pub fn checkout(&self) -> Result<SqliteLease> {
        let leases = self.dir.join("leases");
        std::fs::create_dir_all(&leases)
            .map_err(|e| DbError::io(format!("creating `{}`", leases.display()), e))?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = leases.join(format!("{}-{}-{n}.db", self.cfg.name, std::process::id()));
        std::fs::copy(&self.template, &path).map_err(|e| {
            DbError::io(
                format!(
                    "copying `{}` to `{}`",
                    self.template.display(),
                    path.display()
                ),
                e,
            )
        })?;
        Ok(SqliteLease {
            url: format!("sqlite://{}", path.display()),
            path,
        })
    }

    /// Deletes the copy.
    pub fn release(&self, lease: SqliteLease) -> Result<()> {
        remove_db_files(&lease.path);
        Ok(())
    }

    /// Removes copies of dead processes and templates of other hashes.
    pub fn sweep(&self, _thorough: bool) -> Result<Vec<String>> {
        let mut done = Vec::new();
        let prefix = format!("{}-", self.cfg.name);
        if let Ok(entries) = std::fs::read_dir(self.dir.join("leases")) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(rest) = name.strip_prefix(&prefix) else {
                    continue;
                };
                let pid: Option<i32> = rest.split('-').next().and_then(|p| p.parse().ok());
                let alive = pid.is_some_and(|p| {
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok()
                });
                if !alive && name.ends_with(".db") {
                    remove_db_files(&e.path());
                    done.push(format!(
                        "deleted `{}` (left by a dead process)",
                        e.path().display()
                    ));
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let path = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(rest) = name.strip_prefix(&prefix) else {
                    continue;
                };
                let is_template = rest.len() == 15 && rest.ends_with(".db");
                if is_template && path != self.template {
                    remove_db_files(&path);
                    done.push(format!(
                        "deleted the outdated template `{}`",
                        path.display()
                    ));
                }
            }
        }
        Ok(done)
    }
}

fn remove_db_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    remove_db_files_except_main(path);
}

fn remove_db_files_except_main(path: &Path) {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Runs a file statement by statement (SQLite's own parser finds the
/// boundaries) and names the failing one.
fn apply(conn: &Connection, kind: &'static str, file: &SqlFile) -> Result<()> {
    let mut batch = rusqlite::Batch::new(conn, &file.sql);
    let mut cursor = 0usize;
    let fail = |cursor: usize, text: Option<String>, e: rusqlite::Error| {
        let stmt = text.or_else(|| {
            split_statements(&file.sql[cursor..])
                .first()
                .map(|r| file.sql[cursor + r.start..cursor + r.end].to_owned())
        });
        let line = stmt.as_deref().and_then(|s| {
            file.sql[cursor..]
                .find(s.trim())
                .map(|i| line_of(&file.sql, cursor + i))
        });
        DbError::Migration {
            kind,
            file: file.display.clone(),
            line,
            statement: stmt.as_deref().map(shorten),
            message: e.to_string(),
        }
    };
    loop {
        let next = batch.next();
        let mut stmt = match next {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(()),
            Err(e) => return Err(fail(cursor, None, e)),
        };
        let text = stmt.expanded_sql();
        let result = {
            let mut rows = stmt.raw_query();
            rows.next().map(|_| ())
        };
        let found = text.as_deref().and_then(|t| {
            file.sql[cursor..]
                .find(t.trim())
                .map(|i| (i, t.trim().len()))
        });
        if let Err(e) = result {
            return Err(fail(cursor, text, e));
        }
        if let Some((i, len)) = found {
            cursor += i + len;
        }
    }
}
