//! The scenario projects, as source templates.
//!
//! Each project is a standalone workspace that depends on nothing. Tests in
//! them find the directory for their markers (pid files, run logs) in the
//! `E2E_MARKERS` environment variable, which the driver sets per scenario.

/// A generated cargo project: its package name, extra manifest text and
/// files (path relative to the project root, contents).
pub struct ProjectSpec {
    /// Package (and directory) name.
    pub name: &'static str,
    /// Manifest text after the `[package]` table and `[workspace]`.
    pub manifest_extra: &'static str,
    /// Files other than `Cargo.toml` and `Cargo.lock`.
    pub files: &'static [(&'static str, &'static str)],
}

/// Helpers pasted into test modules of the scenario projects.
macro_rules! marker_helpers {
    () => {
        r#"
    /// The directory for markers, from the driver.
    #[allow(dead_code)]
    fn markers() -> std::path::PathBuf {
        std::path::PathBuf::from(std::env::var("E2E_MARKERS").expect("E2E_MARKERS is set"))
    }

    /// Appends `<name> <pid>` to `runs.log`: which process ran which test.
    #[allow(dead_code)]
    fn log_run(name: &str) {
        use std::io::Write;
        let dir = markers();
        std::fs::create_dir_all(&dir).unwrap();
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("runs.log"))
            .unwrap();
        log.write_all(format!("{name} {}\n", std::process::id()).as_bytes())
            .unwrap();
    }

    /// Writes `<name>.pids` (`<test pid> <grandchild pid>`) atomically.
    #[allow(dead_code)]
    fn write_pids(name: &str, grandchild: u32) {
        let dir = markers();
        std::fs::create_dir_all(&dir).unwrap();
        let tmp = dir.join(format!("{name}.pids.tmp"));
        std::fs::write(&tmp, format!("{} {grandchild}\n", std::process::id())).unwrap();
        std::fs::rename(&tmp, dir.join(format!("{name}.pids"))).unwrap();
    }
"#
    };
}

