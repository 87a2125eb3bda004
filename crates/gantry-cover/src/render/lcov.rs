//! LCOV tracefiles (Codecov, Coveralls, genhtml, IDE gutters).

use crate::model::CoverageReport;

/// The report as an LCOV tracefile: per file its functions (`FN`/`FNDA`),
/// lines (`DA`) and the llvm-cov line totals (`LF`/`LH`), with absolute
/// paths as llvm-cov's own lcov export writes them.
pub fn lcov(report: &CoverageReport) -> String {
    let mut out = String::new();
    for f in &report.files {
        out.push_str("SF:");
        out.push_str(&f.absolute_path.display().to_string());
        out.push('\n');
        for func in &f.functions {
            out.push_str(&format!("FN:{},{}\n", func.line, func.name));
        }
        for func in &f.functions {
            out.push_str(&format!("FNDA:{},{}\n", func.count, func.name));
        }
        out.push_str(&format!("FNF:{}\n", f.summary.functions.count));
        out.push_str(&format!("FNH:{}\n", f.summary.functions.covered));
        for l in &f.lines {
            out.push_str(&format!("DA:{},{}\n", l.line, l.count));
        }
        out.push_str(&format!("LF:{}\n", f.summary.lines.count));
        out.push_str(&format!("LH:{}\n", f.summary.lines.covered));
        out.push_str("end_of_record\n");
    }
    out
}
