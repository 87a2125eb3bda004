//! A pool of PostgreSQL test databases cloned from one template.
//!
//! The pool lives on the server, not in a process: every process that
//! opens it (threads of `cargo test`, processes of nextest, gantry's
//! runner) sees the same members in `gantry_control` and leases them with
//! advisory locks (see [`super::control`]). Per process there is one
//! control connection that holds all of the process's leases, a cache of
//! connections to members it has used (a reset needs a connection to the
//! member, and opening one costs a few milliseconds, more than the reset),
//! and a background thread that clones members ahead of time and
//! recreates the ones that cannot be reset.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use postgres::{Client, SimpleQueryMessage};

use super::control::{self, is_plain_name, lock_key};
use super::server::Server;
use super::template::{self, clone_sql, Names, TRUNCATE_ABOVE_BYTES};
use crate::config::{DatabaseConfig, ResetMode};
use crate::error::{DbError, Result};
use crate::migrations::{sha_hex, MigrationSet};
use crate::OpenMode;

/// Set to `migrate` to create and migrate a fresh database per checkout
/// instead of leasing from the pool: the baseline the pool is measured
/// against.
pub const STRATEGY_ENV: &str = "GANTRY_DB_STRATEGY";

/// A pool of one `[database.NAME]` section on one server.
pub(crate) struct PgPool {
    pub cfg: DatabaseConfig,
    pub server: Server,
    pub pool_id: String,
    pub names: Names,
    pub set: MigrationSet,
    pub major: u32,
    pub max: usize,
    pub max_derived: bool,
    pub workspace: String,
    baseline: bool,
    holder: String,
    control: Mutex<Control>,
    admin: Mutex<Vec<Client>>,
    /// Connections that reset members, in replica mode (superuser).
    idle: Mutex<HashMap<String, Client>>,
    /// Clean, ordinary connections to members, handed to tests by
    /// `TestDb::client` (with their backend pid).
    warm: Mutex<HashMap<String, (Client, i32)>>,
    /// Whether gantry's role is superuser (fast DELETE reset).
    superuser: bool,
    worker: Mutex<Option<Sender<Task>>>,
    counter: AtomicU64,
}

struct Control {
    client: Client,
    /// Incremented on every reconnect: leases taken on an earlier
    /// connection are gone.
    generation: u64,
    /// Keys this session holds (advisory locks are re-entrant within a
    /// session, so the process must not "lease" a key twice).
    held: HashSet<i64>,
}

/// A checked-out member.
pub(crate) struct PgLease {
    pub member: String,
    pub key: i64,
    pub generation: u64,
    pub url: String,
    baseline: bool,
    /// The connection handed out by `TestDb::client`, and its backend pid.
    client: Option<(Client, i32)>,
}

impl std::fmt::Debug for PgLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLease")
            .field("member", &self.member)
            .finish()
    }
}

