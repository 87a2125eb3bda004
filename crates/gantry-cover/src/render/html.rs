//! A browsable HTML report: an index of files and one annotated source page
//! per file. Self-contained (inline CSS, no scripts, no fetched resources)
//! so that it can be kept as a CI artifact and opened from anywhere.

use std::path::Path;

use super::cobertura::escape;
use crate::error::CoverError;
use crate::model::{Counts, CoverageReport, FileCoverage};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:right}\
td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f5f5f5}\
.low{color:#b00}.mid{color:#a60}.high{color:#070}\
pre{margin:0}table.src td{padding:0 .5em;font-family:ui-monospace,monospace;white-space:pre;text-align:left;vertical-align:top}\
table.src td.n,table.src td.c{text-align:right;color:#888;user-select:none}\
tr.hit td.s{background:#dfd}tr.miss td.s{background:#fdd}tr.miss td.c{color:#b00;font-weight:bold}\
a{color:#036}";

/// Writes `index.html` and `files/*.html` into `dir`. Sources are read from
/// the paths llvm-cov gave; a file that is not there (a report merged from
/// another machine) gets a page with its figures and a note instead.
pub fn write_html(report: &CoverageReport, dir: &Path) -> Result<(), CoverError> {
    let files_dir = dir.join("files");
    std::fs::create_dir_all(&files_dir).map_err(CoverError::io("could not create", &files_dir))?;
    let mut index = page_head("Coverage report", "");
    index.push_str(&format!(
        "<h1>Coverage report</h1>\n<p>{}</p>\n<table>\n<tr><th>file</th><th>lines</th><th>functions</th><th>regions</th></tr>\n",
        escape(&report.totals.closing_line())
    ));
    for (i, f) in report.files.iter().enumerate() {
        let page = page_name(i, f);
        index.push_str(&format!(
            "<tr><td><a href=\"files/{}\">{}</a></td>{}</tr>\n",
            escape(&page),
            escape(&f.path),
            cells(&f.summary.lines, &f.summary.functions, &f.summary.regions)
        ));
        let path = files_dir.join(&page);
        std::fs::write(&path, file_page(f)).map_err(CoverError::io("could not write", &path))?;
    }
    index.push_str(&format!(
        "<tr><th>total</th>{}</tr>\n</table>\n</body>\n</html>\n",
        cells(
            &report.totals.lines,
            &report.totals.functions,
            &report.totals.regions
        )
    ));
    let path = dir.join("index.html");
    std::fs::write(&path, index).map_err(CoverError::io("could not write", &path))
}

fn page_name(i: usize, f: &FileCoverage) -> String {
    let base: String = f
        .path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{i:04}-{}.html", base.trim_start_matches('_'))
}

fn cells(lines: &Counts, functions: &Counts, regions: &Counts) -> String {
    [lines, functions, regions]
        .iter()
        .map(|c| {
            let p = c.percent();
            let class = if p >= 80.0 {
                "high"
            } else if p >= 50.0 {
                "mid"
            } else {
                "low"
            };
            format!("<td class=\"{class}\">{}</td>", escape(&c.display()))
        })
        .collect()
}

fn page_head(title: &str, extra: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}{extra}</style>\n</head>\n<body>\n",
        escape(title)
    )
}

fn file_page(f: &FileCoverage) -> String {
    let mut out = page_head(&f.path, "");
    out.push_str(&format!(
        "<p><a href=\"../index.html\">index</a></p>\n<h1>{}</h1>\n<table>\n<tr><th></th><th>lines</th><th>functions</th><th>regions</th></tr>\n<tr><td></td>{}</tr>\n</table>\n",
        escape(&f.path),
        cells(&f.summary.lines, &f.summary.functions, &f.summary.regions)
    ));
    if !f.functions.is_empty() {
        out.push_str(
            "<h2>functions</h2>\n<table>\n<tr><th>function</th><th>line</th><th>calls</th></tr>\n",
        );
        for func in &f.functions {
            let class = if func.count > 0 { "high" } else { "low" };
            out.push_str(&format!(
                "<tr><td>{}</td><td><a href=\"#L{line}\">{line}</a></td><td class=\"{class}\">{}</td></tr>\n",
                escape(&func.name),
                func.count,
                line = func.line
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str("<h2>source</h2>\n");
    match std::fs::read(&f.absolute_path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            out.push_str("<table class=\"src\">\n");
            for (i, line) in text.lines().enumerate() {
                let n = i as u32 + 1;
                let (class, count) = match f.hits(n) {
                    Some(0) => (" class=\"miss\"", "0".to_string()),
                    Some(c) => (" class=\"hit\"", c.to_string()),
                    None => ("", String::new()),
                };
                out.push_str(&format!(
                    "<tr{class} id=\"L{n}\"><td class=\"n\"><a href=\"#L{n}\">{n}</a></td><td class=\"c\">{count}</td><td class=\"s\">{}</td></tr>\n",
                    escape(line)
                ));
            }
            out.push_str("</table>\n");
        }
        Err(e) => out.push_str(&format!(
            "<p>The source is not available here ({}): {}</p>\n",
            escape(&f.absolute_path.display().to_string()),
            escape(&e.to_string())
        )),
    }
    out.push_str("</body>\n</html>\n");
    out
}
