//! The cargo-based steps (fmt, clippy, build, doc) on tiny generated
//! projects: each is shown failing for the reason it exists, and passing
//! when that reason is absent.

mod common;

use common::{context, fake_gantry, only, project, run_steps};
use gantry_ci::StepStatus;

fn failed_reason(status: &StepStatus) -> &str {
    match status {
        StepStatus::Failed { reason } => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn fmt_fails_on_a_badly_formatted_file_and_shows_the_diff() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    project(
        root,
        "ci-fmt",
        "",
        &[("src/lib.rs", "pub fn f( )->u8{1}\n")],
    );
    let ctx = context(root, &fake_gantry(root));

    let report = run_steps(root, &ctx, &["fmt"]);
    let step = only(&report);
    let reason = failed_reason(&step.status);
    assert_eq!(
        reason,
        "`cargo fmt --all -- --check` failed with exit code 1"
    );
    assert!(!report.success());
    assert_eq!(report.exit_code(), 103);
    let log = step.log.as_ref().unwrap();
    assert_eq!(log, &root.join("target/gantry/ci/fmt.log"));
    let tail = step.log_tail(40);
    assert!(tail.contains("Diff in"), "{tail}");
    assert!(tail.contains("pub fn f() -> u8"), "{tail}");

    std::fs::write(root.join("src/lib.rs"), "pub fn f() -> u8 {\n    1\n}\n").unwrap();
    let report = run_steps(root, &ctx, &["fmt"]);
    assert_eq!(
        only(&report).status,
        StepStatus::Passed,
        "{}",
        only(&report).log_tail(40)
    );
}

#[test]
fn clippy_checks_every_feature_set_with_warnings_denied() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    project(
        root,
        "ci-clippy",
        "\n[features]\nextra = []\n",
        &[
            (
                "src/lib.rs",
                "//! Tiny.\n\n/// Length.\npub fn len(v: &[u8]) -> usize {\n    v.len()\n}\n\n/// Length, badly.\n#[cfg(feature = \"extra\")]\npub fn bad_len(v: &Vec<u8>) -> usize {\n    v.len()\n}\n",
            ),
            (
                ".config/gantry.toml",
                "[ci.step.clippy]\nfeatures = [[], [\"extra\"]]\n",
            ),
        ],
    );
    let ctx = context(root, &fake_gantry(root));
    let report = run_steps(root, &ctx, &["clippy"]);
    let step = only(&report);
    let reason = failed_reason(&step.status);
    // The default feature set is clean; only the `extra` set fails.
    assert!(reason.contains("--features extra"), "{reason}");
    assert_eq!(step.findings.len(), 1, "{:?}", step.findings);
    let log = std::fs::read_to_string(step.log.as_ref().unwrap()).unwrap();
    assert!(log.contains("ptr_arg") || log.contains("&Vec"), "{log}");
    assert_eq!(
        log.matches("\n$ ").count() + usize::from(log.starts_with("$ ")),
        2,
        "{log}"
    );
}

#[test]
fn doc_fails_on_a_broken_intra_doc_link() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    project(
        root,
        "ci-doc",
        "",
        &[(
            "src/lib.rs",
            "//! See [`Missing`] for details.\n\n/// One.\npub fn one() -> u8 {\n    1\n}\n",
        )],
    );
    let ctx = context(root, &fake_gantry(root));
    let report = run_steps(root, &ctx, &["doc"]);
    let step = only(&report);
    let reason = failed_reason(&step.status);
    assert!(
        reason.starts_with("`RUSTDOCFLAGS='-D warnings' cargo doc --workspace --no-deps` failed"),
        "{reason}"
    );
    let tail = step.log_tail(40);
    assert!(tail.contains("unresolved link to `Missing`"), "{tail}");

    std::fs::write(
        root.join("src/lib.rs"),
        "//! Fine.\n\n/// One.\npub fn one() -> u8 {\n    1\n}\n",
    )
    .unwrap();
    let report = run_steps(root, &ctx, &["doc"]);
    assert_eq!(only(&report).status, StepStatus::Passed);
}

#[test]
fn build_covers_debug_and_release_and_skips_targets_that_are_not_installed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let host = String::from_utf8(
        std::process::Command::new("rustc")
            .args(["--print", "host-tuple"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    project(
        root,
        "ci-build",
        "",
        &[
            (
                "src/lib.rs",
                "//! Breaks in release builds only.\n#[cfg(not(debug_assertions))]\ncompile_error!(\"broken in release\");\n",
            ),
            (
                ".config/gantry.toml",
                &format!("[ci.step.build]\ntargets = [\"{host}\", \"thumbv6m-none-eabi\"]\n"),
            ),
        ],
    );
    let ctx = context(root, &fake_gantry(root));
    let report = run_steps(root, &ctx, &["build"]);
    let step = only(&report);
    let reason = failed_reason(&step.status);
    assert!(
        reason.contains(&format!(
            "cargo build --workspace --release --target {host}"
        )),
        "{reason}"
    );
    assert_eq!(
        step.findings.len(),
        1,
        "the debug build passes: {:?}",
        step.findings
    );
    assert!(
        step.notes
            .iter()
            .any(|n| n.contains("`rustup target add thumbv6m-none-eabi`")),
        "{:?}",
        step.notes
    );
    let tail = step.log_tail(40);
    assert!(tail.contains("broken in release"), "{tail}");
}
