//! The embedded PostgreSQL cluster: one per (PostgreSQL version,
//! settings), created with `initdb` the first time it is needed, reused
//! across runs, started on demand under a file lock and stopped by
//! `cargo gantry db stop`.
//!
//! It listens on a Unix socket only, in a private directory under `/tmp`
//! (socket paths are limited to 107 bytes, which a workspace path easily
//! exceeds), accepts anyone who can reach that socket without a password,
//! and does not make anything durable: test data is disposable, and
//! `fsync` is most of the cost of creating databases.
//!
//! PostgreSQL refuses to run as root. When gantry runs as root (CI
//! containers usually do), the server programs run as the `postgres`
//! system user (or `nobody`), which then owns the data and socket
//! directories.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::unistd::{Gid, Uid, User};

use super::binaries::PgBinaries;
use crate::error::{DbError, Result};
use crate::lock::lock_exclusive;
use crate::migrations::sha_hex;

/// Settings written into `postgresql.conf` (besides the socket
/// directory). Part of the cluster key: changing them makes a new
/// cluster rather than silently keeping old settings.
const SETTINGS: &str = "\
listen_addresses = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
max_wal_size = 1GB
checkpoint_timeout = 30min
log_min_messages = warning
log_min_error_statement = panic
log_line_prefix = '%m [%p] '
";

/// The superuser created by `initdb`.
pub const SUPERUSER: &str = "postgres";

/// The unprivileged user the server programs run as when gantry is root.
#[derive(Clone, Debug)]
pub struct RunAs {
    /// The user name.
    pub name: String,
    /// Its uid.
    pub uid: Uid,
    /// Its primary gid.
    pub gid: Gid,
}

/// Where an embedded cluster lives and how to run it.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// The server programs.
    pub bins: PgBinaries,
    /// Hash of binaries, version and settings.
    pub key: String,
    /// The directory holding `data/` and `postgres.log`.
    pub dir: PathBuf,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The server log.
    pub log_file: PathBuf,
    /// The directory of the Unix socket.
    pub socket_dir: PathBuf,
    /// Serializes `initdb` and start between processes.
    pub lock_file: PathBuf,
    /// The user the server runs as, when gantry is root.
    pub run_as: Option<RunAs>,
    /// Notes for `status` (why the cluster is under /tmp, which user).
    pub notes: Vec<String>,
}

impl Cluster {
    /// Where the cluster of `workspace_root` is (nothing is created).
    pub fn locate(workspace_root: &Path) -> Result<Cluster> {
        let bins = PgBinaries::find()?;
        Self::locate_with(workspace_root, bins)
    }

    pub(crate) fn locate_with(workspace_root: &Path, bins: PgBinaries) -> Result<Cluster> {
        let key = sha_hex(&format!(
            "{}\0{}\0{SETTINGS}",
            bins.bindir.display(),
            bins.version
        ))[..12]
            .to_owned();
        let base = pg_base(workspace_root);
        let mut notes = Vec::new();
        let run_as = if Uid::effective().is_root() {
            let (user, note) = match User::from_name("postgres") {
                Ok(Some(u)) => (u, None),
                _ => match User::from_name("nobody") {
                    Ok(Some(u)) => (
                        u,
                        Some("there is no `postgres` system user, so the server runs as `nobody`; create one (e.g. `useradd --system postgres`) to keep the server's files apart".to_owned()),
                    ),
                    _ => {
                        return Err(DbError::ServerCommand {
                            command: "looking up the users `postgres` and `nobody`".into(),
                            status: "not found".into(),
                            output: String::new(),
                            hint: Some("PostgreSQL refuses to run as root and neither user exists; create a `postgres` system user or run the tests as an ordinary user".into()),
                        })
                    }
                },
            };
            notes.push(format!(
                "gantry runs as root and PostgreSQL refuses root, so the server runs as `{}`",
                user.name
            ));
            notes.extend(note);
            Some(RunAs {
                name: user.name,
                uid: user.uid,
                gid: user.gid,
            })
        } else {
            None
        };
        let mut dir = base.join(&key);
        if let Some(r) = &run_as {
            if let Some(blocked) = untraversable_ancestor(&dir, r) {
                let moved = PathBuf::from(format!(
                    "/tmp/gantry-pg-data-{}",
                    &sha_hex(&dir.display().to_string())[..10]
                ));
                notes.push(format!(
                    "`{}` cannot be entered by user `{}`, so the cluster lives in `{}` instead of `{}`",
                    blocked.display(),
                    r.name,
                    moved.display(),
                    dir.display()
                ));
                dir = moved;
            }
        }
        let socket_dir = PathBuf::from(format!(
            "/tmp/gantry-pg-{}",
            &sha_hex(&dir.display().to_string())[..10]
        ));
        Ok(Cluster {
            data_dir: dir.join("data"),
            log_file: dir.join("postgres.log"),
            lock_file: base.join(format!("{key}.lock")),
            bins,
            key,
            dir,
            socket_dir,
            run_as,
            notes,
        })
    }

