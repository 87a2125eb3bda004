//! The list of test binaries and their tests, and how to list them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use cargo_metadata::Metadata;
use gantry_filter::TestQuery;
use gantry_metadata::{BinarySummary, TestListSummary, TestSummary, TEST_LIST_FORMAT_VERSION};

use super::build::{BuildOutput, BuiltTestBinary};
use super::cache::{libtest_binaries, ListCache};
use crate::error::{Result, RunnerError};

/// A test binary ready to run: where it is, where it runs and with what
/// environment, so that tests see what they would see under `cargo test`.
#[derive(Clone, Debug)]
pub struct TestBinary {
    /// `pkg`, `pkg::name`, `pkg::bin/name`, …
    pub binary_id: String,
    /// Package name.
    pub package: String,
    /// Target name.
    pub name: String,
    /// Normalized target kind.
    pub kind: String,
    /// The executable.
    pub path: PathBuf,
    /// Working directory: the package directory, as under `cargo test`.
    pub cwd: PathBuf,
    /// Environment cargo would set for this binary.
    pub env: Vec<(String, String)>,
}

/// One test in a binary.
#[derive(Clone, Debug)]
pub struct TestCase {
    /// The binary it lives in.
    pub binary: Arc<TestBinary>,
    /// Full libtest name.
    pub name: String,
    /// `#[ignore]`d.
    pub ignored: bool,
}

impl TestCase {
    /// The facts a filter expression matches against.
    pub fn query(&self) -> TestQuery<'_> {
        TestQuery {
            package: &self.binary.package,
            binary_id: &self.binary.binary_id,
            binary: &self.binary.name,
            kind: &self.binary.kind,
            test: &self.name,
        }
    }

    /// The workspace-wide id.
    pub fn id(&self) -> gantry_metadata::TestId {
        gantry_metadata::TestId {
            binary_id: self.binary.binary_id.clone(),
            name: self.name.clone(),
        }
    }
}

/// All test binaries of a build and their tests.
#[derive(Clone, Debug, Default)]
pub struct TestList {
    /// Workspace root.
    pub workspace_root: PathBuf,
    /// Target directory.
    pub target_dir: PathBuf,
    /// Binaries sorted by binary id.
    pub binaries: Vec<Arc<TestBinary>>,
    /// Tests in binary order, then libtest order.
    pub tests: Vec<TestCase>,
}

/// The binary id nextest and gantry use: short for libraries, qualified
/// for everything else, unique within a workspace.
pub fn binary_id(package: &str, kind: &str, name: &str) -> String {
    match kind {
        "lib" | "proc-macro" => package.to_string(),
        "test" => format!("{package}::{name}"),
        other => format!("{package}::{other}/{name}"),
    }
}

impl TestList {
    /// Lists the tests of every built binary (in parallel) and assembles
    /// the list.
    pub fn discover(build: &BuildOutput, metadata: &Metadata) -> Result<Self> {
        let binaries: Vec<Arc<TestBinary>> = build
            .test_binaries
            .iter()
            .map(|b| Arc::new(make_binary(b, build, metadata)))
            .collect();
        let cache_path = ListCache::path_in(metadata.target_directory.as_std_path());
        let mut cache = ListCache::load(&cache_path);
        let libtest = libtest_binaries(&build.test_binaries, metadata);
        let cached: Vec<Option<Vec<(String, bool)>>> = binaries
            .iter()
            .zip(&libtest)
            .map(|(b, &libtest)| if libtest { cache.get(&b.path) } else { None })
            .collect();
        let mut listed = Vec::new();
        let results: Vec<Result<Vec<(String, bool)>>> = std::thread::scope(|scope| {
            // Everything not cached is listed at once, in parallel.
            let running: Vec<_> = binaries
                .iter()
                .zip(cached)
                .map(|(b, cached)| cached.ok_or_else(|| scope.spawn(move || list_binary(b))))
                .collect();
            running
                .into_iter()
                .map(|r| r.or_else(|h| h.join().expect("listing thread panicked")))
                .collect()
        });
        for ((b, r), libtest) in binaries.iter().zip(results).zip(libtest) {
            let tests = r?;
            if libtest {
                cache.put(&b.path, &tests);
            }
            listed.push((Arc::clone(b), tests));
        }
        cache.save(&cache_path);
        listed.sort_by(|a, b| a.0.binary_id.cmp(&b.0.binary_id));
        let mut list = TestList {
            workspace_root: metadata.workspace_root.clone().into_std_path_buf(),
            target_dir: metadata.target_directory.clone().into_std_path_buf(),
            ..Default::default()
        };
        for (binary, tests) in listed {
            for (name, ignored) in tests {
                list.tests.push(TestCase {
                    binary: binary.clone(),
                    name,
                    ignored,
                });
            }
            list.binaries.push(binary);
        }
        Ok(list)
    }

