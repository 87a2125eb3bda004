//! `[database.NAME]` sections of `.config/gantry.toml`.
//!
//! gantry-config hands the `[database]` table over untouched; it is parsed
//! and validated here so that the rules live next to the code that uses
//! them. Every error names the file, the section, the key and what to
//! write instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gantry_config::GantryConfig;
use gantry_filter::FilterExpr;

use crate::error::{DbError, Result};

/// The keys a `[database.NAME]` section may have.
pub const KEYS: &[&str] = &[
    "engine",
    "server",
    "url",
    "migrations",
    "seed",
    "pool",
    "max",
    "reset",
    "env",
    "for",
    "checkout-timeout",
];

/// Which database engine serves a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL: an embedded throwaway cluster or an external server.
    Postgres,
    /// SQLite: a template file copied per checkout.
    Sqlite,
}

impl Engine {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Sqlite => "sqlite",
        }
    }
}

/// Where the PostgreSQL server of a pool comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerSpec {
    /// gantry's own cluster under `target/gantry/pg/`, started on demand.
    Embedded,
    /// An existing server; gantry only creates and drops databases whose
    /// names start with `gantry_` there.
    External {
        /// The URL as written (may contain a password; never printed as is).
        url: String,
    },
}

/// How a returned database is made clean for the next test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetMode {
    /// Empty the tables the test wrote (tracked by triggers) and restore
    /// seed rows and sequences: a few milliseconds.
    Truncate,
    /// Drop the database and clone it again from the template, in the
    /// background: slower, but nothing of the test can survive.
    Recreate,
}

/// One validated `[database.NAME]` section.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// The section name (`main` in `[database.main]`).
    pub name: String,
    /// `engine`, default `postgres`.
    pub engine: Engine,
    /// `server = "embedded"` (default) or `url = "postgres://…"`.
    pub server: ServerSpec,
    /// `migrations`: the directory of `.sql` files, absolute.
    pub migrations: Option<PathBuf>,
    /// `seed`: one `.sql` file applied after the migrations, absolute.
    pub seed: Option<PathBuf>,
    /// `pool`: how many databases are cloned ahead of time (default 4).
    pub pool: usize,
    /// `max`: the most databases the pool may grow to; by default derived
    /// from the server's `max_connections`.
    pub max: Option<usize>,
    /// `reset`, default `truncate`.
    pub reset: ResetMode,
    /// `env`: the variable through which gantry's runner hands the URL to
    /// a test (default `DATABASE_URL`).
    pub env: String,
    /// `for`: the tests gantry's runner leases a database for.
    pub filter: Option<FilterExpr>,
    /// `for` as written.
    pub filter_text: Option<String>,
    /// `checkout-timeout`: how long a checkout waits for a database when
    /// the pool is at its maximum (default 30s).
    pub checkout_timeout: Duration,
}

/// All database sections of a workspace.
#[derive(Clone, Debug)]
pub struct DatabasesConfig {
    /// The workspace root (paths in the sections are relative to it).
    pub root: PathBuf,
    /// The config file (for messages).
    pub path: PathBuf,
    /// The sections by name.
    pub databases: BTreeMap<String, DatabaseConfig>,
    /// Unknown keys, as messages.
    pub warnings: Vec<String>,
}

impl DatabasesConfig {
    /// Loads `<root>/.config/gantry.toml` and parses its database sections.
    pub fn load(root: &Path) -> Result<Self> {
        let config = GantryConfig::load(root)?;
        Self::from_config(root, &config)
    }

