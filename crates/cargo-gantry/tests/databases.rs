//! Runs that lease test databases: every test alone in its database, also
//! when two runs of one workspace overlap and after a run is killed.

mod support;

use std::time::Duration;

use support::{Scenario, GDB};

/// Stops a run the test started if the test fails before it does.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

fn leased_count(sc: &Scenario) -> String {
    let out = sc.gantry(&["db", "status"]);
    out.assert_code(0);
    out.stdout
        .lines()
        .find(|l| l.contains("leased"))
        .unwrap_or_default()
        .to_string()
}

/// Waits (a few seconds at most) until no database is leased: the server
/// ends a closed connection's session, and so its lease, asynchronously.
fn assert_no_leases(sc: &Scenario) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let line = leased_count(sc);
        if line.contains(" 0 leased") {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "still leased: {line}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

// Both scenarios use the workspace's one embedded server and pool, so
// they run one after the other.
#[test]
fn database_leases_survive_overlapping_and_stopped_runs_slow() {
    two_runs_of_one_workspace_at_once_keep_their_tests_apart();
    a_run_stopped_mid_test_returns_its_databases_clean();
}

fn two_runs_of_one_workspace_at_once_keep_their_tests_apart() {
    let sc = Scenario::new(&GDB, "two_runs_at_once");
    // Build and start the server once, so the two runs overlap in testing.
    sc.run(&[]).assert_code(0);
    let spawn = |name: &str| {
        let events = sc.dir.join(format!("{name}.jsonl"));
        sc.command(&["run", "--events", events.to_str().unwrap()])
            .env("GDB_SLEEP_MS", "300")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn("first");
    let second = spawn("second");
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_no_leases(&sc);
}

fn a_run_stopped_mid_test_returns_its_databases_clean() {
    let sc = Scenario::new(&GDB, "stopped_mid_run");
    sc.run(&[]).assert_code(0);
    // Markers of the first run must not count as this run's.
    let _ = std::fs::remove_dir_all(sc.markers());
    std::fs::create_dir_all(sc.markers()).unwrap();
    let mut guard = KillOnDrop(None);
    let child = sc
        .command(&["run", "-j", "2"])
        .env("GDB_SLEEP_MS", "30000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    guard.0 = Some(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let any_started = || {
        std::fs::read_dir(sc.markers())
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".started"))
            })
            .unwrap_or(false)
    };
    while !any_started() {
        assert!(std::time::Instant::now() < deadline, "no test started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let child = guard.0.take().expect("the run");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_leases(&sc);
    // The databases the killed tests wrote to are reset before reuse: every
    // test of the next run is alone in its database again.
    sc.run(&[]).assert_code(0);
    let gc = sc.gantry(&["db", "gc"]);
    gc.assert_code(0);
    assert_no_leases(&sc);
}