/// One library, two integration tests and a binary with unit tests:
/// passing, failing, panicking, flaky, printing and ignored tests.
pub const GSCN: ProjectSpec = ProjectSpec {
    name: "gscn",
    manifest_extra: r#"
[[bin]]
name = "gscn-cli"
path = "src/main.rs"
"#,
    files: &[
        (
            ".config/gantry.toml",
            r#"[tiers]
smoke = "binary_id(gscn::it_*) & test(/^(alpha|beta)_/)"
units = "kind(lib) | kind(bin)"

[profile.maxfail2]
max-fail = 2
execution = "process"
jobs = 1

[profile.strict]
retries = 1
flaky-fails = true
fail-fast = false
"#,
        ),
        (
            "src/lib.rs",
            r#"//! A small library with a mix of tests.

/// Adds two numbers.
///
/// ```
/// assert_eq!(gscn::add(2, 3), 5);
/// ```
pub fn add(a: u32, b: u32) -> u32 {
    a + b
}

/// Subtracts; its example is wrong.
///
/// ```
/// assert_eq!(gscn::sub(3, 1), 1, "a doctest that fails");
/// ```
pub fn sub(a: u32, b: u32) -> u32 {
    a - b
}

/// Not a runnable example.
///
/// ```ignore
/// this is not rust
/// ```
pub fn not_runnable() {}

#[cfg(test)]
mod tests {
    use super::add;

    #[test]
    fn passes() {
        assert_eq!(add(2, 2), 4);
    }

    #[test]
    fn fails_assert() {
        assert_eq!(add(1, 1), 3, "one and one");
    }

    #[test]
    fn panics() {
        panic!("boom from panics");
    }

    #[test]
    fn flaky() {
        let attempt = std::env::var("GANTRY_ATTEMPT").unwrap_or_default();
        println!("flaky attempt {attempt}");
        assert_ne!(attempt, "1", "flaky fails on the first attempt");
    }

    #[test]
    fn prints_output() {
        println!("hello from stdout");
        eprintln!("hello from stderr");
    }

    #[test]
    fn prints_env() {
        let var = |k: &str| std::env::var(k).unwrap_or_else(|_| format!("<{k} unset>"));
        for k in [
            "GANTRY",
            "GANTRY_ATTEMPT",
            "GANTRY_RUN_ID",
            "CARGO_PKG_NAME",
            "CARGO_MANIFEST_DIR",
        ] {
            println!("{k}={}", var(k));
        }
        let cwd = std::env::current_dir().unwrap();
        println!("CWD={}", cwd.display());
        assert_eq!(var("GANTRY"), "1");
        assert_eq!(var("GANTRY_ATTEMPT"), "1");
        assert_eq!(var("CARGO_PKG_NAME"), "gscn");
        assert_eq!(var("CARGO_MANIFEST_DIR"), env!("CARGO_MANIFEST_DIR"));
        assert_eq!(cwd, std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(!var("GANTRY_RUN_ID").is_empty());
    }

    #[test]
    #[ignore]
    fn ignored_test() {
        println!("the ignored test ran");
    }
}
"#,
        ),
        (
            "src/main.rs",
            r#"//! A binary with unit tests of its own.

fn main() {
    println!("gscn-cli {}", gscn::add(1, 2));
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_works() {
        assert_eq!(gscn::add(1, 2), 3);
    }
}
"#,
        ),
        (
            "tests/it_a.rs",
            r#"//! First integration test.

#[test]
fn alpha_one() {}

#[test]
fn alpha_two() {}

#[test]
fn shared_name() {}

#[test]
fn runs_cli() {
    let exe = std::env::var("CARGO_BIN_EXE_gscn-cli").expect("CARGO_BIN_EXE_gscn-cli is set");
    let out = std::process::Command::new(exe).output().expect("the cli runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "gscn-cli 3");
    assert_eq!(std::env::var("CARGO_CRATE_NAME").as_deref(), Ok("it_a"));
    let tmp = std::env::var("CARGO_TARGET_TMPDIR").expect("CARGO_TARGET_TMPDIR is set");
    assert!(std::path::Path::new(&tmp).is_dir(), "{tmp}");
}
"#,
        ),
        (
            "tests/it_b.rs",
            r#"//! Second integration test.

#[test]
fn beta_one() {}

#[test]
fn beta_two() {}

#[test]
fn shared_name() {}

#[test]
#[ignore]
fn beta_ignored() {}
"#,
        ),
    ],
};

/// Tests that take their process down (abort, exit) or panic, between
/// innocent ones, in one binary: batches have to isolate the culprits.
pub const GCRASH: ProjectSpec = ProjectSpec {
    name: "gcrash",
    manifest_extra: "",
    files: &[(
        "src/lib.rs",
        concat!(
            r#"//! Crashing tests among innocent ones.

#[cfg(test)]
mod tests {"#,
            marker_helpers!(),
            r#"
    #[test]
    fn a_ok() {
        log_run("a_ok");
    }

    #[test]
    fn b_aborts() {
        log_run("b_aborts");
        std::process::abort();
    }

    #[test]
    fn c_ok() {
        log_run("c_ok");
    }

    #[test]
    fn d_ok() {
        log_run("d_ok");
    }

    #[test]
    fn e_exits_3() {
        log_run("e_exits_3");
        std::process::exit(3);
    }

    #[test]
    fn f_ok() {
        log_run("f_ok");
    }

    #[test]
    fn g_ok() {
        log_run("g_ok");
    }

    #[test]
    fn h_panics() {
        log_run("h_panics");
        panic!("h panics");
    }

    #[test]
    fn i_ok() {
        log_run("i_ok");
    }

    #[test]
    fn j_ok() {
        log_run("j_ok");
    }

    #[test]
    fn k_ok() {
        log_run("k_ok");
    }

    #[test]
    fn l_ok() {
        log_run("l_ok");
    }

    /// Prints what libtest prints after a passing test and at the end of a
    /// run, then fails.
    #[test]
    fn trailer_lookalike() {
        println!("ok");
        println!();
        println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s");
        panic!("fails after printing a libtest trailer");
    }

    #[test]
    fn trailer_zz_after() {}
}
"#
        ),
    )],
};

/// Tests that hang, ignore SIGTERM, leave grandchildren behind or wait for
/// a signal; the config times tests out after 2 × 500 ms.
pub const GHANG: ProjectSpec = ProjectSpec {
    name: "ghang",
    manifest_extra: "",
    files: &[
        (
            ".config/gantry.toml",
            r#"[profile.default]
slow-timeout = "500ms"
terminate-after = 2
grace-period = "200ms"
fail-fast = false

[[profile.default.overrides]]
filter = "test(/signal_/)"
slow-timeout = "120s"

[[profile.default.overrides]]
filter = "test(/serial_/)"
test-group = "serial"

[test-groups.serial]
max-threads = 1
"#,
        ),
        (
            "src/lib.rs",
            concat!(
                r#"//! Hanging tests, grandchildren and signals.

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::Duration;

    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }

    /// Makes this process ignore a signal.
    fn ignore_signal(signum: i32) {
        // SIG_IGN is 1.
        unsafe {
            signal(signum, 1);
        }
    }

    const SIGHUP: i32 = 1;
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
"#,
                marker_helpers!(),
                r#"
    /// Starts `sleep 300` in this test's process group and records it.
    fn spawn_sleeper(name: &str) {
        let child = Command::new("sleep").arg("300").spawn().expect("sleep starts");
        write_pids(name, child.id());
        std::mem::forget(child);
    }

    /// Starts a `sleep 300` that ignores SIGINT, SIGTERM and SIGHUP.
    fn spawn_stubborn_sleeper(name: &str) {
        let child = Command::new("sh")
            .args(["-c", "trap '' INT TERM HUP; exec sleep 300"])
            .spawn()
            .expect("sh starts");
        write_pids(name, child.id());
        std::mem::forget(child);
    }

    #[test]
    fn hangs_with_grandchild() {
        spawn_sleeper("hangs_with_grandchild");
        std::thread::sleep(Duration::from_secs(60));
    }

    #[test]
    fn ignores_sigterm() {
        ignore_signal(SIGTERM);
        spawn_stubborn_sleeper("ignores_sigterm");
        std::thread::sleep(Duration::from_secs(60));
    }

    #[test]
    fn passes_with_grandchild() {
        spawn_sleeper("passes_with_grandchild");
    }

    #[test]
    fn quick() {
        println!("quick test");
    }

    #[test]
    fn batch_a1() {
        log_run("batch_a1");
    }

    #[test]
    fn batch_a2_hangs() {
        log_run("batch_a2_hangs");
        std::thread::sleep(Duration::from_secs(60));
    }

    #[test]
    fn batch_b1() {
        log_run("batch_b1");
    }

    #[test]
    fn batch_b2() {
        log_run("batch_b2");
    }

    #[test]
    fn batch_c1() {
        log_run("batch_c1");
    }

    #[test]
    fn batch_c2() {
        log_run("batch_c2");
    }

    #[test]
    fn batch_d1() {
        log_run("batch_d1");
    }

    #[test]
    fn batch_d2() {
        log_run("batch_d2");
    }

    /// Appends `<event> <name> <nanoseconds since the epoch>` to `times.log`.
    fn log_time(event: &str, name: &str) {
        use std::io::Write;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = markers();
        std::fs::create_dir_all(&dir).unwrap();
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("times.log"))
            .unwrap();
        log.write_all(format!("{event} {name} {nanos}\n").as_bytes())
            .unwrap();
    }

    fn serial(name: &str) {
        log_time("start", name);
        std::thread::sleep(Duration::from_millis(300));
        log_time("end", name);
    }

    #[test]
    fn serial_1() {
        serial("serial_1");
    }

    #[test]
    fn serial_2() {
        serial("serial_2");
    }

    #[test]
    fn serial_3() {
        serial("serial_3");
    }

    #[test]
    fn signal_plain() {
        spawn_sleeper("signal_plain");
        std::thread::sleep(Duration::from_secs(60));
    }

    #[test]
    fn signal_stubborn() {
        for s in [SIGHUP, SIGINT, SIGTERM] {
            ignore_signal(s);
        }
        spawn_stubborn_sleeper("signal_stubborn");
        std::thread::sleep(Duration::from_secs(60));
    }
}
"#
            ),
        ),
    ],
};

