//! Fixtures: services and setup steps declared in `[fixture.NAME]`.
//!
//! Everything about a fixture that can be checked without starting it is
//! checked here — templates, probes, signals, the dependency graph — so
//! that a misconfigured service fails the run before the first test, not
//! half-way through it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::time::Duration;

use gantry_filter::FilterExpr;
use serde::Serialize;

use crate::error::ConfigError;
use crate::read::{Ctx, Node};
use crate::span::{suggest, KeyPath};
use crate::template::{Placeholder, Template};

/// How long one instance of a fixture lives, and so how many there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixtureScope {
    /// One instance for the whole run (`"run"`).
    #[default]
    Run,
    /// One instance per test binary (or batch process) that uses it.
    Binary,
    /// One instance per test that uses it.
    Test,
}

impl FixtureScope {
    /// The spelling used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            FixtureScope::Run => "run",
            FixtureScope::Binary => "binary",
            FixtureScope::Test => "test",
        }
    }

    /// Whether an instance of this scope lives at least as long as one of
    /// `other`, which is what a fixture needs of its dependencies.
    pub fn outlives(self, other: FixtureScope) -> bool {
        fn rank(s: FixtureScope) -> u8 {
            match s {
                FixtureScope::Run => 2,
                FixtureScope::Binary => 1,
                FixtureScope::Test => 0,
            }
        }
        rank(self) >= rank(other)
    }
}

/// The signal that asks a fixture to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum StopSignal {
    /// SIGTERM, the default.
    #[default]
    Term,
    /// SIGINT, for services that treat Ctrl-C as the clean shutdown.
    Int,
    /// SIGHUP.
    Hup,
    /// SIGQUIT.
    Quit,
    /// SIGKILL: no clean shutdown at all (coverage data is lost).
    Kill,
    /// SIGUSR1.
    Usr1,
    /// SIGUSR2.
    Usr2,
}

impl StopSignal {
    /// The full signal name, e.g. `"SIGTERM"`; `nix::sys::signal::Signal`
    /// parses it, so the runner needs no table of its own.
    pub fn as_str(self) -> &'static str {
        match self {
            StopSignal::Term => "SIGTERM",
            StopSignal::Int => "SIGINT",
            StopSignal::Hup => "SIGHUP",
            StopSignal::Quit => "SIGQUIT",
            StopSignal::Kill => "SIGKILL",
            StopSignal::Usr1 => "SIGUSR1",
            StopSignal::Usr2 => "SIGUSR2",
        }
    }

    /// Parses `TERM`, `SIGTERM`, `term`, ...
    pub fn parse(text: &str) -> Option<Self> {
        let upper = text.trim().to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        Some(match name {
            "TERM" => StopSignal::Term,
            "INT" => StopSignal::Int,
            "HUP" => StopSignal::Hup,
            "QUIT" => StopSignal::Quit,
            "KILL" => StopSignal::Kill,
            "USR1" => StopSignal::Usr1,
            "USR2" => StopSignal::Usr2,
            _ => return None,
        })
    }
}

impl fmt::Display for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StopSignal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// How a fixture is stopped: the signal, then SIGKILL after `grace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StopConfig {
    /// Sent to the fixture's process group first.
    pub signal: StopSignal,
    /// Wait this long for it to exit before SIGKILL.
    #[serde(serialize_with = "ser_duration")]
    pub grace: Duration,
}

impl Default for StopConfig {
    fn default() -> Self {
        StopConfig {
            signal: StopSignal::Term,
            grace: Duration::from_secs(10),
        }
    }
}

/// What to do when a fixture's process exits while tests still need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Fail the tests that need it (the default: a crash is a finding).
    #[default]
    Never,
    /// Start it again (up to `restart_limit` times) if it exited unsuccessfully.
    OnFailure,
}

/// A compiled `log` probe pattern; compares by its source text.
#[derive(Clone, Debug)]
pub struct LogPattern(regex::Regex);

impl LogPattern {
    /// The compiled regex, matched against each line of the fixture's
    /// stdout and stderr.
    pub fn regex(&self) -> &regex::Regex {
        &self.0
    }
}

