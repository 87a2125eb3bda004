//! The server's life and the CLI functions, on a cluster of their own
//! (stopping it would disturb other tests): status, url, stop with a
//! transparent restart, and gc of leftovers.

mod common;

use std::time::Duration;

use common::count;
use gantry_db::{cli, DbPool};

#[test]
fn status_url_stop_restart_and_gc() {
    let root = common::workspace("life-ws", "", false);

    // A pool in use shows up in the status.
    let pool = DbPool::open(&root, "basic").unwrap();
    let db = pool.checkout().unwrap();
    let status = cli::status(&root).unwrap();
    assert!(status.contains("embedded PostgreSQL server"), "{status}");
    assert!(status.contains("state:      running (pid "), "{status}");
    assert!(
        status.contains(&format!("template:   {} (built ", pool.template())),
        "{status}"
    );
    assert!(
        status.contains(&format!(
            "{} leased by pid {}",
            db.database(),
            std::process::id()
        )),
        "{status}"
    );
    assert!(
        status.contains("migrations: 2 file(s) in m_basic; seed: m_basic_seed.sql"),
        "{status}"
    );
    drop(db);

    // `url` gives a database with the schema that is not in the pool.
    let url = cli::url(&root, "basic").unwrap();
    let mut c = gantry_db::postgres::Client::connect(&url, gantry_db::postgres::NoTls).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM roles"), 2);
    drop(c);

    // Stop; the next checkout starts the server again, through the same
    // pool object whose connections the stop cut.
    let out = cli::stop(&root).unwrap();
    assert!(
        out.contains("stopped the embedded PostgreSQL server"),
        "{out}"
    );
    let status = cli::status(&root).unwrap();
    assert!(
        status.contains("stopped (starts on the first checkout)"),
        "{status}"
    );
    assert!(cli::stop(&root).unwrap().contains("is not running"));
    let db = pool.checkout().unwrap();
    let mut c = db.connect().unwrap();
    c.batch_execute("INSERT INTO accounts (email) VALUES ('after-restart@example.com')")
        .unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM accounts"), 2);
    drop(c);
    drop(db);

    // A crashed server (SIGKILL) is restarted transparently too.
    let cluster = gantry_db::pg::cluster::Cluster::locate(&root).unwrap();
    let pid = cluster.postmaster_pid().expect("running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    for _ in 0..100 {
        if cluster.postmaster_pid().is_none() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let db = pool.checkout().unwrap();
    let mut c = db.connect().unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM accounts"), 1);
    drop(c);
    drop(db);
    assert_ne!(cluster.postmaster_pid(), Some(pid));

    // Leftovers of killed runs: a member whose holder died mid-lease, an
    // unfinished template build, a database without a row, the
    // inspection database.
    let admin = pool.checkout().unwrap();
    let names_prefix = {
        let name = admin.database();
        name[..name.rfind('_').unwrap() + 1].to_owned()
    };
    let control_url = admin.url().replace(&admin.database(), "gantry_control");
    let mut control =
        gantry_db::postgres::Client::connect(&control_url, gantry_db::postgres::NoTls).unwrap();
    let orphan = format!("{names_prefix}77");
    let build = format!("{names_prefix}b");
    control
        .batch_execute(&format!("CREATE DATABASE {orphan}"))
        .unwrap();
    control
        .batch_execute(&format!("CREATE DATABASE {build}"))
        .unwrap();
    let victim = admin.database();
    // Pretend the holder died: mark it leased, then drop our lease
    // without a clean return by forgetting the guard's state.
    control
        .batch_execute(&format!(
            "UPDATE gantry_member SET state = 'leased' WHERE name <> '{victim}' AND starts_with(name, '{names_prefix}')"
        ))
        .unwrap();
    let out = cli::gc(&root).unwrap();
    assert!(
        out.contains(&format!(
            "dropped `{orphan}` (not recorded as a pool member)"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("dropped `{build}` (an unfinished template build)")),
        "{out}"
    );
    assert!(
        out.contains("recreated (its lease ended without a clean return)"),
        "{out}"
    );
    assert!(out.contains("dropped the inspection database"), "{out}");
    assert!(!out.contains(&victim), "a held lease is left alone: {out}");
    let left = count(
        &mut control,
        &format!("SELECT count(*) FROM pg_database WHERE datname IN ('{orphan}', '{build}')"),
    );
    assert_eq!(left, 0);
    let dirty = count(
        &mut control,
        &format!(
            "SELECT count(*) FROM gantry_member WHERE state <> 'clean' AND name <> '{victim}'"
        ),
    );
    assert_eq!(dirty, 0);
    drop(admin.release());

    // A clone whose creator died right after making it is kept, not
    // made again.
    let other = count(
        &mut control,
        &format!("SELECT count(*) FROM gantry_member WHERE starts_with(name, '{names_prefix}')"),
    );
    assert!(other >= 2, "{other}");
    control
        .batch_execute(&format!(
            "UPDATE gantry_member SET state = 'creating' WHERE name = '{victim}'"
        ))
        .unwrap();
    let out = cli::gc(&root).unwrap();
    assert!(
        out.contains(&format!(
            "finished (its creator stopped before recording it): `{victim}`"
        )),
        "{out}"
    );
    assert_eq!(cli::gc(&root).unwrap(), "nothing to clean up\n");

    // SQLite copies of dead processes are removed too.
    #[cfg(feature = "sqlite")]
    {
        let leases = root.join("target/gantry/sqlite/leases");
        std::fs::create_dir_all(&leases).unwrap();
        DbPool::open(&root, "lite").unwrap();
        std::fs::write(leases.join("lite-999999999-0.db"), b"").unwrap();
        let out = cli::gc(&root).unwrap();
        assert!(
            out.contains("lite-999999999-0.db` (left by a dead process)"),
            "{out}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
