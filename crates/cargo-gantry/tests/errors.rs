//! Every user-facing failure of `cargo gantry` with its exit code and
//! message: build and list failures, bad filters, profiles, tiers, config
//! values and command-line values, and the unknown-key warning.

mod support;

use support::{Output, Scenario, CONSOLE_FILTERS, GBADCFG, GBUILD, GLIST, GSCN, GWARN};

/// gantry's own lines of stderr (cargo's status lines dropped), with this
/// scenario's paths replaced.
fn messages(sc: &Scenario, out: &Output) -> String {
    sc.redact(&out.gantry_stderr())
}

/// Asserts that nothing was built: configuration, profile and filters are
/// checked first.
#[track_caller]
fn assert_not_built(sc: &Scenario, out: &Output) {
    assert!(
        !sc.target_dir().join("debug").exists() && !out.stderr.contains("Finished"),
        "gantry built before checking its arguments; {out}"
    );
}

#[test]
fn build_failure_exits_101_and_shows_cargo_errors() {
    let sc = Scenario::new(&GBUILD, "build_failure_exits_101_and_shows_cargo_errors");
    let out = sc.run(&[]);
    out.assert_code(101);
    assert!(
        out.stderr.contains("error[E0308]: mismatched types"),
        "cargo's error is shown; {out}"
    );
    assert!(out.stderr.contains("src/lib.rs:5:5"), "{out}");
    let last = out.stderr.lines().last().unwrap_or_default();
    insta::assert_snapshot!("build_failure", sc.redact(last));
    assert!(out.events.is_empty(), "no run started");
}

#[test]
fn no_tests_matched_exits_4_and_names_the_filter() {
    let sc = Scenario::new(&GSCN, "no_tests_matched_exits_4_and_names_the_filter");
    let out = sc.run(&["nonexistent_xyz", "-E", "kind(test)"]);
    out.assert_code(4);
    insta::assert_snapshot!("no_tests_matched", messages(&sc, &out));
    let out = sc.run(&["--run-ignored", "only", "--exact", "tests::passes"]);
    out.assert_code(4);
    assert!(
        out.stderr
            .contains("name equal to `tests::passes`, only ignored tests"),
        "{out}"
    );
}

#[test]
fn no_tests_matched_leaves_no_run_directory() {
    let sc = Scenario::new(&GSCN, "no_tests_matched_leaves_no_run_directory");
    let runs = sc.target_dir().join("gantry").join("runs");
    let ok = sc.run(&["alpha"]);
    ok.assert_code(0);
    sc.run(&["nonexistent_xyz"]).assert_code(4);
    let dirs: Vec<String> = std::fs::read_dir(&runs)
        .expect("runs directory")
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        dirs,
        [ok.run_id()],
        "a run that never started left a run directory"
    );
    assert_eq!(
        std::fs::read_link(runs.join("latest")).expect("latest"),
        std::path::PathBuf::from(ok.run_id()),
        "`latest` points at a run that never started"
    );
}

#[test]
fn invalid_filter_expression_exits_2_with_a_caret() {
    let sc = Scenario::new(&GSCN, "invalid_filter_expression_exits_2_with_a_caret");
    let mut text = String::new();
    for expr in ["test(/foo) & kind(lib)", "test(foo) &", "tset(foo)"] {
        let out = sc.run(&["-E", expr]);
        out.assert_code(2);
        assert_not_built(&sc, &out);
        text.push_str(&format!(
            "$ cargo gantry run -E '{expr}'\n{}",
            messages(&sc, &out)
        ));
    }
    insta::assert_snapshot!("invalid_filter_expression", text);
}

#[test]
fn unknown_profile_and_tier_exit_2() {
    let sc = Scenario::new(&GSCN, "unknown_profile_and_tier_exit_2");
    let profile = sc.run(&["--profile", "strcit"]);
    profile.assert_code(2);
    assert_not_built(&sc, &profile);
    let tier = sc.run(&["--tier", "smoek"]);
    tier.assert_code(2);
    assert_not_built(&sc, &tier);
    insta::assert_snapshot!(
        "unknown_profile_and_tier",
        format!("{}{}", messages(&sc, &profile), messages(&sc, &tier))
    );
}

#[test]
fn invalid_config_value_exits_2_with_file_and_line() {
    let sc = Scenario::new(&GBADCFG, "invalid_config_value_exits_2_with_file_and_line");
    let out = sc.run(&[]);
    out.assert_code(2);
    assert_not_built(&sc, &out);
    let list = sc.gantry(&["list"]);
    list.assert_code(2);
    let show = sc.gantry(&["show-config"]);
    show.assert_code(2);
    assert_eq!(messages(&sc, &list), messages(&sc, &out));
    assert_eq!(messages(&sc, &show), messages(&sc, &out));
    insta::assert_snapshot!("invalid_config_value", messages(&sc, &out));
}

#[test]
fn unknown_config_key_warns_and_the_run_continues() {
    let sc = Scenario::new(&GWARN, "unknown_config_key_warns_and_the_run_continues");
    let out = sc.run(&["-j", "1"]);
    out.assert_code(0);
    assert_eq!(out.closing_counts(), (1, 0, 0));
    insta::with_settings!({filters => CONSOLE_FILTERS.to_vec()}, {
        insta::assert_snapshot!("unknown_config_key", messages(&sc, &out));
    });
}

#[test]
fn test_binary_that_cannot_list_exits_104() {
    let sc = Scenario::new(&GLIST, "test_binary_that_cannot_list_exits_104");
    let out = sc.run(&[]);
    out.assert_code(104);
    assert!(out.events.is_empty(), "no run started");
    let list = sc.gantry(&["list"]);
    list.assert_code(104);
    insta::with_settings!({filters => CONSOLE_FILTERS.to_vec()}, {
        insta::assert_snapshot!("list_failed", messages(&sc, &out));
    });
}

#[test]
fn invalid_command_line_values_exit_2() {
    let sc = Scenario::new(&GSCN, "invalid_command_line_values_exit_2");
    let mut text = String::new();
    for args in [
        &["--partition", "slice:0/2"][..],
        &["--partition", "rows:1/2"],
        &["-j", "0"],
        &["--max-fail", "0"],
        &["--", "--bogus"],
        &["--execution", "sometimes"],
    ] {
        let out = sc.run(args);
        out.assert_code(2);
        assert_not_built(&sc, &out);
        let shown = messages(&sc, &out);
        // clap's own errors end with a usage hint; keep the first line.
        let first = shown.lines().next().unwrap_or_default();
        text.push_str(&format!("$ cargo gantry run {}\n{first}\n", args.join(" ")));
    }
    insta::assert_snapshot!("invalid_command_line_values", text);
}
