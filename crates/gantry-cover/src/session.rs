//! Where a coverage run keeps its files, and the environment of its builds
//! and processes.

use std::path::{Path, PathBuf};

use crate::error::CoverError;
use crate::ignore::IgnoreRules;
use crate::wrapper::{INSTRUMENT_FLAGS, WRAPPER_ENV, WRAPPER_MODE_COVER};

/// The files of a coverage run, all under one directory of the target dir.
///
/// Instrumented code gets a target directory of its own so that switching
/// between `cargo gantry run` and `cargo gantry cover` never rebuilds either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoverPaths {
    /// `<target>/gantry/cover`: cargo's target dir for instrumented builds.
    pub target_dir: PathBuf,
    /// `<target>/gantry/cover/profraw`: raw profiles land here until merged.
    pub profraw_dir: PathBuf,
    /// `<target>/gantry/cover/gantry.profdata`: the merged profile, which
    /// grows as raw profiles are merged into it.
    pub profdata: PathBuf,
    /// `<target>/gantry/cover/env`: target dir for builds made by hand with
    /// the `cover env` variables, kept apart because their flags differ.
    pub env_target_dir: PathBuf,
}

impl CoverPaths {
    /// The paths under a workspace's target directory (the one cargo
    /// metadata reports, which honours `--target-dir` and `CARGO_TARGET_DIR`).
    pub fn new(workspace_target_dir: &Path) -> CoverPaths {
        let target_dir = workspace_target_dir.join("gantry").join("cover");
        CoverPaths {
            profraw_dir: target_dir.join("profraw"),
            profdata: target_dir.join("gantry.profdata"),
            env_target_dir: target_dir.join("env"),
            target_dir,
        }
    }
}

/// How raw profile files are named, which decides how many there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileNaming {
    /// One file per process (`%p-%m`): each can be merged and deleted as soon
    /// as its process has exited, which keeps disk use flat however long the
    /// suite, and a crash loses only that process's data.
    PerProcess,
    /// A pool of N files per binary (`%Nm`) that processes merge into under
    /// a lock: the number of files is bounded without any merging during the
    /// run, at the price of merging only at the end (a pool file may be
    /// written to at any time) and of one crash mid-write spoiling a whole
    /// pool file.
    Pool(u8),
}

impl ProfileNaming {
    /// The `LLVM_PROFILE_FILE` file-name pattern for processes of one kind.
    /// `label` names the kind (`test`, `fixture.echo-daemon`) so that a
    /// leftover file says where it came from.
    pub fn pattern(self, label: &str) -> String {
        let label = sanitize_label(label);
        match self {
            ProfileNaming::PerProcess => format!("{label}-%p-%m.profraw"),
            ProfileNaming::Pool(n) => format!("{label}-%{}m.profraw", n.clamp(1, 9)),
        }
    }
}

/// Keeps a label to characters that need no quoting and contain no `-` or
/// `%`, so that the pid can be read back from the file name.
fn sanitize_label(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "profile".into()
    } else {
        s
    }
}

/// Reads the process id back from a per-process file name
/// (`<label>-<pid>-<signature>_<pool>.profraw`); `None` for other names,
/// whose processes cannot be told apart.
pub fn pid_of_profile(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?.strip_suffix(".profraw")?;
    let mut parts = name.rsplitn(3, '-');
    let _signature = parts.next()?;
    let pid = parts.next()?;
    let _label = parts.next()?;
    pid.parse().ok()
}

/// One coverage run of a workspace: its paths, the wrapper to build with,
/// and how profiles are named.
#[derive(Clone, Debug)]
pub struct CoverSession {
    /// The run's files.
    pub paths: CoverPaths,
    /// The workspace root, for the default exclusions and relative paths.
    pub workspace_root: PathBuf,
    /// The executable cargo runs as `RUSTC_WORKSPACE_WRAPPER`: the gantry
    /// binary itself (`std::env::current_exe()`), whose `main` must check
    /// [`crate::wrapper_requested`] first.
    pub wrapper_exe: PathBuf,
    /// Profile naming for the processes of this run.
    pub naming: ProfileNaming,
}

