//! One run, start to finish: build, list, select, plan, execute, record.
//! The CLI fills a [`RunRequest`] and renders what comes back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gantry_config::{GantryConfig, ResolvedProfile};
use gantry_metadata::{AttemptResult, Outcome, RunSummary, SkipReason, TestId};

use crate::error::{Result, RunnerError};
use crate::execute::signals::{SignalCount, SignalForwarder};
use crate::execute::{EventSink, ExecuteOptions, Executor, HookError, NoHooks, UnitHooks};
use crate::fixture::{FixtureManager, FixtureOptions, FixturePlan, RunLog, WorkspaceBins};
use crate::list::{build_tests, BuildOptions, TestList};
use crate::schedule::{plan_units, History, PlannedTest};
use crate::select::{Selection, TestFilter};

/// A built and listed workspace, with its configuration and history.
pub struct Prepared {
    /// The tests.
    pub list: TestList,
    /// The duration history.
    pub history: History,
    /// The workspace configuration.
    pub config: GantryConfig,
    /// The workspace's binary targets, for fixtures' `{bin:NAME}`.
    pub bins: WorkspaceBins,
    /// How the tests were built: fixture binaries are built the same way.
    pub build: BuildOptions,
    /// The directory cargo ran in.
    pub cwd: PathBuf,
    /// Native libraries the build produced (see [`crate::list::BuildOutput::libraries`]).
    pub libraries: Vec<PathBuf>,
}

/// A workspace whose configuration has been read, and whose metadata is
/// read or on its way.
pub struct Workspace {
    /// The workspace root.
    pub root: PathBuf,
    /// Its configuration.
    pub config: GantryConfig,
    metadata: MetadataSource,
}

/// `cargo metadata --no-deps`, read already or being read by a thread
/// (while cargo builds the tests, which it does not need to wait for).
enum MetadataSource {
    Ready(Box<cargo_metadata::Metadata>),
    /// `None` once joined, when reading failed.
    Pending(Option<std::thread::JoinHandle<Result<cargo_metadata::Metadata>>>),
}

impl Drop for MetadataSource {
    /// Waits for a `cargo metadata` still running: none may outlive gantry.
    fn drop(&mut self) {
        if let MetadataSource::Pending(handle) = self {
            if let Some(handle) = handle.take() {
                let _ = handle.join();
            }
        }
    }
}

impl Workspace {
    /// `cargo metadata --no-deps` of the workspace, waiting for it if it is
    /// still being read.
    pub fn metadata(&mut self) -> Result<&cargo_metadata::Metadata> {
        if let MetadataSource::Pending(handle) = &mut self.metadata {
            let handle = handle.take().ok_or_else(|| {
                RunnerError::Metadata("an earlier attempt to read it failed".into())
            })?;
            let metadata = handle
                .join()
                .unwrap_or_else(|_| Err(RunnerError::Metadata("reading it panicked".into())))?;
            let actual = metadata.workspace_root.as_std_path();
            if actual != self.root {
                return Err(RunnerError::Metadata(format!(
                    "gantry took `{}` for the workspace root, but cargo says it is `{}`; \
                     run gantry there or pass `--manifest-path {}/Cargo.toml`",
                    self.root.display(),
                    actual.display(),
                    actual.display()
                )));
            }
            self.metadata = MetadataSource::Ready(Box::new(metadata));
        }
        match &self.metadata {
            MetadataSource::Ready(m) => Ok(m),
            MetadataSource::Pending(_) => unreachable!("replaced above"),
        }
    }
}

/// Builds the test binaries and lists their tests.
pub fn prepare(build: &BuildOptions, cwd: &Path, mut workspace: Workspace) -> Result<Prepared> {
    // Asking rustc for its sysroot costs a process; do it while cargo builds.
    let sysroot = std::thread::spawn(crate::list::test_list::sysroot_lib_dir);
    let built = build_tests(build, cwd);
    let _ = sysroot.join();
    // Wait for the metadata even when the build failed: no `cargo
    // metadata` may outlive gantry.
    let metadata = workspace.metadata();
    let built = built?;
    let metadata = metadata?;
    let list = TestList::discover(&built, metadata)?;
    let target_dir = build
        .target_dir
        .clone()
        .unwrap_or_else(|| list.target_dir.clone());
    let history = History::load(&History::path_in(&target_dir));
    let bins = WorkspaceBins::from_build(metadata, &built);
    Ok(Prepared {
        list,
        history,
        config: std::mem::take(&mut workspace.config),
        bins,
        build: build.clone(),
        cwd: cwd.to_path_buf(),
        libraries: built.libraries.clone(),
    })
}

