//! End-to-end tests of `cargo gantry run`, `list` and `show-config` on
//! generated projects: statuses, counts, exit codes, filters, partitions,
//! retries, cancellation, execution modes and reports.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{
    junit_cases, run_log, Output, Scenario, CONSOLE_FILTERS, GCRASH, GDYN, GPANIC, GSCN, GSHARED,
};

/// Every non-ignored test of `gscn`, by `binary_id name`.
const GSCN_TESTS: &[&str] = &[
    "gscn tests::fails_assert",
    "gscn tests::flaky",
    "gscn tests::panics",
    "gscn tests::passes",
    "gscn tests::prints_env",
    "gscn tests::prints_output",
    "gscn::bin/gscn-cli tests::cli_works",
    "gscn::it_a alpha_one",
    "gscn::it_a alpha_two",
    "gscn::it_a runs_cli",
    "gscn::it_a shared_name",
    "gscn::it_b beta_one",
    "gscn::it_b beta_two",
    "gscn::it_b shared_name",
];
const GSCN_IGNORED: &[&str] = &["gscn tests::ignored_test", "gscn::it_b beta_ignored"];
const GSCN_TOTAL: usize = 16;

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn finished_set(out: &Output) -> BTreeSet<String> {
    out.statuses().into_keys().collect()
}

fn path_of(v: &Value) -> PathBuf {
    PathBuf::from(
        v.as_str()
            .unwrap_or_else(|| panic!("expected a path, got {v}")),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn mixed_run_reports_every_status() {
    let sc = Scenario::new(&GSCN, "mixed_run_reports_every_status");
    let out = sc.run(&["--no-fail-fast", "--retries", "1"]);
    out.assert_code(100);

    let mut expected: BTreeMap<String, String> = GSCN_TESTS
        .iter()
        .map(|t| (t.to_string(), "passed".to_string()))
        .collect();
    expected.insert("gscn tests::fails_assert".into(), "failed".into());
    expected.insert("gscn tests::panics".into(), "failed".into());
    expected.insert("gscn tests::flaky".into(), "flaky".into());
    assert_eq!(out.statuses(), expected, "{out}");
    assert_eq!(out.skipped("ignored"), set(GSCN_IGNORED));

    let fails = out.test("gscn tests::fails_assert");
    assert_eq!(fails["attempts"], 2);
    assert_eq!(fails["result"]["outcome"], "fail");
    assert_eq!(fails["result"]["message"], "panicked");
    assert_eq!(fails["result"]["exit_code"], 101);
    let flaky = out.test("gscn tests::flaky");
    assert_eq!(flaky["attempts"], 2);
    assert_eq!(flaky["result"]["outcome"], "pass");
    assert_eq!(flaky["failed_attempts"].as_array().map(Vec::len), Some(1));

    let summary = out.summary();
    assert_eq!(summary["passed"], 11);
    assert_eq!(summary["flaky"], 1);
    assert_eq!(summary["failed"], 2);
    assert_eq!(summary["timed_out"], 0);
    assert_eq!(summary["skipped"], 2);
    assert_eq!(summary["not_run"], 0);
    assert_eq!(summary["exit_code"], 100);
    assert_eq!(out.closing_counts(), (12, 2, 2));
    assert!(
        out.gantry_stderr().contains("FLAKY 2/2"),
        "the console names the flaky test; {out}"
    );
}

#[test]
fn passing_run_exits_zero_with_closing_line() {
    let sc = Scenario::new(&GSCN, "passing_run_exits_zero_with_closing_line");
    let out = sc.run(&["-E", "binary_id(gscn::it_*)"]);
    out.assert_code(0);
    assert_eq!(out.with_status("passed").len(), 7, "{out}");
    assert_eq!(out.closing_counts(), (7, 0, GSCN_TOTAL - 7));
    let started = out.of_type("run-started");
    assert_eq!(started[0]["selected"], 7);
    assert_eq!(started[0]["skipped"], GSCN_TOTAL - 7);
    assert_eq!(started[0]["format_version"], 1);
}

#[test]
fn tests_see_cargo_and_gantry_environment() {
    let sc = Scenario::new(&GSCN, "tests_see_cargo_and_gantry_environment");
    let out = sc.run(&[
        "--execution",
        "process",
        "-E",
        "test(prints_env) | test(runs_cli)",
    ]);
    out.assert_code(0);
    assert_eq!(
        out.with_status("passed"),
        set(&["gscn tests::prints_env", "gscn::it_a runs_cli"])
    );
    let env = out.test("gscn tests::prints_env");
    let printed = read(&path_of(&env["result"]["output"]["stdout"]));
    let project = sc.project.display().to_string();
    for line in [
        "GANTRY=1".to_string(),
        "GANTRY_ATTEMPT=1".to_string(),
        format!("GANTRY_RUN_ID={}", out.run_id()),
        "CARGO_PKG_NAME=gscn".to_string(),
        format!("CARGO_MANIFEST_DIR={project}"),
        format!("CWD={project}"),
    ] {
        assert!(
            printed.lines().any(|l| l == line),
            "missing `{line}` in:\n{printed}"
        );
    }
}

#[test]
fn per_test_output_files_hold_what_tests_printed() {
    let sc = Scenario::new(&GSCN, "per_test_output_files_hold_what_tests_printed");
    let runs = sc.target_dir().join("gantry").join("runs");

    let out = sc.run(&["--execution", "process", "-E", "test(prints_output)"]);
    out.assert_code(0);
    let run_dir = runs.join(out.run_id());
    let result = &out.test("gscn tests::prints_output")["result"];
    let stdout = path_of(&result["output"]["stdout"]);
    let stderr = path_of(&result["output"]["stderr"]);
    let logs = run_dir.join("tests").join("gscn");
    assert_eq!(stdout, logs.join("tests::prints_output.out"));
    assert_eq!(stderr, logs.join("tests::prints_output.err"));
    assert!(read(&stdout).contains("hello from stdout"));
    assert!(!read(&stdout).contains("hello from stderr"));
    assert!(read(&stderr).contains("hello from stderr"));
    let latest = std::fs::read_link(runs.join("latest")).expect("a `latest` link");
    assert_eq!(latest, PathBuf::from(out.run_id()));

    // A test that printed nothing leaves no file: libtest's own lines
    // around it are not its output.
    let out = sc.run(&["--execution", "process", "-E", "test(=tests::passes)"]);
    out.assert_code(0);
    let result = &out.test("gscn tests::passes")["result"];
    assert_eq!(result["in_batch"], false);
    assert_eq!(result["output"]["stdout"], Value::Null, "{result}");
    assert_eq!(result["output"]["stderr"], Value::Null, "{result}");

    // In a batch, both streams share one file.
    let out = sc.run(&["--execution", "batch", "-E", "test(prints_output)"]);
    out.assert_code(0);
    let result = &out.test("gscn tests::prints_output")["result"];
    assert_eq!(result["in_batch"], true);
    let combined = read(&path_of(&result["output"]["stdout"]));
    assert!(
        combined.contains("hello from stdout") && combined.contains("hello from stderr"),
        "{combined}"
    );
    assert!(
        !combined.contains("test tests::prints_output"),
        "libtest's marker leaked into the output: {combined}"
    );
    assert_eq!(
        std::fs::read_link(runs.join("latest")).unwrap(),
        PathBuf::from(out.run_id())
    );
}

#[test]
fn run_directory_keeps_events_also_with_events_flag() {
    let sc = Scenario::new(&GSCN, "run_directory_keeps_events_also_with_events_flag");
    let runs = sc.target_dir().join("gantry").join("runs");

    let plain = sc.gantry(&["run", "alpha"]);
    plain.assert_code(0);
    let text = read(&runs.join("latest").join("events.jsonl"));
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains("\"run-started\"")),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.contains("\"run-finished\"")),
        "{text}"
    );

    // `--events FILE` writes the events *also* to FILE.
    let out = sc.run(&["alpha"]);
    out.assert_code(0);
    let in_run_dir = runs.join(out.run_id()).join("events.jsonl");
    assert!(
        in_run_dir.exists(),
        "with --events, the run directory has no events.jsonl: {}",
        in_run_dir.display()
    );
    assert_eq!(read(&in_run_dir), read(&sc.events_path()));
}

