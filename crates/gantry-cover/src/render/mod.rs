//! The report formats. Each is a pure function of the model (plus the
//! source files, for HTML), so that they agree with each other and with the
//! totals.

mod cobertura;
mod html;
mod lcov;
mod text;

use std::path::Path;

pub use cobertura::cobertura;
pub use html::write_html;
pub use lcov::lcov;
pub use text::summary_text;

use crate::error::CoverError;
use crate::model::CoverageReport;

/// gantry's own JSON form of the model ([`CoverageReport`] serialized);
/// what `--json FILE` writes and what benchmarks read the totals from.
pub fn json(report: &CoverageReport) -> String {
    serde_json::to_string_pretty(report).expect("the coverage model serializes")
}

/// Reads a report back from [`json`]'s output.
pub fn from_json(text: &str) -> Result<CoverageReport, CoverError> {
    serde_json::from_str(text).map_err(|e| CoverError::ExportFormat(e.to_string()))
}

/// Writes a text file, creating its directory.
pub fn write_file(path: &Path, contents: &str) -> Result<(), CoverError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(CoverError::io("could not create", parent))?;
    }
    std::fs::write(path, contents).map_err(CoverError::io("could not write", path))
}