/// Reads the configuration of the workspace `build` points at, so that bad
/// configuration fails before anything is built, and starts reading its
/// metadata.
///
/// When the workspace root is certain from the files alone (see
/// [`certain_root`]), `cargo metadata` runs in the background, at the same
/// time as the build; otherwise it is read first, to find the root.
pub fn load_workspace(build: &BuildOptions) -> Result<Workspace> {
    let (root, metadata) = match certain_root(build) {
        Some(root) => {
            let build = build.clone();
            let handle = std::thread::spawn(move || build.metadata());
            (root, MetadataSource::Pending(Some(handle)))
        }
        None => {
            let metadata = build.metadata()?;
            let root = metadata.workspace_root.clone().into_std_path_buf();
            (root, MetadataSource::Ready(Box::new(metadata)))
        }
    };
    let config = GantryConfig::load(&root)?;
    Ok(Workspace {
        root,
        config,
        metadata,
    })
}

/// The workspace root, when the files alone make it certain: with no
/// `--manifest-path`, the nearest `Cargo.toml` at or above the current
/// directory declares `[workspace]`, and a manifest that does is always its
/// workspace's root. (A member crate's directory needs cargo to tell which
/// workspace it belongs to.)
fn certain_root(build: &BuildOptions) -> Option<PathBuf> {
    if build.manifest_path.is_some() {
        return None;
    }
    root_declared_above(&std::env::current_dir().ok()?)
}

/// The nearest directory at or above `dir` with a `Cargo.toml`, if that
/// manifest declares `[workspace]`.
fn root_declared_above(dir: &Path) -> Option<PathBuf> {
    let dir = dir.ancestors().find(|d| d.join("Cargo.toml").is_file())?;
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let manifest: toml::Table = text.parse().ok()?;
    manifest
        .contains_key("workspace")
        .then(|| dir.to_path_buf())
}

/// What to run and how.
pub struct RunRequest<'a> {
    /// The profile in force (CLI flags already applied).
    pub profile: &'a ResolvedProfile,
    /// The test selection.
    pub selection: Selection,
    /// Pass output through, one test at a time.
    pub no_capture: bool,
    /// Results gathered before the run (doctests).
    pub external: Vec<(TestId, AttemptResult)>,
    /// Extra environment for every test process (e.g. coverage's
    /// `LLVM_PROFILE_FILE`).
    pub test_env: Vec<(String, String)>,
    /// Extra environment for every fixture process.
    pub fixture_env: Vec<(String, String)>,
}

/// A new run id: the start time (so ids sort by time) and the process id
/// (so runs started in the same second differ).
pub fn new_run_id() -> String {
    let now = chrono::Local::now();
    format!(
        "{}-{:05}",
        now.format("%Y%m%d-%H%M%S%.3f"),
        std::process::id() % 100_000
    )
}

/// Creates `target/gantry/runs/<run-id>/` and points `latest` at it.
pub fn create_run_dir(target_dir: &Path) -> Result<(String, PathBuf)> {
    let runs = target_dir.join("gantry").join("runs");
    std::fs::create_dir_all(&runs).map_err(RunnerError::io("could not create", &runs))?;
    let run_id = new_run_id();
    let dir = runs.join(&run_id);
    std::fs::create_dir_all(&dir).map_err(RunnerError::io("could not create", &dir))?;
    let latest = runs.join("latest");
    let _ = std::fs::remove_file(&latest);
    let _ = std::os::unix::fs::symlink(&run_id, &latest);
    // Not waited for: the deletion goes on while the tests run.
    let _ = prune_runs(&runs, 20);
    Ok((run_id, dir))
}

