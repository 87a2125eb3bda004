//! The coverage ratchet: a committed score that only moves up.
//!
//! `.config/gantry-coverage.toml` records, per target architecture (code
//! behind `cfg(target_arch)` makes figures differ between machines), the line
//! coverage of the suite and the settings it was measured with:
//!
//! ```toml
//! tolerance = 0.5
//!
//! [x86_64]
//! lines = 87.31
//! ignore-filename-regex = ["src/generated/"]
//! features = ["tls"]
//! ```
//!
//! CI runs `cargo gantry cover --check`: it fails when coverage falls more
//! than `tolerance` points below `lines`, and also when it rises more than
//! that above it, because a rise that is not recorded would let the next
//! change fall back unnoticed. Developers run `cargo gantry cover --update`
//! and commit the file; it refuses to lower the score unless asked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use toml_edit::{value, Array, DocumentMut, Item, Table};

use crate::error::CoverError;

/// Where the ratchet file lives, relative to the workspace root.
pub const RATCHET_FILE: &str = ".config/gantry-coverage.toml";

/// Allowed movement, in percentage points, when the file does not say: it
/// absorbs the small noise of timing-dependent code paths.
pub const DEFAULT_TOLERANCE: f64 = 0.5;

/// The architecture section this machine checks against.
pub fn host_arch() -> &'static str {
    std::env::consts::ARCH
}

/// What a run measured, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Line coverage in percent.
    pub lines_percent: f64,
    /// The user's exclusions (not the built-in defaults).
    pub ignore_filename_regex: Vec<String>,
    /// Crate features the tests were built with.
    pub features: Vec<String>,
}

/// One architecture's recorded score.
#[derive(Clone, Debug, PartialEq)]
pub struct RatchetEntry {
    /// Line coverage in percent.
    pub lines: f64,
    /// Exclusions the score was measured with; `cargo gantry cover` applies
    /// them to every run so that runs stay comparable.
    pub ignore_filename_regex: Vec<String>,
    /// Features the score was measured with.
    pub features: Vec<String>,
}

/// The parsed ratchet file.
#[derive(Clone, Debug)]
pub struct Ratchet {
    path: PathBuf,
    doc: DocumentMut,
    tolerance: f64,
    warnings: Vec<String>,
}

impl Ratchet {
    /// The file's path in a workspace.
    pub fn path_in(workspace_root: &Path) -> PathBuf {
        workspace_root.join(RATCHET_FILE)
    }

    /// Reads the file; `None` if it does not exist. Values of the wrong type
    /// are errors naming the key; unknown keys are warnings.
    pub fn load(path: &Path) -> Result<Option<Ratchet>, CoverError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CoverError::io("could not read", path)(e)),
        };
        let bad = |reason: String| CoverError::RatchetFile {
            path: path.to_path_buf(),
            reason,
        };
        let doc: DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| bad(e.to_string().trim_end().to_string()))?;
        let mut tolerance = DEFAULT_TOLERANCE;
        let mut warnings = Vec::new();
        for (key, item) in doc.iter() {
            if key == "tolerance" {
                tolerance = number(item).filter(|t| *t >= 0.0).ok_or_else(|| {
                    bad("`tolerance` must be a non-negative number of percentage points".into())
                })?;
            } else if let Some(table) = item.as_table() {
                parse_entry(key, table).map_err(bad)?;
                for (k, _) in table.iter() {
                    if !matches!(k, "lines" | "ignore-filename-regex" | "features") {
                        warnings.push(format!(
                            "{}: unknown key `{key}.{k}` (expected lines, ignore-filename-regex, features)",
                            path.display()
                        ));
                    }
                }
            } else {
                warnings.push(format!(
                    "{}: unknown key `{key}` (expected `tolerance` or an architecture table such as [x86_64])",
                    path.display()
                ));
            }
        }
        Ok(Some(Ratchet {
            path: path.to_path_buf(),
            doc,
            tolerance,
            warnings,
        }))
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Allowed movement in percentage points.
    pub fn tolerance(&self) -> f64 {
        self.tolerance
    }

    /// Unknown keys found while loading.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The recorded entry of an architecture.
    pub fn entry(&self, arch: &str) -> Option<RatchetEntry> {
        self.doc
            .get(arch)
            .and_then(Item::as_table)
            .and_then(|t| parse_entry(arch, t).ok())
    }
}

