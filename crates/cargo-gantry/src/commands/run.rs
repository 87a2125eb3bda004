//! `cargo gantry run`.

use std::path::PathBuf;

use gantry_config::{GantryConfig, Jobs, ResolvedProfile};
use gantry_runner::report::{
    ConsoleOptions, ConsoleReporter, Fanout, JsonLinesReporter, JunitReporter,
};
use gantry_runner::run::{self, Prepared, RunRequest};

use crate::cli::{MessageFormat, RunArgs};
use gantry_metadata::ExitCode;
use gantry_runner::RunnerError;

use super::{build_options, print_warnings, test_filter};
use crate::error::CliError;
use crate::printer::Printer;

fn resolve_profile(config: &GantryConfig, args: &RunArgs) -> Result<ResolvedProfile, RunnerError> {
    let mut profile = config.profile(&args.profile)?;
    if let Some(j) = &args.jobs {
        profile.jobs = match j.as_str() {
            "auto" => Jobs::Auto,
            n => match n.parse::<usize>() {
                Ok(n) if n > 0 => Jobs::Fixed(n),
                _ => {
                    return Err(RunnerError::Usage(format!(
                        "invalid value `{j}` for --jobs: expected a positive number or `auto`"
                    )))
                }
            },
        };
    }
    if let Some(e) = args.execution {
        profile.execution = e;
    }
    if let Some(r) = args.retries {
        profile.retries = r;
    }
    if args.fail_fast {
        profile.fail_fast = true;
    }
    if args.no_fail_fast {
        profile.fail_fast = false;
    }
    if let Some(m) = args.max_fail {
        if m == 0 {
            return Err(RunnerError::Usage("--max-fail must be at least 1".into()));
        }
        profile.max_fail = Some(m);
        profile.fail_fast = false;
    }
    if let Some(f) = args.failure_output {
        profile.failure_output = f.into();
    }
    if let Some(j) = &args.junit {
        profile.junit = Some(j.clone());
    }
    Ok(profile)
}

pub(crate) fn run_tests(args: RunArgs, printer: &Printer) -> Result<i32, CliError> {
    let build = build_options(&args.build);
    // Configuration, profile and filters are checked before anything is built.
    let workspace = run::load_workspace(&build)?;
    let (root, config) = (workspace.root.clone(), &workspace.config);
    print_warnings(config, printer);
    let profile = resolve_profile(config, &args)?;
    let filter = test_filter(&args.filter, config)?;
    let cwd = std::env::current_dir().map_err(RunnerError::io("could not read", "."))?;
    let mut prepared: Prepared = run::prepare(&build, &cwd, workspace)?;
    let mut selection = filter.select(&prepared.list, &prepared.history);
    let target_dir = build
        .target_dir
        .clone()
        .unwrap_or_else(|| prepared.list.target_dir.clone());
    let (run_id, run_dir) = run::create_run_dir(&target_dir)?;
    let external = if args.doc {
        let (results, skipped) =
            run::run_doctests(&build, &cwd, &prepared.list, &filter, &run_dir)?;
        selection.skipped.extend(skipped);
        results
    } else {
        Vec::new()
    };
    if selection.selected.is_empty() && external.is_empty() {
        printer.error(&format!(
            "no tests matched ({}); {} tests are listed in {} binaries. `cargo gantry list` shows them.",
            filter.describe(),
            prepared.list.tests.len(),
            prepared.list.binaries.len()
        ));
        run::abandon_run_dir(&run_dir);
        return Ok(ExitCode::NO_TESTS_MATCHED);
    }

    let mut fanout = Fanout::default();
    match args.message_format {
        MessageFormat::Human => fanout.push(Box::new(ConsoleReporter::new(
            printer.stderr_writer(),
            ConsoleOptions {
                color: printer.color,
                progress: printer.stderr_tty && !args.no_capture,
                failure_output: profile.failure_output,
                verbose: printer.verbose,
            },
        ))),
        MessageFormat::Json => fanout.push(Box::new(JsonLinesReporter::new(Box::new(
            std::io::stdout(),
        )))),
    }
    // The run directory always keeps the events; `--events` adds a copy.
    let mut event_files: Vec<PathBuf> = vec![run_dir.join("events.jsonl")];
    event_files.extend(args.events.clone());
    for path in event_files {
        let file =
            std::fs::File::create(&path).map_err(RunnerError::io("could not create", &path))?;
        fanout.push(Box::new(JsonLinesReporter::new(Box::new(
            std::io::BufWriter::new(file),
        ))));
    }
    if let Some(junit) = &profile.junit {
        let path = if junit.is_absolute() {
            junit.clone()
        } else {
            root.join(junit)
        };
        fanout.push(Box::new(JunitReporter::new(path)));
    }
    let summary = run::execute(
        &mut prepared,
        RunRequest {
            profile: &profile,
            selection,
            no_capture: args.no_capture,
            external,
        },
        run_id,
        run_dir,
        &mut fanout,
        None,
    )?;
    Ok(summary.exit_code)
}
