//! Pools against a real embedded PostgreSQL server: checkout and return,
//! isolation between threads and processes, crash safety, templates,
//! errors, schema changes, and the SQLite engine.

// The helper processes report to the parent test on stdout.
#![allow(clippy::print_stdout)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::count;
use gantry_db::{DbError, DbPool, TestDb};

/// The process re-invokes itself with this variable to act as another
/// test process (see `helper_process`).
const HELPER_ENV: &str = "GANTRY_DB_TEST_HELPER";

fn ws() -> &'static Path {
    static WS: OnceLock<PathBuf> = OnceLock::new();
    WS.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pool-ws");
        let cluster = gantry_db::pg::cluster::Cluster::locate(&root).unwrap();
        let extra = format!(
            r#"
[database.nosuper]
url = "postgresql:///postgres?host={}&user=gantry_tester"
migrations = "m_basic"
seed = "m_basic_seed.sql"
pool = 1

[database.for_runner]
migrations = "m_basic"
pool = 1
env = "STORE_URL"
for = "package(store)"
"#,
            cluster.socket_dir.display()
        );
        common::workspace("pool-ws", &extra, std::env::var_os(HELPER_ENV).is_some())
    })
}

fn pool(name: &str) -> DbPool {
    DbPool::shared(ws(), name).unwrap_or_else(|e| panic!("opening pool {name}: {e}"))
}

/// Not a test of its own: the body of the helper processes the other
/// tests spawn. Without the variable it does nothing.
#[test]
fn helper_process() {
    let Ok(mode) = std::env::var(HELPER_ENV) else {
        return;
    };
    match mode.as_str() {
        "isolate" => {
            let db = pool("procs").checkout().unwrap();
            let mut c = db.connect().unwrap();
            c.batch_execute("INSERT INTO accounts (email) VALUES ('fixed@example.com')")
                .unwrap();
            std::thread::sleep(Duration::from_millis(600));
            let n = count(
                &mut c,
                "SELECT count(*) FROM accounts WHERE email = 'fixed@example.com'",
            );
            assert_eq!(n, 1);
            println!("\nDB {}", db.database());
        }
        "hold" => {
            let db = pool("crash").checkout().unwrap();
            let mut c = db.connect().unwrap();
            c.batch_execute("INSERT INTO accounts (email) VALUES ('left-behind@example.com')")
                .unwrap();
            println!("\nREADY {}", db.database());
            std::thread::sleep(Duration::from_secs(120));
        }
        "handoff" => {
            let mut db = pool("handoff").checkout().unwrap();
            let n = count(db.client().unwrap(), "SELECT count(*) FROM accounts");
            assert_eq!(n, 0);
            println!("\nDB {}", db.database());
        }
        other => panic!("unknown helper mode {other}"),
    }
}

