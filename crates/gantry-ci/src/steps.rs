//! Planning and running CI steps.
//!
//! [`plan`] turns the config and the command line's `--step`/`--skip` into
//! the exact list of steps and commands (what `ci --list` shows); [`run`]
//! executes that plan. Both are pure library code: results come back as
//! data and progress goes to a callback, so the CLI owns all printing.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gantry_config::CONFIG_PATH;
use gantry_metadata::ExitCode;

use crate::config::{CiConfig, FeatureSet, Platform, StepCommand, StepDef, StepKind};
use crate::error::{CiError, Result};
use crate::process::{self, Ended};
use crate::{audit, commits};

/// Where and with what the steps run; filled by the CLI.
#[derive(Clone, Debug)]
pub struct CiContext {
    /// The workspace root: every command runs there.
    pub workspace_root: PathBuf,
    /// The cargo target directory; logs go to `<target>/gantry/ci/`.
    pub target_dir: PathBuf,
    /// The gantry executable (the CLI's `current_exe`), which the `test`,
    /// `cover` and `leak` steps run as `<gantry> gantry run …`.
    pub gantry: PathBuf,
    /// The cargo executable (`$CARGO` when cargo started us).
    pub cargo: String,
    /// Environment added to every command, e.g. `CARGO_TARGET_DIR`.
    pub env: Vec<(String, String)>,
    /// `--base REV` for commit-format (overrides the config's `base`).
    pub base: Option<String>,
    /// `--fail-fast`: stop after the first failed step.
    pub fail_fast: bool,
    /// The platform to plan for (custom steps' `platforms`).
    pub platform: Platform,
    /// Time between SIGTERM and SIGKILL when a step times out.
    pub kill_grace: Duration,
}

impl CiContext {
    /// A context with the defaults: cargo from `$CARGO` (else `cargo`),
    /// the current platform, a 5 s kill grace, no extra environment.
    pub fn new(workspace_root: PathBuf, target_dir: PathBuf, gantry: PathBuf) -> Self {
        Self {
            workspace_root,
            target_dir,
            gantry,
            cargo: std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
            env: Vec::new(),
            base: None,
            fail_fast: false,
            platform: Platform::current(),
            kill_grace: Duration::from_secs(5),
        }
    }

    /// `<target>/gantry/ci`, where the step logs go.
    pub fn log_dir(&self) -> PathBuf {
        self.target_dir.join("gantry").join("ci")
    }
}

/// `--step` and `--skip` from the command line.
#[derive(Clone, Debug, Default)]
pub struct StepSelection {
    /// Run only these steps (comma-separated lists are split). Naming a
    /// step here runs it even if `[ci] skip` lists it, and a built-in step
    /// that is not in the default order (`cover`, `leak`) can be named.
    pub only: Vec<String>,
    /// Do not run these steps; they are reported as skipped.
    pub skip: Vec<String>,
}

/// One command of a step, as it will be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment set for it (on top of the context's).
    pub env: Vec<(String, String)>,
    /// Set for `build` commands with `--target T`: run only if the target
    /// is installed (`rustup target list --installed`).
    pub requires_target: Option<String>,
}

impl CommandSpec {
    /// The exact command line, with the program's full path (what the step
    /// log records).
    pub fn command_line(&self) -> String {
        let mut line = String::new();
        for (k, v) in &self.env {
            line.push_str(&format!("{k}={} ", shell_quote(v)));
        }
        line.push_str(&shell_quote(&self.program));
        for a in &self.args {
            line.push(' ');
            line.push_str(&shell_quote(a));
        }
        line
    }
}

/// The short form users type: the program without its directory, and
/// `cargo-gantry gantry …` as `cargo gantry …`.
impl fmt::Display for CommandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", shell_quote(v))?;
        }
        let program = Path::new(&self.program)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&self.program);
        let mut args = self.args.iter().peekable();
        if program == "cargo-gantry" && args.peek().is_some_and(|a| *a == "gantry") {
            args.next();
            f.write_str("cargo gantry")?;
        } else {
            f.write_str(&shell_quote(program))?;
        }
        for a in args {
            write!(f, " {}", shell_quote(a))?;
        }
        Ok(())
    }
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Runs a command.
    Command(CommandSpec),
    /// A check gantry does itself (audit, commit-format), described.
    Check(String),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Command(c) => c.fmt(f),
            Self::Check(s) => f.write_str(s),
        }
    }
}

