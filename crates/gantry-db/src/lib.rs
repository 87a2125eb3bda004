//! Pools of isolated test databases.
//!
//! A test that needs a database asks for one by the name of its
//! `[database.NAME]` section in `.config/gantry.toml` and gets a database
//! nobody else uses until it is returned, already migrated, in a few
//! milliseconds:
//!
//! ```no_run
//! # fn main() -> Result<(), gantry_db::DbError> {
//! let db = gantry_db::TestDb::checkout("main")?;
//! let mut client = db.connect()?; // or any driver with db.url()
//! client.batch_execute("INSERT INTO users (name) VALUES ('ada')").unwrap();
//! # Ok(()) }
//! // Dropping `db` (also when the test panics) returns it, emptied.
//! ```
//!
//! It works under plain `cargo test`, nextest and gantry's runner alike,
//! because the pool lives on the database server rather than in a
//! process:
//!
//! - **Server.** By default gantry runs its own throwaway PostgreSQL
//!   cluster under `target/gantry/pg/` (Unix socket only, no durability,
//!   started on demand by the first test process, restarted transparently
//!   after a crash or `cargo gantry db stop`); `url = "postgres://…"` uses
//!   an existing server instead, where gantry only touches databases
//!   whose names start with `gantry_`.
//! - **Templates.** The migrations (and seed) are applied once into a
//!   template database named after the hash of their contents; a changed
//!   migration makes a new template and the old one is dropped.
//! - **Leases.** Test databases are clones of the template, made ahead of
//!   time in the background. A checkout is an advisory lock held by the
//!   test process's connection, so a process that dies loses its leases
//!   at once, and a database whose lease ended without a clean return is
//!   recreated before anyone else gets it.
//! - **Reset.** On return only the tables the test wrote (recorded by
//!   triggers installed in the template) are emptied, and seed rows and
//!   sequences restored — a few milliseconds, where re-creating a
//!   database costs 50–150. A test that changed the schema gets its
//!   database recreated instead.
//!
//! SQLite (`engine = "sqlite"`) is supported too: the template is a file,
//! copied per checkout and deleted on return.
//!
//! [`cli`] has what `cargo gantry db …` prints, and [`runner`] the hooks
//! with which gantry's runner leases a database per test and hands it over
//! in an environment variable.
//!
//! # Configuration
//!
//! ```toml
//! [database.main]
//! engine = "postgres"          # or "sqlite"
//! server = "embedded"          # default; or url = "postgres://user@host/db"
//! migrations = "migrations/"   # <version>_<name>.sql, *.up.sql; *.down.sql ignored
//! seed = "seed.sql"            # applied after the migrations, restored by every reset
//! pool = 4                     # databases cloned ahead of time
//! max = 16                     # default: derived from the server's max_connections
//! reset = "truncate"           # or "recreate"
//! checkout-timeout = "30s"     # wait for a free database at `max`, then fail
//! env = "DATABASE_URL"         # for gantry's runner
//! for = "package(store)"       # tests the runner leases a database for
//! ```
//!
//! Paths are relative to the workspace root. Environment variables:
//! `GANTRY_WORKSPACE_ROOT` (where `.config/gantry.toml` is, when not found
//! from `CARGO_MANIFEST_DIR` upwards), `GANTRY_PG_BIN` (the directory of
//! `initdb`, `pg_ctl` and `postgres`, when not on `PATH`, under
//! `/usr/lib/postgresql/*/bin` or at `pg_config --bindir`), and
//! [`STRATEGY_ENV`] (`GANTRY_DB_STRATEGY=migrate`: a fresh database with
//! every migration per checkout, the baseline the pool is measured
//! against).
//!
//! Inside each template gantry keeps its bookkeeping in a schema
//! `_gantry`, and adds a statement trigger `_gantry_track` to every table
//! and (as superuser) two event triggers; tests that list all tables,
//! triggers or schemas see them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

pub mod cli;
mod config;
mod error;
mod lock;
mod migrations;
pub mod pg;
pub mod runner;
#[cfg(feature = "sqlite")]
mod sqlite;
mod workspace;

