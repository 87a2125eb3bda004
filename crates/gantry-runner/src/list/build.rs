//! Building test binaries with `cargo test --no-run`.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use cargo_metadata::{Message, Metadata, MetadataCommand};

use crate::error::{Result, RunnerError};
use crate::execute::signals::{self, Subscription};

/// Options passed through to `cargo test --no-run` (and `cargo metadata`).
///
/// They mirror cargo's own flags so that `cargo gantry run -p foo --release`
/// builds exactly what `cargo test -p foo --release` would.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// `--manifest-path`.
    pub manifest_path: Option<PathBuf>,
    /// `-p/--package`.
    pub packages: Vec<String>,
    /// `--workspace`.
    pub workspace: bool,
    /// `--exclude`.
    pub exclude: Vec<String>,
    /// `--features`.
    pub features: Vec<String>,
    /// `--all-features`.
    pub all_features: bool,
    /// `--no-default-features`.
    pub no_default_features: bool,
    /// `--release`.
    pub release: bool,
    /// `--cargo-profile` (cargo's `--profile`).
    pub cargo_profile: Option<String>,
    /// `--target-dir`.
    pub target_dir: Option<PathBuf>,
    /// `--lib`.
    pub lib: bool,
    /// `--bins`.
    pub bins: bool,
    /// `--tests`.
    pub tests: bool,
    /// `--test NAME`.
    pub test: Vec<String>,
    /// `--examples`.
    pub examples: bool,
    /// `--bin NAME`.
    pub bin: Vec<String>,
    /// `--frozen`/`--locked`/`--offline` and other flags handed to cargo as they are.
    pub cargo_flags: Vec<String>,
    /// Extra environment for cargo, e.g. `RUSTFLAGS` for instrumented builds.
    pub env: Vec<(String, String)>,
}

impl BuildOptions {
    /// The arguments after `cargo test --no-run` that select packages,
    /// targets, features and profile.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(path) = &self.manifest_path {
            args.push("--manifest-path".into());
            args.push(path.display().to_string());
        }
        for p in &self.packages {
            args.push("--package".into());
            args.push(p.clone());
        }
        if self.workspace {
            args.push("--workspace".into());
        }
        for p in &self.exclude {
            args.push("--exclude".into());
            args.push(p.clone());
        }
        if !self.features.is_empty() {
            args.push("--features".into());
            args.push(self.features.join(","));
        }
        if self.all_features {
            args.push("--all-features".into());
        }
        if self.no_default_features {
            args.push("--no-default-features".into());
        }
        if self.release {
            args.push("--release".into());
        }
        if let Some(p) = &self.cargo_profile {
            args.push("--profile".into());
            args.push(p.clone());
        }
        if let Some(dir) = &self.target_dir {
            args.push("--target-dir".into());
            args.push(dir.display().to_string());
        }
        for (flag, on) in [
            ("--lib", self.lib),
            ("--bins", self.bins),
            ("--tests", self.tests),
            ("--examples", self.examples),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        for t in &self.test {
            args.push("--test".into());
            args.push(t.clone());
        }
        for b in &self.bin {
            args.push("--bin".into());
            args.push(b.clone());
        }
        args.extend(self.cargo_flags.iter().cloned());
        args
    }

    /// Reads `cargo metadata` for the selected manifest.
    pub fn metadata(&self) -> Result<Metadata> {
        let mut cmd = MetadataCommand::new();
        if let Some(path) = &self.manifest_path {
            cmd.manifest_path(path);
        }
        if !self.features.is_empty() {
            cmd.features(cargo_metadata::CargoOpt::SomeFeatures(
                self.features.clone(),
            ));
        }
        if self.all_features {
            cmd.features(cargo_metadata::CargoOpt::AllFeatures);
        }
        if self.no_default_features {
            cmd.features(cargo_metadata::CargoOpt::NoDefaultFeatures);
        }
        cmd.no_deps();
        let offline: Vec<String> = self
            .cargo_flags
            .iter()
            .filter(|f| matches!(f.as_str(), "--frozen" | "--locked" | "--offline"))
            .cloned()
            .collect();
        cmd.other_options(offline);
        cmd.exec().map_err(|e| RunnerError::Metadata(e.to_string()))
    }
}

