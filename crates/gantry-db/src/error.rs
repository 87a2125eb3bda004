//! The one error type of the crate.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while providing a test database.
///
/// Each message says what is wrong and what to do about it, because the
/// usual reader is someone whose test just failed in `cargo test` and who
/// sees nothing but this text.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No workspace root with a `.config/gantry.toml` could be found.
    #[error(
        "no `.config/gantry.toml` found in `{}` or any directory above it; \
         run the tests through cargo (which sets CARGO_MANIFEST_DIR) or set \
         GANTRY_WORKSPACE_ROOT to the directory that holds `.config/gantry.toml`",
        start.display()
    )]
    WorkspaceNotFound {
        /// Where the search started.
        start: PathBuf,
    },

    /// The config file could not be loaded at all (syntax, other sections).
    #[error(transparent)]
    Config(#[from] gantry_config::ConfigError),

    /// A `[database.NAME]` key has a wrong value.
    #[error("{}: [database.{name}] `{key}`: {problem}", path.display())]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// The database section.
        name: String,
        /// The offending key.
        key: String,
        /// What is wrong and what to write instead.
        problem: String,
    },

    /// A test asked for a database that is not configured.
    #[error(
        "{}: no [database.{name}] section{}; add one, e.g.\n\n    [database.{name}]\n    migrations = \"migrations/\"\n",
        path.display(),
        if known.is_empty() { String::new() } else { format!(" (configured: {})", known.join(", ")) }
    )]
    UnknownDatabase {
        /// The config file that was searched.
        path: PathBuf,
        /// The requested name.
        name: String,
        /// The configured names.
        known: Vec<String>,
    },

    /// The crate was built without the engine a config asks for.
    #[error(
        "[database.{name}] uses engine `{engine}`, but gantry-db was built without the \
         `{engine}` feature; enable it in the Cargo.toml that depends on gantry-db"
    )]
    EngineNotBuilt {
        /// The database section.
        name: String,
        /// The engine name.
        engine: &'static str,
    },

    /// A PostgreSQL-only operation on a SQLite database.
    #[error(
        "[database.{name}] is a SQLite database, which has no PostgreSQL connection; \
         open the file at `TestDb::sqlite_path()` (or the `sqlite://` URL) instead"
    )]
    NotPostgres {
        /// The database section.
        name: String,
    },

    /// No PostgreSQL server binaries were found for the embedded server.
    #[error(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; searched {searched}. \
         Install PostgreSQL (e.g. `apt-get install postgresql`), set GANTRY_PG_BIN to the \
         directory holding initdb, or set `url = \"postgres://…\"` in [database.NAME] to use \
         an existing server"
    )]
    BinariesNotFound {
        /// The places that were searched.
        searched: String,
    },

    /// A PostgreSQL server program (initdb, pg_ctl) failed.
    #[error("`{command}` failed ({status}){}{}", if output.is_empty() { String::new() } else { format!(":\n{output}") }, hint.as_deref().map(|h| format!("\n{h}")).unwrap_or_default())]
    ServerCommand {
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// Its output, and the tail of the server log when relevant.
        output: String,
        /// What to do, when known.
        hint: Option<String>,
    },

    /// Connecting to a server failed.
    #[error("cannot connect to {target}: {source}{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    Connect {
        /// The server or URL (without password).
        target: String,
        /// The driver's error.
        source: postgres::Error,
        /// What to do, when known.
        hint: Option<String>,
    },

    /// A statement gantry issued failed.
    #[error("{context}: {}", describe_pg(source))]
    Postgres {
        /// What gantry was doing.
        context: String,
        /// The driver's error.
        source: postgres::Error,
    },

    /// A migration or seed file failed to apply while building a template.
    #[error(
        "{kind} `{file}` failed{}: {message}{}\n  fix the file and run the tests again; the template is rebuilt whenever a migration changes",
        line.map(|l| format!(" at line {l}")).unwrap_or_default(),
        statement.as_deref().map(|s| format!("\n  statement: {s}")).unwrap_or_default()
    )]
    Migration {
        /// `migration` or `seed`.
        kind: &'static str,
        /// The file, relative to the workspace root.
        file: String,
        /// The line of the failing statement, when known.
        line: Option<usize>,
        /// The failing statement (shortened), when known.
        statement: Option<String>,
        /// The server's message with SQLSTATE, detail and hint.
        message: String,
    },

    /// Every database of a pool is leased and the pool may not grow.
    #[error(
        "all {max} databases of pool `{name}` are in use (maximum {max}{}) and none was returned within {}; \
         raise `max` in [database.{name}] of .config/gantry.toml, run fewer tests at once, \
         or make sure tests drop their TestDb when done",
        if *derived { ", derived from the server's max_connections" } else { ", from `max`" },
        humantime_secs(*waited)
    )]
    PoolExhausted {
        /// The database section.
        name: String,
        /// The maximum number of pool members.
        max: usize,
        /// Whether the maximum came from the server rather than `max`.
        derived: bool,
        /// How long the checkout waited.
        waited: Duration,
    },

    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What gantry was doing, with the path.
        context: String,
        /// The error.
        source: std::io::Error,
    },

    /// A SQLite operation failed.
    #[cfg(feature = "sqlite")]
    #[error("{context}: {source}")]
    Sqlite {
        /// What gantry was doing.
        context: String,
        /// The driver's error.
        source: rusqlite::Error,
    },

    /// The lease was lost (the server restarted while the database was
    /// checked out); the database is recreated before anyone reuses it.
    #[error("the lease on `{database}` was lost ({reason}); it will be recreated before reuse")]
    LeaseLost {
        /// The pool member.
        database: String,
        /// Why.
        reason: String,
    },
}

/// Result with [`DbError`].
pub type Result<T, E = DbError> = std::result::Result<T, E>;

impl DbError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DbError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn pg(context: impl Into<String>, source: postgres::Error) -> Self {
        DbError::Postgres {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(
        path: &std::path::Path,
        name: &str,
        key: &str,
        problem: impl Into<String>,
    ) -> Self {
        DbError::InvalidConfig {
            path: path.to_path_buf(),
            name: name.to_owned(),
            key: key.to_owned(),
            problem: problem.into(),
        }
    }
}

fn humantime_secs(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The server's message with code, detail and hint, or the driver's text.
pub(crate) fn describe_pg(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; detail: {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            s
        }
        None => e.to_string(),
    }
}