    /// Whether `initdb` has completed.
    pub fn initialized(&self) -> bool {
        self.data_dir.join("PG_VERSION").is_file() && self.data_dir.join("gantry.conf").is_file()
    }

    /// Whether the postmaster of `postmaster.pid` is alive and its socket
    /// exists. Cheap: no connection.
    pub fn is_running(&self) -> bool {
        self.postmaster_pid().is_some() && self.socket_dir.join(".s.PGSQL.5432").exists()
    }

    /// The pid of a live postmaster of this data directory.
    pub fn postmaster_pid(&self) -> Option<i32> {
        postmaster_of(&self.data_dir)
    }

    /// Creates (once) and starts the cluster unless it runs, under the
    /// cluster's file lock so that concurrent test processes start it
    /// once.
    pub fn ensure_running(&self) -> Result<()> {
        let _lock = lock_exclusive(&self.lock_file)?;
        if self.is_running() {
            return Ok(());
        }
        if self.postmaster_pid().is_some() {
            // Running, but its socket is gone (a /tmp cleaner): restart.
            self.pg_ctl_stop()?;
        }
        if !self.initialized() {
            self.init()?;
        }
        self.prepare_socket_dir()?;
        self.remove_stale_lock_files();
        // After a crash, the old server's processes may hold its shared
        // memory for a moment; try again briefly.
        let mut attempt = 0;
        loop {
            match self.start() {
                Ok(()) => return Ok(()),
                Err(_) if attempt < 3 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn init(&self) -> Result<()> {
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(|e| {
                DbError::io(
                    format!("removing the incomplete cluster `{}`", self.dir.display()),
                    e,
                )
            })?;
        }
        self.make_private_dir(&self.dir)?;
        let mut args: Vec<String> = vec![
            "-D".into(),
            self.data_dir.display().to_string(),
            "-U".into(),
            SUPERUSER.into(),
            "--auth=trust".into(),
            "--encoding=UTF8".into(),
            "--locale=C".into(),
            "--no-sync".into(),
        ];
        if self.bins.major >= 14 {
            args.push("--no-instructions".into());
        }
        self.run("initdb", &args, None)?;
        let conf = format!(
            "\n# gantry-db: throwaway test cluster\n{SETTINGS}unix_socket_directories = '{}'\n",
            self.socket_dir.display()
        );
        append(&self.data_dir.join("postgresql.conf"), &conf)?;
        // Written last: its presence marks a complete initialization.
        std::fs::write(self.data_dir.join("gantry.conf"), &conf)
            .map_err(|e| DbError::io(format!("writing `{}`", self.data_dir.display()), e))?;
        self.give_away(&self.data_dir.join("gantry.conf"))?;
        Ok(())
    }

    /// After a crash, `postmaster.pid` and the socket's lock file name a
    /// process that is gone, a zombie nobody reaped yet (PostgreSQL's own
    /// check takes it for a running server), or an unrelated process that
    /// got the pid. None of them is a server: the files can go.
    fn remove_stale_lock_files(&self) {
        if self.postmaster_pid().is_none() {
            let _ = std::fs::remove_file(self.data_dir.join("postmaster.pid"));
            let _ = std::fs::remove_file(self.socket_dir.join(".s.PGSQL.5432.lock"));
            let _ = std::fs::remove_file(self.socket_dir.join(".s.PGSQL.5432"));
        }
    }

    fn prepare_socket_dir(&self) -> Result<()> {
        self.make_private_dir(&self.socket_dir)
    }

    /// Creates `dir` (mode 0700) owned by the server's user.
    fn make_private_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbError::io(format!("creating `{}`", dir.display()), e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| DbError::io(format!("setting the mode of `{}`", dir.display()), e))?;
        self.give_away(dir)
    }

    fn give_away(&self, path: &Path) -> Result<()> {
        if let Some(r) = &self.run_as {
            nix::unistd::chown(path, Some(r.uid), Some(r.gid)).map_err(|e| {
                DbError::io(
                    format!("giving `{}` to user `{}`", path.display(), r.name),
                    e.into(),
                )
            })?;
        }
        Ok(())
    }

    fn start(&self) -> Result<()> {
        let args: Vec<String> = vec![
            "-D".into(),
            self.data_dir.display().to_string(),
            "-l".into(),
            self.log_file.display().to_string(),
            "-w".into(),
            "-t".into(),
            "60".into(),
            "-s".into(),
            "start".into(),
        ];
        self.run("pg_ctl", &args, Some(&self.log_file)).map(|_| ())
    }

    /// Stops the server (fast shutdown: sessions are disconnected).
    /// Returns whether it was running.
    pub fn stop(&self) -> Result<bool> {
        let _lock = lock_exclusive(&self.lock_file)?;
        if self.postmaster_pid().is_none() {
            return Ok(false);
        }
        self.pg_ctl_stop()?;
        Ok(true)
    }

    fn pg_ctl_stop(&self) -> Result<()> {
        let args: Vec<String> = vec![
            "-D".into(),
            self.data_dir.display().to_string(),
            "-m".into(),
            "fast".into(),
            "-w".into(),
            "-t".into(),
            "60".into(),
            "-s".into(),
            "stop".into(),
        ];
        self.run("pg_ctl", &args, Some(&self.log_file)).map(|_| ())
    }

    /// Runs a server program as the server's user.
    fn run(&self, program: &str, args: &[String], log: Option<&Path>) -> Result<String> {
        let path = self.bins.program(program);
        let mut cmd = Command::new(&path);
        cmd.args(args)
            .current_dir("/")
            .stdin(Stdio::null())
            .env_remove("PGDATA")
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .env("LC_ALL", "C");
        if let Some(r) = &self.run_as {
            cmd.uid(r.uid.as_raw()).gid(r.gid.as_raw());
        }
        let command = format!("{} {}", path.display(), args.join(" "));
        let out = cmd
            .output()
            .map_err(|e| DbError::io(format!("running `{command}`"), e))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        if out.status.success() {
            return Ok(text);
        }
        if let Some(log) = log {
            if let Ok(content) = std::fs::read_to_string(log) {
                let tail: Vec<&str> = content.lines().rev().take(15).collect();
                text.push_str(&format!(
                    "\nlast lines of {}:\n{}",
                    log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
        Err(DbError::ServerCommand {
            command,
            status: out.status.to_string(),
            output: text.trim().to_owned(),
            hint: Some(format!(
                "the embedded PostgreSQL cluster is in `{}`; `cargo gantry db stop` and deleting that directory starts over",
                self.dir.display()
            )),
        })
    }
}

/// The pid in `<data>/postmaster.pid` if that process is a live
/// PostgreSQL process: not a zombie (a killed server whose parent does not
/// reap it, as in containers without an init) and not an unrelated
/// process that reuses the pid.
pub(crate) fn postmaster_of(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).ok()?;
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "<pid> (<comm>) <state> …"
        let comm = stat.split('(').nth(1).and_then(|r| r.rsplit_once(')'));
        let (name, rest) = comm?;
        let state = rest.trim_start().chars().next();
        if state == Some('Z') || !(name.starts_with("postgres") || name.starts_with("postmaster")) {
            return None;
        }
    }
    Some(pid)
}

/// `<workspace>/target/gantry/pg`.
///
/// `target` is resolved when it is a symlink, so that every path to the
/// same directory names the same cluster (and socket).
pub(crate) fn pg_base(workspace_root: &Path) -> PathBuf {
    let root =
        std::fs::canonicalize(workspace_root).unwrap_or_else(|_| workspace_root.to_path_buf());
    let target = root.join("target");
    let target = std::fs::canonicalize(&target).unwrap_or(target);
    target.join("gantry").join("pg")
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| DbError::io(format!("opening `{}`", path.display()), e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| DbError::io(format!("writing `{}`", path.display()), e))
}

/// The first existing ancestor of `dir` that `user` may not enter.
fn untraversable_ancestor(dir: &Path, user: &RunAs) -> Option<PathBuf> {
    let mut p = dir.parent();
    let mut chain = Vec::new();
    while let Some(d) = p {
        chain.push(d.to_path_buf());
        p = d.parent();
    }
    for d in chain.into_iter().rev() {
        let Ok(meta) = std::fs::metadata(&d) else {
            // Not created yet: gantry creates it with mode 0755.
            return None;
        };
        let mode = meta.mode();
        let ok = if meta.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            return Some(d);
        }
    }
    None
}