fn number(item: &Item) -> Option<f64> {
    item.as_float()
        .or_else(|| item.as_integer().map(|i| i as f64))
}

fn strings(table: &Table, key: &str, arch: &str) -> Result<Vec<String>, String> {
    match table.get(key) {
        None => Ok(Vec::new()),
        Some(item) => item
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| format!("`{arch}.{key}` must be an array of strings")),
    }
}

fn parse_entry(arch: &str, table: &Table) -> Result<RatchetEntry, String> {
    let lines = table
        .get("lines")
        .and_then(number)
        .filter(|l| (0.0..=100.0).contains(l))
        .ok_or_else(|| format!("`{arch}.lines` must be a percentage between 0 and 100"))?;
    Ok(RatchetEntry {
        lines,
        ignore_filename_regex: strings(table, "ignore-filename-regex", arch)?,
        features: strings(table, "features", arch)?,
    })
}

/// A passed check.
#[derive(Clone, Debug, PartialEq)]
pub struct GatePass {
    /// Recorded score.
    pub old: f64,
    /// This run's line coverage (rounded as it would be recorded).
    pub new: f64,
    /// Tolerance in force.
    pub tolerance: f64,
}

impl GatePass {
    /// One line for the console.
    pub fn message(&self) -> String {
        format!(
            "coverage gate passed: line coverage {:.2}% against the recorded {:.2}% (tolerance {:.2} points)",
            self.new, self.old, self.tolerance
        )
    }
}

/// Scores are recorded and compared with two decimals, as printed.
fn round2(p: f64) -> f64 {
    (p * 100.0).round() / 100.0
}

fn sorted(v: &[String]) -> BTreeSet<&str> {
    v.iter().map(String::as_str).collect()
}

fn show(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        format!("[{}]", v.join(", "))
    }
}

/// Checks a run against the ratchet file at `path` (see the module docs);
/// every failure is a [`CoverError`] for which
/// [`CoverError::is_gate_failure`] holds, with the figures and what to run.
pub fn check(path: &Path, arch: &str, m: &Measurement) -> Result<GatePass, CoverError> {
    let new = round2(m.lines_percent);
    let missing = || CoverError::GateMissing {
        path: path.to_path_buf(),
        arch: arch.to_string(),
        measured: new,
    };
    let ratchet = Ratchet::load(path)?.ok_or_else(missing)?;
    let entry = ratchet.entry(arch).ok_or_else(missing)?;
    let settings = |what, recorded: &[String], current: &[String]| CoverError::GateSettings {
        path: path.to_path_buf(),
        arch: arch.to_string(),
        what,
        recorded: show(recorded),
        current: show(current),
    };
    if sorted(&entry.features) != sorted(&m.features) {
        return Err(settings("features", &entry.features, &m.features));
    }
    if sorted(&entry.ignore_filename_regex) != sorted(&m.ignore_filename_regex) {
        return Err(settings(
            "excluded paths",
            &entry.ignore_filename_regex,
            &m.ignore_filename_regex,
        ));
    }
    let tolerance = ratchet.tolerance();
    let old = entry.lines;
    // The epsilon keeps a drop of exactly the tolerance (as printed) a pass.
    if new < old - tolerance - 1e-9 {
        return Err(CoverError::GateBelow {
            path: path.to_path_buf(),
            arch: arch.to_string(),
            old,
            new,
            tolerance,
        });
    }
    if new > old + tolerance + 1e-9 {
        return Err(CoverError::GateAbove {
            path: path.to_path_buf(),
            arch: arch.to_string(),
            old,
            new,
            tolerance,
        });
    }
    Ok(GatePass {
        old,
        new,
        tolerance,
    })
}