impl PartialEq for LogPattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for LogPattern {}

/// What a readiness probe waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// `unix-socket = "PATH"`: a connection to the socket succeeds.
    UnixSocket(Template),
    /// `tcp = "HOST:PORT"`: a TCP connection succeeds.
    Tcp(Template),
    /// `http = "URL"`: a GET answers with `status` (any 2xx when `None`).
    Http {
        /// The URL to GET.
        url: Template,
        /// The expected status code.
        status: Option<u16>,
    },
    /// `log = "REGEX"`: a line of the fixture's output matches.
    Log(LogPattern),
    /// `exec = [argv]`: the command exits with status 0.
    Exec(Vec<Template>),
}

/// One readiness check; a fixture is ready when all its probes succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyProbe {
    /// What to wait for.
    pub kind: ProbeKind,
    /// Give up (fixture setup fails) after this long; default 30s.
    pub timeout: Duration,
    /// Time between attempts; default 50ms.
    pub interval: Duration,
}

/// One `[fixture.NAME]`, fully validated.
///
/// Templates are parsed but not expanded: the runner expands them once it
/// knows the run directory, ports and binaries.
#[derive(Clone, Debug, PartialEq)]
pub struct FixtureConfig {
    /// The fixture's name (the `NAME` of `[fixture.NAME]`).
    pub name: String,
    /// The long-running service, as argv; `None` for a fixture that only
    /// runs `setup`/`teardown`.
    pub command: Option<Vec<Template>>,
    /// Working directory of every command; `None` is the workspace root.
    pub cwd: Option<Template>,
    /// Extra environment for the fixture's commands.
    pub env: BTreeMap<String, Template>,
    /// How long an instance lives.
    pub scope: FixtureScope,
    /// Fixtures that must be ready before this one starts, and that are
    /// stopped only after it; the graph is acyclic and no dependency has a
    /// shorter scope.
    pub depends_on: Vec<String>,
    /// Probes that must all succeed before tests run; empty means ready
    /// once `command` has been spawned (and `setup` has finished).
    pub ready: Vec<ReadyProbe>,
    /// Environment handed to the tests that use the fixture; may use
    /// `{pid}`.
    pub export: BTreeMap<String, Template>,
    /// The tests that use it (`for`); `None` means all tests.
    pub filter: Option<FilterExpr>,
    /// `for` as written, for display.
    pub filter_source: Option<String>,
    /// Commands run in order before `command` starts; each must succeed.
    pub setup: Vec<Vec<Template>>,
    /// Commands run in order after `command` has stopped, whatever happened.
    pub teardown: Vec<Vec<Template>>,
    /// How `command` is stopped.
    pub stop: StopConfig,
    /// What to do if `command` dies during the run.
    pub restart: RestartPolicy,
    /// How many restarts `on-failure` allows per instance; default 3.
    pub restart_limit: u32,
}

const FIXTURE_KEYS: &[&str] = &[
    "command",
    "cwd",
    "env",
    "scope",
    "depends-on",
    "ready",
    "export",
    "for",
    "setup",
    "teardown",
    "stop",
    "restart",
    "restart-limit",
];

const PROBE_KINDS: &[&str] = &["unix-socket", "tcp", "http", "log", "exec"];
const PROBE_KEYS: &[&str] = &[
    "unix-socket",
    "tcp",
    "http",
    "log",
    "exec",
    "status",
    "timeout",
    "interval",
];

/// Where a fixture's `depends-on` entries are, for graph errors.
pub(crate) struct DepSpans {
    entries: Vec<Option<Range<usize>>>,
}