/// Two tests that share process state: whichever runs second in a process
/// fails, and passes alone.
pub const GSHARED: ProjectSpec = ProjectSpec {
    name: "gshared",
    manifest_extra: "",
    files: &[(
        "src/lib.rs",
        r#"//! Tests that break each other when they share a process.

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    static RAN: AtomicBool = AtomicBool::new(false);

    fn claim(name: &str) {
        println!("{name} starts");
        if RAN.swap(true, Ordering::SeqCst) {
            panic!("{name}: another test already ran in this process");
        }
    }

    #[test]
    fn first() {
        claim("first");
    }

    #[test]
    fn second() {
        claim("second");
    }
}
"#,
    )],
};

/// `#[should_panic]` tests, one of them last: libtest announces them as
/// `test NAME - should panic ... `.
pub const GPANIC: ProjectSpec = ProjectSpec {
    name: "gpanic",
    manifest_extra: "",
    files: &[(
        "src/lib.rs",
        r#"//! Tests that are expected to panic.

#[cfg(test)]
mod tests {
    #[test]
    fn a_ok() {}

    #[test]
    #[should_panic(expected = "as it should")]
    fn b_panics() {
        panic!("b panics as it should");
    }

    #[test]
    fn c_ok() {}

    #[test]
    #[should_panic]
    fn d_panics_last() {
        panic!("d panics");
    }
}
"#,
    )],
};