enum Task {
    Prewarm,
    Sweep,
    Recreate(String),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The id of a pool: workspace and section name.
pub(crate) fn pool_id(root: &Path, name: &str) -> String {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    sha_hex(&format!("{}\0{name}", root.display()))[..8].to_owned()
}

impl PgPool {
    /// Opens the pool: starts the server if needed, builds the template
    /// if needed, and starts pre-warming in the background.
    /// `mode` says whether to build the template and work in the
    /// background (not in short-lived processes like the CLI, which would
    /// leave half-made clones behind).
    pub fn open(root: &Path, cfg: &DatabaseConfig, mode: OpenMode) -> Result<Arc<PgPool>> {
        let set = MigrationSet::load(root, cfg)?;
        let server = Server::from_spec(root, &cfg.server)?;
        let mut client = server.connect_control()?;
        control::ensure_schema(&mut client).map_err(|e| {
            DbError::pg(
                format!(
                    "creating gantry's tables in `{}`",
                    super::server::CONTROL_DB
                ),
                e,
            )
        })?;
        let major = template::server_major(&mut client)?;
        let pool_id = pool_id(root, &cfg.name);
        let names = Names::new(&pool_id, &set.hash);
        let workspace = root.display().to_string();
        if mode != OpenMode::Maintenance {
            template::ensure_template(
                &server,
                &mut client,
                &names,
                &set,
                &pool_id,
                &cfg.name,
                &workspace,
            )?;
        }
        let (max, max_derived) = match cfg.max {
            Some(m) => (m, false),
            None => (derived_max(&mut client)?, true),
        };
        let baseline = std::env::var(STRATEGY_ENV).is_ok_and(|v| v == "migrate");
        let superuser: bool = client
            .query_one(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .map_err(|e| DbError::pg("checking for superuser rights", e))?
            .get(0);
        let holder = holder_text();
        let pool = Arc::new(PgPool {
            cfg: cfg.clone(),
            server,
            pool_id,
            names,
            set,
            major,
            max,
            max_derived,
            workspace,
            baseline,
            holder,
            control: Mutex::new(Control {
                client,
                generation: 0,
                held: HashSet::new(),
            }),
            admin: Mutex::new(Vec::new()),
            idle: Mutex::new(HashMap::new()),
            warm: Mutex::new(HashMap::new()),
            superuser,
            worker: Mutex::new(None),
            counter: AtomicU64::new(0),
        });
        if mode == OpenMode::Tests && !pool.baseline {
            pool.start_worker();
        }
        Ok(pool)
    }

    fn start_worker(self: &Arc<Self>) {
        let (tx, rx) = channel::<Task>();
        let _ = tx.send(Task::Sweep);
        let _ = tx.send(Task::Prewarm);
        *lock(&self.worker) = Some(tx);
        let weak: Weak<PgPool> = Arc::downgrade(self);
        let _ = std::thread::Builder::new()
            .name(format!("gantry-db-{}", self.cfg.name))
            .spawn(move || {
                let mut conn: Option<Client> = None;
                while let Ok(task) = rx.recv() {
                    let Some(pool) = weak.upgrade() else { break };
                    if conn.as_ref().is_none_or(Client::is_closed) {
                        conn = pool.server.connect_control().ok();
                    }
                    let Some(c) = conn.as_mut() else { continue };
                    // Failures here only mean less pre-warming; checkouts
                    // do the same work on demand and report errors.
                    let _ = match task {
                        Task::Prewarm => pool.prewarm(c),
                        Task::Sweep => pool.sweep(c, false).map(|_| ()),
                        Task::Recreate(member) => pool.recreate_unlocked(c, &member).map(|_| ()),
                    };
                }
            });
    }

    fn notify(&self, task: Task) {
        if let Some(tx) = lock(&self.worker).as_ref() {
            let _ = tx.send(task);
        }
    }

    /// The template database's name.
    pub fn template_name(&self) -> String {
        self.names.template()
    }

    /// Runs `f` on the control connection, reconnecting (and restarting
    /// an embedded server) once when the connection was lost.
    fn with_control<R>(
        &self,
        what: &str,
        mut f: impl FnMut(&mut Control) -> std::result::Result<R, postgres::Error>,
    ) -> Result<R> {
        let mut c = lock(&self.control);
        if c.client.is_closed() {
            self.reconnect(&mut c)?;
        }
        match f(&mut c) {
            Ok(r) => Ok(r),
            Err(e) if c.client.is_closed() || is_disconnect(&e) => {
                self.reconnect(&mut c)?;
                f(&mut c).map_err(|e| DbError::pg(what, e))
            }
            Err(e) => Err(DbError::pg(what, e)),
        }
    }

    fn reconnect(&self, c: &mut Control) -> Result<()> {
        let mut client = self.server.connect_control()?;
        control::ensure_schema(&mut client)
            .map_err(|e| DbError::pg("creating gantry's tables", e))?;
        template::ensure_template(
            &self.server,
            &mut client,
            &self.names,
            &self.set,
            &self.pool_id,
            &self.cfg.name,
            &self.workspace,
        )?;
        c.client = client;
        c.generation += 1;
        c.held.clear();
        lock(&self.idle).clear();
        lock(&self.warm).clear();
        lock(&self.admin).clear();
        Ok(())
    }

    /// Runs slow statements (CREATE/DROP DATABASE) on a connection of
    /// their own, so that they do not block other threads' leases.
    fn with_admin<R>(
        &self,
        f: impl FnOnce(&mut Client) -> std::result::Result<R, postgres::Error>,
        what: &str,
    ) -> Result<R> {
        let taken = lock(&self.admin).pop();
        let mut client = match taken {
            Some(c) if !c.is_closed() => c,
            _ => self.server.connect_control()?,
        };
        let r = f(&mut client).map_err(|e| DbError::pg(what, e));
        let mut admin = lock(&self.admin);
        if admin.len() < 2 && !client.is_closed() {
            admin.push(client);
        }
        r
    }

    /// Leases a clean member, growing the pool up to its maximum and
    /// waiting up to `checkout-timeout` when it is at the maximum.
    pub fn checkout(self: &Arc<Self>) -> Result<PgLease> {
        if self.baseline {
            return self.checkout_baseline();
        }
        let started = Instant::now();
        let tpl = self.names.template();
        loop {
            let prefer: Vec<String> = lock(&self.idle).keys().cloned().collect();
            let leased = self.with_control("leasing a database", |c| {
                let exclude = c.held.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                let prefer = prefer.join(",");
                let rows = c.client.simple_query(&format!(
                    "SELECT member, key, was FROM gantry_try_lease('{tpl}', '{{{exclude}}}', '{{{prefer}}}', '{}')",
                    self.holder
                ))?;
                let got = first_row(&rows).map(|r| {
                    (
                        r.get(0).unwrap_or_default().to_owned(),
                        r.get(1).and_then(|k| k.parse::<i64>().ok()).unwrap_or_default(),
                        r.get(2).unwrap_or_default().to_owned(),
                    )
                });
                if let Some((_, key, _)) = &got {
                    c.held.insert(*key);
                }
                Ok(got.map(|g| (g, c.generation)))
            })?;
            if let Some(((member, key, was), generation)) = leased {
                let lease = self.lease(member, key, generation);
                let usable = was == "clean" || (was == "creating" && self.exists(&lease.member)?);
                if !usable {
                    // Lost by a dead holder or never finished: recreate
                    // before anyone uses it.
                    if let Err(e) = self.recreate(&lease.member) {
                        self.give_back(&lease, "stale");
                        return Err(e);
                    }
                }
                return Ok(lease);
            }
            if let Some((member, key, generation)) = self.reserve_member()? {
                let lease = self.lease(member, key, generation);
                if let Err(e) = self.create_member_db(&lease.member) {
                    self.forget_member(&lease);
                    return Err(e);
                }
                return Ok(lease);
            }
            if started.elapsed() >= self.cfg.checkout_timeout {
                return Err(DbError::PoolExhausted {
                    name: self.cfg.name.clone(),
                    max: self.max,
                    derived: self.max_derived,
                    waited: started.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn exists(&self, name: &str) -> Result<bool> {
        self.with_admin(
            |a| {
                a.query_opt(
                    "SELECT 1 FROM pg_database WHERE datname = $1 AND datconnlimit <> -2",
                    &[&name],
                )
                .map(|r| r.is_some())
            },
            "looking up a database",
        )
    }

    fn lease(&self, member: String, key: i64, generation: u64) -> PgLease {
        PgLease {
            url: self.server.url(&member),
            member,
            key,
            generation,
            baseline: false,
            client: None,
        }
    }

    /// Inserts a new member row (state `creating`) locked by the control
    /// session, unless the pool is at its maximum.
    fn reserve_member(&self) -> Result<Option<(String, i64, u64)>> {
        let tpl = self.names.template();
        let grow_key = lock_key(&format!("grow:{tpl}"));
        let max = self.max;
        self.with_control("adding a database to the pool", |c| {
            let generation = c.generation;
            let mut tx = c.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&grow_key])?;
            let existing: HashSet<String> = tx
                .query("SELECT name FROM gantry_member WHERE template = $1", &[&tpl])?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
            if existing.len() >= max {
                return Ok(None);
            }
            for n in 0..max * 4 + 16 {
                let name = self.names.member(n);
                if existing.contains(&name) {
                    continue;
                }
                let key = lock_key(&name);
                let got = try_advisory_lock(&mut tx, key)?;
                if !got {
                    continue;
                }
                tx.execute(
                    "INSERT INTO gantry_member (name, pool, template, lock_key, state, holder, holder_pid, leased_at)
                     VALUES ($1, $2, $3, $4, 'reserved', $5, pg_backend_pid(), now())",
                    &[&name, &self.pool_id, &tpl, &key, &self.holder],
                )?;
                tx.commit()?;
                c.held.insert(key);
                return Ok(Some((name, key, generation)));
            }
            Ok(None)
        })
    }

    fn create_member_db(&self, member: &str) -> Result<()> {
        let tpl = self.names.template();
        let drop = format!("DROP DATABASE IF EXISTS {member} WITH (FORCE)");
        let creating =
            format!("UPDATE gantry_member SET state = 'creating' WHERE name = '{member}'");
        let create = clone_sql(self.major, member, &tpl);
        let what = format!(
            "cloning `{tpl}` into `{member}` on {}",
            self.server.describe()
        );
        let mut result = self.with_admin(
            |a| {
                a.batch_execute(&drop)?;
                a.batch_execute(&creating)?;
                a.batch_execute(&create)
            },
            &what,
        );
        if matches!(&result, Err(DbError::Postgres { source, .. })
            if source.as_db_error().map(|d| d.code().code()) == Some("3D000"))
        {
            // The template was dropped as outdated by a process that saw
            // other migrations: build it again.
            self.with_admin(|a| Ok(self.rebuild_template(a)), "rebuilding the template")??;
            result = self.with_admin(|a| a.batch_execute(&create), &what);
        }
        if result.is_ok() {
            // The caller holds the lease.
            result = self.with_admin(
                |a| {
                    a.batch_execute(&format!(
                        "UPDATE gantry_member SET state = 'leased', leased_at = now() WHERE name = '{member}'"
                    ))
                },
                "recording a new database",
            );
        }
        result.map_err(|e| match e {
            DbError::Postgres { source, .. }
                if source.as_db_error().map(|d| d.code().code()) == Some("53300") =>
            {
                DbError::PoolExhausted {
                    name: self.cfg.name.clone(),
                    max: self.max,
                    derived: self.max_derived,
                    waited: Duration::ZERO,
                }
            }
            e => e,
        })
    }

    fn rebuild_template(&self, client: &mut Client) -> Result<()> {
        template::ensure_template(
            &self.server,
            client,
            &self.names,
            &self.set,
            &self.pool_id,
            &self.cfg.name,
            &self.workspace,
        )
    }

    /// Drops and clones a member whose lease the caller holds.
    fn recreate(&self, member: &str) -> Result<()> {
        drop(lock(&self.idle).remove(member));
        drop(lock(&self.warm).remove(member));
        self.create_member_db(member)
    }

    /// Removes a member that could not be created.
    fn forget_member(&self, lease: &PgLease) {
        let _ = self.with_control("removing a database from the pool", |c| {
            c.held.remove(&lease.key);
            c.client.batch_execute(&format!(
                "DELETE FROM gantry_member WHERE name = '{}'; COMMIT; SELECT pg_advisory_unlock({})",
                lease.member, lease.key
            ))
        });
    }

    /// Marks the member and unlocks it, if this session still holds it.
    fn give_back(&self, lease: &PgLease, state: &str) -> bool {
        self.with_control("returning a database", |c| {
            if c.generation != lease.generation {
                return Ok(false);
            }
            c.held.remove(&lease.key);
            control::release(&mut c.client, &lease.member, lease.key, state)?;
            Ok(true)
        })
        .unwrap_or(false)
    }

    /// The lease's ordinary connection for the test: a pooled one that
    /// earlier tests left clean (no connection set-up, caches warm), or a
    /// new one.
    pub fn client<'l>(&self, lease: &'l mut PgLease) -> Result<&'l mut Client> {
        if lease.client.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            let cached = lock(&self.warm)
                .remove(&lease.member)
                .and_then(|(mut c, pid)| is_alive(&mut c).then_some((c, pid)));
            let warm = match cached {
                Some(warm) => warm,
                None => {
                    let mut c = self.connect_member(&lease.member)?;
                    let pid: i32 = c
                        .query_one("SELECT pg_backend_pid()", &[])
                        .map_err(|e| DbError::pg("connecting to the test database", e))?
                        .get(0);
                    (c, pid)
                }
            };
            lease.client = Some(warm);
        }
        Ok(&mut lease.client.as_mut().expect("set above").0)
    }

    /// A new connection to a member, as a test would open it.
    pub(crate) fn connect_member(&self, member: &str) -> Result<Client> {
        self.server
            .config_for(member)
            .connect(postgres::NoTls)
            .map_err(|e| DbError::Connect {
                target: format!("test database `{member}`"),
                source: e,
                hint: None,
            })
    }

    /// Returns a lease: resets the member (or hands it to the background
    /// thread to recreate) and unlocks it.
    pub fn release(&self, mut lease: PgLease) -> Result<()> {
        if lease.baseline {
            drop(lease.client.take());
            return self.with_admin(
                |a| {
                    a.batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        lease.member
                    ))
                },
                &format!("dropping `{}`", lease.member),
            );
        }
        {
            let c = lock(&self.control);
            if c.generation != lease.generation || c.client.is_closed() {
                return Err(DbError::LeaseLost {
                    database: lease.member.clone(),
                    reason: "the connection to the server was lost".into(),
                });
            }
        }
        // The test's pooled connection survives the reset only if it can
        // be made as new: no transaction, no session state.
        let warm = lease.client.take().and_then(|(mut c, pid)| {
            let ok = !c.is_closed()
                && c.batch_execute("ROLLBACK").is_ok()
                && c.batch_execute("DISCARD ALL").is_ok();
            ok.then_some((c, pid))
        });
        // The connection to spare: the test's, cleaned above, or else the
        // pooled one the test did not take (it cannot have been used).
        let spare = warm
            .as_ref()
            .map(|w| w.1)
            .or_else(|| lock(&self.warm).get(&lease.member).map(|w| w.1));
        let outcome = match self.cfg.reset {
            ResetMode::Recreate => Err("reset = \"recreate\"".to_owned()),
            ResetMode::Truncate => self.reset_member(&lease.member, spare),
        };
        if outcome.is_ok() {
            if let Some(w) = warm {
                lock(&self.warm).insert(lease.member.clone(), w);
            }
        }
        let state = if outcome.is_ok() { "clean" } else { "stale" };
        if !self.give_back(&lease, state) {
            return Err(DbError::LeaseLost {
                database: lease.member.clone(),
                reason: "the connection to the server was lost".into(),
            });
        }
        if outcome.is_err() {
            self.notify(Task::Recreate(lease.member));
        }
        Ok(())
    }