fn helper(mode: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "helper_process",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(HELPER_ENV, mode)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

#[test]
fn checkout_gives_a_migrated_seeded_database_and_return_resets_it() {
    let pool = pool("basic");
    let first_name;
    {
        let db = pool.checkout().unwrap();
        first_name = db.database();
        assert!(
            db.url().starts_with("postgresql:///gantry_"),
            "{}",
            db.url()
        );
        let mut c = db.connect().unwrap();
        assert_eq!(count(&mut c, "SELECT count(*) FROM roles"), 2);
        assert_eq!(count(&mut c, "SELECT count(*) FROM accounts"), 1);
        let id: i64 = c
            .query_one(
                "INSERT INTO accounts (email) VALUES ('a@example.com') RETURNING id",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(id, 2);
        c.batch_execute(
            "INSERT INTO roles (name) VALUES ('guest');
             INSERT INTO posts (account_id, title) VALUES (2, 'hello');
             DELETE FROM account_roles;
             UPDATE roles SET name = 'root' WHERE name = 'admin';",
        )
        .unwrap();
        // a rolled-back write and a sequence use without a write
        c.batch_execute("BEGIN; INSERT INTO posts (account_id, title) VALUES (1, 'x'); ROLLBACK;")
            .unwrap();
    }
    // Every member of the pool, whichever we get, is clean.
    for _ in 0..4 {
        let db = pool.checkout().unwrap();
        let mut c = db.connect().unwrap();
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM accounts"),
            1,
            "{}",
            db.database()
        );
        assert_eq!(count(&mut c, "SELECT count(*) FROM posts"), 0);
        assert_eq!(count(&mut c, "SELECT count(*) FROM account_roles"), 1);
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM roles WHERE name = 'admin'"),
            1
        );
        assert_eq!(count(&mut c, "SELECT count(*) FROM roles"), 2);
        let id: i64 = c
            .query_one(
                "INSERT INTO accounts (email) VALUES ('a@example.com') RETURNING id",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(id, 2, "sequence restored in {}", db.database());
        let role: i32 = c
            .query_one(
                "INSERT INTO roles (name) VALUES ('guest') RETURNING id",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(role, 3, "identity restored in {}", db.database());
        let post: i64 = c
            .query_one(
                "INSERT INTO posts (account_id, title) VALUES (2, 'p') RETURNING id",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(post, 1);
    }
    assert!(first_name.starts_with("gantry_"));
}

#[test]
fn concurrent_checkouts_in_threads_are_isolated() {
    let pool = pool("basic");
    let names: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let db = pool.checkout().unwrap();
                    let mut c = db.connect().unwrap();
                    c.batch_execute("INSERT INTO accounts (email) VALUES ('same@example.com')")
                        .unwrap();
                    std::thread::sleep(Duration::from_millis(150));
                    assert_eq!(
                        count(
                            &mut c,
                            "SELECT count(*) FROM accounts WHERE email = 'same@example.com'"
                        ),
                        1
                    );
                    db.database()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        names.len(),
        "databases held at the same time: {names:?}"
    );
}

#[test]
fn concurrent_checkouts_in_processes_are_isolated() {
    let children: Vec<_> = (0..3).map(|_| helper("isolate").spawn().unwrap()).collect();
    let mut names = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "helper failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let name = stdout
            .lines()
            .find_map(|l| l.strip_prefix("DB "))
            .unwrap_or_else(|| panic!("no DB line in {stdout}"))
            .to_owned();
        names.push(name);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn a_killed_process_loses_its_lease_and_the_database_is_recreated() {
    let mut child = helper("hold").spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let held = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("helper exited: {:?}", child.wait()))
            .unwrap();
        if let Some(name) = line.strip_prefix("READY ") {
            break name.to_owned();
        }
    };
    let pool = pool("crash");
    // While the helper lives, the only database is taken.
    let e = DbPool::open(ws(), "crash").map(|_| ()).err();
    assert!(e.is_none(), "{e:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    let started = Instant::now();
    let db = pool.checkout().unwrap();
    assert_eq!(db.database(), held, "max = 1: the same database comes back");
    let mut c = db.connect().unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM accounts WHERE email = 'left-behind@example.com'"
        ),
        0,
        "the dead process's data is gone"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_changed_migration_builds_a_new_template_and_drops_the_old_one() {
    let root = ws();
    let file = root.join("m_rebuild/0001_accounts.sql");
    std::fs::write(&file, common::BASIC_0001).unwrap();
    let old = DbPool::open(root, "rebuild").unwrap();
    let old_template = old.template();
    // Unchanged migrations reuse the template.
    assert_eq!(
        DbPool::open(root, "rebuild").unwrap().template(),
        old_template
    );

    std::fs::write(
        &file,
        format!(
            "{}\nALTER TABLE accounts ADD COLUMN nickname text;\n",
            common::BASIC_0001
        ),
    )
    .unwrap();
    let new = DbPool::open(root, "rebuild").unwrap();
    assert_ne!(new.template(), old_template);
    let db = new.checkout().unwrap();
    let mut c = db.connect().unwrap();
    c.batch_execute("INSERT INTO accounts (email, nickname) VALUES ('n@example.com', 'n')")
        .unwrap();
    drop(c);
    drop(db);
    // Background threads of the other pools may hold the old template a
    // moment longer; the sweep is meant to be repeated.
    let keep = pool("basic").checkout().unwrap();
    let mut admin = keep.connect().unwrap();
    let mut swept = Vec::new();
    let mut left = 1;
    for _ in 0..30 {
        swept.extend(new.sweep(false).unwrap());
        left = count(
            &mut admin,
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{old_template}'"),
        );
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(left, 0, "the outdated template is dropped: {swept:?}");
    std::fs::write(&file, common::BASIC_0001).unwrap();
}

#[test]
fn a_failing_migration_names_the_file_line_statement_and_server_message() {
    let e = DbPool::open(ws(), "badmig").unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DbError::Migration { .. }), "{msg}");
    assert!(
        msg.contains("migration `m_bad/0002_broken.sql` failed at line 5"),
        "{msg}"
    );
    assert!(
        msg.contains("relation \"missing_table\" does not exist (SQLSTATE 42P01)"),
        "{msg}"
    );
    assert!(
        msg.contains("statement: INSERT INTO missing_table (id)"),
        "{msg}"
    );
    assert!(msg.contains("fix the file"), "{msg}");
}

#[test]
fn connections_kept_for_a_database_survive_another_process_using_it() {
    // This process uses the pool's one database and keeps its
    // connections for next time; another process then uses (and resets)
    // the same database, which ends every other connection to it.
    let pool = pool("handoff");
    let mut db = pool.checkout().unwrap();
    let name = db.database();
    count(db.client().unwrap(), "SELECT count(*) FROM accounts");
    drop(db);
    let out = helper("handoff").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("DB {name}")), "{stdout}");
    let mut db = pool.checkout().unwrap();
    assert_eq!(db.database(), name);
    let n = count(db.client().unwrap(), "SELECT count(*) FROM accounts");
    assert_eq!(n, 0);
}

