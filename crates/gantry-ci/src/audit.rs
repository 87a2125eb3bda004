//! Checking `Cargo.lock` against a local RustSec advisory database.
//!
//! CI must not depend on the network to decide whether a build is safe to
//! ship, and a check that silently passes when it could not fetch its data
//! is worse than none. So the database is a local directory (a clone of
//! `rustsec/advisory-db`, refreshed however the team likes) and is read
//! directly: its advisories are Markdown files,
//! `crates/<name>/RUSTSEC-YYYY-NNNN.md`, that start with a fenced TOML
//! block:
//!
//! ````text
//! ```toml
//! [advisory]
//! id = "RUSTSEC-2020-0071"
//! package = "time"
//! date = "2020-11-18"
//! informational = "unmaintained"   # optional: a warning, not a vulnerability
//! withdrawn = "2021-01-01"         # optional: ignored
//!
//! [versions]
//! patched = [">= 0.2.23"]
//! unaffected = ["< 0.1.0"]
//! ```
//!
//! # Title of the advisory
//! ````
//!
//! A locked version is affected when it matches neither a `patched` nor an
//! `unaffected` requirement. Only crates.io packages are checked: path and
//! git dependencies are not what the advisories describe.

use std::fmt;
use std::path::{Path, PathBuf};

use semver::{Version, VersionReq};
use serde::Deserialize;

use crate::error::{CiError, Result};

/// One advisory of the database.
#[derive(Clone, Debug)]
pub struct Advisory {
    /// `RUSTSEC-YYYY-NNNN`.
    pub id: String,
    /// The crate it concerns.
    pub package: String,
    /// The Markdown title (the first `# ` heading), or the id.
    pub title: String,
    /// `unmaintained`, `unsound`, `notice`: informational advisories are
    /// reported as warnings, not vulnerabilities.
    pub informational: Option<String>,
    /// Versions with the fix.
    pub patched: Vec<VersionReq>,
    /// Versions never affected.
    pub unaffected: Vec<VersionReq>,
    /// The advisory was withdrawn (it is ignored).
    pub withdrawn: bool,
    /// Its file.
    pub path: PathBuf,
}

impl Advisory {
    /// Whether `version` of the package is affected.
    pub fn affects(&self, version: &Version) -> bool {
        !self.withdrawn
            && !self.patched.iter().any(|r| r.matches(version))
            && !self.unaffected.iter().any(|r| r.matches(version))
    }
}

#[derive(Deserialize)]
struct RawAdvisoryFile {
    advisory: RawAdvisory,
    #[serde(default)]
    versions: RawVersions,
}

#[derive(Deserialize)]
struct RawAdvisory {
    id: String,
    package: String,
    #[serde(default)]
    informational: Option<String>,
    #[serde(default)]
    withdrawn: Option<toml::Value>,
}

#[derive(Default, Deserialize)]
struct RawVersions {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

/// Parses one advisory file's text; `path` is used in messages.
pub fn parse_advisory(text: &str, path: &Path) -> Result<Advisory> {
    let bad = |message: String| CiError::Audit {
        path: path.to_path_buf(),
        message,
    };
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().trim();
    if first != "```toml" {
        return Err(bad(
            "an advisory must start with a ```toml block (is this a RustSec advisory-db clone?)"
                .into(),
        ));
    }
    let mut front = String::new();
    let mut closed = false;
    for line in lines.by_ref() {
        if line.trim() == "```" {
            closed = true;
            break;
        }
        front.push_str(line);
        front.push('\n');
    }
    if !closed {
        return Err(bad("the ```toml block is not closed".into()));
    }
    let raw: RawAdvisoryFile = toml::from_str(&front)
        .map_err(|e| bad(format!("invalid advisory TOML: {}", e.message())))?;
    let title = lines
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|| raw.advisory.id.clone());
    let reqs = |list: &[String], what: &str| -> Result<Vec<VersionReq>> {
        list.iter()
            .map(|r| {
                VersionReq::parse(r)
                    .map_err(|e| bad(format!("invalid `{what}` requirement `{r}`: {e}")))
            })
            .collect()
    };
    Ok(Advisory {
        patched: reqs(&raw.versions.patched, "patched")?,
        unaffected: reqs(&raw.versions.unaffected, "unaffected")?,
        id: raw.advisory.id,
        package: raw.advisory.package,
        title,
        informational: raw.advisory.informational,
        withdrawn: raw.advisory.withdrawn.is_some(),
        path: path.to_path_buf(),
    })
}

