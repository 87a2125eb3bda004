//! Every kind of config error, with the message users see.

mod common;

use common::{err, ok, parse};
use gantry_config::{ConfigError, GantryConfig};

#[test]
fn syntax_error() {
    insta::assert_snapshot!(err(r#"
[profile.default]
retries =
"#), @".config/gantry.toml:2:10: invalid TOML: string values must be quoted, expected literal string");
    let e = parse("[profile.default]\nretries = 1\nretries = 2\n").unwrap_err();
    assert!(matches!(e, ConfigError::Syntax { line: 3, .. }), "{e:?}");
}

#[test]
fn io_error() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be cannot be read as text.
    std::fs::create_dir_all(dir.path().join(".config/gantry.toml")).unwrap();
    let e = GantryConfig::load(dir.path()).unwrap_err();
    let ConfigError::Io { path, .. } = &e else {
        panic!("expected an Io error, got {e:?}")
    };
    assert_eq!(path, &dir.path().join(".config/gantry.toml"));
    let message = e
        .to_string()
        .replace(&dir.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!(message, @"[TMP]/.config/gantry.toml: cannot read the config file: Is a directory (os error 21)");
}

#[test]
fn invalid_duration() {
    insta::assert_snapshot!(err(r#"
[profile.default]
retries = 1
fail-fast = true
slow-timeout = "6x"
"#), @r#".config/gantry.toml:4:16: profile.default.slow-timeout: invalid duration "6x" (expected a duration such as "30s", "2m" or "1h 30m")"#);
    insta::assert_snapshot!(err("[profile.default]\ngrace-period = 10\n"), @r#".config/gantry.toml:2:16: profile.default.grace-period: expected a duration string, found the number 10 (durations need a unit: write "10s" for 10 seconds)"#);
    insta::assert_snapshot!(err("[profile.default]\nslow-timeout = \"0s\"\n"), @r#".config/gantry.toml:2:16: profile.default.slow-timeout: the duration must be greater than zero (use e.g. "100ms" or "1s")"#);
    insta::assert_snapshot!(err("[profile.default]\nslow-timeout = true\n"), @r#".config/gantry.toml:2:16: profile.default.slow-timeout: expected a duration string, found a boolean (expected a duration such as "30s", "2m" or "1h 30m")"#);
}

#[test]
fn invalid_numbers() {
    insta::assert_snapshot!(err("[profile.default]\njobs = 0\n"), @r#".config/gantry.toml:2:8: profile.default.jobs: expected a positive integer or "auto", found 0"#);
    insta::assert_snapshot!(err("[profile.default]\njobs = \"many\"\n"), @r#".config/gantry.toml:2:8: profile.default.jobs: expected a positive integer or "auto", found "many""#);
    insta::assert_snapshot!(err("[profile.default]\nretries = -1\n"), @".config/gantry.toml:2:11: profile.default.retries: expected a non-negative integer, found -1");
    insta::assert_snapshot!(err("[profile.default]\nretries = \"2\"\n"), @".config/gantry.toml:2:11: profile.default.retries: expected a non-negative integer, found a string");
    insta::assert_snapshot!(err("[profile.default]\nterminate-after = 0\n"), @".config/gantry.toml:2:19: profile.default.terminate-after: expected a positive integer, found 0");
    insta::assert_snapshot!(err("[profile.default]\nmax-fail = 0\n"), @".config/gantry.toml:2:12: profile.default.max-fail: expected a positive integer, found 0");
}

#[test]
fn invalid_choices_and_types() {
    insta::assert_snapshot!(err("[profile.default]\nexecution = \"proces\"\n"), @r#".config/gantry.toml:2:13: profile.default.execution: invalid execution mode "proces" (expected one of "process", "batch", "auto"; did you mean "process"?)"#);
    insta::assert_snapshot!(err("[profile.default]\nexecution = \"serial\"\n"), @r#".config/gantry.toml:2:13: profile.default.execution: invalid execution mode "serial" (expected one of "process", "batch", "auto")"#);
    insta::assert_snapshot!(err("[profile.default]\nfailure-output = 1\n"), @r#".config/gantry.toml:2:18: profile.default.failure-output: expected failure output string, found an integer (expected one of "immediate", "final", "immediate-final", "never")"#);
    insta::assert_snapshot!(err("[profile.default]\nfail-fast = \"yes\"\n"), @".config/gantry.toml:2:13: profile.default.fail-fast: expected `true` or `false`, found a string");
    insta::assert_snapshot!(err("[profile.default]\njunit = \"\"\n"), @r#".config/gantry.toml:2:9: profile.default.junit: the path is empty (give a file path such as "target/gantry/junit.xml", or `false` for no JUnit report)"#);
    insta::assert_snapshot!(err("[profile.default]\njunit = true\n"), @".config/gantry.toml:2:9: profile.default.junit: expected a path string or `false`, found a boolean");
    insta::assert_snapshot!(err("[profile.default]\nwrapper = \"valgrind\"\n"), @".config/gantry.toml:2:11: profile.default.wrapper: expected an array of strings, found a string");
    insta::assert_snapshot!(err("[profile.default]\nwrapper = [\"\", \"-x\"]\n"), @r#".config/gantry.toml:2:11: profile.default.wrapper: the wrapper program is an empty string (write e.g. ["valgrind", "--error-exitcode=1"], or [] for no wrapper)"#);
    insta::assert_snapshot!(err("[profile.default]\nwrapper = [\"valgrind\", 1]\n"), @".config/gantry.toml:2:24: profile.default.wrapper[1]: expected a string, found an integer");
    insta::assert_snapshot!(err("profile = 3\n"), @".config/gantry.toml:1:11: profile: expected a table, found an integer");
    insta::assert_snapshot!(err("[profile]\ndefault = 3\n"), @".config/gantry.toml:2:11: profile.default: expected a table, found an integer");
}

#[test]
fn contradicting_fail_fast_and_max_fail() {
    insta::assert_snapshot!(err("[profile.ci]\nfail-fast = false\nmax-fail = 3\n"), @".config/gantry.toml:3:12: profile.ci.max-fail: max-fail = 3 contradicts fail-fast = false (max-fail sets how many failures stop the run; remove one of the two)");
}

#[test]
fn inheritance_errors() {
    insta::assert_snapshot!(err("[profile.default]\ninherits = \"ci\"\n"), @".config/gantry.toml:2:12: profile.default.inherits: the default profile cannot inherit from another profile (`default` is the root every profile inherits from; remove `inherits` here)");
    insta::assert_snapshot!(err(r#"
[profile.nightly]
inherits = "nigthly-base"

[profile.nightly-base]
"#), @".config/gantry.toml:2:12: profile.nightly.inherits: unknown profile `nigthly-base` (did you mean `nightly-base`?)");
    insta::assert_snapshot!(err("[profile.x]\ninherits = \"nope\"\n"), @".config/gantry.toml:2:12: profile.x.inherits: unknown profile `nope` (known profiles: ci, default, x)");
    insta::assert_snapshot!(err(r#"
[profile.a]
inherits = "b"

[profile.b]
inherits = "a"
"#), @".config/gantry.toml:5:12: profile.b.inherits: inheritance cycle: a -> b -> a (remove `inherits` from one of these profiles; every chain must end at `default`)");
    insta::assert_snapshot!(err("[profile.loop]\ninherits = \"loop\"\n"), @".config/gantry.toml:2:12: profile.loop.inherits: inheritance cycle: loop -> loop (remove `inherits` from one of these profiles; every chain must end at `default`)");
}

#[test]
fn override_errors() {
    insta::assert_snapshot!(err(r#"
[[profile.default.overrides]]
retries = 2
"#), @r#".config/gantry.toml:1:1: profile.default.overrides[0]: missing required key `filter` (an override applies to the tests its filter selects, e.g. filter = "test(/reconnect/)")"#);
    insta::assert_snapshot!(err(r#"
[test-groups.serial]
max-threads = 1

[[profile.default.overrides]]
filter = "test(db)"
test-group = "serail"
"#), @".config/gantry.toml:6:14: profile.default.overrides[0].test-group: unknown test group `serail` (did you mean `serial`?)");
    insta::assert_snapshot!(err(r#"
[[profile.default.overrides]]
filter = "test(db)"
test-group = "serial"
"#), @".config/gantry.toml:3:14: profile.default.overrides[0].test-group: unknown test group `serial` (declare it with `[test-groups.serial]` and `max-threads = 1`)");
    insta::assert_snapshot!(err(r#"
[[profile.default.overrides]]
filter = "test(db)"
threads-required = 0
"#), @r#".config/gantry.toml:3:20: profile.default.overrides[0].threads-required: expected a positive integer or "num-cpus", found 0"#);
    insta::assert_snapshot!(err(r#"
[[profile.default.overrides]]
filter = "test(db)"
threads-required = "all"
"#), @r#".config/gantry.toml:3:20: profile.default.overrides[0].threads-required: expected a positive integer or "num-cpus", found "all""#);
    insta::assert_snapshot!(err("[profile.default]\noverrides = 1\n"), @".config/gantry.toml:2:13: profile.default.overrides: expected an array of tables (`[[profile.NAME.overrides]]`), found an integer");
}

#[test]
fn invalid_filters_show_the_caret_message() {
    insta::assert_snapshot!(err(r#"
[profile.default]
retries = 1

[[profile.default.overrides]]
filter = "package(echo-client) & tset(/reconnect/)"
retries = 2
"#), @r#"
        .config/gantry.toml:5:34: profile.default.overrides[0].filter: invalid filter expression: unknown predicate `tset`; expected one of test, package, binary, binary_id, kind, all, none
          package(echo-client) & tset(/reconnect/)
                                 ^
        "#);
    insta::assert_snapshot!(err(r#"
[tiers]
tier1 = "kind(lib"
"#), @r#"
        .config/gantry.toml:2:18: tiers.tier1: invalid filter expression: expected `)`
          kind(lib
                  ^
        "#);
    insta::assert_snapshot!(err("[tiers]\nslow = 1\n"), @".config/gantry.toml:2:8: tiers.slow: expected a filter expression string, found an integer");
    // The column is that of the offending character ...
    let e = parse("[tiers]\ntier1 = \"kind(lib\"\n").unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::InvalidFilter {
                line: 2,
                column: 18,
                ..
            }
        ),
        "{e:?}"
    );
    let e = parse("[tiers]\ntier1 = 'kind(lib'\n").unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::InvalidFilter {
                line: 2,
                column: 18,
                ..
            }
        ),
        "{e:?}"
    );
    // ... unless escapes make the source differ from the expression.
    let e = parse("[tiers]\ntier1 = \"kind(\\u006C)x\"\n").unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::InvalidFilter {
                line: 2,
                column: 9,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn test_group_errors() {
    insta::assert_snapshot!(err("[test-groups.serial]\n"), @".config/gantry.toml:1:1: test-groups.serial: missing required key `max-threads` (say how many tests of the group may run at once, e.g. max-threads = 1)");
    insta::assert_snapshot!(err("[test-groups.serial]\nmax-threads = 0\n"), @".config/gantry.toml:2:15: test-groups.serial.max-threads: expected a positive integer, found 0");
    insta::assert_snapshot!(err("[test-groups]\nserial = 1\n"), @".config/gantry.toml:2:10: test-groups.serial: expected a table, found an integer");
}

#[test]
fn unknown_profile() {
    let config = ok("[profile.nightly]\n[profile.quick]\n");
    let e = config.profile("nigthly").unwrap_err();
    assert!(matches!(&e, ConfigError::UnknownProfile { known, .. } if known.len() == 4));
    insta::assert_snapshot!(e, @"unknown profile `nigthly` (did you mean `nightly`?); known profiles: ci, default, nightly, quick (define `[profile.nigthly]` in .config/gantry.toml to add it)");
    insta::assert_snapshot!(config.profile("release").unwrap_err(), @"unknown profile `release`; known profiles: ci, default, nightly, quick (define `[profile.release]` in .config/gantry.toml to add it)");
}

#[test]
fn unknown_tier() {
    let config = ok("[tiers]\ntier1 = \"kind(lib)\"\nslow = \"test(/_slow$/)\"\n");
    insta::assert_snapshot!(config.tier("tier2").unwrap_err(), @"unknown tier `tier2` (did you mean `tier1`?); known tiers: slow, tier1 (tiers are declared in the `[tiers]` table of .config/gantry.toml)");
    insta::assert_snapshot!(config.tier("fast").unwrap_err(), @"unknown tier `fast`; known tiers: slow, tier1 (tiers are declared in the `[tiers]` table of .config/gantry.toml)");
    insta::assert_snapshot!(ok("").tier("tier1").unwrap_err(), @r#"unknown tier `tier1`; no tiers are defined (declare them in the `[tiers]` table of .config/gantry.toml, e.g. `tier1 = "kind(lib)"`)"#);
}
