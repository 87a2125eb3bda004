//! Profiles: named sets of run settings, layered by inheritance, with
//! per-test overrides.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use gantry_filter::{FilterExpr, TestQuery};
use gantry_metadata::{ExecutionMode, FailureOutput};
use serde::{Serialize, Serializer};

use crate::error::ConfigError;
use crate::read::{Ctx, Node};
use crate::span::{suggest, KeyPath};

/// The profile used when none is asked for; every other profile inherits
/// from it in the end.
pub const DEFAULT_PROFILE: &str = "default";
/// The built-in profile meant for CI machines.
pub const CI_PROFILE: &str = "ci";

/// How many tests run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Jobs {
    /// As many as the machine has CPUs (`"auto"`).
    #[default]
    Auto,
    /// Exactly this many (at least 1).
    Fixed(usize),
}

impl Jobs {
    /// The number of slots given the machine's CPU count.
    pub fn get(self, num_cpus: usize) -> usize {
        match self {
            Jobs::Auto => num_cpus.max(1),
            Jobs::Fixed(n) => n,
        }
    }
}

impl Serialize for Jobs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Jobs::Auto => serializer.serialize_str("auto"),
            Jobs::Fixed(n) => serializer.serialize_u64(*n as u64),
        }
    }
}

/// How many of the `jobs` slots one test occupies, for tests that are
/// themselves parallel and would otherwise oversubscribe the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadsRequired {
    /// This many slots (at least 1).
    Count(usize),
    /// All slots (`"num-cpus"`): the test runs alone.
    NumCpus,
}

impl Default for ThreadsRequired {
    fn default() -> Self {
        ThreadsRequired::Count(1)
    }
}

impl ThreadsRequired {
    /// The number of slots given the run's job count; never more than
    /// `jobs`, so that a demanding test can still be scheduled.
    pub fn get(self, jobs: usize) -> usize {
        match self {
            ThreadsRequired::Count(n) => n.min(jobs.max(1)),
            ThreadsRequired::NumCpus => jobs.max(1),
        }
    }
}

impl Serialize for ThreadsRequired {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ThreadsRequired::Count(n) => serializer.serialize_u64(*n as u64),
            ThreadsRequired::NumCpus => serializer.serialize_str("num-cpus"),
        }
    }
}

/// Settings for the tests a filter selects, from `[[profile.NAME.overrides]]`.
///
/// Every setting is optional: an override changes only what it sets, and
/// for each setting the first matching override that sets it wins (see
/// [`ResolvedProfile::settings_for`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Override {
    /// The tests this override applies to.
    #[serde(skip)]
    pub filter: FilterExpr,
    /// The filter as written in the file, for display.
    #[serde(rename = "filter")]
    pub filter_source: String,
    /// Retries for a failing test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Period after which a test is reported slow.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_duration"
    )]
    pub slow_timeout: Option<Duration>,
    /// Slow periods after which the test is killed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminate_after: Option<u32>,
    /// Time between SIGTERM and SIGKILL when a test is killed.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_duration"
    )]
    pub grace_period: Option<Duration>,
    /// Process-per-test, batch or auto for these tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<ExecutionMode>,
    /// The `[test-groups.NAME]` limiting how many of these run at once;
    /// always a declared group (checked at load time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_group: Option<String>,
    /// Job slots each of these tests occupies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads_required: Option<ThreadsRequired>,
    /// Argv prefix for these tests; `Some(vec![])` (`wrapper = []`) runs
    /// them without the profile's wrapper.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapper: Option<Vec<String>>,
}

