//! A PostgreSQL server as the pools see it: the embedded cluster (started
//! on demand) or an external URL; connections and user-facing URLs.

use std::path::Path;
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use super::cluster::{Cluster, SUPERUSER};
use crate::config::ServerSpec;
use crate::error::{DbError, Result};

/// The database holding gantry's bookkeeping (pool members, templates).
pub const CONTROL_DB: &str = "gantry_control";

/// Where databases are created.
#[derive(Clone, Debug)]
pub enum Server {
    /// gantry's own cluster.
    Embedded(Cluster),
    /// An existing server.
    External(External),
}

/// An existing server given by URL.
#[derive(Clone, Debug)]
pub struct External {
    url: String,
    config: Config,
    /// The database named in the URL (where `gantry_control` is created
    /// from).
    admin_db: String,
}

impl Server {
    /// The server of a `[database.NAME]` section.
    pub fn from_spec(workspace_root: &Path, spec: &ServerSpec) -> Result<Server> {
        match spec {
            ServerSpec::Embedded => Ok(Server::Embedded(Cluster::locate(workspace_root)?)),
            ServerSpec::External { url } => {
                let config: Config = url.parse().map_err(|e| DbError::Connect {
                    target: redact(url),
                    source: e,
                    hint: Some("check the `url` of the [database.NAME] section".into()),
                })?;
                let admin_db = config.get_dbname().unwrap_or("postgres").to_owned();
                Ok(Server::External(External {
                    url: url.clone(),
                    config,
                    admin_db,
                }))
            }
        }
    }

    /// A stable string naming the server, for keys.
    pub fn identity(&self) -> String {
        match self {
            Server::Embedded(c) => format!("embedded:{}", c.socket_dir.display()),
            Server::External(e) => format!("external:{}", redact(&e.url)),
        }
    }

    /// The server for messages (never with a password).
    pub fn describe(&self) -> String {
        match self {
            Server::Embedded(c) => format!(
                "the embedded PostgreSQL {} cluster (socket in {})",
                c.bins.version,
                c.socket_dir.display()
            ),
            Server::External(e) => format!("the server at {}", redact(&e.url)),
        }
    }

    /// Connection settings for database `db`.
    pub fn config_for(&self, db: &str) -> Config {
        let mut cfg = match self {
            Server::Embedded(c) => {
                let mut cfg = Config::new();
                cfg.host_path(&c.socket_dir).user(SUPERUSER);
                cfg
            }
            Server::External(e) => e.config.clone(),
        };
        cfg.dbname(db)
            .application_name("gantry-db")
            .connect_timeout(Duration::from_secs(10));
        cfg
    }

    /// The URL a test connects to database `db` with.
    pub fn url(&self, db: &str) -> String {
        match self {
            Server::Embedded(c) => format!(
                "postgresql:///{db}?host={}&user={SUPERUSER}",
                c.socket_dir.display()
            ),
            Server::External(e) => replace_db(&e.url, db),
        }
    }

    /// The database to connect to when `gantry_control` does not exist.
    fn admin_db(&self) -> &str {
        match self {
            Server::Embedded(_) => "postgres",
            Server::External(e) => &e.admin_db,
        }
    }

    /// Connects to `db` without starting anything.
    pub fn connect_now(&self, db: &str) -> std::result::Result<Client, postgres::Error> {
        self.config_for(db).connect(NoTls)
    }

    /// Connects to `db`, starting the embedded cluster when it is not
    /// running (also after a crash or `db stop`).
    pub fn connect(&self, db: &str) -> Result<Client> {
        match self.connect_now(db) {
            Ok(c) => Ok(c),
            Err(first) => {
                if let Server::Embedded(cluster) = self {
                    if !is_db_error(&first) {
                        cluster.ensure_running()?;
                        return self.connect_now(db).map_err(|e| self.connect_error(db, e));
                    }
                }
                Err(self.connect_error(db, first))
            }
        }
    }

    /// Connects to the control database, creating it when missing.
    pub fn connect_control(&self) -> Result<Client> {
        match self.connect(CONTROL_DB) {
            Ok(c) => Ok(c),
            Err(DbError::Connect { source, .. })
                if source.as_db_error().map(|d| d.code().code()) == Some("3D000") =>
            {
                let mut admin = self.connect(self.admin_db())?;
                if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {CONTROL_DB}")) {
                    // Another process may have created it meanwhile.
                    let code = e.as_db_error().map(|d| d.code().code().to_owned());
                    if !matches!(code.as_deref(), Some("42P04") | Some("23505")) {
                        return Err(DbError::Postgres {
                            context: format!(
                                "creating the database `{CONTROL_DB}` on {} (the user needs the CREATEDB privilege)",
                                self.describe()
                            ),
                            source: e,
                        });
                    }
                }
                drop(admin);
                self.connect(CONTROL_DB)
            }
            Err(e) => Err(e),
        }
    }

    fn connect_error(&self, db: &str, e: postgres::Error) -> DbError {
        let hint = match self {
            Server::Embedded(c) => Some(format!(
                "the embedded cluster's log is `{}`",
                c.log_file.display()
            )),
            Server::External(_) => Some(
                "check that the server is up and the `url` in .config/gantry.toml is right".into(),
            ),
        };
        DbError::Connect {
            target: format!("database `{db}` on {}", self.describe()),
            source: e,
            hint,
        }
    }
}

fn is_db_error(e: &postgres::Error) -> bool {
    e.as_db_error().is_some()
}

/// The URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<&str> = query
                .split('&')
                .map(|kv| {
                    if kv.starts_with("password=") {
                        "password=***"
                    } else {
                        kv
                    }
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// `url` with its database path replaced by `db`.
pub fn replace_db(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.split_once('?').map(|(_, q)| q);
    match query {
        Some(q) => format!("{scheme}://{authority}/{db}?{q}"),
        None => format!("{scheme}://{authority}/{db}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_the_database_replaced_and_passwords_hidden() {
        assert_eq!(
            replace_db("postgres://u:p@h:5432/app?sslmode=disable", "gantry_x"),
            "postgres://u:p@h:5432/gantry_x?sslmode=disable"
        );
        assert_eq!(replace_db("postgres://h", "d"), "postgres://h/d");
        assert_eq!(
            replace_db("postgresql:///app?host=/tmp/s", "d"),
            "postgresql:///d?host=/tmp/s"
        );
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            redact("postgres://h/db?user=u&password=secret"),
            "postgres://h/db?user=u&password=***"
        );
    }
}
