//! The steps that need no compiler: test/cover/leak through a fake gantry
//! executable, audit against a fixture advisory database, commit-format
//! on temporary git repositories, custom steps, timeouts, fail-fast, and
//! the plan `ci --list` shows.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{commit, config, context, fake_gantry, git, only, run_steps};
use gantry_ci::{plan, CiError, Progress, StepKind, StepSelection, StepStatus};

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn calls(root: &Path) -> Vec<String> {
    std::fs::read_to_string(root.join("calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn reason(status: &StepStatus) -> String {
    match status {
        StepStatus::Failed { reason } | StepStatus::Skipped { reason } => reason.clone(),
        other => format!("{other:?}"),
    }
}

#[test]
fn test_step_runs_gantry_per_tier_and_fails_when_a_tier_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        ".config/gantry.toml",
        "[tiers]\nfast = \"not test(/_slow$/)\"\nslow = \"test(/_slow$/)\"\n\n[ci.step.test]\ntiers = [\"fast\", \"slow\"]\n",
    );
    let gantry = fake_gantry(root);
    let mut ctx = context(root, &gantry);
    ctx.env
        .push(("FAKE_GANTRY_FAIL_ON".into(), "--tier slow".into()));
    let report = run_steps(root, &ctx, &["test"]);
    let step = only(&report);
    assert_eq!(
        calls(root),
        [
            "gantry run --tier fast --profile ci",
            "gantry run --tier slow --profile ci"
        ]
    );
    let why = reason(&step.status);
    assert!(
        why.contains("--tier slow --profile ci` failed with exit code 100"),
        "{why}"
    );
    assert!(step.log_tail(40).contains("0 passed, 1 failed"));
}

#[test]
fn leak_and_cover_steps_call_gantry_and_report_its_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        ".config/gantry.toml",
        "[profile.leak]\nretries = 0\n\n[cover]\n",
    );
    let gantry = fake_gantry(root);
    let mut ctx = context(root, &gantry);
    ctx.env
        .push(("FAKE_GANTRY_FAIL_ON".into(), "--profile leak".into()));
    // Both are in the default order because the config has [cover] and a
    // leak profile.
    let cfg = config(root);
    let names = cfg.step_names();
    assert!(
        names.contains(&"cover".to_string()) && names.contains(&"leak".to_string()),
        "{names:?}"
    );
    let report = run_steps(root, &ctx, &["cover", "leak"]);
    assert_eq!(
        calls(root),
        ["gantry cover --check", "gantry run --profile leak"]
    );
    assert_eq!(report.steps[0].name, "cover");
    assert_eq!(report.steps[0].status, StepStatus::Passed);
    assert_eq!(report.steps[1].name, "leak");
    assert!(reason(&report.steps[1].status).contains("exit code 100"));
    assert_eq!(report.failures().count(), 1);

    let mut ctx = context(root, &gantry);
    ctx.env
        .push(("FAKE_GANTRY_FAIL_ON".into(), "cover --check".into()));
    let report = run_steps(root, &ctx, &["cover"]);
    assert!(reason(&only(&report).status).contains("cover --check` failed with exit code 100"));
}

const LOCK: &str = r#"version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["smallvec", "ansi_term", "time"]

[[package]]
name = "smallvec"
version = "1.6.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "fe0f37c9e8f3c5a4a66ad655a93c74daac4ad00c441533bf5c6e7990bb42604e"

[[package]]
name = "ansi_term"
version = "0.12.1"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "time"
version = "0.1.45"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "local"
version = "0.1.0"
"#;

fn fixture_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/advisory-db")
}

