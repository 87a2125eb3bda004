//! Results directories and their merge: counts add up, one stream, one
//! JUnit file, one history, output found after the directories moved, and
//! duplicate tests, missing shards and unfinished shards reported.

use std::io::Write;
use std::path::{Path, PathBuf};

use gantry_ci::{merge, MergeProblem, ResultsDir};
use gantry_metadata::{
    AttemptResult, Event, EventEnvelope, Outcome, OutputPaths, RunSummary, SkipReason, TestId,
    TestStatus,
};

const BIN: &str = "demo::it";

fn id(name: &str) -> TestId {
    TestId {
        binary_id: BIN.into(),
        name: name.into(),
    }
}

struct Shard<'a> {
    partition: Option<&'a str>,
    finished: &'a [(&'a str, TestStatus, f64)],
    skipped: &'a [(&'a str, SkipReason)],
    complete: bool,
}

/// Writes a shard's results as the runner would: events.jsonl with output
/// files under logs/, then `finish`.
fn write_shard(dir: &Path, s: &Shard<'_>) -> ResultsDir {
    let rd = ResultsDir::create(dir).unwrap();
    let mut events = vec![EventEnvelope {
        elapsed_secs: 0.0,
        event: Event::RunStarted {
            format_version: 1,
            run_id: format!("run-{}", dir.file_name().unwrap().to_string_lossy()),
            profile: "ci".into(),
            selected: s.finished.len(),
            skipped: s.skipped.len(),
            jobs: 2,
        },
    }];
    let mut summary = RunSummary {
        run_id: "x".into(),
        wall_secs: 1.5,
        skipped: s.skipped.len(),
        ..Default::default()
    };
    for (name, reason) in s.skipped {
        events.push(EventEnvelope {
            elapsed_secs: 0.0,
            event: Event::TestSkipped {
                id: id(name),
                reason: *reason,
            },
        });
    }
    for (name, status, secs) in s.finished {
        let out = rd.logs_dir().join(format!("{name}.out"));
        std::fs::write(&out, format!("output of {name}\n")).unwrap();
        match status {
            TestStatus::Passed => summary.passed += 1,
            TestStatus::Failed => summary.failed += 1,
            TestStatus::Flaky => summary.flaky += 1,
            TestStatus::TimedOut => summary.timed_out += 1,
        }
        events.push(EventEnvelope {
            elapsed_secs: 0.5,
            event: Event::TestFinished {
                id: id(name),
                status: *status,
                attempts: 1,
                result: AttemptResult {
                    attempt: 1,
                    outcome: if status.is_failure() {
                        Outcome::Fail
                    } else {
                        Outcome::Pass
                    },
                    exit_code: Some(i32::from(status.is_failure()) * 101),
                    signal: None,
                    duration_secs: *secs,
                    cpu_secs: Some(secs / 2.0),
                    in_batch: false,
                    isolated: false,
                    message: status.is_failure().then(|| "panicked".to_string()),
                    output: OutputPaths {
                        stdout: Some(out.display().to_string()),
                        stderr: None,
                    },
                },
                failed_attempts: vec![],
            },
        });
    }
    summary.exit_code = if summary.failed > 0 { 100 } else { 0 };
    if s.complete {
        events.push(EventEnvelope {
            elapsed_secs: 1.5,
            event: Event::RunFinished { summary },
        });
    }
    let mut f = std::fs::File::create(rd.events_path()).unwrap();
    for e in &events {
        writeln!(f, "{}", serde_json::to_string(e).unwrap()).unwrap();
    }
    let info = rd.finish(s.partition).unwrap();
    assert_eq!(info.partition.as_deref(), s.partition);
    rd
}

const ALL: [&str; 7] = ["a", "b", "c", "d", "e", "f", "ignored_one"];

/// Skip events a shard writes for the tests it does not run.
fn others(mine: &[&str]) -> Vec<(&'static str, SkipReason)> {
    ALL.iter()
        .filter(|t| !mine.contains(t))
        .map(|t| {
            let reason = if *t == "ignored_one" {
                SkipReason::Ignored
            } else {
                SkipReason::Filtered
            };
            (*t, reason)
        })
        .collect()
}

