//! Debug logging to an optional file.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Appends timestamped debug lines to a file, or discards them.
#[derive(Debug, Default)]
pub struct Logger {
    file: Option<Mutex<File>>,
}

impl Logger {
    /// A logger that discards everything.
    pub fn disabled() -> Logger {
        Logger { file: None }
    }

    /// A logger appending to `path`, which is created if needed.
    pub fn to_file(path: &Path) -> io::Result<Logger> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Logger {
            file: Some(Mutex::new(file)),
        })
    }

    /// A logger appending to `path`, or a disabled one when `path` is `None`.
    pub fn open(path: Option<&Path>) -> io::Result<Logger> {
        path.map_or_else(|| Ok(Logger::disabled()), Logger::to_file)
    }

    /// Whether log lines go anywhere.
    pub fn is_enabled(&self) -> bool {
        self.file.is_some()
    }

    /// Writes one line: `<unix time> echo-server[<pid>]: <message>`.
    /// Write errors are ignored: logging never stops the server.
    pub fn log(&self, message: fmt::Arguments<'_>) {
        let Some(file) = &self.file else { return };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let line = format!(
            "{}.{:03} echo-server[{}]: {}\n",
            now.as_secs(),
            now.subsec_millis(),
            std::process::id(),
            message
        );
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = file.write_all(line.as_bytes());
    }
}
