//! `echo-server`: serves the echo line protocol on a Unix socket.
//!
//! Prints `echo-server listening on PATH` once ready and one line when it
//! stops (on SIGTERM or SIGINT); debug logs go to `--log-file` / `ECHO_LOG`.

use std::io::Write;
use std::process::ExitCode;

use echo_server::{Command, Config, Logger, Server, Shutdown, USAGE};

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => {
            say(USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            say(&format!("echo-server {}", env!("CARGO_PKG_VERSION")));
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("echo-server: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("echo-server: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: &Config) -> Result<(), String> {
    let log = Logger::open(config.log_file.as_deref()).map_err(|e| {
        let path = config.log_file.as_deref().unwrap_or_else(|| "".as_ref());
        format!("cannot open log file {}: {e}", path.display())
    })?;
    log.log(format_args!("starting with {config:?}"));
    let shutdown = Shutdown::new().map_err(|e| format!("cannot create shutdown pipe: {e}"))?;
    shutdown
        .install_signal_handlers()
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let server = Server::bind(&config.socket)
        .map_err(|e| format!("cannot listen on {}: {e}", config.socket.display()))?;
    say(&format!(
        "echo-server listening on {}",
        server.path().display()
    ));
    let stats = server
        .run(&shutdown, &log)
        .map_err(|e| format!("server failed: {e}"))?;
    let reason = echo_server::received_signal()
        .map_or_else(|| "shutdown request".to_owned(), echo_server::signal_name);
    say(&format!(
        "echo-server stopped on {reason} after {} connections",
        stats.connections
    ));
    Ok(())
}

/// Prints one line to stdout and flushes it; a closed stdout is ignored so
/// the daemon keeps running when nobody reads its console.
fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
