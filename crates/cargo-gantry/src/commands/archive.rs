//! `cargo gantry archive` and `cargo gantry merge`: build once, run shards
//! elsewhere, and put their results back together.

use gantry_ci::{ArchiveInputs, CiConfig, ResultsDir};
use gantry_metadata::ExitCode;
use gantry_runner::run;
use gantry_runner::schedule::History;
use gantry_runner::RunnerError;

use super::{build_options, print_warnings};
use crate::cli::{ArchiveArgs, MergeArgs};
use crate::error::CliError;
use crate::printer::Printer;

pub(crate) fn archive(args: ArchiveArgs, printer: &Printer) -> Result<i32, CliError> {
    let build = build_options(&args.build);
    let workspace = run::load_workspace(&build)?;
    print_warnings(&workspace.config, printer);
    let ci = CiConfig::from_gantry(&workspace.config)?;
    let cwd = std::env::current_dir().map_err(RunnerError::io("could not read", "."))?;
    let prepared = run::prepare(&build, &cwd, workspace)?;
    let target_dir = build
        .target_dir
        .as_ref()
        .map(|d| cwd.join(d))
        .unwrap_or_else(|| prepared.list.target_dir.clone());
    let history = History::path_in(&target_dir);
    let out = cwd.join(&args.output);
    let summary = gantry_ci::archive(
        &out,
        ArchiveInputs {
            list: &prepared.list,
            target_dir: &target_dir,
            bins: &prepared.bins.built,
            libraries: &prepared.libraries,
            test_data: &ci.test_data,
            history: history.is_file().then_some(history.as_path()),
        },
    )?;
    printer.note(&format!(
        "archived {} test binaries, {} binaries and {} data files into {} ({:.1} MiB)",
        summary.binaries,
        summary.bins,
        summary.data_files,
        summary.path.display(),
        summary.bytes as f64 / (1024.0 * 1024.0)
    ));
    Ok(ExitCode::OK)
}

pub(crate) fn merge(args: MergeArgs, printer: &Printer) -> Result<i32, CliError> {
    let merged = gantry_ci::merge(&args.dirs)?;
    let out = ResultsDir::create(&args.output)?;
    merged.write(&out)?;
    for problem in &merged.problems {
        printer.error(&problem.to_string());
    }
    printer.note(&format!(
        "merged {} shards into {}",
        merged.shards.len(),
        out.root().display()
    ));
    printer.note(&merged.summary.closing_line());
    Ok(merged.exit_code())
}
