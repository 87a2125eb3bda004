//! `cargo gantry list`.

use gantry_runner::run;

use crate::cli::{ListArgs, ListFormat};
use gantry_metadata::ExitCode;
use gantry_runner::RunnerError;

use super::{build_options, print_warnings, test_filter};
use crate::error::CliError;
use crate::printer::Printer;

pub(crate) fn list(args: ListArgs, printer: &Printer) -> Result<i32, CliError> {
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
