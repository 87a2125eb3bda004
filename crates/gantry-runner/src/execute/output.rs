//! Where captured test output is kept: one file per test attempt and
//! stream under the run directory, so nothing is lost however the console
//! is configured.

use std::io::Write;
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
    write_files(
        run_dir,
        binary_id,
        &attempt_base(name, attempt),
        stdout,
        stderr,
    )
}

/// Where what a test printed in a batch it failed in goes, apart from the
/// files of its re-run alone (see [`write_attempt`]). libtest prints a
/// failure's captured output at the end of the batch, so the file is
/// complete once the batch process has exited.
pub fn in_batch_path(run_dir: &Path, binary_id: &str, name: &str, attempt: u32) -> PathBuf {
    binary_dir(run_dir, binary_id).join(format!("{}.in-batch.out", attempt_base(name, attempt)))
}

/// Appends to a test's [`in_batch_path`] file, creating it.
pub fn append_in_batch(path: &Path, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(data);
    }
}

fn binary_dir(run_dir: &Path, binary_id: &str) -> PathBuf {
    run_dir
        .join("tests")
        .join(sanitize(&binary_id.replace("::", "__")))
}

fn attempt_base(name: &str, attempt: u32) -> String {
    if attempt > 1 {
        format!("{}.attempt-{attempt}", sanitize(name))
    } else {
        sanitize(name)
    }
}

fn write_files(
    run_dir: &Path,
    binary_id: &str,
    base: &str,
    stdout: &[u8],
    stderr: Option<&[u8]>,
) -> OutputPaths {
    let dir = binary_dir(run_dir, binary_id);
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