    /// The machine-readable summary printed by `list --format json`.
    pub fn summary(&self, selected: &dyn Fn(&TestCase) -> bool) -> TestListSummary {
        let mut by_binary: BTreeMap<&str, Vec<TestSummary>> = BTreeMap::new();
        let mut selected_count = 0;
        for t in &self.tests {
            let sel = selected(t);
            selected_count += usize::from(sel);
            by_binary
                .entry(&t.binary.binary_id)
                .or_default()
                .push(TestSummary {
                    name: t.name.clone(),
                    ignored: t.ignored,
                    selected: sel,
                });
        }
        TestListSummary {
            format_version: TEST_LIST_FORMAT_VERSION,
            workspace_root: self.workspace_root.display().to_string(),
            selected_count,
            test_count: self.tests.len(),
            binaries: self
                .binaries
                .iter()
                .map(|b| BinarySummary {
                    binary_id: b.binary_id.clone(),
                    package: b.package.clone(),
                    kind: b.kind.clone(),
                    name: b.name.clone(),
                    path: b.path.display().to_string(),
                    cwd: b.cwd.display().to_string(),
                    tests: by_binary.remove(b.binary_id.as_str()).unwrap_or_default(),
                })
                .collect(),
        }
    }
}

fn make_binary(b: &BuiltTestBinary, build: &BuildOutput, metadata: &Metadata) -> TestBinary {
    let package = metadata.packages.iter().find(|p| p.id.repr == b.package_id);
    let package_name = package
        .map(|p| p.name.to_string())
        .unwrap_or(b.package.clone());
    let cwd = package
        .and_then(|p| p.manifest_path.parent())
        .map(|p| p.to_path_buf().into_std_path_buf())
        .unwrap_or_else(|| metadata.workspace_root.clone().into_std_path_buf());
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| env.push((k.to_string(), v));
    set(
        "CARGO",
        std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
    );
    set("CARGO_MANIFEST_DIR", cwd.display().to_string());
    if let Some(p) = package {
        set("CARGO_MANIFEST_PATH", p.manifest_path.to_string());
        set("CARGO_PKG_NAME", p.name.to_string());
        let v = &p.version;
        set("CARGO_PKG_VERSION", v.to_string());
        set("CARGO_PKG_VERSION_MAJOR", v.major.to_string());
        set("CARGO_PKG_VERSION_MINOR", v.minor.to_string());
        set("CARGO_PKG_VERSION_PATCH", v.patch.to_string());
        set("CARGO_PKG_VERSION_PRE", v.pre.to_string());
        set("CARGO_PKG_AUTHORS", p.authors.join(":"));
        set(
            "CARGO_PKG_DESCRIPTION",
            p.description.clone().unwrap_or_default(),
        );
        set("CARGO_PKG_HOMEPAGE", p.homepage.clone().unwrap_or_default());
        set(
            "CARGO_PKG_REPOSITORY",
            p.repository.clone().unwrap_or_default(),
        );
        set("CARGO_PKG_LICENSE", p.license.clone().unwrap_or_default());
        set(
            "CARGO_PKG_LICENSE_FILE",
            p.license_file
                .as_ref()
                .map(|x| x.to_string())
                .unwrap_or_default(),
        );
        set(
            "CARGO_PKG_RUST_VERSION",
            p.rust_version
                .as_ref()
                .map(|x| x.to_string())
                .unwrap_or_default(),
        );
        set(
            "CARGO_PKG_README",
            p.readme.as_ref().map(|x| x.to_string()).unwrap_or_default(),
        );
    }
    set("CARGO_CRATE_NAME", b.name.replace('-', "_"));
    if b.kind == "bin" {
        set("CARGO_BIN_NAME", b.name.clone());
    }
    if matches!(b.kind.as_str(), "test" | "bench") {
        if let Some(bins) = build.bin_executables.get(&b.package_id) {
            for (name, path) in bins {
                set(&format!("CARGO_BIN_EXE_{name}"), path.display().to_string());
            }
        }
        let tmp = metadata.target_directory.join("tmp");
        let _ = std::fs::create_dir_all(&tmp);
        set("CARGO_TARGET_TMPDIR", tmp.to_string());
    }
    // Dynamic libraries next to the binary and in the sysroot, as cargo adds.
    let mut lib_dirs: Vec<String> = Vec::new();
    if let Some(deps) = b.path.parent() {
        lib_dirs.push(deps.display().to_string());
        if let Some(profile_dir) = deps.parent() {
            lib_dirs.push(profile_dir.display().to_string());
        }
    }
    if let Some(sysroot_lib) = sysroot_lib_dir() {
        lib_dirs.push(sysroot_lib);
    }
    if let Ok(existing) = std::env::var("LD_LIBRARY_PATH") {
        if !existing.is_empty() {
            lib_dirs.push(existing);
        }
    }
    set("LD_LIBRARY_PATH", lib_dirs.join(":"));
    TestBinary {
        binary_id: binary_id(&package_name, &b.kind, &b.name),
        package: package_name,
        name: b.name.clone(),
        kind: b.kind.clone(),
        path: b.path.clone(),
        cwd,
        env,
    }
}

