//! Stable public types of gantry.
//!
//! Everything another program may read from gantry — the `list --format json`
//! output, the JSON-lines event stream, the run summary and the exit codes —
//! is defined here and nowhere else, so that the runner, its reporters and
//! outside consumers agree on one schema. Changes are additive: new fields
//! and new event types may appear; existing ones keep their meaning.

mod event;
mod exit_code;
mod list;
mod modes;
mod summary;

pub use event::*;
pub use exit_code::ExitCode;
pub use list::*;
pub use modes::*;
pub use summary::*;