    /// Empties what the test wrote; `Err(reason)` when the member must be
    /// recreated instead. `spare` is a backend to leave connected.
    fn reset_member(&self, member: &str, spare: Option<i32>) -> std::result::Result<(), String> {
        let cached = lock(&self.idle)
            .remove(member)
            .and_then(|mut c| is_alive(&mut c).then_some(c));
        let mut conn = match cached {
            Some(c) => c,
            _ => {
                let mut cfg = self.server.config_for(member);
                cfg.application_name("gantry-db reset");
                if self.superuser {
                    cfg.options("-c session_replication_role=replica -c lock_timeout=10s");
                } else {
                    cfg.options("-c lock_timeout=10s");
                }
                cfg.connect(postgres::NoTls).map_err(|e| e.to_string())?
            }
        };
        let spare = spare.map_or("NULL".to_owned(), |p| p.to_string());
        let rows = conn
            .simple_query(&format!(
                "SELECT _gantry.reset({TRUNCATE_ABOVE_BYTES}, {spare})"
            ))
            .map_err(|e| e.to_string())?;
        let verdict = first_row(&rows)
            .and_then(|r| r.get(0).map(str::to_owned))
            .unwrap_or_default();
        if verdict != "ok" {
            return Err(verdict);
        }
        let mut idle = lock(&self.idle);
        if idle.len() < self.max {
            idle.insert(member.to_owned(), conn);
        }
        Ok(())
    }

