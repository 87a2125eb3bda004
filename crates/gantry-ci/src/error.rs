//! The one error type of this crate.
//!
//! A failing CI *step* is not an error: it is a result ([`crate::StepStatus`]).
//! These are the problems that stop gantry-ci from producing results at all
//! (a bad `[ci]` table, an unknown step name, an unsafe archive, unreadable
//! shard results). Every message says what is wrong, where, and what to do;
//! the CLI prints them as they are.

use std::path::PathBuf;

/// Why a CI command could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CiError {
    /// A value in the `[ci]` table of `.config/gantry.toml` is wrong.
    #[error("{}{}: {key}: {message}{}", path.display(), line.map_or(String::new(), |l| format!(":{l}")), help.as_ref().map_or(String::new(), |h| format!(" ({h})")))]
    Config {
        /// The config file (`.config/gantry.toml`).
        path: PathBuf,
        /// 1-based line of the offending value, when it could be located.
        line: Option<usize>,
        /// Dotted key, e.g. `ci.step.clippy.timeout`.
        key: String,
        /// What is wrong.
        message: String,
        /// What to do about it.
        help: Option<String>,
    },

    /// The config file itself could not be loaded.
    #[error(transparent)]
    GantryConfig(#[from] gantry_config::ConfigError),

    /// `--step` or `--skip` names a step that does not exist.
    #[error("unknown CI step `{name}`{}; known steps: {} (custom steps are declared as `[ci.step.NAME]` with a `command` in .config/gantry.toml)",
        suggestion.as_ref().map_or(String::new(), |s| format!(" (did you mean `{s}`?)")), known.join(", "))]
    UnknownStep {
        /// The name given.
        name: String,
        /// Every step name that exists.
        known: Vec<String>,
        /// The closest known name, if it is a likely typo.
        suggestion: Option<String>,
    },

    /// A bad value on the command line (shard count, pipeline kind, ...).
    #[error("{0}")]
    Usage(String),

    /// A file or directory could not be read or written.
    #[error("{action} `{}`: {source}", path.display())]
    Io {
        /// What was being done, e.g. "could not create".
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// An archive entry would be written outside the destination (absolute
    /// path, `..`, or a link pointing outside). Nothing of it was written.
    #[error("refusing to extract `{}`: entry `{entry}` {reason}; the archive is corrupt or was crafted to write outside the destination", archive.display())]
    UnsafeArchiveEntry {
        /// The archive.
        archive: PathBuf,
        /// The entry's path as stored.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The audit could not read `Cargo.lock` or the advisory database.
    #[error("audit: `{}`: {message}", path.display())]
    Audit {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },

    /// A git command needed by the commit-format step failed.
    #[error("`{command}` failed: {message}")]
    Git {
        /// The git command line.
        command: String,
        /// What git said.
        message: String,
    },

    /// A test archive could not be written or is not a gantry archive.
    #[error("archive `{}`: {message}", path.display())]
    Archive {
        /// The archive (or the input that could not be packed).
        path: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },

    /// A results directory (a shard's or the merge's) is unusable.
    #[error("results `{}`: {message}", path.display())]
    Results {
        /// The directory or file.
        path: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },
}

impl CiError {
    /// Builds a [`CiError::Io`] from an action and a path, for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// The exit code the CLI should use: 2 (usage or config error) for
    /// what the user can fix on the command line or in the config, 1 for
    /// the rest.
    pub fn exit_code(&self) -> i32 {
        use gantry_metadata::ExitCode;
        match self {
            Self::Config { .. }
            | Self::GantryConfig(_)
            | Self::UnknownStep { .. }
            | Self::Usage(_) => ExitCode::USAGE_ERROR,
            _ => ExitCode::INTERNAL_ERROR,
        }
    }
}

/// Short for `Result<T, CiError>`.
pub type Result<T, E = CiError> = std::result::Result<T, E>;