/// A profile with inheritance applied: every setting has its final value.
///
/// Obtained from [`GantryConfig::profile`](crate::GantryConfig::profile);
/// serializes with the config file's kebab-case keys and durations as
/// strings, for `cargo gantry show-config`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ResolvedProfile {
    /// The profile's name.
    pub name: String,
    /// How many tests run at once.
    pub jobs: Jobs,
    /// Default execution mode.
    pub execution: ExecutionMode,
    /// Retries for a failing test before it counts as failed; a test that
    /// passes on a retry is flaky.
    pub retries: u32,
    /// Period after which a running test is reported slow.
    #[serde(serialize_with = "ser::duration")]
    pub slow_timeout: Duration,
    /// Slow periods after which a test is killed; `None` never kills.
    pub terminate_after: Option<u32>,
    /// Time between SIGTERM and SIGKILL when killing a test's process group.
    #[serde(serialize_with = "ser::duration")]
    pub grace_period: Duration,
    /// Whether the run stops scheduling tests after the first failure.
    /// Always `false` when `max_fail` is set, which replaces that limit of
    /// one; see [`stop_after_failures`](Self::stop_after_failures).
    pub fail_fast: bool,
    /// When `fail_fast` is `false`: stop after this many failures; `None`
    /// runs every test.
    pub max_fail: Option<usize>,
    /// Whether a flaky test (failed, then passed on retry) fails the run.
    pub flaky_fails: bool,
    /// When the console shows a failing test's output.
    pub failure_output: FailureOutput,
    /// Where to write JUnit XML, relative to the workspace root (the runner
    /// joins it; an absolute path stays as is); `None` writes none.
    pub junit: Option<PathBuf>,
    /// Argv prefix for every test binary (e.g. valgrind), never empty.
    pub wrapper: Option<Vec<String>>,
    /// Overrides in priority order: this profile's own first, then those of
    /// the profiles it inherits from.
    pub overrides: Vec<Override>,
}

/// The settings of one test: the profile's, adjusted by the overrides that
/// match it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestSettings {
    /// Retries for a failing test.
    pub retries: u32,
    /// Period after which the test is reported slow.
    pub slow_timeout: Duration,
    /// Slow periods after which the test is killed; `None` never kills.
    pub terminate_after: Option<u32>,
    /// Time between SIGTERM and SIGKILL.
    pub grace_period: Duration,
    /// Execution mode for this test.
    pub execution: ExecutionMode,
    /// The test group it belongs to; `None` is only limited by `jobs`.
    pub test_group: Option<String>,
    /// Job slots the test occupies.
    pub threads_required: ThreadsRequired,
    /// Argv prefix for the test binary, never empty.
    pub wrapper: Option<Vec<String>>,
}

impl ResolvedProfile {
    /// The built-in `default` profile under another name, the base every
    /// profile is layered on.
    pub fn builtin(name: &str) -> Self {
        ResolvedProfile {
            name: name.to_owned(),
            jobs: Jobs::Auto,
            execution: ExecutionMode::Auto,
            retries: 0,
            slow_timeout: Duration::from_secs(60),
            terminate_after: None,
            grace_period: Duration::from_secs(10),
            fail_fast: true,
            max_fail: None,
            flaky_fails: false,
            failure_output: FailureOutput::Final,
            junit: None,
            wrapper: None,
            overrides: Vec::new(),
        }
    }

    /// After how many failed tests the run stops scheduling new ones:
    /// 1 with `fail_fast`, else `max_fail` (`None`: never).
    pub fn stop_after_failures(&self) -> Option<usize> {
        if self.fail_fast {
            Some(1)
        } else {
            self.max_fail
        }
    }

