//! Test archives: build once, run the shards elsewhere.
//!
//! A CI pipeline that compiles the workspace in every test job pays for
//! the build N times. Instead one job builds and packs what running the
//! tests needs into a `.tar.zst`, and each test job unpacks it next to a
//! plain checkout of the sources (no cargo build):
//!
//! - `gantry-archive.json` (always the first entry): the test list (a
//!   [`TestListSummary`]) and, per binary, its working directory and
//!   environment, with the workspace root and target directory written as
//!   `{workspace}` and `{target}` so they can be remapped;
//! - `target/…`: the test binaries, the binary targets tests run through
//!   `CARGO_BIN_EXE_*` (and fixtures through `{bin:NAME}`), and the
//!   duration history (so duration-balanced shards are balanced);
//! - `workspace/…`: the non-Rust test data that `[ci] test-data` lists.
//!
//! [`extract`] writes `target/…` under the destination and `workspace/…`
//! under the remapped workspace root, refusing any entry that would land
//! outside them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use gantry_metadata::{BinarySummary, TestListSummary, TEST_LIST_FORMAT_VERSION};
use gantry_runner::list::{TestBinary, TestCase, TestList};
use serde::{Deserialize, Serialize};

use crate::error::{CiError, Result};

/// Version of the archive layout and manifest.
pub const ARCHIVE_FORMAT_VERSION: u32 = 1;

const MANIFEST: &str = "gantry-archive.json";
const TARGET_TOKEN: &str = "{target}";
const WORKSPACE_TOKEN: &str = "{workspace}";
/// Environment variables holding `:`-separated path lists, remapped
/// element by element.
const PATH_LISTS: &[&str] = &[
    "LD_LIBRARY_PATH",
    "DYLD_LIBRARY_PATH",
    "DYLD_FALLBACK_LIBRARY_PATH",
    "PATH",
];

/// What to pack.
#[derive(Clone, Copy, Debug)]
pub struct ArchiveInputs<'a> {
    /// The built and listed tests (their binaries, working directories and
    /// environments).
    pub list: &'a TestList,
    /// The cargo target directory the binaries were built into (the
    /// build's `--target-dir`, else `list.target_dir`); every packed
    /// executable must be inside it.
    pub target_dir: &'a Path,
    /// Binary targets built with the tests (name → executable), for
    /// fixtures' `{bin:NAME}`; those named by `CARGO_BIN_EXE_*` in a
    /// binary's environment are packed even when not listed here.
    pub bins: &'a BTreeMap<String, PathBuf>,
    /// Native libraries under the target directory (cdylib, staticlib)
    /// that tests load or link at run time; restored at the same place.
    pub libraries: &'a [PathBuf],
    /// `[ci] test-data`: files, directories and globs relative to the
    /// workspace root. A pattern that matches nothing is an error, since
    /// tests would then fail on the other machine for a confusing reason.
    pub test_data: &'a [String],
    /// The duration history to ship, if any (`target/gantry/history.json`).
    pub history: Option<&'a Path>,
}

/// What [`archive`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// The archive.
    pub path: PathBuf,
    /// Test binaries packed.
    pub binaries: usize,
    /// Other executables packed (`CARGO_BIN_EXE_*`, fixtures).
    pub bins: usize,
    /// Test data files packed.
    pub data_files: usize,
    /// Size of the archive in bytes.
    pub bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Manifest {
    format_version: u32,
    /// Binary paths relative to the archive (`target/…`), cwd relative to
    /// the workspace root.
    test_list: TestListSummary,
    /// binary id → environment with `{workspace}`/`{target}` tokens.
    env: BTreeMap<String, Vec<(String, String)>>,
    /// Executable name → archive path.
    bins: BTreeMap<String, String>,
    /// Workspace-relative paths of the test data files.
    test_data: Vec<String>,
    /// Archive path of the history, if packed.
    history: Option<String>,
    /// Where the archive was built (informational).
    built_in: String,
}

