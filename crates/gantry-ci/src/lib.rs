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
pub(crate) fn suggest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let norm = |s: &str| s.replace('_', "-").to_lowercase();
    let input = norm(input);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&input, &norm(c)), c))
        .filter(|&(d, c)| d <= (c.chars().count() / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

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