/// Removes a run directory that ended up unused (nothing ran) and points
/// `latest` back at the newest remaining run.
pub fn abandon_run_dir(run_dir: &Path) {
    let _ = std::fs::remove_dir_all(run_dir);
    let Some(runs) = run_dir.parent() else { return };
    let latest = runs.join("latest");
    let _ = std::fs::remove_file(&latest);
    let newest = std::fs::read_dir(runs).ok().and_then(|entries| {
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name())
            .max()
    });
    if let Some(name) = newest {
        let _ = std::os::unix::fs::symlink(name, &latest);
    }
}

/// Where pruned runs wait to be deleted, inside `runs/`.
const TRASH_PREFIX: &str = ".trash-";

/// Keeps the newest `keep` run directories. Older ones are renamed out of
/// the way (instant) and deleted by a background thread: a process-per-test
/// run of a big suite leaves thousands of files, and deleting them must not
/// delay the run starting now. What an earlier gantry left half-deleted is
/// finished here too.
fn prune_runs(runs: &Path, keep: usize) -> Option<std::thread::JoinHandle<()>> {
    let entries = std::fs::read_dir(runs).ok()?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut trash: Vec<PathBuf> = Vec::new();
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if e.file_name().to_string_lossy().starts_with(TRASH_PREFIX) {
            trash.push(e.path());
        } else {
            dirs.push(e.path());
        }
    }
    dirs.sort();
    if dirs.len() > keep {
        for d in &dirs[..dirs.len() - keep] {
            let Some(name) = d.file_name() else { continue };
            let t = runs.join(format!("{TRASH_PREFIX}{}", name.to_string_lossy()));
            if std::fs::rename(d, &t).is_ok() {
                trash.push(t);
            }
        }
    }
    (!trash.is_empty()).then(|| {
        std::thread::spawn(move || {
            // What is left when gantry exits is deleted by a later run.
            for t in trash {
                let _ = std::fs::remove_dir_all(t);
            }
        })
    })
}

/// Plans and executes a selection, feeding `sink`; saves the history.
pub fn execute(
    prepared: &mut Prepared,
    req: RunRequest<'_>,
    run_id: String,
    run_dir: PathBuf,
    sink: &mut dyn EventSink,
    hooks: Option<&mut dyn UnitHooks>,
) -> Result<RunSummary> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let profile = req.profile;
    let log = Arc::new(
        RunLog::create(&run_dir.join("gantry.log")).unwrap_or_else(|_| RunLog::disabled()),
    );
    let fixture_plan = FixturePlan::new(&prepared.config);
    let planned: Vec<PlannedTest> = req
        .selection
        .selected
        .into_iter()
        .map(|case| {
            let mut test = PlannedTest::new(case, profile, cores, &prepared.history);
            let hook_needs_own = hooks
                .as_ref()
                .is_some_and(|h| h.needs_own_process(&test.case));
            if test.batch && (fixture_plan.needs_own_process(&test.case) || hook_needs_own) {
                // One environment per process cannot point at a fresh
                // test-scoped instance per test.
                test.batch = false;
            }
            test
        })
        .collect();
    log.log(format_args!(
        "run {run_id}: {} tests selected, profile {}",
        planned.len(),
        profile.name
    ));
    // Fixture binaries are found (or built) before anything starts, so a
    // missing one fails the run at once.
    let signals = SignalCount::new();
    let used = fixture_plan.used_by(planned.iter().map(|t| &t.case));
    let mut fixtures = if used.is_empty() {
        None
    } else {
        let bins = crate::fixture::resolve_bins(
            &fixture_plan.bins_needed(&used),
            &prepared.bins,
            &prepared.build,
            &prepared.cwd,
            &log,
        )?;
        let mut fopts = FixtureOptions::new(
            run_dir.join("fixtures"),
            prepared.list.workspace_root.clone(),
            signals.clone(),
            log.clone(),
        );
        fopts.bins = bins;
        fopts.extra_env = req.fixture_env.clone();
        Some(FixtureManager::new(
            fixture_plan,
            planned.iter().map(|t| &t.case),
            fopts,
        ))
    };
    let capacity = profile.jobs.get(cores);
    let units = if req.no_capture {
        (0..planned.len())
            .map(|i| crate::schedule::Unit::single(&planned, i, 1, false))
            .collect()
    } else {
        plan_units(&planned, capacity)
    };
    let opts = ExecuteOptions {
        run_id,
        run_dir,
        profile: profile.name.clone(),
        jobs: profile.jobs,
        fail_fast: profile.fail_fast,
        max_fail: profile.max_fail,
        flaky_fails: profile.flaky_fails,
        no_capture: req.no_capture,
        test_groups: prepared
            .config
            .test_groups()
            .iter()
            .map(|(k, g)| (k.clone(), g.max_threads))
            .collect(),
        skipped: req.selection.skipped,
        external: req.external,
        extra_env: req.test_env,
        interrupt_grace: profile.grace_period.min(Duration::from_secs(10)),
    };
    let mut no_hooks = NoHooks;
    let mut hooks = BothHooks {
        fixtures: fixtures.as_mut(),
        other: hooks.unwrap_or(&mut no_hooks),
    };
    let summary = {
        let executor = Executor::new(
            &planned,
            units,
            opts,
            sink,
            &mut hooks,
            &mut prepared.history,
        );
        // Installed for the whole run including the teardown at its end,
        // which a signal must not cut short.
        let _signals = SignalForwarder::install_counting(executor.sender(), signals)
            .map_err(|e| RunnerError::Other(format!("could not install signal handlers: {e}")))?;
        executor.run()
    };
    log.log(format_args!(
        "run finished with exit code {}",
        summary.exit_code
    ));
    let fatal = fixtures.as_mut().and_then(|f| f.take_fatal());
    // Normally torn down already, at the end of the run.
    drop(fixtures);
    prepared.history.save()?;
    match fatal {
        Some(e) if summary.exit_code == gantry_metadata::ExitCode::SETUP_FAILED => Err(e.into()),
        _ => Ok(summary),
    }
}

