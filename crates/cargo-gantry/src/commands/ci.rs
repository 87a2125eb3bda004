//! `cargo gantry ci`: the project's checks, the same on a laptop and in CI,
//! and the pipelines that call them.

use gantry_ci::{CiConfig, CiContext, PipelineCheck, PipelineKind, Progress, StepSelection};
use gantry_metadata::ExitCode;
use gantry_runner::list::BuildOptions;
use gantry_runner::run;
use gantry_runner::RunnerError;

use super::print_warnings;
use crate::cli::{CiArgs, CiCommand, GenerateArgs};
use crate::error::CliError;
use crate::printer::Printer;

/// Shards a generated pipeline has when neither `--shards` nor the config says.
const DEFAULT_SHARDS: usize = 2;

pub(crate) fn ci(args: CiArgs, printer: &Printer) -> Result<i32, CliError> {
    let build = BuildOptions {
        manifest_path: args.manifest_path.clone(),
        ..Default::default()
    };
    let mut workspace = run::load_workspace(&build)?;
    print_warnings(&workspace.config, printer);
    let config = CiConfig::from_gantry(&workspace.config)?;
    for w in &config.warnings {
        printer.warning(w);
    }
    if let Some(CiCommand::Generate(g)) = args.command {
        return generate(g, &config, &workspace.root, printer);
    }
    let gantry =
        std::env::current_exe().map_err(RunnerError::io("could not locate", "cargo-gantry"))?;
    let target_dir = workspace
        .metadata()?
        .target_directory
        .clone()
        .into_std_path_buf();
    let mut ctx = CiContext::new(workspace.root.clone(), target_dir, gantry);
    ctx.fail_fast = args.fail_fast;
    ctx.base = args.base.clone();
    let selection = StepSelection {
        only: args.step.clone(),
        skip: args.skip.clone(),
    };
    if args.list {
        for step in gantry_ci::plan(&config, &ctx, &selection)? {
            let timeout = humantime_secs(step.timeout.as_secs());
            match &step.skip {
                Some(reason) => printer.out(&format!("{:<16} skipped: {reason}", step.name)),
                None => printer.out(&format!("{:<16} timeout {timeout}", step.name)),
            }
            for action in &step.actions {
                printer.out(&format!("    {action}"));
            }
        }
        return Ok(ExitCode::OK);
    }
    printer.note(&format!(
        "{:>12} {:<16} {:<10} {:>9}",
        "", "step", "status", "time"
    ));
    let mut on_progress = |p: Progress<'_>| match p {
        Progress::StepStarted { index, total, name } => {
            if printer.verbose {
                printer.note(&format!("{:>12} {name} ({}/{total})", "Running", index + 1));
            }
        }
        Progress::CommandStarted { command, .. } => {
            if printer.verbose {
                printer.note(&format!("{:>12} {command}", ""));
            }
        }
        Progress::StepFinished { result, .. } => {
            printer.note(&format!(
                "{:>12} {:<16} {:<10} {:>8.2}s",
                "",
                result.name,
                result.status.label(),
                result.duration.as_secs_f64()
            ));
        }
    };
    let report = gantry_ci::run(&config, &ctx, &selection, &mut on_progress)?;
    for step in &report.steps {
        for note in &step.notes {
            printer.note(&format!("note: {}: {note}", step.name));
        }
    }
    for failed in report.failures() {
        printer.error(&format!(
            "step `{}` {}",
            failed.name,
            describe(&failed.status)
        ));
        for finding in &failed.findings {
            printer.note(&format!("    {finding}"));
        }
        let tail = failed.log_tail(40);
        if !tail.trim().is_empty() {
            printer.note(&tail);
        }
        if let Some(log) = &failed.log {
            printer.note(&format!("    full output: {}", log.display()));
        }
    }
    let passed = report
        .steps
        .iter()
        .filter(|s| matches!(s.status, gantry_ci::StepStatus::Passed))
        .count();
    let skipped = report
        .steps
        .iter()
        .filter(|s| matches!(s.status, gantry_ci::StepStatus::Skipped { .. }))
        .count();
    let failed = report.steps.len() - passed - skipped;
    printer.note(&format!(
        "ci steps: {passed} passed, {failed} failed, {skipped} skipped in {:.1}s",
        report.duration.as_secs_f64()
    ));
    Ok(report.exit_code())
}

fn describe(status: &gantry_ci::StepStatus) -> String {
    match status {
        gantry_ci::StepStatus::Failed { reason } => format!("failed: {reason}"),
        gantry_ci::StepStatus::TimedOut { timeout } => format!(
            "timed out after {} (its process group was killed)",
            humantime_secs(timeout.as_secs())
        ),
        other => other.label().to_string(),
    }
}

fn humantime_secs(secs: u64) -> String {
    if secs.is_multiple_of(60) && secs >= 60 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

fn generate(
    args: GenerateArgs,
    config: &CiConfig,
    root: &std::path::Path,
    printer: &Printer,
) -> Result<i32, CliError> {
    let kind: PipelineKind = args.kind.parse()?;
    let shards = args.shards.or(config.shards).unwrap_or(DEFAULT_SHARDS);
    if shards == 0 {
        return Err(RunnerError::Usage("--shards must be at least 1".into()).into());
    }
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| root.join(kind.default_path()));
    if args.check {
        return Ok(
            match gantry_ci::check_pipeline(kind, shards, config, &path)? {
                PipelineCheck::UpToDate => {
                    printer.note(&format!("{} is up to date", path.display()));
                    ExitCode::OK
                }
                PipelineCheck::Missing => {
                    printer.error(&format!(
                        "{} does not exist; run `cargo gantry ci generate {} --shards {shards}`",
                        path.display(),
                        kind.as_str()
                    ));
                    ExitCode::GATE_FAILED
                }
                PipelineCheck::OutOfDate(diff) => {
                    printer.error(&format!(
                    "{} is out of date with .config/gantry.toml ({} lines added, {} removed); run `cargo gantry ci generate {} --shards {shards}`",
                    path.display(),
                    diff.added,
                    diff.removed,
                    kind.as_str()
                ));
                    for line in &diff.first_changes {
                        printer.note(&format!("    {line}"));
                    }
                    ExitCode::GATE_FAILED
                }
            },
        );
    }
    let text = gantry_ci::generate(kind, shards, config);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(RunnerError::io("could not create", dir))?;
    }
    std::fs::write(&path, text).map_err(RunnerError::io("could not write", &path))?;
    printer.note(&format!("wrote {} ({shards} test shards)", path.display()));
    Ok(ExitCode::OK)
}
