//! The rustc wrapper that instruments workspace crates only.
//!
//! Setting `RUSTFLAGS=-C instrument-coverage` would instrument every
//! dependency too: slower builds, bigger binaries and profiles, and a report
//! that must then filter the registry back out. Cargo's
//! `RUSTC_WORKSPACE_WRAPPER` is only applied to workspace (path) crates, so
//! gantry points it at its own binary with [`WRAPPER_ENV`] set; the binary's
//! `main` checks [`wrapper_requested`] before anything else and hands over to
//! [`exec_rustc_wrapper`], which adds the flags and becomes rustc.

use std::ffi::{OsStr, OsString};
use std::process::Command;

use crate::error::CoverError;

/// Environment variable that tells the gantry binary to act as the rustc
/// wrapper rather than parse a command line.
pub const WRAPPER_ENV: &str = "GANTRY_RUSTC_WRAPPER";

/// The value of [`WRAPPER_ENV`] for coverage builds (other wrappers may come).
pub const WRAPPER_MODE_COVER: &str = "cover";

/// The flags added to every instrumented crate. `--cfg=coverage` is what
/// cargo-llvm-cov passes too, so code that uses
/// `#[cfg_attr(coverage, …)]` behaves the same under both tools.
pub const INSTRUMENT_FLAGS: [&str; 3] = ["-C", "instrument-coverage", "--cfg=coverage"];

/// True when this process was started by cargo as the coverage rustc wrapper.
pub fn wrapper_requested() -> bool {
    std::env::var_os(WRAPPER_ENV).is_some_and(|v| v == WRAPPER_MODE_COVER)
}

/// The rustc arguments with the coverage flags added where they belong.
///
/// `args` are rustc's arguments (without the rustc path). Cargo also runs
/// rustc through the wrapper to query the target (`-vV`, and
/// `--crate-name ___ --print=…`); those queries are left alone so that cargo sees the
/// same target configuration as an ordinary build. Build scripts are not
/// instrumented: their binaries are never part of the report, and they would
/// write stray profiles into the package directory while cargo runs them.
pub fn instrumented_args(args: &[OsString]) -> Vec<OsString> {
    let mut out = args.to_vec();
    if should_instrument(args) {
        out.extend(INSTRUMENT_FLAGS.iter().map(OsString::from));
    }
    out
}

fn should_instrument(args: &[OsString]) -> bool {
    let mut crate_name: Option<&OsStr> = None;
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        if a == "--crate-name" {
            crate_name = iter.next().map(OsString::as_os_str);
        } else if a == "-vV" || a == "-V" || a == "--version" {
            return false;
        }
    }
    match crate_name {
        None => false,
        Some(name) => name != "___" && name != "build_script_build",
    }
}

/// The command the wrapper runs: `args` as the wrapper received them
/// (`argv[0]` = the wrapper, `argv[1]` = rustc, the rest rustc's arguments).
pub fn rustc_wrapper_command<I>(args: I) -> Result<Command, CoverError>
where
    I: IntoIterator<Item = OsString>,
{
    let mut args = args.into_iter().skip(1).peekable();
    // Normally cargo passes rustc's path first. A tool that wraps the wrapper
    // (a compiler cache probing its "compiler" with `-vV`) passes rustc's
    // arguments directly; then the rustc is cargo's.
    let rustc = match args.peek() {
        Some(first) if !first.to_string_lossy().starts_with('-') => args.next(),
        Some(_) => Some(
            std::env::var_os("RUSTC")
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "rustc".into()),
        ),
        None => None,
    }
    .ok_or_else(|| CoverError::Rustc {
        rustc: "(none)".into(),
        args: String::new(),
        reason: format!(
            "{WRAPPER_ENV}={WRAPPER_MODE_COVER} is set, but the program was not started by cargo as a rustc wrapper (no rustc path argument)"
        ),
    })?;
    let rest: Vec<OsString> = args.collect();
    let mut cmd = Command::new(rustc);
    cmd.args(instrumented_args(&rest));
    // Test processes that the build starts (none today, but proc macros run
    // inside rustc) must not take the wrapper role by inheritance.
    cmd.env_remove(WRAPPER_ENV);
    Ok(cmd)
}

/// Replaces this process with rustc plus the coverage flags. Returns only
/// when that fails; the caller reports the error and exits non-zero, which
/// cargo shows as a failed compilation.
pub fn exec_rustc_wrapper<I>(args: I) -> CoverError
where
    I: IntoIterator<Item = OsString>,
{
    use std::os::unix::process::CommandExt;
    match rustc_wrapper_command(args) {
        Ok(mut cmd) => {
            let program = cmd.get_program().to_string_lossy().into_owned();
            CoverError::ToolSpawn {
                command: program,
                source: cmd.exec(),
            }
        }
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn compilations_get_the_flags() {
        let args = os(&["--crate-name", "foo", "--edition=2021", "src/lib.rs"]);
        let out = instrumented_args(&args);
        assert_eq!(&out[..4], &args[..]);
        assert_eq!(&out[4..], &os(&INSTRUMENT_FLAGS)[..]);
        let test = os(&["--crate-name", "it", "--test", "tests/it.rs"]);
        assert_eq!(instrumented_args(&test).len(), test.len() + 3);
    }

    #[test]
    fn queries_and_build_scripts_are_left_alone() {
        for args in [
            os(&["-vV"]),
            os(&["-", "--crate-name", "___", "--print=file-names"]),
            os(&["--crate-name", "build_script_build", "build.rs"]),
            os(&["--print", "sysroot"]),
        ] {
            assert_eq!(instrumented_args(&args), args, "{args:?}");
        }
    }

    #[test]
    fn wrapper_command_runs_the_given_rustc() {
        let cmd = rustc_wrapper_command(os(&["gantry", "/opt/rustc", "--crate-name", "a", "a.rs"]))
            .unwrap();
        assert_eq!(cmd.get_program(), "/opt/rustc");
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(args.len(), 6);
        assert!(rustc_wrapper_command(os(&["gantry"])).is_err());
        let probe = rustc_wrapper_command(os(&["gantry", "-vV"])).unwrap();
        assert_eq!(probe.get_args().collect::<Vec<_>>(), ["-vV"]);
    }
}