/// Reads one `[fixture.NAME]` table (the graph is checked by
/// [`check_graph`] once all are read).
pub(crate) fn parse_fixture(
    ctx: &mut Ctx<'_>,
    name: &str,
    name_span: Option<Range<usize>>,
    node: Node<'_>,
    key: &KeyPath,
) -> Result<(FixtureConfig, DepSpans), ConfigError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ctx.invalid(
            name_span,
            key,
            format!("invalid fixture name {name:?}"),
            Some("fixture names may use letters, digits, `-` and `_`, since they name directories and appear in `depends-on`".into()),
        ));
    }
    let table = ctx.table(node, key, FIXTURE_KEYS)?;
    let mut f = FixtureConfig {
        name: name.to_owned(),
        command: None,
        cwd: None,
        env: BTreeMap::new(),
        scope: FixtureScope::Run,
        depends_on: Vec::new(),
        ready: Vec::new(),
        export: BTreeMap::new(),
        filter: None,
        filter_source: None,
        setup: Vec::new(),
        teardown: Vec::new(),
        stop: StopConfig::default(),
        restart: RestartPolicy::Never,
        restart_limit: 3,
    };
    let mut deps = DepSpans {
        entries: Vec::new(),
    };
    let mut pid_at = None;
    let mut log_at = None;
    for entry in table.entries() {
        let k = key.child(entry.name);
        let v = entry.node;
        match entry.name {
            "command" => f.command = Some(ctx.argv(v, &k)?),
            "cwd" => f.cwd = Some(ctx.template(v, &k, false)?),
            "env" => f.env = env_table(ctx, v, &k, false)?,
            "scope" => {
                f.scope = ctx.choice(
                    v,
                    &k,
                    "scope",
                    &[
                        ("run", FixtureScope::Run),
                        ("binary", FixtureScope::Binary),
                        ("test", FixtureScope::Test),
                    ],
                )?
            }
            "depends-on" => {
                let elements = v
                    .as_array()
                    .ok_or_else(|| ctx.expected(&v, &k, "an array of fixture names"))?;
                for (i, element) in elements.into_iter().enumerate() {
                    f.depends_on.push(ctx.string(element, &k.index(i))?);
                    deps.entries.push(element.span());
                }
            }
            "ready" => {
                let probes = match v.as_array() {
                    Some(elements) => elements
                        .into_iter()
                        .enumerate()
                        .map(|(i, e)| probe(ctx, e, &k.index(i)))
                        .collect::<Result<Vec<_>, _>>()?,
                    None if v.as_table_like().is_some() => vec![probe(ctx, v, &k)?],
                    None => return Err(ctx.expected(&v, &k, "a probe table or an array of them")),
                };
                if let Some((i, _)) = probes
                    .iter()
                    .enumerate()
                    .find(|(_, p)| matches!(p.kind, ProbeKind::Log(_)))
                {
                    let at = if v.as_array().is_some() {
                        k.index(i)
                    } else {
                        k.clone()
                    };
                    log_at = Some((v.span(), at.child("log")));
                }
                f.ready = probes;
            }
            "export" => {
                f.export = env_table(ctx, v, &k, true)?;
                if f.export
                    .values()
                    .any(|t| t.placeholders().any(|p| *p == Placeholder::Pid))
                {
                    pid_at = Some((v.span(), k.clone()));
                }
            }
            "for" => {
                let (filter, source) = ctx.filter(v, &k)?;
                f.filter = Some(filter);
                f.filter_source = Some(source);
            }
            "setup" => f.setup = commands(ctx, v, &k)?,
            "teardown" => f.teardown = commands(ctx, v, &k)?,
            "stop" => f.stop = stop(ctx, v, &k)?,
            "restart" => {
                f.restart = ctx.choice(
                    v,
                    &k,
                    "restart policy",
                    &[
                        ("never", RestartPolicy::Never),
                        ("on-failure", RestartPolicy::OnFailure),
                    ],
                )?
            }
            "restart-limit" => f.restart_limit = ctx.u32(v, &k)?,
            _ => {}
        }
    }

    if f.command.is_none() {
        if f.setup.is_empty() && f.teardown.is_empty() {
            return Err(ctx.invalid(
                table.span(),
                key,
                format!("fixture `{name}` has nothing to run"),
                Some(
                    "give it a `command` that starts a service, or `setup`/`teardown` commands"
                        .into(),
                ),
            ));
        }
        let needs_command = [
            pid_at.map(|(s, k)| (s, k, "`{pid}` in `export`")),
            log_at.map(|(s, k)| (s, k, "a `log` probe")),
            (f.restart != RestartPolicy::Never).then(|| {
                (
                    table.get("restart").and_then(|n| n.span()),
                    key.child("restart"),
                    "`restart`",
                )
            }),
            table
                .get("stop")
                .map(|n| (n.span(), key.child("stop"), "`stop`")),
        ];
        if let Some((span, k, what)) = needs_command.into_iter().flatten().next() {
            return Err(ctx.invalid(
                span,
                &k,
                format!("{what} needs a `command`, and fixture `{name}` has none"),
                Some("add the service's `command`, or remove this setting".into()),
            ));
        }
    }
    if f.restart == RestartPolicy::Never {
        if let Some(entry) = table
            .entries()
            .into_iter()
            .find(|e| e.name == "restart-limit")
        {
            ctx.warn(
                entry.key_span,
                &key.child("restart-limit"),
                format!(
                    "`{}` has no effect unless restart = \"on-failure\"",
                    key.child("restart-limit")
                ),
            );
        }
    }
    Ok((f, deps))
}