    /// The settings for one test: for each setting, the value of the first
    /// override that matches the test and sets it, else the profile's.
    pub fn settings_for(&self, test: &TestQuery<'_>) -> TestSettings {
        let mut s = TestSettings {
            retries: self.retries,
            slow_timeout: self.slow_timeout,
            terminate_after: self.terminate_after,
            grace_period: self.grace_period,
            execution: self.execution,
            test_group: None,
            threads_required: ThreadsRequired::default(),
            wrapper: self.wrapper.clone(),
        };
        let (
            mut retries,
            mut slow,
            mut term,
            mut grace,
            mut exec,
            mut group,
            mut threads,
            mut wrap,
        ) = (false, false, false, false, false, false, false, false);
        for o in self.overrides.iter().filter(|o| o.filter.matches(test)) {
            fn take<T: Clone>(done: &mut bool, value: &Option<T>, into: &mut T) {
                if let (false, Some(v)) = (*done, value) {
                    *into = v.clone();
                    *done = true;
                }
            }
            take(&mut retries, &o.retries, &mut s.retries);
            take(&mut slow, &o.slow_timeout, &mut s.slow_timeout);
            take(&mut grace, &o.grace_period, &mut s.grace_period);
            take(&mut exec, &o.execution, &mut s.execution);
            take(&mut threads, &o.threads_required, &mut s.threads_required);
            if !term && o.terminate_after.is_some() {
                s.terminate_after = o.terminate_after;
                term = true;
            }
            if !group && o.test_group.is_some() {
                s.test_group.clone_from(&o.test_group);
                group = true;
            }
            if !wrap {
                if let Some(w) = &o.wrapper {
                    s.wrapper = (!w.is_empty()).then(|| w.clone());
                    wrap = true;
                }
            }
        }
        s
    }
}

/// What one `[profile.NAME]` table sets; resolution stacks these.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProfileLayer {
    jobs: Option<Jobs>,
    execution: Option<ExecutionMode>,
    retries: Option<u32>,
    slow_timeout: Option<Duration>,
    terminate_after: Option<u32>,
    grace_period: Option<Duration>,
    fail_fast: Option<bool>,
    max_fail: Option<usize>,
    flaky_fails: Option<bool>,
    failure_output: Option<FailureOutput>,
    junit: Option<Option<PathBuf>>,
    wrapper: Option<Option<Vec<String>>>,
    /// The parent named by `inherits`, with the value's span.
    pub(crate) inherits: Option<(String, Option<Range<usize>>)>,
    overrides: Vec<Override>,
}

impl ProfileLayer {
    /// What the built-in `ci` profile changes relative to `default`.
    fn builtin_ci() -> Self {
        ProfileLayer {
            retries: Some(2),
            fail_fast: Some(false),
            failure_output: Some(FailureOutput::ImmediateFinal),
            junit: Some(Some(PathBuf::from("target/gantry/ci/junit.xml"))),
            ..ProfileLayer::default()
        }
    }

    fn apply(&self, p: &mut ResolvedProfile) {
        fn set<T: Clone>(value: &Option<T>, into: &mut T) {
            if let Some(v) = value {
                *into = v.clone();
            }
        }
        set(&self.jobs, &mut p.jobs);
        set(&self.execution, &mut p.execution);
        set(&self.retries, &mut p.retries);
        set(&self.slow_timeout, &mut p.slow_timeout);
        if self.terminate_after.is_some() {
            p.terminate_after = self.terminate_after;
        }
        set(&self.grace_period, &mut p.grace_period);
        // `fail-fast` and `max-fail` are one decision: the last layer that
        // mentions either makes it. `max-fail = N` is fail-fast after N
        // failures, stored as `fail_fast = false` plus the limit.
        if let Some(n) = self.max_fail {
            p.fail_fast = false;
            p.max_fail = Some(n);
        } else if let Some(ff) = self.fail_fast {
            p.fail_fast = ff;
            p.max_fail = None;
        }
        set(&self.flaky_fails, &mut p.flaky_fails);
        set(&self.failure_output, &mut p.failure_output);
        set(&self.junit, &mut p.junit);
        set(&self.wrapper, &mut p.wrapper);
    }
}

const PROFILE_KEYS: &[&str] = &[
    "jobs",
    "execution",
    "retries",
    "slow-timeout",
    "terminate-after",
    "grace-period",
    "fail-fast",
    "max-fail",
    "flaky-fails",
    "failure-output",
    "junit",
    "wrapper",
    "inherits",
    "overrides",
];

const OVERRIDE_KEYS: &[&str] = &[
    "filter",
    "retries",
    "slow-timeout",
    "terminate-after",
    "grace-period",
    "execution",
    "test-group",
    "threads-required",
    "wrapper",
];

