//! Helpers shared by the integration tests: tiny generated cargo projects
//! (built into one shared target directory so the suite stays fast), a
//! fake gantry executable, and temporary git repositories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_ci::{CiConfig, CiContext, CiReport, StepResult, StepSelection};

/// One target directory for every generated project of the suite.
pub fn shared_target() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gantry-ci-projects")
}

/// Writes a standalone one-crate workspace named `name` into `dir`, with
/// `files` (path, contents) besides `Cargo.toml`.
pub fn project(dir: &Path, name: &str, manifest_extra: &str, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[workspace]\n{manifest_extra}"
        ),
    )
    .unwrap();
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// A context for `root` using the shared target directory for cargo and
/// `gantry` as the gantry executable; step logs go to `root/target`.
pub fn context(root: &Path, gantry: &Path) -> CiContext {
    let mut ctx = CiContext::new(
        root.to_path_buf(),
        root.join("target"),
        gantry.to_path_buf(),
    );
    ctx.env.push((
        "CARGO_TARGET_DIR".into(),
        shared_target().display().to_string(),
    ));
    ctx.env.push(("CARGO_TERM_COLOR".into(), "never".into()));
    ctx.kill_grace = std::time::Duration::from_millis(500);
    ctx
}

/// Loads `root/.config/gantry.toml` (or the defaults) as a [`CiConfig`].
pub fn config(root: &Path) -> CiConfig {
    let gantry = gantry_config::GantryConfig::load(root).unwrap();
    CiConfig::from_gantry(&gantry).unwrap()
}

/// Runs the named steps and returns the report.
pub fn run_steps(root: &Path, ctx: &CiContext, steps: &[&str]) -> CiReport {
    let selection = StepSelection {
        only: steps.iter().map(|s| s.to_string()).collect(),
        skip: Vec::new(),
    };
    gantry_ci::run(&config(root), ctx, &selection, &mut |_| {}).unwrap()
}

/// The only step of a report.
pub fn only(report: &CiReport) -> &StepResult {
    assert_eq!(report.steps.len(), 1, "{:#?}", report.steps);
    &report.steps[0]
}

/// A fake `cargo-gantry`: records its arguments (one line per call) in
/// `calls.log` next to it and exits 100 when its arguments contain
/// `$FAKE_GANTRY_FAIL_ON`.
pub fn fake_gantry(dir: &Path) -> PathBuf {
    let path = dir.join("fake-cargo-gantry");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\necho \"fake gantry: $*\"\ncase \"$*\" in\n  *\"$FAKE_GANTRY_FAIL_ON\"*) [ -n \"$FAKE_GANTRY_FAIL_ON\" ] && {{ echo '0 passed, 1 failed, 0 skipped'; exit 100; }} ;;\nesac\necho '1 passed, 0 failed, 0 skipped'\n",
            dir.join("calls.log").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs git in `dir` with a fixed identity; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Commits everything with `message` (given as a file, verbatim).
pub fn commit(dir: &Path, message: &str) -> String {
    let msg = dir.join(".git").join("TEST_MSG");
    std::fs::write(&msg, message).unwrap();
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "--cleanup=verbatim",
            "-F",
            msg.to_str().unwrap(),
        ],
    );
    git(dir, &["rev-parse", "--short", "HEAD"])
}