/// The archive's contents on this machine, ready for the runner.
#[derive(Clone, Debug)]
pub struct ExtractedArchive {
    /// The test list with binary paths, working directories and
    /// environments remapped; `list.workspace_root` is the remapped root and
    /// `list.target_dir` is `<dest>/target`.
    pub list: TestList,
    /// The same list as [`TestListSummary`] (remapped paths).
    pub summary: TestListSummary,
    /// Executables by name (for fixtures' `{bin:NAME}`).
    pub bins: BTreeMap<String, PathBuf>,
    /// The duration history, if the archive had one; it is at
    /// `History::path_in(&list.target_dir)`.
    pub history: Option<PathBuf>,
    /// The test data files written under the remapped workspace.
    pub test_data: Vec<PathBuf>,
}

fn rel_to(path: &Path, base: &Path) -> Option<String> {
    let rest = path.strip_prefix(base).ok()?;
    let s = rest.to_str()?.to_string();
    Some(if s.is_empty() { ".".into() } else { s })
}

/// Replaces a leading target dir / workspace root by its token.
fn tokenize(value: &str, ws: &Path, target: &Path) -> String {
    let t = target.to_string_lossy();
    let w = ws.to_string_lossy();
    let swap = |v: &str, root: &str, token: &str| -> Option<String> {
        if v == root {
            Some(token.to_string())
        } else {
            v.strip_prefix(root)
                .filter(|rest| rest.starts_with('/'))
                .map(|rest| format!("{token}{rest}"))
        }
    };
    swap(value, &t, TARGET_TOKEN)
        .or_else(|| swap(value, &w, WORKSPACE_TOKEN))
        .unwrap_or_else(|| value.to_string())
}

fn detokenize(value: &str, ws: &Path, target: &Path) -> String {
    if let Some(rest) = value.strip_prefix(TARGET_TOKEN) {
        format!("{}{rest}", target.display())
    } else if let Some(rest) = value.strip_prefix(WORKSPACE_TOKEN) {
        format!("{}{rest}", ws.display())
    } else {
        value.to_string()
    }
}

fn map_env(env: &[(String, String)], f: impl Fn(&str) -> String) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| {
            let v = if PATH_LISTS.contains(&k.as_str()) {
                v.split(':').map(&f).collect::<Vec<_>>().join(":")
            } else {
                f(v)
            };
            (k.clone(), v)
        })
        .collect()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(CiError::io("could not read", dir))?
        .collect::<std::io::Result<_>>()
        .map_err(CiError::io("could not read", dir))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

