//! The `[ci]` table of `.config/gantry.toml`.
//!
//! gantry-config hands this table over as plain TOML; it is read and
//! checked here, in full, when it is loaded: a wrong value fails before
//! any step runs (a timeout typo found after a 20-minute clippy run helps
//! nobody), while unknown keys are only warnings, with a suggestion when a
//! known key is close.
//!
//! ```toml
//! [ci]
//! steps = ["fmt", "clippy", "test", "audit", "lint-sql"]
//! skip = ["doc"]
//! advisory-db = "../advisory-db"
//! signed-off-by = true
//! archs = ["x86_64", "aarch64"]
//! test-data = ["crates/*/tests/data"]
//!
//! [ci.step.clippy]
//! features = [[], ["tls"], "all-features"]
//! timeout = "20m"
//!
//! [ci.step.lint-sql]
//! command = "sqlfluff lint migrations"
//! platforms = ["linux"]
//! env = { SQLFLUFF_DIALECT = "postgres" }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gantry_config::GantryConfig;
use toml::Value;

use crate::error::{CiError, Result};

/// The timeout of a step that does not set one: long enough for a cold
/// release build of a mid-sized workspace, short enough that a hung step
/// does not hold a CI runner for its platform's hours-long limit.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The command generated pipelines use to install cargo-gantry.
pub const DEFAULT_INSTALL: &str = "cargo install --locked cargo-gantry";

/// The built-in steps, in their default order.
pub const BUILTIN_STEPS: &[&str] = &[
    "fmt",
    "clippy",
    "build",
    "doc",
    "test",
    "cover",
    "leak",
    "audit",
    "commit-format",
];

/// What a step does. Built-in kinds have fixed commands that the config
/// only parametrizes; custom steps run the config's `command`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepKind {
    /// `cargo fmt --all -- --check`.
    Fmt,
    /// `cargo clippy --workspace --all-targets -- -D warnings`, per feature set.
    Clippy,
    /// `cargo build --workspace`, debug and release, per installed target.
    Build,
    /// `cargo doc --workspace --no-deps` with `RUSTDOCFLAGS=-D warnings`.
    Doc,
    /// `cargo gantry run --profile P [--tier T]`, per tier.
    Test,
    /// `cargo gantry cover --check`.
    Cover,
    /// `cargo gantry run --profile leak`.
    Leak,
    /// `Cargo.lock` against a local RustSec advisory database.
    Audit,
    /// The commit messages of the branch.
    CommitFormat,
    /// A `[ci.step.NAME]` with a `command`.
    Custom,
}

impl StepKind {
    /// The kind of the built-in step `name`, if it is one.
    pub fn builtin(name: &str) -> Option<Self> {
        Some(match name {
            "fmt" => Self::Fmt,
            "clippy" => Self::Clippy,
            "build" => Self::Build,
            "doc" => Self::Doc,
            "test" => Self::Test,
            "cover" => Self::Cover,
            "leak" => Self::Leak,
            "audit" => Self::Audit,
            "commit-format" => Self::CommitFormat,
            _ => return None,
        })
    }

    /// Lint steps need no build of the tests; generated pipelines give
    /// each its own job, in parallel with the build.
    pub fn is_lint(self) -> bool {
        matches!(
            self,
            Self::Fmt | Self::Clippy | Self::Doc | Self::Audit | Self::CommitFormat
        )
    }

    /// The per-step keys this kind understands, besides the common
    /// `timeout`, `env` and `platforms`.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Clippy => &["features"],
            Self::Build => &["targets"],
            Self::Test => &["tiers", "profile"],
            Self::Leak => &["profile"],
            Self::Audit => &["advisory-db", "ignore"],
            Self::CommitFormat => &["signed-off-by", "base"],
            Self::Custom => &["command"],
            Self::Fmt | Self::Doc | Self::Cover => &[],
        }
    }
}

/// An operating system a custom step applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// Linux.
    Linux,
    /// macOS.
    Macos,
    /// Windows.
    Windows,
}

