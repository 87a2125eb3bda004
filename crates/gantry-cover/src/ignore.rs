//! Which source files the report leaves out.
//!
//! The defaults are cargo-llvm-cov's, so that the two tools report the same
//! totals for the same tests: the standard library (`/rustc/<hash>/`), the
//! registry and git checkouts, the toolchains, generated code in the target
//! directory, and the workspace's own `tests/`, `examples/` and `benches/`
//! directories (test code is not what coverage measures). The registry and
//! toolchain patterns also match by path fragment, so that profiles merged
//! from other machines (another `$CARGO_HOME`) are filtered the same way.

use std::path::{Path, PathBuf};

use regex::Regex;

use crate::error::CoverError;

/// The exclusions of one report, rendered into llvm-cov's
/// `-ignore-filename-regex`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoreRules {
    defaults: Vec<String>,
    user: Vec<String>,
}

impl IgnoreRules {
    /// No exclusions at all.
    pub fn none() -> Self {
        IgnoreRules::default()
    }

    /// The default exclusions for a workspace (see the module docs).
    /// `include_test_sources` keeps the workspace's `tests/`, `examples/`
    /// and `benches/` in the report (cargo-llvm-cov leaves them out, so
    /// totals then differ from its figures).
    pub fn defaults(workspace_root: &Path, target_dir: &Path, include_test_sources: bool) -> Self {
        let mut d = vec![r"/rustc/([0-9a-f]+|[0-9]+\.[0-9]+\.[0-9]+)/".to_string()];
        if !include_test_sources {
            d.push(format!(
                r"^{}(/.*)?/(tests|examples|benches)/",
                regex::escape(&workspace_root.display().to_string())
            ));
        }
        d.push(abs_path(target_dir));
        if let Some(home) = cargo_home() {
            d.push(format!(
                "^{}/(registry|git)/",
                regex::escape(&home.display().to_string())
            ));
        }
        if let Some(home) = rustup_home() {
            d.push(abs_path(&home.join("toolchains")));
        }
        d.push(r"/\.cargo/(registry|git)/".into());
        d.push(r"/\.rustup/toolchains/".into());
        IgnoreRules {
            defaults: d,
            user: Vec::new(),
        }
    }

    /// Adds a user regex (`--ignore-filename-regex`, or the ratchet file's
    /// recorded exclusions); it is checked to compile so that a typo fails
    /// before the run rather than inside llvm-cov after it.
    pub fn add(&mut self, regex: &str) -> Result<(), CoverError> {
        Regex::new(regex).map_err(|e| CoverError::BadRegex {
            regex: regex.to_string(),
            reason: e.to_string(),
        })?;
        if !self.user.iter().any(|r| r == regex) {
            self.user.push(regex.to_string());
        }
        Ok(())
    }

    /// Excludes a directory (e.g. of a workspace member that was not
    /// selected with `-p`).
    pub fn exclude_dir(&mut self, dir: &Path) {
        self.defaults.push(abs_path(dir));
    }

    /// The user's regexes, for the ratchet file.
    pub fn user_regexes(&self) -> &[String] {
        &self.user
    }

    /// The whole `-ignore-filename-regex` value; `None` when nothing is
    /// excluded.
    pub fn combined(&self) -> Option<String> {
        let all: Vec<&str> = self
            .user
            .iter()
            .chain(&self.defaults)
            .map(String::as_str)
            .collect();
        (!all.is_empty()).then(|| all.join("|"))
    }

    /// Whether a file is excluded (for filtering without llvm-cov).
    pub fn is_ignored(&self, path: &str) -> bool {
        self.combined()
            .and_then(|r| Regex::new(&r).ok())
            .is_some_and(|r| r.is_match(path))
    }
}

fn abs_path(p: &Path) -> String {
    format!("^{}($|/)", regex::escape(&p.display().to_string()))
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| home_dir().map(|h| h.join(".cargo")))
}

fn rustup_home() -> Option<PathBuf> {
    std::env::var_os("RUSTUP_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| home_dir().map(|h| h.join(".rustup")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> IgnoreRules {
        IgnoreRules::defaults(
            Path::new("/ws"),
            Path::new("/ws/target/gantry/cover"),
            false,
        )
    }

    #[test]
    fn defaults_match_cargo_llvm_cov() {
        let r = rules();
        for ignored in [
            "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/fmt/mod.rs",
            "/rustc/1.87.0/library/std/src/lib.rs",
            "/home/u/.cargo/registry/src/index.crates.io-1/serde-1.0.0/src/lib.rs",
            "/home/u/.cargo/git/checkouts/x/src/lib.rs",
            "/home/u/.rustup/toolchains/stable/lib/rustlib/src/rust/library/std/src/lib.rs",
            "/ws/tests/it.rs",
            "/ws/crates/a/tests/support/mod.rs",
            "/ws/crates/a/examples/demo.rs",
            "/ws/target/gantry/cover/debug/build/a-1/out/gen.rs",
        ] {
            assert!(r.is_ignored(ignored), "{ignored}");
        }
        for kept in [
            "/ws/src/lib.rs",
            "/ws/crates/a/src/tests.rs",
            "/ws/testsuite/x.rs",
        ] {
            assert!(!r.is_ignored(kept), "{kept}");
        }
        let with_tests = IgnoreRules::defaults(Path::new("/ws"), Path::new("/ws/target"), true);
        assert!(!with_tests.is_ignored("/ws/tests/it.rs"));
    }

    #[test]
    fn user_regexes_add_to_the_defaults() {
        let mut r = rules();
        assert!(!r.is_ignored("/ws/src/generated.rs"));
        r.add("generated").unwrap();
        r.add("generated").unwrap();
        assert!(r.is_ignored("/ws/src/generated.rs"));
        assert!(r.is_ignored("/rustc/1.87.0/library/std/src/lib.rs"));
        assert_eq!(r.user_regexes(), ["generated"]);
        let err = r.add("(unclosed").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid --ignore-filename-regex `(unclosed`"),
            "{err}"
        );
        assert_eq!(IgnoreRules::none().combined(), None);
    }
}
