//! Generated pipelines: snapshots of all three kinds, validated against
//! the CI systems' published schemas with check-jsonschema, and the
//! `--check` comparison with a committed file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use gantry_ci::{check_pipeline, generate, CiConfig, PipelineCheck, PipelineKind};

const CONFIG: &str = r#"
[profile.leak]
retries = 0

[ci]
advisory-db = "advisory-db"
archs = ["x86_64", "aarch64"]
skip = ["doc"]

[ci.step.test]
profile = "ci"

[ci.step.lint-sql]
command = "sqlfluff lint migrations"
platforms = ["linux", "macos"]
"#;

fn config(text: &str) -> CiConfig {
    CiConfig::from_toml_str(text, Path::new(".config/gantry.toml")).unwrap()
}

/// The check-jsonschema executable, installed from PyPI if missing.
fn check_jsonschema() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let found = |p: &str| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !found("check-jsonschema") {
            let status = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "check-jsonschema"])
                .status()
                .expect("python3 runs");
            assert!(status.success(), "could not install check-jsonschema");
        }
        assert!(found("check-jsonschema"), "check-jsonschema is not on PATH");
        PathBuf::from("check-jsonschema")
    })
}

fn validate(kind: PipelineKind, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pipeline.yml");
    std::fs::write(&file, text).unwrap();
    let schema = match kind {
        PipelineKind::Github => "vendor.github-workflows",
        PipelineKind::Gitlab => "vendor.gitlab-ci",
        PipelineKind::Buildkite => "vendor.buildkite",
    };
    let out = Command::new(check_jsonschema())
        .args(["--builtin-schema", schema])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{kind} pipeline does not validate against {schema}:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn github_workflow_is_valid_and_stable() {
    let text = generate(PipelineKind::Github, 3, &config(CONFIG));
    validate(PipelineKind::Github, &text);
    insta::assert_snapshot!(text);
}

#[test]
fn gitlab_pipeline_is_valid_and_stable() {
    let text = generate(PipelineKind::Gitlab, 3, &config(CONFIG));
    validate(PipelineKind::Gitlab, &text);
    insta::assert_snapshot!(text);
}

#[test]
fn buildkite_pipeline_is_valid_and_stable() {
    let text = generate(PipelineKind::Buildkite, 3, &config(CONFIG));
    validate(PipelineKind::Buildkite, &text);
    insta::assert_snapshot!(text);
}

#[test]
fn every_kind_validates_with_the_default_config_and_one_shard() {
    for kind in PipelineKind::ALL {
        let text = generate(kind, 1, &config(""));
        validate(kind, &text);
        assert!(text.contains("--partition duration:1/1"), "{text}");
        assert!(text.contains("cargo gantry merge target/gantry/results/shard-*"));
    }
}

#[test]
fn jobs_only_call_cargo_gantry() {
    let text = generate(PipelineKind::Gitlab, 2, &config(CONFIG));
    let commands: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter(|l| l.starts_with("cargo ") || l.starts_with("buildkite-agent"))
        .collect();
    assert!(!commands.is_empty());
    for c in &commands {
        assert!(
            c.starts_with("cargo gantry ") || c.starts_with("cargo install"),
            "{c}"
        );
    }
    // Skipped steps get no job; the shards and merge are there.
    assert!(!text.contains("--step doc"));
    assert!(text.contains("--partition duration:2/2 --results target/gantry/results/shard-2"));
}

#[test]
fn check_reports_missing_stale_and_current_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(PipelineKind::Github.default_path());
    let cfg = config(CONFIG);
    assert_eq!(
        check_pipeline(PipelineKind::Github, 2, &cfg, &path).unwrap(),
        PipelineCheck::Missing
    );
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, generate(PipelineKind::Github, 2, &cfg)).unwrap();
    assert_eq!(
        check_pipeline(PipelineKind::Github, 2, &cfg, &path).unwrap(),
        PipelineCheck::UpToDate
    );
    // The config gained a shard: the committed file is out of date.
    let PipelineCheck::OutOfDate(diff) =
        check_pipeline(PipelineKind::Github, 3, &cfg, &path).unwrap()
    else {
        panic!("expected out of date");
    };
    assert!(diff.added > 0 && diff.removed > 0, "{diff}");
    let text = diff.to_string();
    assert!(text.contains("--shards 3"), "{text}");
    assert!(text.contains("duration:1/3"), "{text}");
}

#[test]
fn pipeline_kinds_parse_and_know_their_paths() {
    assert_eq!(
        "github".parse::<PipelineKind>().unwrap(),
        PipelineKind::Github
    );
    assert_eq!(PipelineKind::Gitlab.default_path(), ".gitlab-ci.yml");
    assert_eq!(
        PipelineKind::Buildkite.default_path(),
        ".buildkite/pipeline.yml"
    );
    let err = "jenkins".parse::<PipelineKind>().unwrap_err().to_string();
    assert!(err.contains("`github`, `gitlab` or `buildkite`"), "{err}");
}