impl Platform {
    /// The platform gantry runs on (Linux for other unixes, which behave
    /// like it for the commands CI runs).
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::Macos
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::Linux
        }
    }

    /// The name used in the config: `linux`, `macos`, `windows`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linux => "linux",
            Self::Macos => "macos",
            Self::Windows => "windows",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "linux" => Self::Linux,
            "macos" => Self::Macos,
            "windows" => Self::Windows,
            _ => return None,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One feature combination clippy checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeatureSet {
    /// The default features (written `[]`).
    Default,
    /// `--features a,b` (written `["a", "b"]`).
    Features(Vec<String>),
    /// `--all-features` (written `"all-features"`).
    AllFeatures,
    /// `--no-default-features` (written `"no-default-features"`).
    NoDefaultFeatures,
}

impl FeatureSet {
    /// The cargo arguments selecting this set.
    pub fn cargo_args(&self) -> Vec<String> {
        match self {
            Self::Default => Vec::new(),
            Self::Features(f) => vec!["--features".into(), f.join(",")],
            Self::AllFeatures => vec!["--all-features".into()],
            Self::NoDefaultFeatures => vec!["--no-default-features".into()],
        }
    }
}

/// A custom step's command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepCommand {
    /// A string, run with `sh -c`, so pipes and `&&` work.
    Shell(String),
    /// An array, run directly without a shell.
    Argv(Vec<String>),
}

/// The settings of one `[ci.step.NAME]` table (or the defaults of a
/// built-in step that has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepConfig {
    /// Whole-step time limit; past it the step's process group is killed
    /// and the step reported as timed out.
    pub timeout: Duration,
    /// Extra environment for the step's commands.
    pub env: BTreeMap<String, String>,
    /// Platforms the step runs on; empty means all.
    pub platforms: Vec<Platform>,
    /// clippy: the feature sets to check (default: the default features).
    pub features: Vec<FeatureSet>,
    /// build: target triples besides the host; empty means the host only.
    pub targets: Vec<String>,
    /// test: tiers to run, one run each; empty means one run of all tests.
    pub tiers: Vec<String>,
    /// test and leak: the gantry profile (defaults `ci` and `leak`).
    pub profile: Option<String>,
    /// audit: the advisory database (overrides `[ci] advisory-db`).
    pub advisory_db: Option<PathBuf>,
    /// audit: advisory ids to accept.
    pub ignore: Vec<String>,
    /// commit-format: require `Signed-off-by:` (overrides `[ci] signed-off-by`).
    pub signed_off_by: Option<bool>,
    /// commit-format: the base of the checked range (default: the
    /// merge-base with the default branch).
    pub base: Option<String>,
    /// custom: what to run.
    pub command: Option<StepCommand>,
}

impl Default for StepConfig {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_STEP_TIMEOUT,
            env: BTreeMap::new(),
            platforms: Vec::new(),
            features: Vec::new(),
            targets: Vec::new(),
            tiers: Vec::new(),
            profile: None,
            advisory_db: None,
            ignore: Vec::new(),
            signed_off_by: None,
            base: None,
            command: None,
        }
    }
}

/// A step as configured: its name, kind and settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepDef {
    /// The step name (`clippy`, or a custom name).
    pub name: String,
    /// What it does.
    pub kind: StepKind,
    /// Its settings.
    pub config: StepConfig,
    /// Set when `[ci] skip` lists it.
    pub skipped_by_config: bool,
}

/// The validated `[ci]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CiConfig {
    /// The steps in the order they run (`[ci] steps`, or the default
    /// order: the built-ins that apply, then custom steps by name).
    pub steps: Vec<StepDef>,
    /// `[ci] advisory-db`, relative to the workspace root.
    pub advisory_db: Option<PathBuf>,
    /// `[ci] signed-off-by`.
    pub signed_off_by: bool,
    /// `[ci] archs`: extra per-architecture jobs in generated pipelines.
    pub archs: Vec<String>,
    /// `[ci] test-data`: files and globs (relative to the workspace root)
    /// that test archives carry besides the binaries.
    pub test_data: Vec<String>,
    /// `[ci] install`: how generated pipelines install cargo-gantry.
    pub install: String,
    /// `[ci] shards`: the default shard count of `ci generate`.
    pub shards: Option<usize>,
    /// Unknown keys and settings without effect, as complete messages.
    pub warnings: Vec<String>,
    /// The config file, for messages.
    pub path: PathBuf,
    /// Built-in steps configured in `[ci.step.NAME]` but left out of
    /// `steps`: they run only when named with `--step`, with these settings.
    unlisted: Vec<StepDef>,
}