#[test]
fn message_format_json_streams_events_on_stdout() {
    let sc = Scenario::new(&GSCN, "message_format_json_streams_events_on_stdout");
    let out = sc.gantry(&["run", "--message-format", "json", "beta"]);
    out.assert_code(0);
    let events: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(
        events.first().map(|e| e["type"].clone()),
        Some("run-started".into())
    );
    assert_eq!(
        events.last().map(|e| e["type"].clone()),
        Some("run-finished".into())
    );
    let finished: BTreeSet<String> = events
        .iter()
        .filter(|e| e["type"] == "test-finished")
        .map(support::test_key)
        .collect();
    assert_eq!(
        finished,
        set(&["gscn::it_b beta_one", "gscn::it_b beta_two"])
    );
    assert!(
        !out.stderr.contains("passed, 0 failed"),
        "the human summary is not printed in json mode; {out}"
    );
}

#[test]
fn run_ignored_only_and_all() {
    let sc = Scenario::new(&GSCN, "run_ignored_only_and_all");
    let out = sc.run(&["--run-ignored", "only"]);
    out.assert_code(0);
    assert_eq!(out.with_status("passed"), set(GSCN_IGNORED), "{out}");
    let ran = read(&path_of(
        &out.test("gscn tests::ignored_test")["result"]["output"]["stdout"],
    ));
    assert!(ran.contains("the ignored test ran"), "{ran}");

    let out = sc.run(&["--run-ignored", "all", "-E", "binary_id(gscn::it_b)"]);
    out.assert_code(0);
    assert_eq!(
        finished_set(&out),
        set(&[
            "gscn::it_b beta_ignored",
            "gscn::it_b beta_one",
            "gscn::it_b beta_two",
            "gscn::it_b shared_name"
        ])
    );

    let out = sc.run(&["-E", "binary_id(gscn::it_b)"]);
    out.assert_code(0);
    assert_eq!(out.skipped("ignored"), set(&["gscn::it_b beta_ignored"]));
    assert_eq!(finished_set(&out).len(), 3);
}

#[test]
fn name_filters_exact_and_skip() {
    let sc = Scenario::new(&GSCN, "name_filters_exact_and_skip");
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["shared_name"],
            &["gscn::it_a shared_name", "gscn::it_b shared_name"],
        ),
        (&["alpha", "--skip", "alpha_two"], &["gscn::it_a alpha_one"]),
        (&["--exact", "tests::passes"], &["gscn tests::passes"]),
        (&["--", "--exact", "beta_one"], &["gscn::it_b beta_one"]),
        (&["one", "--", "--skip", "beta"], &["gscn::it_a alpha_one"]),
        (
            &["alpha", "beta_two"],
            &[
                "gscn::it_a alpha_one",
                "gscn::it_a alpha_two",
                "gscn::it_b beta_two",
            ],
        ),
    ];
    for (args, expected) in cases {
        let out = sc.run(args);
        out.assert_code(0);
        assert_eq!(
            finished_set(&out),
            set(expected),
            "cargo gantry run {}",
            args.join(" ")
        );
        assert_eq!(
            out.skipped("filtered").len(),
            GSCN_TOTAL - expected.len() - out.skipped("ignored").len()
        );
    }
    // `--exact` needs the whole name.
    sc.run(&["--exact", "alpha"]).assert_code(4);
}

