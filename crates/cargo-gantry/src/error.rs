//! The one error type of the CLI: whatever a library reports, with the
//! documented exit code it maps to.

use gantry_metadata::ExitCode;
use gantry_runner::RunnerError;

/// An error from any of gantry's libraries.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// From building, listing, running or fixtures.
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// From `cargo gantry ci`, archives and merging.
    #[error(transparent)]
    Ci(#[from] gantry_ci::CiError),
    /// From `cargo gantry cover`.
    #[error(transparent)]
    Cover(#[from] gantry_cover::CoverError),
    /// From the test database pools.
    #[error(transparent)]
    Db(#[from] gantry_db::DbError),
}

impl From<gantry_config::ConfigError> for CliError {
    fn from(e: gantry_config::ConfigError) -> Self {
        Self::Runner(e.into())
    }
}

impl CliError {
    /// The documented exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Runner(err) => match err {
                RunnerError::BuildFailed { .. } => ExitCode::BUILD_FAILED,
                RunnerError::BuildInterrupted { .. } => ExitCode::INTERRUPTED,
                RunnerError::ListFailed { .. } => ExitCode::LIST_FAILED,
                RunnerError::Config(_) | RunnerError::Usage(_) | RunnerError::Filter(_) => {
                    ExitCode::USAGE_ERROR
                }
                RunnerError::Metadata(_) => ExitCode::USAGE_ERROR,
                RunnerError::Fixture(e) if e.is_interrupted() => ExitCode::INTERRUPTED,
                RunnerError::Fixture(e) if e.is_usage_error() => ExitCode::USAGE_ERROR,
                RunnerError::Fixture(_) => ExitCode::SETUP_FAILED,
                _ => ExitCode::INTERNAL_ERROR,
            },
            Self::Ci(e) => e.exit_code(),
            Self::Cover(e) if e.is_gate_failure() => ExitCode::GATE_FAILED,
            Self::Cover(gantry_cover::CoverError::BadRegex { .. }) => ExitCode::USAGE_ERROR,
            Self::Cover(_) => ExitCode::INTERNAL_ERROR,
            Self::Db(
                gantry_db::DbError::InvalidConfig { .. }
                | gantry_db::DbError::UnknownDatabase { .. }
                | gantry_db::DbError::Config { .. }
                | gantry_db::DbError::WorkspaceNotFound { .. },
            ) => ExitCode::USAGE_ERROR,
            Self::Db(_) => ExitCode::SETUP_FAILED,
        }
    }
}
