//! Service fixtures end to end: real processes (`sh`, `sleep`, small
//! Python servers) started, probed, shared, restarted and torn down, first
//! through the manager's hooks and then through whole runs whose "test
//! binaries" are shell scripts. Teardown checks look up every recorded pid
//! (fixtures and their children) in /proc.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_config::GantryConfig;
use gantry_metadata::{Event, EventEnvelope, ExitCode};
use gantry_runner::execute::signals::{SignalCount, SignalForwarder};
use gantry_runner::execute::{EventSink, HookError, UnitHooks};
use gantry_runner::fixture::{FixtureError, FixtureManager, FixtureOptions, FixturePlan, RunLog};
use gantry_runner::list::{TestBinary, TestCase, TestList};
use gantry_runner::run::{self, Prepared, RunRequest};
use gantry_runner::schedule::{History, PlannedTest};
use gantry_runner::select::Selection;
use gantry_runner::RunnerError;

// ---- helpers -----------------------------------------------------------

/// A Python server accepting connections on a Unix socket (argv[1]) that
/// appends its pid to argv[2].
const UNIX_SERVER: &str = "import os,socket,sys; print(os.getpid(), file=open(sys.argv[2], 'a'), flush=True); s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); [s.accept()[0].close() for _ in iter(int, 1)]";
/// The same on TCP 127.0.0.1:argv[1].
const TCP_SERVER: &str = "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(8); [s.accept()[0].close() for _ in iter(int, 1)]";

fn config(text: &str) -> GantryConfig {
    GantryConfig::from_str_with_path(text, Path::new("gantry.toml"))
        .unwrap_or_else(|e| panic!("config does not load: {e}\n{text}"))
}

fn binary(binary_id: &str, path: &Path, cwd: &Path) -> Arc<TestBinary> {
    let (package, name) = binary_id.split_once("::").unwrap_or((binary_id, binary_id));
    Arc::new(TestBinary {
        binary_id: binary_id.into(),
        package: package.into(),
        name: name.into(),
        kind: "test".into(),
        path: path.into(),
        cwd: cwd.into(),
        env: Vec::new(),
    })
}

fn case(binary_id: &str, name: &str) -> TestCase {
    TestCase {
        binary: binary(binary_id, Path::new("/nonexistent"), Path::new("/")),
        name: name.into(),
        ignored: false,
    }
}

fn planned(binary_id: &str, name: &str) -> PlannedTest {
    let mut profile = gantry_config::ResolvedProfile::builtin("default");
    profile.grace_period = Duration::from_secs(1);
    profile.execution = gantry_metadata::ExecutionMode::Process;
    PlannedTest::new(case(binary_id, name), &profile, 1, &History::default())
}

/// Whether a process exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !state.is_some_and(|s| s.starts_with('Z'))
        }
        Err(_) => false,
    }
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

fn assert_all_dead(pids: &[i32]) {
    assert!(!pids.is_empty(), "no pids were recorded");
    // SIGKILLed processes may take a moment to disappear.
    wait_for(
        &format!("pids {pids:?} to die"),
        Duration::from_secs(10),
        || pids.iter().all(|&p| !alive(p)),
    );
}

fn env_map(env: &[(String, String)]) -> BTreeMap<String, String> {
    env.iter().cloned().collect()
}

/// Drives a [`FixtureManager`] through its hooks, as the executor would.
struct Harness {
    dir: tempfile::TempDir,
    manager: FixtureManager,
    signals: SignalCount,
    events: Vec<Event>,
}

impl Harness {
    /// `text` may say `@DIR@` for a scratch directory of the test.
    fn new(text: &str, tests: &[&PlannedTest]) -> Self {
        Self::with_scratch(text, tests, None)
    }

