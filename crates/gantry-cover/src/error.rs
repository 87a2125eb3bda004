//! The one error type of the coverage engine.

use std::path::PathBuf;

/// Everything that can go wrong while measuring coverage or gating on it.
///
/// The CLI turns these into messages and exit codes; [`CoverError::is_gate_failure`]
/// separates "coverage is not good enough" (exit 103) from "coverage could not
/// be measured" (an internal or usage error), because CI treats the two very
/// differently.
#[derive(Debug, thiserror::Error)]
pub enum CoverError {
    /// `rustc` could not be asked where its sysroot or host triple is.
    #[error("could not run `{rustc} {args}` to find the llvm tools: {reason}")]
    Rustc {
        /// The rustc that was run (`$RUSTC` or `rustc`).
        rustc: String,
        /// Its arguments.
        args: String,
        /// Why it failed.
        reason: String,
    },

    /// The toolchain has no `llvm-profdata`/`llvm-cov`.
    #[error(
        "llvm-tools are not installed for this toolchain ({missing} not found in {dir}): run `rustup component add llvm-tools`"
    )]
    LlvmToolsMissing {
        /// Where the tools were looked for.
        dir: PathBuf,
        /// The tool that is missing.
        missing: String,
    },

    /// An llvm tool ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Tool {
        /// The command line, for the user to re-run.
        command: String,
        /// Exit status.
        status: String,
        /// What the tool said.
        stderr: String,
    },

    /// An llvm tool could not be started.
    #[error("could not run `{command}`: {source}")]
    ToolSpawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },

    /// `llvm-cov export` printed something that is not its JSON format.
    #[error("could not read the output of `llvm-cov export`: {0}")]
    ExportFormat(String),

    /// There is nothing to report on.
    #[error("no coverage data: {0}")]
    NoData(String),

    /// A user-given `--ignore-filename-regex` does not compile.
    #[error("invalid --ignore-filename-regex `{regex}`: {reason}")]
    BadRegex {
        /// The regex as given.
        regex: String,
        /// The regex crate's complaint.
        reason: String,
    },

    /// A file or directory operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("could not read", …).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// `.config/gantry-coverage.toml` is not valid.
    #[error("{}: {reason}", path.display())]
    RatchetFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key.
        reason: String,
    },

    /// The ratchet file, or its section for this architecture, does not exist.
    #[error(
        "no coverage score recorded for {arch} in {}: run `cargo gantry cover --update` to record the current line coverage ({measured:.2}%) and commit the file",
        path.display()
    )]
    GateMissing {
        /// The ratchet file.
        path: PathBuf,
        /// The architecture section that is missing.
        arch: String,
        /// Line coverage of this run.
        measured: f64,
    },

    /// Line coverage fell more than the tolerance below the recorded score.
    #[error(
        "line coverage fell from {old:.2}% to {new:.2}% ({delta:+.2} points, tolerance {tolerance:.2}) against [{arch}] in {}: cover the new code with tests, or if the drop is intended run `cargo gantry cover --update --allow-lower` and commit the file",
        path.display(),
        delta = new - old
    )]
    GateBelow {
        /// The ratchet file.
        path: PathBuf,
        /// Architecture section.
        arch: String,
        /// Recorded score.
        old: f64,
        /// Line coverage of this run.
        new: f64,
        /// Allowed drop, in percentage points.
        tolerance: f64,
    },

    /// Line coverage rose more than the tolerance above the recorded score,
    /// and the file was not updated: the bar must move up with the code.
    #[error(
        "line coverage rose from {old:.2}% to {new:.2}% ({delta:+.2} points, tolerance {tolerance:.2}) but [{arch}] in {} still records {old:.2}%: run `cargo gantry cover --update` and commit the file so the bar moves up",
        path.display(),
        delta = new - old
    )]
    GateAbove {
        /// The ratchet file.
        path: PathBuf,
        /// Architecture section.
        arch: String,
        /// Recorded score.
        old: f64,
        /// Line coverage of this run.
        new: f64,
        /// Allowed rise, in percentage points.
        tolerance: f64,
    },

    /// The run was measured with other features or exclusions than the
    /// recorded score, so the two figures are not comparable.
    #[error(
        "this run is not comparable with [{arch}] in {}: {what} differ (recorded {recorded}, this run {current}); run with the recorded settings, or record the new ones with `cargo gantry cover --update`",
        path.display()
    )]
    GateSettings {
        /// The ratchet file.
        path: PathBuf,
        /// Architecture section.
        arch: String,
        /// `features` or `excluded paths`.
        what: &'static str,
        /// The recorded value.
        recorded: String,
        /// This run's value.
        current: String,
    },

    /// `update` would lower the recorded score.
    #[error(
        "refusing to lower the coverage score of [{arch}] in {} from {old:.2}% to {new:.2}%: pass `--allow-lower` (`cargo gantry cover --update --allow-lower`) if that is intended",
        path.display()
    )]
    WouldLower {
        /// The ratchet file.
        path: PathBuf,
        /// Architecture section.
        arch: String,
        /// Recorded score.
        old: f64,
        /// Line coverage of this run.
        new: f64,
    },
}

impl CoverError {
    /// True for the failures of the coverage gate (exit code 103), as opposed
    /// to failures to measure.
    pub fn is_gate_failure(&self) -> bool {
        matches!(
            self,
            CoverError::GateMissing { .. }
                | CoverError::GateBelow { .. }
                | CoverError::GateAbove { .. }
                | CoverError::GateSettings { .. }
                | CoverError::WouldLower { .. }
        )
    }

    /// Builds the closure for `map_err` on file operations.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> CoverError {
        let path = path.into();
        move |source| CoverError::Io {
            action,
            path,
            source,
        }
    }
}
