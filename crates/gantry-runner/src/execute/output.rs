//! Where captured test output is kept: one file per test attempt and
//! stream under the run directory, so nothing is lost however the console
//! is configured.

use std::path::{Path, PathBuf};

use gantry_metadata::OutputPaths;

/// Turns a binary id or test name into a safe file name component.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '/' | '\\' | '\0' => '_',
            c => c,
        })
        .collect()
}

/// Writes captured output of one attempt; empty streams get no file.
pub fn write_attempt(
    run_dir: &Path,
    binary_id: &str,
    name: &str,
    attempt: u32,
    stdout: &[u8],
    stderr: Option<&[u8]>,
) -> OutputPaths {
    let dir = run_dir
        .join("tests")
        .join(sanitize(&binary_id.replace("::", "__")));
    let base = if attempt > 1 {
        format!("{}.attempt-{attempt}", sanitize(name))
    } else {
        sanitize(name)
    };
    let write = |ext: &str, data: &[u8]| -> Option<String> {
        if data.is_empty() {
            return None;
        }
        let _ = std::fs::create_dir_all(&dir);
        let path: PathBuf = dir.join(format!("{base}.{ext}"));
        std::fs::write(&path, data).ok()?;
        Some(path.display().to_string())
    };
    OutputPaths {
        stdout: write("out", stdout),
        stderr: stderr.and_then(|e| write("err", e)),
    }
}

/// Reads a stored output file back (for reporters), lossily as text.
pub fn read_output(path: Option<&str>) -> String {
    path.and_then(|p| std::fs::read(p).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