    fn with_scratch(text: &str, tests: &[&PlannedTest], scratch: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let text = text.replace("@DIR@", dir.path().to_str().unwrap());
        let plan = FixturePlan::new(&config(&text));
        let signals = SignalCount::new();
        let log = Arc::new(RunLog::create(&dir.path().join("gantry.log")).unwrap());
        let mut opts = FixtureOptions::new(
            dir.path().join("logs"),
            dir.path().to_path_buf(),
            signals.clone(),
            log,
        );
        opts.scratch_parent = match scratch {
            Some(sub) => {
                let p = dir.path().join(sub);
                std::fs::create_dir_all(&p).unwrap();
                p
            }
            None => dir.path().to_path_buf(),
        };
        let manager = FixtureManager::new(plan, tests.iter().map(|t| &t.case), opts);
        Harness {
            dir,
            manager,
            signals,
            events: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn before(&mut self, tests: &[&PlannedTest]) -> Result<Vec<(String, String)>, HookError> {
        let events = &mut self.events;
        self.manager.before_unit(tests, &mut |e| events.push(e))
    }

    fn after(&mut self, tests: &[&PlannedTest]) {
        let events = &mut self.events;
        self.manager.after_unit(tests, &mut |e| events.push(e));
    }

    fn done(&mut self, test: &PlannedTest) {
        let events = &mut self.events;
        self.manager.test_done(test, &mut |e| events.push(e));
    }

    fn start(&mut self, names: &[&str]) -> Result<Vec<(String, String)>, FixtureError> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let events = &mut self.events;
        self.manager.start_named(&names, &mut |e| events.push(e))
    }

    fn finish(&mut self) {
        let events = &mut self.events;
        self.manager.run_finished(&mut |e| events.push(e));
    }

    /// `(kind, fixture, instance)` of every fixture event so far.
    fn fixture_events(&self) -> Vec<(&'static str, String, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::FixtureStarted { name, instance, .. } => {
                    Some(("started", name.clone(), instance.clone()))
                }
                Event::FixtureReady { name, instance, .. } => {
                    Some(("ready", name.clone(), instance.clone()))
                }
                Event::FixtureStopped { name, instance, .. } => {
                    Some(("stopped", name.clone(), instance.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn stopped_how(&self, fixture: &str) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::FixtureStopped { name, how, .. } if name == fixture => Some(how.clone()),
                _ => None,
            })
            .collect()
    }
}

// ---- scopes and probes ----------------------------------------------------

#[test]
fn run_scope_is_shared_lazy_and_stops_after_its_last_test() {
    let text = format!(
        r#"
[fixture.sock]
command = ["python3", "-c", "{UNIX_SERVER}", "{{run_dir}}/s.sock", "@DIR@/sock.pids"]
ready = {{ unix-socket = "{{run_dir}}/s.sock", timeout = "10s" }}
export = {{ SOCK = "{{run_dir}}/s.sock", SOCK_PID = "{{pid}}" }}
for = "package(a)"
"#
    );
    let (t1, t2, other) = (
        planned("a::one", "t1"),
        planned("a::two", "t2"),
        planned("b::it", "t3"),
    );
    let mut h = Harness::new(&text, &[&t1, &t2, &other]);

    // A test that needs nothing starts nothing.
    assert_eq!(h.before(&[&other]).unwrap(), vec![]);
    assert!(
        !h.path("sock.pids").exists(),
        "started although no test needed it yet"
    );

    let env1 = env_map(&h.before(&[&t1]).unwrap());
    let pids = read_pids(&h.path("sock.pids"));
    assert_eq!(pids.len(), 1);
    assert_eq!(env1["SOCK_PID"], pids[0].to_string());
    let sock = PathBuf::from(&env1["SOCK"]);
    assert!(sock.starts_with(h.dir.path()), "{sock:?}");
    let run_dir = sock.parent().unwrap().to_path_buf();
    std::os::unix::net::UnixStream::connect(&sock).unwrap();
    h.after(&[&t1]);
    h.done(&t1);
    h.done(&other);

    // Shared by the second test, still the same process.
    let env2 = env_map(&h.before(&[&t2]).unwrap());
    assert_eq!(env1, env2);
    assert_eq!(read_pids(&h.path("sock.pids")), pids);
    h.after(&[&t2]);
    assert!(alive(pids[0]));
    h.done(&t2);
    // The last test that needs it is done: it stops without waiting for
    // the end of the run.
    assert_all_dead(&pids);

    h.finish();
    assert_eq!(
        h.fixture_events(),
        [
            ("started", "sock".into(), "run".into()),
            ("ready", "sock".into(), "run".into()),
            ("stopped", "sock".into(), "run".into()),
        ]
    );
    assert_eq!(h.stopped_how("sock"), ["stopped by SIGTERM"]);
    assert!(h.path("logs/sock.log").exists());
    assert!(
        !run_dir.exists(),
        "the run directory {run_dir:?} was not removed"
    );
    let log = std::fs::read_to_string(h.path("gantry.log")).unwrap();
    assert!(
        log.contains("fixture sock [run]: starting `python3 -c"),
        "{log}"
    );
    assert!(log.contains("unix-socket probe"), "{log}");
    assert!(log.contains("sending SIGTERM to process group"), "{log}");
}

#[test]
fn binary_and_test_scopes_get_instances_of_their_own() {
    let text = format!(
        r#"
[fixture.per-binary]
scope = "binary"
command = ["python3", "-c", "{TCP_SERVER}", "{{port}}"]
ready = {{ tcp = "127.0.0.1:{{port}}", timeout = "10s" }}
export = {{ BIN_PORT = "{{port}}" }}

[fixture.per-test]
scope = "test"
depends-on = ["per-binary"]
command = ["sh", "-c", "sleep 0.1; echo $BIN_PORT > seen; touch ready; exec sleep 1000"]
cwd = "{{fixture_dir}}"
ready = {{ exec = ["test", "-e", "{{fixture_dir}}/ready"], timeout = "10s" }}
export = {{ TEST_DIR = "{{fixture_dir}}", TEST_PORT = "{{port:main}}", TEST_PID = "{{pid}}" }}
for = "test(/scoped/)"
"#
    );
    let a1 = planned("a::it", "scoped_1");
    let a2 = planned("a::it", "scoped_2");
    let b1 = planned("b::it", "plain");
    let mut h = Harness::new(&text, &[&a1, &a2, &b1]);
    let plan = FixturePlan::new(&config(&text));
    assert!(plan.needs_own_process(&a1.case));
    assert!(!plan.needs_own_process(&b1.case));

    let e1 = env_map(&h.before(&[&a1]).unwrap());
    let dir1 = PathBuf::from(&e1["TEST_DIR"]);
    // The dependency's exports reach the dependent fixture.
    assert_eq!(
        std::fs::read_to_string(dir1.join("seen")).unwrap().trim(),
        e1["BIN_PORT"]
    );
    let pid1: i32 = e1["TEST_PID"].parse().unwrap();
    h.after(&[&a1]);
    h.done(&a1);
    // A test-scoped instance ends with its test.
    assert_all_dead(&[pid1]);

    let e2 = env_map(&h.before(&[&a2]).unwrap());
    assert_eq!(e1["BIN_PORT"], e2["BIN_PORT"], "one instance per binary");
    assert_ne!(e1["TEST_DIR"], e2["TEST_DIR"], "a fresh directory per test");
    assert_ne!(e1["TEST_PORT"], e2["TEST_PORT"], "fresh ports per test");
    h.after(&[&a2]);
    h.done(&a2);

    let e3 = env_map(&h.before(&[&b1]).unwrap());
    assert_ne!(
        e3["BIN_PORT"], e1["BIN_PORT"],
        "another binary, another instance"
    );
    assert!(!e3.contains_key("TEST_DIR"));
    h.after(&[&b1]);
    h.done(&b1);
    h.finish();

    let mut events = h.fixture_events();
    events.sort();
    let count =
        |kind: &str, name: &str| events.iter().filter(|e| e.0 == kind && e.1 == name).count();
    assert_eq!(count("started", "per-binary"), 2);
    assert_eq!(count("stopped", "per-binary"), 2);
    assert_eq!(count("started", "per-test"), 2);
    assert_eq!(count("stopped", "per-test"), 2);
    assert!(events.contains(&("ready", "per-test".into(), "a::it scoped_2".into())));
    assert!(events.contains(&("ready", "per-binary".into(), "b::it".into())));
    assert!(h.path("logs/per-binary.a__it.log").exists());
    assert!(h.path("logs/per-test.a__it_scoped_1.log").exists());
}

#[test]
fn http_and_log_probes_wait_for_the_service() {
    let text = r#"
[fixture.web]
command = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "{port}"]
cwd = "@DIR@"
ready = { http = "http://127.0.0.1:{port}/", status = 200, timeout = "10s" }
export = { WEB = "http://127.0.0.1:{port}/" }

[fixture.chatty]
command = ["sh", "-c", "echo starting; sleep 0.3; echo 'service listening on 1234'; exec sleep 1000"]
ready = { log = "listening on \\d+", timeout = "10s" }
export = { CHATTY_PID = "{pid}" }
"#;
    let mut h = Harness::new(text, &[]);
    let started = Instant::now();
    let env = env_map(&h.start(&["web", "chatty"]).unwrap());
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "ready before the log line was written"
    );
    assert!(env["WEB"].starts_with("http://127.0.0.1:"));
    assert!(alive(env["CHATTY_PID"].parse().unwrap()));
    h.finish();
    assert_all_dead(&[env["CHATTY_PID"].parse().unwrap()]);
    // The server logged the probe's request.
    let log = std::fs::read_to_string(h.path("logs/web.log")).unwrap();
    assert!(log.contains("\"GET / HTTP/1.0\" 200"), "{log}");
}