/// A library whose tests reach one of its two functions: coverage and its
/// ratchet.
pub const GCOV: ProjectSpec = ProjectSpec {
    name: "gcov",
    manifest_extra: "",
    files: &[(
        "src/lib.rs",
        r#"//! Two functions; the tests reach one.

/// Doubles.
pub fn double(x: u32) -> u32 {
    x * 2
}

/// Triples; no test calls it.
pub fn triple(x: u32) -> u32 {
    let tripled = x * 3;
    tripled
}

#[cfg(test)]
mod tests {
    #[test]
    fn doubles() {
        assert_eq!(super::double(2), 4);
    }
}
"#,
    )],
};

/// A build script that records its pid and then takes two minutes: a
/// signal to gantry during the build must stop it.
pub const GSLOWBUILD: ProjectSpec = ProjectSpec {
    name: "gslowbuild",
    manifest_extra: "",
    files: &[
        (
            "build.rs",
            r#"//! Records its pid in `$E2E_MARKERS/build-script.pid`, then sleeps.

fn main() {
    if let Ok(dir) = std::env::var("E2E_MARKERS") {
        let dir = std::path::Path::new(&dir);
        let tmp = dir.join("build-script.pid.tmp");
        std::fs::write(&tmp, std::process::id().to_string()).unwrap();
        std::fs::rename(&tmp, dir.join("build-script.pid")).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_secs(120));
}
"#,
        ),
        (
            "src/lib.rs",
            "//! Never finishes building.

#[cfg(test)]
mod tests {
    #[test]
    fn never_runs() {}
}
",
        ),
    ],
};

/// A libtest library test beside a `harness = false` target that lists
/// whatever `$E2E_MARKERS/dynamic.txt` names, as data-driven harnesses do.
pub const GDYN: ProjectSpec = ProjectSpec {
    name: "gdyn",
    manifest_extra: r#"
[[test]]
name = "dynamic"
harness = false
"#,
    files: &[
        (
            "src/lib.rs",
            "//! One plain test.

#[cfg(test)]
mod tests {
    #[test]
    fn plain() {}
}
",
        ),
        (
            "tests/dynamic.rs",
            r#"//! Lists the tests named in a data file.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::env::var("E2E_MARKERS").unwrap();
    let names = std::fs::read_to_string(std::path::Path::new(&dir).join("dynamic.txt"))
        .unwrap_or_default();
    if args.iter().any(|a| a == "--list") && !args.iter().any(|a| a == "--ignored") {
        for name in names.lines() {
            println!("{name}: test");
        }
    }
}
"#,
        ),
    ],
};

/// A test with a run-scoped fixture that ignores its stop signal: the
/// coverage run has to kill it, and says its coverage is lost.
pub const GCOVKILL: ProjectSpec = ProjectSpec {
    name: "gcovkill",
    manifest_extra: "",
    files: &[
        (
            "src/lib.rs",
            "//! One test, one fixture.

#[cfg(test)]
mod tests {
    #[test]
    fn uses_the_service() {}
}
",
        ),
        (
            ".config/gantry.toml",
            r#"[fixture.stubborn]
command = ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 1; done"]
ready = { log = "up", timeout = "10s" }
stop = { signal = "TERM", grace = "200ms" }
"#,
        ),
    ],
};

