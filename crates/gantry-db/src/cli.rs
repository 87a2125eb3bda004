//! What `cargo gantry db status | url | stop | gc` print.
//!
//! Each function does its work and returns the text to show; the CLI
//! prints it through its one Printer and turns errors into exit codes
//! (a [`DbError`] here is a setup failure, exit code 102).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::{DatabasesConfig, Engine, ResetMode, ServerSpec};
use crate::error::{DbError, Result};
use crate::migrations::MigrationSet;
use crate::pg::cluster::{pg_base, postmaster_of, Cluster};
use crate::pg::pool::pool_id;
use crate::pg::server::{redact, Server, CONTROL_DB};
use crate::pg::template::Names;
use crate::{DbPool, OpenMode};

/// The servers, templates, pool sizes and leases of every configured
/// database. Starts nothing: a stopped embedded server is reported as
/// such.
pub fn status(workspace_root: &Path) -> Result<String> {
    let config = DatabasesConfig::load(workspace_root)?;
    let mut out = String::new();
    if config.databases.is_empty() {
        return Ok(format!(
            "no databases configured: add a [database.NAME] section to {}\n",
            config.path.display()
        ));
    }
    let mut shown_clusters = BTreeSet::new();
    for db in config.databases.values() {
        if db.engine == Engine::Postgres && db.server == ServerSpec::Embedded {
            let cluster = Cluster::locate(workspace_root)?;
            if shown_clusters.insert(cluster.data_dir.clone()) {
                cluster_status(&mut out, &cluster);
            }
        }
    }
    for db in config.databases.values() {
        let reset = match db.reset {
            ResetMode::Truncate => "truncate",
            ResetMode::Recreate => "recreate",
        };
        let _ = writeln!(out, "database `{}`", db.name);
        let set = MigrationSet::load(workspace_root, db)?;
        let migrations = match &db.migrations {
            Some(dir) => format!(
                "{} file(s) in {}",
                set.files.len(),
                dir.strip_prefix(workspace_root).unwrap_or(dir).display()
            ),
            None => "none".to_owned(),
        };
        let seed = set
            .seed
            .as_ref()
            .map_or("none".to_owned(), |s| s.display.clone());
        let _ = writeln!(
            out,
            "  engine:     {}, reset = {reset}, pool = {}, max = {}",
            db.engine.as_str(),
            db.pool,
            db.max
                .map_or("derived from max_connections".to_owned(), |m| m.to_string())
        );
        let _ = writeln!(
            out,
            "  migrations: {migrations}; seed: {seed}; content hash {}",
            &set.hash[..12]
        );
        match db.engine {
            Engine::Sqlite => {
                let template = crate::sqlite_template_path(workspace_root, &db.name, &set.hash);
                let state = if template.is_file() {
                    "built"
                } else {
                    "not built yet"
                };
                let _ = writeln!(out, "  template:   {} ({state})", template.display());
                let leases = crate::sqlite_lease_count(workspace_root, &db.name);
                let _ = writeln!(out, "  copies:     {leases} checked out");
            }
            Engine::Postgres => {
                let server = Server::from_spec(workspace_root, &db.server)?;
                if let Server::External(_) = &server {
                    if let ServerSpec::External { url } = &db.server {
                        let _ = writeln!(out, "  server:     external, {}", redact(url));
                    }
                } else {
                    let _ = writeln!(out, "  server:     embedded");
                }
                if let Server::Embedded(c) = &server {
                    if !c.is_running() {
                        let _ = writeln!(
                            out,
                            "  pool:       unknown while the server is stopped (it starts on the first checkout)"
                        );
                        continue;
                    }
                }
                let mut control = match server.connect_now(CONTROL_DB) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = writeln!(
                            out,
                            "  pool:       unknown ({})",
                            crate::error::describe_pg(&e)
                        );
                        continue;
                    }
                };
                let names = Names::new(&pool_id(workspace_root, &db.name), &set.hash);
                pool_status(&mut out, &mut control, &names)?;
            }
        }
    }
    Ok(out)
}