/// The advisories of a database directory.
#[derive(Clone, Debug, Default)]
pub struct AdvisoryDb {
    /// Every advisory, sorted by package then id.
    pub advisories: Vec<Advisory>,
}

impl AdvisoryDb {
    /// Reads `<dir>/crates/*/*.md`. A missing directory, or one without a
    /// `crates/` folder, is an error: an audit against nothing must not
    /// pass.
    pub fn load(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(CiError::Audit {
                path: dir.to_path_buf(),
                message: "the advisory database does not exist; clone https://github.com/rustsec/advisory-db there, or fix `advisory-db` in the [ci] table of .config/gantry.toml".into(),
            });
        }
        let crates = dir.join("crates");
        let entries = std::fs::read_dir(&crates).map_err(|e| CiError::Audit {
            path: dir.to_path_buf(),
            message: format!(
                "this is not a RustSec advisory database (no readable `crates/` directory: {e})"
            ),
        })?;
        let mut advisories = Vec::new();
        for entry in entries {
            let entry = entry.map_err(CiError::io("could not read", &crates))?;
            let pkg_dir = entry.path();
            if !pkg_dir.is_dir() {
                continue;
            }
            let files =
                std::fs::read_dir(&pkg_dir).map_err(CiError::io("could not read", &pkg_dir))?;
            for f in files {
                let f = f.map_err(CiError::io("could not read", &pkg_dir))?;
                let path = f.path();
                if path.extension().is_none_or(|e| e != "md") {
                    continue;
                }
                let text =
                    std::fs::read_to_string(&path).map_err(CiError::io("could not read", &path))?;
                advisories.push(parse_advisory(&text, &path)?);
            }
        }
        advisories.sort_by(|a, b| (&a.package, &a.id).cmp(&(&b.package, &b.id)));
        Ok(Self { advisories })
    }
}

/// A package pinned in `Cargo.lock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedPackage {
    /// Crate name.
    pub name: String,
    /// Exact version.
    pub version: Version,
    /// `registry+…`, `git+…`, or `None` for path dependencies.
    pub source: Option<String>,
}

impl LockedPackage {
    /// Whether it comes from crates.io (the only packages advisories cover).
    pub fn is_crates_io(&self) -> bool {
        self.source.as_deref().is_some_and(|s| {
            s == "registry+https://github.com/rust-lang/crates.io-index"
                || s == "sparse+https://index.crates.io/"
        })
    }
}

/// Reads the packages of a `Cargo.lock`.
pub fn read_lockfile(path: &Path) -> Result<Vec<LockedPackage>> {
    let text = std::fs::read_to_string(path).map_err(|e| CiError::Audit {
        path: path.to_path_buf(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "there is no Cargo.lock to audit; run `cargo generate-lockfile` (and commit it) so CI audits the versions it builds".into()
        } else {
            format!("cannot read it: {e}")
        },
    })?;
    #[derive(Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Pkg>,
    }
    #[derive(Deserialize)]
    struct Pkg {
        name: String,
        version: String,
        source: Option<String>,
    }
    let lock: Lock = toml::from_str(&text).map_err(|e| CiError::Audit {
        path: path.to_path_buf(),
        message: format!("invalid Cargo.lock: {}", e.message()),
    })?;
    lock.package
        .into_iter()
        .map(|p| {
            let version = Version::parse(&p.version).map_err(|e| CiError::Audit {
                path: path.to_path_buf(),
                message: format!(
                    "package `{}` has an invalid version `{}`: {e}",
                    p.name, p.version
                ),
            })?;
            Ok(LockedPackage {
                name: p.name,
                version,
                source: p.source,
            })
        })
        .collect()
}

/// A package version an advisory applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFinding {
    /// The advisory id.
    pub id: String,
    /// The crate.
    pub package: String,
    /// The locked version.
    pub version: Version,
    /// The advisory's title.
    pub title: String,
    /// The versions with a fix, as written in the advisory.
    pub patched: Vec<String>,
    /// `unmaintained`, `unsound`, … for informational advisories.
    pub informational: Option<String>,
}