pub use config::{
    DatabaseConfig, DatabasesConfig, Engine, ResetMode, ServerSpec, KEYS as CONFIG_KEYS,
};
pub use error::{DbError, Result};
pub use migrations::split_statements;
pub use pg::pool::STRATEGY_ENV;
pub use workspace::find_workspace_root;

/// The PostgreSQL driver gantry-db uses, so that tests can connect with
/// [`TestDb::connect`] without depending on a matching version.
pub use postgres;

use pg::pool::{PgLease, PgPool};

/// What a process opens a pool for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// Checkouts: build the template, pre-warm and sweep in the background.
    Tests,
    /// A short-lived CLI command that needs the template: no background
    /// thread, whose work the process's exit would interrupt.
    Cli,
    /// Maintenance (`gc`): neither build the template nor pre-warm.
    Maintenance,
}

/// A pool of test databases for one `[database.NAME]` section.
///
/// Cheap to clone. Most tests never see it: [`TestDb::checkout`] uses one
/// pool per workspace and name for the whole process. Open one yourself
/// to pick the workspace explicitly or to get a pool that reflects
/// migration files changed since the process started.
#[derive(Clone)]
pub struct DbPool {
    name: String,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Pg(Arc<PgPool>),
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<sqlite::SqlitePool>),
}

impl std::fmt::Debug for DbPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbPool").field("name", &self.name).finish()
    }
}

impl DbPool {
    /// Opens the pool of section `name` of `<workspace_root>/.config/gantry.toml`:
    /// starts the embedded server if needed, builds the template if the
    /// migrations changed, and starts cloning databases in the
    /// background.
    pub fn open(workspace_root: &Path, name: &str) -> Result<DbPool> {
        let config = DatabasesConfig::load(workspace_root)?;
        Self::from_config(&config, name)
    }

    /// Like [`open`](Self::open) with an already parsed config.
    pub fn from_config(config: &DatabasesConfig, name: &str) -> Result<DbPool> {
        Self::open_with(config, name, OpenMode::Tests)
    }

    pub(crate) fn open_with(
        config: &DatabasesConfig,
        name: &str,
        mode: OpenMode,
    ) -> Result<DbPool> {
        let cfg = config.get(name)?;
        let root = config.root.clone();
        let cfg = cfg.clone();
        off_runtime(move || {
            let backend = match cfg.engine {
                Engine::Postgres => Backend::Pg(PgPool::open(&root, &cfg, mode)?),
                #[cfg(feature = "sqlite")]
                Engine::Sqlite => Backend::Sqlite(sqlite::SqlitePool::open(&root, &cfg, mode)?),
                #[cfg(not(feature = "sqlite"))]
                Engine::Sqlite => {
                    return Err(DbError::EngineNotBuilt {
                        name: cfg.name.clone(),
                        engine: "sqlite",
                    })
                }
            };
            Ok(DbPool {
                name: cfg.name.clone(),
                backend,
            })
        })
    }

    /// The process-wide pool of `name` in `workspace_root`, opened on
    /// first use. Threads share it, and with it the process's connection
    /// to the server.
    pub fn shared(workspace_root: &Path, name: &str) -> Result<DbPool> {
        static POOLS: OnceLock<Mutex<HashMap<(PathBuf, String), DbPool>>> = OnceLock::new();
        let mut pools = POOLS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (workspace_root.to_path_buf(), name.to_owned());
        if let Some(p) = pools.get(&key) {
            return Ok(p.clone());
        }
        let pool = DbPool::open(workspace_root, name)?;
        pools.insert(key, pool.clone());
        Ok(pool)
    }