fn env_table(
    ctx: &mut Ctx<'_>,
    node: Node<'_>,
    key: &KeyPath,
    allow_pid: bool,
) -> Result<BTreeMap<String, Template>, ConfigError> {
    let table = ctx.any_table(node, key)?;
    let mut out = BTreeMap::new();
    for entry in table.entries() {
        let k = key.child(entry.name);
        if entry.name.is_empty() || entry.name.contains(['=', '\0']) {
            return Err(ctx.invalid(
                entry.key_span,
                &k,
                format!("invalid environment variable name {:?}", entry.name),
                Some("names must be non-empty and contain no `=`".into()),
            ));
        }
        out.insert(
            entry.name.to_owned(),
            ctx.template(entry.node, &k, allow_pid)?,
        );
    }
    Ok(out)
}

/// `setup`/`teardown`: one argv, or an array of argvs.
fn commands(
    ctx: &Ctx<'_>,
    node: Node<'_>,
    key: &KeyPath,
) -> Result<Vec<Vec<Template>>, ConfigError> {
    const HELP: &str =
        "write one command as [\"prog\", \"arg\"] or several as [[\"prog\", \"arg\"], [\"other\"]]";
    let Some(elements) = node.as_array() else {
        return Err(ctx.invalid(
            node.span(),
            key,
            format!(
                "expected an array of strings or an array of arrays, found {}",
                node.describe()
            ),
            Some(HELP.into()),
        ));
    };
    if elements.is_empty() {
        return Ok(Vec::new());
    }
    if elements.iter().all(|e| e.as_str().is_some()) {
        return Ok(vec![ctx.argv(node, key)?]);
    }
    if let Some((i, e)) = elements
        .iter()
        .enumerate()
        .find(|(_, e)| e.as_array().is_none())
    {
        return Err(ctx.invalid(
            e.span(),
            &key.index(i),
            format!(
                "expected a command (an array of strings), found {}",
                e.describe()
            ),
            Some(HELP.into()),
        ));
    }
    elements
        .into_iter()
        .enumerate()
        .map(|(i, e)| ctx.argv(e, &key.index(i)))
        .collect()
}

fn stop(ctx: &mut Ctx<'_>, node: Node<'_>, key: &KeyPath) -> Result<StopConfig, ConfigError> {
    let table = ctx.table(node, key, &["signal", "grace"])?;
    let mut out = StopConfig::default();
    if let Some(v) = table.get("signal") {
        let k = key.child("signal");
        let text = ctx.string(v, &k)?;
        out.signal = StopSignal::parse(&text).ok_or_else(|| {
            ctx.invalid(
                v.span(),
                &k,
                format!("unknown stop signal {text:?}"),
                Some("expected one of TERM, INT, HUP, QUIT, KILL, USR1, USR2, with or without the SIG prefix".into()),
            )
        })?;
    }
    if let Some(v) = table.get("grace") {
        out.grace = ctx.duration(v, &key.child("grace"))?;
    }
    Ok(out)
}

