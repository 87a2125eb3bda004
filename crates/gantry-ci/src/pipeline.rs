//! Generated CI pipelines: GitHub Actions, GitLab CI, Buildkite.
//!
//! Logic written in pipeline YAML can only be tested by pushing; so the
//! generated files hold none. Every job installs cargo-gantry and runs
//! one `cargo gantry` command, which a developer can run locally with the
//! same result:
//!
//! - one job per lint step (`fmt`, `clippy`, `doc`, `audit`,
//!   `commit-format`): `cargo gantry ci --step NAME`;
//! - one build job: `cargo gantry ci --step build` (when configured), then
//!   `cargo gantry archive -o target/gantry/archive.tar.zst`, uploaded as
//!   an artifact;
//! - N test jobs, each extracting the archive and running one
//!   duration-balanced shard into `target/gantry/results/shard-M`;
//! - a merge job, run even when shards failed, that combines the shards'
//!   results (`cargo gantry merge target/gantry/results/shard-*`) and
//!   publishes one JUnit file;
//! - one job per other step (`cover`, `leak`, custom steps, per platform),
//!   and per `[ci] archs` entry a job building and testing on that
//!   architecture.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::config::{CiConfig, Platform, StepKind};
use crate::diff::{diff_summary, DiffSummary};
use crate::error::{CiError, Result};
use crate::yaml::{map, s, seq, strs, to_string, Node};

/// Where the build job writes the test archive.
pub const ARCHIVE_PATH: &str = "target/gantry/archive.tar.zst";
/// The parent of the shards' results directories (`shard-M`).
pub const RESULTS_DIR: &str = "target/gantry/results";
/// Where `cargo gantry merge` writes by default.
pub const MERGED_RESULTS_DIR: &str = "target/gantry/results/merged";

/// A CI system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PipelineKind {
    /// GitHub Actions.
    Github,
    /// GitLab CI.
    Gitlab,
    /// Buildkite.
    Buildkite,
}

impl PipelineKind {
    /// Every kind, for help texts.
    pub const ALL: [PipelineKind; 3] = [Self::Github, Self::Gitlab, Self::Buildkite];

    /// The name on the command line: `github`, `gitlab`, `buildkite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Buildkite => "buildkite",
        }
    }

    /// Where the CI system reads the file, relative to the repository root.
    pub fn default_path(self) -> &'static str {
        match self {
            Self::Github => ".github/workflows/gantry.yml",
            Self::Gitlab => ".gitlab-ci.yml",
            Self::Buildkite => ".buildkite/pipeline.yml",
        }
    }
}

impl fmt::Display for PipelineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PipelineKind {
    type Err = CiError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "github" | "github-actions" => Self::Github,
            "gitlab" | "gitlab-ci" => Self::Gitlab,
            "buildkite" => Self::Buildkite,
            other => {
                return Err(CiError::Usage(format!(
                    "unknown pipeline kind `{other}`: expected `github`, `gitlab` or `buildkite`"
                )))
            }
        })
    }
}

/// Where a job runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum RunsOn {
    #[default]
    Default,
    Platform(Platform),
    Arch(String),
}

/// A CI-system-neutral job.
#[derive(Clone, Debug, Default)]
struct Job {
    id: String,
    label: String,
    stage: &'static str,
    commands: Vec<String>,
    needs: Vec<String>,
    runs_on: RunsOn,
    full_history: bool,
    /// Artifact name and path (a file or a directory) to upload.
    upload: Option<(String, String)>,
    /// Upload even when the job failed.
    upload_always: bool,
    /// Artifact to fetch first: name (or glob of names) and directory.
    download: Option<(String, String)>,
    /// Run even when the jobs it needs failed.
    always: bool,
    junit: Option<String>,
}

fn gantry_ci(steps: &[&str]) -> String {
    format!("cargo gantry ci --step {}", steps.join(","))
}