/// A step of the plan: what `ci --list` shows and `run` executes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedStep {
    /// The step name.
    pub name: String,
    /// Its kind.
    pub kind: StepKind,
    /// Its time limit.
    pub timeout: Duration,
    /// Why it will not run, if it will not.
    pub skip: Option<String>,
    /// What it runs, in order.
    pub actions: Vec<Action>,
}

/// How a step ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepStatus {
    /// Everything it ran succeeded.
    Passed,
    /// Something failed; `reason` is a one-line summary.
    Failed {
        /// E.g. "`cargo fmt --all -- --check` failed with exit code 1".
        reason: String,
    },
    /// It ran past its timeout and its process group was killed.
    TimedOut {
        /// The limit it exceeded.
        timeout: Duration,
    },
    /// It did not run.
    Skipped {
        /// Why, including what to do to run it where that applies.
        reason: String,
    },
}

impl StepStatus {
    /// Whether the status fails the CI run.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failed { .. } | Self::TimedOut { .. })
    }

    /// The word for the status column: `passed`, `FAILED`, `TIMED OUT`,
    /// `skipped`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed { .. } => "FAILED",
            Self::TimedOut { .. } => "TIMED OUT",
            Self::Skipped { .. } => "skipped",
        }
    }
}

/// The result of one step.
#[derive(Clone, Debug)]
pub struct StepResult {
    /// The step name.
    pub name: String,
    /// Its kind.
    pub kind: StepKind,
    /// How it ended.
    pub status: StepStatus,
    /// Wall time.
    pub duration: Duration,
    /// Its full output (`target/gantry/ci/<step>.log`); `None` for steps
    /// that did not run.
    pub log: Option<PathBuf>,
    /// Things worth knowing that are not failures: targets skipped because
    /// they are not installed (with the `rustup target add` command),
    /// unmaintained-crate notices, the commit range that was checked.
    pub notes: Vec<String>,
    /// What failed, one complete message each: a commit that breaks a rule,
    /// a vulnerable dependency, a command that failed.
    pub findings: Vec<String>,
}

