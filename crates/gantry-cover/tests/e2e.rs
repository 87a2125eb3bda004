//! The coverage engine end to end, with the real llvm tools, on a tiny
//! generated service (`tests/fixture`): instrumented through the wrapper,
//! run as a test suite and as a daemon stopped by signal, merged, reported,
//! gated.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use gantry_cover::ratchet::{self, Measurement};
use gantry_cover::{
    export_report, fixture_killed_warning, merge_inputs, render, CoverError, CoverPaths,
    CoverSession, CoverWarning, CoverageReport, ExportRequest, IgnoreRules, LlvmTools,
    MergeOptions, ProfileMerger,
};

const FIXTURE_FILES: [&str; 5] = [
    "Cargo.toml",
    "src/lib.rs",
    "src/extra.rs",
    "src/main.rs",
    "tests/server.rs",
];

/// The fixture project, built once per test run.
struct Built {
    root: PathBuf,
    target_dir: PathBuf,
    tools: LlvmTools,
    lib_test: PathBuf,
    server_test: PathBuf,
    bin: PathBuf,
    objects: Vec<PathBuf>,
}

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gantry-cover-e2e")
}

fn session(b: &Built) -> CoverSession {
    CoverSession::new(
        &b.root,
        &b.target_dir,
        Path::new(env!("CARGO_BIN_EXE_gantry-cover-rustc")),
    )
}

/// A session whose profiles go to a directory of the scenario's own, so
/// that tests running in parallel do not see each other's files.
fn scenario(b: &Built, name: &str) -> CoverSession {
    let dir = tmp().join("scenarios").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let mut s = session(b);
    s.paths = CoverPaths {
        target_dir: s.paths.target_dir.clone(),
        profraw_dir: dir.join("profraw"),
        profdata: dir.join("merged.profdata"),
        env_target_dir: dir.join("env"),
    };
    s.prepare().unwrap();
    s
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture");
        let root = tmp().join("lineserver");
        for f in FIXTURE_FILES {
            let text = std::fs::read_to_string(src.join(f)).unwrap();
            let dest = root.join(f);
            // Rewritten only when changed, so that cargo does not rebuild.
            if std::fs::read_to_string(&dest).ok().as_deref() != Some(text.as_str()) {
                std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                std::fs::write(&dest, text).unwrap();
            }
        }
        let target_dir = tmp().join("target");
        let tools = LlvmTools::find().expect("llvm-tools are installed");
        let mut b = Built {
            root: root.clone(),
            target_dir,
            tools,
            lib_test: PathBuf::new(),
            server_test: PathBuf::new(),
            bin: PathBuf::new(),
            objects: Vec::new(),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "test",
                "--no-run",
                "--message-format=json",
                "--manifest-path",
            ])
            .arg(root.join("Cargo.toml"))
            .envs(session(&b).build_env())
            .env_remove("RUSTFLAGS")
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "building the fixture failed");
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let Some(exe) = v["executable"].as_str() else {
                continue;
            };
            let exe = PathBuf::from(exe);
            let kind = v["target"]["kind"][0].as_str().unwrap();
            let test = v["profile"]["test"].as_bool().unwrap();
            match (kind, test) {
                ("lib", true) => b.lib_test = exe.clone(),
                ("test", true) => b.server_test = exe.clone(),
                ("bin", false) => b.bin = exe.clone(),
                _ => {}
            }
            b.objects.push(exe);
        }
        assert_eq!(
            b.objects.len(),
            4,
            "lib, bin and integration tests, bin: {:?}",
            b.objects
        );
        b
    })
}