    /// Creates a database and applies every migration: what a test would
    /// do without a pool.
    fn checkout_baseline(&self) -> Result<PgLease> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = self.names.baseline(std::process::id(), n);
        self.with_admin(
            |a| {
                a.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
                a.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
            },
            &format!("creating `{name}`"),
        )?;
        let mut client = self.server.connect(&name)?;
        template::apply_all(&mut client, &self.set)?;
        drop(client);
        Ok(PgLease {
            url: self.server.url(&name),
            member: name,
            key: 0,
            generation: 0,
            baseline: true,
            client: None,
        })
    }

    /// Clones members until the pool has `pool` of them (on the worker's
    /// own connection, which holds the new members' locks meanwhile).
    fn prewarm(&self, c: &mut Client) -> Result<()> {
        let tpl = self.names.template();
        let target = self.cfg.pool.min(self.max);
        loop {
            let count: i64 = c
                .query_one(
                    "SELECT count(*) FROM gantry_member WHERE template = $1",
                    &[&tpl],
                )
                .map_err(|e| DbError::pg("counting pool members", e))?
                .get(0);
            if count as usize >= target {
                return Ok(());
            }
            // Reserve on the worker's session.
            let grow_key = lock_key(&format!("grow:{tpl}"));
            let mut tx = c.transaction().map_err(|e| DbError::pg("pre-warming", e))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&grow_key])
                .map_err(|e| DbError::pg("pre-warming", e))?;
            let existing: HashSet<String> = tx
                .query(
                    "SELECT name FROM gantry_member WHERE template = $1",
                    &[&tpl],
                )
                .map_err(|e| DbError::pg("pre-warming", e))?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
            if existing.len() >= target {
                return Ok(());
            }
            let mut reserved = None;
            for n in 0..self.max * 4 + 16 {
                let name = self.names.member(n);
                if existing.contains(&name) {
                    continue;
                }
                let key = lock_key(&name);
                let got =
                    try_advisory_lock(&mut tx, key).map_err(|e| DbError::pg("pre-warming", e))?;
                if got {
                    tx.execute(
                        "INSERT INTO gantry_member (name, pool, template, lock_key, state, holder, holder_pid)
                         VALUES ($1, $2, $3, $4, 'reserved', $5, pg_backend_pid())",
                        &[&name, &self.pool_id, &tpl, &key, &format!("{} (pre-warming)", self.holder)],
                    )
                    .map_err(|e| DbError::pg("pre-warming", e))?;
                    reserved = Some((name, key));
                    break;
                }
            }
            tx.commit().map_err(|e| DbError::pg("pre-warming", e))?;
            let Some((name, key)) = reserved else {
                return Ok(());
            };
            let created = c
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .and_then(|()| {
                    c.batch_execute(&format!(
                        "UPDATE gantry_member SET state = 'creating' WHERE name = '{name}'"
                    ))
                })
                .and_then(|()| c.batch_execute(&clone_sql(self.major, &name, &tpl)));
            match created {
                Ok(()) => control::release(c, &name, key, "clean")
                    .map_err(|e| DbError::pg("pre-warming", e))?,
                Err(e) => {
                    let _ = c.batch_execute(&format!(
                        "DELETE FROM gantry_member WHERE name = '{name}'; COMMIT; SELECT pg_advisory_unlock({key})"
                    ));
                    return Err(DbError::pg("pre-warming", e));
                }
            }
        }
    }

    /// Recreates `member` if nobody holds it and it is not clean (or
    /// records a clone whose creator stopped just after making it).
    /// Returns what it did.
    fn recreate_unlocked(&self, c: &mut Client, member: &str) -> Result<Option<&'static str>> {
        if !is_plain_name(member) {
            return Ok(None);
        }
        let key = lock_key(member);
        let got = try_advisory_lock(c, key).map_err(|e| DbError::pg("locking a pool member", e))?;
        if !got {
            return Ok(None);
        }
        let result = (|| {
            let row = c
                .query_opt(
                    "SELECT state, template FROM gantry_member WHERE name = $1",
                    &[&member],
                )
                .map_err(|e| DbError::pg("reading a pool member", e))?;
            let Some(row) = row else { return Ok(None) };
            let state: String = row.get(0);
            let tpl: String = row.get(1);
            if state == "clean" || tpl != self.names.template() {
                return Ok(None);
            }
            c.batch_execute(&format!(
                "UPDATE gantry_member SET holder = '{} (recreating)', holder_pid = pg_backend_pid() WHERE name = '{member}'",
                self.holder
            ))
            .map_err(|e| DbError::pg(format!("recreating `{member}`"), e))?;
            let done = if state == "creating" && exists(c, member)? {
                "finished (its creator stopped before recording it)"
            } else {
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {member} WITH (FORCE)"))
                    .and_then(|()| {
                        c.batch_execute(&format!(
                            "UPDATE gantry_member SET state = 'creating' WHERE name = '{member}'"
                        ))
                    })
                    .and_then(|()| c.batch_execute(&clone_sql(self.major, member, &tpl)))
                    .map_err(|e| DbError::pg(format!("recreating `{member}`"), e))?;
                "recreated (its lease ended without a clean return)"
            };
            control::release(c, member, key, "clean")
                .map_err(|e| DbError::pg("returning a pool member", e))?;
            Ok(Some(done))
        })();
        let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&key]);
        result
    }

    /// Finds and removes what killed runs and older templates left:
    /// members of older templates, members lost by dead holders
    /// (recreated), older templates, unfinished builds and databases
    /// without a row. With `thorough` (for `gc`) also the inspection
    /// database and databases of the baseline strategy whose process is
    /// gone. Returns what it did, one line each.
    pub fn sweep(&self, c: &mut Client, thorough: bool) -> Result<Vec<String>> {
        let mut done = Vec::new();
        let tpl = self.names.template();
        let err = |e| DbError::pg("cleaning up the pool", e);
        let current_built: Option<f64> = c
            .query_opt(
                "SELECT extract(epoch FROM used_at)::float8 FROM gantry_template WHERE name = $1",
                &[&tpl],
            )
            .map_err(err)?
            .map(|r| r.get(0));
        let templates: Vec<(String, f64)> = c
            .query(
                "SELECT name, extract(epoch FROM used_at)::float8 FROM gantry_template WHERE pool = $1",
                &[&self.pool_id],
            )
            .map_err(err)?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        // Templates last opened before ours are obsolete; one opened
        // later belongs to a process that sees other migrations, and stays.
        let obsolete: HashSet<String> = templates
            .iter()
            .filter(|(name, built)| *name != tpl && current_built.is_none_or(|cur| *built < cur))
            .map(|(name, _)| name.clone())
            .collect();
        let known_templates: HashSet<String> = templates.iter().map(|t| t.0.clone()).collect();
        let members = control::members(c, &self.names.pool_prefix).map_err(err)?;
        for m in &members {
            if m.locked {
                continue;
            }
            if obsolete.contains(&m.template) {
                if self.drop_locked(c, &m.name, m.lock_key, true)? {
                    done.push(format!("dropped `{}` (its template is outdated)", m.name));
                }
            } else if m.template == tpl && m.state != "clean" {
                if let Some(what) = self.recreate_unlocked(c, &m.name)? {
                    done.push(format!("{what}: `{}`", m.name));
                }
            }
        }
        let remaining: HashSet<String> = control::members(c, &self.names.pool_prefix)
            .map_err(err)?
            .into_iter()
            .map(|m| m.template)
            .collect();
        for old in &obsolete {
            if remaining.contains(old) || !is_plain_name(old) {
                continue;
            }
            let key = template::build_lock_key(old);
            let got = try_advisory_lock(c, key).map_err(err)?;
            if !got {
                continue;
            }
            // Under the lock, check again that nobody opened it since.
            let still: bool = c
                .query_one(
                    "SELECT coalesce((SELECT used_at FROM gantry_template WHERE name = $1)
                                   < (SELECT used_at FROM gantry_template WHERE name = $2), true)",
                    &[old, &tpl],
                )
                .map_err(err)?
                .get(0);
            if !still {
                let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&key]);
                continue;
            }
            let dropped = c
                .batch_execute(&format!(
                    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_database WHERE datname = '{old}') THEN
                     ALTER DATABASE {old} WITH IS_TEMPLATE false;
                 END IF; END $$"
                ))
                .and_then(|()| {
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {old} WITH (FORCE)"))
                })
                .and_then(|()| {
                    c.batch_execute(&format!("DELETE FROM gantry_template WHERE name = '{old}'"))
                });
            let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&key]);
            dropped.map_err(err)?;
            done.push(format!("dropped the outdated template `{old}`"));
        }
        // Databases of the pool that no row accounts for.
        let member_names: HashSet<String> = members.iter().map(|m| m.name.clone()).collect();
        let dbs: Vec<String> = c
            .query(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
                &[&self.names.pool_prefix],
            )
            .map_err(err)?
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        for db in dbs {
            if member_names.contains(&db) || known_templates.contains(&db) || !is_plain_name(&db) {
                continue;
            }
            let rest = &db[self.names.pool_prefix.len()..];
            if let Some(pid_part) = rest.strip_prefix('x') {
                let pid: Option<i32> = pid_part.split('_').next().and_then(|p| p.parse().ok());
                let alive = pid.is_some_and(|p| {
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok()
                });
                if thorough && !alive {
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                        .map_err(err)?;
                    done.push(format!("dropped `{db}` (left by a migrate-per-test run)"));
                }
                continue;
            }
            if db.ends_with("_i") {
                if thorough || !db.starts_with(&self.names.prefix) {
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                        .map_err(err)?;
                    done.push(format!("dropped the inspection database `{db}`"));
                }
                continue;
            }
            if let Some(gen_prefix) = db.strip_suffix("_b") {
                let key = template::build_lock_key(&format!("{gen_prefix}_t"));
                if self.drop_with_lock(c, &db, key)? {
                    done.push(format!("dropped `{db}` (an unfinished template build)"));
                }
                continue;
            }
            if self.drop_with_lock(c, &db, lock_key(&db))? {
                done.push(format!("dropped `{db}` (not recorded as a pool member)"));
            }
        }
        Ok(done)
    }

    fn drop_with_lock(&self, c: &mut Client, db: &str, key: i64) -> Result<bool> {
        let got = try_advisory_lock(c, key).map_err(|e| DbError::pg("cleaning up the pool", e))?;
        if !got {
            return Ok(false);
        }
        let r = c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&key]);
        r.map_err(|e| DbError::pg(format!("dropping `{db}`"), e))?;
        Ok(true)
    }

    /// Drops a member (and its row) if its lock can be taken.
    fn drop_locked(&self, c: &mut Client, name: &str, key: i64, delete_row: bool) -> Result<bool> {
        if !is_plain_name(name) {
            return Ok(false);
        }
        let got = try_advisory_lock(c, key).map_err(|e| DbError::pg("cleaning up the pool", e))?;
        if !got {
            return Ok(false);
        }
        let mut r = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        if delete_row && r.is_ok() {
            r = c.batch_execute(&format!("DELETE FROM gantry_member WHERE name = '{name}'"));
        }
        let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&key]);
        r.map_err(|e| DbError::pg(format!("dropping `{name}`"), e))?;
        Ok(true)
    }

    /// Runs a sweep on the pool's own control connection (for `gc`).
    pub fn sweep_now(&self, thorough: bool) -> Result<Vec<String>> {
        let mut client = self.server.connect_control()?;
        self.sweep(&mut client, thorough)
    }

    /// Creates (or reuses) a database cloned from the template that is
    /// not part of the pool, for looking at by hand.
    pub fn inspect_url(&self) -> Result<String> {
        let name = self.names.inspect();
        let tpl = self.names.template();
        let mut c = self.server.connect_control()?;
        let exists = c
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .map_err(|e| DbError::pg("checking the inspection database", e))?
            .is_some();
        if !exists {
            c.batch_execute(&clone_sql(self.major, &name, &tpl))
                .map_err(|e| DbError::pg(format!("creating `{name}`"), e))?;
        }
        Ok(self.server.url(&name))
    }
}