/// What [`update`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct RatchetUpdate {
    /// The file written.
    pub path: PathBuf,
    /// Architecture section.
    pub arch: String,
    /// The score before, if there was one.
    pub old: Option<f64>,
    /// The score now.
    pub new: f64,
}

impl RatchetUpdate {
    /// One line for the console.
    pub fn message(&self) -> String {
        match self.old {
            None => format!(
                "recorded line coverage {:.2}% for {} in {}; commit it",
                self.new,
                self.arch,
                self.path.display()
            ),
            Some(old) if (old - self.new).abs() < 1e-9 => format!(
                "line coverage {:.2}% for {} is unchanged in {}",
                self.new,
                self.arch,
                self.path.display()
            ),
            Some(old) => format!(
                "line coverage for {} moved from {old:.2}% to {:.2}% in {}; commit it",
                self.arch,
                self.new,
                self.path.display()
            ),
        }
    }
}

/// Records a run's score and settings in the ratchet file at `path`,
/// creating it if needed and keeping its other sections and comments.
/// Lowering the score needs `allow_lower`.
pub fn update(
    path: &Path,
    arch: &str,
    m: &Measurement,
    allow_lower: bool,
) -> Result<RatchetUpdate, CoverError> {
    let new = round2(m.lines_percent);
    let (mut doc, old) = match Ratchet::load(path)? {
        Some(r) => {
            let old = r.entry(arch).map(|e| e.lines);
            (r.doc, old)
        }
        None => (new_document(), None),
    };
    if let Some(old) = old {
        if new < old - 1e-9 && !allow_lower {
            return Err(CoverError::WouldLower {
                path: path.to_path_buf(),
                arch: arch.to_string(),
                old,
                new,
            });
        }
    }
    if !doc.contains_table(arch) {
        doc.insert(arch, Item::Table(Table::new()));
    }
    let table = doc[arch]
        .as_table_mut()
        .ok_or_else(|| CoverError::RatchetFile {
            path: path.to_path_buf(),
            reason: format!("`{arch}` must be a table"),
        })?;
    table.insert("lines", value(new));
    table.insert(
        "ignore-filename-regex",
        value(Array::from_iter(
            m.ignore_filename_regex.iter().map(String::as_str),
        )),
    );
    table.insert(
        "features",
        value(Array::from_iter(m.features.iter().map(String::as_str))),
    );
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(CoverError::io("could not create", parent))?;
    }
    std::fs::write(path, doc.to_string()).map_err(CoverError::io("could not write", path))?;
    Ok(RatchetUpdate {
        path: path.to_path_buf(),
        arch: arch.to_string(),
        old,
        new,
    })
}