impl Default for CiConfig {
    fn default() -> Self {
        Self {
            steps: Vec::new(),
            advisory_db: None,
            signed_off_by: false,
            archs: Vec::new(),
            test_data: Vec::new(),
            install: DEFAULT_INSTALL.to_string(),
            shards: None,
            warnings: Vec::new(),
            path: PathBuf::from(gantry_config::CONFIG_PATH),
            unlisted: Vec::new(),
        }
    }
}

impl CiConfig {
    /// Reads the `[ci]` table of a loaded config. Tiers and profiles named
    /// by steps are checked against the config, so a misspelt tier fails
    /// here rather than in the middle of a CI run.
    pub fn from_gantry(config: &GantryConfig) -> Result<Self> {
        let path = config.path().map_or_else(
            || PathBuf::from(gantry_config::CONFIG_PATH),
            Path::to_path_buf,
        );
        let text = config.path().and_then(|p| std::fs::read_to_string(p).ok());
        let mut p = Parser::new(path, text.as_deref());
        parse(&mut p, config)
    }

    /// Parses a whole config file's text (for tests and tools that have
    /// the text rather than a workspace); `path` is used in messages.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Self> {
        let config = GantryConfig::from_str_with_path(text, path)?;
        let mut p = Parser::new(path.to_path_buf(), Some(text));
        parse(&mut p, &config)
    }

    /// The step called `name`.
    pub fn step(&self, name: &str) -> Option<&StepDef> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The settings of step `name` even when it is not in the run order (a
    /// built-in left out of `steps`, run with `--step`); built-in steps
    /// without a table get the defaults.
    pub fn step_or_builtin(&self, name: &str) -> Option<StepDef> {
        self.step(name)
            .or_else(|| self.unlisted.iter().find(|s| s.name == name))
            .cloned()
            .or_else(|| {
                StepKind::builtin(name).map(|kind| StepDef {
                    name: name.to_string(),
                    kind,
                    config: StepConfig::default(),
                    skipped_by_config: false,
                })
            })
    }

    /// Every step name, in order.
    pub fn step_names(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.name.clone()).collect()
    }

    /// The advisory database the audit step uses: the step's own
    /// `advisory-db`, else `[ci] advisory-db`.
    pub fn advisory_db_for<'a>(&'a self, step: &'a StepDef) -> Option<&'a Path> {
        step.config
            .advisory_db
            .as_deref()
            .or(self.advisory_db.as_deref())
    }

    /// Whether commit-format requires `Signed-off-by:`.
    pub fn signed_off_by_for(&self, step: &StepDef) -> bool {
        step.config.signed_off_by.unwrap_or(self.signed_off_by)
    }
}

/// A segment of a dotted key path.
#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Clone, Debug, Default)]
struct KeyPath(Vec<Seg>);