/// Whether database `name` exists and is valid (not left half-dropped).
fn exists(c: &mut Client, name: &str) -> Result<bool> {
    Ok(c.query_opt(
        "SELECT 1 FROM pg_database WHERE datname = $1 AND datconnlimit <> -2",
        &[&name],
    )
    .map_err(|e| DbError::pg("looking up a database", e))?
    .is_some())
}

/// The default maximum: each leased database needs a connection for the
/// test and one for the reset; leave room for control connections and
/// other users.
fn derived_max(client: &mut Client) -> Result<usize> {
    let row = client
        .query_one(
            "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int",
            &[],
        )
        .map_err(|e| DbError::pg("reading max_connections", e))?;
    let available: i32 = row.get(0);
    Ok((((available - 10).max(3)) / 3) as usize)
}

/// Whether a kept connection still works. Another process that used the
/// same member since ended every other connection to it when it reset the
/// member; the client only learns that on its next round trip, so this
/// makes one (an empty query) before the connection is handed out.
fn is_alive(c: &mut Client) -> bool {
    !c.is_closed() && c.simple_query("").is_ok()
}

fn is_disconnect(e: &postgres::Error) -> bool {
    e.is_closed()
        || match e.as_db_error() {
            None => true,
            Some(db) => matches!(db.code().code(), "57P01" | "57P02" | "57P03"),
        }
}