/// Runs a test binary with the session's test environment.
fn run_test_binary(s: &CoverSession, exe: &Path) {
    let out = Command::new(exe).envs(s.test_env()).output().unwrap();
    assert!(
        out.status.success(),
        "{} failed:\n{}{}",
        exe.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn merge(b: &Built, s: &CoverSession) -> PathBuf {
    let outcome = ProfileMerger::new(b.tools.clone(), &s.paths)
        .finish()
        .unwrap();
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    outcome.profdata.expect("profiles were merged")
}

fn report_with(b: &Built, profdata: &Path, ignore: &IgnoreRules) -> CoverageReport {
    let (report, warnings) = export_report(
        &b.tools,
        &ExportRequest {
            profdata,
            objects: &b.objects,
            ignore,
            source_root: &b.root,
        },
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    report
}

fn default_ignore(b: &Built) -> IgnoreRules {
    session(b).ignore_rules(false)
}

/// Merged profiles of the unit tests alone, of the integration test alone,
/// and of both in one run.
struct Profiles {
    unit: PathBuf,
    integration: PathBuf,
    both: PathBuf,
}

fn profiles() -> &'static Profiles {
    static PROFILES: OnceLock<Profiles> = OnceLock::new();
    PROFILES.get_or_init(|| {
        let b = built();
        let unit = scenario(b, "unit");
        run_test_binary(&unit, &b.lib_test);
        let integration = scenario(b, "integration");
        run_test_binary(&integration, &b.server_test);
        let both = scenario(b, "both");
        run_test_binary(&both, &b.lib_test);
        run_test_binary(&both, &b.server_test);
        Profiles {
            unit: merge(b, &unit),
            integration: merge(b, &integration),
            both: merge(b, &both),
        }
    })
}

fn line_of(b: &Built, file: &str, needle: &str) -> u32 {
    let text = std::fs::read_to_string(b.root.join(file)).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1
}

#[test]
fn service_code_is_covered_only_through_the_running_server() {
    let b = built();
    let p = profiles();
    let ignore = default_ignore(b);
    let reply_line = line_of(b, "src/lib.rs", "echo <{line}>");

    let unit = report_with(b, &p.unit, &ignore);
    assert_eq!(unit.function_hits("lineserver::handle_line"), Some(0));
    assert_eq!(unit.function_hits("lineserver::add"), Some(1));
    assert_eq!(unit.file("src/lib.rs").unwrap().hits(reply_line), Some(0));
    assert_eq!(unit.file("src/main.rs").unwrap().summary.lines.covered, 0);

    let both = report_with(b, &p.both, &ignore);
    // PING and one other line, through the server process the test started.
    assert_eq!(both.function_hits("lineserver::handle_line"), Some(2));
    assert_eq!(both.file("src/lib.rs").unwrap().hits(reply_line), Some(1));
    assert!(both.file("src/main.rs").unwrap().summary.lines.covered > 10);
    assert!(both.totals.lines.covered > unit.totals.lines.covered);
    assert_eq!(both.totals.lines.count, unit.totals.lines.count);
    // The test's own file is left out, as cargo-llvm-cov leaves it out.
    assert!(both.files.iter().all(|f| !f.path.starts_with("tests/")));

    let text = render::summary_text(&both);
    let last = text.lines().last().unwrap();
    let t = &both.totals;
    assert_eq!(
        last,
        format!(
            "coverage: lines {:.2}% ({}/{}), functions {:.2}% ({}/{}), regions {:.2}% ({}/{})",
            t.lines.percent(),
            t.lines.covered,
            t.lines.count,
            t.functions.percent(),
            t.functions.covered,
            t.functions.count,
            t.regions.percent(),
            t.regions.covered,
            t.regions.count
        )
    );
    assert!(text.contains("src/lib.rs"), "{text}");
}

#[test]
fn killed_process_leaves_no_profile_and_a_warning() {
    let b = built();
    let s = scenario(b, "killed");
    // Started like a fixture: from the workspace binary, with the fixture's
    // profile file, and stopped by signal.
    let start = |env: Vec<(String, String)>| -> (Child, u16) {
        let mut child = Command::new(&b.bin)
            .envs(env)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut port)
            .unwrap();
        (child, port.trim().parse().unwrap())
    };
    let talk = |port: u16| {
        use std::io::Write;
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"PING\n").unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = String::new();
        BufReader::new(c).read_line(&mut reply).unwrap();
        assert_eq!(reply, "PONG\n");
    };
    let (mut killed, port) = start(s.fixture_env("lineserver"));
    talk(port);
    killed.kill().unwrap();
    killed.wait().unwrap();
    // A process gantry does not start, with the `cover env` variables.
    let (mut stopped, port) = start(
        s.manual_env(None)
            .into_iter()
            .filter(|(k, _)| k == "LLVM_PROFILE_FILE")
            .collect(),
    );
    talk(port);
    let status = Command::new("kill")
        .args(["-TERM", &stopped.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(stopped.wait().unwrap().success());

    let names: Vec<String> = std::fs::read_dir(&s.paths.profraw_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].starts_with(&format!("env-{}-", stopped.id())),
        "{names:?}"
    );

    let mut merger = ProfileMerger::new(b.tools.clone(), &s.paths);
    merger.expect_profile(killed.id(), "fixture lineserver");
    merger.expect_profile(stopped.id(), "service started by hand");
    let outcome = merger.finish().unwrap();
    assert_eq!(outcome.merged_files, 1);
    assert_eq!(
        outcome.warnings,
        [CoverWarning::MissingProfile {
            pid: killed.id(),
            what: "fixture lineserver".into()
        }]
    );
    assert_eq!(
        outcome.warnings[0].to_string(),
        format!(
            "fixture lineserver (pid {}) wrote no coverage profile: it was killed or crashed before exiting normally, so its coverage is missing from the report",
            killed.id()
        )
    );
    let report = report_with(b, &outcome.profdata.unwrap(), &default_ignore(b));
    assert_eq!(report.function_hits("lineserver::handle_line"), Some(1));
    assert!(
        fixture_killed_warning("lineserver", "SIGTERM", std::time::Duration::from_secs(5))
            .starts_with("fixture `lineserver` did not exit within its 5s grace period")
    );
}

#[test]
fn profiles_are_merged_as_they_come_and_broken_ones_skipped() {
    let b = built();
    let s = scenario(b, "incremental");
    let mut merger = ProfileMerger::new(b.tools.clone(), &s.paths).with_options(MergeOptions {
        batch_files: 2,
        batch_bytes: u64::MAX,
    });
    let count = || std::fs::read_dir(&s.paths.profraw_dir).unwrap().count();
    run_test_binary(&s, &b.lib_test);
    assert_eq!(merger.poke().unwrap(), 0, "one file waits for a batch");
    assert_eq!(count(), 1);
    run_test_binary(&s, &b.lib_test);
    assert_eq!(merger.poke().unwrap(), 2);
    assert_eq!(count(), 0, "merged files are deleted");
    assert!(s.paths.profdata.is_file());

    // A crashed writer's leftovers: a truncated profile and an empty one,
    // named for processes that no longer exist.
    run_test_binary(&s, &b.lib_test);
    let good = std::fs::read_dir(&s.paths.profraw_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = s.paths.profraw_dir.join("test-4190001-1_0.profraw");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let empty = s.paths.profraw_dir.join("test-4190002-1_0.profraw");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(merger.merge_finished().unwrap(), 2);
    assert_eq!(count(), 0);
    let outcome = merger.finish().unwrap();
    assert_eq!(outcome.merged_files, 4);
    assert_eq!(outcome.warnings.len(), 2, "{:?}", outcome.warnings);
    assert!(outcome
        .warnings
        .contains(&CoverWarning::EmptyProfile { path: empty }));
    let corrupt = outcome
        .warnings
        .iter()
        .find(|w| matches!(w, CoverWarning::CorruptProfile { path, .. } if *path == truncated))
        .expect("the truncated profile is named");
    assert!(
        corrupt.to_string().starts_with(&format!(
            "skipped unreadable coverage profile {}",
            truncated.display()
        )),
        "{corrupt}"
    );
    // The run still reports, with the three good runs counted.
    let report = report_with(b, &outcome.profdata.unwrap(), &default_ignore(b));
    assert_eq!(report.function_hits("lineserver::add"), Some(3));
}

#[test]
fn shards_merge_into_one_report() {
    let b = built();
    let p = profiles();
    let out = tmp().join("scenarios/shards/merged.profdata");
    let _ = std::fs::remove_file(&out);
    let warnings = merge_inputs(&b.tools, &[p.unit.clone(), p.integration.clone()], &out).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let ignore = default_ignore(b);
    let merged = report_with(b, &out, &ignore);
    let both = report_with(b, &p.both, &ignore);
    assert_eq!(merged.totals, both.totals);
    // The same lines ran (how often the server's accept loop spun is up to
    // the scheduler).
    let ran = |r: &CoverageReport| -> Vec<(String, u32, bool)> {
        r.files
            .iter()
            .flat_map(|f| {
                f.lines
                    .iter()
                    .map(move |l| (f.path.clone(), l.line, l.count > 0))
            })
            .collect()
    };
    assert_eq!(ran(&merged), ran(&both));
    assert_eq!(
        merged.function_hits("lineserver::handle_line"),
        both.function_hits("lineserver::handle_line")
    );

    // A directory of raw profiles is an input too.
    let s = scenario(b, "shard-dir");
    run_test_binary(&s, &b.server_test);
    let out2 = tmp().join("scenarios/shards/merged2.profdata");
    merge_inputs(
        &b.tools,
        &[p.unit.clone(), s.paths.profraw_dir.clone()],
        &out2,
    )
    .unwrap();
    assert_eq!(report_with(b, &out2, &ignore).totals, both.totals);
    let err = merge_inputs(&b.tools, &[tmp().join("scenarios/shards/nothing")], &out2);
    assert!(err.is_err());
}

#[test]
fn exclusions_change_the_totals() {
    let b = built();
    let p = profiles();
    let defaults = report_with(b, &p.both, &default_ignore(b));
    let extra = defaults.file("src/extra.rs").expect("extra.rs is reported");
    assert_eq!(extra.summary.lines.covered, 0);

    let mut ignore = default_ignore(b);
    ignore.add(r"src/extra\.rs$").unwrap();
    let fewer = report_with(b, &p.both, &ignore);
    assert!(fewer.file("src/extra.rs").is_none());
    assert_eq!(
        fewer.totals.lines.count,
        defaults.totals.lines.count - extra.summary.lines.count
    );
    assert_eq!(fewer.totals.lines.covered, defaults.totals.lines.covered);
    assert!(fewer.totals.lines.percent() > defaults.totals.lines.percent());

    // Keeping the tests' own sources adds them.
    let with_tests = session(b).ignore_rules(true);
    let more = report_with(b, &p.both, &with_tests);
    assert!(more.file("tests/server.rs").is_some());
    assert!(more.totals.lines.count > defaults.totals.lines.count);
}

/// `DA` lines per file from an LCOV tracefile.
fn lcov_lines(text: &str) -> BTreeMap<String, Vec<(u32, u64)>> {
    let mut out: BTreeMap<String, Vec<(u32, u64)>> = BTreeMap::new();
    let mut file = String::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("SF:") {
            file = f.to_string();
            out.entry(file.clone()).or_default();
        } else if let Some(da) = line.strip_prefix("DA:") {
            let mut it = da.split(',');
            let n = it.next().unwrap().parse().unwrap();
            let c = it.next().unwrap().parse().unwrap();
            out.get_mut(&file).unwrap().push((n, c));
        }
    }
    out
}

#[test]
fn every_format_agrees_with_llvm_cov() {
    let b = built();
    let p = profiles();
    let ignore = default_ignore(b);
    let report = report_with(b, &p.both, &ignore);

    // Our per-line counts are llvm-cov's own lcov export, line for line.
    let mut args = vec![
        "export".to_string(),
        "-format=lcov".into(),
        format!("-instr-profile={}", p.both.display()),
        format!("-ignore-filename-regex={}", ignore.combined().unwrap()),
    ];
    for o in &b.objects {
        args.push("-object".into());
        args.push(o.display().to_string());
    }
    let out = Command::new(&b.tools.cov).args(&args).output().unwrap();
    assert!(out.status.success());
    let theirs = lcov_lines(&String::from_utf8(out.stdout).unwrap());
    let ours_text = render::lcov(&report);
    let ours = lcov_lines(&ours_text);
    assert_eq!(ours, theirs);
    for f in &report.files {
        assert_eq!(f.lines.len() as u64, f.summary.lines.count, "{}", f.path);
    }
    let lf: u64 = ours_text
        .lines()
        .filter_map(|l| l.strip_prefix("LF:"))
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(lf, report.totals.lines.count);

    // Cobertura: well-formed XML whose totals are the report's.
    let xml = render::cobertura(&report, 1_700_000_000);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut root_attrs = BTreeMap::new();
    let mut classes = Vec::new();
    loop {
        match reader.read_event().expect("valid XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attrs: BTreeMap<String, String> = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                            a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                                .unwrap()
                                .into_owned(),
                        )
                    })
                    .collect();
                match e.name().as_ref() {
                    b"coverage" => root_attrs = attrs,
                    b"class" => classes.push(attrs["filename"].clone()),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        root_attrs["lines-valid"],
        report.totals.lines.count.to_string()
    );
    assert_eq!(
        root_attrs["lines-covered"],
        report.totals.lines.covered.to_string()
    );
    assert_eq!(classes, ["src/extra.rs", "src/lib.rs", "src/main.rs"]);

    // HTML: an index and escaped, annotated sources.
    let dir = tmp().join("scenarios/html");
    let _ = std::fs::remove_dir_all(&dir);
    render::write_html(&report, &dir).unwrap();
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(index.contains(&report.totals.closing_line()), "{index}");
    let page = |suffix: &str| {
        let path = std::fs::read_dir(dir.join("files"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap();
        std::fs::read_to_string(path).unwrap()
    };
    let lib = page("src_lib.rs.html");
    assert!(
        lib.contains("format!(&quot;echo &lt;{line}&gt;&quot;)"),
        "{lib}"
    );
    assert!(!lib.contains("<{line}>"));
    assert!(!lib.contains("http"), "self-contained");
    assert!(lib.contains("<tr class=\"hit\" id=\"L10\">"), "{lib}");
    assert!(page("src_extra.rs.html").contains("<tr class=\"miss\" id=\"L5\">"));

    // JSON round-trips.
    let back = render::from_json(&render::json(&report)).unwrap();
    assert_eq!(back, report);
}

#[test]
fn the_ratchet_gates_on_measured_coverage() {
    let b = built();
    let p = profiles();
    let ignore = default_ignore(b);
    let both = report_with(b, &p.both, &ignore);
    let unit = report_with(b, &p.unit, &ignore);
    let path = tmp().join("scenarios/ratchet").join(ratchet::RATCHET_FILE);
    let _ = std::fs::remove_file(&path);
    let measured = |r: &CoverageReport| Measurement {
        lines_percent: r.totals.lines.percent(),
        ignore_filename_regex: vec![],
        features: vec![],
    };
    let missing = ratchet::check(&path, "x86_64", &measured(&both)).unwrap_err();
    assert!(matches!(missing, CoverError::GateMissing { .. }));
    ratchet::update(&path, "x86_64", &measured(&both), false).unwrap();
    ratchet::check(&path, "x86_64", &measured(&both)).unwrap();
    // Losing the integration test loses the service's coverage: the gate
    // fails with both figures.
    let fell = ratchet::check(&path, "x86_64", &measured(&unit)).unwrap_err();
    assert!(fell.is_gate_failure());
    let text = fell.to_string();
    assert!(
        text.starts_with(&format!(
            "line coverage fell from {:.2}% to {:.2}%",
            both.totals.lines.percent(),
            unit.totals.lines.percent()
        )),
        "{text}"
    );
    assert!(ratchet::update(&path, "x86_64", &measured(&unit), false).is_err());
}

#[test]
fn missing_llvm_tools_say_how_to_install_them() {
    let dir = tmp().join("scenarios/bogus-rustc");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("rustc");
    std::fs::write(
        &script,
        "#!/bin/sh\nif [ \"$1\" = --print ]; then echo /nonexistent/sysroot; exit 0; fi\nexec rustc \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = LlvmTools::find_with(script.as_os_str()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, CoverError::LlvmToolsMissing { .. }));
    assert!(
        text.starts_with("llvm-tools are not installed for this toolchain (llvm-profdata not found in /nonexistent/sysroot/lib/rustlib/"),
        "{text}"
    );
    assert!(
        text.ends_with("run `rustup component add llvm-tools`"),
        "{text}"
    );
    assert!(!err.is_gate_failure());
}

#[test]
fn the_wrapper_instruments_and_sets_cfg_coverage() {
    let b = built();
    for o in &b.objects {
        assert!(gantry_cover::is_instrumented(o), "{}", o.display());
    }
    // The fixture's unit test asserts `cfg!(coverage)`; the `unit` profile
    // exists only if it passed.
    assert!(profiles().unit.is_file());
    let names = vec!["lineserver".to_string()];
    let profile_dir = session(b).paths.target_dir.join("debug");
    let found = gantry_cover::discover_objects(&profile_dir, &names).unwrap();
    let mut expected: Vec<PathBuf> = b
        .objects
        .iter()
        .filter(|o| found.contains(o))
        .cloned()
        .collect();
    expected.sort();
    assert!(
        found.contains(&b.bin) && found.contains(&b.lib_test),
        "{found:?}"
    );
    assert!(found
        .iter()
        .all(|f| !f.to_string_lossy().contains("/build/")));
    assert_eq!(
        expected.len(),
        3,
        "lib test, bin test and bin by name: {found:?}"
    );
}

#[test]
fn merging_in_the_background_and_from_a_pool() {
    let b = built();
    // Per-process files, merged by the background thread as they finish.
    let s = scenario(b, "background");
    let merger = ProfileMerger::new(b.tools.clone(), &s.paths)
        .with_options(MergeOptions {
            batch_files: 1,
            batch_bytes: u64::MAX,
        })
        .spawn(None);
    run_test_binary(&s, &b.lib_test);
    merger.poke();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(&s.paths.profraw_dir).unwrap().count() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the poke merged nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    run_test_binary(&s, &b.lib_test);
    let outcome = merger.finish().unwrap();
    assert_eq!(outcome.merged_files, 2);
    let report = report_with(b, &outcome.profdata.unwrap(), &default_ignore(b));
    assert_eq!(report.function_hits("lineserver::add"), Some(2));

    // A merge pool of one file per binary: processes merge into it online,
    // so three runs leave one file, merged only at the end.
    let mut pooled = scenario(b, "pool");
    pooled.naming = gantry_cover::ProfileNaming::Pool(1);
    for _ in 0..3 {
        run_test_binary(&pooled, &b.lib_test);
    }
    assert_eq!(
        std::fs::read_dir(&pooled.paths.profraw_dir)
            .unwrap()
            .count(),
        1
    );
    let mut merger = ProfileMerger::new(b.tools.clone(), &pooled.paths);
    assert_eq!(
        merger.poke().unwrap(),
        0,
        "pool files may still be written to"
    );
    let outcome = merger.finish().unwrap();
    assert_eq!(outcome.merged_files, 1);
    let report = report_with(b, &outcome.profdata.unwrap(), &default_ignore(b));
    assert_eq!(report.function_hits("lineserver::add"), Some(3));
}