/// Packs the tests of `inputs` into the `.tar.zst` at `out` (written to a
/// temporary file first, so a failed run never leaves a truncated archive).
pub fn archive(out: &Path, inputs: ArchiveInputs<'_>) -> Result<ArchiveSummary> {
    let list = inputs.list;
    let ws = &list.workspace_root;
    let target = inputs.target_dir;
    let outside = |what: &str, p: &Path| CiError::Archive {
        path: p.to_path_buf(),
        message: format!(
            "{what} is not inside the target directory `{}`, so it cannot be archived",
            target.display()
        ),
    };

    // Files to pack: archive name → source.
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut summary = list.summary(&|_| true);
    let mut env = BTreeMap::new();
    for (b, s) in list.binaries.iter().zip(summary.binaries.iter_mut()) {
        let rel = rel_to(&b.path, target).ok_or_else(|| outside("the test binary", &b.path))?;
        let name = format!("target/{rel}");
        files.insert(name.clone(), b.path.clone());
        s.path = name;
        s.cwd = rel_to(&b.cwd, ws).ok_or_else(|| CiError::Archive {
            path: b.cwd.clone(),
            message: format!(
                "the working directory of `{}` is outside the workspace `{}`",
                b.binary_id,
                ws.display()
            ),
        })?;
        env.insert(
            b.binary_id.clone(),
            map_env(&b.env, |v| tokenize(v, ws, target)),
        );
    }
    summary.workspace_root = ".".into();

    let mut bins: BTreeMap<String, String> = BTreeMap::new();
    let mut add_bin =
        |name: &str, path: &Path, files: &mut BTreeMap<String, PathBuf>| -> Result<()> {
            let rel = rel_to(path, target).ok_or_else(|| outside("the executable", path))?;
            let archived = format!("target/{rel}");
            files.insert(archived.clone(), path.to_path_buf());
            bins.insert(name.to_string(), archived);
            Ok(())
        };
    for (name, path) in inputs.bins {
        add_bin(name, path, &mut files)?;
    }
    for lib in inputs.libraries {
        let rel = rel_to(lib, target).ok_or_else(|| outside("the library", lib))?;
        files.insert(format!("target/{rel}"), lib.clone());
    }
    for b in &list.binaries {
        for (k, v) in &b.env {
            if let Some(name) = k.strip_prefix("CARGO_BIN_EXE_") {
                add_bin(name, Path::new(v), &mut files)?;
            }
        }
    }

    let mut data: Vec<String> = Vec::new();
    for pattern in inputs.test_data {
        let full = ws.join(pattern);
        let matches: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
            .map_err(|e| CiError::Archive {
                path: out.to_path_buf(),
                message: format!(
                    "invalid test-data pattern `{pattern}` in [ci] of .config/gantry.toml: {e}"
                ),
            })?
            .filter_map(|r| r.ok())
            .collect();
        let mut found = Vec::new();
        for m in matches {
            if m.is_dir() {
                collect_files(&m, &mut found)?;
            } else if m.is_file() {
                found.push(m);
            }
        }
        if found.is_empty() {
            return Err(CiError::Archive {
                path: out.to_path_buf(),
                message: format!(
                    "the test-data pattern `{pattern}` ([ci] test-data in .config/gantry.toml) matches no file under `{}`; fix the pattern or create the data before archiving",
                    ws.display()
                ),
            });
        }
        for f in found {
            let rel = rel_to(&f, ws).ok_or_else(|| CiError::Archive {
                path: f.clone(),
                message: "test data must be inside the workspace".into(),
            })?;
            if !data.contains(&rel) {
                files.insert(format!("workspace/{rel}"), f.clone());
                data.push(rel);
            }
        }
    }

    let history = match inputs.history {
        Some(h) if h.is_file() => {
            let name = "target/gantry/history.json".to_string();
            files.insert(name.clone(), h.to_path_buf());
            Some(name)
        }
        _ => None,
    };

    let manifest = Manifest {
        format_version: ARCHIVE_FORMAT_VERSION,
        test_list: summary,
        env,
        bins: bins.clone(),
        test_data: data.clone(),
        history,
        built_in: ws.display().to_string(),
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");

    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(CiError::io("could not create", dir))?;
    }
    let tar_tmp = out.with_extension(format!("tar.tmp{}", std::process::id()));
    let zst_tmp = out.with_extension(format!("zst.tmp{}", std::process::id()));
    let result = (|| -> Result<()> {
        let tar_file = File::create(&tar_tmp).map_err(CiError::io("could not create", &tar_tmp))?;
        let mut builder = tar::Builder::new(BufWriter::new(tar_file));
        builder.mode(tar::HeaderMode::Deterministic);
        // Plain entries only: linkers leave holes in binaries, and GNU
        // sparse entries are not understood by every tar.
        builder.sparse(false);
        let mut header = tar::Header::new_gnu();
        header.set_size(manifest_json.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, MANIFEST, manifest_json.as_slice())
            .map_err(CiError::io("could not write", &tar_tmp))?;
        for (name, src) in &files {
            builder
                .append_path_with_name(src, name)
                .map_err(CiError::io("could not pack", src))?;
        }
        builder
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(CiError::io("could not write", &tar_tmp))?;

        let mut source =
            BufReader::new(File::open(&tar_tmp).map_err(CiError::io("could not read", &tar_tmp))?);
        let dest = File::create(&zst_tmp).map_err(CiError::io("could not create", &zst_tmp))?;
        // Level 3 is zstd's default: fast, and binaries shrink well.
        let mut encoder = zstd::stream::write::Encoder::new(BufWriter::new(dest), 3)
            .map_err(CiError::io("could not write", &zst_tmp))?;
        std::io::copy(&mut source, &mut encoder)
            .map_err(CiError::io("could not write", &zst_tmp))?;
        encoder
            .finish()
            .and_then(|mut w| w.flush())
            .map_err(CiError::io("could not write", &zst_tmp))?;
        std::fs::rename(&zst_tmp, out).map_err(CiError::io("could not write", out))
    })();
    let _ = std::fs::remove_file(&tar_tmp);
    if result.is_err() {
        let _ = std::fs::remove_file(&zst_tmp);
    }
    result?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(ArchiveSummary {
        path: out.to_path_buf(),
        binaries: list.binaries.len(),
        bins: bins.len(),
        data_files: data.len(),
        bytes,
    })
}

