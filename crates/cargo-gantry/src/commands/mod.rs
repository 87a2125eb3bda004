//! The commands: each turns arguments into library calls and the result
//! into output and an exit code. One module per command.

mod archive;
mod ci;
mod cover;
mod db;
mod fixture;
mod list;
mod run;
mod show_config;

use gantry_config::GantryConfig;
use gantry_filter::FilterExpr;
use gantry_runner::list::BuildOptions;
use gantry_runner::run as runner_run;
use gantry_runner::schedule::Partition;
use gantry_runner::select::TestFilter;
use gantry_runner::RunnerError;

use crate::cli::{BuildArgs, Cli, Command, FilterArgs, FixtureCommand};
use crate::printer::Printer;

/// Runs a command and returns the process exit code.
pub fn dispatch(cli: Cli, printer: &Printer) -> i32 {
    let result = match cli.command {
        Command::List(args) => list::list(args, printer),
        Command::Run(args) => run::run_tests(args, printer),
        Command::ShowConfig(args) => show_config::show_config(args, printer),
        Command::Fixture(FixtureCommand::Up(args)) => fixture::fixture_up(args, printer),
        Command::Ci(args) => ci::ci(args, printer),
        Command::Cover(args) => cover::cover(*args, printer),
        Command::Db(args) => db::db(args, printer),
        Command::Archive(args) => archive::archive(args, printer),
        Command::Merge(args) => archive::merge(args, printer),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            printer.error(&err.to_string());
            err.exit_code()
        }
    }
}

pub(crate) fn build_options(b: &BuildArgs) -> BuildOptions {
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
pub(crate) fn test_filter(
    f: &FilterArgs,
    config: &GantryConfig,
) -> Result<TestFilter, RunnerError> {
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
    runner_run::filter_for(filter, config, f.tier.as_deref())
}

pub(crate) fn print_warnings(config: &GantryConfig, printer: &Printer) {
    for w in config.warnings() {
        printer.warning(&w.to_string());
    }
}
