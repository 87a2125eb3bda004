//! gantry's coverage model: what every report format is rendered from.
//!
//! The counts are llvm-cov's own summary numbers, never recomputed: how a
//! line with several regions counts, or a generic function with several
//! instantiations, is llvm-cov's business, and taking its figures is what
//! makes gantry's totals equal cargo-llvm-cov's.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Covered out of countable, for one kind of item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Items that can be executed.
    pub count: u64,
    /// Items that were executed at least once.
    pub covered: u64,
}

impl Counts {
    /// Covered share in percent; 0 when there is nothing to cover (as
    /// llvm-cov reports it).
    pub fn percent(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.covered as f64 * 100.0 / self.count as f64
        }
    }

    /// `87.31% (1234/1413)`.
    pub fn display(&self) -> String {
        format!("{:.2}% ({}/{})", self.percent(), self.covered, self.count)
    }

    /// Adds another count (for grouping files).
    pub fn add(&mut self, other: Counts) {
        self.count += other.count;
        self.covered += other.covered;
    }
}

/// Lines, functions and regions of a file or of the whole report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Source lines with code.
    pub lines: Counts,
    /// Functions (a generic counts once, covered if any instantiation ran).
    pub functions: Counts,
    /// Code regions: the finest unit, closest to branch coverage.
    pub regions: Counts,
}

impl Summary {
    /// The closing line of the text report:
    /// `coverage: lines 87.31% (1234/1413), functions 90.00% (90/100), regions 80.12% (800/998)`.
    pub fn closing_line(&self) -> String {
        format!(
            "coverage: lines {}, functions {}, regions {}",
            self.lines.display(),
            self.functions.display(),
            self.regions.display()
        )
    }

    /// Adds another summary.
    pub fn add(&mut self, other: &Summary) {
        self.lines.add(other.lines);
        self.functions.add(other.functions);
        self.regions.add(other.regions);
    }
}

/// How often one source line ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineHits {
    /// 1-based line number.
    pub line: u32,
    /// Execution count (the most-executed region starting on the line).
    pub count: u64,
}

/// One function of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCoverage {
    /// Demangled name, without the hash suffix.
    pub name: String,
    /// Line of its first region.
    pub line: u32,
    /// How often it was entered (over all binaries).
    pub count: u64,
}

/// Coverage of one source file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCoverage {
    /// Path relative to the report's source root when under it, else as
    /// llvm-cov gave it.
    pub path: String,
    /// The absolute path llvm-cov gave.
    pub absolute_path: PathBuf,
    /// llvm-cov's summary of the file.
    pub summary: Summary,
    /// Every line with code, in order.
    pub lines: Vec<LineHits>,
    /// Functions whose first region is in this file, by line; the copies of
    /// a function in several binaries are one entry.
    pub functions: Vec<FunctionCoverage>,
}

impl FileCoverage {
    /// Hits of a line; `None` for lines without code.
    pub fn hits(&self, line: u32) -> Option<u64> {
        self.lines
            .binary_search_by_key(&line, |l| l.line)
            .ok()
            .map(|i| self.lines[i].count)
    }
}

/// A whole coverage report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    /// Format marker of the JSON form, so that readers can tell versions apart.
    pub format: String,
    /// The directory file paths are relative to (the workspace root).
    pub source_root: PathBuf,
    /// llvm-cov's totals over all files.
    pub totals: Summary,
    /// Files, by path.
    pub files: Vec<FileCoverage>,
}

impl CoverageReport {
    /// The value of [`CoverageReport::format`].
    pub const FORMAT: &'static str = "gantry-cover-1";

    /// Looks a file up by its relative path.
    pub fn file(&self, path: &str) -> Option<&FileCoverage> {
        self.files.iter().find(|f| f.path == path)
    }

    /// The hits of the named function (demangled path, e.g.
    /// `mycrate::handle_line`), summed over instantiations; `None` if no
    /// function has that name.
    pub fn function_hits(&self, name: &str) -> Option<u64> {
        let mut found = None;
        for f in self.files.iter().flat_map(|f| &f.functions) {
            if f.name == name {
                *found.get_or_insert(0) += f.count;
            }
        }
        found
    }
}
