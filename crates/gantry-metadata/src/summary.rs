use serde::{Deserialize, Serialize};

/// Counts and timings of a finished run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id.
    pub run_id: String,
    /// Tests that passed on the first attempt.
    pub passed: usize,
    /// Tests that failed every attempt.
    pub failed: usize,
    /// Tests that failed, then passed on retry (not counted in `passed`).
    pub flaky: usize,
    /// Tests killed by the timeout (not counted in `failed`).
    pub timed_out: usize,
    /// Tests filtered out or ignored.
    pub skipped: usize,
    /// Tests that were selected but never started because the run was cancelled.
    pub not_run: usize,
    /// Wall time of the test execution.
    pub wall_secs: f64,
    /// Set when a signal interrupted the run, e.g. `SIGINT`.
    pub interrupted: Option<String>,
    /// The exit code gantry returns.
    pub exit_code: i32,
}

impl RunSummary {
    /// The closing line, exactly `N passed, N failed, N skipped`.
    ///
    /// Flaky tests count as passed and timed-out ones as failed here, so the
    /// line answers the one question CI cares about; the details go on the
    /// line before it.
    pub fn closing_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed + self.flaky,
            self.failed + self.timed_out,
            self.skipped + self.not_run
        )
    }
}