/// A test executable that cargo built.
#[derive(Clone, Debug)]
pub struct BuiltTestBinary {
    /// Package name.
    pub package: String,
    /// Package id, to find the package in the metadata.
    pub package_id: String,
    /// Target name.
    pub name: String,
    /// Normalized kind: `lib`, `bin`, `test`, `example`, `bench`, `proc-macro`.
    pub kind: String,
    /// The executable.
    pub path: PathBuf,
    /// Source file of the target.
    pub src_path: PathBuf,
}

/// What a `cargo test --no-run` produced.
#[derive(Clone, Debug, Default)]
pub struct BuildOutput {
    /// Test executables in build order.
    pub test_binaries: Vec<BuiltTestBinary>,
    /// Non-test binaries per package: target name → path, for `CARGO_BIN_EXE_<name>`.
    pub bin_executables: BTreeMap<String, BTreeMap<String, PathBuf>>,
    /// C-compatible libraries the build produced (`cdylib`, `staticlib`,
    /// `dylib`): tests of bindings load or link them at run time.
    pub libraries: Vec<PathBuf>,
}

/// Maps cargo's list of crate types to the one kind gantry reports.
pub fn normalize_kind(kinds: &[String]) -> String {
    let is = |k: &str| kinds.iter().any(|x| x == k);
    if is("proc-macro") {
        "proc-macro".into()
    } else if ["lib", "rlib", "dylib", "cdylib", "staticlib"]
        .iter()
        .any(|k| is(k))
    {
        "lib".into()
    } else {
        kinds.first().cloned().unwrap_or_else(|| "lib".into())
    }
}

/// Runs `cargo test --no-run --message-format json-render-diagnostics` and
/// collects the test executables. Cargo's progress and diagnostics go to
/// the user's stderr as they would under `cargo test`.
pub fn build_tests(opts: &BuildOptions, cwd: &Path) -> Result<BuildOutput> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec![
        "test".to_string(),
        "--no-run".into(),
        "--message-format".into(),
        "json-render-diagnostics".into(),
    ];
    args.extend(opts.cargo_args());
    let command = format!("cargo {}", args.join(" "));
    // Handlers first: a signal from now on stops the build rather than
    // gantry alone, which would leave cargo and its compilers running.
    let signals = BuildSignals::install().map_err(|source| RunnerError::CargoSpawn {
        command: command.clone(),
        source,
    })?;
    // A process group of its own, so that a signal reaches cargo and every
    // compiler it started.
    let mut child = Command::new(&cargo)
        .args(&args)
        .envs(opts.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|source| RunnerError::CargoSpawn {
            command: command.clone(),
            source,
        })?;
    signals.forward_to_group(child.id());
    let stdout = child.stdout.take().expect("piped stdout");
    let mut out = BuildOutput::default();
    for message in Message::parse_stream(BufReader::new(stdout)) {
        let Ok(Message::CompilerArtifact(artifact)) = message else {
            continue;
        };
        let native = artifact
            .target
            .kind
            .iter()
            .any(|k| matches!(k.to_string().as_str(), "cdylib" | "staticlib" | "dylib"));
        if native && !artifact.profile.test {
            for f in &artifact.filenames {
                if matches!(f.extension(), Some("so" | "a" | "dylib" | "dll" | "lib"))
                    && !out.libraries.iter().any(|l| l.as_path() == f.as_std_path())
                {
                    out.libraries.push(f.clone().into_std_path_buf());
                }
            }
        }
        let Some(exe) = artifact.executable.clone() else {
            continue;
        };
        let package = package_name_from_id(&artifact.package_id.repr);
        let kind = normalize_kind(
            &artifact
                .target
                .kind
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>(),
        );
        if artifact.profile.test {
            out.test_binaries.push(BuiltTestBinary {
                package,
                package_id: artifact.package_id.repr.clone(),
                name: artifact.target.name.clone(),
                kind,
                path: exe.into_std_path_buf(),
                src_path: artifact.target.src_path.clone().into_std_path_buf(),
            });
        } else if kind == "bin" {
            out.bin_executables
                .entry(artifact.package_id.repr.clone())
                .or_default()
                .insert(artifact.target.name.clone(), exe.into_std_path_buf());
        }
    }
    let status = child.wait().map_err(|source| RunnerError::CargoSpawn {
        command: command.clone(),
        source,
    })?;
    if let Some(signal) = signals.finish() {
        return Err(RunnerError::BuildInterrupted { command, signal });
    }
    if !status.success() {
        return Err(RunnerError::BuildFailed {
            command,
            status: status.to_string(),
        });
    }
    Ok(out)
}