fn cluster_status(out: &mut String, c: &Cluster) {
    let _ = writeln!(out, "embedded PostgreSQL server");
    let _ = writeln!(
        out,
        "  version:    {} ({}, found via {})",
        c.bins.version,
        c.bins.bindir.display(),
        c.bins.found_via
    );
    let _ = writeln!(out, "  data:       {}", c.data_dir.display());
    let _ = writeln!(out, "  log:        {}", c.log_file.display());
    let _ = writeln!(out, "  socket:     {}", c.socket_dir.display());
    if let Some(r) = &c.run_as {
        let _ = writeln!(out, "  runs as:    {}", r.name);
    }
    for note in &c.notes {
        let _ = writeln!(out, "  note:       {note}");
    }
    let state = match c.postmaster_pid() {
        Some(pid) if c.is_running() => format!("running (pid {pid})"),
        _ if c.initialized() => "stopped (starts on the first checkout)".to_owned(),
        _ => "not created yet (created on the first checkout)".to_owned(),
    };
    let _ = writeln!(out, "  state:      {state}");
}

fn pool_status(out: &mut String, control: &mut postgres::Client, names: &Names) -> Result<()> {
    let tpl = names.template();
    let built = control
        .query_opt(
            "SELECT to_char(built_at, 'YYYY-MM-DD HH24:MI:SS'), build_ms FROM gantry_template WHERE name = $1",
            &[&tpl],
        )
        .ok()
        .flatten();
    match built {
        Some(row) => {
            let at: String = row.get(0);
            let ms: i32 = row.get(1);
            let _ = writeln!(out, "  template:   {tpl} (built {at} in {ms} ms)");
        }
        None => {
            let _ = writeln!(
                out,
                "  template:   {tpl} (not built yet; built on the first checkout)"
            );
        }
    }
    let members = crate::pg::control::members(control, &names.pool_prefix)
        .map_err(|e| DbError::pg("reading the pool", e))?;
    let current: Vec<_> = members.iter().filter(|m| m.template == tpl).collect();
    let leased: Vec<_> = current
        .iter()
        .filter(|m| m.locked && m.state == "leased")
        .collect();
    let clean = current
        .iter()
        .filter(|m| !m.locked && m.state == "clean")
        .count();
    let other = current.len() - leased.len() - clean;
    let _ = writeln!(
        out,
        "  pool:       {} database(s): {clean} free, {} leased, {other} being created or to recreate",
        current.len(),
        leased.len()
    );
    for m in leased {
        let _ = writeln!(
            out,
            "    {} leased by {} for {:.1}s",
            m.name,
            m.holder.as_deref().unwrap_or("?"),
            m.leased_secs.unwrap_or(0.0)
        );
    }
    let outdated = members.len() - current.len();
    if outdated > 0 {
        let _ = writeln!(
            out,
            "  outdated:   {outdated} database(s) of older templates (dropped when free, or by `cargo gantry db gc`)"
        );
    }
    Ok(())
}

/// A URL of a database cloned from the current template, for looking at
/// by hand with `psql`; not part of the pool (so no test uses it) and
/// kept until `gc`. Starts the server and builds the template if needed.
pub fn url(workspace_root: &Path, name: &str) -> Result<String> {
    let config = DatabasesConfig::load(workspace_root)?;
    let pool = DbPool::open_with(&config, name, OpenMode::Cli)?;
    match pool.pg() {
        Some(p) => p.inspect_url(),
        None => {
            let copy = pool.checkout()?;
            let path = copy
                .sqlite_path()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let keep = path.with_file_name(format!("{name}-inspect.db"));
            std::fs::copy(&path, &keep)
                .map_err(|e| DbError::io(format!("copying to `{}`", keep.display()), e))?;
            Ok(format!("sqlite://{}", keep.display()))
        }
    }
}

