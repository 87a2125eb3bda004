//! Reading coverage out of `llvm-cov export -format=text` (its JSON).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::CoverError;
use crate::ignore::IgnoreRules;
use crate::model::{Counts, CoverageReport, FileCoverage, FunctionCoverage, LineHits, Summary};
use crate::tools::{run_tool, LlvmTools};
use crate::warning::CoverWarning;

/// What to report on.
#[derive(Clone, Copy, Debug)]
pub struct ExportRequest<'a> {
    /// The merged profile.
    pub profdata: &'a Path,
    /// Every instrumented executable whose processes wrote profiles: the
    /// test binaries of the build and the workspace's bin executables
    /// (fixtures and tests run those). Code counts only if its binary is
    /// listed; listing a binary that never ran shows its code as unexecuted.
    pub objects: &'a [PathBuf],
    /// Files to leave out.
    pub ignore: &'a IgnoreRules,
    /// Directory that report paths are made relative to.
    pub source_root: &'a Path,
}

/// Runs `llvm-cov export` and reads its output into the model; llvm-cov's
/// own warnings (such as profiles that do not match a rebuilt binary) come
/// back as warnings.
pub fn export_report(
    tools: &LlvmTools,
    req: &ExportRequest<'_>,
) -> Result<(CoverageReport, Vec<CoverWarning>), CoverError> {
    if req.objects.is_empty() {
        return Err(CoverError::NoData(
            "no instrumented binaries to report on".into(),
        ));
    }
    let mut args: Vec<OsString> = vec![
        "export".into(),
        "-format=text".into(),
        "-skip-expansions".into(),
        format!("-instr-profile={}", req.profdata.display()).into(),
    ];
    if let Some(r) = req.ignore.combined() {
        args.push(format!("-ignore-filename-regex={r}").into());
    }
    let mut seen = std::collections::HashSet::new();
    for o in req.objects {
        if seen.insert(o) {
            args.push("-object".into());
            args.push(o.into());
        }
    }
    let (stdout, stderr) = run_tool(&tools.cov, &args)?;
    let warnings = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .map(|l| CoverWarning::LlvmCov(l.trim().to_string()))
        .collect();
    Ok((parse_export(&stdout, req.source_root)?, warnings))
}

#[derive(Deserialize)]
struct Export {
    #[serde(rename = "type")]
    kind: String,
    data: Vec<ExportData>,
}

#[derive(Deserialize)]
struct ExportData {
    files: Vec<ExportFile>,
    #[serde(default)]
    functions: Vec<ExportFunction>,
    totals: ExportSummary,
}

#[derive(Deserialize)]
struct ExportFile {
    filename: String,
    #[serde(default)]
    segments: Vec<Segment>,
    summary: ExportSummary,
}

#[derive(Deserialize)]
struct ExportSummary {
    lines: ExportCounts,
    functions: ExportCounts,
    regions: ExportCounts,
}

#[derive(Deserialize)]
struct ExportCounts {
    count: u64,
    covered: u64,
}

impl From<&ExportSummary> for Summary {
    fn from(s: &ExportSummary) -> Summary {
        let c = |c: &ExportCounts| Counts {
            count: c.count,
            covered: c.covered,
        };
        Summary {
            lines: c(&s.lines),
            functions: c(&s.functions),
            regions: c(&s.regions),
        }
    }
}

#[derive(Deserialize)]
struct ExportFunction {
    name: String,
    count: u64,
    regions: Vec<Vec<u64>>,
    filenames: Vec<String>,
}

/// `[line, col, count, has_count, is_region_entry, is_gap_region]`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
pub(crate) struct Segment(
    pub u32,
    pub u32,
    pub u64,
    pub bool,
    pub bool,
    #[serde(default)] pub bool,
);

impl Segment {
    fn line(&self) -> u32 {
        self.0
    }
    fn count(&self) -> u64 {
        self.2
    }
    fn has_count(&self) -> bool {
        self.3
    }
    fn is_region_entry(&self) -> bool {
        self.4
    }
    fn is_gap(&self) -> bool {
        self.5
    }
    fn starts_region(&self) -> bool {
        !self.is_gap() && self.has_count() && self.is_region_entry()
    }
}