const EXECUTION: &[(&str, ExecutionMode)] = &[
    ("process", ExecutionMode::Process),
    ("batch", ExecutionMode::Batch),
    ("auto", ExecutionMode::Auto),
];

const FAILURE_OUTPUT: &[(&str, FailureOutput)] = &[
    ("immediate", FailureOutput::Immediate),
    ("final", FailureOutput::Final),
    ("immediate-final", FailureOutput::ImmediateFinal),
    ("never", FailureOutput::Never),
];

/// Reads one `[profile.NAME]` table. `test_groups` are the declared group
/// names, which overrides may refer to.
pub(crate) fn parse_profile(
    ctx: &mut Ctx<'_>,
    node: Node<'_>,
    key: &KeyPath,
    name: &str,
    test_groups: &[&str],
) -> Result<ProfileLayer, ConfigError> {
    let table = ctx.table(node, key, PROFILE_KEYS)?;
    let mut layer = ProfileLayer::default();
    for entry in table.entries() {
        let k = key.child(entry.name);
        let v = entry.node;
        match entry.name {
            "jobs" => layer.jobs = Some(jobs(ctx, v, &k)?),
            "execution" => {
                layer.execution = Some(ctx.choice(v, &k, "execution mode", EXECUTION)?)
            }
            "retries" => layer.retries = Some(ctx.u32(v, &k)?),
            "slow-timeout" => layer.slow_timeout = Some(ctx.nonzero_duration(v, &k)?),
            "terminate-after" => layer.terminate_after = Some(terminate_after(ctx, v, &k)?),
            "grace-period" => layer.grace_period = Some(ctx.duration(v, &k)?),
            "fail-fast" => layer.fail_fast = Some(ctx.bool(v, &k)?),
            "max-fail" => layer.max_fail = Some(ctx.positive(v, &k, "a positive integer")?),
            "flaky-fails" => layer.flaky_fails = Some(ctx.bool(v, &k)?),
            "failure-output" => {
                layer.failure_output = Some(ctx.choice(v, &k, "failure output", FAILURE_OUTPUT)?)
            }
            "junit" => layer.junit = Some(junit(ctx, v, &k)?),
            "wrapper" => {
                let w = wrapper(ctx, v, &k)?;
                layer.wrapper = Some((!w.is_empty()).then_some(w));
            }
            "inherits" => {
                let parent = ctx.string(v, &k)?;
                if name == DEFAULT_PROFILE {
                    return Err(ctx.invalid(
                        v.span(),
                        &k,
                        "the default profile cannot inherit from another profile",
                        Some("`default` is the root every profile inherits from; remove `inherits` here".into()),
                    ));
                }
                layer.inherits = Some((parent, v.span()));
            }
            "overrides" => {
                let elements = v.as_array().ok_or_else(|| {
                    ctx.expected(&v, &k, "an array of tables (`[[profile.NAME.overrides]]`)")
                })?;
                for (i, element) in elements.into_iter().enumerate() {
                    layer
                        .overrides
                        .push(parse_override(ctx, element, &k.index(i), test_groups)?);
                }
            }
            _ => {}
        }
    }
    if let (Some(false), Some(n)) = (layer.fail_fast, layer.max_fail) {
        let v = table.get("max-fail").expect("max-fail was read");
        return Err(ctx.invalid(
            v.span(),
            &key.child("max-fail"),
            format!("max-fail = {n} contradicts fail-fast = false"),
            Some("max-fail sets how many failures stop the run; remove one of the two".into()),
        ));
    }
    Ok(layer)
}

fn jobs(ctx: &Ctx<'_>, node: Node<'_>, key: &KeyPath) -> Result<Jobs, ConfigError> {
    const WHAT: &str = "a positive integer or \"auto\"";
    if node.as_str() == Some("auto") {
        return Ok(Jobs::Auto);
    }
    if node.as_integer().is_none() {
        let found = match node.as_str() {
            Some(s) => format!("{s:?}"),
            None => node.describe().to_owned(),
        };
        return Err(ctx.invalid(
            node.span(),
            key,
            format!("expected {WHAT}, found {found}"),
            None,
        ));
    }
    ctx.positive(node, key, WHAT).map(Jobs::Fixed)
}