#[test]
fn wrong_http_status_is_reported_with_the_last_attempt() {
    let text = r#"
[fixture.web]
command = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "{port}"]
cwd = "@DIR@"
ready = { http = "http://127.0.0.1:{port}/health", status = 200, timeout = "3s" }
"#;
    let mut h = Harness::new(text, &[]);
    let err = h.start(&["web"]).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "fixture `web` [run] did not become ready within 3s: its http probe `http://127.0.0.1:"
        ),
        "{err}"
    );
    assert!(
        err.contains("still failed (the server answered with status 404)"),
        "{err}"
    );
    assert!(err.contains("/logs/web.log ("), "{err}");
    h.finish();
    let log = std::fs::read_to_string(h.path("logs/web.log")).unwrap();
    assert!(log.contains("\"GET /health HTTP/1.0\" 404"), "{log}");
}

#[test]
fn a_slow_answer_at_the_deadline_is_still_reported() {
    // Each answer takes 150 ms; probe attempts back off, so the last one
    // starts just before (or at) the deadline. It must still get the
    // server's answer, not a read timeout of gantry's making.
    let text = r#"
[fixture.slow]
command = ["python3", "-c", '''
import http.server, sys, time
class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.15)
        self.send_error(404)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Slow).serve_forever()
''', "{port}"]
ready = { http = "http://127.0.0.1:{port}/health", status = 200, timeout = "4s" }
"#;
    // The timeout leaves Python seconds to start even on a loaded machine:
    // the point is the last attempt, not the first ones.
    let mut h = Harness::new(text, &[]);
    let err = h.start(&["slow"]).unwrap_err().to_string();
    assert!(
        err.contains("still failed (the server answered with status 404)"),
        "{err}"
    );
    h.finish();
}

// ---- startup failures ------------------------------------------------------

