//! gantry's coverage engine: source-based coverage of the tests *and* of the
//! services they talk to.
//!
//! A coverage run has five steps, each a part of this crate:
//!
//! 1. **Build** instrumented: [`CoverSession::build_env`] makes cargo run
//!    rustc through the gantry binary ([`wrapper`]), which adds
//!    `-C instrument-coverage` to workspace crates only, into a target
//!    directory of its own ([`CoverPaths`]).
//! 2. **Run** the tests, and the fixtures started from workspace binaries,
//!    with [`CoverSession::test_env`] / [`CoverSession::fixture_env`]: each
//!    process writes its own raw profile when it exits. Fixtures must be
//!    stopped with their stop signal, not killed, or their profile is lost
//!    ([`fixture_killed_warning`]).
//! 3. **Merge** the raw profiles into one `.profdata` while the suite runs
//!    ([`ProfileMerger`]), so that long suites do not fill the disk, and
//!    merge the data of several machines ([`merge_inputs`]).
//! 4. **Report**: [`export_report`] reads `llvm-cov export` into the model
//!    ([`CoverageReport`]), taking llvm-cov's own summary numbers and
//!    cargo-llvm-cov's default exclusions ([`IgnoreRules`]) so the totals
//!    match that tool's; [`render`] writes text, LCOV, Cobertura, HTML and
//!    JSON.
//! 5. **Gate** on the committed score ([`ratchet`]).
//!
//! The crate never prints: warnings come back as [`CoverWarning`]s and
//! errors as [`CoverError`].

mod error;
mod export;
mod ignore;
mod merge;
mod model;
mod objects;
pub mod ratchet;
pub mod render;
mod session;
mod tools;
mod warning;
pub mod wrapper;

pub use error::CoverError;
pub use export::{export_report, parse_export, ExportRequest};
pub use ignore::IgnoreRules;
pub use merge::{merge_inputs, BackgroundMerger, MergeOptions, MergeOutcome, ProfileMerger};
pub use model::{Counts, CoverageReport, FileCoverage, FunctionCoverage, LineHits, Summary};
pub use objects::{discover_objects, is_instrumented};
pub use session::{pid_of_profile, shell_quote, CoverPaths, CoverSession, ProfileNaming};
pub use tools::LlvmTools;
pub use warning::{fixture_killed_warning, CoverWarning};
pub use wrapper::{exec_rustc_wrapper, wrapper_requested};