impl CoverSession {
    /// A session with one profile per process.
    pub fn new(workspace_root: &Path, workspace_target_dir: &Path, wrapper_exe: &Path) -> Self {
        CoverSession {
            paths: CoverPaths::new(workspace_target_dir),
            workspace_root: workspace_root.to_path_buf(),
            wrapper_exe: wrapper_exe.to_path_buf(),
            naming: ProfileNaming::PerProcess,
        }
    }

    /// Switches to a merge pool of `n` files per binary (see
    /// [`ProfileNaming::Pool`]).
    pub fn with_pool(mut self, n: u8) -> Self {
        self.naming = ProfileNaming::Pool(n);
        self
    }

    /// Removes the profiles of earlier runs, so that a report covers this
    /// run only, and creates the profile directory.
    pub fn clean(&self) -> Result<(), CoverError> {
        let dir = &self.paths.profraw_dir;
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(CoverError::io("could not remove", dir))?;
        }
        let profdata = &self.paths.profdata;
        if profdata.exists() {
            std::fs::remove_file(profdata).map_err(CoverError::io("could not remove", profdata))?;
        }
        self.prepare()
    }

    /// Creates the profile directory, keeping what is in it (for `report`,
    /// which merges profiles written by processes gantry did not start).
    pub fn prepare(&self) -> Result<(), CoverError> {
        let dir = &self.paths.profraw_dir;
        std::fs::create_dir_all(dir).map_err(CoverError::io("could not create", dir))
    }

    /// The default exclusions for this workspace (see [`IgnoreRules::defaults`]);
    /// the caller adds `--ignore-filename-regex` values and the ratchet
    /// file's recorded ones.
    pub fn ignore_rules(&self, include_test_sources: bool) -> IgnoreRules {
        IgnoreRules::defaults(
            &self.workspace_root,
            &self.paths.target_dir,
            include_test_sources,
        )
    }

    /// The extra environment of `cargo test --no-run` (the runner's
    /// `BuildOptions::env`; also set `BuildOptions::target_dir` to
    /// [`CoverPaths::target_dir`]).
    ///
    /// `CARGO_INCREMENTAL=0` because incremental builds of instrumented code
    /// only cost space: coverage builds change flags rarely. The profile file
    /// is set for the build too: workspace proc macros are instrumented and
    /// run inside rustc, which writes their profile when it exits.
    pub fn build_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "RUSTC_WORKSPACE_WRAPPER".into(),
                self.wrapper_exe.display().to_string(),
            ),
            (WRAPPER_ENV.into(), WRAPPER_MODE_COVER.into()),
            (
                "CARGO_TARGET_DIR".into(),
                self.paths.target_dir.display().to_string(),
            ),
            ("CARGO_INCREMENTAL".into(), "0".into()),
            self.profile_env("build"),
        ]
    }

    /// The environment of every test process.
    pub fn test_env(&self) -> Vec<(String, String)> {
        vec![self.profile_env("test")]
    }

    /// The environment of a fixture process started from a workspace binary;
    /// its files are named after the fixture.
    pub fn fixture_env(&self, fixture: &str) -> Vec<(String, String)> {
        vec![self.profile_env(&format!("fixture.{fixture}"))]
    }

    fn profile_env(&self, label: &str) -> (String, String) {
        (
            "LLVM_PROFILE_FILE".into(),
            self.paths
                .profraw_dir
                .join(self.naming.pattern(label))
                .display()
                .to_string(),
        )
    }

    /// The variables of `cargo gantry cover env`: for builds and processes
    /// gantry does not start itself (a Python or shell suite driving the
    /// services, a container), so that they are measured too and
    /// `cargo gantry cover report` merges their profiles with the tests'.
    ///
    /// Such builds go through plain cargo, so the flags are given as
    /// `RUSTFLAGS` (after `existing_rustflags`, the caller's `$RUSTFLAGS`).
    /// That instruments dependencies too, which the default exclusions
    /// remove from the report again. They get a target directory of their
    /// own so that gantry's wrapper builds are not rebuilt each time.
    pub fn manual_env(&self, existing_rustflags: Option<&str>) -> Vec<(String, String)> {
        let mut rustflags = existing_rustflags.unwrap_or("").trim().to_string();
        for f in INSTRUMENT_FLAGS {
            if !rustflags.is_empty() {
                rustflags.push(' ');
            }
            rustflags.push_str(f);
        }
        vec![
            ("RUSTFLAGS".into(), rustflags),
            ("CARGO_INCREMENTAL".into(), "0".into()),
            (
                "CARGO_TARGET_DIR".into(),
                self.paths.env_target_dir.display().to_string(),
            ),
            self.profile_env("env"),
        ]
    }

    /// [`CoverSession::manual_env`] as `export K=V` lines for
    /// `eval "$(cargo gantry cover env)"`, values quoted for POSIX shells.
    pub fn manual_env_script(&self, existing_rustflags: Option<&str>) -> String {
        self.manual_env(existing_rustflags)
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
            .collect()
    }
}

