//! gantry's CI harness: the checks CI runs, runnable on a laptop.
//!
//! A CI configuration that only runs on the CI server is debugged by
//! pushing commits; this crate makes every check a named *step* that
//! `cargo gantry ci` runs the same way everywhere, and makes the CI
//! pipeline a thin shell around those steps:
//!
//! - [`run`] executes the steps of the `[ci]` config ([`CiConfig`]) in
//!   order, each with a timeout that kills its whole process group, its
//!   full output in `target/gantry/ci/<step>.log`, and returns structured
//!   results ([`CiReport`]); progress goes to a callback, since library
//!   crates never print.
//! - [`generate`] writes GitHub Actions, GitLab CI or Buildkite pipelines
//!   whose jobs only call `cargo gantry ci --step …`, build once into an
//!   archive, run its shards in parallel and merge their results.
//! - [`archive`] and [`extract`] move built test binaries, their test list
//!   and test data to machines without a cargo build.
//! - [`ResultsDir`] is the layout of one shard's results, and [`merge`]
//!   combines shards into one summary, JUnit file, event stream and
//!   duration history, reporting tests that ran twice and missing shards.
//!
//! The audit ([`audit`]) and commit-message ([`commits`]) checks are also
//! usable on their own.

mod archive;
pub mod audit;
pub mod commits;
mod config;
mod diff;
mod error;
mod pipeline;
mod process;
mod results;
mod steps;
mod yaml;

pub use archive::{
    archive, extract, ArchiveInputs, ArchiveSummary, ExtractedArchive, ARCHIVE_FORMAT_VERSION,
};
pub use config::{
    CiConfig, FeatureSet, Platform, StepCommand, StepConfig, StepDef, StepKind, BUILTIN_STEPS,
    DEFAULT_INSTALL, DEFAULT_STEP_TIMEOUT,
};
pub use diff::{diff_summary, DiffSummary};
pub use error::{CiError, Result};
pub use pipeline::{
    check_pipeline, generate, PipelineCheck, PipelineKind, ARCHIVE_PATH, MERGED_RESULTS_DIR,
    RESULTS_DIR,
};
pub use results::{
    history_from_events, merge, MergeProblem, MergedResults, ResultsDir, ShardInfo,
    SHARD_FORMAT_VERSION,
};
pub use steps::{
    plan, run, Action, CiContext, CiReport, CommandSpec, PlannedStep, Progress, StepResult,
    StepSelection, StepStatus,
};

/// The candidate closest to `input`, if it is close enough to be a likely
/// typo (an edit distance of at most a third of its length, minimum 1).
pub(crate) use gantry_config::suggest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let steps = ["fmt", "clippy", "commit-format", "audit"];
        assert_eq!(suggest("clipy", steps), Some("clippy"));
        assert_eq!(suggest("commit_format", steps), Some("commit-format"));
        assert_eq!(suggest("comit-format", steps), Some("commit-format"));
        assert_eq!(suggest("audti", steps), Some("audit"));
        assert_eq!(suggest("deploy", steps), None);
    }
}