impl KeyPath {
    fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_string()));
        Self(v)
    }
    fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        Self(v)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) => {
                    let bare = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

struct Parser {
    path: PathBuf,
    text: Option<String>,
    doc: Option<toml_edit::Document<String>>,
    warnings: Vec<(usize, String)>,
}

impl Parser {
    fn new(path: PathBuf, text: Option<&str>) -> Self {
        let doc = text.and_then(|t| toml_edit::Document::parse(t.to_string()).ok());
        Self {
            path,
            text: text.map(str::to_string),
            doc,
            warnings: Vec::new(),
        }
    }

    /// The 1-based line of the deepest part of `key` found in the text.
    fn line(&self, key: &KeyPath) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let text = self.text.as_ref()?;
        let mut item = doc.as_item();
        let mut best = None;
        for seg in &key.0 {
            let next = match seg {
                Seg::Key(k) => item.get(k.as_str()),
                Seg::Index(i) => item.get(*i),
            };
            let Some(next) = next else { break };
            item = next;
            if let Some(span) = item.span() {
                best = Some(span.start);
            }
        }
        best.map(|offset| text[..offset.min(text.len())].matches('\n').count() + 1)
    }

    fn err(&self, key: &KeyPath, message: impl Into<String>, help: Option<String>) -> CiError {
        CiError::Config {
            path: self.path.clone(),
            line: self.line(key),
            key: key.to_string(),
            message: message.into(),
            help,
        }
    }

    fn warn(&mut self, key: &KeyPath, message: impl fmt::Display) {
        let line = self.line(key);
        let at = line.map_or(String::new(), |l| format!(":{l}"));
        self.warnings.push((
            line.unwrap_or(0),
            format!("{}{at}: {message}", self.path.display()),
        ));
    }

    fn table<'v>(&self, v: &'v Value, key: &KeyPath) -> Result<&'v toml::Table> {
        v.as_table().ok_or_else(|| {
            self.err(
                key,
                format!("expected a table, found {}", v.type_str()),
                None,
            )
        })
    }

    fn warn_unknown(&mut self, table: &toml::Table, key: &KeyPath, known: &[&str], extra: &str) {
        for k in table.keys() {
            if known.contains(&k.as_str()) {
                continue;
            }
            let hint = match crate::suggest(k, known.iter().copied()) {
                Some(s) => format!(" (did you mean `{s}`?)"),
                None => extra.to_string(),
            };
            self.warn(
                &key.key(k),
                format!("unknown key `{}`, ignored{hint}", key.key(k)),
            );
        }
    }

    fn string(&self, v: &Value, key: &KeyPath, what: &str) -> Result<String> {
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
            Some(_) => Err(self.err(key, format!("expected {what}, found an empty string"), None)),
            None => Err(self.err(
                key,
                format!("expected {what}, found {}", v.type_str()),
                None,
            )),
        }
    }

    fn bool(&self, v: &Value, key: &KeyPath) -> Result<bool> {
        v.as_bool().ok_or_else(|| {
            self.err(
                key,
                format!("expected true or false, found {}", v.type_str()),
                None,
            )
        })
    }

    fn strings(&self, v: &Value, key: &KeyPath, what: &str) -> Result<Vec<String>> {
        let arr = v.as_array().ok_or_else(|| {
            self.err(
                key,
                format!("expected an array of {what}, found {}", v.type_str()),
                Some(format!("write it as `{} = [\"...\"]`", last_key(key))),
            )
        })?;
        arr.iter()
            .enumerate()
            .map(|(i, x)| self.string(x, &key.index(i), what))
            .collect()
    }

    fn duration(&self, v: &Value, key: &KeyPath) -> Result<Duration> {
        let help = Some(
            "write a duration such as \"90s\", \"15m\" or \"1h\", or a number of seconds"
                .to_string(),
        );
        let d = match v {
            Value::Integer(n) if *n > 0 => Duration::from_secs(*n as u64),
            Value::Integer(_) => Duration::ZERO,
            Value::String(s) => humantime::parse_duration(s)
                .map_err(|e| self.err(key, format!("invalid duration `{s}`: {e}"), help.clone()))?,
            other => {
                return Err(self.err(
                    key,
                    format!("expected a duration, found {}", describe(other)),
                    help,
                ))
            }
        };
        if d.is_zero() {
            return Err(self.err(key, "the timeout must be longer than zero", help));
        }
        Ok(d)
    }
}

fn last_key(key: &KeyPath) -> String {
    key.0
        .iter()
        .rev()
        .find_map(|s| match s {
            Seg::Key(k) => Some(k.clone()),
            Seg::Index(_) => None,
        })
        .unwrap_or_default()
}

fn describe(v: &Value) -> String {
    match v {
        Value::Integer(n) => format!("the integer {n}"),
        other => other.type_str().to_string(),
    }
}

fn valid_step_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

const TOP_KEYS: &[&str] = &[
    "steps",
    "skip",
    "step",
    "advisory-db",
    "signed-off-by",
    "archs",
    "test-data",
    "install",
    "shards",
];
const COMMON_STEP_KEYS: &[&str] = &["timeout", "env", "platforms"];