#[test]
fn filter_expressions_select_tests() {
    let sc = Scenario::new(&GSCN, "filter_expressions_select_tests");
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["-E", "binary_id(gscn::it_a)"],
            &[
                "gscn::it_a alpha_one",
                "gscn::it_a alpha_two",
                "gscn::it_a runs_cli",
                "gscn::it_a shared_name",
            ],
        ),
        (
            &["-E", "kind(bin)"],
            &["gscn::bin/gscn-cli tests::cli_works"],
        ),
        (
            &["-E", "test(=shared_name) & binary(it_b)"],
            &["gscn::it_b shared_name"],
        ),
        (
            &["-E", "test(/^alpha/)", "-E", "test(=beta_two)"],
            &[
                "gscn::it_a alpha_one",
                "gscn::it_a alpha_two",
                "gscn::it_b beta_two",
            ],
        ),
        (
            &[
                "-E",
                "package(gscn) & not kind(test) & not test(/^tests::(f|p)/)",
            ],
            &["gscn::bin/gscn-cli tests::cli_works"],
        ),
    ];
    for (args, expected) in cases {
        let out = sc.run(args);
        out.assert_code(0);
        assert_eq!(
            finished_set(&out),
            set(expected),
            "cargo gantry run {}",
            args.join(" ")
        );
    }
}

#[test]
fn tiers_select_named_filters() {
    let sc = Scenario::new(&GSCN, "tiers_select_named_filters");
    let out = sc.run(&["--tier", "smoke"]);
    out.assert_code(0);
    assert_eq!(
        finished_set(&out),
        set(&[
            "gscn::it_a alpha_one",
            "gscn::it_a alpha_two",
            "gscn::it_b beta_one",
            "gscn::it_b beta_two"
        ])
    );
    // A tier narrows whatever else selects.
    let out = sc.run(&["--tier", "units", "-E", "test(/passes|cli/)"]);
    out.assert_code(0);
    assert_eq!(
        finished_set(&out),
        set(&["gscn tests::passes", "gscn::bin/gscn-cli tests::cli_works"])
    );
}

/// `binary_id name` of the tests `list --format json` marks selected.
fn listed_selection(out: &Output) -> BTreeSet<String> {
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("list is not JSON ({e}); {out}"));
    let mut selected = BTreeSet::new();
    for b in doc["binaries"].as_array().expect("binaries") {
        for t in b["tests"].as_array().expect("tests") {
            if t["selected"] == true {
                selected.insert(format!(
                    "{} {}",
                    b["binary_id"].as_str().unwrap(),
                    t["name"].as_str().unwrap()
                ));
            }
        }
    }
    selected
}

#[test]
fn partitions_are_disjoint_and_cover_every_test() {
    let sc = Scenario::new(&GSCN, "partitions_are_disjoint_and_cover_every_test");
    for kind in ["count", "hash", "duration"] {
        let mut union = BTreeSet::new();
        let mut total = 0;
        for shard in 1..=3 {
            let p = format!("{kind}:{shard}/3");
            let out = sc.gantry(&["list", "--format", "json", "--partition", &p]);
            out.assert_code(0);
            let selected = listed_selection(&out);
            total += selected.len();
            union.extend(selected);
        }
        assert_eq!(
            union,
            set(GSCN_TESTS),
            "{kind}: the shards together are every test"
        );
        assert_eq!(total, GSCN_TESTS.len(), "{kind}: no test is in two shards");
    }
    // `count` shards are balanced.
    let sizes: Vec<usize> = (1..=3)
        .map(|m| {
            let out = sc.gantry(&[
                "list",
                "--format",
                "json",
                "--partition",
                &format!("count:{m}/3"),
            ]);
            listed_selection(&out).len()
        })
        .collect();
    assert!(sizes.iter().all(|&n| n == 4 || n == 5), "{sizes:?}");

    // Running the shards runs each test once.
    let passing = ["-E", "binary_id(gscn::it_*)"];
    let mut ran = BTreeSet::new();
    let mut count = 0;
    for p in ["hash:1/2", "hash:2/2"] {
        let out = sc.run(&[&passing[..], &["--partition", p]].concat());
        out.assert_code(0);
        count += finished_set(&out).len();
        ran.extend(finished_set(&out));
    }
    assert_eq!(ran.len(), 7);
    assert_eq!(count, 7);
}

