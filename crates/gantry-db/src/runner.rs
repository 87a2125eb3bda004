//! Leasing databases for gantry's runner: one database per test, handed
//! over in an environment variable.
//!
//! The runner owns a [`DatabaseHooks`] for the run. Its leases are held by
//! the runner process's connection, so if gantry itself dies, the server
//! releases them; and because pools are shared through the server, tests
//! that also call [`TestDb::checkout`](crate::TestDb::checkout) work in
//! the same run without conflicts.
//!
//! A typical `UnitHooks` implementation:
//!
//! ```no_run
//! # use std::path::Path;
//! # use gantry_db::runner::{DatabaseHooks, LeaseGuard};
//! # fn demo(root: &Path, config: &gantry_config::GantryConfig,
//! #         test: &gantry_filter::TestQuery<'_>) -> Result<(), gantry_db::DbError> {
//! // Once, before any test runs (a failure here is exit code 102):
//! let mut hooks = DatabaseHooks::new(root, config)?;
//! hooks.prepare()?;
//!
//! // before_unit, for a unit of one test:
//! let mut env = Vec::new();
//! let mut guards: Vec<LeaseGuard> = Vec::new();
//! for name in hooks.databases_for(test) {
//!     let (var, url, guard) = hooks.lease_for_test(&name)?;
//!     env.push((var, url));
//!     guards.push(guard);
//! }
//! // … run the test process with `env` …
//!
//! // after_unit: dropping the guards returns the databases (reset).
//! drop(guards);
//! # Ok(()) }
//! ```
//!
//! A unit that runs several tests in one process (a batch) shares one
//! database between them, one after another without a reset in between;
//! so tests that need a database from the runner should run one per
//! process, or use `TestDb::checkout` themselves.

use std::collections::BTreeMap;
use std::path::Path;

use gantry_config::GantryConfig;
use gantry_filter::TestQuery;

use crate::config::DatabasesConfig;
use crate::error::{DbError, Result};
use crate::{DbPool, TestDb};

/// The databases of one run: which tests get which database, and the
/// leases.
#[derive(Debug)]
pub struct DatabaseHooks {
    config: DatabasesConfig,
    pools: BTreeMap<String, DbPool>,
}

/// A database leased for one test; returned (reset) when dropped.
#[derive(Debug)]
pub struct LeaseGuard {
    db: TestDb,
}

impl LeaseGuard {
    /// The URL handed to the test.
    pub fn url(&self) -> &str {
        self.db.url()
    }

    /// The database name (or SQLite file).
    pub fn database(&self) -> String {
        self.db.database()
    }

    /// Returns the database now, reporting problems that dropping the
    /// guard would swallow.
    pub fn release(self) -> Result<()> {
        self.db.release()
    }
}

/// Everything leased for one test by [`DatabaseHooks::lease_all_for_test`].
#[derive(Debug, Default)]
pub struct TestLeases {
    /// Variables to set for the test's process (`env` of each section →
    /// database URL).
    pub env: Vec<(String, String)>,
    /// Return the databases when dropped; keep them until the process
    /// has ended.
    pub guards: Vec<LeaseGuard>,
}

impl DatabaseHooks {
    /// Parses and validates the `[database.NAME]` sections of `config`
    /// (wrong values fail here, before anything runs). Starts nothing.
    pub fn new(workspace_root: &Path, config: &GantryConfig) -> Result<Self> {
        Ok(DatabaseHooks {
            config: DatabasesConfig::from_config(workspace_root, config)?,
            pools: BTreeMap::new(),
        })
    }

    /// Whether no database is configured (the runner can skip the hooks).
    pub fn is_empty(&self) -> bool {
        self.config.databases.is_empty()
    }

    /// The parsed sections.
    pub fn config(&self) -> &DatabasesConfig {
        &self.config
    }

    /// Unknown keys in database sections, as messages to print before the
    /// run.
    pub fn warnings(&self) -> &[String] {
        &self.config.warnings
    }

    /// The sections whose `for` filter matches `test`, by name. Sections
    /// without `for` are for `TestDb::checkout` only and match no test.
    pub fn databases_for(&self, test: &TestQuery<'_>) -> Vec<String> {
        self.config
            .databases
            .values()
            .filter(|d| d.filter.as_ref().is_some_and(|f| f.matches(test)))
            .map(|d| d.name.clone())
            .collect()
    }

    /// Opens every pool that has a `for` filter: starts the embedded
    /// server and builds templates now, so that a broken migration fails
    /// the run before any test starts rather than every test.
    pub fn prepare(&mut self) -> Result<()> {
        let names: Vec<String> = self
            .config
            .databases
            .values()
            .filter(|d| d.filter.is_some())
            .map(|d| d.name.clone())
            .collect();
        for name in names {
            self.pool(&name)?;
        }
        Ok(())
    }

    fn pool(&mut self, name: &str) -> Result<&DbPool> {
        if !self.pools.contains_key(name) {
            let pool = DbPool::from_config(&self.config, name)?;
            self.pools.insert(name.to_owned(), pool);
        }
        Ok(&self.pools[name])
    }

    /// Leases a database of section `db_name` for one test. Returns the
    /// environment variable to set (the section's `env`, default
    /// `DATABASE_URL`), its value (the database URL) and the guard that
    /// returns the database when dropped — drop it when the test's
    /// process has ended.
    pub fn lease_for_test(&mut self, db_name: &str) -> Result<(String, String, LeaseGuard)> {
        let env = self.config.get(db_name)?.env.clone();
        let db = self.pool(db_name)?.checkout()?;
        let url = db.url().to_owned();
        Ok((env, url, LeaseGuard { db }))
    }

    /// Leases every database `test` needs: the environment for its
    /// process and the guards. Fails if two sections would set the same
    /// variable.
    pub fn lease_all_for_test(&mut self, test: &TestQuery<'_>) -> Result<TestLeases> {
        let mut env: Vec<(String, String)> = Vec::new();
        let mut guards = Vec::new();
        let mut owners: BTreeMap<String, String> = BTreeMap::new();
        for name in self.databases_for(test) {
            let var = self.config.get(&name)?.env.clone();
            if let Some(other) = owners.insert(var.clone(), name.clone()) {
                return Err(DbError::invalid(
                    &self.config.path,
                    &name,
                    "env",
                    format!(
                        "test `{}` matches the `for` of both [database.{other}] and [database.{name}], which both set {var}; give one of them another `env`",
                        test.test
                    ),
                ));
            }
            let (var, url, guard) = self.lease_for_test(&name)?;
            env.push((var, url));
            guards.push(guard);
        }
        Ok(TestLeases { env, guards })
    }
}