/// Quotes a value for a POSIX shell when it needs it.
pub fn shell_quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "%+,-./:=@_".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> CoverSession {
        CoverSession::new(
            Path::new("/ws"),
            Path::new("/ws/target"),
            Path::new("/bin/cargo-gantry"),
        )
    }

    #[test]
    fn paths_live_under_gantry_cover() {
        let p = CoverPaths::new(Path::new("/ws/target"));
        assert_eq!(p.target_dir, Path::new("/ws/target/gantry/cover"));
        assert_eq!(p.profraw_dir, Path::new("/ws/target/gantry/cover/profraw"));
        assert_eq!(
            p.profdata,
            Path::new("/ws/target/gantry/cover/gantry.profdata")
        );
    }

    #[test]
    fn build_env_wraps_rustc_and_sets_profile_file() {
        let env = session().build_env();
        let get = |k: &str| env.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
        assert_eq!(get("RUSTC_WORKSPACE_WRAPPER"), Some("/bin/cargo-gantry"));
        assert_eq!(get(WRAPPER_ENV), Some("cover"));
        assert_eq!(get("CARGO_INCREMENTAL"), Some("0"));
        assert_eq!(get("CARGO_TARGET_DIR"), Some("/ws/target/gantry/cover"));
        assert_eq!(
            get("LLVM_PROFILE_FILE"),
            Some("/ws/target/gantry/cover/profraw/build-%p-%m.profraw")
        );
    }

    #[test]
    fn test_and_fixture_profiles_are_per_process_or_pooled() {
        let s = session();
        assert_eq!(
            s.test_env(),
            [(
                "LLVM_PROFILE_FILE".to_string(),
                "/ws/target/gantry/cover/profraw/test-%p-%m.profraw".to_string()
            )]
        );
        assert_eq!(
            s.fixture_env("echo-daemon")[0].1,
            "/ws/target/gantry/cover/profraw/fixture.echo_daemon-%p-%m.profraw"
        );
        assert_eq!(
            s.with_pool(4).test_env()[0].1,
            "/ws/target/gantry/cover/profraw/test-%4m.profraw"
        );
    }

    #[test]
    fn pid_is_read_back_from_file_names() {
        let p = |s: &str| pid_of_profile(Path::new(s));
        assert_eq!(p("/d/test-1234-99887766_0.profraw"), Some(1234));
        assert_eq!(p("fixture.echo_daemon-77-1_0.profraw"), Some(77));
        assert_eq!(p("test-99887766_3.profraw"), None);
        assert_eq!(p("default_99887766_3.profraw"), None);
        assert_eq!(p("test-12-3.profdata"), None);
    }

    #[test]
    fn env_script_exports_quoted_values() {
        let script = session().manual_env_script(Some("-C opt-level=1"));
        assert_eq!(
            script,
            "export RUSTFLAGS='-C opt-level=1 -C instrument-coverage --cfg=coverage'\n\
             export CARGO_INCREMENTAL=0\n\
             export CARGO_TARGET_DIR=/ws/target/gantry/cover/env\n\
             export LLVM_PROFILE_FILE=/ws/target/gantry/cover/profraw/env-%p-%m.profraw\n"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