#[test]
fn retries_make_flaky_tests_flaky_and_failures_fail_every_attempt() {
    let sc = Scenario::new(
        &GSCN,
        "retries_make_flaky_tests_flaky_and_failures_fail_every_attempt",
    );
    let out = sc.run(&[
        "--retries",
        "2",
        "--no-fail-fast",
        "-E",
        "test(flaky) | test(fails_assert)",
    ]);
    out.assert_code(100);

    let flaky = out.test("gscn tests::flaky");
    assert_eq!(flaky["status"], "flaky");
    assert_eq!(flaky["attempts"], 2);
    assert_eq!(flaky["result"]["attempt"], 2);
    let fails = out.test("gscn tests::fails_assert");
    assert_eq!(fails["status"], "failed");
    assert_eq!(fails["attempts"], 3);
    let failed_attempts = fails["failed_attempts"]
        .as_array()
        .expect("failed_attempts");
    assert_eq!(failed_attempts.len(), 2);
    assert_eq!(
        failed_attempts
            .iter()
            .map(|a| a["attempt"].clone())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    let retries: Vec<String> = out
        .of_type("test-retry")
        .into_iter()
        .map(support::test_key)
        .collect();
    assert_eq!(
        retries
            .iter()
            .filter(|k| k.ends_with("fails_assert"))
            .count(),
        2
    );
    assert_eq!(retries.iter().filter(|k| k.ends_with("flaky")).count(), 1);
    // Every attempt keeps its own output.
    let last = path_of(&fails["result"]["output"]["stderr"]);
    assert!(
        last.to_string_lossy().contains("attempt-3"),
        "{}",
        last.display()
    );
    assert!(read(&last).contains("one and one"));
    for a in failed_attempts {
        assert!(read(&path_of(&a["output"]["stderr"])).contains("one and one"));
    }
    let flaky_out = read(&path_of(&flaky["result"]["output"]["stdout"]));
    assert!(flaky_out.contains("flaky attempt 2"), "{flaky_out}");
    assert_eq!(out.closing_counts(), (1, 1, GSCN_TOTAL - 2));

    // Without retries the flaky test fails.
    let out = sc.run(&["-E", "test(flaky)"]);
    out.assert_code(100);
    assert_eq!(out.test("gscn tests::flaky")["status"], "failed");
}

#[test]
fn flaky_fails_profile_fails_the_run() {
    let sc = Scenario::new(&GSCN, "flaky_fails_profile_fails_the_run");
    let out = sc.run(&["--retries", "1", "-E", "test(flaky)"]);
    out.assert_code(0);
    assert_eq!(out.test("gscn tests::flaky")["status"], "flaky");
    let out = sc.run(&["--profile", "strict", "-E", "test(flaky)"]);
    out.assert_code(100);
    assert_eq!(out.test("gscn tests::flaky")["status"], "flaky");
}

const LIB_TESTS_SERIAL: &[&str] = &["-j", "1", "--execution", "process", "-E", "binary_id(gscn)"];

#[test]
fn fail_fast_stops_scheduling_after_the_first_failure() {
    let sc = Scenario::new(&GSCN, "fail_fast_stops_scheduling_after_the_first_failure");
    let out = sc.run(&[LIB_TESTS_SERIAL, &["--fail-fast"]].concat());
    out.assert_code(100);
    assert_eq!(
        out.statuses(),
        BTreeMap::from([("gscn tests::fails_assert".to_string(), "failed".to_string())])
    );
    assert_eq!(
        out.skipped("cancelled"),
        set(&[
            "gscn tests::flaky",
            "gscn tests::panics",
            "gscn tests::passes",
            "gscn tests::prints_env",
            "gscn tests::prints_output"
        ])
    );
    let cancelling = out.of_type("run-cancelling");
    assert_eq!(cancelling.len(), 1);
    assert_eq!(cancelling[0]["reason"], "fail-fast");
    assert_eq!(out.summary()["not_run"], 5);
    assert_eq!(out.closing_counts(), (0, 1, GSCN_TOTAL - 1));
    assert!(out.gantry_stderr().contains("5 not run"), "{out}");

    let out = sc.run(&[LIB_TESTS_SERIAL, &["--no-fail-fast"]].concat());
    out.assert_code(100);
    assert_eq!(out.finished().len(), 6);
    assert!(out.of_type("run-cancelling").is_empty());
}

#[test]
fn max_fail_stops_after_that_many_failures() {
    let sc = Scenario::new(&GSCN, "max_fail_stops_after_that_many_failures");
    let out = sc.run(&[LIB_TESTS_SERIAL, &["--max-fail", "2"]].concat());
    out.assert_code(100);
    assert_eq!(
        out.with_status("failed"),
        set(&["gscn tests::fails_assert", "gscn tests::flaky"]),
        "{out}"
    );
    assert_eq!(out.skipped("cancelled").len(), 4);
    assert_eq!(out.of_type("run-cancelling")[0]["reason"], "max-fail");
}

#[test]
fn max_fail_from_config_stops_after_that_many_failures() {
    let sc = Scenario::new(&GSCN, "max_fail_from_config_stops_after_that_many_failures");
    // Profile `maxfail2`: max-fail = 2, one job, a process per test.
    let out = sc.run(&["--profile", "maxfail2", "-E", "binary_id(gscn)"]);
    out.assert_code(100);
    assert_eq!(
        out.with_status("failed"),
        set(&["gscn tests::fails_assert", "gscn tests::flaky"]),
        "max-fail = 2 in the profile allows two failures before cancelling; {out}"
    );
    assert_eq!(out.skipped("cancelled").len(), 4);
}

#[test]
fn execution_modes_agree_on_results() {
    let sc = Scenario::new(&GSCN, "execution_modes_agree_on_results");
    let mut results = Vec::new();
    for mode in ["process", "batch", "auto"] {
        let out = sc.run(&["--no-fail-fast", "--execution", mode]);
        out.assert_code(100);
        let in_batch = out
            .finished()
            .iter()
            .filter(|e| e["result"]["in_batch"] == true)
            .count();
        match mode {
            "process" => assert_eq!(in_batch, 0, "{mode}"),
            _ => assert!(in_batch > 0, "{mode}: nothing ran in a batch"),
        }
        results.push((mode, out.statuses()));
    }
    assert_eq!(
        results[0]
            .1
            .iter()
            .filter(|(_, s)| *s == "failed")
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        [
            "gscn tests::fails_assert",
            "gscn tests::flaky",
            "gscn tests::panics"
        ]
    );
    for (mode, statuses) in &results[1..] {
        assert_eq!(statuses, &results[0].1, "{mode} differs from process");
    }
}

const CRASH_TESTS: &[&str] = &["-j", "1", "--no-fail-fast", "-E", "not test(trailer)"];
const CULPRITS: [(&str, &str); 3] = [
    ("gcrash tests::b_aborts", "aborted (SIGABRT)"),
    ("gcrash tests::e_exits_3", "exited with code 3"),
    ("gcrash tests::h_panics", "panicked"),
];

#[test]
fn batch_mode_isolates_crashing_tests() {
    let sc = Scenario::new(&GCRASH, "batch_mode_isolates_crashing_tests");
    let batch = sc.run(&[CRASH_TESTS, &["--execution", "batch"]].concat());
    batch.assert_code(100);
    for (key, message) in CULPRITS {
        let r = &batch.test(key)["result"];
        assert_eq!(batch.test(key)["status"], "failed", "{key}");
        assert_eq!(r["isolated"], true, "{key} is reported from its run alone");
        assert_eq!(r["in_batch"], false, "{key}");
        assert_eq!(r["message"], message, "{key}");
    }
    let isolating: BTreeMap<String, String> = batch
        .of_type("test-isolating")
        .into_iter()
        .map(|e| {
            (
                support::test_key(e),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        isolating["gcrash tests::b_aborts"].contains("SIGABRT"),
        "{isolating:?}"
    );
    assert!(
        isolating["gcrash tests::e_exits_3"].contains("exited with code 3"),
        "{isolating:?}"
    );
    assert!(
        isolating["gcrash tests::h_panics"].contains("failed in a batch"),
        "{isolating:?}"
    );
    let innocents = batch.with_status("passed");
    assert_eq!(innocents.len(), 9, "{batch}");
    assert!(innocents.iter().all(|k| k.ends_with("_ok")));

    // Innocent tests that shared a process with a culprit kept their result.
    let log = run_log(&sc);
    let first_pid = |name: &str| {
        log.iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} never ran: {log:?}"))
            .1
    };
    for (innocent, culprit) in [
        ("a_ok", "b_aborts"),
        ("d_ok", "e_exits_3"),
        ("g_ok", "h_panics"),
        ("i_ok", "h_panics"),
    ] {
        assert_eq!(
            first_pid(innocent),
            first_pid(culprit),
            "{innocent} and {culprit} share a batch: {log:?}"
        );
        let r = &batch.test(&format!("gcrash tests::{innocent}"))["result"];
        assert_eq!(r["in_batch"], true, "{innocent}");
        assert_eq!(r["isolated"], false, "{innocent}");
    }
    // Each culprit ran twice: in its batch, then alone.
    for (culprit, _) in CULPRITS {
        let name = culprit.trim_start_matches("gcrash tests::");
        let pids: Vec<i32> = log
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, p)| *p)
            .collect();
        assert_eq!(pids.len(), 2, "{name}: {log:?}");
        assert_ne!(pids[0], pids[1]);
    }

    // The same pass/fail set as a process per test, and as auto.
    for mode in ["process", "auto"] {
        let out = sc.run(&[CRASH_TESTS, &["--execution", mode]].concat());
        out.assert_code(100);
        assert_eq!(
            out.statuses(),
            batch.statuses(),
            "{mode} differs from batch"
        );
        for (key, message) in CULPRITS {
            assert_eq!(out.test(key)["result"]["message"], message, "{mode}: {key}");
        }
    }
}