/// The fixture manager and the caller's hooks, as one.
struct BothHooks<'a, 'b> {
    fixtures: Option<&'a mut FixtureManager>,
    other: &'b mut dyn UnitHooks,
}

impl UnitHooks for BothHooks<'_, '_> {
    fn before_unit(
        &mut self,
        tests: &[&PlannedTest],
        emit: &mut dyn FnMut(gantry_metadata::Event),
    ) -> std::result::Result<Vec<(String, String)>, HookError> {
        let mut env = match &mut self.fixtures {
            Some(f) => f.before_unit(tests, emit)?,
            None => Vec::new(),
        };
        env.extend(self.other.before_unit(tests, emit)?);
        Ok(env)
    }

    fn after_unit(&mut self, tests: &[&PlannedTest], emit: &mut dyn FnMut(gantry_metadata::Event)) {
        self.other.after_unit(tests, emit);
        if let Some(f) = &mut self.fixtures {
            f.after_unit(tests, emit);
        }
    }

    fn test_done(&mut self, test: &PlannedTest, emit: &mut dyn FnMut(gantry_metadata::Event)) {
        self.other.test_done(test, emit);
        if let Some(f) = &mut self.fixtures {
            f.test_done(test, emit);
        }
    }

    fn run_finished(&mut self, emit: &mut dyn FnMut(gantry_metadata::Event)) {
        self.other.run_finished(emit);
        if let Some(f) = &mut self.fixtures {
            f.run_finished(emit);
        }
    }
}

/// Builds the filter for `run`/`list` from its parts.
pub fn filter_for(
    mut filter: TestFilter,
    config: &GantryConfig,
    tier: Option<&str>,
) -> Result<TestFilter> {
    if let Some(t) = tier {
        filter.tier = Some(config.tier(t)?.clone());
    }
    Ok(filter)
}

/// Doctest results to fold into a run, and the doctests that were skipped.
pub type DocTestOutcome = (Vec<(TestId, AttemptResult)>, Vec<(TestId, SkipReason)>);