#[test]
fn failing_readiness_fails_the_run_with_probe_and_log_tail() {
    let text = r#"
[fixture.deaf]
# Output of setup commands is in the log before the service starts, so the
# tail is known exactly.
setup = ["sh", "-c", "i=1; while [ $i -le 60 ]; do echo line $i; i=$((i+1)); done"]
command = ["sh", "-c", "echo $$ > @DIR@/deaf.pid; exec sleep 1000"]
ready = { tcp = "127.0.0.1:{port}", timeout = "300ms", interval = "20ms" }
"#;
    let t = planned("a::it", "t");
    let mut h = Harness::new(text, &[&t]);
    let err = h.before(&[&t]).unwrap_err();
    assert!(err.fatal && !err.interrupted);
    assert_eq!(err.message, "a failure to start fixture `deaf`");
    // Every later unit is refused at once.
    assert!(h.before(&[&t]).unwrap_err().fatal);
    let fatal = h
        .manager
        .take_fatal()
        .expect("the error is kept for the CLI");
    let text = fatal.to_string();
    assert!(
        text.starts_with(
            "fixture `deaf` [run] did not become ready within 300ms: its tcp probe `127.0.0.1:"
        ),
        "{text}"
    );
    assert!(
        text.contains("still failed (connecting to 127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("deaf.log (last 50 of 61 lines):\n  | line 11\n"),
        "{text}"
    );
    assert!(text.ends_with("| line 60"), "{text}");
    wait_for("the pid file", Duration::from_secs(10), || {
        !read_pids(&h.path("deaf.pid")).is_empty()
    });
    let pids = read_pids(&h.path("deaf.pid"));
    assert!(alive(pids[0]));
    h.after(&[&t]);
    h.finish();
    assert_all_dead(&pids);
    assert_eq!(h.stopped_how("deaf"), ["stopped by SIGTERM"]);
}

#[test]
fn fixture_exiting_at_startup_is_reported_with_its_status() {
    let text = r#"
[fixture.crashy]
command = ["sh", "-c", "echo 'config file missing' >&2; exit 3"]
ready = { unix-socket = "{run_dir}/never.sock", timeout = "30s" }
"#;
    let mut h = Harness::new(text, &[]);
    let started = Instant::now();
    let err = h.start(&["crashy"]).unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "waited for the timeout"
    );
    assert!(
        err.starts_with("fixture `crashy` [run] exited with code 3 before its unix-socket probe `"),
        "{err}"
    );
    assert!(err.contains("| config file missing"), "{err}");
    h.finish();
    assert_eq!(h.stopped_how("crashy"), ["had already exited with code 3"]);
}

#[test]
fn setup_failure_still_runs_teardown_and_never_starts_the_service() {
    let text = r#"
[fixture.broken]
setup = [["sh", "-c", "echo preparing"], ["sh", "-c", "echo 'disk full' >&2; exit 4"]]
command = ["sh", "-c", "echo $$ > @DIR@/broken.pid; exec sleep 1000"]
teardown = ["sh", "-c", "echo cleaned > @DIR@/broken.teardown"]
"#;
    let mut h = Harness::new(text, &[]);
    let err = h.start(&["broken"]).unwrap_err().to_string();
    assert!(
        err.starts_with("fixture `broken` [run]: setup command `sh -c 'echo '\\''disk full'\\'' >&2; exit 4'` failed: exited with code 4"),
        "{err}"
    );
    assert!(err.contains("| preparing\n"), "{err}");
    assert!(err.contains("| disk full"), "{err}");
    h.finish();
    assert!(
        !h.path("broken.pid").exists(),
        "the service started after a failed setup"
    );
    assert_eq!(
        std::fs::read_to_string(h.path("broken.teardown")).unwrap(),
        "cleaned\n"
    );
}

#[test]
fn bad_inputs_fail_before_anything_starts() {
    // A socket path that cannot fit in a socket address.
    let text = r#"
[fixture.long]
command = ["sh", "-c", "echo $$ > @DIR@/long.pid; exec sleep 1000"]
ready = { unix-socket = "{run_dir}/service.sock" }
"#;
    let deep = "d".repeat(100);
    let mut h = Harness::with_scratch(text, &[], Some(&deep));
    let err = h.start(&["long"]).unwrap_err().to_string();
    assert!(
        err.starts_with("fixture `long`: the unix socket path `"),
        "{err}"
    );
    assert!(
        err.contains("over the 107-byte limit of Unix socket addresses; the run directory is `"),
        "{err}"
    );
    assert!(err.contains("point TMPDIR at a shorter directory"), "{err}");
    h.finish();
    assert!(!h.path("long.pid").exists());

    // A port someone else already listens on.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let text = format!(
        r#"
[fixture.fixed]
command = ["sh", "-c", "echo $$ > @DIR@/fixed.pid; exec sleep 1000"]
ready = {{ tcp = "127.0.0.1:{port}" }}
"#
    );
    let mut h = Harness::new(&text, &[]);
    let err = h.start(&["fixed"]).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("fixture `fixed`: 127.0.0.1:{port} is already in use by another process, so its tcp probe `127.0.0.1:{port}` could not tell the fixture's own service from that one; stop the other process, or let gantry choose a free port with `{{port}}`")
    );
    h.finish();
    assert!(!h.path("fixed.pid").exists());

    // An exec probe whose program does not exist fails at once.
    let text = r#"
[fixture.probeless]
command = ["sleep", "1000"]
ready = { exec = ["/nonexistent/check"], timeout = "30s" }
"#;
    let mut h = Harness::new(text, &[]);
    let started = Instant::now();
    let err = h.start(&["probeless"]).unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.starts_with("fixture `probeless`: its exec probe `/nonexistent/check` cannot work: could not start `/nonexistent/check`"),
        "{err}"
    );
    h.finish();
    assert_eq!(h.stopped_how("probeless"), ["stopped by SIGTERM"]);

    // An unset variable.
    let text = r#"
