//! The engine of gantry: builds and lists test binaries, plans and runs
//! their tests, and turns what happens into events for reporters.
//!
//! Data flows one way: configuration → plan → execution → events →
//! reporters. Nothing in this crate prints; the CLI owns the terminal.

/// The error type of this crate.
pub mod error;
pub mod execute;
pub mod fixture;
pub mod list;
pub mod schedule;

pub use error::{Result, RunnerError};
pub mod doctest;
pub mod report;
pub mod run;
pub mod select;
