//! `cargo gantry cover`: coverage of the tests and of the services they
//! drive, merged, reported, and held to a ratchet.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gantry_cover::ratchet::{self, Measurement, Ratchet};
use gantry_cover::{
    render, CoverSession, CoverageReport, ExportRequest, IgnoreRules, LlvmTools, ProfileMerger,
};
use gantry_metadata::ExitCode;
use gantry_runner::list::BuildOptions;
use gantry_runner::run;
use gantry_runner::RunnerError;

use super::build_options;
use super::run::{run_with, RunExtras};
use crate::cli::{CoverArgs, CoverCommand, GateArgs, ReportArgs};
use crate::error::CliError;
use crate::printer::Printer;

/// How often profiles are merged while tests run, so long suites do not
/// fill the disk with raw profiles.
const MERGE_INTERVAL: Duration = Duration::from_secs(2);

pub(crate) fn cover(args: CoverArgs, printer: &Printer) -> Result<i32, CliError> {
    match args.command {
        Some(CoverCommand::Env(env)) => {
            let build = BuildOptions {
                manifest_path: env.manifest_path,
                ..Default::default()
            };
            let session = session_for(&build)?;
            session.prepare()?;
            printer.out(
                session
                    .manual_env_script(std::env::var("RUSTFLAGS").ok().as_deref())
                    .trim_end(),
            );
            Ok(ExitCode::OK)
        }
        Some(CoverCommand::Report(r)) => {
            let r = *r;
            let build = build_options(&r.build);
            report_only(&build, &r.merge, &r.report, &r.gate, printer)
        }
        None => cover_run(args, printer),
    }
}

fn session_for(build: &BuildOptions) -> Result<CoverSession, CliError> {
    let mut workspace = run::load_workspace(build)?;
    let target = match &build.target_dir {
        Some(t) => t.clone(),
        None => workspace
            .metadata()?
            .target_directory
            .clone()
            .into_std_path_buf(),
    };
    let exe =
        std::env::current_exe().map_err(RunnerError::io("could not locate", "cargo-gantry"))?;
    Ok(CoverSession::new(&workspace.root, &target, &exe))
}

/// The default exclusions, those the ratchet file recorded, and the user's.
fn ignore_rules(
    session: &CoverSession,
    report: &ReportArgs,
    printer: &Printer,
) -> Result<IgnoreRules, CliError> {
    let mut ignore = session.ignore_rules(report.include_test_sources);
    if let Some(r) = Ratchet::load(&Ratchet::path_in(&session.workspace_root))? {
        for w in r.warnings() {
            printer.warning(w);
        }
        if let Some(entry) = r.entry(ratchet::host_arch()) {
            for regex in &entry.ignore_filename_regex {
                ignore.add(regex)?;
            }
        }
    }
    for regex in &report.ignore_filename_regex {
        if !ignore.user_regexes().contains(regex) {
            ignore.add(regex)?;
        }
    }
    Ok(ignore)
}

fn cover_run(args: CoverArgs, printer: &Printer) -> Result<i32, CliError> {
    // Missing tools fail before a long instrumented build.
    let tools = LlvmTools::find()?;
    let build = build_options(&args.run.build);
    let session = session_for(&build)?;
    session.clean()?;
    let ignore = ignore_rules(&session, &args.report, printer)?;
    let merger = ProfileMerger::new(tools.clone(), &session.paths).spawn(Some(MERGE_INTERVAL));
    let extras = RunExtras {
        build_env: session.build_env(),
        target_dir: Some(session.paths.target_dir.clone()),
        test_env: session.test_env(),
        fixture_env: session.fixture_env("fixture"),
    };
    let features = build.features.clone();
    let outcome = run_with(args.run, printer, extras)?;
    let merged = merger.finish()?;
    for w in &merged.warnings {
        printer.warning(&w.to_string());
    }
    let Some(prepared) = outcome.prepared else {
        return Ok(outcome.exit_code);
    };
    warn_killed_fixtures(&session.paths.target_dir, printer);
    let Some(profdata) = merged.profdata else {
        printer.error("no coverage data: no instrumented process wrote a profile");
        return Ok(outcome.exit_code.max(ExitCode::INTERNAL_ERROR));
    };
    let objects = instrumented_objects(
        prepared.list.binaries.iter().map(|b| b.path.clone()),
        prepared.bins.built.values().cloned(),
    );
    let report = export(
        &tools,
        &profdata,
        &objects,
        &ignore,
        &session.workspace_root,
        printer,
    )?;
    let gate = write_and_gate(
        &report,
        &args.report,
        &args.gate,
        &ignore,
        features,
        &session.workspace_root,
        printer,
    )?;
    // Test failures say more than a coverage figure measured on them.
    Ok(if outcome.exit_code != ExitCode::OK {
        outcome.exit_code
    } else {
        gate
    })
}