/// SIGINT, SIGTERM and SIGHUP while cargo builds: each is passed on to
/// cargo's process group, and the first one is remembered.
struct BuildSignals {
    group: Arc<AtomicI32>,
    first: Arc<Mutex<Option<i32>>>,
    subscription: Option<Subscription>,
}

impl BuildSignals {
    fn install() -> std::io::Result<Self> {
        let group = Arc::new(AtomicI32::new(0));
        let first = Arc::new(Mutex::new(None));
        let subscription = {
            let (group, first) = (group.clone(), first.clone());
            signals::subscribe(move |sig| {
                first
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(sig);
                killpg(group.load(Ordering::SeqCst), sig);
            })?
        };
        Ok(Self {
            group,
            first,
            subscription: Some(subscription),
        })
    }

    /// Signals from now on go to cargo's group; one that came before cargo
    /// started goes there now.
    fn forward_to_group(&self, pid: u32) {
        let pgid = pid as i32;
        self.group.store(pgid, Ordering::SeqCst);
        if let Some(sig) = *self.first.lock().unwrap_or_else(|e| e.into_inner()) {
            killpg(pgid, sig);
        }
    }

    /// Stops listening; the name of the first signal, if one came.
    fn finish(mut self) -> Option<String> {
        self.subscription.take();
        let sig = *self.first.lock().unwrap_or_else(|e| e.into_inner());
        sig.map(|s| {
            nix::sys::signal::Signal::try_from(s)
                .map_or_else(|_| format!("signal {s}"), |s| s.as_str().to_string())
        })
    }
}

fn killpg(pgid: i32, sig: i32) {
    if pgid > 0 {
        // SAFETY: killpg takes plain integers; a group that is gone makes
        // it fail harmlessly.
        unsafe { libc::killpg(pgid, sig) };
    }
}

/// Extracts the package name from a package id, which is either the new
/// `path+file:///…/foo#0.1.0` / `registry+…#foo@0.1.0` form or the old
/// `foo 0.1.0 (path+file:///…)` form. Only a fallback: callers prefer the
/// name from `cargo metadata`.
fn package_name_from_id(id: &str) -> String {
    if let Some((_, frag)) = id.rsplit_once('#') {
        if let Some((name, _)) = frag.split_once('@') {
            return name.to_string();
        }
        let path = id.split('#').next().unwrap_or("");
        return path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(frag)
            .to_string();
    }
    id.split(' ').next().unwrap_or(id).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_from_both_id_forms() {
        assert_eq!(
            package_name_from_id("path+file:///w/crates/foo#0.1.0"),
            "foo"
        );
        assert_eq!(
            package_name_from_id("path+file:///w/crates/dir#bar@0.1.0"),
            "bar"
        );
        assert_eq!(
            package_name_from_id("registry+https://x/y#serde@1.0.0"),
            "serde"
        );
        assert_eq!(package_name_from_id("foo 0.1.0 (path+file:///w)"), "foo");
    }

    #[test]
    fn kinds_are_normalized() {
        let k = |v: &[&str]| normalize_kind(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(k(&["cdylib", "rlib", "staticlib"]), "lib");
        assert_eq!(k(&["proc-macro"]), "proc-macro");
        assert_eq!(k(&["test"]), "test");
        assert_eq!(k(&["bin"]), "bin");
    }

    #[test]
    fn cargo_args_pass_through() {
        let opts = BuildOptions {
            packages: vec!["a".into()],
            release: true,
            features: vec!["x".into(), "y".into()],
            test: vec!["it".into()],
            ..Default::default()
        };
        assert_eq!(
            opts.cargo_args(),
            [
                "--package",
                "a",
                "--features",
                "x,y",
                "--release",
                "--test",
                "it"
            ]
        );
    }
}
