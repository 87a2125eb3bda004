//! Test archives: a real build packed, its sources and build deleted, and
//! the tests run from the extracted archive in another checkout; and
//! crafted archives that try to write outside the destination.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_ci::{archive, extract, ArchiveInputs, CiError};
use gantry_runner::list::{build_tests, BuildOptions, TestList};

const IT: &str = r#"
#[test]
fn reads_its_data() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let text = std::fs::read_to_string(format!("{dir}/tests/data/input.txt")).unwrap();
    assert_eq!(text.trim(), "hello");
}

#[test]
fn runs_the_binary_target() {
    let exe = std::env::var("CARGO_BIN_EXE_tool").unwrap();
    let out = std::process::Command::new(exe).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "tool ok");
}

#[test]
fn runs_in_the_package_directory() {
    assert!(std::path::Path::new("tests/data/nested/more.txt").exists());
}
"#;

#[test]
fn an_archive_runs_its_tests_without_the_build_or_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src-checkout");
    let target = src.join("target");
    common::project(
        &src,
        "arch-demo",
        "",
        &[
            ("src/lib.rs", "//! Demo.\n\n/// Adds.\npub fn add(a: u8, b: u8) -> u8 {\n    a + b\n}\n\n#[test]\nfn adds() {\n    assert_eq!(add(1, 2), 3);\n}\n"),
            ("src/bin/tool.rs", "fn main() {\n    println!(\"tool ok\");\n}\n"),
            ("tests/it.rs", IT),
            ("tests/data/input.txt", "hello\n"),
            ("tests/data/nested/more.txt", "more\n"),
            (".config/gantry.toml", "[ci]\ntest-data = [\"tests/data\"]\n"),
        ],
    );
    let opts = BuildOptions {
        manifest_path: Some(src.join("Cargo.toml")),
        target_dir: Some(target.clone()),
        ..Default::default()
    };
    let metadata = opts.metadata().unwrap();
    let built = build_tests(&opts, &src).unwrap();
    let list = TestList::discover(&built, &metadata).unwrap();
    assert_eq!(list.tests.len(), 4, "{:?}", list.tests);
    let bins: BTreeMap<String, PathBuf> = built
        .bin_executables
        .values()
        .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect();
    let history = tmp.path().join("history.json");
    std::fs::write(&history, "{\"version\":1,\"tests\":{}}").unwrap();
    let config = common::config(&src);

    let out = tmp.path().join("out/archive.tar.zst");
    let summary = archive(
        &out,
        ArchiveInputs {
            list: &list,
            target_dir: &target,
            bins: &bins,
            libraries: &[],
            test_data: &config.test_data,
            history: Some(&history),
        },
    )
    .unwrap();
    assert_eq!(summary.binaries, 3, "lib, bin and it: {summary:?}");
    assert_eq!(summary.bins, 1);
    assert_eq!(summary.data_files, 2);
    assert!(summary.bytes > 0 && out.is_file());

    // Nothing of the original build or sources is left.
    std::fs::remove_dir_all(&src).unwrap();
    let checkout = tmp.path().join("other-checkout");
    std::fs::create_dir_all(&checkout).unwrap();
    let dest = tmp.path().join("extracted");
    let ex = extract(&out, &checkout, &dest).unwrap();
    let checkout = checkout.canonicalize().unwrap();
    let dest = dest.canonicalize().unwrap();

    assert_eq!(ex.list.workspace_root, checkout);
    assert_eq!(ex.list.target_dir, dest.join("target"));
    assert_eq!(ex.list.tests.len(), 4);
    assert_eq!(ex.summary.test_count, 4);
    assert!(ex.bins["tool"].starts_with(&dest));
    assert_eq!(
        ex.history.as_deref(),
        Some(gantry_runner::schedule::History::path_in(&ex.list.target_dir).as_path())
    );
    assert!(checkout.join("tests/data/nested/more.txt").is_file());
    assert_eq!(ex.test_data.len(), 2);

    for b in &ex.list.binaries {
        assert!(b.path.starts_with(&dest), "{:?}", b.path);
        assert_eq!(b.cwd, checkout);
        let manifest_dir = b
            .env
            .iter()
            .find(|(k, _)| k == "CARGO_MANIFEST_DIR")
            .unwrap();
        assert_eq!(Path::new(&manifest_dir.1), checkout);
        let out = Command::new(&b.path)
            .current_dir(&b.cwd)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(b.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} failed from the archive:\n{}{}",
            b.binary_id,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let it = ex
        .list
        .binaries
        .iter()
        .find(|b| b.binary_id == "arch-demo::it")
        .unwrap();
    let tool = it
        .env
        .iter()
        .find(|(k, _)| k == "CARGO_BIN_EXE_tool")
        .unwrap();
    assert!(Path::new(&tool.1).starts_with(&dest), "{tool:?}");
}

#[test]
fn an_unmatched_test_data_pattern_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let list = TestList {
        workspace_root: tmp.path().to_path_buf(),
        target_dir: tmp.path().join("target"),
        ..Default::default()
    };
    let err = archive(
        &tmp.path().join("a.tar.zst"),
        ArchiveInputs {
            list: &list,
            target_dir: &list.target_dir,
            bins: &BTreeMap::new(),
            libraries: &[],
            test_data: &["fixtures/*.json".to_string()],
            history: None,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`fixtures/*.json`") && err.contains("matches no file"),
        "{err}"
    );
    assert!(!tmp.path().join("a.tar.zst").exists());
}

const MANIFEST: &str = r#"{"format_version":1,"test_list":{"format_version":1,"workspace_root":".","selected_count":0,"test_count":0,"binaries":[]},"env":{},"bins":{},"test_data":[],"history":null,"built_in":"/elsewhere"}"#;

