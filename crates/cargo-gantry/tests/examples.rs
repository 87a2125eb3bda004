//! The example workspace under gantry: fixtures start, serve the tests
//! that need them and are gone afterwards; tiers; the valgrind leak check.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use support::{read_events_file, Output, GANTRY};

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Runs `cargo gantry run ARGS` in examples/ with its own target directory
/// (shared by these tests) and reads the events.
fn run_examples(name: &str, args: &[&str]) -> Output {
    let root = support::e2e_root().join("examples");
    let events = root.join(format!("{name}.events.jsonl"));
    let mut full = vec!["run", "--events", events.to_str().unwrap()];
    full.extend_from_slice(args);
    run_examples_cmd(name, &full)
}

/// Runs `cargo gantry ARGS` in examples/; reads the events of `run`.
fn run_examples_cmd(name: &str, args: &[&str]) -> Output {
    let root = support::e2e_root().join("examples");
    std::fs::create_dir_all(&root).unwrap();
    let events = root.join(format!("{name}.events.jsonl"));
    let _ = std::fs::remove_file(&events);
    let mut cmd = Command::new(GANTRY);
    cmd.arg("gantry")
        .args(args)
        .current_dir(examples_dir())
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env_remove("CARGO_BUILD_BUILD_DIR")
        .env_remove("RUST_BACKTRACE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GANTRY") {
            cmd.env_remove(&key);
        }
    }
    let o = cmd.output().expect("gantry runs");
    Output {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        events: read_events_file(&events),
    }
}

/// Processes whose command line mentions `needle`.
fn processes_matching(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .chars()
            .all(|c| c.is_ascii_digit())
        {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(cmdline);
            }
        }
    }
    found
}

#[test]
fn example_workspace_passes_with_its_fixtures_slow() {
    let out = run_examples("all", &["--no-fail-fast"]);
    out.assert_code(0);
    // The PostgreSQL-backed store: 100+ tests that would collide in a
    // shared database, and tests whose database the runner leases.
    let passed = out.with_status("passed");
    let store = passed
        .iter()
        .filter(|t| t.starts_with("message-store::"))
        .count();
    assert!(store >= 100, "{store} message-store tests passed; {out}");
    let leased = passed
        .iter()
        .filter(|t| t.starts_with("message-store::runner_lease "))
        .count();
    assert_eq!(leased, 4, "{out}");
    let started: Vec<String> = out
        .of_type("fixture-ready")
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        started.iter().any(|n| n == "echo-daemon"),
        "{started:?}; {out}"
    );
    assert!(
        started.iter().any(|n| n == "echo-private"),
        "{started:?}; {out}"
    );
    assert_eq!(
        out.of_type("fixture-started").len(),
        out.of_type("fixture-stopped").len(),
        "every fixture started is stopped; {out}"
    );
    // The shared daemon served the integration tests: they ran with its
    // socket, and no server outlives the run.
    assert!(out
        .with_status("passed")
        .iter()
        .any(|t| t.starts_with("echo-server::daemon ")));
    let leftovers = processes_matching("echo.sock");
    assert!(
        leftovers.is_empty(),
        "fixture processes left: {leftovers:?}"
    );
}

#[test]
fn tier1_needs_and_starts_no_fixture_slow() {
    let out = run_examples("tier1", &["--tier", "tier1"]);
    out.assert_code(0);
    assert!(!out.finished().is_empty(), "{out}");
    assert!(out.of_type("fixture-started").is_empty(), "{out}");
    assert!(
        out.finished()
            .iter()
            .all(|e| matches!(e["binary_id"].as_str().unwrap(), b if !b.contains("::") || b.contains("::bin/"))),
        "tier1 is unit tests only; {out}"
    );
}