#[test]
fn audit_fails_on_a_vulnerable_dependency_from_the_local_database() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "Cargo.lock", LOCK);
    write(
        root,
        ".config/gantry.toml",
        &format!("[ci]\nadvisory-db = \"{}\"\n", fixture_db().display()),
    );
    let ctx = context(root, &fake_gantry(root));
    let report = run_steps(root, &ctx, &["audit"]);
    let step = only(&report);
    assert_eq!(
        reason(&step.status),
        "1 vulnerable dependency in Cargo.lock"
    );
    assert_eq!(
        step.findings,
        ["RUSTSEC-2021-0003: smallvec 1.6.0: Buffer overflow in SmallVec::insert_many (fixed in >=0.6.14, <1.0.0 or >=1.6.1: run `cargo update -p smallvec@1.6.0`)"]
    );
    // Unmaintained crates warn; the withdrawn advisory for time is ignored.
    assert_eq!(step.notes.len(), 1, "{:?}", step.notes);
    assert!(step.notes[0].starts_with("RUSTSEC-2021-0139 [unmaintained]: ansi_term 0.12.1"));
    assert!(step
        .log_tail(40)
        .contains("checked 3 packages against 3 advisories"));

    // A fixed version passes; an ignored advisory is noted.
    write(root, "Cargo.lock", &LOCK.replace("1.6.0", "1.6.1"));
    assert_eq!(
        only(&run_steps(root, &ctx, &["audit"])).status,
        StepStatus::Passed
    );
    write(root, "Cargo.lock", LOCK);
    write(
        root,
        ".config/gantry.toml",
        &format!(
            "[ci.step.audit]\nadvisory-db = \"{}\"\nignore = [\"RUSTSEC-2021-0003\"]\n",
            fixture_db().display()
        ),
    );
    let report = run_steps(root, &ctx, &["audit"]);
    assert_eq!(only(&report).status, StepStatus::Passed);
    assert!(only(&report)
        .notes
        .iter()
        .any(|n| n.contains("RUSTSEC-2021-0003 is ignored")));
}

#[test]
fn audit_without_a_database_is_skipped_loudly_and_a_missing_one_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "Cargo.lock", LOCK);
    let ctx = context(root, &fake_gantry(root));
    let report = run_steps(root, &ctx, &["audit"]);
    let step = only(&report);
    let why = reason(&step.status);
    assert!(matches!(step.status, StepStatus::Skipped { .. }));
    assert!(why.contains("dependencies were NOT audited"), "{why}");
    assert!(why.contains("advisory-db = "), "{why}");

    write(
        root,
        ".config/gantry.toml",
        "[ci]\nadvisory-db = \"no/such/db\"\n",
    );
    let report = run_steps(root, &ctx, &["audit"]);
    let why = reason(&only(&report).status);
    assert!(matches!(only(&report).status, StepStatus::Failed { .. }));
    assert!(
        why.contains("no/such/db") && why.contains("does not exist"),
        "{why}"
    );

    std::fs::remove_file(root.join("Cargo.lock")).unwrap();
    write(
        root,
        ".config/gantry.toml",
        &format!("[ci]\nadvisory-db = \"{}\"\n", fixture_db().display()),
    );
    let why = reason(&only(&run_steps(root, &ctx, &["audit"])).status);
    assert!(why.contains("cargo generate-lockfile"), "{why}");
}

/// A repository with `main` and a feature branch of `messages`; returns
/// the short hashes of the branch's commits.
fn repo_with_branch(root: &Path, messages: &[&str]) -> Vec<String> {
    git(root, &["init", "-q"]);
    commit(root, "Initial commit\n");
    git(root, &["checkout", "-q", "-b", "feature"]);
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            write(root, &format!("f{i}.txt"), m);
            commit(root, m)
        })
        .collect()
}

#[test]
fn commit_format_names_each_bad_commit_and_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let long_title = "Make the scheduler hand out the longest tests first, always";
    let long_title = format!("{long_title}!!");
    assert_eq!(long_title.chars().count(), 61);
    let hashes = repo_with_branch(
        root,
        &[
            "Fine commit\n\nWith a body that is short.\n",
            &format!("{long_title}\n"),
            "Title\nno blank line\n",
            &format!(
                "Long body\n\n{}\nhttps://example.com/{}\n",
                "word ".repeat(16).trim(),
                "x".repeat(90)
            ),
        ],
    );
    let ctx = context(root, &fake_gantry(root));
    let report = run_steps(root, &ctx, &["commit-format"]);
    let step = only(&report);
    assert_eq!(reason(&step.status), "3 rule violations in 3 commits");
    assert_eq!(
        step.findings,
        [
            format!("commit {} \"{long_title}\": the title is 61 characters long; the limit is 60 (shorten it, move details to the body)", hashes[1]),
            format!("commit {} \"Title\": the second line is not blank (separate the title from the body with an empty line)", hashes[2]),
            format!("commit {} \"Long body\": body line 3 is 79 characters long; the limit is 75 (wrap it; only a line holding a single URL may be longer)", hashes[3]),
        ]
    );
    let base = git(root, &["rev-parse", "--short", "main"]);
    assert_eq!(
        step.notes,
        [format!(
            "checked 4 commits in {base}..HEAD (merge-base with main)"
        )]
    );

    // Signed-off-by, when configured, applies to every commit of the range.
    write(root, ".config/gantry.toml", "[ci]\nsigned-off-by = true\n");
    let mut ctx = ctx;
    ctx.base = Some("HEAD~1".into());
    let report = run_steps(root, &ctx, &["commit-format"]);
    let step = only(&report);
    assert_eq!(step.findings.len(), 2, "{:?}", step.findings);
    assert!(
        step.findings[1].contains("no `Signed-off-by:` line"),
        "{:?}",
        step.findings
    );
    assert!(
        step.notes[0].contains("checked 1 commit in"),
        "{:?}",
        step.notes
    );
}