/// A `harness = false` test target that cannot list its tests.
pub const GLIST: ProjectSpec = ProjectSpec {
    name: "glist",
    manifest_extra: r#"
[[test]]
name = "custom"
harness = false
"#,
    files: &[
        (
            "src/lib.rs",
            "//! A library with one test.\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn fine() {}\n}\n",
        ),
        (
            "tests/custom.rs",
            r#"//! A custom harness that fails when asked for its list.

fn main() {
    if std::env::args().any(|a| a == "--list") {
        eprintln!("custom harness: cannot list tests, the fixture database is missing");
        std::process::exit(1);
    }
}
"#,
        ),
    ],
};

/// A library that does not compile.
pub const GBUILD: ProjectSpec = ProjectSpec {
    name: "gbuild",
    manifest_extra: "",
    files: &[(
        "src/lib.rs",
        "//! Does not compile.\n\n/// Returns a number.\npub fn broken() -> u32 {\n    \"not a number\"\n}\n",
    )],
};

/// A config with a misspelt key; otherwise fine.
pub const GWARN: ProjectSpec = ProjectSpec {
    name: "gwarn",
    manifest_extra: "",
    files: &[
        (
            ".config/gantry.toml",
            "[profile.default]\nfail-fast = false\nretires = 1\n",
        ),
        (
            "src/lib.rs",
            "//! One test.\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn fine() {}\n}\n",
        ),
    ],
};

/// A config with a value gantry cannot use.
pub const GBADCFG: ProjectSpec = ProjectSpec {
    name: "gbadcfg",
    manifest_extra: "",
    files: &[
        (
            ".config/gantry.toml",
            "[profile.default]\nretries = 1\nslow-timeout = \"soon\"\n",
        ),
        (
            "src/lib.rs",
            "//! One test.\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn fine() {}\n}\n",
        ),
    ],
};

/// A test that registers an `atexit` handler which never returns: its
/// process hangs after the last test, outside any test.
pub const GATEXIT: ProjectSpec = ProjectSpec {
    name: "gatexit",
    manifest_extra: "",
    files: &[
        (
            ".config/gantry.toml",
            r#"[profile.default]
slow-timeout = "500ms"
terminate-after = 2
grace-period = "200ms"
fail-fast = false
"#,
        ),
        (
            "src/lib.rs",
            r#"//! A process that cannot exit.

#[cfg(test)]
mod tests {
    extern "C" {
        fn atexit(cb: extern "C" fn()) -> i32;
    }

    extern "C" fn never_return() {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }

    #[test]
    fn a_plain() {}

    #[test]
    fn b_hangs_at_exit() {
        assert_eq!(unsafe { atexit(never_return) }, 0);
    }

    #[test]
    fn c_plain() {}
}
"#,
        ),
    ],
};

/// Tests whose databases the runner leases (`[database.items]`); each
/// inserts the same row and checks it is alone, through `psql`, so the
/// project depends on nothing.
pub const GDB: ProjectSpec = ProjectSpec {
    name: "gdb",
    manifest_extra: "",
    files: &[
        (
            ".config/gantry.toml",
            r#"[profile.default]
fail-fast = false

[database.items]
migrations = "migrations"
pool = 2
env = "DATABASE_URL"
for = "all()"
"#,
        ),
        (
            "migrations/20240101000000_items.sql",
            "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE);\n",
        ),
        (
            "src/lib.rs",
            r#"//! Database tests through psql.

#[cfg(test)]
mod tests {
    use std::process::Command;

    fn psql(sql: &str) -> String {
        let url = std::env::var("DATABASE_URL").expect("the runner leases DATABASE_URL");
        let out = Command::new("psql")
            .args([url.as_str(), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn alone(name: &str) {
        psql("INSERT INTO items (name) VALUES ('shared-name')");
        assert_eq!(psql("SELECT count(*) FROM items"), "1", "another test's row is in my database");
        if let Ok(dir) = std::env::var("E2E_MARKERS") {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(std::path::Path::new(&dir).join(format!("{name}.started")), "");
        }
        let ms: u64 = std::env::var("GDB_SLEEP_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    #[test]
    fn db_a() { alone("db_a"); }
    #[test]
    fn db_b() { alone("db_b"); }
    #[test]
    fn db_c() { alone("db_c"); }
    #[test]
    fn db_d() { alone("db_d"); }
    #[test]
    fn db_e() { alone("db_e"); }
    #[test]
    fn db_f() { alone("db_f"); }
}
"#,
        ),
    ],
};
