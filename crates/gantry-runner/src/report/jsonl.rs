//! The machine-readable reporter: one JSON object per event per line.

use std::io::Write;

use gantry_metadata::EventEnvelope;

use crate::execute::EventSink;

/// Writes events as JSON lines (`--message-format json`, `--events FILE`).
pub struct JsonLinesReporter {
    out: Box<dyn Write + Send>,
}

impl JsonLinesReporter {
    /// A reporter writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self { out }
    }
}

impl EventSink for JsonLinesReporter {
    fn emit(&mut self, event: &EventEnvelope) {
        if let Ok(line) = serde_json::to_string(event) {
            let _ = writeln!(self.out, "{line}");
        }
        if matches!(event.event, gantry_metadata::Event::RunFinished { .. }) {
            let _ = self.out.flush();
        }
    }
}