[fixture.envy]
command = ["sleep", "{env:GANTRY_TEST_SURELY_UNSET}"]
"#;
    let mut h = Harness::new(text, &[]);
    let err = h.start(&["envy"]).unwrap_err().to_string();
    assert_eq!(
        err,
        "fixture `envy`, command: the environment variable GANTRY_TEST_SURELY_UNSET is not set (in \"{env:GANTRY_TEST_SURELY_UNSET}\")"
    );
    assert!(h.fixture_events().is_empty());

    // Unknown names and dependency cycles.
    let mut h = Harness::new("[fixture.a]\ncommand = [\"true\"]\n", &[]);
    assert_eq!(
        h.start(&["nope"]).unwrap_err().to_string(),
        "unknown fixture `nope`; declared fixtures: a"
    );
    let cycle = GantryConfig::from_str_with_path(
        "[fixture.a]\ncommand = [\"x\"]\ndepends-on = [\"b\"]\n[fixture.b]\ncommand = [\"x\"]\ndepends-on = [\"a\"]\n",
        Path::new("gantry.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(cycle.contains("dependency cycle: a -> b -> a"), "{cycle}");
}

// ---- during the run --------------------------------------------------------

#[test]
fn fixture_dying_mid_run_fails_the_tests_that_use_it() {
    let text = r#"
[fixture.fragile]
command = ["sh", "-c", "echo $$ > @DIR@/fragile.pid; exec sleep 1000"]
ready = { exec = ["test", "-s", "@DIR@/fragile.pid"] }
"#;
    let (t1, t2) = (planned("a::it", "t1"), planned("a::it", "t2"));
    let mut h = Harness::new(text, &[&t1, &t2]);
    h.before(&[&t1]).unwrap();
    let pid = read_pids(&h.path("fragile.pid"))[0];
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let mut err = None;
    wait_for("the death to be noticed", Duration::from_secs(10), || {
        err = h.before(&[&t2]).err();
        err.is_some()
    });
    let err = err.unwrap();
    assert!(!err.fatal, "a death fails the tests, not the run");
    assert!(
        err.message.starts_with(
            "fixture `fragile` [run] died during the run: its process was killed by SIGKILL "
        ),
        "{}",
        err.message
    );
    assert!(err.message.ends_with("fragile.log"), "{}", err.message);
    h.finish();
    assert_eq!(
        h.stopped_how("fragile"),
        ["had already been killed by SIGKILL"]
    );
}

#[test]
fn restart_on_failure_brings_it_back_up_to_the_limit() {
    let text = r#"
[fixture.phoenix]
command = ["sh", "-c", "echo $$ >> @DIR@/phoenix.pids; exec sleep 1000"]
export = { PHOENIX_PID = "{pid}" }
restart = "on-failure"
restart-limit = 1
"#;
    let t = planned("a::it", "t");
    let mut h = Harness::new(text, &[&t]);
    let first = env_map(&h.before(&[&t]).unwrap())["PHOENIX_PID"].clone();
    Command::new("kill")
        .args(["-KILL", &first])
        .status()
        .unwrap();
    let mut second = first.clone();
    wait_for("the restart", Duration::from_secs(10), || {
        second = env_map(&h.before(&[&t]).unwrap())["PHOENIX_PID"].clone();
        second != first
    });
    assert!(alive(second.parse().unwrap()));
    Command::new("kill")
        .args(["-KILL", &second])
        .status()
        .unwrap();
    let mut err = None;
    wait_for("giving up", Duration::from_secs(10), || {
        err = h.before(&[&t]).err();
        err.is_some()
    });
    let message = err.unwrap().message;
    assert!(
        message.contains("(after 1 restart, the restart-limit)"),
        "{message}"
    );
    h.finish();
    let started = h
        .fixture_events()
        .iter()
        .filter(|e| e.0 == "started")
        .count();
    assert_eq!(started, 2);
    assert_all_dead(&read_pids(&h.path("phoenix.pids")));
}

#[test]
fn dependencies_start_in_order_and_stop_in_reverse() {
    let fixture = |name: &str, deps: &str, delay: &str| {
        format!(
            r#"
[fixture.{name}]
depends-on = [{deps}]
setup = ["sh", "-c", "echo setup {name} >> @DIR@/order"]
command = ["sh", "-c", "echo start {name} A=$A_VAR >> @DIR@/order; sleep {delay}; echo up; trap 'echo stop {name} >> @DIR@/order; exit 0' TERM; while :; do sleep 0.05; done"]
teardown = ["sh", "-c", "echo teardown {name} >> @DIR@/order"]
ready = {{ log = "^up$", timeout = "10s" }}
"#
        )
    };
    let text = [
        fixture("a", "", "0") + "export = { A_VAR = \"from-a\" }\n",
        fixture("b", "\"a\"", "0.4"),
        fixture("c", "\"a\"", "0"),
        fixture("d", "\"b\", \"c\"", "0"),
    ]
    .concat();
    let mut h = Harness::new(&text, &[]);
    h.start(&["d"]).unwrap();
    h.finish();
    let order = std::fs::read_to_string(h.path("order")).unwrap();
    let at = |line: &str| {
        order
            .lines()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no `{line}` in:\n{order}"))
    };
    for x in ["a", "b", "c", "d"] {
        assert!(
            at(&format!("setup {x}"))
                < at(&format!(
                    "start {x} A={}",
                    if x == "a" { "" } else { "from-a" }
                ))
        );
        assert!(
            at(&format!("stop {x}")) < at(&format!("teardown {x}")),
            "{order}"
        );
    }
    assert!(at("start a A=") < at("start b A=from-a"));
    assert!(at("start a A=") < at("start c A=from-a"));
    assert!(at("start b A=from-a") < at("start d A=from-a"));
    assert!(at("start c A=from-a") < at("start d A=from-a"));
    // Reverse order, each teardown before the next stop.
    assert!(
        at("teardown d") < at("stop b") && at("teardown d") < at("stop c"),
        "{order}"
    );
    assert!(
        at("teardown b") < at("stop a") && at("teardown c") < at("stop a"),
        "{order}"
    );
    // b and c start in parallel: c is started while b is still not ready.
    let events = h.fixture_events();
    let pos = |e: (&str, &str)| {
        events
            .iter()
            .position(|x| x.0 == e.0 && x.1 == e.1)
            .unwrap()
    };
    assert!(pos(("started", "c")) < pos(("ready", "b")), "{events:?}");
    assert!(h.stopped_how("d")[0].starts_with("exited with code 0 after SIGTERM"));
}

// ---- stopping --------------------------------------------------------------

#[test]
fn stubborn_fixture_is_killed_after_its_grace_period_with_its_children() {
    let text = r#"
[fixture.stubborn]
command = ["sh", "-c", "trap '' TERM; sleep 1000 & echo $! >> @DIR@/stubborn.pids; echo $$ >> @DIR@/stubborn.pids; while :; do sleep 0.05; done"]
ready = { exec = ["sh", "-c", "test $(wc -l < @DIR@/stubborn.pids) -eq 2"] }
stop = { signal = "TERM", grace = "300ms" }
"#;
    let mut h = Harness::new(text, &[]);
    h.start(&["stubborn"]).unwrap();
    let pids = read_pids(&h.path("stubborn.pids"));
    let started = Instant::now();
    h.finish();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_all_dead(&pids);
    assert_eq!(
        h.stopped_how("stubborn"),
        ["killed with SIGKILL (still running 300ms after SIGTERM)"]
    );
}

#[test]
fn a_signal_stops_startup_waits_and_shortens_teardown() {
    let text = r#"
[fixture.slowpoke]
command = ["sh", "-c", "echo $$ > @DIR@/slowpoke.pid; exec sleep 1000"]
ready = { tcp = "127.0.0.1:{port}", timeout = "60s" }

[fixture.stubborn]
command = ["sh", "-c", "trap '' TERM; echo $$ > @DIR@/stubborn.pid; while :; do sleep 0.05; done"]
ready = { exec = ["test", "-s", "@DIR@/stubborn.pid"] }
stop = { grace = "60s" }
"#;
    let t = planned("a::it", "t");
    let mut h = Harness::new(text, &[&t]);
    h.start(&["stubborn"]).unwrap();
    let signals = h.signals.clone();
    let pid_file = h.path("slowpoke.pid");
    let bumper = std::thread::spawn(move || {
        wait_for("slowpoke to start", Duration::from_secs(10), || {
            !read_pids(&pid_file).is_empty()
        });
        signals.bump();
    });
    let started = Instant::now();
    let err = h.before(&[&t]).unwrap_err();
    assert!(err.interrupted, "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    bumper.join().unwrap();
    assert!(
        h.manager.take_fatal().is_none(),
        "an interruption is no setup failure"
    );

    // Teardown after the interruption is graceful, until another signal.
    let signals = h.signals.clone();
    let bumper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        signals.bump();
    });
    let started = Instant::now();
    h.finish();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "waited out the 60s grace"
    );
    bumper.join().unwrap();
    assert_eq!(
        h.stopped_how("stubborn"),
        ["killed with SIGKILL (gantry received another signal)"]
    );
    assert_all_dead(&[
        read_pids(&h.path("slowpoke.pid"))[0],
        read_pids(&h.path("stubborn.pid"))[0],
    ]);
}