    /// Parses the database sections of an already loaded config.
    pub fn from_config(root: &Path, config: &GantryConfig) -> Result<Self> {
        let path = config
            .path()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.join(gantry_config::CONFIG_PATH));
        let mut out = DatabasesConfig {
            root: root.to_path_buf(),
            path: path.clone(),
            databases: BTreeMap::new(),
            warnings: Vec::new(),
        };
        let Some(section) = config.raw_section("database") else {
            return Ok(out);
        };
        let Some(table) = section.as_table() else {
            return Err(DbError::invalid(
                &path,
                "*",
                "database",
                "`database` must be a table of sections like [database.main]",
            ));
        };
        for (name, value) in table {
            let Some(t) = value.as_table() else {
                return Err(DbError::invalid(
                    &path,
                    name,
                    name,
                    format!("expected a table [database.{name}] with keys like `migrations = \"migrations/\"`"),
                ));
            };
            let db = parse_one(root, &path, name, t, &mut out.warnings)?;
            out.databases.insert(name.clone(), db);
        }
        Ok(out)
    }

    /// The section `name`, or an error listing the configured ones.
    pub fn get(&self, name: &str) -> Result<&DatabaseConfig> {
        self.databases
            .get(name)
            .ok_or_else(|| DbError::UnknownDatabase {
                path: self.path.clone(),
                name: name.to_owned(),
                known: self.databases.keys().cloned().collect(),
            })
    }
}

fn parse_one(
    root: &Path,
    path: &Path,
    name: &str,
    t: &toml::Table,
    warnings: &mut Vec<String>,
) -> Result<DatabaseConfig> {
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(DbError::invalid(
            path,
            name,
            name,
            "database names may contain only letters, digits, `_` and `-`",
        ));
    }
    for key in t.keys() {
        if !KEYS.contains(&key.as_str()) {
            warnings.push(format!(
                "{}: unknown key `{key}` in [database.{name}] (known keys: {})",
                path.display(),
                KEYS.join(", ")
            ));
        }
    }
    let err = |key: &str, problem: String| DbError::invalid(path, name, key, problem);
    let string = |key: &str| -> Result<Option<String>> {
        match t.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(err(
                key,
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    };
    let count = |key: &str| -> Result<Option<usize>> {
        match t.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) if *n >= 0 => Ok(Some(*n as usize)),
            Some(other) => Err(err(
                key,
                format!("expected a non-negative integer like `{key} = 4`, found `{other}`"),
            )),
        }
    };

    let engine = match string("engine")?.as_deref() {
        None | Some("postgres") | Some("postgresql") => Engine::Postgres,
        Some("sqlite") => Engine::Sqlite,
        Some(other) => {
            return Err(err(
                "engine",
                format!(
                "unknown engine `{other}`; write `engine = \"postgres\"` or `engine = \"sqlite\"`"
            ),
            ))
        }
    };
    let server_key = string("server")?;
    let url = string("url")?;
    let server = match (server_key.as_deref(), url) {
        (Some(_), Some(_)) => {
            return Err(err(
                "url",
                "both `server` and `url` are set; keep `server = \"embedded\"` for gantry's own \
                 cluster or `url = \"postgres://…\"` for an existing server, not both"
                    .into(),
            ))
        }
        (None | Some("embedded"), None) => ServerSpec::Embedded,
        (Some(other), None) => {
            return Err(err(
                "server",
                format!(
                    "unknown server `{other}`; write `server = \"embedded\"`, or `url = \"postgres://user@host/db\"` for an existing server"
                ),
            ))
        }
        (None, Some(url)) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(err(
                    "url",
                    "expected a URL starting with `postgres://` or `postgresql://`, e.g. \
                     `url = \"postgres://user@localhost:5432/postgres\"`"
                        .into(),
                ));
            }
            ServerSpec::External { url }
        }
    };
    if engine == Engine::Sqlite
        && (server_key.is_some() || matches!(server, ServerSpec::External { .. }))
    {
        return Err(err(
            if server_key.is_some() { "server" } else { "url" },
            "SQLite databases are files and have no server; remove `server`/`url` or use `engine = \"postgres\"`".into(),
        ));
    }

    let migrations = match string("migrations")? {
        None => None,
        Some(rel) => {
            let dir = root.join(&rel);
            if !dir.is_dir() {
                return Err(err(
                    "migrations",
                    format!(
                        "directory `{}` does not exist; create it or correct the path (it is relative to the workspace root `{}`)",
                        dir.display(),
                        root.display()
                    ),
                ));
            }
            Some(dir)
        }
    };
    let seed = match string("seed")? {
        None => None,
        Some(rel) => {
            let file = root.join(&rel);
            if !file.is_file() {
                return Err(err(
                    "seed",
                    format!(
                        "file `{}` does not exist; create it or correct the path (it is relative to the workspace root `{}`)",
                        file.display(),
                        root.display()
                    ),
                ));
            }
            Some(file)
        }
    };
    let pool = count("pool")?.unwrap_or(4);
    let max = count("max")?;
    if max == Some(0) {
        return Err(err(
            "max",
            "must be at least 1; remove it to derive the maximum from the server's max_connections"
                .into(),
        ));
    }
    let reset = match string("reset")?.as_deref() {
        None | Some("truncate") => ResetMode::Truncate,
        Some("recreate") => ResetMode::Recreate,
        Some(other) => {
            return Err(err(
                "reset",
                format!("unknown reset mode `{other}`; write `reset = \"truncate\"` (fast) or `reset = \"recreate\"`"),
            ))
        }
    };
    let env = string("env")?.unwrap_or_else(|| "DATABASE_URL".to_owned());
    if env.is_empty()
        || env.contains('=')
        || env.contains('\0')
        || env.chars().next().is_some_and(|c| c.is_ascii_digit())
    {
        return Err(err(
            "env",
            format!("`{env}` is not a usable environment variable name; write e.g. `env = \"DATABASE_URL\"`"),
        ));
    }
    let filter_text = string("for")?;
    let filter = match &filter_text {
        None => None,
        Some(text) => Some(FilterExpr::parse(text).map_err(|e| {
            err(
                "for",
                format!("invalid filter expression `{text}`: {e}; e.g. `for = \"package(store)\"`"),
            )
        })?),
    };
    let checkout_timeout = match string("checkout-timeout")? {
        None => Duration::from_secs(30),
        Some(text) => parse_duration(&text).ok_or_else(|| {
            err(
                "checkout-timeout",
                format!("`{text}` is not a duration; write e.g. `checkout-timeout = \"30s\"` or `\"500ms\"`"),
            )
        })?,
    };
    Ok(DatabaseConfig {
        name: name.to_owned(),
        engine,
        server,
        migrations,
        seed,
        pool,
        max,
        reset,
        env,
        filter,
        filter_text,
        checkout_timeout,
    })
}

