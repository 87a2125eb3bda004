//! `cargo gantry`: the command-line front end. Parsing, messages and exit
//! codes live here; everything else is in `gantry-runner`.

mod cli;
mod commands;
mod error;
mod printer;

use clap::Parser;

fn main() {
    // Cargo runs gantry as the rustc wrapper of coverage builds: hand over
    // to rustc with the instrumentation flags before anything else.
    if gantry_cover::wrapper_requested() {
        let err = gantry_cover::exec_rustc_wrapper(std::env::args_os());
        printer::Printer::new(cli::ColorChoice::Auto, false).error(&err.to_string());
        std::process::exit(101);
    }
    // Invoked as `cargo gantry …`, cargo passes `gantry` as the first
    // argument; invoked directly as `cargo-gantry …`, it does not.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "gantry") {
        args.remove(1);
    }
    let cli = cli::Cli::parse_from(args);
    let printer = printer::Printer::new(cli.global.color, cli.global.verbose);
    let code = commands::dispatch(cli, &printer);
    std::process::exit(code);
}
