//! Doctests, which only `cargo test --doc` can build and run: listed and
//! run per package, and folded into the run's results under the binary id
//! `<package>::doc`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Result, RunnerError};
use crate::list::BuildOptions;

/// The binary id doctests of a package are reported under.
pub fn doc_binary_id(package: &str) -> String {
    format!("{package}::doc")
}

/// One doctest's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocTestResult {
    /// Package.
    pub package: String,
    /// Name as rustdoc prints it, e.g. `src/lib.rs - add (line 3)`.
    pub name: String,
    /// Passed.
    pub passed: bool,
    /// The failure output rustdoc printed (empty when passed).
    pub output: String,
}

fn cargo_doc_command(build: &BuildOptions, package: &str, cwd: &Path) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut opts = build.clone();
    opts.packages = vec![package.to_string()];
    opts.workspace = false;
    opts.exclude.clear();
    opts.lib = false;
    opts.bins = false;
    opts.tests = false;
    opts.test.clear();
    opts.bin.clear();
    opts.examples = false;
    let mut cmd = Command::new(cargo);
    cmd.arg("test")
        .arg("--doc")
        .args(opts.cargo_args())
        .envs(build.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null());
    cmd
}

/// Lists a package's doctests (`cargo test --doc -- --list`) with whether
/// each is ignored (```` ```ignore ````).
pub fn list_doctests(
    build: &BuildOptions,
    package: &str,
    cwd: &Path,
) -> Result<Vec<(String, bool)>> {
    let all = list_with(build, package, cwd, false)?;
    let ignored: std::collections::HashSet<String> =
        list_with(build, package, cwd, true)?.into_iter().collect();
    Ok(all
        .into_iter()
        .map(|n| {
            let ig = ignored.contains(&n);
            (n, ig)
        })
        .collect())
}

fn list_with(
    build: &BuildOptions,
    package: &str,
    cwd: &Path,
    ignored: bool,
) -> Result<Vec<String>> {
    let mut cmd = cargo_doc_command(build, package, cwd);
    cmd.args(["--", "--list", "--format", "terse"]);
    if ignored {
        cmd.arg("--ignored");
    }
    let out = cmd.output().map_err(|source| RunnerError::CargoSpawn {
        command: format!("cargo test --doc -p {package} -- --list"),
        source,
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // A package without a library has no doctests.
        if stderr.contains("no library targets found") {
            return Ok(Vec::new());
        }
        return Err(RunnerError::BuildFailed {
            command: format!("cargo test --doc -p {package} -- --list\n{stderr}"),
            status: out.status.to_string(),
        });
    }
    Ok(crate::list::test_list::parse_terse_list(
        &String::from_utf8_lossy(&out.stdout),
    ))
}

/// Runs the doctests of a package and returns a result for each of the
/// named ones. All of the package's doctests run: cargo splits the
/// arguments it hands rustdoc on whitespace, and doctest names contain
/// spaces, so exact name filters cannot reach rustdoc intact.
pub fn run_doctests(
    build: &BuildOptions,
    package: &str,
    names: &[String],
    include_ignored: bool,
    cwd: &Path,
) -> Result<(Vec<DocTestResult>, Duration)> {
    let start = Instant::now();
    let mut cmd = cargo_doc_command(build, package, cwd);
    cmd.args(["--", "--color", "never"]);
    if include_ignored {
        cmd.arg("--include-ignored");
    }
    let out = cmd.output().map_err(|source| RunnerError::CargoSpawn {
        command: format!("cargo test --doc -p {package}"),
        source,
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut results = parse_doctest_output(package, &stdout);
    results.retain(|r| names.contains(&r.name));
    // A doctest that was asked for but not reported did not run: failed.
    for n in names {
        if !results.iter().any(|r| &r.name == n) {
            results.push(DocTestResult {
                package: package.to_string(),
                name: n.clone(),
                passed: false,
                output: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
    }
    Ok((results, start.elapsed()))
}

/// Parses libtest's pretty output of a doctest run.
pub fn parse_doctest_output(package: &str, stdout: &str) -> Vec<DocTestResult> {
    let mut results: Vec<DocTestResult> = Vec::new();
    let mut section: Option<(String, String)> = None;
    let flush = |section: &mut Option<(String, String)>, results: &mut Vec<DocTestResult>| {
        if let Some((name, text)) = section.take() {
            if let Some(r) = results.iter_mut().find(|r| r.name == name) {
                r.output = text.trim_end().to_string();
            }
        }
    };
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("test ") {
            if let Some((name, result)) = rest.rsplit_once(" ... ") {
                if result == "ok" || result == "FAILED" {
                    results.push(DocTestResult {
                        package: package.to_string(),
                        name: name.to_string(),
                        passed: result == "ok",
                        output: String::new(),
                    });
                    continue;
                }
            }
        }
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            flush(&mut section, &mut results);
            section = Some((name.to_string(), String::new()));
            continue;
        }
        if line == "failures:" {
            flush(&mut section, &mut results);
            continue;
        }
        if let Some((_, text)) = &mut section {
            text.push_str(line);
            text.push('\n');
        }
    }
    flush(&mut section, &mut results);
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_results_and_failure_output() {
        let out = "\nrunning 2 tests\ntest src/lib.rs - add (line 3) ... ok\ntest src/lib.rs - bad (line 10) ... FAILED\n\nfailures:\n\n---- src/lib.rs - bad (line 10) stdout ----\nerror[E0425]: cannot find value `x`\n\nfailures:\n    src/lib.rs - bad (line 10)\n\ntest result: FAILED. 1 passed; 1 failed\n";
        let r = parse_doctest_output("demo", out);
        assert_eq!(r.len(), 2);
        assert!(r[0].passed && r[0].output.is_empty());
        assert!(!r[1].passed);
        assert_eq!(r[1].output, "error[E0425]: cannot find value `x`");
    }
}