#[test]
fn commit_format_checks_head_only_without_a_base() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    git(root, &["init", "-q", "-b", "trunk"]);
    commit(root, &format!("{}\n", "y".repeat(70)));
    let head = commit(root, "Short and fine\n");
    let ctx = context(root, &fake_gantry(root));
    let report = run_steps(root, &ctx, &["commit-format"]);
    let step = only(&report);
    assert_eq!(step.status, StepStatus::Passed, "{:?}", step.findings);
    assert!(
        step.notes[0].starts_with("checked HEAD only (no default branch found"),
        "{:?}",
        step.notes
    );

    commit(root, "Title\nbroken\n");
    let report = run_steps(root, &ctx, &["commit-format"]);
    assert_eq!(only(&report).findings.len(), 1);
    assert!(!only(&report).findings[0].contains(&head));
}

fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next();
            state != Some("Z")
        }
        Err(_) => false,
    }
}

#[test]
fn a_step_past_its_timeout_is_killed_with_its_process_group() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let pidfile = root.join("bg.pid");
    write(
        root,
        ".config/gantry.toml",
        &format!(
            "[ci]\nsteps = [\"slow\"]\n\n[ci.step.slow]\ncommand = \"sleep 30 & echo $! > {}; sleep 30\"\ntimeout = \"1s\"\n",
            pidfile.display()
        ),
    );
    let ctx = context(root, &fake_gantry(root));
    let start = Instant::now();
    let report = run_steps(root, &ctx, &["slow"]);
    let took = start.elapsed();
    let step = only(&report);
    assert_eq!(
        step.status,
        StepStatus::TimedOut {
            timeout: Duration::from_secs(1)
        }
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        step.findings[0].contains("killed with its process group"),
        "{:?}",
        step.findings
    );
    let bg: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The background sleep was in the step's group: it is gone too.
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(bg) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(bg), "background process {bg} survived the timeout");
    assert!(step.log_tail(5).contains("TIMED OUT"));
}

#[test]
fn custom_steps_get_their_env_and_respect_platforms() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        ".config/gantry.toml",
        "[ci]\nsteps = [\"check-env\", \"argv\", \"windows-only\"]\n\n[ci.step.check-env]\ncommand = 'test \"$GREETING\" = hello'\nenv = { GREETING = \"hello\" }\n\n[ci.step.argv]\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n\n[ci.step.windows-only]\ncommand = \"exit 1\"\nplatforms = [\"windows\"]\n",
    );
    let ctx = context(root, &fake_gantry(root));
    let report =
        gantry_ci::run(&config(root), &ctx, &StepSelection::default(), &mut |_| {}).unwrap();
    let statuses: Vec<_> = report
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status.label()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("check-env", "passed"),
            ("argv", "FAILED"),
            ("windows-only", "skipped")
        ]
    );
    assert!(reason(&report.steps[1].status).contains("exit code 3"));
    assert_eq!(
        reason(&report.steps[2].status),
        "runs only on windows (this is linux)"
    );
}