fn terminate_after(ctx: &Ctx<'_>, node: Node<'_>, key: &KeyPath) -> Result<u32, ConfigError> {
    let n = ctx.positive(node, key, "a positive integer")?;
    Ok(u32::try_from(n).expect("positive() caps at u32::MAX"))
}

fn junit(ctx: &Ctx<'_>, node: Node<'_>, key: &KeyPath) -> Result<Option<PathBuf>, ConfigError> {
    if node.as_bool() == Some(false) {
        return Ok(None);
    }
    match node.as_str() {
        Some("") => Err(ctx.invalid(
            node.span(),
            key,
            "the path is empty",
            Some("give a file path such as \"target/gantry/junit.xml\", or `false` for no JUnit report".into()),
        )),
        Some(path) => Ok(Some(PathBuf::from(path))),
        None => Err(ctx.invalid(
            node.span(),
            key,
            format!("expected a path string or `false`, found {}", node.describe()),
            None,
        )),
    }
}

/// An argv prefix; an empty array means "no wrapper".
fn wrapper(ctx: &Ctx<'_>, node: Node<'_>, key: &KeyPath) -> Result<Vec<String>, ConfigError> {
    let argv = ctx.strings(node, key)?;
    if argv.first().is_some_and(|p| p.is_empty()) {
        return Err(ctx.invalid(
            node.span(),
            key,
            "the wrapper program is an empty string",
            Some("write e.g. [\"valgrind\", \"--error-exitcode=1\"], or [] for no wrapper".into()),
        ));
    }
    Ok(argv)
}

fn parse_override(
    ctx: &mut Ctx<'_>,
    node: Node<'_>,
    key: &KeyPath,
    test_groups: &[&str],
) -> Result<Override, ConfigError> {
    let table = ctx.table(node, key, OVERRIDE_KEYS)?;
    let Some(filter_node) = table.get("filter") else {
        return Err(ctx.invalid(
            table.span(),
            key,
            "missing required key `filter`",
            Some("an override applies to the tests its filter selects, e.g. filter = \"test(/reconnect/)\"".into()),
        ));
    };
    let (filter, filter_source) = ctx.filter(filter_node, &key.child("filter"))?;
    let mut o = Override {
        filter,
        filter_source,
        retries: None,
        slow_timeout: None,
        terminate_after: None,
        grace_period: None,
        execution: None,
        test_group: None,
        threads_required: None,
        wrapper: None,
    };
    for entry in table.entries() {
        let k = key.child(entry.name);
        let v = entry.node;
        match entry.name {
            "retries" => o.retries = Some(ctx.u32(v, &k)?),
            "slow-timeout" => o.slow_timeout = Some(ctx.nonzero_duration(v, &k)?),
            "terminate-after" => o.terminate_after = Some(terminate_after(ctx, v, &k)?),
            "grace-period" => o.grace_period = Some(ctx.duration(v, &k)?),
            "execution" => o.execution = Some(ctx.choice(v, &k, "execution mode", EXECUTION)?),
            "test-group" => {
                let group = ctx.string(v, &k)?;
                if !test_groups.contains(&group.as_str()) {
                    let help = match suggest(&group, test_groups.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if test_groups.is_empty() => {
                            format!("declare it with `[test-groups.{group}]` and `max-threads = 1`")
                        }
                        None => format!(
                            "declared groups: {}; or declare it with `[test-groups.{group}]`",
                            test_groups.join(", ")
                        ),
                    };
                    return Err(ctx.invalid(
                        v.span(),
                        &k,
                        format!("unknown test group `{group}`"),
                        Some(help),
                    ));
                }
                o.test_group = Some(group);
            }
            "threads-required" => o.threads_required = Some(threads_required(ctx, v, &k)?),
            "wrapper" => o.wrapper = Some(wrapper(ctx, v, &k)?),
            _ => {}
        }
    }
    let sets_nothing = table
        .entries()
        .iter()
        .all(|e| e.name == "filter" || !OVERRIDE_KEYS.contains(&e.name));
    if sets_nothing {
        ctx.warn(
            table.span(),
            key,
            format!("override `{key}` sets nothing besides its filter, so it has no effect"),
        );
    }
    Ok(o)
}