fn probe(ctx: &mut Ctx<'_>, node: Node<'_>, key: &KeyPath) -> Result<ReadyProbe, ConfigError> {
    let table = ctx.table(node, key, PROBE_KEYS)?;
    let kinds: Vec<_> = table
        .entries()
        .into_iter()
        .filter(|e| PROBE_KINDS.contains(&e.name))
        .collect();
    let kind_list = "unix-socket, tcp, http, log or exec";
    let entry = match kinds.as_slice() {
        [] => {
            return Err(ctx.invalid(
                node.span(),
                key,
                "readiness probe has no kind",
                Some(format!("give it exactly one of {kind_list}, e.g. {{ tcp = \"127.0.0.1:{{port}}\" }}")),
            ))
        }
        [one] => one,
        [first, second, ..] => {
            return Err(ctx.invalid(
                second.key_span.clone(),
                &key.child(second.name),
                format!(
                    "readiness probe has two kinds, `{}` and `{}`",
                    first.name, second.name
                ),
                Some(format!(
                    "a probe takes exactly one of {kind_list}; to wait for several things, make `ready` an array of probes"
                )),
            ))
        }
    };
    let k = key.child(entry.name);
    let v = entry.node;
    let kind = match entry.name {
        "unix-socket" => ProbeKind::UnixSocket(ctx.template(v, &k, false)?),
        "tcp" => {
            let address = ctx.template(v, &k, false)?;
            if let Some(text) = address.as_literal() {
                let valid = text
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
                if !valid {
                    return Err(ctx.invalid(
                        v.span(),
                        &k,
                        format!("invalid address {text:?}"),
                        Some("expected HOST:PORT, e.g. \"127.0.0.1:{port}\"".into()),
                    ));
                }
            }
            ProbeKind::Tcp(address)
        }
        "http" => {
            let url = ctx.template(v, &k, false)?;
            if let Some(crate::TemplatePart::Literal(start)) = url.parts().first() {
                let ok = ["http://", "https://"]
                    .iter()
                    .any(|scheme| start.starts_with(scheme) || scheme.starts_with(start.as_str()));
                if !ok {
                    return Err(ctx.invalid(
                        v.span(),
                        &k,
                        format!("invalid URL {:?}", url.to_string()),
                        Some("expected an http:// or https:// URL, e.g. \"http://127.0.0.1:{port}/health\"".into()),
                    ));
                }
            }
            let status = match table.get("status") {
                None => None,
                Some(s) => {
                    let sk = key.child("status");
                    let code = s
                        .as_integer()
                        .ok_or_else(|| ctx.expected(&s, &sk, "an HTTP status code"))?;
                    if !(100..=599).contains(&code) {
                        return Err(ctx.invalid(
                            s.span(),
                            &sk,
                            format!("{code} is not an HTTP status code"),
                            Some("expected a number from 100 to 599, e.g. 200".into()),
                        ));
                    }
                    Some(code as u16)
                }
            };
            ProbeKind::Http { url, status }
        }
        "log" => {
            let text = ctx.string(v, &k)?;
            let regex = regex::Regex::new(&text).map_err(|e| {
                let detail = e.to_string();
                let last = detail.lines().last().unwrap_or_default().trim();
                let last = last.strip_prefix("error: ").unwrap_or(last);
                ctx.invalid(
                    v.span(),
                    &k,
                    format!("invalid regular expression {text:?}: {last}"),
                    Some("the pattern uses Rust `regex` syntax: escape special characters such as `(` with a backslash, which a \"...\" TOML string spells `\\\\`".into()),
                )
            })?;
            ProbeKind::Log(LogPattern(regex))
        }
        _ => ProbeKind::Exec(ctx.argv(v, &k)?),
    };
    if !matches!(kind, ProbeKind::Http { .. }) {
        if let Some(s) = table.get("status") {
            return Err(ctx.invalid(
                s.span(),
                &key.child("status"),
                format!(
                    "`status` only applies to `http` probes, not to `{}`",
                    entry.name
                ),
                Some("remove `status`".into()),
            ));
        }
    }
    let timeout = match table.get("timeout") {
        Some(t) => ctx.nonzero_duration(t, &key.child("timeout"))?,
        None => Duration::from_secs(30),
    };
    let interval = match table.get("interval") {
        Some(t) => ctx.nonzero_duration(t, &key.child("interval"))?,
        None => Duration::from_millis(50),
    };
    Ok(ReadyProbe {
        kind,
        timeout,
        interval,
    })
}

