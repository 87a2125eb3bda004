//! Latency of one test's database life cycle: get a database, connect,
//! write a little, give it back; p50 and p99 over many cycles, for
//!
//! - (a) the pool with `reset = "truncate"` (tracked tables emptied),
//! - (b) the pool with `reset = "recreate"` (clone again in the background),
//! - (c) the baseline: CREATE DATABASE + every migration per test,
//! - (d) one shared database, each test in a rolled-back transaction.
//!
//! Usage: `cargo run --release -p gantry-db --example db_latency -- [--cycles N] [--migrations DIR] [--json FILE]`
//! (the wrapper `benches/db-latency` also times the example suite).
//! The schema defaults to `examples/message-store/migrations` (25 tables).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gantry_db::postgres::{Client, NoTls};
use gantry_db::{DbPool, TestDb};

/// The "small write" of a test: two rows in related tables. The unique
/// slug also checks that every cycle got a clean database.
const WRITE: &str = "INSERT INTO tenants (slug, name) VALUES ('bench', 'Bench');
     INSERT INTO users (tenant_id, handle, email, display_name)
     SELECT id, 'ada', 'ada@bench.invalid', 'Ada' FROM tenants WHERE slug = 'bench';";

struct Args {
    cycles: usize,
    migrations: PathBuf,
    json: Option<PathBuf>,
    only: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        cycles: 500,
        migrations: Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/message-store/migrations"),
        json: None,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--cycles" => a.cycles = it.next().and_then(|v| v.parse().ok()).expect("--cycles N"),
            "--migrations" => a.migrations = PathBuf::from(it.next().expect("--migrations DIR")),
            "--json" => a.json = Some(PathBuf::from(it.next().expect("--json FILE"))),
            "--only" => a.only = it.next(),
            other => panic!("unknown argument {other}"),
        }
    }
    a.migrations = std::fs::canonicalize(&a.migrations).expect("migrations directory");
    a
}