#[test]
fn the_run_goes_on_after_a_failure_unless_fail_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        ".config/gantry.toml",
        "[ci]\nsteps = [\"first\", \"second\"]\n\n[ci.step.first]\ncommand = \"false\"\n\n[ci.step.second]\ncommand = \"true\"\n",
    );
    let mut ctx = context(root, &fake_gantry(root));
    let mut seen = Vec::new();
    let report = gantry_ci::run(
        &config(root),
        &ctx,
        &StepSelection::default(),
        &mut |p| match p {
            Progress::StepStarted { index, total, name } => {
                seen.push(format!("start {index}/{total} {name}"))
            }
            Progress::StepFinished { result, .. } => {
                seen.push(format!("end {} {}", result.name, result.status.label()))
            }
            Progress::CommandStarted { command, .. } => seen.push(format!("cmd {command}")),
        },
    )
    .unwrap();
    assert_eq!(
        seen,
        [
            "start 0/2 first",
            "cmd sh -c false",
            "end first FAILED",
            "start 1/2 second",
            "cmd sh -c true",
            "end second passed"
        ]
    );
    assert!(!report.success());

    ctx.fail_fast = true;
    let report =
        gantry_ci::run(&config(root), &ctx, &StepSelection::default(), &mut |_| {}).unwrap();
    assert_eq!(
        report.steps[1].status,
        StepStatus::Skipped {
            reason: "not run: --fail-fast stopped the run after `first` failed".into()
        }
    );
}

#[test]
fn the_plan_lists_effective_steps_with_their_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        ".config/gantry.toml",
        "[tiers]\nfast = \"all()\"\n\n[ci]\nskip = [\"doc\"]\n\n[ci.step.clippy]\nfeatures = [[], \"all-features\"]\ntimeout = \"20m\"\n\n[ci.step.test]\ntiers = [\"fast\"]\n\n[ci.step.lint-sql]\ncommand = \"sqlfluff lint migrations\"\n",
    );
    let gantry = PathBuf::from("/opt/bin/cargo-gantry");
    let mut ctx = context(root, &gantry);
    ctx.cargo = "cargo".into();
    let cfg = config(root);
    let render = |steps: &[gantry_ci::PlannedStep]| {
        steps
            .iter()
            .map(|s| {
                let mut line = format!(
                    "{} ({}){}",
                    s.name,
                    humantime::format_duration(s.timeout),
                    s.skip
                        .as_ref()
                        .map_or(String::new(), |r| format!(" SKIPPED: {r}"))
                );
                for a in &s.actions {
                    line.push_str(&format!("\n    {a}"));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let selection = StepSelection {
        only: vec![],
        skip: vec!["commit-format".into()],
    };
    let steps = plan(&cfg, &ctx, &selection).unwrap();
    insta::assert_snapshot!("plan_default", render(&steps));

    let subset = plan(
        &cfg,
        &ctx,
        &StepSelection {
            only: vec!["doc,lint-sql".into(), "leak".into()],
            skip: vec![],
        },
    )
    .unwrap();
    // Naming a step runs it even if [ci] skip lists it; leak is built in.
    assert_eq!(
        subset
            .iter()
            .map(|s| (s.name.as_str(), s.kind, s.skip.is_none()))
            .collect::<Vec<_>>(),
        [
            ("doc", StepKind::Doc, true),
            ("lint-sql", StepKind::Custom, true),
            ("leak", StepKind::Leak, true)
        ]
    );

    let err = plan(
        &cfg,
        &ctx,
        &StepSelection {
            only: vec!["clipy".into()],
            skip: vec![],
        },
    )
    .unwrap_err();
    assert!(matches!(err, CiError::UnknownStep { .. }));
    assert_eq!(err.exit_code(), 2);
    insta::assert_snapshot!("unknown_step", err.to_string());
}

#[test]
fn a_builtin_left_out_of_steps_keeps_its_settings_when_named() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        ".config/gantry.toml",
        "[ci]\nsteps = [\"fmt\"]\n\n[ci.step.doc]\ntimeout = \"2m\"\n",
    );
    let ctx = context(root, &fake_gantry(root));
    let cfg = config(root);
    assert_eq!(cfg.step_names(), ["fmt"]);
    let steps = plan(
        &cfg,
        &ctx,
        &StepSelection {
            only: vec!["doc".into()],
            skip: vec![],
        },
    )
    .unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].timeout, Duration::from_secs(120));
}