fn first_row(msgs: &[SimpleQueryMessage]) -> Option<&postgres::SimpleQueryRow> {
    msgs.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(r),
        _ => None,
    })
}

/// Who holds a lease, for status: pid and program name, in characters that
/// need no quoting.
fn holder_text() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let clean: String = exe
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(60)
        .collect();
    format!("pid {} {clean}", std::process::id())
}

/// Drops every database of pool `pool_id` that nobody holds, and its
/// rows: for sections removed from the config.
pub(crate) fn drop_pool(c: &mut Client, pool_id: &str) -> Result<Vec<String>> {
    let err = |e| DbError::pg("dropping a pool that is no longer configured", e);
    let prefix = format!("gantry_{pool_id}_");
    let mut done = Vec::new();
    for m in control::members(c, &prefix).map_err(err)? {
        if m.locked || !is_plain_name(&m.name) {
            continue;
        }
        let key = m.lock_key;
        let got = try_advisory_lock(c, key).map_err(err)?;
        if !got {
            continue;
        }
        let r = c
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", m.name))
            .and_then(|()| {
                c.execute("DELETE FROM gantry_member WHERE name = $1", &[&m.name])
                    .map(|_| ())
            });
        let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&key]);
        r.map_err(err)?;
        done.push(format!("dropped `{}`", m.name));
    }
    let templates: Vec<String> = c
        .query(
            "SELECT name FROM gantry_template WHERE pool = $1",
            &[&pool_id],
        )
        .map_err(err)?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    for t in templates {
        if !is_plain_name(&t) {
            continue;
        }
        c.batch_execute(&format!(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_database WHERE datname = '{t}') THEN
                 ALTER DATABASE {t} WITH IS_TEMPLATE false;
             END IF; END $$"
        ))
        .and_then(|()| c.batch_execute(&format!("DROP DATABASE IF EXISTS {t} WITH (FORCE)")))
        .and_then(|()| {
            c.execute("DELETE FROM gantry_template WHERE name = $1", &[&t])
                .map(|_| ())
        })
        .map_err(err)?;
        done.push(format!("dropped the template `{t}`"));
    }
    Ok(done)
}

/// Takes the session-level advisory lock `key` if it is free: the lock that
/// marks a pool member (or template build) as someone's.
fn try_advisory_lock(
    c: &mut impl postgres::GenericClient,
    key: i64,
) -> std::result::Result<bool, postgres::Error> {
    Ok(c.query_one("SELECT pg_try_advisory_lock($1)", &[&key])?
        .get(0))
}
