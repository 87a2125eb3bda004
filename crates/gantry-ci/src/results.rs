//! Results directories and the merge of sharded runs.
//!
//! A run with `--results DIR` leaves everything CI needs from it in one
//! directory that a job can upload as an artifact: the event stream, a
//! JUnit file, the captured output of each test, the durations it
//! measured and, for a shard, which shard it was. [`merge`] then turns N
//! such directories back into what one unsharded run would have
//! produced, and says when they cannot add up to it: a test that ran in
//! two shards (the shards disagreed on the partition, e.g. different test
//! lists) or a shard that is missing (its job died or was not downloaded).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use gantry_metadata::{
    AttemptResult, Event, EventEnvelope, ExitCode, RunSummary, SkipReason, TestId, TestStatus,
    EVENT_FORMAT_VERSION,
};
use gantry_runner::execute::EventSink;
use gantry_runner::report::JunitReporter;
use gantry_runner::schedule::{History, Observation};
use serde::{Deserialize, Serialize};

use crate::error::{CiError, Result};

/// Version of `shard.json`.
pub const SHARD_FORMAT_VERSION: u32 = 1;

/// `shard.json`: which part of a partitioned run a results directory holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Always [`SHARD_FORMAT_VERSION`].
    pub format_version: u32,
    /// The `--partition` value, e.g. `duration:2/4`; `None` for a run that
    /// was not partitioned.
    pub partition: Option<String>,
    /// The run's id.
    pub run_id: String,
    /// The absolute path of the directory when it was written. Output
    /// paths in the events start with it; the merge rewrites them to where
    /// the directory is now (another machine, another checkout).
    pub results_dir: String,
}

impl ShardInfo {
    /// `(M, N)` of a `KIND:M/N` partition.
    pub fn shard(&self) -> Option<(usize, usize)> {
        let (_, mn) = self.partition.as_deref()?.split_once(':')?;
        let (m, n) = mn.split_once('/')?;
        Some((m.parse().ok()?, n.parse().ok()?))
    }
}

/// The layout of a results directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultsDir {
    root: PathBuf,
}

/// The files a results directory holds (removed by [`ResultsDir::create`]
/// so a reused directory never mixes two runs).
const FILES: &[&str] = &[
    "events.jsonl",
    "junit.xml",
    "history.json",
    "shard.json",
    "summary.json",
];

impl ResultsDir {
    /// The results directory at `root` (nothing is touched).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Creates `root` for a new run, removing the files and logs of an
    /// earlier run in it.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self> {
        let dir = Self::new(root);
        std::fs::create_dir_all(&dir.root).map_err(CiError::io("could not create", &dir.root))?;
        for f in FILES {
            let p = dir.root.join(f);
            if p.exists() {
                std::fs::remove_file(&p).map_err(CiError::io("could not remove", &p))?;
            }
        }
        let logs = dir.logs_dir();
        if logs.exists() {
            std::fs::remove_dir_all(&logs).map_err(CiError::io("could not remove", &logs))?;
        }
        std::fs::create_dir_all(&logs).map_err(CiError::io("could not create", &logs))?;
        Ok(dir)
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `events.jsonl`: the run's event stream (JSON lines); the runner
    /// writes it with a JSON-lines reporter.
    pub fn events_path(&self) -> PathBuf {
        self.root.join("events.jsonl")
    }

    /// `junit.xml`.
    pub fn junit_path(&self) -> PathBuf {
        self.root.join("junit.xml")
    }

    /// `logs/`: the runner's run directory (captured output per test
    /// attempt, fixture logs).
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// `history.json`: the durations this run measured.
    pub fn history_path(&self) -> PathBuf {
        self.root.join("history.json")
    }

    /// `shard.json`.
    pub fn shard_path(&self) -> PathBuf {
        self.root.join("shard.json")
    }

    /// `summary.json`: the [`RunSummary`].
    pub fn summary_path(&self) -> PathBuf {
        self.root.join("summary.json")
    }