fn parse(p: &mut Parser, config: &GantryConfig) -> Result<CiConfig> {
    let mut ci = CiConfig {
        path: p.path.clone(),
        ..CiConfig::default()
    };
    let root = KeyPath::default().key("ci");
    let empty = toml::Table::new();
    let table = match config.raw_section("ci") {
        Some(v) => p.table(v, &root)?,
        None => &empty,
    };
    p.warn_unknown(table, &root, TOP_KEYS, "");

    if let Some(v) = table.get("advisory-db") {
        ci.advisory_db = Some(PathBuf::from(p.string(
            v,
            &root.key("advisory-db"),
            "the path of a local RustSec advisory-db clone",
        )?));
    }
    if let Some(v) = table.get("signed-off-by") {
        ci.signed_off_by = p.bool(v, &root.key("signed-off-by"))?;
    }
    if let Some(v) = table.get("install") {
        ci.install = p.string(v, &root.key("install"), "a shell command")?;
    }
    if let Some(v) = table.get("shards") {
        let key = root.key("shards");
        ci.shards = Some(match v.as_integer() {
            Some(n) if (1..=256).contains(&n) => n as usize,
            _ => {
                return Err(p.err(
                    &key,
                    format!(
                        "expected a shard count from 1 to 256, found {}",
                        describe(v)
                    ),
                    None,
                ))
            }
        });
    }
    if let Some(v) = table.get("archs") {
        let key = root.key("archs");
        ci.archs = p.strings(v, &key, "architecture names")?;
        for (i, a) in ci.archs.iter().enumerate() {
            if !a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(p.err(
                    &key.index(i),
                    format!("`{a}` is not an architecture name"),
                    Some("use names such as \"x86_64\" or \"aarch64\"".into()),
                ));
            }
        }
    }
    if let Some(v) = table.get("test-data") {
        let key = root.key("test-data");
        ci.test_data = p.strings(v, &key, "paths or globs")?;
        for (i, t) in ci.test_data.iter().enumerate() {
            let path = Path::new(t);
            if path.is_absolute()
                || path
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(p.err(
                    &key.index(i),
                    format!("`{t}` is not inside the workspace"),
                    Some("test data paths are relative to the workspace root and may not contain `..`".into()),
                ));
            }
        }
    }

    // Per-step tables.
    let mut defs: BTreeMap<String, StepDef> = BTreeMap::new();
    if let Some(v) = table.get("step") {
        let key = root.key("step");
        let steps = p.table(v, &key)?;
        for (name, v) in steps {
            let key = key.key(name);
            if !valid_step_name(name) {
                return Err(p.err(
                    &key,
                    format!("`{name}` is not a valid step name"),
                    Some("use letters, digits, `-` and `_` only".into()),
                ));
            }
            let def = parse_step(p, name, v, &key, config)?;
            defs.insert(name.clone(), def);
        }
    }

    // The order.
    let mut order: Vec<String> = Vec::new();
    let known: Vec<String> = BUILTIN_STEPS
        .iter()
        .map(|s| s.to_string())
        .chain(
            defs.keys()
                .filter(|n| StepKind::builtin(n).is_none())
                .cloned(),
        )
        .collect();
    if let Some(v) = table.get("steps") {
        let key = root.key("steps");
        let names = p.strings(v, &key, "step names")?;
        for (i, n) in names.iter().enumerate() {
            if !known.contains(n) {
                return Err(unknown_step_config(p, &key.index(i), n, &known));
            }
            if order.contains(n) {
                return Err(p.err(
                    &key.index(i),
                    format!("step `{n}` is listed twice"),
                    Some("each step runs once; remove the second entry".into()),
                ));
            }
            order.push(n.clone());
        }
        for name in defs.keys() {
            if StepKind::builtin(name).is_none() && !order.contains(name) {
                p.warn(
                    &root.key("step").key(name),
                    format!("custom step `{name}` is not listed in `ci.steps`, so it never runs (add it to `steps`)"),
                );
            }
        }
    } else {
        for b in BUILTIN_STEPS {
            let applies = match *b {
                "cover" => config.raw_section("cover").is_some() || defs.contains_key("cover"),
                "leak" => {
                    config.profile_names().iter().any(|n| n == "leak") || defs.contains_key("leak")
                }
                _ => true,
            };
            if applies {
                order.push(b.to_string());
            }
        }
        order.extend(
            defs.keys()
                .filter(|n| StepKind::builtin(n).is_none())
                .cloned(),
        );
    }

    let mut skip = Vec::new();
    if let Some(v) = table.get("skip") {
        let key = root.key("skip");
        skip = p.strings(v, &key, "step names")?;
        for (i, n) in skip.iter().enumerate() {
            if !known.contains(n) {
                return Err(unknown_step_config(p, &key.index(i), n, &known));
            }
        }
    }

    for name in order {
        let mut def = defs.remove(&name).unwrap_or_else(|| StepDef {
            kind: StepKind::builtin(&name).unwrap_or(StepKind::Custom),
            name: name.clone(),
            config: StepConfig::default(),
            skipped_by_config: false,
        });
        def.skipped_by_config = skip.contains(&name);
        ci.steps.push(def);
    }
    ci.unlisted = defs
        .into_values()
        .filter(|d| d.kind != StepKind::Custom)
        .collect();
    let mut warnings = std::mem::take(&mut p.warnings);
    warnings.sort_by_key(|(line, _)| *line);
    ci.warnings = warnings.into_iter().map(|(_, w)| w).collect();
    Ok(ci)
}