fn jobs(config: &CiConfig, shards: usize) -> Vec<Job> {
    let enabled: Vec<_> = config
        .steps
        .iter()
        .filter(|s| !s.skipped_by_config)
        .collect();
    let has = |k: StepKind| enabled.iter().any(|s| s.kind == k);
    let mut jobs = Vec::new();
    for step in enabled.iter().filter(|s| s.kind.is_lint()) {
        jobs.push(Job {
            id: step.name.clone(),
            label: step.name.clone(),
            stage: "lint",
            commands: vec![gantry_ci(&[&step.name])],
            full_history: step.kind == StepKind::CommitFormat,
            ..Default::default()
        });
    }
    let test = enabled.iter().find(|s| s.kind == StepKind::Test);
    if has(StepKind::Build) || test.is_some() {
        let mut commands = Vec::new();
        if has(StepKind::Build) {
            commands.push(gantry_ci(&["build"]));
        }
        if test.is_some() {
            commands.push(format!("cargo gantry archive -o {ARCHIVE_PATH}"));
        }
        jobs.push(Job {
            id: "build".into(),
            label: "build".into(),
            stage: "build",
            commands,
            upload: test.map(|_| ("archive".into(), ARCHIVE_PATH.into())),
            ..Default::default()
        });
    }
    if let Some(test) = test {
        let profile = test
            .config
            .profile
            .as_deref()
            .unwrap_or(gantry_config::CI_PROFILE);
        for m in 1..=shards {
            let dir = format!("{RESULTS_DIR}/shard-{m}");
            jobs.push(Job {
                id: format!("test-shard-{m}"),
                label: format!("test shard {m}/{shards}"),
                stage: "test",
                commands: vec![format!(
                    "cargo gantry run --archive {ARCHIVE_PATH} --workspace-remap . --profile {profile} --partition duration:{m}/{shards} --results {dir}"
                )],
                needs: vec!["build".into()],
                download: Some(("archive".into(), "target/gantry".into())),
                upload: Some((format!("shard-{m}"), dir)),
                upload_always: true,
                ..Default::default()
            });
        }
        jobs.push(Job {
            id: "merge".into(),
            label: "merge test results".into(),
            stage: "merge",
            commands: vec![format!("cargo gantry merge {RESULTS_DIR}/shard-*")],
            needs: (1..=shards).map(|m| format!("test-shard-{m}")).collect(),
            download: Some(("shard-*".into(), RESULTS_DIR.into())),
            upload: Some(("results".into(), MERGED_RESULTS_DIR.into())),
            upload_always: true,
            always: true,
            junit: Some(format!("{MERGED_RESULTS_DIR}/junit.xml")),
            ..Default::default()
        });
    }
    for step in enabled
        .iter()
        .filter(|s| !s.kind.is_lint() && !matches!(s.kind, StepKind::Build | StepKind::Test))
    {
        let platforms = &step.config.platforms;
        if platforms.is_empty() {
            jobs.push(Job {
                id: step.name.clone(),
                label: step.name.clone(),
                stage: "test",
                commands: vec![gantry_ci(&[&step.name])],
                ..Default::default()
            });
        } else {
            for p in platforms {
                jobs.push(Job {
                    id: format!("{}-{p}", step.name),
                    label: format!("{} ({p})", step.name),
                    stage: "test",
                    commands: vec![gantry_ci(&[&step.name])],
                    runs_on: RunsOn::Platform(*p),
                    ..Default::default()
                });
            }
        }
    }
    let arch_steps: Vec<&str> = enabled
        .iter()
        .filter(|s| matches!(s.kind, StepKind::Build | StepKind::Test))
        .map(|s| s.name.as_str())
        .collect();
    if !arch_steps.is_empty() {
        for arch in &config.archs {
            jobs.push(Job {
                id: format!("arch-{arch}"),
                label: format!("build and test on {arch}"),
                stage: "test",
                commands: vec![gantry_ci(&arch_steps)],
                runs_on: RunsOn::Arch(arch.clone()),
                ..Default::default()
            });
        }
    }
    jobs
}

fn header(kind: PipelineKind, shards: usize) -> String {
    format!(
        "# Generated by `cargo gantry ci generate {kind} --shards {shards}` from the\n\
         # [ci] table of .config/gantry.toml. Do not edit: change the config and\n\
         # regenerate; `--check` fails when this file is out of date. Each job runs\n\
         # one `cargo gantry` command, so any job can be reproduced locally.\n"
    )
}

