//! `cargo gantry db …`, and the database leases of a run: each test that a
//! `[database.NAME]` section is `for` gets its own database, leased for
//! exactly the life of its process.

use std::collections::HashMap;
use std::path::Path;

use gantry_db::runner::{DatabaseHooks, TestLeases};
use gantry_metadata::{Event, ExitCode};
use gantry_runner::execute::{HookError, UnitHooks};
use gantry_runner::list::{BuildOptions, TestCase};
use gantry_runner::run;
use gantry_runner::schedule::PlannedTest;

use crate::cli::{DbArgs, DbCommand};
use crate::error::CliError;
use crate::printer::Printer;

pub(crate) fn db(args: DbArgs, printer: &Printer) -> Result<i32, CliError> {
    let build = BuildOptions {
        manifest_path: args.manifest_path.clone(),
        ..Default::default()
    };
    let root = run::load_workspace(&build)?.root;
    let text = match &args.command {
        DbCommand::Status => gantry_db::cli::status(&root)?,
        DbCommand::Url { name } => gantry_db::cli::url(&root, name)?,
        DbCommand::Stop => gantry_db::cli::stop(&root)?,
        DbCommand::Gc => gantry_db::cli::gc(&root)?,
    };
    printer.out(text.trim_end());
    Ok(ExitCode::OK)
}

/// Leases databases to the tests that need them.
pub(crate) struct DbHooks {
    inner: DatabaseHooks,
    /// Leases of running processes, by their first test.
    held: HashMap<(String, String), TestLeases>,
}

impl DbHooks {
    /// Hooks for a run of `selected`, with the server started and the
    /// templates built up front; `None` when no selected test needs a
    /// database.
    pub(crate) fn for_run(
        root: &Path,
        config: &gantry_config::GantryConfig,
        selected: &[TestCase],
        printer: &Printer,
    ) -> Result<Option<Self>, CliError> {
        let mut inner = DatabaseHooks::new(root, config)?;
        for w in inner.warnings() {
            printer.warning(w);
        }
        if inner.is_empty()
            || !selected
                .iter()
                .any(|t| !inner.databases_for(&t.query()).is_empty())
        {
            return Ok(None);
        }
        inner.prepare()?;
        Ok(Some(Self {
            inner,
            held: HashMap::new(),
        }))
    }
}

fn key(t: &PlannedTest) -> (String, String) {
    (t.case.binary.binary_id.clone(), t.case.name.clone())
}

impl UnitHooks for DbHooks {
    fn needs_own_process(&self, test: &TestCase) -> bool {
        !self.inner.databases_for(&test.query()).is_empty()
    }

    fn before_unit(
        &mut self,
        tests: &[&PlannedTest],
        _emit: &mut dyn FnMut(Event),
    ) -> Result<Vec<(String, String)>, HookError> {
        let Some(first) = tests.first() else {
            return Ok(Vec::new());
        };
        if tests.len() > 1 {
            // Only tests that need no database are batched.
            return Ok(Vec::new());
        }
        let leases = self
            .inner
            .lease_all_for_test(&first.case.query())
            .map_err(|e| HookError::tests_fail(format!("no test database: {e}")))?;
        let env = leases.env.clone();
        self.held.insert(key(first), leases);
        Ok(env)
    }

    fn after_unit(&mut self, tests: &[&PlannedTest], _emit: &mut dyn FnMut(Event)) {
        if let Some(first) = tests.first() {
            // Dropping the guards returns (and resets) the databases.
            self.held.remove(&key(first));
        }
    }

    fn run_finished(&mut self, _emit: &mut dyn FnMut(Event)) {
        self.held.clear();
    }
}
