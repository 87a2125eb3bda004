//! Migration files: discovery, ordering, the content hash that names a
//! template, and a statement splitter used to point at the statement that
//! failed.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::DatabaseConfig;
use crate::error::{DbError, Result};

/// Bumped whenever what gantry installs into a template changes, so that
/// templates built by an older gantry are rebuilt rather than reused.
pub(crate) const TEMPLATE_FORMAT: &str = "gantry-db template v2";

/// One SQL file to apply.
#[derive(Clone, Debug)]
pub struct SqlFile {
    /// The path relative to the workspace root, for messages.
    pub display: String,
    /// The contents.
    pub sql: String,
}

/// The migrations and seed of a database section, in order, with the
/// hash of their contents.
#[derive(Clone, Debug)]
pub struct MigrationSet {
    /// Migrations in version order.
    pub files: Vec<SqlFile>,
    /// The seed file, applied last.
    pub seed: Option<SqlFile>,
    /// Hex SHA-256 of the format version, every file name and content.
    pub hash: String,
}

impl MigrationSet {
    /// Reads the migrations and seed of `db`.
    ///
    /// Files are `<version>_<name>.sql` (sqlx style) ordered by numeric
    /// version; `*.up.sql` counts as a migration and `*.down.sql` is
    /// ignored, as are other files and subdirectories.
    pub fn load(root: &Path, db: &DatabaseConfig) -> Result<Self> {
        let mut files = Vec::new();
        if let Some(dir) = &db.migrations {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                DbError::io(
                    format!("reading migrations directory `{}`", dir.display()),
                    e,
                )
            })?;
            let mut found: Vec<(u128, String, PathBuf)> = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| {
                    DbError::io(
                        format!("reading migrations directory `{}`", dir.display()),
                        e,
                    )
                })?;
                let path = entry.path();
                let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if !path.is_file()
                    || !file_name.ends_with(".sql")
                    || file_name.ends_with(".down.sql")
                {
                    continue;
                }
                let digits: String = file_name.chars().take_while(char::is_ascii_digit).collect();
                let rest = &file_name[digits.len()..];
                if digits.is_empty() || !rest.starts_with('_') {
                    return Err(DbError::invalid(
                        &root.join(gantry_config::CONFIG_PATH),
                        &db.name,
                        "migrations",
                        format!(
                            "`{}` is not named `<version>_<name>.sql`; rename it (e.g. `0001_create_users.sql`) so that its order is defined",
                            path.display()
                        ),
                    ));
                }
                let version: u128 = digits.parse().map_err(|_| {
                    DbError::invalid(
                        &root.join(gantry_config::CONFIG_PATH),
                        &db.name,
                        "migrations",
                        format!("the version of `{}` is too long", path.display()),
                    )
                })?;
                found.push((version, file_name.to_owned(), path));
            }
            found.sort();
            for pair in found.windows(2) {
                if pair[0].0 == pair[1].0 {
                    return Err(DbError::invalid(
                        &root.join(gantry_config::CONFIG_PATH),
                        &db.name,
                        "migrations",
                        format!(
                            "`{}` and `{}` have the same version {}; give each migration its own version",
                            pair[0].1, pair[1].1, pair[0].0
                        ),
                    ));
                }
            }
            for (_, _, path) in found {
                files.push(read_sql(root, &path)?);
            }
        }
        let seed = db.seed.as_deref().map(|p| read_sql(root, p)).transpose()?;
        let mut h = Sha256::new();
        h.update(TEMPLATE_FORMAT.as_bytes());
        for f in files.iter().chain(seed.iter()) {
            h.update([0u8]);
            h.update(f.display.as_bytes());
            h.update([0u8]);
            h.update(f.sql.as_bytes());
        }
        h.update(if seed.is_some() { b"seed" } else { b"none" });
        Ok(MigrationSet {
            files,
            seed,
            hash: hex(&h.finalize()),
        })
    }
}