/// A workspace in the target directory whose sections all use the
/// benchmark's migrations.
fn workspace(migrations: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let root = target.join("db-latency-ws");
    std::fs::create_dir_all(root.join(".config")).unwrap();
    let m = migrations.display();
    std::fs::write(
        root.join(".config/gantry.toml"),
        format!(
            r#"
[database.truncate]
migrations = "{m}"
pool = 4

[database.recreate]
migrations = "{m}"
pool = 4
reset = "recreate"

[database.baseline]
migrations = "{m}"

[database.shared]
migrations = "{m}"
pool = 1
"#
        ),
    )
    .unwrap();
    root
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

struct Stats {
    name: &'static str,
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn measure(
    label: &str,
    name: &'static str,
    cycles: usize,
    mut cycle: impl FnMut() -> Duration,
) -> Stats {
    // Warm up: first checkouts open connections and pre-warm.
    for _ in 0..10.min(cycles) {
        cycle();
    }
    let mut times: Vec<Duration> = (0..cycles).map(|_| cycle()).collect();
    times.sort();
    let mean = times.iter().sum::<Duration>() / cycles as u32;
    let s = Stats {
        name,
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        mean,
    };
    eprintln!(
        "  {name}, {label}: p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms",
        ms(s.p50),
        ms(s.p99),
        ms(s.mean)
    );
    s
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One test: check out, write with the lease's pooled connection
/// (`warm`) or a new one, return.
fn pool_cycle(pool: &DbPool, warm: bool) -> Duration {
    let t = Instant::now();
    let mut db: TestDb = pool.checkout().unwrap();
    if warm {
        db.client().unwrap().batch_execute(WRITE).unwrap();
    } else {
        let mut c = db.connect().unwrap();
        c.batch_execute(WRITE).unwrap();
    }
    drop(db);
    t.elapsed()
}

fn main() {
    let a = args();
    let root = workspace(&a.migrations);
    let tables = std::fs::read_dir(&a.migrations)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .map(|s| s.matches("CREATE TABLE").count())
        .sum::<usize>();
    eprintln!(
        "db-latency: {} cycles, schema {} ({tables} tables)",
        a.cycles,
        a.migrations.display()
    );
    let run = |name: &str| a.only.as_deref().is_none_or(|o| o == name);
    let mut results: Vec<(&str, Vec<Stats>)> = Vec::new();

    // Connecting alone, for reference: part of every cycle below.
    let shared_pool = DbPool::open(&root, "shared").unwrap();
    let shared = shared_pool.checkout().unwrap();
    let connect = measure("-", "connect only", a.cycles, || {
        let t = Instant::now();
        let c = shared.connect().unwrap();
        drop(c);
        t.elapsed()
    });

    // Scenario by scenario, so that one's background work (recreating
    // clones, dropping databases) is over before the next is measured.
    let labels = [
        (true, "pooled connection (TestDb::client)"),
        (false, "new connection per test (TestDb::connect / the URL)"),
    ];
    let mut rows: Vec<(&str, Stats)> = Vec::new();
    let quiesce = |shared: &TestDb| {
        let mut c = shared.connect().unwrap();
        c.batch_execute("CHECKPOINT").unwrap();
        drop(c);
        std::thread::sleep(Duration::from_millis(500));
    };
    if run("shared") {
        let url = shared.url().to_owned();
        let mut kept = Client::connect(&url, NoTls).unwrap();
        for (warm, label) in labels {
            rows.push((
                label,
                measure(
                    label,
                    "(d) shared database, rolled-back transaction",
                    a.cycles,
                    || {
                        let t = Instant::now();
                        let mut fresh = None;
                        let c = if warm {
                            &mut kept
                        } else {
                            fresh.insert(Client::connect(&url, NoTls).unwrap())
                        };
                        c.batch_execute("BEGIN").unwrap();
                        c.batch_execute(WRITE).unwrap();
                        c.batch_execute("ROLLBACK").unwrap();
                        drop(fresh);
                        t.elapsed()
                    },
                ),
            ));
        }
        quiesce(&shared);
    }
    if run("truncate") {
        let pool = DbPool::open(&root, "truncate").unwrap();
        for (warm, label) in labels {
            rows.push((
                label,
                measure(label, "(a) pool, reset = truncate", a.cycles, || {
                    pool_cycle(&pool, warm)
                }),
            ));
        }
        quiesce(&shared);
    }
    if run("baseline") {
        // Read when the pool is opened, so set only around that.
        std::env::set_var(gantry_db::STRATEGY_ENV, "migrate");
        let pool = DbPool::open(&root, "baseline").unwrap();
        std::env::remove_var(gantry_db::STRATEGY_ENV);
        for (warm, label) in labels {
            rows.push((
                label,
                measure(label, "(c) CREATE DATABASE + migrations", a.cycles, || {
                    pool_cycle(&pool, warm)
                }),
            ));
        }
        quiesce(&shared);
    }
    if run("recreate") {
        let pool = DbPool::open(&root, "recreate").unwrap();
        for (warm, label) in labels {
            rows.push((
                label,
                measure(label, "(b) pool, reset = recreate", a.cycles, || {
                    pool_cycle(&pool, warm)
                }),
            ));
        }
    }
    for (_, label) in labels {
        let mut mine: Vec<Stats> = Vec::new();
        for (_, s) in rows.iter().filter(|(l, _)| *l == label) {
            mine.push(Stats {
                name: s.name,
                p50: s.p50,
                p99: s.p99,
                mean: s.mean,
            });
        }
        mine.sort_by_key(|s| s.name);
        results.push((label, mine));
    }
    drop(shared);

    println!("| connection | strategy | p50 | p99 | mean |");
    println!("|---|---|---|---|---|");
    for (label, rows) in &results {
        for s in rows {
            println!(
                "| {label} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
                s.name,
                ms(s.p50),
                ms(s.p99),
                ms(s.mean)
            );
        }
    }
    println!(
        "| - | connect only | {:.2} ms | {:.2} ms | {:.2} ms |",
        ms(connect.p50),
        ms(connect.p99),
        ms(connect.mean)
    );
    for (label, rows) in &results {
        let find = |prefix: &str| rows.iter().find(|s| s.name.starts_with(prefix));
        if let (Some(a_), Some(c_)) = (find("(a)"), find("(c)")) {
            println!(
                "{label}: (a) p50 {:.2} ms (target <= 5 ms), {:.1}x faster than (c) at p50 (target >= 10x)",
                ms(a_.p50),
                ms(c_.p50) / ms(a_.p50)
            );
        }
    }
    if let Some(path) = a.json {
        let mut body: Vec<String> = Vec::new();
        for (label, rows) in &results {
            for s in rows {
                body.push(format!(
                    "{{\"connection\":\"{label}\",\"name\":\"{}\",\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"mean_ms\":{:.3}}}",
                    s.name,
                    ms(s.p50),
                    ms(s.p99),
                    ms(s.mean)
                ));
            }
        }
        std::fs::write(path, format!("[{}]\n", body.join(","))).unwrap();
    }
}