impl fmt::Display for AuditFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self
            .informational
            .as_deref()
            .map_or(String::new(), |k| format!(" [{k}]"));
        write!(
            f,
            "{}{kind}: {} {}: {}",
            self.id, self.package, self.version, self.title
        )?;
        if self.patched.is_empty() {
            write!(f, " (no fixed version: replace or remove the dependency, or accept the risk by adding \"{}\" to `ignore` in [ci.step.audit])", self.id)
        } else {
            write!(
                f,
                " (fixed in {}: run `cargo update -p {}@{}`)",
                self.patched.join(" or "),
                self.package,
                self.version
            )
        }
    }
}

/// What the audit found.
#[derive(Clone, Debug, Default)]
pub struct AuditReport {
    /// Affected packages (fail the step).
    pub vulnerabilities: Vec<AuditFinding>,
    /// Informational advisories (unmaintained, unsound, notices).
    pub warnings: Vec<AuditFinding>,
    /// Advisory ids that matched but are ignored by configuration.
    pub ignored: Vec<String>,
    /// crates.io packages checked.
    pub packages_checked: usize,
    /// Advisories in the database.
    pub advisories_loaded: usize,
}

/// Checks locked packages against the database; `ignore` lists advisory
/// ids to accept.
pub fn audit(packages: &[LockedPackage], db: &AdvisoryDb, ignore: &[String]) -> AuditReport {
    let mut report = AuditReport {
        advisories_loaded: db.advisories.len(),
        ..Default::default()
    };
    for p in packages.iter().filter(|p| p.is_crates_io()) {
        report.packages_checked += 1;
        for a in db.advisories.iter().filter(|a| a.package == p.name) {
            if !a.affects(&p.version) {
                continue;
            }
            if ignore.contains(&a.id) {
                if !report.ignored.contains(&a.id) {
                    report.ignored.push(a.id.clone());
                }
                continue;
            }
            let finding = AuditFinding {
                id: a.id.clone(),
                package: p.name.clone(),
                version: p.version.clone(),
                title: a.title.clone(),
                patched: a.patched.iter().map(|r| r.to_string()).collect(),
                informational: a.informational.clone(),
            };
            if a.informational.is_some() {
                report.warnings.push(finding);
            } else {
                report.vulnerabilities.push(finding);
            }
        }
    }
    report
}

/// Reads `lock` and the database at `db` and audits one against the other.
pub fn audit_files(lock: &Path, db: &Path, ignore: &[String]) -> Result<AuditReport> {
    let packages = read_lockfile(lock)?;
    let db = AdvisoryDb::load(db)?;
    Ok(audit(&packages, &db, ignore))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADVISORY: &str = "```toml\n[advisory]\nid = \"RUSTSEC-2099-0001\"\npackage = \"demo\"\ndate = \"2099-01-01\"\n\n[versions]\npatched = [\">= 1.2.0\"]\nunaffected = [\"< 0.5.0\"]\n```\n\n# Demo is broken\n\nDetails.\n";

    #[test]
    fn versions_between_unaffected_and_patched_are_affected() {
        let a = parse_advisory(ADVISORY, Path::new("x.md")).unwrap();
        assert_eq!(a.title, "Demo is broken");
        let v = |s: &str| Version::parse(s).unwrap();
        assert!(!a.affects(&v("0.4.9")));
        assert!(a.affects(&v("0.5.0")));
        assert!(a.affects(&v("1.1.9")));
        assert!(!a.affects(&v("1.2.0")));
    }

    #[test]
    fn malformed_advisories_name_the_file() {
        let err = parse_advisory("# no front matter", Path::new("crates/x/RUSTSEC-1.md"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("crates/x/RUSTSEC-1.md"), "{err}");
        assert!(err.contains("```toml"), "{err}");
        let err = parse_advisory(
            "```toml\n[advisory]\nid = \"X-1\"\npackage = \"x\"\n[versions]\npatched = [\">= nope\"]\n```\n",
            Path::new("a.md"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("invalid `patched` requirement `>= nope`"),
            "{err}"
        );
    }
}