fn report_only(
    build: &BuildOptions,
    merge: &[PathBuf],
    report_args: &ReportArgs,
    gate: &GateArgs,
    printer: &Printer,
) -> Result<i32, CliError> {
    let tools = LlvmTools::find()?;
    let session = session_for(build)?;
    session.prepare()?;
    let ignore = ignore_rules(&session, report_args, printer)?;
    let profdata = if merge.is_empty() {
        let merged = ProfileMerger::new(tools.clone(), &session.paths).finish()?;
        for w in &merged.warnings {
            printer.warning(&w.to_string());
        }
        merged.profdata
    } else {
        let out = session.paths.target_dir.join("merged.profdata");
        for w in gantry_cover::merge_inputs(&tools, merge, &out)? {
            printer.warning(&w.to_string());
        }
        Some(out)
    };
    let Some(profdata) = profdata else {
        printer.error(
            "no coverage data: run `cargo gantry cover` first, or pass profiles with --merge",
        );
        return Ok(ExitCode::INTERNAL_ERROR);
    };
    // The instrumented build is up to date after `cover`; listing it again
    // gives the objects without building anything new.
    let mut cover_build = build.clone();
    cover_build.env.extend(session.build_env());
    cover_build.target_dir = Some(session.paths.target_dir.clone());
    let cwd = std::env::current_dir().map_err(RunnerError::io("could not read", "."))?;
    let built = gantry_runner::list::build_tests(&cover_build, &cwd)?;
    let objects = instrumented_objects(
        built.test_binaries.iter().map(|b| b.path.clone()),
        built
            .bin_executables
            .values()
            .flat_map(|m| m.values().cloned()),
    );
    let report = export(
        &tools,
        &profdata,
        &objects,
        &ignore,
        &session.workspace_root,
        printer,
    )?;
    write_and_gate(
        &report,
        report_args,
        gate,
        &ignore,
        build.features.clone(),
        &session.workspace_root,
        printer,
    )
}

/// Every executable whose processes may have written profiles: the test
/// binaries and the workspace's binaries (which tests and fixtures run).
fn instrumented_objects(
    tests: impl Iterator<Item = PathBuf>,
    bins: impl Iterator<Item = PathBuf>,
) -> Vec<PathBuf> {
    let mut objects: Vec<PathBuf> = tests.chain(bins).collect();
    objects.sort();
    objects.dedup();
    objects
}

fn export(
    tools: &LlvmTools,
    profdata: &Path,
    objects: &[PathBuf],
    ignore: &IgnoreRules,
    root: &Path,
    printer: &Printer,
) -> Result<CoverageReport, CliError> {
    let (report, warnings) = gantry_cover::export_report(
        tools,
        &ExportRequest {
            profdata,
            objects,
            ignore,
            source_root: root,
        },
    )?;
    for w in warnings {
        printer.warning(&w.to_string());
    }
    Ok(report)
}

/// Prints the summary, writes the requested formats and applies the gate.
fn write_and_gate(
    report: &CoverageReport,
    args: &ReportArgs,
    gate: &GateArgs,
    ignore: &IgnoreRules,
    features: Vec<String>,
    root: &Path,
    printer: &Printer,
) -> Result<i32, CliError> {
    if let Some(p) = &args.lcov {
        render::write_file(p, &render::lcov(report))?;
    }
    if let Some(p) = &args.cobertura {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        render::write_file(p, &render::cobertura(report, now))?;
    }
    if let Some(p) = &args.json {
        render::write_file(p, &render::json(report))?;
    }
    if let Some(d) = &args.html {
        render::write_html(report, d)?;
        printer.note(&format!("HTML report: {}", d.join("index.html").display()));
    }
    printer.out(render::summary_text(report).trim_end());
    let measurement = Measurement {
        lines_percent: report.totals.lines.percent(),
        ignore_filename_regex: ignore.user_regexes().to_vec(),
        features,
    };
    let path = Ratchet::path_in(root);
    if gate.check {
        let pass = ratchet::check(&path, ratchet::host_arch(), &measurement)?;
        printer.note(&pass.message());
    } else if gate.update {
        let updated = ratchet::update(&path, ratchet::host_arch(), &measurement, gate.allow_lower)?;
        printer.note(&updated.message());
    }
    Ok(ExitCode::OK)
}

/// A fixture that had to be SIGKILLed wrote no profile: say which.
fn warn_killed_fixtures(cover_target: &Path, printer: &Printer) {
    let events = cover_target
        .join("gantry")
        .join("runs")
        .join("latest")
        .join("events.jsonl");
    let Ok(text) = std::fs::read_to_string(events) else {
        return;
    };
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["type"] == "fixture-stopped"
            && v["how"].as_str().is_some_and(|h| h.contains("SIGKILL"))
        {
            let name = v["name"].as_str().unwrap_or("?");
            printer.warning(&format!(
                "fixture `{name}` had to be killed with SIGKILL, so its coverage is lost ({}); give it a longer stop grace period or make it exit on its stop signal",
                v["how"].as_str().unwrap_or("")
            ));
        }
    }
}
