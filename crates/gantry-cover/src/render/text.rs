//! The console summary.

use crate::model::CoverageReport;

/// A table of files with their line, function and region coverage, and the
/// closing line with the totals:
/// `coverage: lines 87.31% (1234/1413), functions 90.00% (90/100), regions 80.12% (800/998)`.
pub fn summary_text(report: &CoverageReport) -> String {
    let header = ["file", "lines", "functions", "regions"];
    let mut rows: Vec<[String; 4]> = report
        .files
        .iter()
        .map(|f| {
            [
                f.path.clone(),
                f.summary.lines.display(),
                f.summary.functions.display(),
                f.summary.regions.display(),
            ]
        })
        .collect();
    rows.push([
        "total".into(),
        report.totals.lines.display(),
        report.totals.functions.display(),
        report.totals.regions.display(),
    ]);
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut s = format!("{:<w$}", cells[0], w = widths[0]);
        for (c, w) in cells[1..].iter().zip(&widths[1..]) {
            s.push_str(&format!("  {c:>w$}"));
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    let n = rows.len();
    for (i, r) in rows.iter().enumerate() {
        if i + 1 == n {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 6));
            out.push('\n');
        }
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    out.push_str(&report.totals.closing_line());
    out.push('\n');
    out
}