/// Checks `depends-on` across fixtures: every name exists, no dependency
/// lives shorter than its dependent, and there is no cycle.
pub(crate) fn check_graph(
    ctx: &Ctx<'_>,
    fixtures: &BTreeMap<String, FixtureConfig>,
    spans: &BTreeMap<String, DepSpans>,
) -> Result<(), ConfigError> {
    let dep_key = |name: &str, i: usize| {
        KeyPath::root()
            .child("fixture")
            .child(name)
            .child("depends-on")
            .index(i)
    };
    let span_of = |name: &str, i: usize| {
        spans
            .get(name)
            .and_then(|s| s.entries.get(i).cloned().flatten())
    };
    for (name, f) in fixtures {
        for (i, dep) in f.depends_on.iter().enumerate() {
            let Some(target) = fixtures.get(dep) else {
                let help = match suggest(dep, fixtures.keys().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "declared fixtures: {}",
                        fixtures.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                };
                return Err(ctx.invalid(
                    span_of(name, i),
                    &dep_key(name, i),
                    format!("unknown fixture `{dep}`"),
                    Some(help),
                ));
            };
            if !target.scope.outlives(f.scope) {
                return Err(ctx.invalid(
                    span_of(name, i),
                    &dep_key(name, i),
                    format!(
                        "fixture `{name}` (scope \"{}\") cannot depend on `{dep}` (scope \"{}\")",
                        f.scope.as_str(),
                        target.scope.as_str()
                    ),
                    Some(format!(
                        "a fixture can only depend on fixtures that live at least as long; give `{dep}` a longer scope or `{name}` a shorter one"
                    )),
                ));
            }
        }
    }

    // Depth-first search; a dependency still on the stack closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        fixtures: &'a BTreeMap<String, FixtureConfig>,
        marks: &mut BTreeMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
    ) -> Option<(Vec<String>, &'a str, usize)> {
        marks.insert(name, Mark::Active);
        stack.push(name);
        for (i, dep) in fixtures[name].depends_on.iter().enumerate() {
            match marks.get(dep.as_str()) {
                Some(Mark::Active) => {
                    let pos = stack.iter().position(|s| s == dep).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[pos..].iter().map(|s| s.to_string()).collect();
                    cycle.push(dep.clone());
                    return Some((cycle, name, i));
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(found) = visit(dep, fixtures, marks, stack) {
                        return Some(found);
                    }
                }
            }
        }
        stack.pop();
        marks.insert(name, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for name in fixtures.keys() {
        if marks.contains_key(name.as_str()) {
            continue;
        }
        if let Some((cycle, at, i)) = visit(name, fixtures, &mut marks, &mut Vec::new()) {
            return Err(ctx.invalid(
                span_of(at, i),
                &dep_key(at, i),
                format!("dependency cycle: {}", cycle.join(" -> ")),
                Some("a fixture starts only after its dependencies are ready, so a cycle can never start; remove one of these dependencies".into()),
            ));
        }
    }
    Ok(())
}

/// Fixtures in an order where each comes after its dependencies; ties are
/// broken by name so the order is stable. Teardown is the reverse.
pub(crate) fn start_order(fixtures: &BTreeMap<String, FixtureConfig>) -> Vec<&FixtureConfig> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::with_capacity(fixtures.len());
    while order.len() < fixtures.len() {
        let next = fixtures.values().find(|f| {
            !done.contains(f.name.as_str())
                && f.depends_on.iter().all(|d| done.contains(d.as_str()))
        });
        match next {
            Some(f) => {
                done.insert(&f.name);
                order.push(f);
            }
            // Unreachable for validated configs (no cycles, no unknown names).
            None => break,
        }
    }
    order
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}