/// Where an archive path goes: under the destination's `target/` or the
/// remapped workspace. Rejects anything that could escape them.
fn safe_relative(name: &str) -> std::result::Result<PathBuf, String> {
    let path = Path::new(name);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err("contains a `..` component".into()),
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path".into()),
        }
    }
    if out.as_os_str().is_empty() {
        return Err("has an empty path".into());
    }
    Ok(out)
}

/// `target/x` → (`dest/target`, `x`); `workspace/x` → (`remap`, `x`).
fn route<'a>(
    rel: &Path,
    target_root: &'a Path,
    ws_root: &'a Path,
) -> std::result::Result<(&'a Path, PathBuf), String> {
    let mut comps = rel.components();
    let first = comps
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or("");
    let rest: PathBuf = comps.collect();
    let root = match first {
        "target" => target_root,
        "workspace" => ws_root,
        _ => {
            return Err(
                "is not under `target/` or `workspace/`, so it is not part of a gantry archive"
                    .into(),
            )
        }
    };
    if rest.as_os_str().is_empty() {
        return Ok((root, PathBuf::new()));
    }
    Ok((root, rest))
}

/// Resolves `link` (a symlink's target) against the directory `from`
/// (both relative to the same root) without touching the file system;
/// `None` if it leaves the root.
fn resolve_within(from: &Path, link: &Path) -> Option<PathBuf> {
    if link.is_absolute() {
        return None;
    }
    let mut stack: Vec<std::ffi::OsString> = from
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_os_string()),
            _ => None,
        })
        .collect();
    for c in link.components() {
        match c {
            Component::Normal(p) => stack.push(p.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                stack.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(stack.iter().collect())
}

/// Fails if a directory between `root` and `rel`'s file is a symlink: a
/// link planted by an earlier entry must not redirect later writes.
fn check_no_symlink_parents(root: &Path, rel: &Path) -> std::result::Result<(), String> {
    let mut cur = root.to_path_buf();
    let parent = rel.parent().unwrap_or(Path::new(""));
    for c in parent.components() {
        cur.push(c);
        if let Ok(m) = std::fs::symlink_metadata(&cur) {
            if m.file_type().is_symlink() {
                return Err(format!(
                    "would be written through the symbolic link `{}`",
                    cur.display()
                ));
            }
        }
    }
    Ok(())
}

/// Unpacks `archive_path`: binaries under `<dest>/target`, test data under
/// `workspace_remap` (the checkout of the sources on this machine), and
/// returns the test list with every path remapped for the runner.
///
/// Entries with absolute paths or `..`, links pointing outside their root,
/// device files, and anything outside `target/` and `workspace/` are
/// refused with [`CiError::UnsafeArchiveEntry`]; extraction stops at the
/// first such entry (entries before it stay written).
pub fn extract(
    archive_path: &Path,
    workspace_remap: &Path,
    dest: &Path,
) -> Result<ExtractedArchive> {
    let ws_root = std::fs::canonicalize(workspace_remap).map_err(|e| CiError::Archive {
        path: archive_path.to_path_buf(),
        message: format!(
            "the workspace to remap to, `{}`, is not usable: {e} (pass the directory holding the sources with --workspace-remap)",
            workspace_remap.display()
        ),
    })?;
    std::fs::create_dir_all(dest).map_err(CiError::io("could not create", dest))?;
    let dest = std::fs::canonicalize(dest).map_err(CiError::io("could not resolve", dest))?;
    let target_root = dest.join("target");
    std::fs::create_dir_all(&target_root).map_err(CiError::io("could not create", &target_root))?;

    let file = File::open(archive_path).map_err(CiError::io("could not open", archive_path))?;
    let not_ours = |message: String| CiError::Archive {
        path: archive_path.to_path_buf(),
        message,
    };
    let mut file = file;
    let mut magic = [0u8; 4];
    let is_zstd = std::io::Read::read_exact(&mut file, &mut magic).is_ok()
        && magic == [0x28, 0xB5, 0x2F, 0xFD];
    if !is_zstd {
        return Err(not_ours(
            "not a zstd-compressed gantry archive: it does not start with zstd's magic number"
                .into(),
        ));
    }
    std::io::Seek::rewind(&mut file).map_err(CiError::io("could not read", archive_path))?;
    let decoder = zstd::stream::read::Decoder::new(file)
        .map_err(|e| not_ours(format!("not a zstd-compressed gantry archive: {e}")))?;
    let mut tar = tar::Archive::new(decoder);
    let unsafe_entry = |entry: &str, reason: String| CiError::UnsafeArchiveEntry {
        archive: archive_path.to_path_buf(),
        entry: entry.to_string(),
        reason,
    };

    let mut manifest: Option<Manifest> = None;
    let entries = tar
        .entries()
        .map_err(|e| not_ours(format!("cannot read it as a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| not_ours(format!("corrupt archive: {e}")))?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8(raw).map_err(|e| {
            unsafe_entry(
                &String::from_utf8_lossy(e.as_bytes()),
                "has a name that is not UTF-8".into(),
            )
        })?;
        if manifest.is_none() {
            if name != MANIFEST {
                return Err(not_ours(format!(
                    "not a gantry archive: it starts with `{name}` instead of `{MANIFEST}` (create archives with `cargo gantry archive`)"
                )));
            }
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| not_ours(format!("cannot read {MANIFEST}: {e}")))?;
            let m: Manifest = serde_json::from_str(&text)
                .map_err(|e| not_ours(format!("invalid {MANIFEST}: {e}")))?;
            if m.format_version != ARCHIVE_FORMAT_VERSION {
                return Err(not_ours(format!(
                    "archive format {} is not supported by this gantry (it reads format {ARCHIVE_FORMAT_VERSION}); create and run archives with the same gantry version",
                    m.format_version
                )));
            }
            manifest = Some(m);
            continue;
        }
        let rel = safe_relative(&name).map_err(|r| unsafe_entry(&name, r))?;
        let (root, inner) =
            route(&rel, &target_root, &ws_root).map_err(|r| unsafe_entry(&name, r))?;
        let kind = entry.header().entry_type();
        if inner.as_os_str().is_empty() {
            if kind.is_dir() {
                continue;
            }
            return Err(unsafe_entry(
                &name,
                "would replace the destination's root".into(),
            ));
        }
        check_no_symlink_parents(root, &inner).map_err(|r| unsafe_entry(&name, r))?;
        let out = root.join(&inner);
        let parent_rel = inner.parent().unwrap_or(Path::new(""));
        if kind.is_dir() {
            std::fs::create_dir_all(&out).map_err(CiError::io("could not create", &out))?;
            continue;
        }
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(CiError::io("could not create", parent))?;
        }
        if kind.is_symlink() {
            let link = entry
                .link_name()
                .ok()
                .flatten()
                .ok_or_else(|| unsafe_entry(&name, "is a symbolic link without a target".into()))?
                .into_owned();
            if resolve_within(parent_rel, &link).is_none() {
                return Err(unsafe_entry(
                    &name,
                    format!(
                        "is a symbolic link to `{}`, outside the destination",
                        link.display()
                    ),
                ));
            }
            let _ = std::fs::remove_file(&out);
            std::os::unix::fs::symlink(&link, &out)
                .map_err(CiError::io("could not create", &out))?;
            continue;
        }
        if kind.is_hard_link() {
            let link = entry
                .link_name()
                .ok()
                .flatten()
                .ok_or_else(|| unsafe_entry(&name, "is a hard link without a target".into()))?
                .into_owned();
            let link_str = link.to_string_lossy().into_owned();
            let target_rel = safe_relative(&link_str).map_err(|r| {
                unsafe_entry(&name, format!("is a hard link to `{link_str}`, which {r}"))
            })?;
            let (troot, tinner) = route(&target_rel, &target_root, &ws_root).map_err(|r| {
                unsafe_entry(&name, format!("is a hard link to `{link_str}`, which {r}"))
            })?;
            check_no_symlink_parents(troot, &tinner).map_err(|r| unsafe_entry(&name, r))?;
            let source = troot.join(&tinner);
            let _ = std::fs::remove_file(&out);
            std::fs::hard_link(&source, &out).map_err(CiError::io("could not link", &out))?;
            continue;
        }
        if !kind.is_file() && kind != tar::EntryType::Continuous && !kind.is_gnu_sparse() {
            return Err(unsafe_entry(
                &name,
                "is a device, FIFO or other special file, which archives never contain".into(),
            ));
        }
        let mode = entry.header().mode().unwrap_or(0o644);
        let _ = std::fs::remove_file(&out);
        let mut f = File::create(&out).map_err(CiError::io("could not create", &out))?;
        std::io::copy(&mut entry, &mut f).map_err(CiError::io("could not write", &out))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode & 0o755))
            .map_err(CiError::io("could not set permissions of", &out))?;
    }
    let m = manifest.ok_or_else(|| not_ours(format!("empty archive: no {MANIFEST}")))?;
    let _ = std::fs::create_dir_all(target_root.join("tmp"));

    // Rebuild the list with this machine's paths.
    let mut summary = m.test_list.clone();
    summary.format_version = TEST_LIST_FORMAT_VERSION;
    summary.workspace_root = ws_root.display().to_string();
    let archive_path_to_local = |p: &str| -> Result<PathBuf> {
        let rel = safe_relative(p).map_err(|r| unsafe_entry(p, r))?;
        let (root, inner) = route(&rel, &target_root, &ws_root).map_err(|r| unsafe_entry(p, r))?;
        Ok(root.join(inner))
    };
    let mut list = TestList {
        workspace_root: ws_root.clone(),
        target_dir: target_root.clone(),
        ..Default::default()
    };
    for b in &mut summary.binaries {
        let path = archive_path_to_local(&b.path)?;
        let cwd_rel = safe_relative(&b.cwd).unwrap_or_default();
        let cwd = ws_root.join(cwd_rel);
        let env = m
            .env
            .get(&b.binary_id)
            .map(|e| map_env(e, |v| detokenize(v, &ws_root, &target_root)))
            .unwrap_or_default();
        b.path = path.display().to_string();
        b.cwd = cwd.display().to_string();
        let binary = Arc::new(TestBinary {
            binary_id: b.binary_id.clone(),
            package: b.package.clone(),
            name: b.name.clone(),
            kind: b.kind.clone(),
            path,
            cwd,
            env,
        });
        push_tests(&mut list, &binary, b);
        list.binaries.push(binary);
    }
    let bins = m
        .bins
        .iter()
        .map(|(k, v)| Ok((k.clone(), archive_path_to_local(v)?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let history = match &m.history {
        Some(h) => Some(archive_path_to_local(h)?),
        None => None,
    };
    let test_data = m.test_data.iter().map(|d| ws_root.join(d)).collect();
    Ok(ExtractedArchive {
        list,
        summary,
        bins,
        history,
        test_data,
    })
}

fn push_tests(list: &mut TestList, binary: &Arc<TestBinary>, summary: &BinarySummary) {
    for t in &summary.tests {
        list.tests.push(TestCase {
            binary: Arc::clone(binary),
            name: t.name.clone(),
            ignored: t.ignored,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_respect_component_boundaries() {
        let ws = Path::new("/w/repo");
        let target = Path::new("/w/repo/target");
        assert_eq!(
            tokenize("/w/repo/target/debug/x", ws, target),
            "{target}/debug/x"
        );
        assert_eq!(
            tokenize("/w/repo/crates/a", ws, target),
            "{workspace}/crates/a"
        );
        assert_eq!(tokenize("/w/repo", ws, target), "{workspace}");
        assert_eq!(tokenize("/w/repository", ws, target), "/w/repository");
        assert_eq!(tokenize("cargo", ws, target), "cargo");
        let back = detokenize(
            "{target}/debug/x",
            Path::new("/new"),
            Path::new("/dest/target"),
        );
        assert_eq!(back, "/dest/target/debug/x");
    }

    #[test]
    fn link_resolution_stays_inside() {
        assert_eq!(
            resolve_within(Path::new("a/b"), Path::new("../c")),
            Some(PathBuf::from("a/c"))
        );
        assert_eq!(resolve_within(Path::new("a"), Path::new("../../x")), None);
        assert_eq!(
            resolve_within(Path::new(""), Path::new("/etc/passwd")),
            None
        );
    }
}
