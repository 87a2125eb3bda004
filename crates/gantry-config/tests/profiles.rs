//! Profiles: defaults, every key, inheritance, built-ins and overrides.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{ok, PATH};
use gantry_config::{GantryConfig, Jobs, ResolvedProfile, ThreadsRequired};
use gantry_filter::{FilterExpr, TestQuery};
use gantry_metadata::{ExecutionMode, FailureOutput};

fn builtin_default() -> ResolvedProfile {
    ResolvedProfile {
        name: "default".into(),
        jobs: Jobs::Auto,
        execution: ExecutionMode::Auto,
        retries: 0,
        slow_timeout: Duration::from_secs(60),
        terminate_after: None,
        grace_period: Duration::from_secs(10),
        fail_fast: true,
        max_fail: None,
        flaky_fails: false,
        failure_output: FailureOutput::Final,
        junit: None,
        wrapper: None,
        overrides: vec![],
    }
}

#[test]
fn no_file_means_builtin_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let config = GantryConfig::load(dir.path()).unwrap();
    assert_eq!(config.path(), None);
    assert!(config.warnings().is_empty());
    assert_eq!(config.profile_names(), ["ci", "default"]);
    assert_eq!(config.profile("default").unwrap(), builtin_default());
    assert!(config.tiers().is_empty());
    assert!(config.test_groups().is_empty());
    assert!(config.fixtures().is_empty());
    assert!(config.raw_section("database").is_none());

    let ci = config.profile("ci").unwrap();
    assert_eq!(
        ci,
        ResolvedProfile {
            name: "ci".into(),
            retries: 2,
            fail_fast: false,
            failure_output: FailureOutput::ImmediateFinal,
            junit: Some(PathBuf::from("target/gantry/ci/junit.xml")),
            ..builtin_default()
        }
    );
    assert_eq!(ci.stop_after_failures(), None);
    assert_eq!(
        config.profile("default").unwrap().stop_after_failures(),
        Some(1)
    );
}

#[test]
fn empty_file_is_the_defaults() {
    let config = ok("");
    assert_eq!(config.path(), Some(std::path::Path::new(PATH)));
    assert_eq!(config.profile("default").unwrap(), builtin_default());
}

#[test]
fn load_reads_the_file_under_dot_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".config")).unwrap();
    let path = dir.path().join(".config/gantry.toml");
    std::fs::write(&path, "[profile.default]\nretries = 4\n").unwrap();
    let config = GantryConfig::load(dir.path()).unwrap();
    assert_eq!(config.path(), Some(path.as_path()));
    assert_eq!(config.profile("default").unwrap().retries, 4);
}