/// `500ms`, `30s`, `2m`, `1h` (integers or decimals).
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = text.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DatabasesConfig> {
        let root = std::env::temp_dir();
        let cfg = GantryConfig::from_str_with_path(text, Path::new(".config/gantry.toml"))?;
        DatabasesConfig::from_config(&root, &cfg)
    }

    #[test]
    fn defaults() {
        let c = parse("[database.main]\n").unwrap();
        let db = c.get("main").unwrap();
        assert_eq!(db.engine, Engine::Postgres);
        assert_eq!(db.server, ServerSpec::Embedded);
        assert_eq!(db.pool, 4);
        assert_eq!(db.reset, ResetMode::Truncate);
        assert_eq!(db.env, "DATABASE_URL");
        assert_eq!(db.checkout_timeout, Duration::from_secs(30));
    }

    #[test]
    fn errors_name_file_section_and_key() {
        let e = parse("[database.main]\npool = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(".config/gantry.toml: [database.main] `pool`"),
            "{e}"
        );
        let e = parse("[database.main]\nreset = \"wipe\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`reset = \"truncate\"`"), "{e}");
        let e = parse("[database.main]\nserver = \"embedded\"\nurl = \"postgres://x/y\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("both `server` and `url`"), "{e}");
        let e = parse("[database.main]\nurl = \"mysql://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("postgres://"), "{e}");
        let e = parse("[database.main]\nfor = \"package(\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid filter expression"), "{e}");
        let e = parse("[database.main]\nmigrations = \"no/such/dir\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        let e = parse("[database.main]\nengine = \"sqlite\"\nurl = \"postgres://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no server"), "{e}");
        let e = parse("[database.main]\ncheckout-timeout = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a duration"), "{e}");
    }

    #[test]
    fn unknown_keys_warn_and_unknown_names_list_known() {
        let c = parse("[database.main]\npools = 3\n").unwrap();
        assert!(c.warnings[0].contains("unknown key `pools`"));
        let e = c.get("other").unwrap_err().to_string();
        assert!(
            e.contains("no [database.other] section (configured: main)"),
            "{e}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("x"), None);
    }
}
