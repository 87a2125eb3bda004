//! Measures the coverage of a cargo project's tests with gantry-cover, the
//! way `cargo gantry cover` does but with `cargo test` as the runner: the
//! reference for comparing gantry's figures with cargo-llvm-cov's
//! (`benches/cover-compare`).
//!
//! ```text
//! cover_project <project-dir> [--json FILE] [--lcov FILE] [--cobertura FILE]
//!               [--html DIR] [--ignore-filename-regex R]… [-- <cargo test args>]
//! ```
//!
//! The cargo test arguments default to `--lib --bins --tests` (no doctests,
//! as `cargo gantry` runs them). The program is also its own rustc wrapper,
//! exactly as the gantry CLI is: cargo runs it with `GANTRY_RUSTC_WRAPPER`
//! set, and it hands over to rustc at once.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gantry_cover::{export_report, render, CoverSession, ExportRequest, LlvmTools, ProfileMerger};

struct Args {
    project: PathBuf,
    json: Option<PathBuf>,
    lcov: Option<PathBuf>,
    cobertura: Option<PathBuf>,
    html: Option<PathBuf>,
    ignore: Vec<String>,
    cargo_args: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        project: PathBuf::new(),
        json: None,
        lcov: None,
        cobertura: None,
        html: None,
        ignore: Vec::new(),
        cargo_args: Vec::new(),
    };
    let mut project = None;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--json" => a.json = Some(value("--json")?.into()),
            "--lcov" => a.lcov = Some(value("--lcov")?.into()),
            "--cobertura" => a.cobertura = Some(value("--cobertura")?.into()),
            "--html" => a.html = Some(value("--html")?.into()),
            "--ignore-filename-regex" => a.ignore.push(value("--ignore-filename-regex")?),
            "--" => {
                a.cargo_args = it.by_ref().collect();
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => project = Some(PathBuf::from(other)),
        }
    }
    a.project =
        project.ok_or("usage: cover_project <project-dir> [options] [-- cargo test args]")?;
    if a.cargo_args.is_empty() {
        a.cargo_args = ["--lib", "--bins", "--tests"].map(String::from).to_vec();
    }
    Ok(a)
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Workspace root and target directory from `cargo metadata`.
fn metadata(project: &Path) -> Result<(PathBuf, PathBuf), String> {
    let out = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(project)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err("cargo metadata failed".into());
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let get = |k: &str| v[k].as_str().map(PathBuf::from).ok_or(format!("no {k}"));
    Ok((get("workspace_root")?, get("target_directory")?))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let tools = LlvmTools::find().map_err(|e| e.to_string())?;
    let (root, target_dir) = metadata(&args.project)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let session = CoverSession::new(&root, &target_dir, &exe);
    session.clean().map_err(|e| e.to_string())?;

    // 1. Build, collecting the test binaries and bin executables.
    let started = Instant::now();
    let out = cargo()
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .args(&args.cargo_args)
        .envs(session.build_env())
        .current_dir(&root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo test --no-run: {e}"))?;
    if !out.status.success() {
        return Err("the build failed".into());
    }
    let mut objects = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(exe) = v["executable"].as_str() {
            let path = PathBuf::from(exe);
            if !objects.contains(&path) {
                objects.push(path);
            }
        }
    }
    let build_time = started.elapsed();

    // 2. Run the tests, merging profiles in the background as they appear.
    let started = Instant::now();
    let merger =
        ProfileMerger::new(tools.clone(), &session.paths).spawn(Some(Duration::from_secs(1)));
    let status = cargo()
        .args(["test", "--no-fail-fast"])
        .args(&args.cargo_args)
        .envs(session.build_env())
        .envs(session.test_env())
        .env_remove("RUST_BACKTRACE")
        .current_dir(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cargo test: {e}"))?;
    let test_time = started.elapsed();

    // 3. Merge what is left, and report.
    let started = Instant::now();
    let outcome = merger.finish().map_err(|e| e.to_string())?;
    for w in &outcome.warnings {
        eprintln!("warning: {w}");
    }
    let profdata = outcome
        .profdata
        .ok_or("no coverage profiles were written")?;
    let mut ignore = session.ignore_rules(false);
    for r in &args.ignore {
        ignore.add(r).map_err(|e| e.to_string())?;
    }
    let (report, warnings) = export_report(
        &tools,
        &ExportRequest {
            profdata: &profdata,
            objects: &objects,
            ignore: &ignore,
            source_root: &root,
        },
    )
    .map_err(|e| e.to_string())?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let write = |path: &Option<PathBuf>, text: String| -> Result<(), String> {
        match path {
            Some(p) => render::write_file(p, &text).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    };
    write(&args.json, render::json(&report))?;
    write(&args.lcov, render::lcov(&report))?;
    write(&args.cobertura, render::cobertura(&report, 0))?;
    if let Some(dir) = &args.html {
        render::write_html(&report, dir).map_err(|e| e.to_string())?;
    }
    let report_time = started.elapsed();
    print!("{}", render::summary_text(&report));
    eprintln!(
        "tests {}; {} profiles merged; build {:.1}s, tests {:.1}s, merge+report {:.1}s",
        if status.success() { "passed" } else { "FAILED" },
        outcome.merged_files,
        build_time.as_secs_f64(),
        test_time.as_secs_f64(),
        report_time.as_secs_f64()
    );
    Ok(())
}

fn main() {
    if gantry_cover::wrapper_requested() {
        let err = gantry_cover::exec_rustc_wrapper(std::env::args_os());
        eprintln!("cover_project (rustc wrapper): {err}");
        std::process::exit(101);
    }
    if let Err(e) = run() {
        eprintln!("cover_project: {e}");
        std::process::exit(1);
    }
}