/// Reads `llvm-cov export -format=text` output.
pub fn parse_export(json: &[u8], source_root: &Path) -> Result<CoverageReport, CoverError> {
    let export: Export =
        serde_json::from_slice(json).map_err(|e| CoverError::ExportFormat(e.to_string()))?;
    if export.kind != "llvm.coverage.json.export" {
        return Err(CoverError::ExportFormat(format!(
            "unexpected export type `{}`",
            export.kind
        )));
    }
    let data = export
        .data
        .into_iter()
        .next()
        .ok_or_else(|| CoverError::ExportFormat("no data".into()))?;
    let mut functions: BTreeMap<String, Vec<FunctionCoverage>> = BTreeMap::new();
    for f in &data.functions {
        let Some(first) = f.regions.first() else {
            continue;
        };
        let (Some(&line), Some(&file_id)) = (first.first(), first.get(5)) else {
            continue;
        };
        let Some(file) = f.filenames.get(file_id as usize) else {
            continue;
        };
        functions
            .entry(file.clone())
            .or_default()
            .push(FunctionCoverage {
                name: demangle(&f.name),
                line: line as u32,
                count: f.count,
            });
    }
    let mut files: Vec<FileCoverage> = data
        .files
        .iter()
        .map(|f| {
            let fns = merge_copies(functions.remove(&f.filename).unwrap_or_default());
            FileCoverage {
                path: relative(&f.filename, source_root),
                absolute_path: PathBuf::from(&f.filename),
                summary: Summary::from(&f.summary),
                lines: line_hits(&f.segments),
                functions: fns,
            }
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(CoverageReport {
        format: CoverageReport::FORMAT.into(),
        source_root: source_root.to_path_buf(),
        totals: Summary::from(&data.totals),
        files,
    })
}

/// One entry per function: a function is compiled into every binary that
/// links it (the library's unit-test binary and each executable), and each
/// copy has its own record. Every call runs exactly one copy, so the copies'
/// counts add up to the function's calls.
fn merge_copies(mut fns: Vec<FunctionCoverage>) -> Vec<FunctionCoverage> {
    fns.sort_by(|a, b| (a.line, &a.name).cmp(&(b.line, &b.name)));
    let mut out: Vec<FunctionCoverage> = Vec::with_capacity(fns.len());
    for f in fns {
        match out.last_mut() {
            Some(last) if last.line == f.line && last.name == f.name => last.count += f.count,
            _ => out.push(f),
        }
    }
    out
}

fn relative(file: &str, root: &Path) -> String {
    Path::new(file)
        .strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| file.to_string())
}

/// Demangles a profile function name. Names of functions with internal
/// linkage carry their file as a prefix (`src/lib.rs:_RNv…`); it goes.
fn demangle(name: &str) -> String {
    let symbol = name.rsplit([':', ';']).next().unwrap_or(name);
    match rustc_demangle::try_demangle(symbol) {
        Ok(d) => format!("{d:#}"),
        Err(_) => symbol.to_string(),
    }
}

/// Per-line execution counts from a file's segments, by the rules of
/// llvm-cov's `LineCoverageStats` (the ones its line summary, `show` and
/// lcov export use): a line counts if a region with a count starts on it or
/// a counted region runs through it, unless a skipped region starts it; its
/// count is the highest among the regions starting on it and the one it is
/// inside of.
pub(crate) fn line_hits(segments: &[Segment]) -> Vec<LineHits> {
    let mut out = Vec::new();
    let Some(first) = segments.first() else {
        return out;
    };
    let mut line = first.line();
    let mut next = 0;
    let mut wrapped: Option<Segment> = None;
    let mut current: Vec<Segment> = Vec::new();
    while next < segments.len() {
        if let Some(last) = current.last() {
            wrapped = Some(*last);
        }
        current.clear();
        while next < segments.len() && segments[next].line() == line {
            current.push(segments[next]);
            next += 1;
        }
        if let Some(count) = line_count(&current, wrapped.as_ref()) {
            out.push(LineHits { line, count });
        }
        line += 1;
    }
    out
}

fn line_count(segments: &[Segment], wrapped: Option<&Segment>) -> Option<u64> {
    let starts = segments.iter().filter(|s| s.starts_region()).count();
    let start_of_skipped = segments
        .first()
        .is_some_and(|s| !s.has_count() && s.is_region_entry());
    let mut mapped = !start_of_skipped && (wrapped.is_some_and(|w| w.has_count()) || starts > 0);
    mapped |= segments
        .iter()
        .any(|s| s.is_region_entry() && s.has_count());
    if !mapped {
        return None;
    }
    let mut count = wrapped.map_or(0, |w| w.count());
    if starts == 0 {
        return Some(count);
    }
    for s in segments.iter().filter(|s| s.starts_region()) {
        count = count.max(s.count());
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(line: u32, col: u32, count: u64, has: bool, entry: bool, gap: bool) -> Segment {
        Segment(line, col, count, has, entry, gap)
    }

    #[test]
    fn lines_follow_llvm_rules() {
        // fn a(x) { if x > 3 { x * 2 } else { x + 1 } }   on line 1, the
        // else branch never taken; a function on 2..=4 that never ran; a
        // region running over line 6 without a segment of its own.
        let segs = [
            seg(1, 1, 5, true, true, false),
            seg(1, 20, 0, true, true, false),
            seg(1, 30, 0, false, false, false),
            seg(2, 1, 0, true, true, false),
            seg(4, 2, 0, false, false, false),
            seg(5, 1, 3, true, true, false),
            seg(7, 2, 0, false, false, false),
            seg(8, 1, 0, false, true, false),
            seg(9, 1, 0, false, false, false),
        ];
        let hits = line_hits(&segs);
        let pairs: Vec<(u32, u64)> = hits.iter().map(|h| (h.line, h.count)).collect();
        // Line 3 is inside the uncovered function; line 6 inside the counted
        // region of line 5; line 8 starts a skipped region.
        assert_eq!(
            pairs,
            [(1, 5), (2, 0), (3, 0), (4, 0), (5, 3), (6, 3), (7, 3)]
        );
    }

    #[test]
    fn gap_regions_do_not_count_as_starts() {
        let segs = [
            seg(1, 1, 4, true, true, false),
            seg(2, 5, 0, true, true, true),
            seg(2, 9, 0, false, false, false),
        ];
        // Line 2 starts only a gap region, so it takes the wrapped count.
        let pairs: Vec<(u32, u64)> = line_hits(&segs).iter().map(|h| (h.line, h.count)).collect();
        assert_eq!(pairs, [(1, 4), (2, 4)]);
    }

    #[test]
    fn names_are_demangled() {
        assert_eq!(demangle("_RNvCs6OwSpoBalWE_1p1a"), "p::a");
        assert_eq!(
            demangle("src/lib.rs:_ZN3foo3bar17h0123456789abcdefE"),
            "foo::bar"
        );
        assert_eq!(demangle("main"), "main");
    }

    #[test]
    fn export_json_is_read() {
        let json = br#"{"type":"llvm.coverage.json.export","version":"3.1.0","data":[{
          "files":[{"filename":"/ws/src/lib.rs","segments":[[1,1,2,true,true,false],[1,9,0,false,false,false]],
            "summary":{"lines":{"count":1,"covered":1,"percent":100},"functions":{"count":1,"covered":1,"percent":100},
            "regions":{"count":1,"covered":1,"percent":100}}}],
          "functions":[{"name":"_RNvCs6OwSpoBalWE_1p1a","count":2,"regions":[[1,1,1,9,2,0,0,0]],"filenames":["/ws/src/lib.rs"]}],
          "totals":{"lines":{"count":1,"covered":1,"percent":100},"functions":{"count":1,"covered":1,"percent":100},
            "regions":{"count":1,"covered":1,"percent":100}}}]}"#;
        let r = parse_export(json, Path::new("/ws")).unwrap();
        assert_eq!(r.files[0].path, "src/lib.rs");
        assert_eq!(r.files[0].hits(1), Some(2));
        assert_eq!(r.function_hits("p::a"), Some(2));
        assert_eq!(
            r.totals.lines,
            Counts {
                count: 1,
                covered: 1
            }
        );
        assert!(parse_export(b"{}", Path::new("/")).is_err());
    }
}