/// Lists, filters and runs the doctests of the workspace's libraries with
/// `cargo test --doc`, as results to fold into the run. With a partition,
/// doctests belong to shard 1 only, so no shard runs them twice.
pub fn run_doctests(
    build: &BuildOptions,
    cwd: &Path,
    list: &TestList,
    filter: &TestFilter,
    run_dir: &Path,
) -> Result<DocTestOutcome> {
    let mut results = Vec::new();
    let mut skipped = Vec::new();
    if filter.partition.is_some_and(|p| p.shard != 1) {
        return Ok((results, skipped));
    }
    let mut packages: Vec<&crate::list::TestBinary> = list
        .binaries
        .iter()
        .filter(|b| b.kind == "lib")
        .map(|b| b.as_ref())
        .collect();
    packages.dedup_by(|a, b| a.package == b.package);
    for lib in packages {
        let names = crate::doctest::list_doctests(build, &lib.package, cwd)?;
        let binary = std::sync::Arc::new(crate::list::TestBinary {
            binary_id: crate::doctest::doc_binary_id(&lib.package),
            package: lib.package.clone(),
            name: "doc".into(),
            kind: "doc".into(),
            path: PathBuf::new(),
            cwd: lib.cwd.clone(),
            env: Vec::new(),
        });
        let mut wanted = Vec::new();
        let mut include_ignored = false;
        for (name, ignored) in names {
            let case = crate::list::TestCase {
                binary: binary.clone(),
                name,
                ignored,
            };
            if !filter.matches(&case) {
                skipped.push((case.id(), SkipReason::Filtered));
            } else if !filter.ignored_ok(&case) {
                skipped.push((case.id(), SkipReason::Ignored));
            } else {
                include_ignored |= ignored;
                wanted.push(case.name);
            }
        }
        if wanted.is_empty() {
            continue;
        }
        let (doc_results, elapsed) =
            crate::doctest::run_doctests(build, &lib.package, &wanted, include_ignored, cwd)?;
        let each = elapsed.as_secs_f64() / doc_results.len().max(1) as f64;
        for r in doc_results {
            let id = TestId {
                binary_id: binary.binary_id.clone(),
                name: r.name.clone(),
            };
            let output = crate::execute::output::write_attempt(
                run_dir,
                &id.binary_id,
                &id.name,
                1,
                r.output.as_bytes(),
                None,
            );
            results.push((
                id,
                AttemptResult {
                    attempt: 1,
                    outcome: if r.passed {
                        Outcome::Pass
                    } else {
                        Outcome::Fail
                    },
                    exit_code: None,
                    signal: None,
                    duration_secs: each,
                    cpu_secs: None,
                    in_batch: true,
                    isolated: false,
                    message: (!r.passed).then(|| "doctest failed".to_string()),
                    output,
                },
            ));
        }
    }
    Ok((results, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_manifest_declaring_a_workspace_is_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(&root.join("Cargo.toml"), "[workspace]\nmembers = [\"a\"]\n");
        write(&root.join("a/Cargo.toml"), "[package]\nname = \"a\"\n");
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        // From the root and from a directory without a manifest below it.
        assert_eq!(root_declared_above(root), Some(root.to_path_buf()));
        assert_eq!(
            root_declared_above(&root.join("src/deep")),
            Some(root.to_path_buf())
        );
        // A member crate's own manifest does not say which workspace it is in.
        assert_eq!(root_declared_above(&root.join("a")), None);
    }

    #[test]
    fn old_runs_are_pruned_in_the_background() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path();
        let names: Vec<String> = (0..23)
            .map(|i| format!("20260101-0000{i:02}.000-00001"))
            .collect();
        for n in &names {
            write(&runs.join(n).join("tests/a.out"), "output");
        }
        // Left half-deleted by an earlier gantry.
        write(&runs.join(".trash-20250101-000000.000-00001/x"), "");
        prune_runs(runs, 20)
            .expect("something to delete")
            .join()
            .unwrap();
        let mut left: Vec<String> = std::fs::read_dir(runs)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, names[3..]);
        assert!(prune_runs(runs, 20).is_none());
    }

    #[test]
    fn a_package_with_an_empty_workspace_table_is_its_own_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            &root.join("Cargo.toml"),
            "[package]\nname = \"p\"\nversion = \"0.1.0\"\n\n[workspace]\n",
        );
        assert_eq!(root_declared_above(root), Some(root.to_path_buf()));
        write(&root.join("Cargo.toml"), "[package]\nname = \"p\"\n");
        assert_eq!(root_declared_above(root), None);
        write(&root.join("Cargo.toml"), "this is not toml [");
        assert_eq!(root_declared_above(root), None);
    }
}