/// The pipeline file for `kind` with `shards` test shards (0 counts as 1).
pub fn generate(kind: PipelineKind, shards: usize, config: &CiConfig) -> String {
    let shards = shards.max(1);
    let jobs = jobs(config, shards);
    let doc = match kind {
        PipelineKind::Github => github(config, &jobs),
        PipelineKind::Gitlab => gitlab(config, &jobs),
        PipelineKind::Buildkite => buildkite(config, &jobs),
    };
    format!("{}\n{}", header(kind, shards), to_string(&doc))
}

fn github_runner(r: &RunsOn) -> Node {
    match r {
        RunsOn::Default | RunsOn::Platform(Platform::Linux) => s("ubuntu-latest"),
        RunsOn::Platform(Platform::Macos) => s("macos-latest"),
        RunsOn::Platform(Platform::Windows) => s("windows-latest"),
        RunsOn::Arch(a) if a == "x86_64" => s("ubuntu-latest"),
        RunsOn::Arch(a) if a == "aarch64" => s("ubuntu-24.04-arm"),
        RunsOn::Arch(a) => strs(["self-hosted", "linux", a.as_str()]),
    }
}

fn github(config: &CiConfig, jobs: &[Job]) -> Node {
    let mut out = Vec::new();
    for j in jobs {
        let mut steps = Vec::new();
        let mut checkout = vec![("uses".to_string(), s("actions/checkout@v4"))];
        if j.full_history {
            checkout.push(("with".into(), map([("fetch-depth", Node::Int(0))])));
        }
        steps.push(Node::Map(checkout));
        let mut toolchain = vec![("uses".to_string(), s("dtolnay/rust-toolchain@stable"))];
        if j.stage == "lint" {
            toolchain.push(("with".into(), map([("components", s("rustfmt, clippy"))])));
        }
        steps.push(Node::Map(toolchain));
        steps.push(map([
            ("name", s("Install cargo-gantry")),
            ("run", s(config.install.clone())),
        ]));
        if let Some((name, path)) = &j.download {
            let with = if name.contains('*') {
                map([("pattern", s(name.clone())), ("path", s(path.clone()))])
            } else {
                map([("name", s(name.clone())), ("path", s(path.clone()))])
            };
            steps.push(map([
                ("uses", s("actions/download-artifact@v4")),
                ("with", with),
            ]));
        }
        for c in &j.commands {
            steps.push(map([("run", s(c.clone()))]));
        }
        if let Some((name, path)) = &j.upload {
            let mut up = vec![];
            if j.upload_always {
                up.push(("if".to_string(), s("always()")));
            }
            up.push(("uses".into(), s("actions/upload-artifact@v4")));
            up.push((
                "with".into(),
                map([("name", s(name.clone())), ("path", s(path.clone()))]),
            ));
            steps.push(Node::Map(up));
        }
        let mut job = vec![
            ("name".to_string(), s(j.label.clone())),
            ("runs-on".into(), github_runner(&j.runs_on)),
        ];
        if !j.needs.is_empty() {
            job.push(("needs".into(), strs(j.needs.clone())));
        }
        if j.always {
            job.push(("if".into(), s("always()")));
        }
        job.push(("steps".into(), Node::Seq(steps)));
        out.push((j.id.clone(), Node::Map(job)));
    }
    map([
        ("name", s("gantry")),
        (
            "on",
            map([
                ("push", map([("branches", strs(["main"]))])),
                ("pull_request", map(Vec::<(String, Node)>::new())),
            ]),
        ),
        ("permissions", map([("contents", s("read"))])),
        ("env", map([("CARGO_TERM_COLOR", s("always"))])),
        ("jobs", Node::Map(out)),
    ])
}

fn gitlab_tags(r: &RunsOn) -> Option<Node> {
    match r {
        RunsOn::Default | RunsOn::Platform(Platform::Linux) => None,
        RunsOn::Arch(a) if a == "x86_64" => None,
        RunsOn::Platform(p) => Some(strs([p.as_str()])),
        RunsOn::Arch(a) => Some(strs([a.as_str()])),
    }
}

