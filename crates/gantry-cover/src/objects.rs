//! Finding the instrumented executables of a target directory, for reports
//! made without a build at hand (`cargo gantry cover report`).

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::error::CoverError;

/// The executables under `profile_dir` (e.g. `target/gantry/cover/debug`)
/// that belong to the workspace: files whose name, without `lib` prefix,
/// hash suffix and extension, is one of `names` (package and target names,
/// `-` and `_` alike), and that carry coverage mappings. Build scripts,
/// incremental state and build-script output are skipped, as
/// cargo-llvm-cov skips them.
pub fn discover_objects(profile_dir: &Path, names: &[String]) -> Result<Vec<PathBuf>, CoverError> {
    let alternatives: Vec<String> = names
        .iter()
        .map(|n| {
            regex::escape(n)
                .replace(r"\-", "-")
                .replace(['-', '_'], "(-|_)")
        })
        .collect();
    if alternatives.is_empty() {
        return Ok(Vec::new());
    }
    let re = Regex::new(&format!(
        "^(lib)?({})(-[0-9a-f]+)?$",
        alternatives.join("|")
    ))
    .map_err(|e| CoverError::NoData(format!("bad workspace target names: {e}")))?;
    let mut out = Vec::new();
    walk(profile_dir, &re, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, re: &Regex, out: &mut Vec<PathBuf>) -> Result<(), CoverError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CoverError::io("could not read", dir)(e)),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if ft.is_dir() {
            if !matches!(
                name.as_str(),
                "incremental" | ".fingerprint" | "build" | "out"
            ) {
                walk(&path, re, out)?;
            }
            continue;
        }
        if !ft.is_file()
            || name.ends_with(".d")
            || name.ends_with(".rlib")
            || name.ends_with(".rmeta")
        {
            continue;
        }
        let stem = name.split('.').next().unwrap_or(&name);
        let executable = entry
            .metadata()
            .map(|m| m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        if executable && re.is_match(stem) && is_instrumented(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether an object file has coverage mappings (an `__llvm_covmap`
/// section). llvm-cov refuses a whole report when one object has none, so
/// objects are checked before they are passed. Files that are not 64-bit
/// little-endian ELF are assumed to have them.
pub fn is_instrumented(path: &Path) -> bool {
    elf_has_section(path, b"__llvm_covmap").unwrap_or(true)
}

fn elf_has_section(path: &Path, wanted: &[u8]) -> Option<bool> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut header = [0u8; 64];
    f.read_exact(&mut header).ok()?;
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as u64;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let shoff = u64_at(&header, 0x28);
    let shentsize = u16_at(&header, 0x3a);
    let shnum = u16_at(&header, 0x3c);
    let shstrndx = u16_at(&header, 0x3e);
    if shentsize < 64 || shnum == 0 || shstrndx >= shnum || shnum > 65_000 {
        return None;
    }
    let mut table = vec![0u8; (shentsize * shnum) as usize];
    f.seek(SeekFrom::Start(shoff)).ok()?;
    f.read_exact(&mut table).ok()?;
    let sh = |i: u64| &table[(i * shentsize) as usize..((i + 1) * shentsize) as usize];
    let strtab = sh(shstrndx);
    let (str_off, str_size) = (u64_at(strtab, 0x18), u64_at(strtab, 0x20));
    if str_size > 64 << 20 {
        return None;
    }
    let mut names = vec![0u8; str_size as usize];
    f.seek(SeekFrom::Start(str_off)).ok()?;
    f.read_exact(&mut names).ok()?;
    for i in 0..shnum {
        let name_off = u32_at(sh(i), 0) as usize;
        if let Some(rest) = names.get(name_off..) {
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            if &rest[..end] == wanted {
                return Some(true);
            }
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_binaries_are_not_instrumented() {
        // The system's `sh` is an ELF without coverage mappings.
        let sh = Path::new("/bin/sh");
        if let Ok(real) = sh.canonicalize() {
            assert!(!is_instrumented(&real));
        }
        // Not ELF at all: assumed instrumented, llvm-cov will say otherwise.
        assert!(is_instrumented(Path::new("/nonexistent")));
    }
}