/// Stops the embedded server(s) of the workspace. Tests that run later
/// start it again.
pub fn stop(workspace_root: &Path) -> Result<String> {
    let mut out = String::new();
    let config = DatabasesConfig::load(workspace_root)?;
    let uses_embedded = config
        .databases
        .values()
        .any(|d| d.engine == Engine::Postgres && d.server == ServerSpec::Embedded);
    if uses_embedded {
        let cluster = Cluster::locate(workspace_root)?;
        if cluster.stop()? {
            let _ = writeln!(
                out,
                "stopped the embedded PostgreSQL server ({})",
                cluster.data_dir.display()
            );
        } else {
            let _ = writeln!(out, "the embedded PostgreSQL server is not running");
        }
    }
    for (dir, pid) in other_clusters(workspace_root) {
        stop_postmaster(pid);
        let _ = writeln!(out, "stopped an older embedded server ({})", dir.display());
    }
    if out.is_empty() {
        out.push_str(
            "no embedded PostgreSQL server is configured (external servers are not stopped)\n",
        );
    }
    Ok(out)
}

/// Removes leftovers: databases of outdated templates and of sections no
/// longer configured, databases of killed runs, unfinished template
/// builds, the inspection database, SQLite copies of dead processes, and
/// embedded clusters of other PostgreSQL versions or settings.
pub fn gc(workspace_root: &Path) -> Result<String> {
    let config = DatabasesConfig::load(workspace_root)?;
    let mut lines = Vec::new();
    let mut servers: Vec<Server> = Vec::new();
    for db in config.databases.values() {
        // One broken section (a failing migration) does not stop the
        // cleanup of the others.
        let swept = DbPool::open_with(&config, &db.name, OpenMode::Maintenance)
            .and_then(|pool| pool.sweep(true).map(|lines| (pool, lines)));
        let pool = match swept {
            Ok((pool, done)) => {
                for line in done {
                    lines.push(format!("[database.{}] {line}", db.name));
                }
                pool
            }
            Err(e) => {
                lines.push(format!("[database.{}] not cleaned up: {e}", db.name));
                continue;
            }
        };
        if let Some(p) = pool.pg() {
            if !servers.iter().any(|s| s.identity() == p.server.identity()) {
                servers.push(p.server.clone());
            }
        }
    }
    // Pools of sections that were removed from the config.
    let configured: Vec<String> = config
        .databases
        .keys()
        .map(|n| pool_id(workspace_root, n))
        .collect();
    let workspace = workspace_root.display().to_string();
    for server in &servers {
        let mut c = server.connect_control()?;
        let rows = c
            .query(
                "SELECT DISTINCT pool, config FROM gantry_template WHERE workspace = $1",
                &[&workspace],
            )
            .map_err(|e| DbError::pg("listing templates", e))?;
        for row in rows {
            let pool: String = row.get(0);
            let name: String = row.get(1);
            if configured.contains(&pool) {
                continue;
            }
            for line in crate::pg::pool::drop_pool(&mut c, &pool)? {
                lines.push(format!("[database.{name}] (no longer configured) {line}"));
            }
        }
    }
    // Clusters of other versions or settings.
    if let Ok(current) = Cluster::locate(workspace_root) {
        if let Ok(entries) = std::fs::read_dir(pg_base(workspace_root)) {
            for e in entries.flatten() {
                let path = e.path();
                if !path.is_dir() || path == current.dir {
                    continue;
                }
                if let Some(pid) = postmaster_of(&path.join("data")) {
                    stop_postmaster(pid);
                }
                std::fs::remove_dir_all(&path)
                    .map_err(|err| DbError::io(format!("removing `{}`", path.display()), err))?;
                let _ = std::fs::remove_file(path.with_extension("lock"));
                lines.push(format!(
                    "removed the embedded cluster `{}` (another PostgreSQL version or settings)",
                    path.display()
                ));
            }
        }
    }
    if lines.is_empty() {
        return Ok("nothing to clean up\n".to_owned());
    }
    Ok(lines.join("\n") + "\n")
}

fn other_clusters(workspace_root: &Path) -> Vec<(PathBuf, i32)> {
    let current = Cluster::locate(workspace_root).ok().map(|c| c.dir);
    let Ok(entries) = std::fs::read_dir(pg_base(workspace_root)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && Some(p) != current.as_ref())
        .filter_map(|p| postmaster_of(&p.join("data")).map(|pid| (p, pid)))
        .collect()
}

/// Fast shutdown (SIGINT) of a postmaster, waiting up to 30 s.
fn stop_postmaster(pid: i32) {
    let pid = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    for _ in 0..300 {
        if nix::sys::signal::kill(pid, None).is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