#[test]
fn batch_crash_does_not_blame_tests_that_never_started() {
    let sc = Scenario::new(
        &GCRASH,
        "batch_crash_does_not_blame_tests_that_never_started",
    );
    let out = sc.run(&[CRASH_TESTS, &["--execution", "batch"]].concat());
    out.assert_code(100);
    // c_ok and f_ok come right after a test that took their batch down:
    // they never started there, so nothing says they share state.
    let log = run_log(&sc);
    for name in ["c_ok", "f_ok"] {
        assert_eq!(
            log.iter().filter(|(n, _)| n == name).count(),
            1,
            "{name}: {log:?}"
        );
    }
    let console = out.gantry_stderr();
    let blamed: Vec<&str> = console.lines().filter(|l| l.contains("ISOLATED")).collect();
    assert!(
        blamed.is_empty(),
        "innocent tests reported as sharing state:\n{}",
        blamed.join("\n")
    );
    let history = sc.history();
    for (name, record) in history["tests"]["gcrash"]
        .as_object()
        .expect("gcrash in history")
    {
        if name.ends_with("_ok") {
            assert_eq!(
                record["isolation_sensitive"], false,
                "{name} is marked isolation-sensitive: {record}"
            );
        }
    }
}

/// `binary_id` → test names, from `list --format json`.
fn listed(sc: &Scenario) -> BTreeMap<String, Vec<String>> {
    let out = sc.gantry(&["list", "--format", "json"]);
    out.assert_code(0);
    let doc: Value = serde_json::from_str(&out.stdout).expect("list JSON");
    doc["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let names = b["tests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_string())
                .collect();
            (b["binary_id"].as_str().unwrap().to_string(), names)
        })
        .collect()
}

