//! `cargo gantry show-config`.

use gantry_runner::list::BuildOptions;
use gantry_runner::run;

use crate::cli::ShowConfigArgs;
use gantry_metadata::ExitCode;
use gantry_runner::RunnerError;

use super::print_warnings;
use crate::error::CliError;
use crate::printer::Printer;

pub(crate) fn show_config(args: ShowConfigArgs, printer: &Printer) -> Result<i32, CliError> {
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