#[test]
fn an_exhausted_pool_fails_clearly_instead_of_hanging() {
    let pool = pool("exhaust");
    let a = pool.checkout().unwrap();
    let b = pool.checkout().unwrap();
    let started = Instant::now();
    let e = pool.checkout().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    let msg = e.to_string();
    assert!(
        msg.starts_with("all 2 databases of pool `exhaust` are in use (maximum 2, from `max`)"),
        "{msg}"
    );
    assert!(msg.contains("raise `max` in [database.exhaust]"), "{msg}");
    drop(a);
    let c = pool.checkout().unwrap();
    drop((b, c));
}

fn database_oid(db: &TestDb) -> u32 {
    let mut c = db.connect().unwrap();
    c.query_one(
        "SELECT oid FROM pg_database WHERE datname = current_database()",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn a_schema_change_gets_the_database_recreated_but_temp_tables_do_not() {
    let pool = pool("schema");
    let oid = {
        let db = pool.checkout().unwrap();
        let mut c = db.connect().unwrap();
        c.batch_execute(
            "CREATE TEMP TABLE scratch (id serial PRIMARY KEY);
             INSERT INTO accounts (email) VALUES ('t@example.com');",
        )
        .unwrap();
        database_oid(&db)
    };
    let oid2 = {
        let db = pool.checkout().unwrap();
        assert_eq!(
            database_oid(&db),
            oid,
            "temp tables and writes are reset, not recreated"
        );
        let mut c = db.connect().unwrap();
        assert_eq!(count(&mut c, "SELECT count(*) FROM accounts"), 0);
        c.batch_execute("ALTER TABLE accounts ADD COLUMN extra int; DROP TABLE posts;")
            .unwrap();
        oid
    };
    let db = pool.checkout().unwrap();
    assert_ne!(database_oid(&db), oid2, "recreated");
    let mut c = db.connect().unwrap();
    let cols = count(
        &mut c,
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'extra'",
    );
    assert_eq!(cols, 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM posts"), 0);
}

#[test]
fn recreate_mode_hands_out_fresh_clones() {
    let pool = pool("recreate");
    let first = {
        let db = pool.checkout().unwrap();
        let mut c = db.connect().unwrap();
        c.batch_execute("INSERT INTO accounts (email) VALUES ('r@example.com')")
            .unwrap();
        database_oid(&db)
    };
    for _ in 0..3 {
        let db = pool.checkout().unwrap();
        let mut c = db.connect().unwrap();
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM accounts"),
            1,
            "only the seed row"
        );
        if database_oid(&db) == first {
            panic!("a returned database was reused without being recreated");
        }
    }
}

#[test]
fn a_non_superuser_external_server_uses_fingerprints_and_truncate() {
    // The role exists on the shared embedded server; create it through a
    // superuser connection first.
    {
        let db = pool("basic").checkout().unwrap();
        let mut c = db.connect().unwrap();
        c.batch_execute(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gantry_tester') THEN
                 CREATE ROLE gantry_tester LOGIN CREATEDB;
               END IF;
             END $$;
             GRANT CREATE ON DATABASE postgres TO gantry_tester;",
        )
        .unwrap();
    }
    let pool = pool("nosuper");
    let oid = {
        let db = pool.checkout().unwrap();
        assert!(db.url().contains("user=gantry_tester"), "{}", db.url());
        let mut c = db.connect().unwrap();
        c.batch_execute(
            "INSERT INTO accounts (email) VALUES ('x@example.com');
             INSERT INTO posts (account_id, title) VALUES (1, 'on the seed account');
             CREATE TEMP TABLE t (id int);",
        )
        .unwrap();
        database_oid(&db)
    };
    let oid2 = {
        let db = pool.checkout().unwrap();
        assert_eq!(database_oid(&db), oid, "reset, not recreated");
        let mut c = db.connect().unwrap();
        assert_eq!(count(&mut c, "SELECT count(*) FROM accounts"), 1);
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM account_roles"),
            1,
            "seed restored"
        );
        assert_eq!(count(&mut c, "SELECT count(*) FROM posts"), 0);
        c.batch_execute("CREATE TABLE extra (id int)").unwrap();
        oid
    };
    let db = pool.checkout().unwrap();
    assert_ne!(database_oid(&db), oid2, "the fingerprint saw the new table");
}

#[tokio::test(flavor = "current_thread")]
async fn async_checkout_works_with_tokio_postgres() {
    let pool = pool("basic");
    let db = pool.checkout_async().await.unwrap();
    let (client, conn) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(conn);
    client
        .batch_execute("INSERT INTO accounts (email) VALUES ('async@example.com')")
        .await
        .unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM accounts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    drop(client);
    let _ = task.await;
    // A synchronous checkout and drop inside the runtime work too.
    let other = TestDb::checkout_in(ws(), "basic").unwrap();
    assert_ne!(other.database(), db.database());
    drop(other);
    db.release_async().await.unwrap();
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_copies_are_isolated_and_deleted_on_return() {
    let pool = pool("lite");
    let a = pool.checkout().unwrap();
    let b = pool.checkout().unwrap();
    let path = a.sqlite_path().unwrap().to_path_buf();
    assert!(a.url().starts_with("sqlite:///"), "{}", a.url());
    assert_ne!(a.sqlite_path(), b.sqlite_path());
    for db in [&a, &b] {
        let c = rusqlite::Connection::open(db.sqlite_path().unwrap()).unwrap();
        c.execute_batch("INSERT INTO notes (id, body) VALUES (2, 'same')")
            .unwrap();
        let (n, body): (i64, String) = c
            .query_row("SELECT count(*), max(body) FROM notes", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((n, body.as_str()), (2, "SEED"));
    }
    drop(a);
    assert!(!path.exists());
    drop(b);
    let e = DbPool::open(ws(), "badlite").unwrap_err().to_string();
    assert!(
        e.contains("migration `m_badlite/0001_notes.sql` failed at line 3"),
        "{e}"
    );
    assert!(e.contains("no such table: nope"), "{e}");
}

#[test]
fn the_runner_leases_a_database_per_matching_test() {
    let config = gantry_config::GantryConfig::load(ws()).unwrap();
    let mut hooks = gantry_db::runner::DatabaseHooks::new(ws(), &config).unwrap();
    assert!(!hooks.is_empty());
    let test = |package: &'static str| gantry_filter::TestQuery {
        package,
        binary_id: "store::it",
        binary: "it",
        kind: "test",
        test: "writes",
    };
    assert_eq!(hooks.databases_for(&test("other")), Vec::<String>::new());
    assert_eq!(hooks.databases_for(&test("store")), ["for_runner"]);
    let leases = hooks.lease_all_for_test(&test("store")).unwrap();
    assert_eq!(leases.env.len(), 1);
    let (var, url) = &leases.env[0];
    assert_eq!(var, "STORE_URL");
    let mut c = gantry_db::postgres::Client::connect(url, gantry_db::postgres::NoTls).unwrap();
    c.batch_execute("INSERT INTO accounts (email) VALUES ('runner@example.com')")
        .unwrap();
    drop(c);
    let (_, url2, guard2) = hooks.lease_for_test("for_runner").unwrap();
    assert_ne!(&url2, url, "a second test gets another database");
    drop(guard2);
    for guard in leases.guards {
        guard.release().unwrap();
    }
}