#[test]
fn test_lists_are_kept_for_unchanged_libtest_binaries_only() {
    let sc = Scenario::new(
        &GDYN,
        "test_lists_are_kept_for_unchanged_libtest_binaries_only",
    );
    std::fs::write(sc.markers().join("dynamic.txt"), "one\n").unwrap();
    let first = listed(&sc);
    assert_eq!(first["gdyn"], ["tests::plain"]);
    assert_eq!(first["gdyn::dynamic"], ["one"]);

    // A harness of its own may find other tests at any time: always listed.
    std::fs::write(sc.markers().join("dynamic.txt"), "one\ntwo\n").unwrap();
    assert_eq!(listed(&sc)["gdyn::dynamic"], ["one", "two"]);

    // The libtest binary's list comes from the cache while the binary is
    // unchanged: a doctored entry shows.
    let cache = sc.target_dir().join("gantry/list-cache.json");
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(!text.contains("dynamic-"), "{text}");
    std::fs::write(&cache, text.replace("tests::plain", "tests::doctored")).unwrap();
    assert_eq!(listed(&sc)["gdyn"], ["tests::doctored"]);

    // A rebuilt (here: touched) binary is listed again.
    let doc: Value =
        serde_json::from_str(&sc.gantry(&["list", "--format", "json"]).stdout).unwrap();
    let path = doc["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["binary_id"] == "gdyn")
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let status = std::process::Command::new("touch")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(listed(&sc)["gdyn"], ["tests::plain"]);
}

#[test]
fn should_panic_tests_pass_in_a_batch_without_isolation() {
    let sc = Scenario::new(
        &GPANIC,
        "should_panic_tests_pass_in_a_batch_without_isolation",
    );
    // The second run has durations and puts all four into one batch.
    for _ in 0..2 {
        let out = sc.run(&["--execution", "batch", "-j", "1"]);
        out.assert_code(0);
        assert_eq!(out.with_status("passed").len(), 4, "{out}");
        assert!(out.of_type("test-isolating").is_empty(), "{out}");
        assert!(
            out.finished()
                .iter()
                .all(|t| t["result"]["in_batch"] == true),
            "{out}"
        );
    }
}

#[test]
fn a_test_that_fails_only_in_a_batch_keeps_its_batch_output() {
    let sc = Scenario::new(
        &GSHARED,
        "a_test_that_fails_only_in_a_batch_keeps_its_batch_output",
    );
    // Without a history, tests of unknown duration get batches of their
    // own; the durations of the first run put both into one batch.
    sc.run(&["--execution", "batch", "-j", "1"]).assert_code(0);
    let out = sc.run(&["--execution", "batch", "-j", "1"]);
    out.assert_code(0);
    assert_eq!(out.with_status("passed").len(), 2, "{out}");
    let isolating = out.of_type("test-isolating");
    assert_eq!(isolating.len(), 1, "{out}");
    let path = isolating[0]["output"]["stdout"]
        .as_str()
        .unwrap_or_else(|| panic!("no batch output in {}", isolating[0]));
    let in_batch = std::fs::read_to_string(path).unwrap();
    assert!(
        in_batch.contains("another test already ran in this process"),
        "{path}: {in_batch}"
    );
    // The run alone has its own file, which the batch's did not overwrite.
    let key = support::test_key(isolating[0]);
    let alone = out.test(&key)["result"]["output"]["stdout"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(alone, path);
    let alone = std::fs::read_to_string(&alone).unwrap();
    assert!(!alone.contains("another test"), "{alone}");
    let console = out.gantry_stderr();
    assert!(
        console
            .lines()
            .any(|l| l.contains("ISOLATED")
                && l.contains(&format!("its output in the batch: {path}"))),
        "{console}"
    );
}

#[test]
fn batch_mode_does_not_pass_a_failing_test_that_prints_a_libtest_trailer() {
    let sc = Scenario::new(
        &GCRASH,
        "batch_mode_does_not_pass_a_failing_test_that_prints_a_libtest_trailer",
    );
    for mode in ["process", "batch"] {
        let out = sc.run(&["--no-fail-fast", "--execution", mode, "-E", "test(trailer)"]);
        assert_eq!(
            out.statuses(),
            BTreeMap::from([
                (
                    "gcrash tests::trailer_lookalike".to_string(),
                    "failed".to_string()
                ),
                (
                    "gcrash tests::trailer_zz_after".to_string(),
                    "passed".to_string()
                ),
            ]),
            "{mode}; {out}"
        );
        out.assert_code(100);
    }
}

#[test]
fn failure_output_controls_when_failing_output_is_shown() {
    let sc = Scenario::new(
        &GSCN,
        "failure_output_controls_when_failing_output_is_shown",
    );
    let header = "--- STDERR: gscn tests::fails_assert ---";
    for (when, expected) in [
        ("never", 0),
        ("immediate", 1),
        ("final", 1),
        ("immediate-final", 2),
    ] {
        // One job, no history, verbose: the failing test first, then a
        // PASS line for the other.
        sc.forget_history();
        let out = sc.run(&[
            "-v",
            "-j",
            "1",
            "--execution",
            "process",
            "--no-fail-fast",
            "--failure-output",
            when,
            "-E",
            "test(fails_assert) | test(=tests::passes)",
        ]);
        out.assert_code(100);
        let console = out.gantry_stderr();
        assert_eq!(
            console.matches(header).count(),
            expected,
            "--failure-output {when}; {out}"
        );
        let pass = console.find("PASS").expect("a PASS line with -v");
        let first = console.find(header);
        let last = console.rfind(header);
        match when {
            "immediate" => assert!(first < Some(pass), "shown when the test fails; {out}"),
            "final" => assert!(first > Some(pass), "shown at the end; {out}"),
            "immediate-final" => assert!(first < Some(pass) && last > Some(pass), "{out}"),
            _ => {}
        }
        // The log file is kept whatever the console shows.
        let err = path_of(&out.test("gscn tests::fails_assert")["result"]["output"]["stderr"]);
        assert!(
            read(&err).contains("one and one"),
            "--failure-output {when}"
        );
    }
}

#[test]
fn no_capture_passes_output_through() {
    let sc = Scenario::new(&GSCN, "no_capture_passes_output_through");
    let out = sc.run(&[
        "--no-capture",
        "-E",
        "test(prints_output) | test(=alpha_one)",
    ]);
    out.assert_code(0);
    assert!(out.stdout.contains("hello from stdout"), "{out}");
    assert!(out.stderr.contains("hello from stderr"), "{out}");
    assert_eq!(out.with_status("passed").len(), 2);
    assert!(
        out.of_type("run-started")[0]["jobs"] == 1,
        "--no-capture runs one test at a time"
    );
}

#[test]
fn list_json_describes_binaries_and_tests() {
    let sc = Scenario::new(&GSCN, "list_json_describes_binaries_and_tests");
    let out = sc.gantry(&["list", "--format", "json"]);
    out.assert_code(0);
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(doc["format_version"], 1);
    assert_eq!(path_of(&doc["workspace_root"]), sc.project);
    assert_eq!(doc["test_count"], GSCN_TOTAL);
    assert_eq!(doc["selected_count"], GSCN_TESTS.len());
    let binaries = doc["binaries"].as_array().expect("binaries");
    let shape: Vec<(String, String, String, String)> = binaries
        .iter()
        .map(|b| {
            let s = |k: &str| b[k].as_str().unwrap().to_string();
            (s("binary_id"), s("package"), s("kind"), s("name"))
        })
        .collect();
    let owned = |a: &str, b: &str, c: &str, d: &str| {
        (a.to_string(), b.to_string(), c.to_string(), d.to_string())
    };
    assert_eq!(
        shape,
        [
            owned("gscn", "gscn", "lib", "gscn"),
            owned("gscn::bin/gscn-cli", "gscn", "bin", "gscn-cli"),
            owned("gscn::it_a", "gscn", "test", "it_a"),
            owned("gscn::it_b", "gscn", "test", "it_b"),
        ]
    );
    for b in binaries {
        assert!(path_of(&b["path"]).is_file(), "{b}");
        assert_eq!(path_of(&b["cwd"]), sc.project);
    }
    let it_b = &binaries[3]["tests"];
    assert_eq!(
        it_b,
        &serde_json::json!([
            {"name": "beta_ignored", "ignored": true, "selected": false},
            {"name": "beta_one", "ignored": false, "selected": true},
            {"name": "beta_two", "ignored": false, "selected": true},
            {"name": "shared_name", "ignored": false, "selected": true},
        ])
    );

    let out = sc.gantry(&["list", "--format", "json", "alpha"]);
    assert_eq!(
        listed_selection(&out),
        set(&["gscn::it_a alpha_one", "gscn::it_a alpha_two"])
    );

    let human = sc.gantry(&["list", "--run-ignored", "only"]);
    human.assert_code(0);
    assert_eq!(
        human.stdout,
        "gscn:\n    tests::ignored_test (ignored)\ngscn::it_b:\n    beta_ignored (ignored)\n"
    );
    assert!(
        human
            .stderr
            .contains("2 tests selected of 16 in 4 binaries"),
        "{human}"
    );
}

#[test]
fn junit_report_has_cases_failures_and_flaky_failures() {
    let sc = Scenario::new(&GSCN, "junit_report_has_cases_failures_and_flaky_failures");
    let junit = sc.dir.join("reports").join("junit.xml");
    let junit_arg = junit.display().to_string();
    let out = sc.run(&["--no-fail-fast", "--retries", "1", "--junit", &junit_arg]);
    out.assert_code(100);
    let xml = read(&junit);
    let cases = junit_cases(&xml);
    assert_eq!(cases.len(), GSCN_TESTS.len(), "{xml}");
    let keys: BTreeSet<String> = cases
        .iter()
        .map(|c| format!("{} {}", c.classname, c.name))
        .collect();
    assert_eq!(keys, set(GSCN_TESTS));
    let case = |name: &str| cases.iter().find(|c| c.name == name).unwrap();

    let failing: BTreeSet<&str> = cases
        .iter()
        .filter(|c| c.body.contains("<failure"))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        failing,
        BTreeSet::from(["tests::fails_assert", "tests::panics"])
    );
    let fails = case("tests::fails_assert");
    assert!(fails.body.contains("<rerunFailure"), "{}", fails.body);
    assert!(
        fails.body.contains("one and one"),
        "the failure output is in the report"
    );
    let flaky = case("tests::flaky");
    assert!(!flaky.body.contains("<failure"), "{}", flaky.body);
    assert_eq!(
        flaky.body.matches("<flakyFailure").count(),
        1,
        "{}",
        flaky.body
    );
    assert!(flaky.body.contains("flaky attempt 1"));
    let passes = case("tests::passes");
    assert!(!passes.body.contains("Failure") && !passes.body.contains("<failure"));
    assert!(xml.contains(r#"failures="2""#), "{xml}");
}

/// The doctest of `gscn` whose name starts with `src/lib.rs - {item} `.
fn doctest_key(out: &Output, item: &str) -> String {
    let prefix = format!("gscn::doc src/lib.rs - {item} (line ");
    out.statuses()
        .into_keys()
        .chain(out.skipped("ignored"))
        .chain(out.skipped("filtered"))
        .find(|k| k.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no doctest of `{item}`; {out}"))
}

#[test]
fn doctests_run_with_doc_and_join_the_results() {
    let sc = Scenario::new(&GSCN, "doctests_run_with_doc_and_join_the_results");
    let out = sc.run(&[
        "--doc",
        "--no-fail-fast",
        "-E",
        "binary_id(gscn::doc) - test(not_runnable)",
    ]);
    out.assert_code(100);
    let add = doctest_key(&out, "add");
    let sub = doctest_key(&out, "sub");
    assert_eq!(
        out.statuses(),
        BTreeMap::from([
            (add, "passed".to_string()),
            (sub.clone(), "failed".to_string())
        ])
    );
    let failed = out.test(&sub);
    assert_eq!(failed["result"]["message"], "doctest failed");
    let shown = read(&path_of(&failed["result"]["output"]["stdout"]));
    assert!(shown.contains("a doctest that fails"), "{shown}");
    assert_eq!(out.closing_counts().0, 1);
    assert_eq!(out.closing_counts().1, 1);

    // Without --doc there are no doctests.
    let out = sc.run(&[
        "--no-fail-fast",
        "-E",
        "binary_id(gscn) | binary_id(gscn::doc)",
    ]);
    assert!(
        out.statuses().keys().all(|k| !k.starts_with("gscn::doc")),
        "{out}"
    );
}

#[test]
fn ignored_doctests_are_not_failures() {
    let sc = Scenario::new(&GSCN, "ignored_doctests_are_not_failures");
    let out = sc.run(&["--doc", "-E", "binary_id(gscn::doc) - test(sub)"]);
    let ignored = doctest_key(&out, "not_runnable");
    assert!(
        out.statuses().get(&ignored).is_none_or(|s| s != "failed"),
        "an ```ignore doctest is reported failed; {out}"
    );
    assert_eq!(out.skipped("ignored"), set(&[ignored.as_str()]), "{out}");
    out.assert_code(0);
}

#[test]
fn auto_mode_learns_from_history() {
    let sc = Scenario::new(&GSCN, "auto_mode_learns_from_history");
    let args = [
        "--execution",
        "auto",
        "--no-fail-fast",
        "-j",
        "1",
        "-E",
        "binary_id(gscn)",
    ];
    let failing = set(&[
        "gscn tests::fails_assert",
        "gscn tests::flaky",
        "gscn tests::panics",
    ]);

    // First run: nothing is known, everything is batched and failures are
    // re-run alone before they are reported.
    let first = sc.run(&args);
    first.assert_code(100);
    assert_eq!(first.with_status("failed"), failing);
    for e in first.finished() {
        let key = support::test_key(e);
        let expect_isolated = failing.contains(&key);
        assert_eq!(e["result"]["isolated"], expect_isolated, "{key}");
        assert_eq!(e["result"]["in_batch"], !expect_isolated, "{key}");
    }

    // Second run: tests that failed last time run alone from the start.
    let second = sc.run(&args);
    second.assert_code(100);
    assert_eq!(second.statuses(), first.statuses());
    assert!(second.of_type("test-isolating").is_empty(), "{second}");
    for e in second.finished() {
        let key = support::test_key(e);
        assert_eq!(e["result"]["isolated"], false, "{key}");
        assert_eq!(e["result"]["in_batch"], !failing.contains(&key), "{key}");
    }
    let history = sc.history();
    assert_eq!(history["tests"]["gscn"]["tests::passes"]["runs"], 2);
    assert_eq!(
        history["tests"]["gscn"]["tests::panics"]["last_failed"],
        true
    );
    assert_eq!(
        history["tests"]["gscn"]["tests::passes"]["last_failed"],
        false
    );
}

#[test]
fn show_config_prints_the_effective_profile() {
    let sc = Scenario::new(&GSCN, "show_config_prints_the_effective_profile");
    let out = sc.gantry(&["show-config", "--profile", "maxfail2"]);
    out.assert_code(0);
    insta::assert_snapshot!("show_config_maxfail2", sc.redact(&out.stdout));

    let ci = sc.gantry(&["show-config", "--profile", "ci"]);
    ci.assert_code(0);
    assert!(ci.stdout.contains("[profile.ci]"), "{ci}");
    assert!(ci.stdout.lines().any(|l| l == "retries = 2"), "{ci}");
    assert!(ci.stdout.lines().any(|l| l == "fail-fast = false"), "{ci}");
}

#[test]
fn console_output_of_a_mixed_run() {
    let sc = Scenario::new(&GSCN, "console_output_of_a_mixed_run");
    let out = sc.run(&[
        "-j",
        "1",
        "--execution",
        "process",
        "--no-fail-fast",
        "--retries",
        "1",
        "-E",
        "binary_id(gscn) & test(/passes|fails_assert|flaky|ignored/)",
    ]);
    out.assert_code(100);
    let console = sc.redact(&out.gantry_stderr());
    insta::with_settings!({filters => CONSOLE_FILTERS.to_vec()}, {
        insta::assert_snapshot!("console_mixed_run", console);
    });
}
