//! Running tests: processes, batches, timeouts, retries and signals.

pub mod batch_parser;
pub mod executor;
pub mod output;
pub mod process;
pub mod signals;
pub mod worker;

pub use executor::{EventSink, ExecuteOptions, Executor, HookError, NoHooks, UnitHooks};
