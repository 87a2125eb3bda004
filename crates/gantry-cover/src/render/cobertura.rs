//! Cobertura XML, the format GitLab's merge-request coverage view and
//! SonarQube's generic importers read.

use std::collections::BTreeMap;

use crate::model::{Counts, CoverageReport, FileCoverage};

/// The report as Cobertura XML (coverage-04.dtd). Files are grouped into
/// packages by directory; file names are relative to the `<source>`, the
/// report's source root, which is what GitLab needs to map them onto the
/// repository. `timestamp` is in seconds since the epoch (a parameter so
/// that output can be reproduced).
pub fn cobertura(report: &CoverageReport, timestamp: u64) -> String {
    let mut packages: BTreeMap<String, Vec<&FileCoverage>> = BTreeMap::new();
    for f in &report.files {
        let dir = match f.path.rfind('/') {
            Some(i) => f.path[..i].trim_start_matches('/').replace('/', "."),
            None => ".".to_string(),
        };
        packages.entry(dir).or_default().push(f);
    }
    let t = &report.totals.lines;
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(
        "<!DOCTYPE coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\">\n",
    );
    x.push_str(&format!(
        "<coverage line-rate=\"{}\" branch-rate=\"0\" lines-covered=\"{}\" lines-valid=\"{}\" branches-covered=\"0\" branches-valid=\"0\" complexity=\"0\" version=\"gantry-cover {}\" timestamp=\"{timestamp}\">\n",
        rate(t),
        t.covered,
        t.count,
        env!("CARGO_PKG_VERSION"),
    ));
    x.push_str("  <sources>\n");
    x.push_str(&format!(
        "    <source>{}</source>\n",
        escape(&report.source_root.display().to_string())
    ));
    x.push_str("  </sources>\n  <packages>\n");
    for (name, files) in &packages {
        let mut lines = Counts::default();
        for f in files {
            lines.add(f.summary.lines);
        }
        x.push_str(&format!(
            "    <package name=\"{}\" line-rate=\"{}\" branch-rate=\"0\" complexity=\"0\">\n      <classes>\n",
            escape(name),
            rate(&lines)
        ));
        for f in files {
            let class = f.path.rsplit('/').next().unwrap_or(&f.path);
            x.push_str(&format!(
                "        <class name=\"{}\" filename=\"{}\" line-rate=\"{}\" branch-rate=\"0\" complexity=\"0\">\n",
                escape(class),
                escape(&f.path),
                rate(&f.summary.lines)
            ));
            x.push_str("          <methods>\n");
            for m in &f.functions {
                x.push_str(&format!(
                    "            <method name=\"{}\" signature=\"\" line-rate=\"{}\" branch-rate=\"0\" complexity=\"0\">\n              <lines>\n                <line number=\"{}\" hits=\"{}\" branch=\"false\"/>\n              </lines>\n            </method>\n",
                    escape(&m.name),
                    if m.count > 0 { "1" } else { "0" },
                    m.line,
                    m.count
                ));
            }
            x.push_str("          </methods>\n          <lines>\n");
            for l in &f.lines {
                x.push_str(&format!(
                    "            <line number=\"{}\" hits=\"{}\" branch=\"false\"/>\n",
                    l.line, l.count
                ));
            }
            x.push_str("          </lines>\n        </class>\n");
        }
        x.push_str("      </classes>\n    </package>\n");
    }
    x.push_str("  </packages>\n</coverage>\n");
    x
}

fn rate(c: &Counts) -> String {
    if c.count == 0 {
        "1".into()
    } else {
        format!("{:.4}", c.covered as f64 / c.count as f64)
    }
}

/// Escapes text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