#[test]
fn every_profile_key() {
    let config = ok(r#"
[profile.default]
jobs = 3
execution = "batch"
retries = 1
slow-timeout = "1m 30s"
terminate-after = 3
grace-period = "500ms"
fail-fast = true
max-fail = 5
flaky-fails = true
failure-output = "immediate"
junit = "target/gantry/junit.xml"
wrapper = ["valgrind", "--error-exitcode=1"]
"#);
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    assert_eq!(
        config.profile("default").unwrap(),
        ResolvedProfile {
            name: "default".into(),
            jobs: Jobs::Fixed(3),
            execution: ExecutionMode::Batch,
            retries: 1,
            slow_timeout: Duration::from_secs(90),
            terminate_after: Some(3),
            grace_period: Duration::from_millis(500),
            // max-fail replaces fail-fast's limit of one.
            fail_fast: false,
            max_fail: Some(5),
            flaky_fails: true,
            failure_output: FailureOutput::Immediate,
            junit: Some("target/gantry/junit.xml".into()),
            wrapper: Some(vec!["valgrind".into(), "--error-exitcode=1".into()]),
            overrides: vec![],
        }
    );
    assert_eq!(
        config.profile("default").unwrap().stop_after_failures(),
        Some(5)
    );
}

#[test]
fn enum_spellings() {
    for (text, mode) in [
        ("process", ExecutionMode::Process),
        ("batch", ExecutionMode::Batch),
        ("auto", ExecutionMode::Auto),
    ] {
        let config = ok(&format!("[profile.default]\nexecution = \"{text}\"\n"));
        assert_eq!(config.profile("default").unwrap().execution, mode);
    }
    for (text, out) in [
        ("immediate", FailureOutput::Immediate),
        ("final", FailureOutput::Final),
        ("immediate-final", FailureOutput::ImmediateFinal),
        ("never", FailureOutput::Never),
    ] {
        let config = ok(&format!("[profile.default]\nfailure-output = \"{text}\"\n"));
        assert_eq!(config.profile("default").unwrap().failure_output, out);
    }
    let config = ok("[profile.default]\njobs = \"auto\"\n[profile.two]\njobs = 2\n");
    assert_eq!(config.profile("default").unwrap().jobs, Jobs::Auto);
    assert_eq!(config.profile("two").unwrap().jobs, Jobs::Fixed(2));
    assert_eq!(Jobs::Auto.get(8), 8);
    assert_eq!(Jobs::Fixed(2).get(8), 2);
}

#[test]
fn user_profiles_inherit_from_default() {
    let config = ok(r#"
[profile.default]
retries = 1
slow-timeout = "10s"

[profile.quick]
slow-timeout = "2s"
"#);
    let quick = config.profile("quick").unwrap();
    assert_eq!(quick.name, "quick");
    assert_eq!(quick.retries, 1);
    assert_eq!(quick.slow_timeout, Duration::from_secs(2));
    assert_eq!(config.profile_names(), ["ci", "default", "quick"]);
}

#[test]
fn inherits_chain_applies_from_the_root_down() {
    let config = ok(r#"
[profile.default]
retries = 1
jobs = 8

[profile.base]
retries = 3
slow-timeout = "5s"

[profile.mid]
inherits = "base"
slow-timeout = "6s"

[profile.leaf]
inherits = "mid"
jobs = 1
"#);
    let leaf = config.profile("leaf").unwrap();
    assert_eq!(leaf.jobs, Jobs::Fixed(1));
    assert_eq!(leaf.retries, 3);
    assert_eq!(leaf.slow_timeout, Duration::from_secs(6));
    let base = config.profile("base").unwrap();
    assert_eq!(base.jobs, Jobs::Fixed(8));
    assert_eq!(base.slow_timeout, Duration::from_secs(5));
}

#[test]
fn builtin_ci_sits_between_file_default_and_file_ci() {
    let config = ok(r#"
[profile.default]
retries = 1
failure-output = "never"
jobs = 3

[profile.ci]
junit = "out/ci.xml"
"#);
    let ci = config.profile("ci").unwrap();
    // Built-in ci values beat the file's default ...
    assert_eq!(ci.retries, 2);
    assert_eq!(ci.failure_output, FailureOutput::ImmediateFinal);
    // ... the file's default beats the built-in default ...
    assert_eq!(ci.jobs, Jobs::Fixed(3));
    // ... and the file's ci beats everything.
    assert_eq!(ci.junit, Some(PathBuf::from("out/ci.xml")));
}

#[test]
fn profiles_inheriting_ci_get_the_ci_builtins() {
    let config = ok(r#"
[profile.nightly]
inherits = "ci"
retries = 5
"#);
    let nightly = config.profile("nightly").unwrap();
    assert_eq!(nightly.retries, 5);
    assert!(!nightly.fail_fast);
    assert_eq!(
        nightly.junit,
        Some(PathBuf::from("target/gantry/ci/junit.xml"))
    );
    // A profile not descending from ci does not get them.
    let config = ok("[profile.local]\nretries = 5\n");
    assert!(config.profile("local").unwrap().fail_fast);
    assert_eq!(config.profile("local").unwrap().junit, None);
}

#[test]
fn ci_may_inherit_from_a_user_profile() {
    let config = ok(r#"
[profile.strict]
retries = 0
flaky-fails = true

[profile.ci]
inherits = "strict"
"#);
    let ci = config.profile("ci").unwrap();
    // strict comes after the built-in ci layer, so its retries win.
    assert_eq!(ci.retries, 0);
    assert!(ci.flaky_fails);
    assert!(!ci.fail_fast);
}

#[test]
fn fail_fast_and_max_fail_are_decided_by_the_last_layer() {
    let config = ok(r#"
[profile.default]
max-fail = 3

[profile.all]
fail-fast = false

[profile.again]
inherits = "all"
max-fail = 10

[profile.strict]
inherits = "again"
fail-fast = true
"#);
    let default = config.profile("default").unwrap();
    assert_eq!((default.fail_fast, default.max_fail), (false, Some(3)));
    assert_eq!(default.stop_after_failures(), Some(3));
    let strict = config.profile("strict").unwrap();
    assert_eq!((strict.fail_fast, strict.max_fail), (true, None));
    assert_eq!(strict.stop_after_failures(), Some(1));
    let all = config.profile("all").unwrap();
    assert_eq!((all.fail_fast, all.max_fail), (false, None));
    assert_eq!(all.stop_after_failures(), None);
    assert_eq!(
        config.profile("again").unwrap().stop_after_failures(),
        Some(10)
    );
    // ci's built-in fail-fast = false clears the file default's max-fail.
    assert_eq!(config.profile("ci").unwrap().stop_after_failures(), None);
}

#[test]
fn junit_false_and_empty_wrapper_unset_inherited_values() {
    let config = ok(r#"
[profile.default]
wrapper = ["valgrind"]

[profile.ci]
junit = false
wrapper = []
"#);
    let ci = config.profile("ci").unwrap();
    assert_eq!(ci.junit, None);
    assert_eq!(ci.wrapper, None);
    assert_eq!(
        config.profile("default").unwrap().wrapper,
        Some(vec!["valgrind".into()])
    );
}

const OVERRIDES: &str = r#"
[test-groups.serial]
max-threads = 1

[profile.default]
retries = 1

[[profile.default.overrides]]
filter = "package(echo-client) & test(/reconnect/)"
retries = 2
slow-timeout = "5m"
terminate-after = 2
grace-period = "1s"
execution = "process"
test-group = "serial"
threads-required = 2
wrapper = ["valgrind"]

[[profile.default.overrides]]
filter = "package(echo-client)"
retries = 7
threads-required = "num-cpus"
execution = "batch"

[profile.ci]

[[profile.ci.overrides]]
filter = "test(/reconnect/)"
retries = 9
wrapper = []

[profile.nightly]
inherits = "ci"

[[profile.nightly.overrides]]
filter = "all()"
slow-timeout = "1h"
"#;

fn test<'a>(package: &'a str, name: &'a str) -> TestQuery<'a> {
    TestQuery {
        package,
        binary_id: package,
        binary: "lib",
        kind: "lib",
        test: name,
    }
}

#[test]
fn override_fields() {
    let config = ok(OVERRIDES);
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    let default = config.profile("default").unwrap();
    assert_eq!(default.overrides.len(), 2);
    let o = &default.overrides[0];
    assert_eq!(
        o.filter,
        FilterExpr::parse("package(echo-client) & test(/reconnect/)").unwrap()
    );
    assert_eq!(o.filter_source, "package(echo-client) & test(/reconnect/)");
    assert_eq!(o.retries, Some(2));
    assert_eq!(o.slow_timeout, Some(Duration::from_secs(300)));
    assert_eq!(o.terminate_after, Some(2));
    assert_eq!(o.grace_period, Some(Duration::from_secs(1)));
    assert_eq!(o.execution, Some(ExecutionMode::Process));
    assert_eq!(o.test_group.as_deref(), Some("serial"));
    assert_eq!(o.threads_required, Some(ThreadsRequired::Count(2)));
    assert_eq!(o.wrapper, Some(vec!["valgrind".to_owned()]));
    let o = &default.overrides[1];
    assert_eq!(o.threads_required, Some(ThreadsRequired::NumCpus));
    assert_eq!(o.slow_timeout, None);
    assert_eq!(o.test_group, None);
    assert_eq!(config.test_groups()["serial"].max_threads, 1);
}

#[test]
fn overrides_are_ordered_own_first_then_inherited() {
    let config = ok(OVERRIDES);
    let sources = |name: &str| -> Vec<String> {
        config
            .profile(name)
            .unwrap()
            .overrides
            .iter()
            .map(|o| o.filter_source.clone())
            .collect()
    };
    assert_eq!(
        sources("nightly"),
        [
            "all()",
            "test(/reconnect/)",
            "package(echo-client) & test(/reconnect/)",
            "package(echo-client)",
        ]
    );
    assert_eq!(sources("ci").len(), 3);
    assert_eq!(sources("default").len(), 2);
}

#[test]
fn first_matching_override_that_sets_a_setting_wins() {
    let config = ok(OVERRIDES);
    let default = config.profile("default").unwrap();

    let reconnect = default.settings_for(&test("echo-client", "net::reconnect_after_drop"));
    assert_eq!(reconnect.retries, 2);
    assert_eq!(reconnect.slow_timeout, Duration::from_secs(300));
    assert_eq!(reconnect.terminate_after, Some(2));
    assert_eq!(reconnect.execution, ExecutionMode::Process);
    assert_eq!(reconnect.test_group.as_deref(), Some("serial"));
    assert_eq!(reconnect.threads_required, ThreadsRequired::Count(2));
    assert_eq!(reconnect.wrapper, Some(vec!["valgrind".to_owned()]));

    let other = default.settings_for(&test("echo-client", "parses"));
    assert_eq!(other.retries, 7);
    assert_eq!(other.execution, ExecutionMode::Batch);
    assert_eq!(other.threads_required, ThreadsRequired::NumCpus);
    assert_eq!(other.test_group, None);
    assert_eq!(other.slow_timeout, Duration::from_secs(60));

    let unrelated = default.settings_for(&test("store", "reconnect"));
    assert_eq!(unrelated.retries, 1);
    assert_eq!(unrelated.threads_required, ThreadsRequired::Count(1));
    assert_eq!(unrelated.wrapper, None);

    // In nightly, ci's override (retries 9, no wrapper) comes before
    // default's, and nightly's own sets only the slow timeout.
    let nightly = config.profile("nightly").unwrap();
    let s = nightly.settings_for(&test("echo-client", "reconnect"));
    assert_eq!(s.retries, 9);
    assert_eq!(s.wrapper, None);
    assert_eq!(s.slow_timeout, Duration::from_secs(3600));
    assert_eq!(s.terminate_after, Some(2));
    assert_eq!(ThreadsRequired::NumCpus.get(4), 4);
    assert_eq!(ThreadsRequired::Count(8).get(4), 4);
}

#[test]
fn inline_override_arrays_are_accepted() {
    let config = ok(r#"
[profile.default]
overrides = [{ filter = "test(a)", retries = 3 }]
"#);
    assert_eq!(
        config.profile("default").unwrap().overrides[0].retries,
        Some(3)
    );
}

#[test]
fn resolved_profile_serializes_to_toml() {
    // `cargo gantry show-config` prints the profile as TOML.
    let config = ok(OVERRIDES);
    let text = toml::to_string(&config.profile("default").unwrap()).unwrap();
    insta::assert_snapshot!(text, @r#"
        name = "default"
        jobs = "auto"
        execution = "auto"
        retries = 1
        slow-timeout = "1m"
        grace-period = "10s"
        fail-fast = true
        flaky-fails = false
        failure-output = "final"

        [[overrides]]
        filter = "package(echo-client) & test(/reconnect/)"
        retries = 2
        slow-timeout = "5m"
        terminate-after = 2
        grace-period = "1s"
        execution = "process"
        test-group = "serial"
        threads-required = 2
        wrapper = ["valgrind"]

        [[overrides]]
        filter = "package(echo-client)"
        retries = 7
        execution = "batch"
        threads-required = "num-cpus"
        "#);
}

#[test]
fn resolved_profile_serializes_like_the_config_file() {
    let config = ok(OVERRIDES);
    insta::assert_json_snapshot!(config.profile("ci").unwrap(), @r#"
    {
      "name": "ci",
      "jobs": "auto",
      "execution": "auto",
      "retries": 2,
      "slow-timeout": "1m",
      "terminate-after": null,
      "grace-period": "10s",
      "fail-fast": false,
      "max-fail": null,
      "flaky-fails": false,
      "failure-output": "immediate-final",
      "junit": "target/gantry/ci/junit.xml",
      "wrapper": null,
      "overrides": [
        {
          "filter": "test(/reconnect/)",
          "retries": 9,
          "wrapper": []
        },
        {
          "filter": "package(echo-client) & test(/reconnect/)",
          "retries": 2,
          "slow-timeout": "5m",
          "terminate-after": 2,
          "grace-period": "1s",
          "execution": "process",
          "test-group": "serial",
          "threads-required": 2,
          "wrapper": [
            "valgrind"
          ]
        },
        {
          "filter": "package(echo-client)",
          "retries": 7,
          "execution": "batch",
          "threads-required": "num-cpus"
        }
      ]
    }
    "#);
}

#[test]
fn tiers_and_reserved_sections() {
    let config = ok(r#"
[tiers]
tier1 = "kind(lib)"
slow = "test(/_slow$/)"

[database.main]
engine = "postgres"
pool = 8

[ci]
steps = ["fmt", "clippy"]

[cover]
ratchet = true
"#);
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    assert_eq!(
        config.tier("tier1").unwrap(),
        &FilterExpr::parse("kind(lib)").unwrap()
    );
    assert_eq!(config.tiers().keys().collect::<Vec<_>>(), ["slow", "tier1"]);
    let db = config.raw_section("database").unwrap();
    assert_eq!(db["main"]["pool"].as_integer(), Some(8));
    assert_eq!(
        config.raw_section("ci").unwrap()["steps"][1].as_str(),
        Some("clippy")
    );
    assert_eq!(
        config.raw_section("cover").unwrap()["ratchet"].as_bool(),
        Some(true)
    );
}