fn unknown_step_config(p: &Parser, key: &KeyPath, name: &str, known: &[String]) -> CiError {
    let hint = match crate::suggest(name, known.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`? "),
        None => String::new(),
    };
    p.err(
        key,
        format!("unknown step `{name}`"),
        Some(format!(
            "{hint}known steps: {}; declare a custom step as `[ci.step.{name}]` with a `command`",
            known.join(", ")
        )),
    )
}

fn parse_step(
    p: &mut Parser,
    name: &str,
    v: &Value,
    key: &KeyPath,
    config: &GantryConfig,
) -> Result<StepDef> {
    let t = p.table(v, key)?;
    let kind = StepKind::builtin(name).unwrap_or(StepKind::Custom);
    let mut known: Vec<&str> = COMMON_STEP_KEYS.to_vec();
    known.extend(kind.keys());
    let all_keys = [
        "features",
        "targets",
        "tiers",
        "profile",
        "advisory-db",
        "ignore",
        "signed-off-by",
        "base",
        "command",
    ];
    for k in t.keys() {
        if known.contains(&k.as_str()) {
            continue;
        }
        if all_keys.contains(&k.as_str()) {
            if k == "command" && kind != StepKind::Custom {
                return Err(p.err(
                    &key.key(k),
                    format!("`{name}` is a built-in step; its command cannot be replaced"),
                    Some(format!(
                        "give your step another name, e.g. `[ci.step.my-{name}]`, and list it in `ci.steps`"
                    )),
                ));
            }
            p.warn(
                &key.key(k),
                format!(
                    "`{}` has no effect on step `{name}`, ignored (it applies to {})",
                    key.key(k),
                    applies_to(k)
                ),
            );
        } else {
            let hint = match crate::suggest(k, known.iter().copied()) {
                Some(s) => format!(" (did you mean `{s}`?)"),
                None => format!(" (step `{name}` understands: {})", known.join(", ")),
            };
            p.warn(
                &key.key(k),
                format!("unknown key `{}`, ignored{hint}", key.key(k)),
            );
        }
    }

    let mut c = StepConfig::default();
    if let Some(v) = t.get("timeout") {
        c.timeout = p.duration(v, &key.key("timeout"))?;
    }
    if let Some(v) = t.get("env") {
        let k = key.key("env");
        let env = v.as_table().ok_or_else(|| {
            p.err(
                &k,
                format!("expected a table of strings, found {}", v.type_str()),
                Some("write it as `env = { NAME = \"value\" }`".into()),
            )
        })?;
        for (name, val) in env {
            let s = val.as_str().ok_or_else(|| {
                p.err(
                    &k.key(name),
                    format!("expected a string, found {}", val.type_str()),
                    Some("quote the value, e.g. \"1\"".into()),
                )
            })?;
            c.env.insert(name.clone(), s.to_string());
        }
    }
    if let Some(v) = t.get("platforms") {
        let k = key.key("platforms");
        for (i, s) in p.strings(v, &k, "platform names")?.iter().enumerate() {
            let plat = Platform::parse(s).ok_or_else(|| {
                p.err(
                    &k.index(i),
                    format!("unknown platform `{s}`"),
                    Some("use \"linux\", \"macos\" or \"windows\"".into()),
                )
            })?;
            c.platforms.push(plat);
        }
    }
    if kind == StepKind::Clippy {
        if let Some(v) = t.get("features") {
            c.features = parse_features(p, v, &key.key("features"))?;
        }
    }
    if kind == StepKind::Build {
        if let Some(v) = t.get("targets") {
            c.targets = p.strings(v, &key.key("targets"), "target triples")?;
        }
    }
    if kind == StepKind::Test {
        if let Some(v) = t.get("tiers") {
            let k = key.key("tiers");
            c.tiers = p.strings(v, &k, "tier names")?;
            for (i, tier) in c.tiers.iter().enumerate() {
                if let Err(e) = config.tier(tier) {
                    return Err(p.err(&k.index(i), e.to_string(), None));
                }
            }
        }
    }
    if matches!(kind, StepKind::Test | StepKind::Leak) {
        if let Some(v) = t.get("profile") {
            let k = key.key("profile");
            let prof = p.string(v, &k, "a profile name")?;
            if let Err(e) = config.profile(&prof) {
                return Err(p.err(&k, e.to_string(), None));
            }
            c.profile = Some(prof);
        }
    }
    if kind == StepKind::Audit {
        if let Some(v) = t.get("advisory-db") {
            c.advisory_db = Some(PathBuf::from(p.string(
                v,
                &key.key("advisory-db"),
                "the path of a local RustSec advisory-db clone",
            )?));
        }
        if let Some(v) = t.get("ignore") {
            let k = key.key("ignore");
            c.ignore = p.strings(v, &k, "advisory ids")?;
            for (i, id) in c.ignore.iter().enumerate() {
                if !id.contains('-') {
                    return Err(p.err(
                        &k.index(i),
                        format!("`{id}` is not an advisory id"),
                        Some("write ids as in the database, e.g. \"RUSTSEC-2020-0071\"".into()),
                    ));
                }
            }
        }
    }
    if kind == StepKind::CommitFormat {
        if let Some(v) = t.get("signed-off-by") {
            c.signed_off_by = Some(p.bool(v, &key.key("signed-off-by"))?);
        }
        if let Some(v) = t.get("base") {
            c.base = Some(p.string(v, &key.key("base"), "a git revision")?);
        }
    }
    if kind == StepKind::Custom {
        let k = key.key("command");
        c.command = Some(match t.get("command") {
            None => {
                return Err(p.err(
                    key,
                    format!("custom step `{name}` has no `command`"),
                    Some(format!(
                        "add `command = \"...\"` to `[ci.step.{name}]`, or use one of the built-in steps: {}",
                        BUILTIN_STEPS.join(", ")
                    )),
                ))
            }
            Some(Value::String(s)) if !s.trim().is_empty() => StepCommand::Shell(s.clone()),
            Some(v @ Value::Array(_)) => {
                let argv = p.strings(v, &k, "command-line arguments")?;
                if argv.is_empty() {
                    return Err(p.err(&k, "the command is empty", None));
                }
                StepCommand::Argv(argv)
            }
            Some(v) => {
                return Err(p.err(
                    &k,
                    format!("expected a string (run with `sh -c`) or an array of arguments, found {}", describe(v)),
                    None,
                ))
            }
        });
    }
    Ok(StepDef {
        name: name.to_string(),
        kind,
        config: c,
        skipped_by_config: false,
    })
}

