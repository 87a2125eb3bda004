//! End-to-end tests of `cargo gantry cover` on a generated project: the
//! ratchet's exit codes and messages, as CI sees them.

mod support;

use support::{Scenario, GCOV, GCOVKILL};

/// Rewrites the recorded score of this machine's architecture.
fn set_score(path: &std::path::Path, score: f64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("lines = ") {
            out.push_str(&format!("lines = {score:.2}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn the_ratchet_fails_on_a_drop_and_on_an_unrecorded_rise_slow() {
    let sc = Scenario::new(
        &GCOV,
        "the_ratchet_fails_on_a_drop_and_on_an_unrecorded_rise_slow",
    );
    let ratchet = sc.project.join(".config/gantry-coverage.toml");
    let _ = std::fs::remove_file(&ratchet);

    let out = sc.gantry(&["cover", "--check"]);
    out.assert_code(103);
    assert!(
        out.stderr.contains("no coverage score recorded")
            && out.stderr.contains("cargo gantry cover --update"),
        "{out}"
    );
    // Only `double` and the test run: 2 of the 3 functions are covered.
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("coverage: lines ") && l.contains("functions 66.67% (2/3)")),
        "{out}"
    );

    sc.gantry(&["cover", "--update"]).assert_code(0);
    let recorded = std::fs::read_to_string(&ratchet).unwrap();
    assert!(
        recorded.contains(&format!("[{}]", std::env::consts::ARCH)),
        "{recorded}"
    );
    sc.gantry(&["cover", "--check"]).assert_code(0);

    set_score(&ratchet, 99.0);
    let out = sc.gantry(&["cover", "--check"]);
    out.assert_code(103);
    assert!(
        out.stderr.contains("line coverage fell from 99.00% to "),
        "{out}"
    );
    let out = sc.gantry(&["cover", "--update"]);
    assert_ne!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("refusing to lower"), "{out}");

    set_score(&ratchet, 10.0);
    let out = sc.gantry(&["cover", "--check"]);
    out.assert_code(103);
    assert!(
        out.stderr.contains("line coverage rose from 10.00% to ")
            && out.stderr.contains("cargo gantry cover --update"),
        "{out}"
    );
    sc.gantry(&["cover", "--update"]).assert_code(0);
    sc.gantry(&["cover", "--check"]).assert_code(0);
    std::fs::remove_file(&ratchet).unwrap();
}

#[test]
fn a_fixture_killed_with_sigkill_is_named_in_a_warning_slow() {
    let sc = Scenario::new(
        &GCOVKILL,
        "a_fixture_killed_with_sigkill_is_named_in_a_warning_slow",
    );
    let out = sc.gantry(&["cover"]);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("fixture `stubborn` had to be killed with SIGKILL, so its coverage is lost"),
        "{out}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("coverage: lines ")),
        "{out}"
    );
}
