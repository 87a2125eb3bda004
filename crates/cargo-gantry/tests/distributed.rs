//! Build once, run shards elsewhere, merge: `archive`, `run --archive
//! --workspace-remap --partition duration:M/4 --results DIR` in separate
//! directories, and `merge` give the same tests and statuses as one run.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use support::{read_events_file, test_key, Output, ProjectSpec, Scenario};

/// A suite of 300 tests in three binaries; every 97th test fails and a few
/// sleep, so shards differ in duration.
fn suite_300() -> &'static ProjectSpec {
    fn tests(prefix: &str, range: std::ops::Range<usize>) -> String {
        let mut s = String::new();
        for i in range {
            let body = if i % 97 == 0 {
                format!("assert_eq!({i} % 2, 3, \"deliberate failure\");")
            } else if i % 41 == 0 {
                "std::thread::sleep(std::time::Duration::from_millis(30));".to_string()
            } else {
                format!("assert_eq!({i} + 1, {} );", i + 1)
            };
            s.push_str(&format!("#[test]\nfn {prefix}_{i:03}() {{ {body} }}\n"));
        }
        s
    }
    let lib = format!(
        "//! Generated.\n\n/// Nothing.\npub fn id(x: u32) -> u32 {{ x }}\n\n#[cfg(test)]\nmod tests {{\n{}}}\n",
        tests("unit", 0..200)
    );
    let a = tests("alpha", 200..250);
    let b = tests("beta", 250..300);
    Box::leak(Box::new(ProjectSpec {
        name: "g300",
        manifest_extra: "",
        files: Box::leak(Box::new([
            ("src/lib.rs", &*Box::leak(lib.into_boxed_str())),
            ("tests/alpha.rs", &*Box::leak(a.into_boxed_str())),
            ("tests/beta.rs", &*Box::leak(b.into_boxed_str())),
        ])),
    }))
}

fn copy_sources(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let dest = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_sources(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

fn statuses_of(events: &[serde_json::Value]) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for e in events.iter().filter(|e| e["type"] == "test-finished") {
        let prev = map.insert(test_key(e), e["status"].as_str().unwrap().to_string());
        assert!(prev.is_none(), "{} reported twice", test_key(e));
    }
    map
}

#[test]
fn archived_shards_merge_into_the_single_run_slow() {
    let sc = Scenario::new(suite_300(), "distributed");
    // One ordinary run: the reference, and the duration history that the
    // `duration:` partition of the shards balances by.
    // Archives hold the test binaries of the target directory: build there
    // rather than in the suite's shared build directory.
    let events = sc.events_path();
    let mut cmd = sc.command(&[
        "run",
        "--no-fail-fast",
        "--events",
        events.to_str().unwrap(),
    ]);
    cmd.env_remove("CARGO_BUILD_BUILD_DIR");
    let o = cmd.output().expect("gantry runs");
    let single = Output {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        events: read_events_file(&events),
    };
    single.assert_code(100);
    let expected = single.statuses();
    assert_eq!(expected.len(), 300, "{single}");
    assert_eq!(single.with_status("failed").len(), 4, "{single}");

    let archive = sc.dir.join("suite.tar.zst");
    let o = sc
        .command(&["archive", "-o", archive.to_str().unwrap()])
        .env_remove("CARGO_BUILD_BUILD_DIR")
        .output()
        .expect("gantry runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let mut results: Vec<PathBuf> = Vec::new();
    let mut per_shard = Vec::new();
    for m in 1..=4 {
        // Each shard runs in a directory of its own, as on another machine.
        let ws = sc.dir.join(format!("machine-{m}"));
        std::fs::create_dir_all(&ws).unwrap();
        copy_sources(&sc.project, &ws);
        let res = sc.dir.join(format!("results-{m}"));
        let partition = format!("duration:{m}/4");
        let shard: Output = {
            let mut cmd = sc.command(&[
                "run",
                "--archive",
                archive.to_str().unwrap(),
                "--workspace-remap",
                ws.to_str().unwrap(),
                "--partition",
                &partition,
                "--results",
                res.to_str().unwrap(),
                "--no-fail-fast",
            ]);
            cmd.current_dir(&ws)
                .env_remove("CARGO_TARGET_DIR")
                .env_remove("CARGO_BUILD_BUILD_DIR");
            let o = cmd.output().expect("gantry runs");
            Output {
                code: o.status.code(),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                events: Vec::new(),
            }
        };
        assert!(
            matches!(shard.code, Some(0) | Some(100)),
            "shard {m} failed to run; {shard}"
        );
        assert!(
            !shard.stderr.contains("Compiling"),
            "a shard must not build; {shard}"
        );
        let events = read_events_file(&res.join("events.jsonl"));
        per_shard.push(statuses_of(&events).len());
        results.push(res);
    }
    assert!(
        per_shard.iter().all(|&n| n > 0),
        "every shard gets tests: {per_shard:?}"
    );

    let merged_dir = sc.dir.join("merged");
    let mut args = vec!["merge".to_string()];
    args.extend(results.iter().map(|r| r.display().to_string()));
    args.extend(["-o".to_string(), merged_dir.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let merge = sc.gantry(&args);
    merge.assert_code(100);
    assert!(
        merge.stderr.contains("296 passed, 4 failed"),
        "merged closing line; {merge}"
    );
    let merged = statuses_of(&read_events_file(&merged_dir.join("events.jsonl")));
    assert_eq!(
        merged, expected,
        "merged results differ from the single run"
    );
    let junit = std::fs::read_to_string(merged_dir.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 300);

    // Merging a shard twice is reported, not silently double-counted.
    let twice = sc.gantry(&[
        "merge",
        results[0].to_str().unwrap(),
        results[0].to_str().unwrap(),
        "-o",
        sc.dir.join("merged-twice").to_str().unwrap(),
    ]);
    assert_ne!(twice.code, Some(0), "{twice}");
    assert!(
        twice.stderr.contains("twice")
            || twice.stderr.contains("duplicate")
            || twice.stderr.contains("more than one"),
        "{twice}"
    );
}