fn new_document() -> DocumentMut {
    let mut doc: DocumentMut =
        "# Coverage ratchet of `cargo gantry cover --check`: per target architecture,\n\
         # the line coverage of the test suite and the settings it was measured with.\n\
         # Written by `cargo gantry cover --update`; commit it.\n"
            .parse()
            .expect("the header is valid TOML");
    doc.insert("tolerance", value(DEFAULT_TOLERANCE));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(lines: f64) -> Measurement {
        Measurement {
            lines_percent: lines,
            ignore_filename_regex: vec![],
            features: vec![],
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "gantry-cover-ratchet-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn missing_file_says_what_to_run() {
        let path = dir("missing").join(RATCHET_FILE);
        let err = check(&path, "x86_64", &m(81.234)).unwrap_err();
        assert!(err.is_gate_failure());
        assert_eq!(
            err.to_string(),
            format!(
                "no coverage score recorded for x86_64 in {}: run `cargo gantry cover --update` to record the current line coverage (81.23%) and commit the file",
                path.display()
            )
        );
    }

    #[test]
    fn the_bar_only_moves_up() {
        let d = dir("bar");
        let path = d.join(RATCHET_FILE);
        let first = update(&path, "x86_64", &m(80.0), false).unwrap();
        assert_eq!(first.old, None);
        assert!(first
            .message()
            .starts_with("recorded line coverage 80.00% for x86_64"));

        // Within the tolerance either way: pass.
        for lines in [79.5, 80.0, 80.5] {
            let pass = check(&path, "x86_64", &m(lines)).unwrap();
            assert_eq!(pass.old, 80.0);
        }
        // Below: fail, with both figures and the way out.
        let below = check(&path, "x86_64", &m(79.2)).unwrap_err();
        assert!(below.is_gate_failure());
        let text = below.to_string();
        assert!(
            text.starts_with(
                "line coverage fell from 80.00% to 79.20% (-0.80 points, tolerance 0.50)"
            ),
            "{text}"
        );
        // Above without an update: fail too.
        let above = check(&path, "x86_64", &m(83.0)).unwrap_err().to_string();
        assert!(
            above.starts_with(
                "line coverage rose from 80.00% to 83.00% (+3.00 points, tolerance 0.50)"
            ),
            "{above}"
        );
        assert!(
            above.contains("run `cargo gantry cover --update`"),
            "{above}"
        );

        // Raising is fine; lowering needs the flag.
        let up = update(&path, "x86_64", &m(83.0), false).unwrap();
        assert_eq!(up.old, Some(80.0));
        check(&path, "x86_64", &m(83.0)).unwrap();
        let lower = update(&path, "x86_64", &m(82.0), false).unwrap_err();
        assert!(
            lower
                .to_string()
                .contains("from 83.00% to 82.00%: pass `--allow-lower`"),
            "{lower}"
        );
        assert_eq!(
            Ratchet::load(&path)
                .unwrap()
                .unwrap()
                .entry("x86_64")
                .unwrap()
                .lines,
            83.0
        );
        update(&path, "x86_64", &m(82.0), true).unwrap();
        assert_eq!(
            Ratchet::load(&path)
                .unwrap()
                .unwrap()
                .entry("x86_64")
                .unwrap()
                .lines,
            82.0
        );
        // Another architecture has no score yet.
        assert!(matches!(
            check(&path, "aarch64", &m(82.0)),
            Err(CoverError::GateMissing { .. })
        ));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn tolerance_comments_and_settings_are_kept() {
        let d = dir("settings");
        let path = d.join(RATCHET_FILE);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            "# ours\ntolerance = 2\n\n[aarch64]\nlines = 50.0\n\n[x86_64]\nlines = 70\nfeatures = [\"tls\"]\nignore-filename-regex = [\"gen/\"]\ncolour = 1\n",
        )
        .unwrap();
        let r = Ratchet::load(&path).unwrap().unwrap();
        assert_eq!(r.tolerance(), 2.0);
        assert_eq!(r.warnings().len(), 1, "{:?}", r.warnings());
        let same = Measurement {
            lines_percent: 71.9,
            ignore_filename_regex: vec!["gen/".into()],
            features: vec!["tls".into()],
        };
        check(&path, "x86_64", &same).unwrap();
        let other = Measurement {
            features: vec![],
            ..same.clone()
        };
        let err = check(&path, "x86_64", &other).unwrap_err().to_string();
        assert!(
            err.contains("features differ (recorded [tls], this run none)"),
            "{err}"
        );
        update(
            &path,
            "x86_64",
            &Measurement {
                lines_percent: 75.0,
                ..same
            },
            false,
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# ours\ntolerance = 2\n"), "{text}");
        assert!(text.contains("[aarch64]\nlines = 50.0"), "{text}");
        assert!(text.contains("lines = 75.0"), "{text}");

        std::fs::write(&path, "[x86_64]\nlines = \"high\"\n").unwrap();
        let err = Ratchet::load(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("`x86_64.lines` must be a percentage between 0 and 100"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(d);
    }
}
