//! Finding `llvm-profdata` and `llvm-cov`.
//!
//! They must come from the same LLVM as the compiler: a profile written by
//! code that rustc's LLVM instrumented is only readable by tools of that LLVM
//! version (the raw profile format changes between releases). So the tools
//! are taken from the toolchain's `llvm-tools` component, next to the rustc
//! that builds the tests, never from `$PATH`.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::CoverError;

/// The llvm tools of the toolchain in use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlvmTools {
    /// `llvm-profdata`: merges raw profiles.
    pub profdata: PathBuf,
    /// `llvm-cov`: maps profiles back to source lines.
    pub cov: PathBuf,
}

impl LlvmTools {
    /// Finds the tools of the rustc named by `$RUSTC` (as cargo does), or of
    /// `rustc` on `$PATH`. `$LLVM_PROFDATA` and `$LLVM_COV` override either
    /// tool, for toolchains that ship them elsewhere (distribution packages).
    pub fn find() -> Result<LlvmTools, CoverError> {
        let rustc = std::env::var_os("RUSTC")
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "rustc".into());
        let mut tools = Self::find_with(&rustc);
        if let (Some(profdata), Some(cov)) = (
            std::env::var_os("LLVM_PROFDATA").filter(|v| !v.is_empty()),
            std::env::var_os("LLVM_COV").filter(|v| !v.is_empty()),
        ) {
            // Both given: the toolchain need not have the component at all.
            tools = Ok(LlvmTools {
                profdata: profdata.into(),
                cov: cov.into(),
            });
        } else if let Ok(t) = &mut tools {
            if let Some(p) = std::env::var_os("LLVM_PROFDATA").filter(|v| !v.is_empty()) {
                t.profdata = p.into();
            }
            if let Some(c) = std::env::var_os("LLVM_COV").filter(|v| !v.is_empty()) {
                t.cov = c.into();
            }
        }
        tools
    }

    /// Finds the tools of a given rustc: `<sysroot>/lib/rustlib/<host>/bin`.
    pub fn find_with(rustc: &OsStr) -> Result<LlvmTools, CoverError> {
        let sysroot = run_rustc(rustc, &["--print", "sysroot"])?;
        let version = run_rustc(rustc, &["-vV"])?;
        let host = version
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .ok_or_else(|| CoverError::Rustc {
                rustc: rustc.to_string_lossy().into_owned(),
                args: "-vV".into(),
                reason: "its output has no `host:` line".into(),
            })?;
        let dir = Path::new(sysroot.trim())
            .join("lib")
            .join("rustlib")
            .join(host.trim())
            .join("bin");
        Self::in_dir(&dir)
    }

    /// Takes the tools from one directory, failing with the install hint when
    /// either is missing.
    pub fn in_dir(dir: &Path) -> Result<LlvmTools, CoverError> {
        let exe = |name: &str| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        let tools = LlvmTools {
            profdata: exe("llvm-profdata"),
            cov: exe("llvm-cov"),
        };
        for tool in [&tools.profdata, &tools.cov] {
            if !tool.is_file() {
                return Err(CoverError::LlvmToolsMissing {
                    dir: dir.to_path_buf(),
                    missing: tool
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                });
            }
        }
        Ok(tools)
    }
}

fn run_rustc(rustc: &OsStr, args: &[&str]) -> Result<String, CoverError> {
    let err = |reason: String| CoverError::Rustc {
        rustc: rustc.to_string_lossy().into_owned(),
        args: args.join(" "),
        reason,
    };
    let out = Command::new(rustc)
        .args(args)
        .output()
        .map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        return Err(err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8(out.stdout).map_err(|_| err("its output is not UTF-8".into()))
}

/// Runs a tool, returning its stdout and stderr; a non-zero exit is an error
/// that carries the command line and the tool's message.
pub(crate) fn run_tool(program: &Path, args: &[OsString]) -> Result<(Vec<u8>, String), CoverError> {
    let command = command_line(program, args);
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| CoverError::ToolSpawn {
            command: command.clone(),
            source,
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(CoverError::Tool {
            command,
            status: out.status.to_string(),
            stderr: stderr.trim().to_string(),
        });
    }
    Ok((out.stdout, stderr))
}

/// A command line for messages, shortened when it lists many objects.
fn command_line(program: &Path, args: &[OsString]) -> String {
    let mut s = program.display().to_string();
    for (i, a) in args.iter().enumerate() {
        if i == 40 {
            s.push_str(&format!(" … ({} more arguments)", args.len() - 40));
            break;
        }
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