    /// Reads `events.jsonl`.
    pub fn read_events(&self) -> Result<Vec<EventEnvelope>> {
        let path = self.events_path();
        let file = std::fs::File::open(&path).map_err(|e| CiError::Results {
            path: self.root.clone(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "there is no events.jsonl: this is not a results directory, or its run never started (was it written by `cargo gantry run --results DIR`?)".into()
            } else {
                format!("cannot read events.jsonl: {e}")
            },
        })?;
        let mut events = Vec::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(CiError::io("could not read", &path))?;
            if line.trim().is_empty() {
                continue;
            }
            let ev: EventEnvelope = serde_json::from_str(&line).map_err(|e| CiError::Results {
                path: path.clone(),
                message: format!("line {}: not a gantry event: {e}", i + 1),
            })?;
            events.push(ev);
        }
        Ok(events)
    }

    /// Reads `shard.json`, `None` if there is none.
    pub fn read_shard(&self) -> Result<Option<ShardInfo>> {
        let path = self.shard_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| CiError::Results {
                    path,
                    message: format!("invalid shard.json: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CiError::io("could not read", path)(e)),
        }
    }

    /// Writes `shard.json`.
    pub fn write_shard(&self, info: &ShardInfo) -> Result<()> {
        write_json(&self.shard_path(), info)
    }

    /// Completes the directory after the run: derives `junit.xml`,
    /// `history.json` and `summary.json` from `events.jsonl`, and writes
    /// `shard.json` with `partition` (the `--partition` value, if any).
    pub fn finish(&self, partition: Option<&str>) -> Result<ShardInfo> {
        let events = self.read_events()?;
        let run_id = events
            .iter()
            .find_map(|e| match &e.event {
                Event::RunStarted { run_id, .. } => Some(run_id.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let info = ShardInfo {
            format_version: SHARD_FORMAT_VERSION,
            partition: partition.map(str::to_string),
            run_id,
            results_dir: absolute(&self.root).display().to_string(),
        };
        self.write_shard(&info)?;
        if let Some(summary) = events.iter().rev().find_map(|e| match &e.event {
            Event::RunFinished { summary } => Some(summary.clone()),
            _ => None,
        }) {
            write_json(&self.summary_path(), &summary)?;
        }
        let mut history = History::load(&self.history_path());
        history.merge(&history_from_events(&events));
        history.save().map_err(|e| CiError::Results {
            path: self.history_path(),
            message: e.to_string(),
        })?;
        write_junit(&self.junit_path(), &events)?;
        Ok(info)
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).expect("serializable");
    std::fs::write(path, bytes).map_err(CiError::io("could not write", path))
}

fn write_junit(path: &Path, events: &[EventEnvelope]) -> Result<()> {
    let mut junit = JunitReporter::new(path.to_path_buf());
    for e in events {
        junit.emit(e);
    }
    match junit.error.take() {
        Some(message) => Err(CiError::Results {
            path: path.to_path_buf(),
            message,
        }),
        None => Ok(()),
    }
}

/// The durations (and failure / isolation facts) a stream of events
/// shows, as a history to merge into another.
pub fn history_from_events(events: &[EventEnvelope]) -> History {
    let mut history = History::default();
    let mut isolating: BTreeSet<&TestId> = BTreeSet::new();
    for e in events {
        match &e.event {
            Event::TestIsolating { id, .. } => {
                isolating.insert(id);
            }
            Event::TestFinished {
                id, status, result, ..
            } => {
                let secs = result.duration_secs.max(0.0);
                history.record(
                    &id.binary_id,
                    &id.name,
                    &Observation {
                        duration: Duration::from_secs_f64(secs),
                        cpu_ratio: result.cpu_secs.filter(|_| secs > 0.0).map(|c| c / secs),
                        failed: status.is_failure(),
                        isolation_sensitive: isolating.contains(id)
                            && *status == TestStatus::Passed
                            && result.isolated,
                    },
                );
            }
            _ => {}
        }
    }
    history
}

/// Why merged results may not be what one run would have produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeProblem {
    /// A test finished in more than one shard.
    DuplicateTest {
        /// The test.
        test: TestId,
        /// The directories of the shards that ran it.
        shards: Vec<PathBuf>,
    },
    /// Shard `shard` of `total` is not among the directories.
    MissingShard {
        /// The missing shard, 1-based.
        shard: usize,
        /// The shard count the others declare.
        total: usize,
    },
    /// Two directories hold the same shard.
    DuplicateShard {
        /// The partition they both declare.
        partition: String,
        /// The directories.
        dirs: Vec<PathBuf>,
    },
    /// Shards disagree on the number of shards.
    ShardCountMismatch {
        /// The directory that disagrees.
        dir: PathBuf,
        /// Its partition.
        partition: String,
        /// The count most shards declare.
        expected: usize,
    },
    /// A directory's run did not finish (no `run-finished` event), wrote
    /// no `events.jsonl` at all, or has no `shard.json` among partitioned
    /// shards.
    IncompleteShard {
        /// The directory.
        dir: PathBuf,
        /// What is missing.
        message: String,
    },
}

impl fmt::Display for MergeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateTest { test, shards } => write!(
                f,
                "test `{test}` ran in {} shards ({}); the shards did not partition the same test list (build them from one archive)",
                shards.len(),
                shards.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
            Self::MissingShard { shard, total } => write!(
                f,
                "shard {shard}/{total} is missing: its tests are not in the merged results (did its job fail before writing results, or was its artifact not downloaded?)"
            ),
            Self::DuplicateShard { partition, dirs } => write!(
                f,
                "shard `{partition}` appears {} times ({})",
                dirs.len(),
                dirs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
            Self::ShardCountMismatch {
                dir,
                partition,
                expected,
            } => write!(
                f,
                "`{}` is shard `{partition}`, but the other shards are out of {expected}; merge shards of one run only",
                dir.display()
            ),
            Self::IncompleteShard { dir, message } => {
                write!(f, "`{}`: {message}", dir.display())
            }
        }
    }
}

/// One run's worth of results, combined from shards.
#[derive(Clone, Debug)]
pub struct MergedResults {
    /// Counts as if one run had executed every shard's tests.
    pub summary: RunSummary,
    /// One event stream: a `run-started`, every shard's test events in
    /// shard order, one `test-skipped` per test that ran nowhere, and a
    /// `run-finished` with [`summary`](Self::summary).
    pub events: Vec<EventEnvelope>,
    /// The shards' measured durations, merged.
    pub history: History,
    /// The shards merged, in shard order, with their `shard.json`.
    pub shards: Vec<(PathBuf, Option<ShardInfo>)>,
    /// What does not add up; empty when the merge is complete.
    pub problems: Vec<MergeProblem>,
}

impl MergedResults {
    /// The exit code for `cargo gantry merge`: the merged run's code (100
    /// when a test failed, 130 when a shard was interrupted, …); when that
    /// is 0 but there are [`problems`](Self::problems), 2, since the
    /// results are incomplete or inconsistent.
    pub fn exit_code(&self) -> i32 {
        if self.summary.exit_code == ExitCode::OK && !self.problems.is_empty() {
            ExitCode::USAGE_ERROR
        } else {
            self.summary.exit_code
        }
    }

    /// Writes the merged results into `out`: `events.jsonl`, `junit.xml`,
    /// `history.json`, `summary.json` and a `shard.json` without partition.
    ///
    /// Refuses to write into one of the merged shard directories, which
    /// would destroy the inputs.
    pub fn write(&self, out: &ResultsDir) -> Result<()> {
        let target = absolute(out.root());
        if self.shards.iter().any(|(d, _)| absolute(d) == target) {
            return Err(CiError::Usage(format!(
                "`{}` is one of the shards being merged; write the merged results to another directory (the default is {})",
                out.root().display(),
                crate::MERGED_RESULTS_DIR
            )));
        }
        let out = ResultsDir::create(out.root().to_path_buf())?;
        let path = out.events_path();
        let file = std::fs::File::create(&path).map_err(CiError::io("could not create", &path))?;
        let mut w = std::io::BufWriter::new(file);
        for e in &self.events {
            let line = serde_json::to_string(e).expect("events serialize");
            writeln!(w, "{line}").map_err(CiError::io("could not write", &path))?;
        }
        w.flush().map_err(CiError::io("could not write", &path))?;
        write_junit(&out.junit_path(), &self.events)?;
        write_json(&out.summary_path(), &self.summary)?;
        let mut history = History::load(&out.history_path());
        history.merge(&self.history);
        history.save().map_err(|e| CiError::Results {
            path: out.history_path(),
            message: e.to_string(),
        })?;
        out.write_shard(&ShardInfo {
            format_version: SHARD_FORMAT_VERSION,
            partition: None,
            run_id: self.summary.run_id.clone(),
            results_dir: absolute(out.root()).display().to_string(),
        })
    }
}

fn remap_output(result: &mut AttemptResult, from: &str, to: &str) {
    for p in [&mut result.output.stdout, &mut result.output.stderr]
        .into_iter()
        .flatten()
    {
        if let Some(rest) = p.strip_prefix(from) {
            if rest.is_empty() || rest.starts_with('/') {
                *p = format!("{to}{rest}");
            }
        }
    }
}

fn severity(s: TestStatus) -> u8 {
    match s {
        TestStatus::Passed => 0,
        TestStatus::Flaky => 1,
        TestStatus::Failed => 2,
        TestStatus::TimedOut => 3,
    }
}

fn skip_rank(r: SkipReason) -> u8 {
    match r {
        SkipReason::Filtered => 0,
        SkipReason::Ignored => 1,
        SkipReason::Cancelled => 2,
    }
}

/// Combines the results directories of a sharded run.
///
/// Counts equal the sum of the shards' when every test ran in exactly one
/// shard; a test that ran in several is counted once (with its worst
/// status) and reported in [`MergedResults::problems`], as are missing,
/// repeated and incomplete shards. Fails when a directory does not exist,
/// a file in it is corrupt, or no directory holds any events.
pub fn merge(dirs: &[PathBuf]) -> Result<MergedResults> {
    if dirs.is_empty() {
        return Err(CiError::Usage(
            "no results directories to merge: pass the directories written by `cargo gantry run --results DIR`, e.g. target/gantry/results/shard-*".into(),
        ));
    }
    struct Shard {
        dir: PathBuf,
        info: Option<ShardInfo>,
        events: Vec<EventEnvelope>,
    }
    let mut shards = Vec::new();
    let mut problems = Vec::new();
    let mut first_error = None;
    for d in dirs {
        let rd = ResultsDir::new(d.clone());
        if !d.is_dir() {
            return Err(CiError::Results {
                path: d.clone(),
                message: "no such directory".into(),
            });
        }
        let info = rd.read_shard()?;
        let events = match rd.read_events() {
            Ok(events) => events,
            Err(e) if !rd.events_path().exists() => {
                // A shard whose job died early (or never ran a test) still
                // counts as present; its lack of results is the problem.
                problems.push(MergeProblem::IncompleteShard {
                    dir: d.clone(),
                    message: "there is no events.jsonl: the shard wrote no results (did its run fail before starting?)".into(),
                });
                first_error.get_or_insert(e);
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        shards.push(Shard {
            dir: d.clone(),
            info,
            events,
        });
    }
    if shards.iter().all(|s| s.events.is_empty()) {
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    shards.sort_by(|a, b| {
        let key = |s: &Shard| s.info.as_ref().and_then(ShardInfo::shard).map(|(m, _)| m);
        key(a).cmp(&key(b)).then(a.dir.cmp(&b.dir))
    });

    // Shard bookkeeping.
    let partitioned: Vec<(usize, usize, &Shard)> = shards
        .iter()
        .filter_map(|s| {
            s.info
                .as_ref()
                .and_then(ShardInfo::shard)
                .map(|(m, n)| (m, n, s))
        })
        .collect();
    if !partitioned.is_empty() {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for (_, n, _) in &partitioned {
            *counts.entry(*n).or_default() += 1;
        }
        let expected = counts
            .iter()
            .max_by_key(|(n, c)| (**c, **n))
            .map(|(n, _)| *n)
            .unwrap_or(1);
        let mut seen: BTreeMap<usize, Vec<PathBuf>> = BTreeMap::new();
        for (m, n, s) in &partitioned {
            if *n != expected {
                problems.push(MergeProblem::ShardCountMismatch {
                    dir: s.dir.clone(),
                    partition: s
                        .info
                        .as_ref()
                        .and_then(|i| i.partition.clone())
                        .unwrap_or_default(),
                    expected,
                });
            } else {
                seen.entry(*m).or_default().push(s.dir.clone());
            }
        }
        for (m, dirs) in &seen {
            if dirs.len() > 1 {
                problems.push(MergeProblem::DuplicateShard {
                    partition: format!("{m}/{expected}"),
                    dirs: dirs.clone(),
                });
            }
        }
        for m in 1..=expected {
            if !seen.contains_key(&m) {
                problems.push(MergeProblem::MissingShard {
                    shard: m,
                    total: expected,
                });
            }
        }
        for s in &shards {
            if s.info.as_ref().and_then(ShardInfo::shard).is_none() {
                problems.push(MergeProblem::IncompleteShard {
                    dir: s.dir.clone(),
                    message: "has no shard.json with a partition, unlike the other directories (was it written by a partitioned run?)".into(),
                });
            }
        }
    }

    let mut events = Vec::new();
    let mut finished: HashMap<TestId, (TestStatus, Vec<PathBuf>)> = HashMap::new();
    let mut skipped: BTreeMap<TestId, SkipReason> = BTreeMap::new();
    let mut run_ids = Vec::new();
    let mut profile = None;
    let mut jobs = 0usize;
    let mut wall: f64 = 0.0;
    let mut interrupted = None;
    let mut exit_codes = Vec::new();
    let mut history = History::default();
    for s in &shards {
        let here = absolute(&s.dir).display().to_string();
        let from = s.info.as_ref().map(|i| i.results_dir.clone());
        let mut saw_finish = false;
        for ev in &s.events {
            let mut ev = ev.clone();
            match &mut ev.event {
                Event::RunStarted {
                    run_id,
                    profile: p,
                    jobs: j,
                    ..
                } => {
                    run_ids.push(run_id.clone());
                    profile.get_or_insert_with(|| p.clone());
                    jobs += *j;
                    continue;
                }
                Event::RunFinished { summary } => {
                    saw_finish = true;
                    wall = wall.max(summary.wall_secs);
                    if interrupted.is_none() {
                        interrupted = summary.interrupted.clone();
                    }
                    exit_codes.push(summary.exit_code);
                    continue;
                }
                Event::TestSkipped { id, reason } => {
                    let e = skipped.entry(id.clone()).or_insert(*reason);
                    if skip_rank(*reason) > skip_rank(*e) {
                        *e = *reason;
                    }
                    continue;
                }
                Event::TestFinished {
                    id,
                    status,
                    result,
                    failed_attempts,
                    ..
                } => {
                    if let Some(from) = &from {
                        remap_output(result, from, &here);
                        for a in failed_attempts.iter_mut() {
                            remap_output(a, from, &here);
                        }
                    }
                    let entry = finished.entry(id.clone()).or_insert((*status, Vec::new()));
                    if severity(*status) > severity(entry.0) {
                        entry.0 = *status;
                    }
                    entry.1.push(s.dir.clone());
                }
                Event::TestRetry { failed, .. } => {
                    if let Some(from) = &from {
                        remap_output(failed, from, &here);
                    }
                }
                _ => {}
            }
            events.push(ev);
        }
        if !saw_finish && !s.events.is_empty() {
            problems.push(MergeProblem::IncompleteShard {
                dir: s.dir.clone(),
                message: "its events.jsonl has no run-finished event: the run was killed before it finished, so some of its tests may be missing".into(),
            });
        }
        let rd = ResultsDir::new(s.dir.clone());
        if rd.history_path().is_file() {
            history.merge(&History::load(&rd.history_path()));
        } else {
            history.merge(&history_from_events(&s.events));
        }
    }

    let mut dup: Vec<(&TestId, &Vec<PathBuf>)> = finished
        .iter()
        .filter(|(_, (_, dirs))| dirs.len() > 1)
        .map(|(id, (_, dirs))| (id, dirs))
        .collect();
    dup.sort();
    for (id, dirs) in dup {
        problems.push(MergeProblem::DuplicateTest {
            test: id.clone(),
            shards: dirs.clone(),
        });
    }

    let mut summary = RunSummary {
        run_id: format!("merged-{}", run_ids.join("+")),
        wall_secs: wall,
        interrupted,
        ..Default::default()
    };
    for (status, _) in finished.values() {
        match status {
            TestStatus::Passed => summary.passed += 1,
            TestStatus::Failed => summary.failed += 1,
            TestStatus::Flaky => summary.flaky += 1,
            TestStatus::TimedOut => summary.timed_out += 1,
        }
    }
    let mut skip_events = Vec::new();
    for (id, reason) in &skipped {
        if finished.contains_key(id) {
            continue;
        }
        if *reason == SkipReason::Cancelled {
            summary.not_run += 1;
        } else {
            summary.skipped += 1;
        }
        skip_events.push(EventEnvelope {
            elapsed_secs: wall,
            event: Event::TestSkipped {
                id: id.clone(),
                reason: *reason,
            },
        });
    }
    summary.exit_code = if summary.interrupted.is_some() {
        ExitCode::INTERRUPTED
    } else if exit_codes.contains(&ExitCode::SETUP_FAILED) {
        ExitCode::SETUP_FAILED
    } else if summary.failed + summary.timed_out > 0 || exit_codes.contains(&ExitCode::TEST_FAILED)
    {
        ExitCode::TEST_FAILED
    } else if finished.is_empty() && summary.not_run == 0 {
        ExitCode::NO_TESTS_MATCHED
    } else {
        ExitCode::OK
    };

    let mut all = Vec::with_capacity(events.len() + skip_events.len() + 2);
    all.push(EventEnvelope {
        elapsed_secs: 0.0,
        event: Event::RunStarted {
            format_version: EVENT_FORMAT_VERSION,
            run_id: summary.run_id.clone(),
            profile: profile.unwrap_or_default(),
            selected: finished.len() + summary.not_run,
            skipped: summary.skipped,
            jobs,
        },
    });
    all.extend(events);
    all.extend(skip_events);
    all.push(EventEnvelope {
        elapsed_secs: wall,
        event: Event::RunFinished {
            summary: summary.clone(),
        },
    });
    Ok(MergedResults {
        summary,
        events: all,
        history,
        shards: shards.into_iter().map(|s| (s.dir, s.info)).collect(),
        problems,
    })
}
