//! The one place that writes to the terminal.

use std::io::{IsTerminal, Write};

use owo_colors::OwoColorize;

use crate::cli::ColorChoice;

/// Writes messages to stdout (data) and stderr (everything for people).
pub struct Printer {
    /// Colors on stderr.
    pub color: bool,
    /// Whether stderr is a terminal (progress bars).
    pub stderr_tty: bool,
    /// `-v`.
    pub verbose: bool,
}

impl Printer {
    pub fn new(choice: ColorChoice, verbose: bool) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                stderr_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        Self {
            color,
            stderr_tty,
            verbose,
        }
    }

    /// A line of data on stdout.
    pub fn out(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    /// An error on stderr: `error: …`.
    pub fn error(&self, text: &str) {
        let label = if self.color {
            "error".red().bold().to_string()
        } else {
            "error".to_string()
        };
        let _ = writeln!(std::io::stderr().lock(), "{label}: {text}");
    }

    /// A warning on stderr: `warning: …`.
    pub fn warning(&self, text: &str) {
        let label = if self.color {
            "warning".yellow().bold().to_string()
        } else {
            "warning".to_string()
        };
        let _ = writeln!(std::io::stderr().lock(), "{label}: {text}");
    }

    /// A note on stderr.
    pub fn note(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    /// A writer for reporters that write to stderr.
    pub fn stderr_writer(&self) -> Box<dyn Write + Send> {
        Box::new(std::io::stderr())
    }
}
