//! A generated workspace with one `[database.NAME]` section per scenario,
//! shared by the tests of one test binary (and so one embedded cluster).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const BASIC_0001: &str = "\
CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE roles (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
);
";

pub const BASIC_0002: &str = "\
CREATE TABLE posts (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title text NOT NULL
);
CREATE INDEX posts_account ON posts (account_id);
CREATE TABLE account_roles (
    account_id bigint REFERENCES accounts (id),
    role_id int REFERENCES roles (id),
    PRIMARY KEY (account_id, role_id)
);
";

pub const BASIC_SEED: &str = "\
INSERT INTO roles (name) VALUES ('admin'), ('member');
INSERT INTO accounts (email) VALUES ('seed@example.com');
INSERT INTO account_roles VALUES (1, 1);
";

pub const BAD_0002: &str = "\
-- comments count as lines
CREATE TABLE ok_table (id int);

INSERT INTO ok_table VALUES (1);
INSERT INTO missing_table (id)
VALUES (2);
";

pub const LITE_0001: &str = "\
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE);
CREATE TRIGGER notes_upper AFTER INSERT ON notes BEGIN
    UPDATE notes SET body = upper(body) WHERE id = new.id;
END;
";

/// Writes `rel` under `root` unless it already has that content,
/// atomically (other test processes may be reading it).
pub fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
        return;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

/// Creates (or refreshes) the workspace `name` under the test target dir.
/// `extra` is appended to the config.
///
/// Helper processes (`helper` set) only compute the path: the parent has
/// written the files, and tests may have changed some on purpose.
pub fn workspace(name: &str, extra: &str, helper: bool) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    if helper {
        return root;
    }
    write(&root, "m_basic/0001_accounts.sql", BASIC_0001);
    write(&root, "m_basic/0002_posts.up.sql", BASIC_0002);
    write(
        &root,
        "m_basic/0002_posts.down.sql",
        "DROP TABLE posts; DROP TABLE account_roles;",
    );
    write(&root, "m_basic/README.txt", "not a migration");
    write(&root, "m_basic_seed.sql", BASIC_SEED);
    // The rebuild test changes this file and puts it back; other test
    // processes must not interfere.
    if !root.join("m_rebuild/0001_accounts.sql").exists() {
        write(&root, "m_rebuild/0001_accounts.sql", BASIC_0001);
    }
    write(&root, "m_bad/0001_accounts.sql", BASIC_0001);
    write(&root, "m_bad/0002_broken.sql", BAD_0002);
    write(&root, "m_lite/0001_notes.sql", LITE_0001);
    write(
        &root,
        "m_lite_seed.sql",
        "INSERT INTO notes (id, body) VALUES (1, 'seed');\n",
    );
    write(
        &root,
        "m_badlite/0001_notes.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n\nINSERT INTO nope VALUES (1);\n",
    );
    write(
        &root,
        ".config/gantry.toml",
        &format!(
            r#"
[database.basic]
migrations = "m_basic"
seed = "m_basic_seed.sql"
pool = 2
checkout-timeout = "20s"

[database.procs]
migrations = "m_basic"
pool = 3

[database.crash]
migrations = "m_basic"
pool = 1
max = 1
checkout-timeout = "20s"

[database.rebuild]
migrations = "m_rebuild"
pool = 0

[database.badmig]
migrations = "m_bad"

[database.exhaust]
migrations = "m_basic"
pool = 0
max = 2
checkout-timeout = "300ms"

[database.schema]
migrations = "m_basic"
pool = 1
max = 1

[database.handoff]
migrations = "m_basic"
pool = 1
max = 1
checkout-timeout = "20s"

[database.recreate]
migrations = "m_basic"
seed = "m_basic_seed.sql"
pool = 2
reset = "recreate"

[database.lite]
engine = "sqlite"
migrations = "m_lite"
seed = "m_lite_seed.sql"

[database.badlite]
engine = "sqlite"
migrations = "m_badlite"
{extra}"#
        ),
    );
    root
}

/// Counts rows of a query returning one bigint.
pub fn count(client: &mut gantry_db::postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}