#[test]
fn three_shards_merge_into_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("ci-machine");
    let specs: [&[(&str, TestStatus, f64)]; 3] = [
        &[
            ("a", TestStatus::Passed, 1.0),
            ("b", TestStatus::Failed, 2.0),
        ],
        &[
            ("c", TestStatus::Passed, 3.0),
            ("d", TestStatus::Flaky, 0.5),
        ],
        &[
            ("e", TestStatus::Passed, 0.1),
            ("f", TestStatus::TimedOut, 9.0),
        ],
    ];
    let mut per_shard = Vec::new();
    for (i, finished) in specs.iter().enumerate() {
        let names: Vec<&str> = finished.iter().map(|f| f.0).collect();
        let skipped = others(&names);
        let partition = format!("duration:{}/3", i + 1);
        write_shard(
            &first.join(format!("shard-{}", i + 1)),
            &Shard {
                partition: Some(&partition),
                finished,
                skipped: &skipped,
                complete: true,
            },
        );
        per_shard.push(
            serde_json::from_slice::<RunSummary>(
                &std::fs::read(first.join(format!("shard-{}/summary.json", i + 1))).unwrap(),
            )
            .unwrap(),
        );
    }
    // The merge job downloads the shards somewhere else.
    let moved = tmp.path().join("merge-job");
    std::fs::rename(&first, &moved).unwrap();
    let dirs: Vec<PathBuf> = [3, 1, 2]
        .iter()
        .map(|m| moved.join(format!("shard-{m}")))
        .collect();

    let merged = merge(&dirs).unwrap();
    assert!(merged.problems.is_empty(), "{:?}", merged.problems);
    let s = &merged.summary;
    let sum = |f: fn(&RunSummary) -> usize| per_shard.iter().map(f).sum::<usize>();
    assert_eq!(s.passed, sum(|r| r.passed));
    assert_eq!(s.failed, sum(|r| r.failed));
    assert_eq!(s.flaky, sum(|r| r.flaky));
    assert_eq!(s.timed_out, sum(|r| r.timed_out));
    assert_eq!((s.passed, s.failed, s.flaky, s.timed_out), (3, 1, 1, 1));
    // Partition-filtered tests ran elsewhere: only the ignored test is skipped.
    assert_eq!(s.skipped, 1);
    assert_eq!(s.closing_line(), "4 passed, 2 failed, 1 skipped");
    assert_eq!(s.exit_code, 100);
    assert_eq!(merged.exit_code(), 100);
    assert!((s.wall_secs - 1.5).abs() < 1e-9);
    // Shards come back in shard order.
    let order: Vec<_> = merged
        .shards
        .iter()
        .map(|(d, _)| d.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(order, ["shard-1", "shard-2", "shard-3"]);

    // One stream.
    let kinds: Vec<&str> = merged
        .events
        .iter()
        .map(|e| match &e.event {
            Event::RunStarted { .. } => "start",
            Event::RunFinished { .. } => "finish",
            Event::TestFinished { .. } => "test",
            Event::TestSkipped { .. } => "skip",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["start", "test", "test", "test", "test", "test", "test", "skip", "finish"]
    );

    let out = ResultsDir::new(moved.join("merged"));
    merged.write(&out).unwrap();
    let junit = std::fs::read_to_string(out.junit_path()).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 6, "{junit}");
    // Output paths were remapped to where the shards are now.
    assert!(junit.contains("output of b"), "{junit}");
    let events = out.read_events().unwrap();
    assert_eq!(events.len(), merged.events.len());
    let history = gantry_runner::schedule::History::load(&out.history_path());
    for name in ["a", "b", "c", "d", "e", "f"] {
        assert!(
            history.get(BIN, name).is_some(),
            "{name} missing from the history"
        );
    }
    assert!((history.get(BIN, "f").unwrap().duration_secs - 9.0).abs() < 1e-9);
    assert!(history.get(BIN, "b").unwrap().last_failed);
    let info = out.read_shard().unwrap().unwrap();
    assert_eq!(info.partition, None);
    let err = merged
        .write(&ResultsDir::new(&dirs[0]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is one of the shards being merged"), "{err}");
    assert!(ResultsDir::new(&dirs[0]).events_path().is_file());
}

#[test]
fn duplicate_tests_and_missing_shards_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let one = write_shard(
        &tmp.path().join("shard-1"),
        &Shard {
            partition: Some("duration:1/3"),
            finished: &[
                ("a", TestStatus::Passed, 1.0),
                ("dup", TestStatus::Passed, 1.0),
            ],
            skipped: &[],
            complete: true,
        },
    );
    let three = write_shard(
        &tmp.path().join("shard-3"),
        &Shard {
            partition: Some("duration:3/3"),
            finished: &[("dup", TestStatus::Failed, 1.0)],
            skipped: &[],
            complete: true,
        },
    );
    let merged = merge(&[one.root().to_path_buf(), three.root().to_path_buf()]).unwrap();
    assert_eq!(merged.problems.len(), 2, "{:?}", merged.problems);
    assert!(matches!(
        &merged.problems[0],
        MergeProblem::MissingShard { shard: 2, total: 3 }
    ));
    let MergeProblem::DuplicateTest { test, shards } = &merged.problems[1] else {
        panic!("{:?}", merged.problems);
    };
    assert_eq!(test.name, "dup");
    assert_eq!(shards.len(), 2);
    let text = merged.problems[1].to_string();
    assert!(
        text.starts_with("test `demo::it dup` ran in 2 shards"),
        "{text}"
    );
    assert!(merged.problems[0]
        .to_string()
        .starts_with("shard 2/3 is missing"));
    // Counted once, with its worst status.
    assert_eq!((merged.summary.passed, merged.summary.failed), (1, 1));

    // Without failures, problems alone make the merge fail with 2.
    let clean = write_shard(
        &tmp.path().join("again-1"),
        &Shard {
            partition: Some("hash:1/2"),
            finished: &[("a", TestStatus::Passed, 1.0)],
            skipped: &[],
            complete: true,
        },
    );
    let merged = merge(&[clean.root().to_path_buf()]).unwrap();
    assert_eq!(merged.summary.exit_code, 0);
    assert_eq!(merged.exit_code(), 2);
    assert_eq!(
        merged.problems,
        [MergeProblem::MissingShard { shard: 2, total: 2 }]
    );
}

#[test]
fn repeated_mismatched_and_unfinished_shards_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let mk = |name: &str, partition: &'static str, test: &'static str, complete: bool| {
        write_shard(
            &tmp.path().join(name),
            &Shard {
                partition: Some(partition),
                finished: Box::leak(Box::new([(test, TestStatus::Passed, 0.2)])),
                skipped: &[],
                complete,
            },
        )
        .root()
        .to_path_buf()
    };
    let dirs = vec![
        mk("s1", "duration:1/2", "a", true),
        mk("s1-again", "duration:1/2", "b", true),
        mk("s2", "duration:2/2", "c", false),
        mk("odd", "duration:1/4", "d", true),
    ];
    let merged = merge(&dirs).unwrap();
    let texts: Vec<String> = merged.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(merged.problems.len(), 3, "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("is shard `duration:1/4`, but the other shards are out of 2")),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("shard `1/2` appears 2 times")),
        "{texts:#?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("no run-finished event")),
        "{texts:#?}"
    );
}

