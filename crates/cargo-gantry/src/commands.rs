//! The commands: each turns arguments into library calls and the result
//! into output and an exit code.

use std::path::PathBuf;

use gantry_config::{GantryConfig, Jobs, ResolvedProfile};
use gantry_filter::FilterExpr;
use gantry_metadata::ExitCode;
use gantry_runner::list::BuildOptions;
use gantry_runner::report::{
    ConsoleOptions, ConsoleReporter, Fanout, JsonLinesReporter, JunitReporter,
};
use gantry_runner::run::{self, Prepared, RunRequest};
use gantry_runner::schedule::Partition;
use gantry_runner::select::TestFilter;
use gantry_runner::RunnerError;

use crate::cli::{
    BuildArgs, Cli, Command, FilterArgs, FixtureCommand, FixtureUpArgs, ListArgs, ListFormat,
    MessageFormat, RunArgs, ShowConfigArgs,
};
use crate::printer::Printer;

/// Runs a command and returns the process exit code.
pub fn dispatch(cli: Cli, printer: &Printer) -> i32 {
    let result = match cli.command {
        Command::List(args) => list(args, printer),
        Command::Run(args) => run_tests(args, printer),
        Command::ShowConfig(args) => show_config(args, printer),
        Command::Fixture(FixtureCommand::Up(args)) => fixture_up(args, printer),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            printer.error(&err.to_string());
            exit_code_for(&err)
        }
    }
}

/// The documented exit code for an error.
fn exit_code_for(err: &RunnerError) -> i32 {
    match err {
        RunnerError::BuildFailed { .. } => ExitCode::BUILD_FAILED,
        RunnerError::ListFailed { .. } => ExitCode::LIST_FAILED,
        RunnerError::Config(_) | RunnerError::Usage(_) | RunnerError::Filter(_) => {
            ExitCode::USAGE_ERROR
        }
        RunnerError::Metadata(_) => ExitCode::USAGE_ERROR,
        RunnerError::Fixture(e) if e.is_interrupted() => ExitCode::INTERRUPTED,
        RunnerError::Fixture(e) if e.is_usage_error() => ExitCode::USAGE_ERROR,
        RunnerError::Fixture(_) => ExitCode::SETUP_FAILED,
        _ => ExitCode::INTERNAL_ERROR,
    }
}

fn build_options(b: &BuildArgs) -> BuildOptions {
    let mut cargo_flags = Vec::new();
    for (flag, on) in [
        ("--locked", b.locked),
        ("--offline", b.offline),
        ("--frozen", b.frozen),
    ] {
        if on {
            cargo_flags.push(flag.to_string());
        }
    }
    BuildOptions {
        manifest_path: b.manifest_path.clone(),
        packages: b.package.clone(),
        workspace: b.workspace,
        exclude: b.exclude.clone(),
        features: b
            .features
            .iter()
            .flat_map(|f| f.split([',', ' ']))
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        all_features: b.all_features,
        no_default_features: b.no_default_features,
        release: b.release,
        cargo_profile: b.cargo_profile.clone(),
        target_dir: b.target_dir.clone(),
        lib: b.lib,
        bins: b.bins,
        tests: b.tests,
        test: b.test.clone(),
        examples: b.examples,
        bin: b.bin.clone(),
        cargo_flags,
        env: Vec::new(),
    }
}

/// Reads positional filters, `-E` and the libtest-style arguments after `--`.
fn test_filter(f: &FilterArgs, config: &GantryConfig) -> Result<TestFilter, RunnerError> {
    let mut filter = TestFilter {
        patterns: f.patterns.clone(),
        exact: f.exact,
        skip: f.skip.clone(),
        run_ignored: f.run_ignored.into(),
        ..Default::default()
    };
    let mut rest = f.libtest_args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--exact" => filter.exact = true,
            "--skip" => match rest.next() {
                Some(v) => filter.skip.push(v.clone()),
                None => return Err(RunnerError::Usage("`--skip` after `--` needs a value".into())),
            },
            "--ignored" => filter.run_ignored = gantry_metadata::RunIgnored::Only,
            "--include-ignored" => filter.run_ignored = gantry_metadata::RunIgnored::All,
            "--nocapture" | "--no-capture" | "--quiet" | "-q" => {}
            other if other.starts_with('-') => {
                return Err(RunnerError::Usage(format!(
                    "unsupported test-binary argument `{other}` after `--`; gantry understands filters, --exact, --skip, --ignored and --include-ignored"
                )))
            }
            pattern => filter.patterns.push(pattern.to_string()),
        }
    }
    for e in &f.filter_expr {
        filter.exprs.push(FilterExpr::parse(e)?);
    }
    if let Some(p) = &f.partition {
        let partition: Partition = p
            .parse()
            .map_err(|e: String| RunnerError::Usage(format!("--partition: {e}")))?;
        filter.partition = Some(partition);
    }
    run::filter_for(filter, config, f.tier.as_deref())
}

fn print_warnings(config: &GantryConfig, printer: &Printer) {
    for w in config.warnings() {
        printer.warning(&w.to_string());
    }
}