    /// The section name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The engine of the pool.
    pub fn engine(&self) -> Engine {
        match &self.backend {
            Backend::Pg(_) => Engine::Postgres,
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// The template database (PostgreSQL) or file (SQLite) clones are
    /// made from.
    pub fn template(&self) -> String {
        match &self.backend {
            Backend::Pg(p) => p.template_name(),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(p) => p.template.display().to_string(),
        }
    }

    /// The most databases the pool grows to (PostgreSQL).
    pub fn max(&self) -> Option<usize> {
        match &self.backend {
            Backend::Pg(p) => Some(p.max),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => None,
        }
    }

    /// Leases a database: a clean clone of the template that no other
    /// test, thread or process gets until it is returned. Waits up to
    /// `checkout-timeout` when the pool is at its maximum, then fails
    /// with [`DbError::PoolExhausted`].
    pub fn checkout(&self) -> Result<TestDb> {
        let backend = self.backend.clone();
        let name = self.name.clone();
        off_runtime(move || {
            let lease = match &backend {
                Backend::Pg(p) => Lease::Pg(Box::new(p.checkout()?)),
                #[cfg(feature = "sqlite")]
                Backend::Sqlite(p) => Lease::Sqlite(p.checkout()?),
            };
            Ok(TestDb {
                name,
                url: lease.url().to_owned(),
                backend,
                lease: Some(lease),
            })
        })
    }

    /// [`checkout`](Self::checkout) for async tests: runs on a thread of
    /// its own and works with any executor.
    pub async fn checkout_async(&self) -> Result<TestDb> {
        let pool = self.clone();
        on_thread(move || pool.checkout()).await
    }

    /// Removes leftovers of this pool: databases of outdated templates,
    /// databases whose lease ended without a clean return (recreated),
    /// unfinished template builds, and with `thorough` also the
    /// inspection database and databases of the migrate-per-test
    /// strategy. Returns one line per action.
    pub fn sweep(&self, thorough: bool) -> Result<Vec<String>> {
        let backend = self.backend.clone();
        off_runtime(move || match &backend {
            Backend::Pg(p) => p.sweep_now(thorough),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(p) => p.sweep(thorough),
        })
    }

    pub(crate) fn pg(&self) -> Option<&Arc<PgPool>> {
        match &self.backend {
            Backend::Pg(p) => Some(p),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => None,
        }
    }
}

#[derive(Debug)]
enum Lease {
    Pg(Box<PgLease>),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::SqliteLease),
}

impl Lease {
    fn url(&self) -> &str {
        match self {
            Lease::Pg(l) => &l.url,
            #[cfg(feature = "sqlite")]
            Lease::Sqlite(l) => &l.url,
        }
    }
}

/// A leased test database, returned when dropped.
///
/// Dropping it — at the end of the test or while a panic unwinds — resets
/// the database and hands it back to the pool; if the process dies
/// instead, the server notices and the database is recreated before its
/// next use. Either way no test ever sees another test's data.
pub struct TestDb {
    name: String,
    url: String,
    backend: Backend,
    lease: Option<Lease>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("pool", &self.name)
            .field("url", &self.url)
            .finish()
    }
}

impl TestDb {
    /// Leases a database of section `name` of the workspace's
    /// `.config/gantry.toml` (found with [`find_workspace_root`]).
    ///
    /// The first checkout in a process opens the pool (and may start the
    /// embedded server and build the template); later ones take a few
    /// milliseconds.
    pub fn checkout(name: &str) -> Result<TestDb> {
        let root = find_workspace_root()?;
        Self::checkout_in(&root, name)
    }

    /// [`checkout`](Self::checkout) from the workspace at `workspace_root`.
    pub fn checkout_in(workspace_root: &Path, name: &str) -> Result<TestDb> {
        DbPool::shared(workspace_root, name)?.checkout()
    }

    /// [`checkout`](Self::checkout) for async tests; works with any
    /// executor (the blocking work runs on a thread of its own).
    pub async fn checkout_async(name: &str) -> Result<TestDb> {
        let name = name.to_owned();
        on_thread(move || TestDb::checkout(&name)).await
    }

    /// The URL to connect with: `postgresql:///DB?host=/tmp/…&user=postgres`
    /// for the embedded server (understood by libpq, tokio-postgres and
    /// sqlx), the configured URL with the database replaced for an
    /// external one, and `sqlite:///path/to/copy.db` for SQLite.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name (PostgreSQL) or file path (SQLite).
    pub fn database(&self) -> String {
        match &self.lease {
            Some(Lease::Pg(l)) => l.member.clone(),
            #[cfg(feature = "sqlite")]
            Some(Lease::Sqlite(l)) => l.path.display().to_string(),
            None => String::new(),
        }
    }

