//! Loads the cdylib from Python through ctypes.

mod support;

use std::ffi::OsString;
use std::path::PathBuf;

#[test]
fn python_ctypes_smoke() {
    let python = std::env::var_os("PYTHON")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| OsString::from("python3"));
    let script = support::package_dir().join("python-tests").join("smoke.py");
    let library = support::cdylib();
    let output = support::run(&PathBuf::from(&python), &[&script, &library]);
    assert!(
        output.status.success(),
        "smoke.py failed: {}",
        support::describe(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("smoke: ok"),
        "unexpected output: {}",
        support::describe(&output)
    );
}