// ---- whole runs --------------------------------------------------------------

/// A "test binary": prints what libtest would for one passing test, and
/// records the test's name and the fixture's variable.
const TEST_SCRIPT: &str = r#"#!/bin/sh
name="$2"
echo "running 1 test"
echo "$name SOCK=$SOCK" >> "@DIR@/ran"
case "$name" in
  pass*) exit 0 ;;
  fail*) echo "assertion failed" >&2; exit 101 ;;
  hang*) echo $$ > "@DIR@/hang.pid"; exec sleep 1000 ;;
esac
"#;

struct Collect(Vec<EventEnvelope>);

impl EventSink for Collect {
    fn emit(&mut self, event: &EventEnvelope) {
        self.0.push(event.clone());
    }
}

/// A run of script tests in `dir`; returns the result and the events.
fn run_in(
    dir: &Path,
    config_text: &str,
    tests: &[(&str, &str)],
) -> (Result<gantry_metadata::RunSummary, RunnerError>, Vec<Event>) {
    let d = dir.to_str().unwrap();
    let script = dir.join("it.sh");
    std::fs::write(&script, TEST_SCRIPT.replace("@DIR@", d)).unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let config = config(&config_text.replace("@DIR@", d));
    let target_dir = dir.join("target");
    let mut binaries = Vec::new();
    let mut cases = Vec::new();
    for (binary_id, name) in tests {
        let b = binaries
            .iter()
            .find(|b: &&Arc<TestBinary>| b.binary_id == *binary_id)
            .cloned()
            .unwrap_or_else(|| {
                let b = binary(binary_id, &script, dir);
                binaries.push(b.clone());
                b
            });
        cases.push(TestCase {
            binary: b,
            name: name.to_string(),
            ignored: false,
        });
    }
    let mut prepared = Prepared {
        list: TestList {
            workspace_root: dir.into(),
            target_dir: target_dir.clone(),
            binaries,
            tests: cases.clone(),
        },
        history: History::load(&History::path_in(&target_dir)),
        config,
        bins: Default::default(),
        build: Default::default(),
        libraries: Vec::new(),
        cwd: dir.into(),
    };
    let profile = prepared.config.profile("default").unwrap();
    let (run_id, run_dir) = run::create_run_dir(&target_dir).unwrap();
    let mut sink = Collect(Vec::new());
    let result = run::execute(
        &mut prepared,
        RunRequest {
            profile: &profile,
            selection: Selection {
                selected: cases,
                skipped: Vec::new(),
            },
            no_capture: false,
            external: Vec::new(),
            test_env: Vec::new(),
            fixture_env: Vec::new(),
        },
        run_id,
        run_dir,
        &mut sink,
        None,
    );
    (result, sink.0.into_iter().map(|e| e.event).collect())
}