fn read_sql(root: &Path, path: &Path) -> Result<SqlFile> {
    let sql = std::fs::read_to_string(path)
        .map_err(|e| DbError::io(format!("reading `{}`", path.display()), e))?;
    let display = path
        .strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string();
    Ok(SqlFile { display, sql })
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of a string.
pub(crate) fn sha_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// The byte ranges of the statements of a SQL script, without the
/// terminating `;`, skipping empty ones.
///
/// It knows quotes, `E''` strings, quoted identifiers, `--` and nested
/// `/* */` comments and dollar quoting, which is what migrations contain;
/// it is used to name the failing statement and to run SQLite scripts
/// statement by statement.
pub fn split_statements(sql: &str) -> Vec<std::ops::Range<usize>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |out: &mut Vec<std::ops::Range<usize>>, s: usize, e: usize| {
        if !is_blank(&sql[s..e]) {
            out.push(s..e);
        }
    };
    while i < b.len() {
        match b[i] {
            b'\'' => {
                let escapes = i > 0 && (b[i - 1] == b'E' || b[i - 1] == b'e');
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\'' {
                        if i + 1 < b.len() && b[i + 1] == b'\'' {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 1;
                i += 2;
                while i < b.len() && depth > 0 {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'$' => {
                // $tag$ … $tag$, where tag is empty or an identifier not
                // starting with a digit ($1 is a parameter).
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let tag_ok = j < b.len()
                    && b[j] == b'$'
                    && !b.get(i + 1).is_some_and(u8::is_ascii_digit)
                    && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'));
                if tag_ok {
                    let tag = &sql[i..=j];
                    match sql[j + 1..].find(tag) {
                        Some(end) => i = j + 1 + end + tag.len(),
                        None => i = b.len(),
                    }
                } else {
                    i += 1;
                }
            }
            b';' => {
                push(&mut out, start, i);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        push(&mut out, start, b.len());
    }
    out
}

/// Whether a fragment is only whitespace and comments.
fn is_blank(s: &str) -> bool {
    let mut rest = s.trim_start();
    loop {
        if rest.is_empty() {
            return true;
        }
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.find('\n').map_or("", |n| &r[n..]).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |n| &r[n + 2..]).trim_start();
        } else {
            return false;
        }
    }
}

/// The 1-based line of byte offset `at`.
pub(crate) fn line_of(sql: &str, at: usize) -> usize {
    sql[..at.min(sql.len())].matches('\n').count() + 1
}

/// A statement for a message: comments and blank lines dropped, at most
/// a few lines.
pub(crate) fn shorten(stmt: &str) -> String {
    let lines: Vec<&str> = stmt
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        .collect();
    let mut s = lines
        .iter()
        .take(6)
        .copied()
        .collect::<Vec<_>>()
        .join("\n             ");
    if lines.len() > 6 {
        s.push_str(" …");
    }
    s
}

/// Converts PostgreSQL's 1-based character position into a byte offset.
pub(crate) fn char_pos_to_byte(sql: &str, pos: u32) -> usize {
    sql.char_indices()
        .nth((pos as usize).saturating_sub(1))
        .map_or(sql.len(), |(i, _)| i)
}

/// The statement (range) containing byte offset `at`.
pub(crate) fn statement_at(sql: &str, at: usize) -> Option<std::ops::Range<usize>> {
    split_statements(sql)
        .into_iter()
        .find(|r| r.start <= at && at <= r.end)
}

/// Where the statement text starts (skipping leading whitespace and
/// comments), for line numbers.
pub(crate) fn statement_start(sql: &str, r: &std::ops::Range<usize>) -> usize {
    let text = &sql[r.clone()];
    let mut rest = text;
    loop {
        let t = rest.trim_start();
        if let Some(after) = t.strip_prefix("--") {
            rest = after.find('\n').map_or("", |n| &after[n..]);
        } else if let Some(after) = t.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |n| &after[n + 2..]);
        } else {
            rest = t;
            break;
        }
    }
    r.start + (text.len() - rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmts(sql: &str) -> Vec<&str> {
        split_statements(sql)
            .into_iter()
            .map(|r| sql[r].trim())
            .collect()
    }

    #[test]
    fn splits_on_semicolons_outside_quotes_comments_and_dollar_quotes() {
        let sql = "create table a (x text default ';');\n-- c;omment\n\
                   insert into a values ('it''s; ok'), (E'\\';');\n\
                   create function f() returns int as $body$ select 1; $body$ language sql;\n\
                   /* a /* nested; */ comment */ select \"we;ird\" from a;\n  \n-- trailing\n";
        let s = stmts(sql);
        assert_eq!(s.len(), 4, "{s:?}");
        assert!(s[1].contains("it''s; ok"));
        assert!(s[2].ends_with("language sql"));
        assert!(s[3].ends_with("from a"));
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        assert_eq!(stmts("select $1; select $2").len(), 2);
    }

    #[test]
    fn maps_positions_to_lines() {
        let sql = "create table a (x int);\n\ninsert into b values (1);\n";
        let at = char_pos_to_byte(sql, 38);
        let r = statement_at(sql, at).unwrap();
        assert_eq!(sql[r.clone()].trim(), "insert into b values (1)");
        assert_eq!(line_of(sql, statement_start(sql, &r)), 3);
    }
}