    /// The SQLite file of this checkout.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.lease {
            #[cfg(feature = "sqlite")]
            Some(Lease::Sqlite(l)) => Some(&l.path),
            _ => None,
        }
    }

    /// The name of the pool's section.
    pub fn pool_name(&self) -> &str {
        &self.name
    }

    /// A ready connection to the database (PostgreSQL only), kept by the
    /// pool between tests: a test that uses it skips connecting (~3 ms
    /// on a small machine, more than the whole checkout and reset) and
    /// finds the server's caches warm.
    ///
    /// The same connection is returned on every call for this checkout.
    /// At return it is rolled back and cleaned with `DISCARD ALL` (temp
    /// tables, settings, prepared statements, advisory locks go), so the
    /// next test finds it as new. Like [`connect`](Self::connect), it
    /// cannot be used inside an async runtime.
    pub fn client(&mut self) -> Result<&mut postgres::Client> {
        let backend = self.backend.clone();
        match (&backend, &mut self.lease) {
            (Backend::Pg(p), Some(Lease::Pg(l))) => p.client(l),
            _ => Err(DbError::NotPostgres {
                name: self.name.clone(),
            }),
        }
    }

    /// A new synchronous connection to the database (PostgreSQL only).
    ///
    /// The `postgres` client runs its own small runtime and so cannot be
    /// used inside an async runtime; async tests connect to
    /// [`url`](Self::url) with `tokio-postgres` or sqlx.
    pub fn connect(&self) -> Result<postgres::Client> {
        match (&self.backend, &self.lease) {
            (Backend::Pg(p), Some(Lease::Pg(l))) => p.connect_member(&l.member),
            _ => Err(DbError::NotPostgres {
                name: self.name.clone(),
            }),
        }
    }

    /// Returns the database now and reports what went wrong, which
    /// dropping cannot. A failed return is still safe: the database is
    /// recreated before it is used again.
    pub fn release(mut self) -> Result<()> {
        self.release_inner()
    }

    /// [`release`](Self::release) for async tests.
    pub async fn release_async(mut self) -> Result<()> {
        let lease = self.lease.take();
        let backend = self.backend.clone();
        on_thread(move || release_lease(&backend, lease)).await
    }

    fn release_inner(&mut self) -> Result<()> {
        let lease = self.lease.take();
        let backend = self.backend.clone();
        off_runtime(move || release_lease(&backend, lease))
    }
}

fn release_lease(backend: &Backend, lease: Option<Lease>) -> Result<()> {
    match (backend, lease) {
        (Backend::Pg(p), Some(Lease::Pg(l))) => p.release(*l),
        #[cfg(feature = "sqlite")]
        (Backend::Sqlite(p), Some(Lease::Sqlite(l))) => p.release(l),
        _ => Ok(()),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Errors leave the database marked as needing recreation, which is
        // safe; there is nobody to report them to here.
        let _ = self.release_inner();
    }
}

/// Where the SQLite template of a section with content `hash` lives.
pub(crate) fn sqlite_template_path(root: &Path, name: &str, hash: &str) -> PathBuf {
    root.join("target")
        .join("gantry")
        .join("sqlite")
        .join(format!("{name}-{}.db", &hash[..12]))
}

/// How many SQLite copies of a section exist.
pub(crate) fn sqlite_lease_count(root: &Path, name: &str) -> usize {
    let dir = root
        .join("target")
        .join("gantry")
        .join("sqlite")
        .join("leases");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with(&format!("{name}-")) && n.ends_with(".db")
                })
                .count()
        })
        .unwrap_or(0)
}

/// Runs `f` here, or on a scoped thread when called inside a tokio
/// runtime, where the synchronous `postgres` client would panic.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    } else {
        f()
    }
}

/// Runs blocking `f` on a new thread and awaits its result on any executor.
async fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(result);
    });
    match rx.await {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("gantry-db: the checkout thread ended without a result"),
    }
}
