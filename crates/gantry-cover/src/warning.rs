//! Things the user should know about that do not stop a report.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A problem that makes a report incomplete but not wrong: some process's
/// coverage is missing. The CLI prints these as warnings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoverWarning {
    /// A raw profile could not be read (a process crashed or was killed
    /// while writing it); it was skipped and deleted.
    CorruptProfile {
        /// The file.
        path: PathBuf,
        /// What llvm-profdata said about it.
        reason: String,
    },
    /// A raw profile was empty: the process died between creating and
    /// writing it.
    EmptyProfile {
        /// The file.
        path: PathBuf,
    },
    /// A process that should have written a profile did not.
    MissingProfile {
        /// Its process id.
        pid: u32,
        /// What it was (`fixture echo-daemon`, `test foo::bar`).
        what: String,
    },
    /// A fixture had to be killed with SIGKILL, so it wrote no profile.
    FixtureKilled {
        /// Fixture name.
        name: String,
        /// The stop signal it ignored (`SIGTERM`).
        stop_signal: String,
        /// The grace period it was given.
        grace: Duration,
    },
    /// No raw profile was found at all.
    NoProfiles {
        /// Where they were looked for.
        dir: PathBuf,
    },
    /// A warning from `llvm-cov` itself (e.g. functions whose profile does
    /// not match the binary because it was rebuilt after the run).
    LlvmCov(String),
}

impl fmt::Display for CoverWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoverWarning::CorruptProfile { path, reason } => write!(
                f,
                "skipped unreadable coverage profile {} ({reason}): the process that wrote it probably crashed, so its coverage is missing from the report",
                path.display()
            ),
            CoverWarning::EmptyProfile { path } => write!(
                f,
                "skipped empty coverage profile {}: the process that wrote it died while writing, so its coverage is missing from the report",
                path.display()
            ),
            CoverWarning::MissingProfile { pid, what } => write!(
                f,
                "{what} (pid {pid}) wrote no coverage profile: it was killed or crashed before exiting normally, so its coverage is missing from the report"
            ),
            CoverWarning::FixtureKilled {
                name,
                stop_signal,
                grace,
            } => write!(
                f,
                "fixture `{name}` did not exit within its {} grace period after {stop_signal} and was killed with SIGKILL, so it wrote no coverage profile and its code counts as not executed; make it exit on {stop_signal} or raise its `stop.grace`",
                format_duration(*grace)
            ),
            CoverWarning::NoProfiles { dir } => write!(
                f,
                "no coverage profiles were written to {}: no instrumented process ran to completion",
                dir.display()
            ),
            CoverWarning::LlvmCov(msg) => write!(f, "llvm-cov: {msg}"),
        }
    }
}

fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The warning for a fixture the runner had to SIGKILL, as a string for the
/// runner's event stream and the console.
pub fn fixture_killed_warning(name: &str, stop_signal: &str, grace: Duration) -> String {
    CoverWarning::FixtureKilled {
        name: name.to_string(),
        stop_signal: stop_signal.to_string(),
        grace,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn killed_fixture_is_named() {
        assert_eq!(
            fixture_killed_warning("echo-daemon", "SIGTERM", Duration::from_secs(5)),
            "fixture `echo-daemon` did not exit within its 5s grace period after SIGTERM and was killed with SIGKILL, so it wrote no coverage profile and its code counts as not executed; make it exit on SIGTERM or raise its `stop.grace`"
        );
        assert!(
            fixture_killed_warning("db", "SIGINT", Duration::from_millis(1500)).contains("1.5s")
        );
    }
}