fn gitlab(config: &CiConfig, jobs: &[Job]) -> Node {
    let mut stages: Vec<&str> = Vec::new();
    for j in jobs {
        if !stages.contains(&j.stage) {
            stages.push(j.stage);
        }
    }
    stages.sort_by_key(|s| {
        ["lint", "build", "test", "merge"]
            .iter()
            .position(|x| x == s)
    });
    let mut doc = vec![
        ("stages".to_string(), strs(stages)),
        (
            "default".into(),
            map([
                ("image", s("rust:latest")),
                (
                    "before_script",
                    strs([
                        "rustup component add rustfmt clippy".to_string(),
                        config.install.clone(),
                    ]),
                ),
            ]),
        ),
        ("variables".into(), map([("CARGO_TERM_COLOR", s("always"))])),
    ];
    for j in jobs {
        let mut job = vec![("stage".to_string(), s(j.stage))];
        // Start at once unless the job waits for others: stages alone would
        // serialize lint, build and test.
        job.push(("needs".into(), strs(j.needs.clone())));
        if j.always {
            job.push(("when".into(), s("always")));
        }
        if let Some(tags) = gitlab_tags(&j.runs_on) {
            job.push(("tags".into(), tags));
        }
        if j.full_history {
            job.push(("variables".into(), map([("GIT_DEPTH", s("0"))])));
        }
        job.push(("script".into(), strs(j.commands.clone())));
        if let Some((_, path)) = &j.upload {
            let mut art = Vec::new();
            if j.upload_always {
                art.push(("when".to_string(), s("always")));
            }
            art.push(("paths".into(), strs([path.clone()])));
            if let Some(junit) = &j.junit {
                art.push(("reports".into(), map([("junit", s(junit.clone()))])));
            }
            art.push(("expire_in".into(), s("1 week")));
            job.push(("artifacts".into(), Node::Map(art)));
        }
        doc.push((j.id.clone(), Node::Map(job)));
    }
    Node::Map(doc)
}

fn buildkite(config: &CiConfig, jobs: &[Job]) -> Node {
    let mut steps = Vec::new();
    for j in jobs {
        let mut commands = vec![config.install.clone()];
        if let Some((name, path)) = &j.download {
            let pattern = if name.contains('*') {
                format!("{path}/{name}/**/*")
            } else {
                ARCHIVE_PATH.to_string()
            };
            commands.push(format!("buildkite-agent artifact download '{pattern}' ."));
        }
        commands.extend(j.commands.iter().cloned());
        let mut step = vec![
            ("label".to_string(), s(j.label.clone())),
            ("key".into(), s(j.id.clone())),
        ];
        if !j.needs.is_empty() {
            step.push(("depends_on".into(), strs(j.needs.clone())));
        }
        if j.always {
            step.push(("allow_dependency_failure".into(), Node::Bool(true)));
        }
        step.push(("command".into(), strs(commands)));
        if let Some((_, path)) = &j.upload {
            let glob = if path.ends_with(".zst") {
                path.clone()
            } else {
                format!("{path}/**/*")
            };
            step.push(("artifact_paths".into(), strs([glob])));
        }
        match &j.runs_on {
            RunsOn::Default => {}
            RunsOn::Platform(p) => {
                step.push(("agents".into(), map([("os", s(p.as_str()))])));
            }
            RunsOn::Arch(a) => {
                step.push(("agents".into(), map([("arch", s(a.clone()))])));
            }
        }
        steps.push(Node::Map(step));
    }
    map([
        ("env", map([("CARGO_TERM_COLOR", s("always"))])),
        ("steps", seq(steps)),
    ])
}

/// The state of a committed pipeline file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipelineCheck {
    /// It matches what [`generate`] writes.
    UpToDate,
    /// There is no such file.
    Missing,
    /// It differs; the summary says how (`-` committed, `+` generated).
    OutOfDate(DiffSummary),
}

/// Compares the file at `path` with what [`generate`] would write, for
/// `ci generate --check`.
pub fn check_pipeline(
    kind: PipelineKind,
    shards: usize,
    config: &CiConfig,
    path: &Path,
) -> Result<PipelineCheck> {
    let committed = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PipelineCheck::Missing),
        Err(e) => return Err(CiError::io("could not read", path)(e)),
    };
    let fresh = generate(kind, shards, config);
    let diff = diff_summary(&committed, &fresh);
    Ok(if diff.is_empty() {
        PipelineCheck::UpToDate
    } else {
        PipelineCheck::OutOfDate(diff)
    })
}
