//! Processes: timeouts that kill a test's whole process group, batches
//! that isolate a hanging test, grandchildren that must not outlive their
//! test, test groups, and SIGTERM, SIGINT and SIGHUP to the runner mid-run.
//! Tests whose names end in `_slow` wait for real timeouts or signals.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use support::{
    read_pids, run_log, survivors, wait_for_file, Output, Scenario, GATEXIT, GHANG, GSLOWBUILD,
};

/// Number of tests in `ghang`.
const GHANG_TOTAL: usize = 17;

/// Pids (test process, grandchild) recorded by the `ghang` test `name`.
fn pids(sc: &Scenario, name: &str) -> [i32; 2] {
    let (test, grandchild) = read_pids(&sc.markers().join(format!("{name}.pids")));
    [test, grandchild]
}

#[track_caller]
fn assert_all_dead(what: &str, pids: &[i32]) {
    let alive = survivors(pids);
    assert!(
        alive.is_empty(),
        "{what}: still running after the run: {alive:?} (now killed)"
    );
}

fn timed_out_with_signal(out: &Output, key: &str) -> (i64, f64) {
    let e = out.test(key);
    assert_eq!(e["status"], "timed-out", "{key}; {out}");
    let r = &e["result"];
    assert_eq!(r["outcome"], "timeout", "{key}");
    assert!(
        r["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("timed out after")),
        "{key}: {r}"
    );
    (
        r["signal"].as_i64().unwrap_or(-1),
        r["duration_secs"].as_f64().unwrap(),
    )
}

#[test]
fn timeouts_kill_the_whole_process_group_slow() {
    let sc = Scenario::new(&GHANG, "timeouts_kill_the_whole_process_group_slow");
    let junit = sc.dir.join("junit.xml");
    let junit_arg = junit.display().to_string();
    let out = sc.run(&[
        "--execution",
        "process",
        "--junit",
        &junit_arg,
        "-E",
        "test(=tests::hangs_with_grandchild) | test(=tests::ignores_sigterm) | test(=tests::quick)",
    ]);
    out.assert_code(100);
    assert_eq!(
        out.with_status("passed"),
        BTreeSet::from(["ghang tests::quick".to_string()])
    );
    assert_eq!(out.closing_counts().0, 1);
    assert_eq!(out.closing_counts().1, 2);
    assert_eq!(out.summary()["timed_out"], 2);

    // SIGTERM ends a test that does not ignore it; the other gets SIGKILL
    // after the grace period.
    let (signal, duration) = timed_out_with_signal(&out, "ghang tests::hangs_with_grandchild");
    assert_eq!(signal, libc::SIGTERM as i64);
    assert!((0.9..5.0).contains(&duration), "{duration}");
    let (signal, duration) = timed_out_with_signal(&out, "ghang tests::ignores_sigterm");
    assert_eq!(signal, libc::SIGKILL as i64);
    assert!(
        duration >= 1.15,
        "killed only after the grace period: {duration}"
    );

    // Two slow periods, the second one terminating.
    for key in [
        "ghang tests::hangs_with_grandchild",
        "ghang tests::ignores_sigterm",
    ] {
        let slow: Vec<bool> = out
            .of_type("test-slow")
            .into_iter()
            .filter(|e| support::test_key(e) == key)
            .map(|e| e["will_terminate"].as_bool().unwrap())
            .collect();
        assert_eq!(slow, [false, true], "{key}");
    }
    let console = out.gantry_stderr();
    assert!(console.contains("TERMINATING"), "{out}");
    assert!(console.contains("TIMEOUT"), "{out}");

    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let cases = support::junit_cases(&xml);
    assert_eq!(cases.len(), 3);
    assert_eq!(xml.matches(r#"type="timeout""#).count(), 2, "{xml}");

    let mut all = pids(&sc, "hangs_with_grandchild").to_vec();
    all.extend(pids(&sc, "ignores_sigterm"));
    assert_all_dead("timed-out tests and their grandchildren", &all);
}

#[test]
fn timed_out_test_in_a_batch_is_isolated_slow() {
    let sc = Scenario::new(&GHANG, "timed_out_test_in_a_batch_is_isolated_slow");
    let out = sc.run(&["--execution", "batch", "-j", "1", "-E", "test(batch_)"]);
    out.assert_code(100);
    let hang = out.test("ghang tests::batch_a2_hangs");
    assert_eq!(hang["status"], "timed-out", "{out}");
    assert_eq!(hang["result"]["isolated"], true);
    let isolating: Vec<String> = out
        .of_type("test-isolating")
        .into_iter()
        .filter(|e| e["name"] == "tests::batch_a2_hangs")
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        isolating.len() == 1 && isolating[0].contains("timed out in a batch"),
        "{isolating:?}"
    );
    let passed = out.with_status("passed");
    assert_eq!(passed.len(), 7, "{out}");
    for key in &passed {
        assert_eq!(out.test(key)["result"]["in_batch"], true, "{key}");
    }
    // batch_a1 shared the process of the hanging test and kept its result.
    let log = run_log(&sc);
    let pid_of = |name: &str| {
        log.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, p)| *p)
            .collect::<Vec<_>>()
    };
    let hang_pids = pid_of("batch_a2_hangs");
    assert_eq!(hang_pids.len(), 2, "in the batch, then alone: {log:?}");
    assert_eq!(pid_of("batch_a1"), [hang_pids[0]], "{log:?}");
    assert_all_dead("hanging test processes", &hang_pids);
}