#[test]
fn leak_profile_fails_the_leaking_c_program_only_slow() {
    let out = run_examples(
        "leak",
        &[
            "--profile",
            "leak",
            "--no-fail-fast",
            "-E",
            "package(echo-ffi) & kind(test) & not binary(python_smoke)",
        ],
    );
    out.assert_code(100);
    assert_eq!(
        out.with_status("failed").into_iter().collect::<Vec<_>>(),
        ["echo-ffi::leaky_c leaky_c_program_runs"],
        "{out}"
    );
    assert!(
        out.with_status("passed")
            .contains("echo-ffi::c_program c_program_passes"),
        "{out}"
    );
    let failed = out.test("echo-ffi::leaky_c leaky_c_program_runs");
    let report: String = ["stdout", "stderr"]
        .iter()
        .filter_map(|k| failed["result"]["output"][k].as_str())
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    assert!(
        report.contains("definitely lost"),
        "valgrind's report is the test's output: {report}"
    );
}

/// Calls of `echo_server::handle_line` in a `cover --json` report.
fn handle_line_hits(report: &std::path::Path) -> u64 {
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    r["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["functions"].as_array().unwrap())
        .find(|f| f["name"] == "echo_server::handle_line")
        .map(|f| f["count"].as_u64().unwrap())
        .expect("handle_line is in the report")
}

#[test]
fn services_driven_by_integration_tests_are_covered_slow() {
    let root = support::e2e_root().join("examples");
    let unit = root.join("cover-unit.json");
    let all = root.join("cover-all.json");
    let out = run_examples_cmd(
        "cover-unit",
        &["cover", "--tier", "tier1", "--json", unit.to_str().unwrap()],
    );
    out.assert_code(0);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("coverage: lines ")),
        "{out}"
    );
    assert_eq!(
        handle_line_hits(&unit),
        0,
        "unit tests never reach the server's handler"
    );
    let out = run_examples_cmd(
        "cover-all",
        &[
            "cover",
            "-E",
            "package(echo-server)",
            "--json",
            all.to_str().unwrap(),
        ],
    );
    out.assert_code(0);
    assert!(
        handle_line_hits(&all) > 0,
        "the daemon fixture, stopped with SIGTERM, wrote its profile; {out}"
    );
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.file_name() == "target" {
            continue;
        }
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

fn statuses(events: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    read_events_file(events)
        .iter()
        .filter(|e| e["type"] == "test-finished")
        .map(|e| {
            (
                support::test_key(e),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn example_workspace_archived_sharded_and_merged_slow() {
    let filter = "not package(message-store)";
    let single = run_examples("shard-reference", &["--no-fail-fast", "-E", filter]);
    single.assert_code(0);
    let expected = single.statuses();
    let root = support::e2e_root().join("examples");
    let archive = root.join("examples.tar.zst");
    let out = run_examples_cmd("archive", &["archive", "-o", archive.to_str().unwrap()]);
    out.assert_code(0);
    let mut dirs = Vec::new();
    for m in 1..=4 {
        let ws = root.join(format!("shard-machine-{m}"));
        let _ = std::fs::remove_dir_all(&ws);
        std::fs::create_dir_all(&ws).unwrap();
        copy_tree(&examples_dir(), &ws);
        let res = root.join(format!("shard-results-{m}"));
        let partition = format!("duration:{m}/4");
        let o = Command::new(GANTRY)
            .args(["gantry", "run", "--archive", archive.to_str().unwrap()])
            .args(["--workspace-remap", ws.to_str().unwrap()])
            .args([
                "--partition",
                &partition,
                "--results",
                res.to_str().unwrap(),
            ])
            .args(["--no-fail-fast", "-E", filter])
            .current_dir(&ws)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_BUILD_DIR")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "shard {m}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        dirs.push(res);
        // A machine's extracted archive is hundreds of megabytes; only its
        // results are needed from here on.
        std::fs::remove_dir_all(&ws).unwrap();
    }
    let merged = root.join("shard-merged");
    let mut args: Vec<String> = vec!["merge".into()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    args.extend(["-o".into(), merged.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_examples_cmd("merge", &args).assert_code(0);
    assert_eq!(statuses(&merged.join("events.jsonl")), expected);
}
