//! Fixtures: every key, probes, templates, the dependency graph, and the
//! errors for each.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{err, ok};
use gantry_config::{
    FixtureScope, Placeholder, ProbeKind, ReadyProbe, RestartPolicy, StopConfig, StopSignal,
    Template,
};
use gantry_filter::FilterExpr;

fn t(text: &str) -> Template {
    Template::parse(text).unwrap()
}

#[test]
fn every_fixture_key() {
    let config = ok(r#"
[fixture.echo-daemon]
command = ["{bin:echo-server}", "--socket", "{run_dir}/echo.sock", "--port", "{port}"]
cwd = "{fixture_dir}"
env = { RUST_LOG = "debug", HOME = "{env:HOME}" }
scope = "binary"
depends-on = ["db"]
ready = [
    { unix-socket = "{run_dir}/echo.sock", timeout = "10s" },
    { tcp = "127.0.0.1:{port}", interval = "10ms" },
    { http = "http://127.0.0.1:{port:admin}/health", status = 204 },
    { log = "listening on .*", timeout = "5s", interval = "1s" },
    { exec = ["{bin:echo-cli}", "ping"] },
]
export = { ECHO_SOCKET = "{run_dir}/echo.sock", ECHO_PID = "{pid}" }
for = "package(echo-client)"
setup = ["mkdir", "-p", "{fixture_dir}/data"]
teardown = [["rm", "-rf", "{fixture_dir}/data"], ["true"]]
stop = { signal = "SIGINT", grace = "5s" }
restart = "on-failure"
restart-limit = 5

[fixture.db]
command = ["postgres"]
"#);
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    let f = &config.fixtures()["echo-daemon"];
    assert_eq!(f.name, "echo-daemon");
    assert_eq!(
        f.command,
        Some(vec![
            t("{bin:echo-server}"),
            t("--socket"),
            t("{run_dir}/echo.sock"),
            t("--port"),
            t("{port}"),
        ])
    );
    assert_eq!(f.cwd, Some(t("{fixture_dir}")));
    assert_eq!(
        f.env,
        BTreeMap::from([
            ("HOME".to_owned(), t("{env:HOME}")),
            ("RUST_LOG".to_owned(), t("debug")),
        ])
    );
    assert_eq!(f.scope, FixtureScope::Binary);
    assert_eq!(f.depends_on, ["db"]);
    assert_eq!(f.ready.len(), 5);
    assert_eq!(
        f.ready[0],
        ReadyProbe {
            kind: ProbeKind::UnixSocket(t("{run_dir}/echo.sock")),
            timeout: Duration::from_secs(10),
            interval: Duration::from_millis(50),
        }
    );
    assert_eq!(
        f.ready[1],
        ReadyProbe {
            kind: ProbeKind::Tcp(t("127.0.0.1:{port}")),
            timeout: Duration::from_secs(30),
            interval: Duration::from_millis(10),
        }
    );
    assert_eq!(
        f.ready[2].kind,
        ProbeKind::Http {
            url: t("http://127.0.0.1:{port:admin}/health"),
            status: Some(204)
        }
    );
    let ProbeKind::Log(pattern) = &f.ready[3].kind else {
        panic!("expected a log probe, got {:?}", f.ready[3].kind)
    };
    assert!(pattern.regex().is_match("server listening on /tmp/x"));
    assert!(!pattern.regex().is_match("starting"));
    assert_eq!(
        (f.ready[3].timeout, f.ready[3].interval),
        (Duration::from_secs(5), Duration::from_secs(1))
    );
    assert_eq!(
        f.ready[4].kind,
        ProbeKind::Exec(vec![t("{bin:echo-cli}"), t("ping")])
    );
    assert_eq!(f.export["ECHO_PID"], t("{pid}"));
    assert_eq!(f.export["ECHO_SOCKET"], t("{run_dir}/echo.sock"));
    assert_eq!(
        f.filter,
        Some(FilterExpr::parse("package(echo-client)").unwrap())
    );
    assert_eq!(f.filter_source.as_deref(), Some("package(echo-client)"));
    assert_eq!(
        f.setup,
        [vec![t("mkdir"), t("-p"), t("{fixture_dir}/data")]]
    );
    assert_eq!(
        f.teardown,
        [
            vec![t("rm"), t("-rf"), t("{fixture_dir}/data")],
            vec![t("true")]
        ]
    );
    assert_eq!(
        f.stop,
        StopConfig {
            signal: StopSignal::Int,
            grace: Duration::from_secs(5)
        }
    );
    assert_eq!(f.restart, RestartPolicy::OnFailure);
    assert_eq!(f.restart_limit, 5);
}

#[test]
fn fixture_defaults() {
    let config = ok("[fixture.svc]\ncommand = [\"svc\"]\nready = { tcp = \"localhost:80\" }\n");
    let f = &config.fixtures()["svc"];
    assert_eq!(f.scope, FixtureScope::Run);
    assert_eq!(f.cwd, None);
    assert!(f.env.is_empty() && f.export.is_empty() && f.depends_on.is_empty());
    assert_eq!(f.filter, None);
    assert!(f.setup.is_empty() && f.teardown.is_empty());
    assert_eq!(
        f.stop,
        StopConfig {
            signal: StopSignal::Term,
            grace: Duration::from_secs(10)
        }
    );
    assert_eq!(f.restart, RestartPolicy::Never);
    assert_eq!(f.restart_limit, 3);
    // A single probe table is one probe with the default timings.
    assert_eq!(
        f.ready,
        [ReadyProbe {
            kind: ProbeKind::Tcp(t("localhost:80")),
            timeout: Duration::from_secs(30),
            interval: Duration::from_millis(50),
        }]
    );
}

#[test]
fn setup_only_fixture_and_probe_table_section() {
    let config = ok(r#"
[fixture.schema]
setup = [["psql", "-f", "schema.sql"]]

[fixture.web]
command = ["web"]

[fixture.web.ready]
http = "{env:WEB_URL}"
"#);
    let schema = &config.fixtures()["schema"];
    assert_eq!(schema.command, None);
    assert_eq!(schema.setup.len(), 1);
    assert_eq!(
        config.fixtures()["web"].ready[0].kind,
        ProbeKind::Http {
            url: t("{env:WEB_URL}"),
            status: None
        }
    );
}

#[test]
fn signals_with_and_without_prefix() {
    for (text, signal) in [
        ("TERM", StopSignal::Term),
        ("SIGTERM", StopSignal::Term),
        ("INT", StopSignal::Int),
        ("SIGHUP", StopSignal::Hup),
        ("QUIT", StopSignal::Quit),
        ("KILL", StopSignal::Kill),
        ("USR1", StopSignal::Usr1),
        ("SIGUSR2", StopSignal::Usr2),
    ] {
        let config = ok(&format!(
            "[fixture.a]\ncommand = [\"a\"]\nstop = {{ signal = \"{text}\" }}\n"
        ));
        let stop = config.fixtures()["a"].stop;
        assert_eq!(stop.signal, signal, "{text}");
        assert_eq!(stop.grace, Duration::from_secs(10));
    }
    assert_eq!(StopSignal::Usr1.as_str(), "SIGUSR1");
}

#[test]
fn placeholders_are_collected_for_the_runner() {
    let config = ok(r#"
[fixture.a]
command = ["{bin:srv}", "--data", "{fixture_dir}", "--port", "{port:http}", "{{literal}}"]
"#);
    let used: Vec<Placeholder> = config.fixtures()["a"]
        .command
        .iter()
        .flatten()
        .flat_map(|arg| arg.placeholders().cloned().collect::<Vec<_>>())
        .collect();
    assert_eq!(
        used,
        [
            Placeholder::Bin("srv".into()),
            Placeholder::FixtureDir,
            Placeholder::NamedPort("http".into()),
        ]
    );
    let last = &config.fixtures()["a"].command.as_ref().unwrap()[5];
    assert_eq!(last.expand(&|_| None).unwrap(), "{literal}");
}

#[test]
fn start_order_puts_dependencies_first() {
    let config = ok(r#"
[fixture.app]
command = ["app"]
depends-on = ["cache", "db"]

[fixture.db]
command = ["db"]

[fixture.cache]
command = ["cache"]
depends-on = ["db"]

[fixture.alone]
command = ["alone"]
"#);
    let order: Vec<&str> = config
        .fixture_start_order()
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(order, ["alone", "db", "cache", "app"]);
}

#[test]
fn scopes_may_depend_on_longer_lived_fixtures() {
    ok(r#"
[fixture.db]
command = ["db"]

[fixture.schema]
scope = "binary"
depends-on = ["db"]
setup = ["migrate"]

[fixture.tx]
scope = "test"
depends-on = ["schema", "db"]
setup = ["begin"]
"#);
}

#[test]
fn unknown_dependency() {
    insta::assert_snapshot!(err(r#"
[fixture.app]
command = ["app"]
depends-on = ["dbb"]

[fixture.db]
command = ["db"]
"#), @".config/gantry.toml:3:15: fixture.app.depends-on[0]: unknown fixture `dbb` (did you mean `db`?)");
    insta::assert_snapshot!(err(r#"
[fixture.app]
command = ["app"]
depends-on = ["redis"]
"#), @".config/gantry.toml:3:15: fixture.app.depends-on[0]: unknown fixture `redis` (declared fixtures: app)");
}

#[test]
fn dependency_cycles_name_the_cycle() {
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
depends-on = ["b"]

[fixture.b]
command = ["b"]
depends-on = ["c"]

[fixture.c]
command = ["c"]
depends-on = ["x", "a"]

[fixture.x]
command = ["x"]
"#), @".config/gantry.toml:11:20: fixture.c.depends-on[1]: dependency cycle: a -> b -> c -> a (a fixture starts only after its dependencies are ready, so a cycle can never start; remove one of these dependencies)");
    insta::assert_snapshot!(err(r#"
[fixture.me]
command = ["me"]
depends-on = ["me"]
"#), @".config/gantry.toml:3:15: fixture.me.depends-on[0]: dependency cycle: me -> me (a fixture starts only after its dependencies are ready, so a cycle can never start; remove one of these dependencies)");
}

#[test]
fn dependency_on_a_shorter_scope() {
    insta::assert_snapshot!(err(r#"
[fixture.db]
command = ["db"]
depends-on = ["tx"]

[fixture.tx]
scope = "test"
setup = ["begin"]
"#), @r#".config/gantry.toml:3:15: fixture.db.depends-on[0]: fixture `db` (scope "run") cannot depend on `tx` (scope "test") (a fixture can only depend on fixtures that live at least as long; give `tx` a longer scope or `db` a shorter one)"#);
}

#[test]
fn bad_probes() {
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
ready = { tcp = "127.0.0.1:80", http = "http://127.0.0.1/" }
"#), @".config/gantry.toml:3:33: fixture.a.ready.http: readiness probe has two kinds, `tcp` and `http` (a probe takes exactly one of unix-socket, tcp, http, log or exec; to wait for several things, make `ready` an array of probes)");
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
ready = [{ tcp = "127.0.0.1:80" }, { timeout = "1s" }]
"#), @r#".config/gantry.toml:3:36: fixture.a.ready[1]: readiness probe has no kind (give it exactly one of unix-socket, tcp, http, log or exec, e.g. { tcp = "127.0.0.1:{port}" })"#);
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
ready = { tcp = "localhost" }
"#), @r#".config/gantry.toml:3:17: fixture.a.ready.tcp: invalid address "localhost" (expected HOST:PORT, e.g. "127.0.0.1:{port}")"#);
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
ready = { http = "localhost:{port}/health" }
"#), @r#".config/gantry.toml:3:18: fixture.a.ready.http: invalid URL "localhost:{port}/health" (expected an http:// or https:// URL, e.g. "http://127.0.0.1:{port}/health")"#);
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
ready = { http = "http://localhost/", status = 42 }
"#), @".config/gantry.toml:3:48: fixture.a.ready.status: 42 is not an HTTP status code (expected a number from 100 to 599, e.g. 200)");
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
ready = { tcp = "localhost:1", status = 200 }
"#), @".config/gantry.toml:3:41: fixture.a.ready.status: `status` only applies to `http` probes, not to `tcp` (remove `status`)");
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
ready = { log = "listening on (port" }
"#), @r#".config/gantry.toml:3:17: fixture.a.ready.log: invalid regular expression "listening on (port": unclosed group (the pattern uses Rust `regex` syntax: escape special characters such as `(` with a backslash, which a "..." TOML string spells `\\`)"#);
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
ready = { exec = [] }
"#), @".config/gantry.toml:3:18: fixture.a.ready.exec: the command is empty (give at least the program to run)");
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
ready = { unix-socket = "{run_dir}/s", timeout = "0s" }
"#), @r#".config/gantry.toml:3:50: fixture.a.ready.timeout: the duration must be greater than zero (use e.g. "100ms" or "1s")"#);
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
ready = "tcp://localhost:1"
"#), @".config/gantry.toml:3:9: fixture.a.ready: expected a probe table or an array of them, found a string");
}

#[test]
fn bad_signal_and_stop() {
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
stop = { signal = "SIGSTOP" }
"#), @r#".config/gantry.toml:3:19: fixture.a.stop.signal: unknown stop signal "SIGSTOP" (expected one of TERM, INT, HUP, QUIT, KILL, USR1, USR2, with or without the SIG prefix)"#);
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["a"]
stop = { signal = "TERM", grace = "soon" }
"#), @r#".config/gantry.toml:3:35: fixture.a.stop.grace: invalid duration "soon" (expected a duration such as "30s", "2m" or "1h 30m")"#);
}

#[test]
fn bad_templates() {
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["srv", "--socket", "{rundir}/s.sock"]
"#), @r#".config/gantry.toml:2:31: fixture.a.command[2]: in "{rundir}/s.sock": unknown placeholder `{rundir}` (did you mean `{run_dir}`?)"#);
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["srv"]
env = { CONFIG = "{\"port\": {port}}" }
"#), @r#".config/gantry.toml:3:18: fixture.a.env.CONFIG: in "{\"port\": {port}}": unclosed `{` at character 1 (close the placeholder with `}`, or write `{{` for a literal brace)"#);
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["srv", "--pid-file", "{pid}"]
"#), @r#".config/gantry.toml:2:33: fixture.a.command[2]: in "{pid}": `{pid}` is only available in `export` (the fixture's process id is known only once it has started, after its command line was built)"#);
    insta::assert_snapshot!(err(r#"
[fixture.a]
setup = ["prepare"]
export = { PID = "{pid}" }
"#), @".config/gantry.toml:3:10: fixture.a.export: `{pid}` in `export` needs a `command`, and fixture `a` has none (add the service's `command`, or remove this setting)");
    insta::assert_snapshot!(err(r#"
[fixture.a]
command = ["srv"]
cwd = "{env:}"
"#), @r#".config/gantry.toml:3:7: fixture.a.cwd: in "{env:}": `{env:}` needs a var after the colon (write `{env:VAR}`)"#);
}

#[test]
fn bad_commands() {
    insta::assert_snapshot!(err("[fixture.a]\ncommand = []\n"), @".config/gantry.toml:2:11: fixture.a.command: the command is empty (give at least the program to run)");
    insta::assert_snapshot!(err("[fixture.a]\ncommand = \"srv --port 80\"\n"), @r#".config/gantry.toml:2:11: fixture.a.command: expected an array of strings (program and arguments), found a string (write e.g. ["{bin:echo-server}", "--port", "{port}"]; gantry does not split command strings)"#);
    insta::assert_snapshot!(err("[fixture.a]\nsetup = [\"a\", [\"b\"]]\n"), @r#".config/gantry.toml:2:10: fixture.a.setup[0]: expected a command (an array of strings), found a string (write one command as ["prog", "arg"] or several as [["prog", "arg"], ["other"]])"#);
    insta::assert_snapshot!(err("[fixture.a]\nsetup = [[]]\n"), @".config/gantry.toml:2:10: fixture.a.setup[0]: the command is empty (give at least the program to run)");
    insta::assert_snapshot!(err("[fixture.a]\nscope = \"session\"\ncommand = [\"a\"]\n"), @r#".config/gantry.toml:2:9: fixture.a.scope: invalid scope "session" (expected one of "run", "binary", "test")"#);
    insta::assert_snapshot!(err("[fixture.a]\ncwd = \"/tmp\"\n"), @".config/gantry.toml:1:1: fixture.a: fixture `a` has nothing to run (give it a `command` that starts a service, or `setup`/`teardown` commands)");
    insta::assert_snapshot!(err("[fixture.a]\nsetup = [\"x\"]\nready = { log = \"up\" }\n"), @".config/gantry.toml:3:9: fixture.a.ready.log: a `log` probe needs a `command`, and fixture `a` has none (add the service's `command`, or remove this setting)");
    insta::assert_snapshot!(err("[fixture.a]\nsetup = [\"x\"]\nrestart = \"on-failure\"\n"), @".config/gantry.toml:3:11: fixture.a.restart: `restart` needs a `command`, and fixture `a` has none (add the service's `command`, or remove this setting)");
    insta::assert_snapshot!(err("[fixture.a]\ncommand = [\"a\"]\nrestart = \"always\"\n"), @r#".config/gantry.toml:3:11: fixture.a.restart: invalid restart policy "always" (expected one of "never", "on-failure")"#);
    insta::assert_snapshot!(err("[fixture.\"my db\"]\ncommand = [\"a\"]\n"), @r#".config/gantry.toml:1:10: fixture."my db": invalid fixture name "my db" (fixture names may use letters, digits, `-` and `_`, since they name directories and appear in `depends-on`)"#);
    insta::assert_snapshot!(err("[fixture.a]\ncommand = [\"a\"]\nenv = { \"A=B\" = \"x\" }\n"), @r#".config/gantry.toml:3:9: fixture.a.env."A=B": invalid environment variable name "A=B" (names must be non-empty and contain no `=`)"#);
    insta::assert_snapshot!(err("[fixture.a]\ncommand = [\"a\"]\nfor = \"package(\"\n"), @r#"
        .config/gantry.toml:3:16: fixture.a.for: invalid filter expression: expected `)`
          package(
                  ^
        "#);
}