#[test]
fn grandchildren_of_passing_tests_are_killed() {
    let sc = Scenario::new(&GHANG, "grandchildren_of_passing_tests_are_killed");
    for mode in ["process", "batch"] {
        let _ = std::fs::remove_file(sc.markers().join("passes_with_grandchild.pids"));
        let out = sc.run(&[
            "--execution",
            mode,
            "-E",
            "test(passes_with_grandchild) | test(=tests::quick)",
        ]);
        out.assert_code(0);
        assert_eq!(out.with_status("passed").len(), 2, "{mode}; {out}");
        let [_, grandchild] = pids(&sc, "passes_with_grandchild");
        assert_all_dead(
            &format!("{mode}: the grandchild of a passing test"),
            &[grandchild],
        );
    }
}

/// Starts a run of the `ghang` test `name`, waits until it runs, sends
/// `signal` to gantry and returns what gantry did.
fn interrupt(sc: &Scenario, name: &str, signal: i32) -> (Output, [i32; 2]) {
    let filter = format!("test(=tests::{name})");
    let child = sc.spawn_run(&["--execution", "process", "-E", &filter]);
    let marker = sc.markers().join(format!("{name}.pids"));
    let started = wait_for_file(&marker, Duration::from_secs(240));
    let mut running = Vec::new();
    if started {
        // Let the test settle into its sleep.
        std::thread::sleep(Duration::from_millis(200));
        running = pids(sc, name)
            .into_iter()
            .filter(|&p| support::is_alive(p))
            .collect();
    }
    // SAFETY: kill(2) on the pid of the child this test started.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    let out = sc.wait(child, Duration::from_secs(30));
    assert!(started, "{name} never started; {out}");
    let pids = pids(sc, name);
    assert_eq!(
        running, pids,
        "the test and its grandchild were running when the signal was sent"
    );
    (out, pids)
}

#[track_caller]
fn assert_interrupted(out: &Output, name: &str, signal: &str) {
    out.assert_code(130);
    assert_eq!(out.summary()["interrupted"], signal);
    assert_eq!(out.summary()["exit_code"], 130);
    let cancelling = out.of_type("run-cancelling");
    assert_eq!(cancelling.len(), 1, "{out}");
    assert_eq!(cancelling[0]["reason"], format!("signal {signal}"));
    assert!(
        out.finished().is_empty(),
        "an interrupted test has no result; {out}"
    );
    assert_eq!(
        out.skipped("cancelled"),
        BTreeSet::from([format!("ghang tests::{name}")])
    );
    let console = out.gantry_stderr();
    assert!(
        console.contains(&format!("interrupted by {signal}")),
        "{out}"
    );
    assert_eq!(out.closing_counts(), (0, 0, GHANG_TOTAL), "{out}");
}