fn applies_to(key: &str) -> &'static str {
    match key {
        "features" => "`clippy`",
        "targets" => "`build`",
        "tiers" => "`test`",
        "profile" => "`test` and `leak`",
        "advisory-db" | "ignore" => "`audit`",
        "signed-off-by" | "base" => "`commit-format`",
        _ => "custom steps",
    }
}

fn parse_features(p: &Parser, v: &Value, key: &KeyPath) -> Result<Vec<FeatureSet>> {
    let help = Some(
        "write feature sets as `features = [[], [\"a\"], [\"a\", \"b\"], \"all-features\"]`"
            .to_string(),
    );
    let arr = v.as_array().ok_or_else(|| {
        p.err(
            key,
            format!("expected an array of feature sets, found {}", v.type_str()),
            help.clone(),
        )
    })?;
    arr.iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Array(a) if a.is_empty() => Ok(FeatureSet::Default),
            Value::Array(_) => Ok(FeatureSet::Features(p.strings(
                item,
                &key.index(i),
                "feature names",
            )?)),
            Value::String(s) if s == "all-features" => Ok(FeatureSet::AllFeatures),
            Value::String(s) if s == "no-default-features" => Ok(FeatureSet::NoDefaultFeatures),
            other => Err(p.err(
                &key.index(i),
                format!(
                    "expected a feature set (an array of feature names, \"all-features\" or \"no-default-features\"), found {}",
                    match other {
                        Value::String(s) => format!("the string {s:?}"),
                        o => describe(o),
                    }
                ),
                help.clone(),
            )),
        })
        .collect()
}
