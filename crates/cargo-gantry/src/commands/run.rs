//! `cargo gantry run`.

use std::path::PathBuf;

use gantry_ci::ResultsDir;
use gantry_config::{GantryConfig, Jobs, ResolvedProfile};
use gantry_runner::fixture::WorkspaceBins;
use gantry_runner::report::{
    ConsoleOptions, ConsoleReporter, Fanout, JsonLinesReporter, JunitReporter,
};
use gantry_runner::run::{self, Prepared, RunRequest};
use gantry_runner::schedule::History;

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

/// What a coverage run adds to an ordinary one.
#[derive(Debug, Default)]
pub(crate) struct RunExtras {
    /// Environment for cargo (the instrumenting rustc wrapper).
    pub build_env: Vec<(String, String)>,
    /// A target directory of its own.
    pub target_dir: Option<PathBuf>,
    /// Environment for every test process.
    pub test_env: Vec<(String, String)>,
    /// Environment for every fixture process.
    pub fixture_env: Vec<(String, String)>,
}

/// How a run ended, with what the coverage report needs.
pub(crate) struct RunOutcome {
    /// The exit code of the run.
    pub exit_code: i32,
    /// The built and listed tests (absent when nothing ran).
    pub prepared: Option<Prepared>,
}

fn build_for(args: &RunArgs, extras: &RunExtras) -> gantry_runner::list::BuildOptions {
    let mut build = build_options(&args.build);
    build.env.extend(extras.build_env.iter().cloned());
    if let Some(dir) = &extras.target_dir {
        build.target_dir = Some(dir.clone());
    }
    build
}

/// Where the tests come from: a fresh build, or an archive.
fn prepare(
    args: &RunArgs,
    printer: &Printer,
    extras: &RunExtras,
) -> Result<
    (
        PathBuf,
        Prepared,
        ResolvedProfile,
        gantry_runner::select::TestFilter,
    ),
    CliError,
> {
    let build = build_for(args, extras);
    let cwd = std::env::current_dir().map_err(RunnerError::io("could not read", "."))?;
    if let Some(archive) = &args.archive {
        let remap = args
            .workspace_remap
            .clone()
            .expect("clap requires --workspace-remap with --archive");
        let config = GantryConfig::load(&remap)?;
        print_warnings(&config, printer);
        let profile = resolve_profile(&config, args)?;
        let filter = test_filter(&args.filter, &config)?;
        let dest = remap.join("target").join("gantry").join("extracted");
        let extracted = gantry_ci::extract(archive, &remap, &dest)?;
        let history_path = History::path_in(&extracted.list.target_dir);
        let mut history = History::load(&history_path);
        if let Some(archived) = &extracted.history {
            // Durations recorded where the archive was built feed the
            // `duration:` partition of every shard alike.
            history.merge(&History::load(archived));
        }
        let bins = WorkspaceBins {
            targets: extracted
                .bins
                .keys()
                .map(|k| (k.clone(), String::new()))
                .collect(),
            built: extracted.bins.clone(),
        };
        let root = std::fs::canonicalize(&remap).unwrap_or(remap);
        let prepared = Prepared {
            list: extracted.list,
            history,
            config,
            bins,
            build,
            cwd: root.clone(),
            libraries: Vec::new(),
        };
        return Ok((root, prepared, profile, filter));
    }
    // Configuration, profile and filters are checked before anything is built.
    let workspace = run::load_workspace(&build)?;
    let root = workspace.root.clone();
    print_warnings(&workspace.config, printer);
    let profile = resolve_profile(&workspace.config, args)?;
    let filter = test_filter(&args.filter, &workspace.config)?;
    let prepared = run::prepare(&build, &cwd, workspace)?;
    Ok((root, prepared, profile, filter))
}

pub(crate) fn run_tests(args: RunArgs, printer: &Printer) -> Result<i32, CliError> {
    Ok(run_with(args, printer, RunExtras::default())?.exit_code)
}

/// A run, with whatever `extras` add.
pub(crate) fn run_with(
    args: RunArgs,
    printer: &Printer,
    extras: RunExtras,
) -> Result<RunOutcome, CliError> {
    let build = build_for(&args, &extras);
    let cwd = std::env::current_dir().map_err(RunnerError::io("could not read", "."))?;
    let (root, mut prepared, profile, filter) = prepare(&args, printer, &extras)?;
    let mut selection = filter.select(&prepared.list, &prepared.history);
    let results = args
        .results
        .as_ref()
        .map(|d| ResultsDir::create(cwd.join(d)))
        .transpose()?;
    let (run_id, run_dir) = match &results {
        // Per-test logs go with the results, to be collected as artifacts.
        Some(r) => (run::new_run_id(), r.logs_dir()),
        None => {
            let target_dir = build
                .target_dir
                .clone()
                .unwrap_or_else(|| prepared.list.target_dir.clone());
            run::create_run_dir(&target_dir)?
        }
    };
    let external = if args.doc && args.archive.is_none() {
        let (results, skipped) =
            run::run_doctests(&build, &cwd, &prepared.list, &filter, &run_dir)?;
        selection.skipped.extend(skipped);
        results
    } else {
        Vec::new()
    };
    // A shard may legitimately get no test; it still records an (empty)
    // run so that `merge` sees it.
    let empty_shard_ok = results.is_some() && filter.partition.is_some();
    if selection.selected.is_empty() && external.is_empty() && !empty_shard_ok {
        printer.error(&format!(
            "no tests matched ({}); {} tests are listed in {} binaries. `cargo gantry list` shows them.",
            filter.describe(),
            prepared.list.tests.len(),
            prepared.list.binaries.len()
        ));
        run::abandon_run_dir(&run_dir);
        return Ok(RunOutcome {
            exit_code: ExitCode::NO_TESTS_MATCHED,
            prepared: None,
        });
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
    // The run directory always keeps the events; `--events` and
    // `--results` add copies.
    let mut event_files: Vec<PathBuf> = vec![run_dir.join("events.jsonl")];
    event_files.extend(args.events.clone());
    event_files.extend(results.as_ref().map(|r| r.events_path()));
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
    let mut db_hooks =
        super::db::DbHooks::for_run(&root, &prepared.config, &selection.selected, printer)?;
    let summary = run::execute(
        &mut prepared,
        RunRequest {
            profile: &profile,
            selection,
            no_capture: args.no_capture,
            external,
            test_env: extras.test_env,
            fixture_env: extras.fixture_env,
        },
        run_id,
        run_dir,
        &mut fanout,
        db_hooks
            .as_mut()
            .map(|h| h as &mut dyn gantry_runner::execute::UnitHooks),
    )?;
    drop(fanout);
    if let Some(r) = &results {
        let partition = args.filter.partition.as_deref();
        r.finish(partition)?;
    }
    Ok(RunOutcome {
        exit_code: summary.exit_code,
        prepared: Some(prepared),
    })
}