#[test]
fn sigterm_tears_down_the_run_slow() {
    let sc = Scenario::new(&GHANG, "sigterm_tears_down_the_run_slow");
    let (out, pids) = interrupt(&sc, "signal_plain", libc::SIGTERM);
    let alive = survivors(&pids);
    assert_interrupted(&out, "signal_plain", "SIGTERM");
    assert!(alive.is_empty(), "left running: {alive:?}");
}

#[test]
fn sigterm_during_the_build_stops_cargo_and_its_build_scripts_slow() {
    let sc = Scenario::new(
        &GSLOWBUILD,
        "sigterm_during_the_build_stops_cargo_and_its_build_scripts_slow",
    );
    let child = sc.spawn_run(&[]);
    let marker = sc.markers().join("build-script.pid");
    let started = wait_for_file(&marker, Duration::from_secs(240));
    // SAFETY: kill(2) on the pid of the child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = sc.wait(child, Duration::from_secs(30));
    assert!(started, "the build script never ran; {out}");
    let script: i32 = std::fs::read_to_string(&marker).unwrap().parse().unwrap();
    let alive = survivors(&[script]);
    assert!(alive.is_empty(), "the build script outlived gantry; {out}");
    out.assert_code(130);
    assert!(
        out.stderr
            .contains("interrupted by SIGTERM while `cargo test --no-run"),
        "{out}"
    );
}

#[test]
fn sighup_tears_down_the_run_slow() {
    let sc = Scenario::new(&GHANG, "sighup_tears_down_the_run_slow");
    let (out, pids) = interrupt(&sc, "signal_plain", libc::SIGHUP);
    let alive = survivors(&pids);
    assert_interrupted(&out, "signal_plain", "SIGHUP");
    assert!(alive.is_empty(), "left running: {alive:?}");
}

#[test]
fn sigint_tears_down_tests_that_ignore_it_slow() {
    let sc = Scenario::new(&GHANG, "sigint_tears_down_tests_that_ignore_it_slow");
    let (out, pids) = interrupt(&sc, "signal_stubborn", libc::SIGINT);
    let alive = survivors(&pids);
    assert_interrupted(&out, "signal_stubborn", "SIGINT");
    assert!(alive.is_empty(), "left running: {alive:?}");
}

#[test]
fn test_group_runs_its_tests_one_at_a_time() {
    let sc = Scenario::new(&GHANG, "test_group_runs_its_tests_one_at_a_time");
    let out = sc.run(&["--execution", "process", "-j", "3", "-E", "test(serial_)"]);
    out.assert_code(0);
    assert_eq!(out.with_status("passed").len(), 3, "{out}");
    let log = std::fs::read_to_string(sc.markers().join("times.log")).expect("times.log");
    let mut spans: BTreeMap<String, (u128, u128)> = BTreeMap::new();
    for line in log.lines() {
        let mut it = line.split(' ');
        let (event, name, t) = (
            it.next().unwrap(),
            it.next().unwrap(),
            it.next().unwrap().parse::<u128>().unwrap(),
        );
        let span = spans.entry(name.to_string()).or_default();
        match event {
            "start" => span.0 = t,
            _ => span.1 = t,
        }
    }
    let mut sorted: Vec<(u128, u128)> = spans.values().copied().collect();
    sorted.sort();
    assert_eq!(sorted.len(), 3, "{log}");
    for pair in sorted.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "tests of a group with max-threads = 1 overlapped:\n{log}"
        );
    }
}

#[test]
fn batch_hanging_after_its_last_test_is_killed_and_its_tests_rerun_slow() {
    let sc = Scenario::new(&GATEXIT, "batch_hanging_after_its_last_test");
    let started = std::time::Instant::now();
    let out = sc.run(&["--execution", "batch", "-j", "1"]);
    // Alone, the test that registered the handler hangs at exit and times
    // out; the others pass alone.
    out.assert_code(100);
    assert_eq!(
        out.with_status("timed-out").into_iter().collect::<Vec<_>>(),
        ["gatexit tests::b_hangs_at_exit"],
        "{out}"
    );
    assert_eq!(out.with_status("passed").len(), 2, "{out}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the hung batch was not killed"
    );
}