fn threads_required(
    ctx: &Ctx<'_>,
    node: Node<'_>,
    key: &KeyPath,
) -> Result<ThreadsRequired, ConfigError> {
    const WHAT: &str = "a positive integer or \"num-cpus\"";
    if node.as_str() == Some("num-cpus") {
        return Ok(ThreadsRequired::NumCpus);
    }
    if node.as_integer().is_none() {
        let found = match node.as_str() {
            Some(s) => format!("{s:?}"),
            None => node.describe().to_owned(),
        };
        return Err(ctx.invalid(
            node.span(),
            key,
            format!("expected {WHAT}, found {found}"),
            None,
        ));
    }
    ctx.positive(node, key, WHAT).map(ThreadsRequired::Count)
}

/// Why a profile's inheritance chain is broken.
pub(crate) enum ChainError {
    /// `at` inherits from `parent`, which does not exist.
    Unknown { at: String, parent: String },
    /// `at` inherits from a profile already in its chain.
    Cycle { at: String, cycle: Vec<String> },
}

/// Whether a profile of that name exists (built in or in the file).
pub(crate) fn exists(profiles: &BTreeMap<String, ProfileLayer>, name: &str) -> bool {
    name == DEFAULT_PROFILE || name == CI_PROFILE || profiles.contains_key(name)
}

/// The profile and its ancestors, nearest first, ending with `default`.
pub(crate) fn chain(
    profiles: &BTreeMap<String, ProfileLayer>,
    name: &str,
) -> Result<Vec<String>, ChainError> {
    let mut chain = vec![name.to_owned()];
    let mut current = name.to_owned();
    while current != DEFAULT_PROFILE {
        let parent = profiles
            .get(&current)
            .and_then(|l| l.inherits.as_ref())
            .map_or(DEFAULT_PROFILE, |(p, _)| p.as_str())
            .to_owned();
        if !exists(profiles, &parent) {
            return Err(ChainError::Unknown {
                at: current,
                parent,
            });
        }
        if let Some(pos) = chain.iter().position(|c| *c == parent) {
            let mut cycle = chain[pos..].to_vec();
            cycle.push(parent);
            return Err(ChainError::Cycle { at: current, cycle });
        }
        chain.push(parent.clone());
        current = parent;
    }
    Ok(chain)
}

/// Stacks the layers of `chain` (as returned by [`chain`]): built-in
/// default, the file's default, the built-in `ci` values if `ci` is among
/// the ancestors, then the ancestors from the root down to the profile.
pub(crate) fn resolve(
    profiles: &BTreeMap<String, ProfileLayer>,
    chain: &[String],
) -> ResolvedProfile {
    let mut p = ResolvedProfile::builtin(&chain[0]);
    if let Some(layer) = profiles.get(DEFAULT_PROFILE) {
        layer.apply(&mut p);
    }
    if chain.iter().any(|c| c == CI_PROFILE) {
        ProfileLayer::builtin_ci().apply(&mut p);
    }
    for name in chain.iter().rev().filter(|c| *c != DEFAULT_PROFILE) {
        if let Some(layer) = profiles.get(name) {
            layer.apply(&mut p);
        }
    }
    p.overrides = chain
        .iter()
        .filter_map(|name| profiles.get(name))
        .flat_map(|layer| layer.overrides.iter().cloned())
        .collect();
    p
}

mod ser {
    use std::time::Duration;

    use serde::Serializer;

    pub(super) fn duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub(super) fn opt_duration<S: Serializer>(
        d: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => duration(d, s),
            None => s.serialize_none(),
        }
    }
}