fn list(args: ListArgs, printer: &Printer) -> Result<i32, RunnerError> {
    let build = build_options(&args.build);
    let workspace = run::load_workspace(&build)?;
    print_warnings(&workspace.config, printer);
    let filter = test_filter(&args.filter, &workspace.config)?;
    let cwd = std::env::current_dir().map_err(RunnerError::io("could not read", "."))?;
    let prepared = run::prepare(&build, &cwd, workspace)?;
    let selection = filter.select(&prepared.list, &prepared.history);
    let selected: std::collections::HashSet<(String, String)> = selection
        .selected
        .iter()
        .map(|t| (t.binary.binary_id.clone(), t.name.clone()))
        .collect();
    let summary = prepared
        .list
        .summary(&|t| selected.contains(&(t.binary.binary_id.clone(), t.name.clone())));
    match args.format {
        ListFormat::Json => {
            printer.out(&serde_json::to_string_pretty(&summary).expect("list serializes"));
        }
        ListFormat::Human => {
            for b in &summary.binaries {
                let tests: Vec<_> = b.tests.iter().filter(|t| t.selected).collect();
                if tests.is_empty() {
                    continue;
                }
                printer.out(&format!("{}:", b.binary_id));
                for t in tests {
                    let ignored = if t.ignored { " (ignored)" } else { "" };
                    printer.out(&format!("    {}{ignored}", t.name));
                }
            }
            printer.note(&format!(
                "{} tests selected of {} in {} binaries",
                summary.selected_count,
                summary.test_count,
                summary.binaries.len()
            ));
        }
    }
    Ok(ExitCode::OK)
}

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

fn run_tests(args: RunArgs, printer: &Printer) -> Result<i32, RunnerError> {
    let build = build_options(&args.build);
    // Configuration, profile and filters are checked before anything is built.
    let workspace = run::load_workspace(&build)?;
    let (root, config) = (workspace.root.clone(), &workspace.config);
    print_warnings(&config, printer);
    let profile = resolve_profile(&config, &args)?;
    let filter = test_filter(&args.filter, &config)?;
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

fn show_config(args: ShowConfigArgs, printer: &Printer) -> Result<i32, RunnerError> {
    let build = BuildOptions {
        manifest_path: args.manifest_path.clone(),
        ..Default::default()
    };
    let config = run::load_workspace(&build)?.config;
    print_warnings(&config, printer);
    let profile = config.profile(&args.profile)?;
    let file = config
        .path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(no .config/gantry.toml; built-in defaults)".into());
    printer.out(&format!("# configuration: {file}"));
    printer.out(&format!(
        "# profiles: {}",
        config.profile_names().join(", ")
    ));
    printer.out(&format!("[profile.{}]", profile.name));
    let text = toml::to_string(&profile).map_err(|e| RunnerError::Other(e.to_string()))?;
    // The name is the table header, not a key of the table.
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("name = "))
        .map(|l| format!("{l}\n"))
        .collect();
    printer.out(text.trim_end());
    if !config.tiers().is_empty() {
        printer.out("\n[tiers]");
        for (name, f) in config.tiers() {
            printer.out(&format!("{name} = {:?}", f.to_string()));
        }
    }
    if !config.test_groups().is_empty() {
        printer.out("\n[test-groups]");
        for (name, g) in config.test_groups() {
            printer.out(&format!("{name} = {{ max-threads = {} }}", g.max_threads));
        }
    }
    if !config.fixtures().is_empty() {
        printer.out(&format!(
            "\n# fixtures: {}",
            config
                .fixtures()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(ExitCode::OK)
}

/// `cargo gantry fixture up NAME...`: starts the fixtures, prints their
/// exports for a shell to `eval`, and keeps them up until a signal.
fn fixture_up(args: FixtureUpArgs, printer: &Printer) -> Result<i32, RunnerError> {
    use gantry_metadata::EventEnvelope;
    use gantry_runner::execute::signals::{SignalCount, SignalForwarder};
    use gantry_runner::execute::worker::Msg;
    use gantry_runner::execute::EventSink;
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::time::{Duration, Instant};

    let build = build_options(&args.build);
    let cwd = std::env::current_dir().map_err(RunnerError::io("could not read", "."))?;
    // Signals are handled from the start: one arriving while fixtures
    // start must still tear down what has started.
    let signals = SignalCount::new();
    let (tx, rx) = mpsc::channel();
    let _forwarder = SignalForwarder::install_counting(tx, signals.clone())
        .map_err(|e| RunnerError::Other(format!("could not install signal handlers: {e}")))?;
    let (mut manager, run_dir) =
        gantry_runner::fixture::manager_for_up(&build, &cwd, &args.names, signals)?;
    let mut console = ConsoleReporter::new(
        printer.stderr_writer(),
        ConsoleOptions {
            color: printer.color,
            progress: false,
            failure_output: Default::default(),
            verbose: true,
        },
    );
    let start = Instant::now();
    let mut emit = |event| {
        console.emit(&EventEnvelope {
            elapsed_secs: start.elapsed().as_secs_f64(),
            event,
        })
    };
    let exports = match manager.start_named(&args.names, &mut emit) {
        Ok(exports) => exports,
        Err(e) => {
            manager.teardown(&mut emit);
            return Err(e.into());
        }
    };
    for (k, v) in &exports {
        printer.out(&format!(
            "export {k}={}",
            gantry_runner::fixture::shell_quote(v)
        ));
    }
    printer.note(&format!(
        "fixtures are up (logs in {}); press Ctrl-C to stop them",
        run_dir.join("fixtures").display()
    ));
    let code = loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Msg::Signal(_)) | Err(RecvTimeoutError::Disconnected) => break ExitCode::OK,
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => {
                if let Some(dead) = manager.find_dead() {
                    printer.error(&dead);
                    break ExitCode::SETUP_FAILED;
                }
            }
        }
    };
    manager.teardown(&mut emit);
    Ok(code)
}
