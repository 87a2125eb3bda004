//! The `[ci]` table: defaults, and the message of every kind of mistake
//! (file, line, key and what to do).

use std::path::Path;
use std::time::Duration;

use gantry_ci::{CiConfig, FeatureSet, Platform, StepCommand, StepKind, DEFAULT_STEP_TIMEOUT};

fn parse(text: &str) -> Result<CiConfig, String> {
    CiConfig::from_toml_str(text, Path::new(".config/gantry.toml")).map_err(|e| e.to_string())
}

#[test]
fn defaults_without_a_ci_table() {
    let c = parse("").unwrap();
    assert_eq!(
        c.step_names(),
        [
            "fmt",
            "clippy",
            "build",
            "doc",
            "test",
            "audit",
            "commit-format"
        ]
    );
    assert!(c
        .steps
        .iter()
        .all(|s| s.config.timeout == DEFAULT_STEP_TIMEOUT));
    assert_eq!(DEFAULT_STEP_TIMEOUT, Duration::from_secs(900));
    assert_eq!(c.install, "cargo install --locked cargo-gantry");
    assert!(c.warnings.is_empty());
}

#[test]
fn a_full_table_is_read() {
    let c = parse(
        r#"
[tiers]
tier1 = "all()"

[profile.nightly]
retries = 1

[ci]
steps = ["fmt", "clippy", "test", "audit", "commit-format", "lint-sql"]
skip = ["audit"]
advisory-db = "../advisory-db"
signed-off-by = true
archs = ["x86_64", "aarch64"]
test-data = ["tests/data", "crates/*/fixtures/*.json"]
shards = 4

[ci.step.clippy]
features = [[], ["a"], ["a", "b"], "all-features", "no-default-features"]
timeout = "20m"

[ci.step.test]
tiers = ["tier1"]
profile = "nightly"
timeout = 600

[ci.step.lint-sql]
command = ["sqlfluff", "lint"]
platforms = ["linux", "macos"]
env = { DIALECT = "postgres" }
"#,
    )
    .unwrap();
    assert_eq!(
        c.step_names(),
        [
            "fmt",
            "clippy",
            "test",
            "audit",
            "commit-format",
            "lint-sql"
        ]
    );
    let clippy = c.step("clippy").unwrap();
    assert_eq!(clippy.config.timeout, Duration::from_secs(1200));
    assert_eq!(
        clippy.config.features,
        [
            FeatureSet::Default,
            FeatureSet::Features(vec!["a".into()]),
            FeatureSet::Features(vec!["a".into(), "b".into()]),
            FeatureSet::AllFeatures,
            FeatureSet::NoDefaultFeatures
        ]
    );
    let test = c.step("test").unwrap();
    assert_eq!(test.config.tiers, ["tier1"]);
    assert_eq!(test.config.profile.as_deref(), Some("nightly"));
    assert_eq!(test.config.timeout, Duration::from_secs(600));
    assert!(c.step("audit").unwrap().skipped_by_config);
    let sql = c.step("lint-sql").unwrap();
    assert_eq!(sql.kind, StepKind::Custom);
    assert_eq!(
        sql.config.command,
        Some(StepCommand::Argv(vec!["sqlfluff".into(), "lint".into()]))
    );
    assert_eq!(sql.config.platforms, [Platform::Linux, Platform::Macos]);
    assert_eq!(sql.config.env["DIALECT"], "postgres");
    assert!(c.signed_off_by);
    assert_eq!(c.archs, ["x86_64", "aarch64"]);
    assert_eq!(c.shards, Some(4));
    assert_eq!(c.advisory_db.as_deref(), Some(Path::new("../advisory-db")));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn wrong_values_fail_with_file_line_key_and_help() {
    let cases = [
        ("[ci.step.clippy]\ntimeout = \"soon\"\n", "bad_duration"),
        ("[ci.step.clippy]\ntimeout = 0\n", "zero_timeout"),
        (
            "[ci]\nsteps = [\"fmt\", \"clipy\"]\n",
            "unknown_step_in_steps",
        ),
        ("[ci]\nsteps = [\"fmt\", \"fmt\"]\n", "duplicate_step"),
        ("[ci]\nskip = [\"deploy\"]\n", "unknown_step_in_skip"),
        (
            "[ci.step.deploy]\ntimeout = \"1m\"\n",
            "custom_step_without_command",
        ),
        (
            "[ci.step.fmt]\ncommand = \"rustfmt\"\n",
            "builtin_with_command",
        ),
        ("[ci.step.clippy]\nfeatures = [\"a\"]\n", "bad_feature_set"),
        ("[ci.step.test]\ntiers = [\"tier9\"]\n", "unknown_tier"),
        ("[ci.step.test]\nprofile = \"nigthly\"\n", "unknown_profile"),
        (
            "[ci.step.x]\ncommand = \"true\"\nplatforms = [\"beos\"]\n",
            "unknown_platform",
        ),
        (
            "[ci.step.x]\ncommand = \"true\"\nenv = { A = 1 }\n",
            "env_not_string",
        ),
        ("[ci]\ntest-data = [\"../secrets\"]\n", "test_data_outside"),
        ("[ci]\nsigned-off-by = \"yes\"\n", "not_a_bool"),
        ("[ci]\narchs = \"x86_64\"\n", "not_an_array"),
        ("[ci]\nshards = 0\n", "bad_shards"),
    ];
    let mut all = String::new();
    for (text, name) in cases {
        let err = parse(text).expect_err(name);
        assert!(err.starts_with(".config/gantry.toml:"), "{name}: {err}");
        all.push_str(&format!("{name}:\n  {err}\n"));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn unknown_and_misplaced_keys_warn() {
    let c = parse(
        "[ci]\nstep-order = []\n\n[ci.step.clippy]\nfeatures = []\ntimout = \"1m\"\ntiers = [\"x\"]\n\n[ci.step.orphan]\ncommand = \"true\"\n\n[ci.step.fmt]\n\n[ci]\n",
    );
    // Duplicate [ci] header is a TOML error, reported as such.
    assert!(c.unwrap_err().contains("invalid TOML"));

    let c = parse(
        "[ci]\nsteps = [\"fmt\", \"clippy\"]\nstep-order = []\n\n[ci.step.clippy]\ntimout = \"1m\"\ntiers = [\"x\"]\n\n[ci.step.orphan]\ncommand = \"true\"\n",
    )
    .unwrap();
    insta::assert_snapshot!(c.warnings.join("\n"));
}
