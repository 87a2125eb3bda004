use std::path::PathBuf;

/// Everything that can stop the runner before or while it runs tests.
///
/// Test failures are not errors: they are results, reported through events.
/// These are the problems that prevent results from existing at all; the CLI
/// turns each into a message and an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// `cargo` could not be started.
    #[error("could not run `{command}`: {source}")]
    CargoSpawn {
        /// The command line.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// `cargo` ran and failed to build.
    #[error("`{command}` failed ({status}); its output is above")]
    BuildFailed {
        /// The command line.
        command: String,
        /// How it exited.
        status: String,
    },
    /// A signal stopped the build; cargo and its compilers were stopped too.
    #[error("interrupted by {signal} while `{command}` was building; it was stopped")]
    BuildInterrupted {
        /// The command line.
        command: String,
        /// The signal's name, e.g. `SIGTERM`.
        signal: String,
    },
    /// `cargo metadata` failed or printed something unexpected.
    #[error("could not read the workspace metadata: {0}")]
    Metadata(String),
    /// A test binary could not list its tests.
    #[error("test binary `{binary_id}` ({path}) failed to list its tests ({status}):\n{stderr}")]
    ListFailed {
        /// Which binary.
        binary_id: String,
        /// Where it is.
        path: PathBuf,
        /// How it exited.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A file or directory could not be read or written.
    #[error("{action} `{path}`: {source}")]
    Io {
        /// What was being done, e.g. "could not create".
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] gantry_config::ConfigError),
    /// A command-line value is invalid.
    #[error("{0}")]
    Usage(String),
    /// A filter expression did not parse.
    #[error("{0}")]
    Filter(#[from] gantry_filter::ParseError),
    /// A fixture could not be prepared or started (exit code 102).
    #[error(transparent)]
    Fixture(Box<crate::fixture::FixtureError>),
    /// An archive or results file could not be used.
    #[error("{0}")]
    Other(String),
}

impl From<crate::fixture::FixtureError> for RunnerError {
    fn from(e: crate::fixture::FixtureError) -> Self {
        RunnerError::Fixture(Box::new(e))
    }
}

impl RunnerError {
    /// Builds an [`RunnerError::Io`] from a path and an action.
    pub fn io(
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
}

/// Short for `Result<T, RunnerError>`.
pub type Result<T, E = RunnerError> = std::result::Result<T, E>;
