use serde::{Deserialize, Serialize};

use crate::RunSummary;

/// Version of the event schema written by `--message-format json` and
/// `--events FILE`.
pub const EVENT_FORMAT_VERSION: u32 = 1;

/// One line of the event stream: when it happened, and what.
///
/// The executor emits these and every reporter (console, JUnit, JSON lines,
/// history) consumes them; nothing else is shared between the two sides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Seconds since the run started.
    pub elapsed_secs: f64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// Identifies a test across the whole workspace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TestId {
    /// The binary id (see [`crate::BinarySummary::binary_id`]); `pkg::doc`
    /// for doctests.
    pub binary_id: String,
    /// The test name as libtest prints it.
    pub name: String,
}

impl std::fmt::Display for TestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.binary_id, self.name)
    }
}

/// Everything that can happen during a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// The run begins; the test list is known.
    RunStarted {
        /// Always [`EVENT_FORMAT_VERSION`].
        format_version: u32,
        /// Unique id of this run (also the name of its log directory).
        run_id: String,
        /// Profile in force.
        profile: String,
        /// Tests that will run.
        selected: usize,
        /// Tests filtered out or ignored.
        skipped: usize,
        /// Concurrency the run starts with.
        jobs: usize,
    },
    /// An attempt of a test started.
    TestStarted {
        /// The test.
        #[serde(flatten)]
        id: TestId,
        /// 1 for the first attempt.
        attempt: u32,
        /// Whether it runs inside a batch process with other tests.
        in_batch: bool,
    },
    /// A test has been running for another `slow-timeout` period.
    TestSlow {
        /// The test.
        #[serde(flatten)]
        id: TestId,
        /// Its attempt number.
        attempt: u32,
        /// How long it has run.
        running_secs: f64,
        /// Whether this period ends with the test being terminated.
        will_terminate: bool,
    },
    /// An attempt failed and the test will run again.
    TestRetry {
        /// The test.
        #[serde(flatten)]
        id: TestId,
        /// The attempt that failed.
        failed: AttemptResult,
    },
    /// A test failed inside a batch and is re-run alone to tell a real
    /// failure from one caused by another test in the same process.
    TestIsolating {
        /// The test.
        #[serde(flatten)]
        id: TestId,
        /// Why it is isolated.
        reason: String,
        /// Where what the test printed in the batch it failed in is kept,
        /// apart from the output of its run alone. libtest prints a
        /// failure's captured output at the end of the batch, so the file
        /// is complete once the batch has exited (and missing if the batch
        /// printed nothing for it). Absent after a crash or timeout.
        #[serde(default, skip_serializing_if = "OutputPaths::is_empty")]
        output: OutputPaths,
    },
    /// A test reached its final status.
    TestFinished {
        /// The test.
        #[serde(flatten)]
        id: TestId,
        /// The final status.
        status: TestStatus,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt.
        result: AttemptResult,
        /// Earlier failed attempts, oldest first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        failed_attempts: Vec<AttemptResult>,
    },
    /// A test did not run.
    TestSkipped {
        /// The test.
        #[serde(flatten)]
        id: TestId,
        /// Why.
        reason: SkipReason,
    },
    /// The run stops scheduling new tests.
    RunCancelling {
        /// Why: `fail-fast`, `max-fail`, `signal SIGINT`, …
        reason: String,
    },
    /// A service fixture's process was started.
    FixtureStarted {
        /// Fixture name.
        name: String,
        /// Instance key: `run`, the binary id, or the test id.
        instance: String,
        /// Process id (absent for setup-only fixtures).
        pid: Option<u32>,
    },
    /// A fixture passed its readiness probes.
    FixtureReady {
        /// Fixture name.
        name: String,
        /// Instance key.
        instance: String,
        /// Time from start to ready.
        startup_secs: f64,
    },
    /// A fixture was stopped.
    FixtureStopped {
        /// Fixture name.
        name: String,
        /// Instance key.
        instance: String,
        /// Time it was up.
        uptime_secs: f64,
        /// How it ended: `exited 0`, `signal SIGTERM`, `killed after grace period`.
        how: String,
    },
    /// The run is over.
    RunFinished {
        /// Counts and timings.
        summary: RunSummary,
    },
}

/// Final status of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestStatus {
    /// Passed on its first attempt.
    Passed,
    /// Failed on every attempt.
    Failed,
    /// Failed, then passed on a retry.
    Flaky,
    /// Killed after running longer than `slow-timeout × terminate-after`.
    TimedOut,
}

impl TestStatus {
    /// Whether the status counts as a failure of the run (flaky does not,
    /// unless the profile says so).
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut)
    }
}

/// What one attempt of a test did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptResult {
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Pass, fail or timeout.
    pub outcome: Outcome,
    /// Exit code of the process, if it exited.
    pub exit_code: Option<i32>,
    /// Signal that ended the process, if any.
    pub signal: Option<i32>,
    /// Wall time of the test.
    pub duration_secs: f64,
    /// CPU time (user + system) of the process, when it ran alone.
    pub cpu_secs: Option<f64>,
    /// Whether the test ran inside a batch process.
    pub in_batch: bool,
    /// Set when the result comes from re-running the test alone after its
    /// batch crashed, hung or reported it failed.
    pub isolated: bool,
    /// A one-line explanation for failures, e.g. `panicked`, `aborted (SIGABRT)`.
    pub message: Option<String>,
    /// Where the captured output is stored.
    pub output: OutputPaths,
}

/// Pass, fail or timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The test passed.
    Pass,
    /// The test failed.
    Fail,
    /// The test was killed for running too long.
    Timeout,
}

/// Files holding a test attempt's captured output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputPaths {
    /// Captured stdout (in batches: stdout and stderr interleaved).
    pub stdout: Option<String>,
    /// Captured stderr (absent in batches, where it is merged into stdout).
    pub stderr: Option<String>,
}

impl OutputPaths {
    /// Neither stream was saved.
    pub fn is_empty(&self) -> bool {
        self.stdout.is_none() && self.stderr.is_none()
    }
}

/// Why a test did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// `#[ignore]`d and `--run-ignored` did not ask for it.
    Ignored,
    /// Not selected by the filters, tier or partition.
    Filtered,
    /// The run was cancelled (fail-fast, max-fail, signal) before it started.
    Cancelled,
}
