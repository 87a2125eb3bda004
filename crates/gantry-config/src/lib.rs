//! Loading, validating and resolving gantry's `.config/gantry.toml`.
//!
//! The whole file is checked when it is loaded: a wrong value anywhere (in
//! a profile that is not used, in a fixture no test needs) is an error
//! before anything runs, because a config that only fails on the CI
//! machine, or only for some tests, is worse than one that fails at once.
//! Unknown keys are only warnings — they are usually typos, so each comes
//! with the line and, when a known key is close, a suggestion.
//!
//! ```
//! use std::path::Path;
//! use gantry_config::GantryConfig;
//!
//! let config = GantryConfig::from_str_with_path(
//!     "[profile.default]\nretries = 1\n\n[profile.ci]\nslow-timeout = \"2m\"\n",
//!     Path::new(".config/gantry.toml"),
//! )?;
//! let ci = config.profile("ci")?;
//! assert_eq!(ci.retries, 2); // the built-in ci value wins over the file's default
//! assert_eq!(ci.slow_timeout, std::time::Duration::from_secs(120));
//! # Ok::<(), gantry_config::ConfigError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gantry_filter::FilterExpr;

mod error;
mod fixture;
mod load;
mod profile;
mod read;
mod span;
mod template;

pub use error::{ConfigError, ConfigWarning};
pub use fixture::{
    FixtureConfig, FixtureScope, LogPattern, ProbeKind, ReadyProbe, RestartPolicy, StopConfig,
    StopSignal,
};
pub use profile::{
    Jobs, Override, ResolvedProfile, TestSettings, ThreadsRequired, CI_PROFILE, DEFAULT_PROFILE,
};
pub use span::suggest;
pub use template::{ExpandError, Placeholder, Template, TemplateError, TemplatePart};

/// The config file's location relative to the workspace root.
pub const CONFIG_PATH: &str = ".config/gantry.toml";

/// A limit on how many tests of a kind run at once, from
/// `[test-groups.NAME]`; tests join a group through an override's
/// `test-group`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestGroup {
    /// How many tests of the group may run at the same time (at least 1).
    pub max_threads: usize,
}

/// The loaded and validated configuration of one workspace.
///
/// Profiles are kept as written and resolved on request
/// ([`profile`](Self::profile)), so that only the profile in use is
/// materialized; every profile has nevertheless been validated at load
/// time, so resolving a known name cannot fail.
#[derive(Clone, Debug, Default)]
pub struct GantryConfig {
    path: Option<PathBuf>,
    profiles: BTreeMap<String, profile::ProfileLayer>,
    tiers: BTreeMap<String, FilterExpr>,
    test_groups: BTreeMap<String, TestGroup>,
    fixtures: BTreeMap<String, FixtureConfig>,
    raw: toml::Table,
    warnings: Vec<ConfigWarning>,
}

impl GantryConfig {
    /// Reads `<workspace_root>/.config/gantry.toml` if it exists, else
    /// returns the built-in defaults (a workspace needs no config file).
    pub fn load(workspace_root: &Path) -> Result<Self, ConfigError> {
        let path = workspace_root.join(CONFIG_PATH);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_str_with_path(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Io { path, source }),
        }
    }

    /// Parses config text; `path` is used in messages (and returned by
    /// [`path`](Self::path)) only.
    pub fn from_str_with_path(text: &str, path: &Path) -> Result<Self, ConfigError> {
        load::parse(text, path)
    }

    /// The file the config was read from; `None` when the defaults are used
    /// because there is no file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Unknown keys and settings without effect, sorted by line; the CLI
    /// prints them before running.
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// The profile `name` with inheritance and built-ins applied.
    ///
    /// Fails only with [`ConfigError::UnknownProfile`], which lists the
    /// known names.
    pub fn profile(&self, name: &str) -> Result<ResolvedProfile, ConfigError> {
        if !profile::exists(&self.profiles, name) {
            return Err(ConfigError::UnknownProfile {
                name: name.to_owned(),
                known: self.profile_names(),
            });
        }
        let chain = profile::chain(&self.profiles, name)
            .unwrap_or_else(|_| vec![name.to_owned(), DEFAULT_PROFILE.to_owned()]);
        Ok(profile::resolve(&self.profiles, &chain))
    }

    /// Every profile name: the built-in `default` and `ci` and those in the
    /// file, sorted.
    pub fn profile_names(&self) -> Vec<String> {
        let mut names: Vec<String> = [DEFAULT_PROFILE, CI_PROFILE]
            .into_iter()
            .map(str::to_owned)
            .chain(self.profiles.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The filter of tier `name` (for `--tier`).
    ///
    /// Fails with [`ConfigError::UnknownTier`], which lists the known names.
    pub fn tier(&self, name: &str) -> Result<&FilterExpr, ConfigError> {
        self.tiers
            .get(name)
            .ok_or_else(|| ConfigError::UnknownTier {
                name: name.to_owned(),
                known: self.tiers.keys().cloned().collect(),
            })
    }

    /// All tiers by name.
    pub fn tiers(&self) -> &BTreeMap<String, FilterExpr> {
        &self.tiers
    }

    /// All test groups by name; every `test-group` an override names is
    /// among them.
    pub fn test_groups(&self) -> &BTreeMap<String, TestGroup> {
        &self.test_groups
    }

    /// All fixtures by name, validated (dependencies exist and form no
    /// cycle).
    pub fn fixtures(&self) -> &BTreeMap<String, FixtureConfig> {
        &self.fixtures
    }

    /// The fixtures, each after every fixture it depends on (ties by name),
    /// i.e. a valid start order; stop them in the reverse order.
    pub fn fixture_start_order(&self) -> Vec<&FixtureConfig> {
        fixture::start_order(&self.fixtures)
    }

    /// A top-level section as plain TOML, for the sections this crate does
    /// not interpret (`database`, `ci`, `cover`): their own modules parse
    /// them, and they are accepted here without warnings.
    pub fn raw_section(&self, name: &str) -> Option<&toml::Value> {
        self.raw.get(name)
    }
}