impl StepResult {
    /// The last `lines` lines of the step's log (what the console shows for
    /// a failing step, followed by the log's path).
    pub fn log_tail(&self, lines: usize) -> String {
        let Some(text) = self
            .log
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
        else {
            return String::new();
        };
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The results of a CI run, in step order.
#[derive(Clone, Debug, Default)]
pub struct CiReport {
    /// One result per planned step, skipped ones included.
    pub steps: Vec<StepResult>,
    /// Wall time of the whole run.
    pub duration: Duration,
}

impl CiReport {
    /// Whether no step failed or timed out.
    pub fn success(&self) -> bool {
        !self.steps.iter().any(|s| s.status.is_failure())
    }

    /// The steps that failed or timed out.
    pub fn failures(&self) -> impl Iterator<Item = &StepResult> {
        self.steps.iter().filter(|s| s.status.is_failure())
    }

    /// 0 when every step passed or was skipped, else 103 (a gate failed).
    pub fn exit_code(&self) -> i32 {
        if self.success() {
            ExitCode::OK
        } else {
            ExitCode::GATE_FAILED
        }
    }
}

/// Progress reports for the CLI's table, in the order they happen.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A step starts (also sent for skipped steps, right before their
    /// `StepFinished`).
    StepStarted {
        /// 0-based position in the plan.
        index: usize,
        /// Number of planned steps.
        total: usize,
        /// The step.
        name: &'a str,
    },
    /// A command of the running step starts.
    CommandStarted {
        /// The step.
        step: &'a str,
        /// The command.
        command: &'a CommandSpec,
    },
    /// A step ended.
    StepFinished {
        /// 0-based position in the plan.
        index: usize,
        /// Number of planned steps.
        total: usize,
        /// Its result.
        result: &'a StepResult,
    },
}

fn split_names(names: &[String]) -> Vec<String> {
    names
        .iter()
        .flat_map(|n| n.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

fn check_names(names: &[String], known: &[String]) -> Result<()> {
    for n in names {
        if !known.contains(n) {
            return Err(CiError::UnknownStep {
                name: n.clone(),
                known: known.to_vec(),
                suggestion: crate::suggest(n, known.iter().map(String::as_str)).map(str::to_string),
            });
        }
    }
    Ok(())
}

/// The steps to run, with their commands and, for those that will not
/// run, why. Fails on a `--step`/`--skip` name that is no step.
pub fn plan(
    config: &CiConfig,
    ctx: &CiContext,
    selection: &StepSelection,
) -> Result<Vec<PlannedStep>> {
    let only = split_names(&selection.only);
    let skip = split_names(&selection.skip);
    let mut known: Vec<String> = config.step_names();
    for b in crate::config::BUILTIN_STEPS {
        if !known.iter().any(|k| k == b) {
            known.push(b.to_string());
        }
    }
    check_names(&only, &known)?;
    check_names(&skip, &known)?;

    let mut defs: Vec<StepDef> = Vec::new();
    if only.is_empty() {
        defs = config.steps.clone();
    } else {
        let wanted: BTreeSet<&String> = only.iter().collect();
        defs.extend(
            config
                .steps
                .iter()
                .filter(|s| wanted.contains(&s.name))
                .cloned(),
        );
        for n in &only {
            if !defs.iter().any(|d| &d.name == n) {
                if let Some(def) = config.step_or_builtin(n) {
                    defs.push(def);
                }
            }
        }
    }

    Ok(defs
        .iter()
        .map(|def| {
            let explicitly_asked = only.contains(&def.name);
            let skip_reason = if skip.contains(&def.name) {
                Some("skipped by --skip".to_string())
            } else if def.skipped_by_config && !explicitly_asked {
                Some(format!("skipped by `[ci] skip` in {CONFIG_PATH}"))
            } else if !def.config.platforms.is_empty()
                && !def.config.platforms.contains(&ctx.platform)
            {
                Some(format!(
                    "runs only on {} (this is {})",
                    def.config
                        .platforms
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    ctx.platform
                ))
            } else if def.kind == StepKind::Audit && config.advisory_db_for(def).is_none() {
                Some(format!(
                    "no advisory database configured, so dependencies were NOT audited: clone https://github.com/rustsec/advisory-db and set `[ci] advisory-db = \"path/to/advisory-db\"` in {CONFIG_PATH}"
                ))
            } else {
                None
            };
            PlannedStep {
                name: def.name.clone(),
                kind: def.kind,
                timeout: def.config.timeout,
                skip: skip_reason,
                actions: actions(config, ctx, def),
            }
        })
        .collect())
}

fn cargo(ctx: &CiContext, args: &[&str]) -> CommandSpec {
    CommandSpec {
        program: ctx.cargo.clone(),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        requires_target: None,
    }
}

fn gantry(ctx: &CiContext, args: &[&str]) -> CommandSpec {
    CommandSpec {
        program: ctx.gantry.display().to_string(),
        args: std::iter::once("gantry")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect(),
        env: Vec::new(),
        requires_target: None,
    }
}

fn actions(config: &CiConfig, ctx: &CiContext, def: &StepDef) -> Vec<Action> {
    let c = &def.config;
    let mut cmds: Vec<CommandSpec> = match def.kind {
        StepKind::Fmt => vec![cargo(ctx, &["fmt", "--all", "--", "--check"])],
        StepKind::Clippy => {
            let sets = if c.features.is_empty() {
                vec![FeatureSet::Default]
            } else {
                c.features.clone()
            };
            sets.iter()
                .map(|fs| {
                    let mut cmd = cargo(ctx, &["clippy", "--workspace", "--all-targets"]);
                    cmd.args.extend(fs.cargo_args());
                    cmd.args
                        .extend(["--".into(), "-D".into(), "warnings".into()]);
                    cmd
                })
                .collect()
        }
        StepKind::Build => {
            let targets: Vec<Option<&String>> = if c.targets.is_empty() {
                vec![None]
            } else {
                c.targets.iter().map(Some).collect()
            };
            let mut v = Vec::new();
            for t in targets {
                for release in [false, true] {
                    let mut cmd = cargo(ctx, &["build", "--workspace"]);
                    if release {
                        cmd.args.push("--release".into());
                    }
                    if let Some(t) = t {
                        cmd.args.extend(["--target".into(), t.clone()]);
                        cmd.requires_target = Some(t.clone());
                    }
                    v.push(cmd);
                }
            }
            v
        }
        StepKind::Doc => {
            let mut cmd = cargo(ctx, &["doc", "--workspace", "--no-deps"]);
            let existing = ctx
                .env
                .iter()
                .rev()
                .find(|(k, _)| k == "RUSTDOCFLAGS")
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var("RUSTDOCFLAGS").ok())
                .filter(|v| !v.trim().is_empty());
            let flags = match existing {
                Some(e) => format!("-D warnings {e}"),
                None => "-D warnings".to_string(),
            };
            cmd.env.push(("RUSTDOCFLAGS".into(), flags));
            vec![cmd]
        }
        StepKind::Test => {
            let profile = c.profile.as_deref().unwrap_or(gantry_config::CI_PROFILE);
            if c.tiers.is_empty() {
                vec![gantry(ctx, &["run", "--profile", profile])]
            } else {
                c.tiers
                    .iter()
                    .map(|t| gantry(ctx, &["run", "--tier", t, "--profile", profile]))
                    .collect()
            }
        }
        StepKind::Cover => vec![gantry(ctx, &["cover", "--check"])],
        StepKind::Leak => {
            let profile = c.profile.as_deref().unwrap_or("leak");
            vec![gantry(ctx, &["run", "--profile", profile])]
        }
        StepKind::Audit => {
            let db = config
                .advisory_db_for(def)
                .map_or("(none configured)".to_string(), |p| p.display().to_string());
            return vec![Action::Check(format!(
                "check Cargo.lock against the advisory database at {db}"
            ))];
        }
        StepKind::CommitFormat => {
            let base = ctx
                .base
                .clone()
                .or(c.base.clone())
                .unwrap_or_else(|| "merge-base with the default branch".into());
            let mut rules = "title <= 60 characters, blank second line, body lines <= 75 characters (except a lone URL)".to_string();
            if config.signed_off_by_for(def) {
                rules.push_str(", Signed-off-by: required");
            }
            return vec![Action::Check(format!(
                "check commit messages since {base}: {rules}"
            ))];
        }
        StepKind::Custom => match &c.command {
            Some(StepCommand::Shell(s)) => vec![CommandSpec {
                program: "sh".into(),
                args: vec!["-c".into(), s.clone()],
                env: Vec::new(),
                requires_target: None,
            }],
            Some(StepCommand::Argv(argv)) => vec![CommandSpec {
                program: argv[0].clone(),
                args: argv[1..].to_vec(),
                env: Vec::new(),
                requires_target: None,
            }],
            None => Vec::new(),
        },
    };
    for cmd in &mut cmds {
        cmd.env
            .extend(c.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    cmds.into_iter().map(Action::Command).collect()
}

/// Runs the planned steps in order and returns their results.
///
/// A failing step does not stop the run unless `ctx.fail_fast` is set; the
/// steps after it are then reported as skipped. `progress` is called as
/// steps start and finish. Fails only on a bad `--step`/`--skip` name or
/// when the log directory cannot be created.
pub fn run(
    config: &CiConfig,
    ctx: &CiContext,
    selection: &StepSelection,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<CiReport> {
    let start = Instant::now();
    let planned = plan(config, ctx, selection)?;
    let log_dir = ctx.log_dir();
    std::fs::create_dir_all(&log_dir).map_err(CiError::io("could not create", &log_dir))?;
    let total = planned.len();
    let mut report = CiReport::default();
    let mut installed_targets: Option<Option<BTreeSet<String>>> = None;
    let mut stopped_by: Option<String> = None;
    for (index, step) in planned.iter().enumerate() {
        progress(Progress::StepStarted {
            index,
            total,
            name: &step.name,
        });
        let skip = step.skip.clone().or_else(|| {
            stopped_by
                .as_ref()
                .map(|f| format!("not run: --fail-fast stopped the run after `{f}` failed"))
        });
        let result = match skip {
            Some(reason) => StepResult {
                name: step.name.clone(),
                kind: step.kind,
                status: StepStatus::Skipped { reason },
                duration: Duration::ZERO,
                log: None,
                notes: Vec::new(),
                findings: Vec::new(),
            },
            None => {
                let def = config.step_or_builtin(&step.name);
                run_step(
                    config,
                    ctx,
                    step,
                    def.as_ref(),
                    &log_dir,
                    &mut installed_targets,
                    progress,
                )
            }
        };
        if ctx.fail_fast && result.status.is_failure() && stopped_by.is_none() {
            stopped_by = Some(step.name.clone());
        }
        progress(Progress::StepFinished {
            index,
            total,
            result: &result,
        });
        report.steps.push(result);
    }
    report.duration = start.elapsed();
    Ok(report)
}

fn open_log(path: &Path) -> std::io::Result<File> {
    File::create(path)?;
    OpenOptions::new().append(true).open(path)
}

fn run_step(
    config: &CiConfig,
    ctx: &CiContext,
    step: &PlannedStep,
    def: Option<&StepDef>,
    log_dir: &Path,
    installed_targets: &mut Option<Option<BTreeSet<String>>>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> StepResult {
    let start = Instant::now();
    let log_path = log_dir.join(format!("{}.log", step.name));
    let mut result = StepResult {
        name: step.name.clone(),
        kind: step.kind,
        status: StepStatus::Passed,
        duration: Duration::ZERO,
        log: Some(log_path.clone()),
        notes: Vec::new(),
        findings: Vec::new(),
    };
    let mut log = match open_log(&log_path) {
        Ok(f) => f,
        Err(e) => {
            result.status = StepStatus::Failed {
                reason: format!("could not create the log `{}`: {e}", log_path.display()),
            };
            result.log = None;
            return result;
        }
    };
    let default_def;
    let def = match def {
        Some(d) => d,
        None => {
            default_def = StepDef {
                name: step.name.clone(),
                kind: step.kind,
                config: Default::default(),
                skipped_by_config: false,
            };
            &default_def
        }
    };
    match step.kind {
        StepKind::Audit => run_audit(config, ctx, def, &mut log, &mut result),
        StepKind::CommitFormat => run_commit_format(config, ctx, def, &mut log, &mut result),
        _ => run_commands(
            ctx,
            step,
            &mut log,
            &mut result,
            installed_targets,
            progress,
            start,
        ),
    }
    result.duration = start.elapsed();
    let _ = writeln!(
        log,
        "\n== step `{}`: {} in {:.1}s",
        step.name,
        result.status.label(),
        result.duration.as_secs_f64()
    );
    result
}

#[allow(clippy::too_many_arguments)]
fn run_commands(
    ctx: &CiContext,
    step: &PlannedStep,
    log: &mut File,
    result: &mut StepResult,
    installed_targets: &mut Option<Option<BTreeSet<String>>>,
    progress: &mut dyn FnMut(Progress<'_>),
    start: Instant,
) {
    let deadline = start + step.timeout;
    let mut failed: Vec<String> = Vec::new();
    let mut ran = 0usize;
    let mut missing_targets: Vec<String> = Vec::new();
    for action in &step.actions {
        let Action::Command(cmd) = action else {
            continue;
        };
        if let Some(t) = &cmd.requires_target {
            let installed = installed_targets.get_or_insert_with(|| rustup_targets(ctx));
            match installed {
                Some(set) if !set.contains(t) => {
                    if !missing_targets.contains(t) {
                        missing_targets.push(t.clone());
                        let note = format!(
                            "target `{t}` is not installed, so it was not built; install it with `rustup target add {t}`"
                        );
                        let _ = writeln!(log, "== skipped: {note}");
                        result.notes.push(note);
                    }
                    continue;
                }
                Some(_) => {}
                None => {
                    if !missing_targets.contains(t) {
                        missing_targets.push(t.clone());
                        result.notes.push(format!(
                            "could not run `rustup target list --installed`; building for `{t}` anyway"
                        ));
                    }
                }
            }
        }
        progress(Progress::CommandStarted {
            step: &step.name,
            command: cmd,
        });
        let _ = writeln!(log, "$ {}", cmd.command_line());
        let _ = log.flush();
        let mut env = ctx.env.clone();
        env.extend(cmd.env.iter().cloned());
        let cmd_start = Instant::now();
        let ended = process::run(
            &process::Job {
                program: &cmd.program,
                args: &cmd.args,
                env: &env,
                cwd: &ctx.workspace_root,
            },
            log,
            deadline,
            ctx.kill_grace,
        );
        ran += 1;
        let secs = cmd_start.elapsed().as_secs_f64();
        match ended {
            Ended::Exited(status) if status.success() => {
                let _ = writeln!(log, "== ok in {secs:.1}s\n");
            }
            Ended::Exited(status) => {
                let how = process::describe(status);
                let _ = writeln!(log, "== failed with {how} after {secs:.1}s\n");
                failed.push(format!("`{cmd}` failed with {how}"));
            }
            Ended::SpawnFailed(e) => {
                let _ = writeln!(log, "== could not start: {e}\n");
                failed.push(format!("`{cmd}` could not be started: {e}"));
            }
            Ended::TimedOut => {
                let _ = writeln!(
                    log,
                    "== timed out: the step's limit of {} was reached; its process group was killed\n",
                    humantime::format_duration(step.timeout)
                );
                result.findings.extend(failed);
                result.findings.push(format!(
                    "`{cmd}` was still running when the step's timeout of {} expired; it was killed with its process group (raise `timeout` in [ci.step.{}] if the step needs longer)",
                    humantime::format_duration(step.timeout),
                    step.name
                ));
                result.status = StepStatus::TimedOut {
                    timeout: step.timeout,
                };
                return;
            }
        }
    }
    if ran == 0 && !missing_targets.is_empty() {
        result.status = StepStatus::Skipped {
            reason: format!(
                "no configured target is installed: {}",
                missing_targets
                    .iter()
                    .map(|t| format!("`rustup target add {t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return;
    }
    if !failed.is_empty() {
        result.status = StepStatus::Failed {
            reason: if failed.len() == 1 {
                failed[0].clone()
            } else {
                format!("{} commands failed, first: {}", failed.len(), failed[0])
            },
        };
        result.findings.extend(failed);
    }
}

/// The installed rustup targets, or `None` when rustup cannot tell.
fn rustup_targets(ctx: &CiContext) -> Option<BTreeSet<String>> {
    let out = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(&ctx.workspace_root)
        .envs(ctx.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

fn run_audit(
    config: &CiConfig,
    ctx: &CiContext,
    def: &StepDef,
    log: &mut File,
    result: &mut StepResult,
) {
    let Some(db) = config.advisory_db_for(def) else {
        // plan() skips the step in this case; keep the message if called directly.
        result.status = StepStatus::Skipped {
            reason: "no advisory database configured".into(),
        };
        return;
    };
    let db = ctx.workspace_root.join(db);
    let lock = ctx.workspace_root.join("Cargo.lock");
    let _ = writeln!(log, "$ audit {} against {}", lock.display(), db.display());
    match audit::audit_files(&lock, &db, &def.config.ignore) {
        Err(e) => {
            let _ = writeln!(log, "error: {e}");
            result.status = StepStatus::Failed {
                reason: e.to_string(),
            };
        }
        Ok(report) => {
            let _ = writeln!(
                log,
                "checked {} packages against {} advisories",
                report.packages_checked, report.advisories_loaded
            );
            for w in &report.warnings {
                let _ = writeln!(log, "warning: {w}");
                result.notes.push(w.to_string());
            }
            for id in &report.ignored {
                let note = format!("{id} is ignored by `ignore` in [ci.step.{}]", def.name);
                let _ = writeln!(log, "note: {note}");
                result.notes.push(note);
            }
            for v in &report.vulnerabilities {
                let _ = writeln!(log, "error: {v}");
                result.findings.push(v.to_string());
            }
            if !report.vulnerabilities.is_empty() {
                result.status = StepStatus::Failed {
                    reason: format!(
                        "{} vulnerable {} in Cargo.lock",
                        report.vulnerabilities.len(),
                        if report.vulnerabilities.len() == 1 {
                            "dependency"
                        } else {
                            "dependencies"
                        }
                    ),
                };
            }
        }
    }
}

fn run_commit_format(
    config: &CiConfig,
    ctx: &CiContext,
    def: &StepDef,
    log: &mut File,
    result: &mut StepResult,
) {
    if !commits::is_git_repo(&ctx.workspace_root) {
        let _ = writeln!(log, "not a git repository: nothing to check");
        result.status = StepStatus::Skipped {
            reason: format!(
                "`{}` is not a git repository, so no commit was checked",
                ctx.workspace_root.display()
            ),
        };
        return;
    }
    let rules = commits::CommitRules {
        signed_off_by: config.signed_off_by_for(def),
        ..Default::default()
    };
    let base = ctx.base.clone().or(def.config.base.clone());
    match commits::check_repo(&ctx.workspace_root, base.as_deref(), &rules) {
        Err(e) => {
            let _ = writeln!(log, "error: {e}");
            result.status = StepStatus::Failed {
                reason: e.to_string(),
            };
        }
        Ok(outcome) => {
            let _ = writeln!(log, "{}", outcome.range.description);
            result.notes.push(outcome.range.description.clone());
            for v in &outcome.violations {
                let _ = writeln!(log, "error: {v}");
                result.findings.push(v.to_string());
            }
            if !outcome.violations.is_empty() {
                let commits: BTreeSet<&str> = outcome
                    .violations
                    .iter()
                    .map(|v| v.short_hash.as_str())
                    .collect();
                result.status = StepStatus::Failed {
                    reason: format!(
                        "{} rule {} in {} commit{}",
                        outcome.violations.len(),
                        if outcome.violations.len() == 1 {
                            "violation"
                        } else {
                            "violations"
                        },
                        commits.len(),
                        if commits.len() == 1 { "" } else { "s" }
                    ),
                };
            }
        }
    }
}