fn svc_config(profile: &str) -> String {
    format!(
        r#"
[profile.default]
execution = "process"
{profile}

[fixture.svc]
command = ["sh", "-c", "python3 -c \"$0\" \"$@\" & echo $! >> @DIR@/svc.pids; echo $$ >> @DIR@/svc.pids; wait", "{UNIX_SERVER}", "{{run_dir}}/svc.sock", "@DIR@/py.pids"]
ready = {{ unix-socket = "{{run_dir}}/svc.sock", timeout = "10s" }}
export = {{ SOCK = "{{run_dir}}/svc.sock" }}
for = "package(app)"
"#
    )
}

fn all_pids(dir: &Path) -> Vec<i32> {
    let mut pids = read_pids(&dir.join("svc.pids"));
    pids.extend(read_pids(&dir.join("py.pids")));
    pids.extend(read_pids(&dir.join("hang.pid")));
    pids
}

fn position(events: &[Event], pred: impl Fn(&Event) -> bool) -> usize {
    events
        .iter()
        .position(pred)
        .unwrap_or_else(|| panic!("no such event in {events:#?}"))
}

#[test]
fn whole_run_shares_the_fixture_and_tears_it_down_after_failures() {
    let dir = tempfile::tempdir().unwrap();
    let (result, events) = run_in(
        dir.path(),
        &svc_config("fail-fast = false\njobs = 2"),
        &[
            ("app::it", "pass_1"),
            ("app::it", "fail_1"),
            ("app::other", "pass_2"),
            ("lib::it", "pass_3"),
        ],
    );
    let summary = result.unwrap();
    assert_eq!(summary.exit_code, ExitCode::TEST_FAILED);
    assert_eq!((summary.passed, summary.failed), (3, 1));
    let ran = std::fs::read_to_string(dir.path().join("ran")).unwrap();
    let sock = ran
        .lines()
        .find_map(|l| l.strip_prefix("pass_1 SOCK="))
        .unwrap()
        .to_string();
    assert!(sock.ends_with("/svc.sock"), "{ran}");
    assert!(ran.contains(&format!("fail_1 SOCK={sock}\n")), "{ran}");
    assert!(ran.contains(&format!("pass_2 SOCK={sock}\n")), "{ran}");
    assert!(
        ran.contains("pass_3 SOCK=\n"),
        "a test outside `for` got the export: {ran}"
    );
    assert_all_dead(&all_pids(dir.path()));
    let ready = position(&events, |e| matches!(e, Event::FixtureReady { .. }));
    let first_app = position(
        &events,
        |e| matches!(e, Event::TestStarted { id, .. } if id.binary_id.starts_with("app::")),
    );
    let stopped = position(&events, |e| matches!(e, Event::FixtureStopped { .. }));
    let finished = position(&events, |e| matches!(e, Event::RunFinished { .. }));
    assert!(ready < first_app && stopped < finished, "{events:#?}");
    let run_dir = dir.path().join("target/gantry/runs/latest");
    assert!(run_dir.join("fixtures/svc.log").exists());
    let log = std::fs::read_to_string(run_dir.join("gantry.log")).unwrap();
    assert!(log.contains("sending SIGTERM to process group"), "{log}");
    assert!(log.contains("run finished with exit code 100"), "{log}");
}

#[test]
fn whole_run_with_a_fixture_that_cannot_start_exits_102_and_runs_no_dependent_test() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
[profile.default]
execution = "process"
jobs = 1

