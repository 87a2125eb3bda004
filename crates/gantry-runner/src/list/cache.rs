//! Test lists of unchanged libtest binaries, kept between runs.
//!
//! Listing a binary costs two processes (`--list`, and `--list --ignored`);
//! a suite of many small binaries spends more on that than on its tests. A
//! libtest binary's list is fixed when it is compiled, so gantry keeps it,
//! keyed by the binary's path, size, inode and change times, and lists again
//! only what cargo rebuilt. Binaries with `harness = false` may find their
//! tests at run time (in data files, say): they are always listed.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cargo_metadata::Metadata;
use serde::{Deserialize, Serialize};

use super::build::BuiltTestBinary;

/// Bumped when the file's meaning changes; other versions are ignored.
const VERSION: u32 = 1;

/// The cached lists, by binary path.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ListCache {
    version: u32,
    binaries: BTreeMap<PathBuf, Entry>,
    #[serde(skip)]
    changed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    /// `(name, ignored)` in libtest's order.
    tests: Vec<(String, bool)>,
}

/// What changes whenever a file is rewritten or replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    len: u64,
    ino: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    fn of(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Some(Self {
            len: m.len(),
            ino: m.ino(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        })
    }
}

impl ListCache {
    /// Where a target directory keeps the cache.
    pub fn path_in(target_dir: &Path) -> PathBuf {
        target_dir.join("gantry").join("list-cache.json")
    }

    /// Reads the cache; a missing, unreadable or foreign file is an empty
    /// cache (it only saves time).
    pub fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Self>(&b).ok())
            .filter(|c| c.version == VERSION)
            .unwrap_or_default()
    }

    /// The list of `binary` if it has not changed since it was stored.
    pub fn get(&self, binary: &Path) -> Option<Vec<(String, bool)>> {
        let entry = self.binaries.get(binary)?;
        (Stamp::of(binary)? == entry.stamp).then(|| entry.tests.clone())
    }

    /// Stores the list of `binary` as it is now.
    pub fn put(&mut self, binary: &Path, tests: &[(String, bool)]) {
        let Some(stamp) = Stamp::of(binary) else {
            return;
        };
        let entry = Entry {
            stamp,
            tests: tests.to_vec(),
        };
        if self.binaries.get(binary) != Some(&entry) {
            self.binaries.insert(binary.to_path_buf(), entry);
            self.changed = true;
        }
    }

    /// Drops binaries that no longer exist, and writes the file if anything
    /// changed (atomically; errors are ignored, the cache only saves time).
    pub fn save(mut self, path: &Path) {
        let before = self.binaries.len();
        self.binaries.retain(|p, _| p.exists());
        if !self.changed && self.binaries.len() == before {
            return;
        }
        self.version = VERSION;
        let Ok(json) = serde_json::to_vec(&self) else {
            return;
        };
        let Some(dir) = path.parent() else { return };
        let _ = std::fs::create_dir_all(dir);
        let tmp = dir.join(format!(".list-cache.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, json).is_ok() && std::fs::rename(&tmp, path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// Which built binaries use libtest, whose lists may be cached: all but the
/// targets a manifest declares with `harness = false`.
pub fn libtest_binaries(binaries: &[BuiltTestBinary], metadata: &Metadata) -> Vec<bool> {
    let mut manifests: HashMap<&str, Option<toml::Table>> = HashMap::new();
    binaries
        .iter()
        .map(|b| {
            let Some(package) = metadata.packages.iter().find(|p| p.id.repr == b.package_id) else {
                return false;
            };
            let manifest = manifests.entry(&b.package_id).or_insert_with(|| {
                std::fs::read_to_string(&package.manifest_path)
                    .ok()
                    .and_then(|t| t.parse().ok())
            });
            manifest
                .as_ref()
                .is_some_and(|m| !declares_no_harness(m, &b.kind, &b.name))
        })
        .collect()
}

/// Whether the manifest's entry for the target `kind`/`name` says
/// `harness = false`.
fn declares_no_harness(manifest: &toml::Table, kind: &str, name: &str) -> bool {
    let no_harness = |t: &toml::Table| t.get("harness").and_then(|h| h.as_bool()) == Some(false);
    let section = match kind {
        // A package has one library, whatever its name.
        "lib" | "proc-macro" => {
            return manifest
                .get("lib")
                .and_then(|l| l.as_table())
                .is_some_and(no_harness);
        }
        "bin" => "bin",
        "test" => "test",
        "bench" => "bench",
        "example" => "example",
        _ => return true,
    };
    manifest
        .get(section)
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_table())
        .filter(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
        .any(no_harness)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_reused_until_the_binary_changes() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tests-0123");
        std::fs::write(&bin, b"first build").unwrap();
        let cache_path = ListCache::path_in(dir.path());
        let tests = vec![("a".to_string(), false), ("b".to_string(), true)];

        let mut cache = ListCache::load(&cache_path);
        assert_eq!(cache.get(&bin), None);
        cache.put(&bin, &tests);
        cache.save(&cache_path);

        let cache = ListCache::load(&cache_path);
        assert_eq!(cache.get(&bin), Some(tests));
        // A rebuild replaces the file: new inode, times and (here) size.
        std::fs::remove_file(&bin).unwrap();
        std::fs::write(&bin, b"second build").unwrap();
        assert_eq!(cache.get(&bin), None);
    }

    #[test]
    fn an_unreadable_cache_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list-cache.json");
        std::fs::write(&path, b"{ not json").unwrap();
        assert!(ListCache::load(&path).binaries.is_empty());
    }

    #[test]
    fn targets_without_the_libtest_harness_are_found_in_the_manifest() {
        let manifest: toml::Table = r#"
            [package]
            name = "p"
            [lib]
            harness = false
            [[test]]
            name = "custom"
            harness = false
            [[test]]
            name = "plain"
        "#
        .parse()
        .unwrap();
        assert!(declares_no_harness(&manifest, "lib", "p"));
        assert!(declares_no_harness(&manifest, "test", "custom"));
        assert!(!declares_no_harness(&manifest, "test", "plain"));
        assert!(!declares_no_harness(&manifest, "test", "autodiscovered"));
        assert!(!declares_no_harness(&manifest, "bin", "p"));
    }
}