#[test]
fn results_dirs_are_reset_and_explain_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let rd = write_shard(
        &dir,
        &Shard {
            partition: None,
            finished: &[("a", TestStatus::Passed, 1.0)],
            skipped: &[],
            complete: true,
        },
    );
    for p in [
        rd.events_path(),
        rd.junit_path(),
        rd.history_path(),
        rd.shard_path(),
        rd.summary_path(),
    ] {
        assert!(p.is_file(), "{p:?}");
    }
    assert!(rd.logs_dir().join("a.out").is_file());
    let info = rd.read_shard().unwrap().unwrap();
    assert_eq!(
        info.results_dir,
        dir.canonicalize().unwrap().display().to_string()
    );

    let again = ResultsDir::create(&dir).unwrap();
    assert!(!again.events_path().exists() && !again.shard_path().exists());
    assert!(again.logs_dir().is_dir() && !again.logs_dir().join("a.out").exists());

    let err = merge(std::slice::from_ref(&dir)).unwrap_err().to_string();
    assert!(err.contains("there is no events.jsonl"), "{err}");
    // Next to shards with results, it is a reported problem instead.
    let other = write_shard(
        &tmp.path().join("other"),
        &Shard {
            partition: None,
            finished: &[("b", TestStatus::Passed, 1.0)],
            skipped: &[],
            complete: true,
        },
    );
    let merged = merge(&[dir.clone(), other.root().to_path_buf()]).unwrap();
    assert_eq!(merged.summary.passed, 1);
    assert_eq!(merged.problems.len(), 1, "{:?}", merged.problems);
    assert!(merged.problems[0]
        .to_string()
        .contains("there is no events.jsonl"));
    assert_eq!(merged.exit_code(), 2);
    let err = merge(&[]).unwrap_err().to_string();
    assert!(err.contains("no results directories"), "{err}");
    let err = merge(&[tmp.path().join("nope")]).unwrap_err().to_string();
    assert!(err.contains("no such directory"), "{err}");
}