/// `<sysroot>/lib/rustlib/<host>/lib`, where the standard library's
/// dylibs live (needed by `-C prefer-dynamic` builds).
pub fn sysroot_lib_dir() -> Option<String> {
    static DIR: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let out = Command::new(rustc)
            .args(["--print", "sysroot"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let sysroot = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!sysroot.is_empty()).then(|| format!("{sysroot}/lib"))
    })
    .clone()
}

/// Runs `<bin> --list --format terse` (and again with `--ignored`) and
/// returns `(name, ignored)` in libtest's order.
fn list_binary(binary: &TestBinary) -> Result<Vec<(String, bool)>> {
    let (all, ignored) = std::thread::scope(|scope| {
        let ignored = scope.spawn(|| run_list(binary, true));
        let all = run_list(binary, false);
        (all, ignored.join().expect("listing thread panicked"))
    });
    let (all, ignored) = (all?, ignored?);
    let ignored: std::collections::HashSet<String> = ignored.into_iter().collect();
    Ok(all
        .into_iter()
        .map(|name| {
            let ig = ignored.contains(&name);
            (name, ig)
        })
        .collect())
}

fn run_list(binary: &TestBinary, ignored: bool) -> Result<Vec<String>> {
    let mut cmd = Command::new(&binary.path);
    cmd.args(["--list", "--format", "terse"]);
    if ignored {
        cmd.arg("--ignored");
    }
    let out = cmd
        .current_dir(&binary.cwd)
        .envs(binary.env.iter().map(|(k, v)| (k, v)))
        // An instrumented binary would leave a `default_*.profraw` in the
        // package directory for every listing.
        .env("LLVM_PROFILE_FILE", "/dev/null")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| RunnerError::ListFailed {
            binary_id: binary.binary_id.clone(),
            path: binary.path.clone(),
            status: "could not start".into(),
            stderr: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(RunnerError::ListFailed {
            binary_id: binary.binary_id.clone(),
            path: binary.path.clone(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(parse_terse_list(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses libtest's terse list: `name: test` lines (benches are skipped).
pub fn parse_terse_list(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terse_list_keeps_tests_only() {
        let text = "a::b: test\nc: bench\nweird name: with colon: test\n\n";
        assert_eq!(parse_terse_list(text), ["a::b", "weird name: with colon"]);
    }

    #[test]
    fn binary_ids() {
        assert_eq!(binary_id("foo", "lib", "foo"), "foo");
        assert_eq!(binary_id("foo", "test", "it"), "foo::it");
        assert_eq!(binary_id("foo", "bin", "cli"), "foo::bin/cli");
        assert_eq!(binary_id("foo", "example", "ex"), "foo::example/ex");
    }
}
