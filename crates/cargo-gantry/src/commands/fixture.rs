//! `cargo gantry fixture up`.

use gantry_runner::report::{ConsoleOptions, ConsoleReporter};

use crate::cli::FixtureUpArgs;
use gantry_metadata::ExitCode;
use gantry_runner::RunnerError;

use super::build_options;
use crate::error::CliError;
use crate::printer::Printer;

/// `cargo gantry fixture up NAME...`: starts the fixtures, prints their
/// exports for a shell to `eval`, and keeps them up until a signal.
pub(crate) fn fixture_up(args: FixtureUpArgs, printer: &Printer) -> Result<i32, CliError> {
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
            return Err(RunnerError::from(e).into());
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
