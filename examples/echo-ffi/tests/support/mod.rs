//! Helpers for the tests that drive the C binding from other languages:
//! finding the built libraries, compiling C programs against the static
//! library and running programs as plain child processes (so a wrapper of
//! the test binary, such as valgrind with --trace-children=yes, follows
//! them).

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// This package's directory.
pub fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory of the test executable: `<target>/<profile>/deps`, where
/// cargo also puts the `cdylib` and `staticlib` it builds for the tests.
pub fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let dir = exe
        .parent()
        .expect("test executable has a directory")
        .to_owned();
    assert_eq!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("deps"),
        "expected the test executable in <target>/<profile>/deps, found {}",
        exe.display()
    );
    dir
}

/// `<target>/<profile>`.
pub fn profile_dir() -> PathBuf {
    deps_dir().parent().expect("deps has a parent").to_owned()
}

/// A library built by cargo for this test run, looked up in `deps` first,
/// then in the profile directory (where `cargo build` copies it).
fn built_library(file_name: &str) -> PathBuf {
    let candidates = [deps_dir().join(file_name), profile_dir().join(file_name)];
    candidates
        .iter()
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{file_name} not found in {candidates:?}"))
        .clone()
}

/// The static library, `libecho_ffi.a`.
pub fn static_lib() -> PathBuf {
    built_library("libecho_ffi.a")
}

/// The dynamic library, `libecho_ffi.so` (or `.dylib`).
pub fn cdylib() -> PathBuf {
    let name = format!(
        "{}echo_ffi{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    built_library(&name)
}

/// System libraries the Rust standard library in a static library needs.
#[cfg(target_os = "linux")]
const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];
#[cfg(target_os = "macos")]
const NATIVE_LIBS: &[&str] = &["-lSystem", "-lc", "-lm"];
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
const NATIVE_LIBS: &[&str] = &["-lpthread", "-lm", "-lc"];

/// Compiles `c-tests/<name>.c` against the static library with the C
/// compiler `$CC` (default `cc`) and returns the executable, written to
/// `<target>/<profile>/echo-ffi-c-tests/<name>`.
pub fn compile_c_program(name: &str) -> PathBuf {
    let source = package_dir().join("c-tests").join(format!("{name}.c"));
    let out_dir = profile_dir().join("echo-ffi-c-tests");
    fs::create_dir_all(&out_dir).expect("creating the C output directory");
    let exe = out_dir.join(name);
    // Build under a unique name and rename, so concurrent runs never execute
    // a half-written program.
    let partial = out_dir.join(format!("{name}.{}.tmp", std::process::id()));
    let cc = std::env::var_os("CC")
        .filter(|cc| !cc.is_empty())
        .unwrap_or_else(|| OsString::from("cc"));
    let output = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O0"])
        .arg("-I")
        .arg(package_dir().join("include"))
        .arg(&source)
        .arg(static_lib())
        .args(NATIVE_LIBS)
        .arg("-o")
        .arg(&partial)
        .output()
        .unwrap_or_else(|e| panic!("running the C compiler {cc:?}: {e}"));
    assert!(
        output.status.success(),
        "compiling {} failed ({}):\n{}",
        source.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    fs::rename(&partial, &exe).expect("moving the C program into place");
    exe
}

/// Runs `program` with `args` as a plain child process and returns its
/// output.
pub fn run(program: &Path, args: &[&Path]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()))
}

/// Formats a program's output for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
