//! Reporters: consumers of the event stream. They format; they never start
//! processes or decide outcomes.

pub mod console;
pub mod jsonl;
pub mod junit;

pub use console::{ConsoleOptions, ConsoleReporter};
pub use jsonl::JsonLinesReporter;
pub use junit::JunitReporter;

use gantry_metadata::EventEnvelope;

use crate::execute::EventSink;

/// Hands every event to several reporters in turn.
#[derive(Default)]
pub struct Fanout {
    sinks: Vec<Box<dyn EventSink + Send>>,
}

impl Fanout {
    /// Adds a reporter.
    pub fn push(&mut self, sink: Box<dyn EventSink + Send>) {
        self.sinks.push(sink);
    }
}

impl EventSink for Fanout {
    fn emit(&mut self, event: &EventEnvelope) {
        for s in &mut self.sinks {
            s.emit(event);
        }
    }
}