[fixture.deaf]
setup = ["echo", "not listening"]
command = ["sh", "-c", "echo $$ >> @DIR@/svc.pids; exec sleep 1000"]
ready = { tcp = "127.0.0.1:{port}", timeout = "1s" }
for = "package(app)"
"#;
    let (result, events) = run_in(
        dir.path(),
        config,
        &[("app::it", "pass_1"), ("app::it", "pass_2")],
    );
    let err = result.unwrap_err();
    assert!(
        matches!(&err, RunnerError::Fixture(e) if matches!(**e, FixtureError::NotReady { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("| not listening"), "{err}");
    assert!(
        !dir.path().join("ran").exists(),
        "a test ran without its fixture"
    );
    assert!(events.iter().any(|e| matches!(e,
        Event::RunCancelling { reason } if reason == "a failure to start fixture `deaf`")));
    let summary = events
        .iter()
        .find_map(|e| match e {
            Event::RunFinished { summary } => Some(summary.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(summary.exit_code, ExitCode::SETUP_FAILED);
    assert_eq!(summary.not_run, 2);
    assert_all_dead(&all_pids(dir.path()));
}

#[test]
fn whole_run_tears_down_after_a_test_timeout_and_fail_fast() {
    let dir = tempfile::tempdir().unwrap();
    let (result, _) = run_in(
        dir.path(),
        &svc_config(
            "jobs = 1\nfail-fast = true\nslow-timeout = \"300ms\"\nterminate-after = 1\ngrace-period = \"100ms\"",
        ),
        &[("app::it", "hang_1"), ("app::it", "pass_9")],
    );
    let summary = result.unwrap();
    assert_eq!(summary.timed_out, 1);
    assert_eq!(summary.not_run, 1, "fail-fast did not cancel the rest");
    let ran = std::fs::read_to_string(dir.path().join("ran")).unwrap();
    assert!(!ran.contains("pass_9"), "{ran}");
    assert_eq!(summary.exit_code, ExitCode::TEST_FAILED);
    assert_all_dead(&all_pids(dir.path()));
}

// ---- real signals, in a child process ---------------------------------------

const CHILD_ROLE: &str = "GANTRY_FIXTURE_TEST_CHILD";
const CHILD_DIR: &str = "GANTRY_FIXTURE_TEST_DIR";

/// A child gantry process; if the test fails before the child has
/// exited, dropping this stops it the way a user would (SIGTERM), so that
/// it tears down its fixtures instead of leaving them behind.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            sigterm(&self.0);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs this test binary again, as `role`, for test `test`.
fn spawn_child(test: &str, role: &str, dir: &Path) -> ChildGuard {
    ChildGuard(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ROLE, role)
            .env(CHILD_DIR, dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn wait_child(child: &mut ChildGuard, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "the child did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The child side: never returns.
fn child_main(role: &str) -> ! {
    let dir = PathBuf::from(std::env::var(CHILD_DIR).unwrap());
    let code = match role {
        "run" => {
            let (result, _) = run_in(&dir, &svc_config(""), &[("app::it", "hang_1")]);
            result.map_or(1, |s| s.exit_code)
        }
        "up" | "up-slow" => {
            let d = dir.to_str().unwrap();
            let text = if role == "up" {
                svc_config("")
            } else {
                "[fixture.svc]\ncommand = [\"sh\", \"-c\", \"echo $$ >> @DIR@/svc.pids; exec sleep 1000\"]\nready = { tcp = \"127.0.0.1:{port}\", timeout = \"60s\" }\n".to_string()
            };
            let signals = SignalCount::new();
            let (tx, rx) = std::sync::mpsc::channel();
            let _forwarder = SignalForwarder::install_counting(tx, signals.clone()).unwrap();
            let log = Arc::new(RunLog::create(&dir.join("gantry.log")).unwrap());
            let opts = FixtureOptions::new(dir.join("logs"), dir.clone(), signals, log);
            let plan = FixturePlan::new(&config(&text.replace("@DIR@", d)));
            let mut manager = FixtureManager::new(plan, [], opts);
            match manager.start_named(&["svc".to_string()], &mut |_| {}) {
                Ok(env) => {
                    std::fs::write(dir.join("exports"), format!("{env:?}")).unwrap();
                    let _ = rx.recv();
                    manager.teardown(&mut |_| {});
                    0
                }
                Err(e) => {
                    manager.teardown(&mut |_| {});
                    if e.is_interrupted() {
                        ExitCode::INTERRUPTED
                    } else {
                        1
                    }
                }
            }
        }
        other => panic!("unknown role {other}"),
    };
    std::process::exit(code)
}

fn sigterm(child: &std::process::Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
}

#[test]
fn sigterm_during_a_run_tears_down_tests_and_fixtures() {
    if let Ok(role) = std::env::var(CHILD_ROLE) {
        child_main(&role);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child(
        "sigterm_during_a_run_tears_down_tests_and_fixtures",
        "run",
        dir.path(),
    );
    wait_for("the test to start", Duration::from_secs(20), || {
        !read_pids(&dir.path().join("hang.pid")).is_empty()
    });
    let pids = all_pids(dir.path());
    assert_eq!(pids.len(), 4, "shell, python and test pids: {pids:?}");
    assert!(pids.iter().all(|&p| alive(p)));
    sigterm(&child.0);
    assert_eq!(
        wait_child(&mut child, Duration::from_secs(20)),
        ExitCode::INTERRUPTED
    );
    assert_all_dead(&pids);
}

#[test]
fn sigterm_to_fixture_up_stops_the_fixtures() {
    if let Ok(role) = std::env::var(CHILD_ROLE) {
        child_main(&role);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child("sigterm_to_fixture_up_stops_the_fixtures", "up", dir.path());
    wait_for("the fixture to be up", Duration::from_secs(20), || {
        std::fs::read_to_string(dir.path().join("exports")).is_ok_and(|e| e.contains(']'))
    });
    let exports = std::fs::read_to_string(dir.path().join("exports")).unwrap();
    assert!(exports.contains("\"SOCK\""), "{exports}");
    let pids = all_pids(dir.path());
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert!(pids.iter().all(|&p| alive(p)));
    sigterm(&child.0);
    assert_eq!(wait_child(&mut child, Duration::from_secs(20)), 0);
    assert_all_dead(&pids);
}

#[test]
fn sigterm_during_fixture_startup_leaves_nothing_behind() {
    if let Ok(role) = std::env::var(CHILD_ROLE) {
        child_main(&role);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child(
        "sigterm_during_fixture_startup_leaves_nothing_behind",
        "up-slow",
        dir.path(),
    );
    wait_for("the fixture to start", Duration::from_secs(20), || {
        !read_pids(&dir.path().join("svc.pids")).is_empty()
    });
    let pids = all_pids(dir.path());
    sigterm(&child.0);
    // Well before the probe's 60s timeout.
    assert_eq!(
        wait_child(&mut child, Duration::from_secs(15)),
        ExitCode::INTERRUPTED
    );
    assert_all_dead(&pids);
}