enum Kind {
    File,
    Symlink(&'static str),
    Hardlink(&'static str),
    Fifo,
}

/// A `.tar.zst` with the given raw entries (names written byte for byte,
/// bypassing the tar crate's own checks, as an attacker would).
fn crafted(dir: &Path, manifest_first: bool, entries: &[(&str, Kind)]) -> PathBuf {
    let mut b = tar::Builder::new(Vec::new());
    let mut raw = |name: &str, kind: &Kind, data: &[u8]| {
        let mut h = tar::Header::new_old();
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        let (t, link) = match kind {
            Kind::File => (tar::EntryType::Regular, None),
            Kind::Symlink(l) => (tar::EntryType::Symlink, Some(*l)),
            Kind::Hardlink(l) => (tar::EntryType::Link, Some(*l)),
            Kind::Fifo => (tar::EntryType::Fifo, None),
        };
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(t);
        h.set_mode(0o644);
        h.set_size(if matches!(kind, Kind::File) {
            data.len() as u64
        } else {
            0
        });
        h.set_cksum();
        let body: &[u8] = if matches!(kind, Kind::File) {
            data
        } else {
            &[]
        };
        b.append(&h, body).unwrap();
    };
    if manifest_first {
        raw("gantry-archive.json", &Kind::File, MANIFEST.as_bytes());
    }
    for (name, kind) in entries {
        raw(name, kind, b"evil\n");
    }
    let tar = b.into_inner().unwrap();
    let zst = zstd::encode_all(tar.as_slice(), 3).unwrap();
    let path = dir.join(format!("crafted-{}.tar.zst", rand_suffix()));
    std::fs::write(&path, zst).unwrap();
    path
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn rejected(entries: &[(&str, Kind)]) -> (String, String, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let archive = crafted(tmp.path(), true, entries);
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let err = extract(&archive, &ws, &tmp.path().join("dest")).unwrap_err();
    let message = err.to_string();
    match err {
        CiError::UnsafeArchiveEntry { entry, reason, .. } => {
            assert!(message.contains(&format!("entry `{entry}`")), "{message}");
            (entry, reason, tmp)
        }
        other => panic!("expected an unsafe entry error, got {other}"),
    }
}

#[test]
fn absolute_paths_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim.txt");
    let name = victim.to_str().unwrap().to_string();
    let name: &'static str = Box::leak(name.into_boxed_str());
    let (entry, reason, _) = rejected(&[(name, Kind::File)]);
    assert_eq!(entry, name);
    assert_eq!(reason, "is an absolute path");
    assert!(!victim.exists());
}

#[test]
fn parent_components_are_refused() {
    let (entry, reason, dir) = rejected(&[("target/../../escaped.txt", Kind::File)]);
    assert_eq!(entry, "target/../../escaped.txt");
    assert_eq!(reason, "contains a `..` component");
    assert!(!dir.path().join("escaped.txt").exists());
    let (_, reason, _) = rejected(&[("workspace/a/../../../x", Kind::File)]);
    assert_eq!(reason, "contains a `..` component");
}

#[test]
fn links_pointing_outside_are_refused() {
    let (entry, reason, dir) = rejected(&[("target/link", Kind::Symlink("../../outside"))]);
    assert_eq!(entry, "target/link");
    assert!(
        reason.contains("symbolic link to `../../outside`, outside the destination"),
        "{reason}"
    );
    assert!(std::fs::symlink_metadata(dir.path().join("dest/target/link")).is_err());

    let (_, reason, _) = rejected(&[("workspace/etc", Kind::Symlink("/etc"))]);
    assert!(reason.contains("symbolic link to `/etc`"), "{reason}");

    let (entry, reason, _) = rejected(&[("target/hard", Kind::Hardlink("../../../etc/passwd"))]);
    assert_eq!(entry, "target/hard");
    assert!(
        reason.contains("hard link to `../../../etc/passwd`"),
        "{reason}"
    );
    let (_, reason, _) = rejected(&[("target/hard", Kind::Hardlink("/etc/passwd"))]);
    assert!(reason.contains("is an absolute path"), "{reason}");
}

#[test]
fn writing_through_a_planted_symlink_is_refused() {
    // The link itself points inside, but a later entry uses it as a directory.
    let (entry, reason, dir) = rejected(&[
        ("target/sub/keep.txt", Kind::File),
        ("target/through", Kind::Symlink("sub")),
        ("target/through/file", Kind::File),
    ]);
    assert_eq!(entry, "target/through/file");
    assert!(reason.contains("through the symbolic link"), "{reason}");
    assert!(!dir.path().join("dest/target/sub/file").exists());
}

#[test]
fn foreign_and_special_entries_are_refused() {
    let (_, reason, _) = rejected(&[("etc/passwd", Kind::File)]);
    assert!(
        reason.contains("not under `target/` or `workspace/`"),
        "{reason}"
    );
    let (_, reason, _) = rejected(&[("target/pipe", Kind::Fifo)]);
    assert!(reason.contains("FIFO"), "{reason}");

    let tmp = tempfile::tempdir().unwrap();
    let archive = crafted(tmp.path(), false, &[("target/x", Kind::File)]);
    let err = extract(&archive, tmp.path(), &tmp.path().join("d"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a gantry archive"), "{err}");

    let junk = tmp.path().join("junk.tar.zst");
    std::fs::write(&junk, b"not zstd at all").unwrap();
    let err = extract(&junk, tmp.path(), &tmp.path().join("d"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a zstd-compressed gantry archive"),
        "{err}"
    );
}
