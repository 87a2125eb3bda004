//! From selected tests to units of work: per-test settings from the
//! profile and its overrides, the process-or-batch decision, batch sizes,
//! and longest-first order.

use std::collections::BTreeMap;
use std::sync::Arc;

use gantry_config::{ResolvedProfile, TestSettings};
use gantry_metadata::ExecutionMode;

use super::history::History;
use crate::list::{TestBinary, TestCase};

/// Tests slower than this run alone in `auto` mode: batching them saves
/// nothing, and alone they pack better across cores.
const SLOW_ALONE_SECS: f64 = 1.0;
/// Estimate for a test that never ran: small, so that a first run of a
/// suite of tiny tests is batched.
const UNKNOWN_ESTIMATE_SECS: f64 = 0.05;
/// Smallest batch worth a process of its own, in estimated seconds.
const MIN_BATCH_SECS: f64 = 0.05;
/// Bound on tests per batch, keeping argument lists well under ARG_MAX.
const MAX_BATCH_TESTS: usize = 4096;

/// A selected test with its settings and what history predicts of it.
#[derive(Clone, Debug)]
pub struct PlannedTest {
    /// The test.
    pub case: TestCase,
    /// Its settings.
    pub settings: Arc<TestSettings>,
    /// Job slots it occupies (`threads-required`, resolved).
    pub threads: usize,
    /// Expected wall time in seconds.
    pub estimate_secs: f64,
    /// Expected CPU use, 0..=1 of a core (1 when unknown).
    pub cpu_ratio: f64,
    /// Whether it runs in a batch (decided from mode and history).
    pub batch: bool,
    /// A slow test in `auto` mode: it gets a process of its own, but run
    /// like a batch of one, so libtest captures its output in memory (a
    /// test printing millions of lines costs nothing through a pipe).
    pub alone_in_batch_protocol: bool,
}

impl PlannedTest {
    /// Plans one test: its settings from the profile and its overrides,
    /// and what history predicts of it.
    pub fn new(case: TestCase, profile: &ResolvedProfile, cores: usize, history: &History) -> Self {
        let settings = profile.settings_for(&case.query());
        let threads = settings.threads_required.get(cores);
        let rec = history.get(&case.binary.binary_id, &case.name);
        let estimate_secs = rec.map_or(UNKNOWN_ESTIMATE_SECS, |r| r.duration_secs);
        let cpu_ratio = rec
            .and_then(|r| r.cpu_ratio)
            .map_or(1.0, |c| c.clamp(0.02, 1.0));
        // A wrapper (e.g. valgrind) reports at process exit, after the
        // last test: only a process of its own can tie that to a test.
        let suspect = rec.is_some_and(|r| r.isolation_sensitive || r.last_failed);
        let slow = rec.is_some_and(|r| r.duration_secs > SLOW_ALONE_SECS);
        let batchable = settings.wrapper.is_none() && threads == 1;
        let (batch, alone_in_batch_protocol) = match settings.execution {
            ExecutionMode::Process => (false, false),
            ExecutionMode::Batch => (batchable, false),
            ExecutionMode::Auto if batchable && !suspect && slow => (false, true),
            ExecutionMode::Auto => (batchable && !suspect, false),
        };
        Self {
            case,
            settings: Arc::new(settings),
            threads,
            estimate_secs,
            cpu_ratio,
            batch,
            alone_in_batch_protocol,
        }
    }
}

/// A test inside a unit, with the attempt it is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitTest {
    /// Index into the planned tests.
    pub index: usize,
    /// Attempt number, from 1.
    pub attempt: u32,
}

/// One process to start: a single test, or a batch of tests of one binary.
#[derive(Clone, Debug)]
pub struct Unit {
    /// The binary.
    pub binary: Arc<TestBinary>,
    /// Tests in the order they are passed to the binary.
    pub tests: Vec<UnitTest>,
    /// Whether this is a batch (parsed per test) or a single test.
    pub batch: bool,
    /// Set on single-test units re-run to isolate a batch problem.
    pub isolating: bool,
    /// Estimated seconds.
    pub estimate_secs: f64,
    /// Expected cores used.
    pub cpu_weight: f64,
    /// Job slots taken.
    pub threads_required: usize,
    /// Test group, if any.
    pub test_group: Option<String>,
    /// Wrapper command.
    pub wrapper: Option<Vec<String>>,
}

impl Unit {
    /// A unit of one test, run alone.
    pub fn single(tests: &[PlannedTest], index: usize, attempt: u32, isolating: bool) -> Self {
        let t = &tests[index];
        Self {
            binary: t.case.binary.clone(),
            tests: vec![UnitTest { index, attempt }],
            batch: false,
            isolating,
            estimate_secs: t.estimate_secs,
            cpu_weight: t.cpu_ratio * t.threads as f64,
            threads_required: t.threads,
            test_group: t.settings.test_group.clone(),
            wrapper: t.settings.wrapper.clone(),
        }
    }

    /// A batch of tests (all of one binary, wrapper and group).
    pub fn batch_of(tests: &[PlannedTest], indexes: &[usize]) -> Self {
        let first = &tests[indexes[0]];
        let estimate_secs: f64 = indexes.iter().map(|&i| tests[i].estimate_secs).sum();
        let cpu = if estimate_secs > 0.0 {
            indexes
                .iter()
                .map(|&i| tests[i].cpu_ratio * tests[i].estimate_secs)
                .sum::<f64>()
                / estimate_secs
        } else {
            1.0
        };
        Self {
            binary: first.case.binary.clone(),
            tests: indexes
                .iter()
                .map(|&index| UnitTest { index, attempt: 1 })
                .collect(),
            batch: true,
            isolating: false,
            estimate_secs,
            cpu_weight: cpu.clamp(0.02, 1.0),
            threads_required: 1,
            test_group: first.settings.test_group.clone(),
            wrapper: first.settings.wrapper.clone(),
        }
    }
}

/// Turns planned tests into units, longest first. Batches are cut so that
/// every core has several to work on and none dominates the tail.
pub fn plan_units(tests: &[PlannedTest], capacity: usize) -> Vec<Unit> {
    let capacity = capacity.max(1);
    let mut units = Vec::new();
    // Tests batch together when they share binary, wrapper and group.
    type BatchKey = (String, Option<Vec<String>>, Option<String>);
    let mut groups: BTreeMap<BatchKey, Vec<usize>> = BTreeMap::new();
    for (i, t) in tests.iter().enumerate() {
        if t.batch {
            groups
                .entry((
                    t.case.binary.binary_id.clone(),
                    t.settings.wrapper.clone(),
                    t.settings.test_group.clone(),
                ))
                .or_default()
                .push(i);
        } else if t.alone_in_batch_protocol {
            units.push(Unit::batch_of(tests, &[i]));
        } else {
            units.push(Unit::single(tests, i, 1, false));
        }
    }
    let total: f64 = groups
        .values()
        .flatten()
        .map(|&i| tests[i].estimate_secs)
        .sum();
    let target = (total / (capacity * 4) as f64).max(MIN_BATCH_SECS);
    for indexes in groups.values() {
        let est: f64 = indexes.iter().map(|&i| tests[i].estimate_secs).sum();
        let by_time = (est / target).ceil() as usize;
        let by_count = indexes.len().div_ceil(MAX_BATCH_TESTS);
        // A big binary is split at least once per core so it never runs on
        // one core while the others idle.
        let spread = capacity.min(indexes.len().div_ceil(32));
        let n = by_time.max(by_count).max(spread).clamp(1, indexes.len());
        for chunk in split_balanced(indexes, n, |i| tests[i].estimate_secs) {
            units.push(Unit::batch_of(tests, &chunk));
        }
    }
    units.sort_by(|a, b| b.estimate_secs.total_cmp(&a.estimate_secs));
    units
}

/// Splits `items` (keeping their order) into `n` contiguous chunks of
/// roughly equal weight.
fn split_balanced(items: &[usize], n: usize, weight: impl Fn(usize) -> f64) -> Vec<Vec<usize>> {
    let total: f64 = items.iter().map(|&i| weight(i)).sum();
    let per = total / n as f64;
    let mut chunks = Vec::with_capacity(n);
    let mut current = Vec::new();
    let mut acc = 0.0;
    for (pos, &i) in items.iter().enumerate() {
        current.push(i);
        acc += weight(i);
        let remaining_items = items.len() - pos - 1;
        let remaining_chunks = n - chunks.len() - 1;
        if remaining_chunks > 0
            && (acc >= per * (chunks.len() + 1) as f64 || remaining_items == remaining_chunks)
        {
            chunks.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_balanced_keeps_order_and_count() {
        let items: Vec<usize> = (0..10).collect();
        let chunks = split_balanced(&items, 3, |_| 1.0);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), items);
        let chunks = split_balanced(&items, 10, |_| 1.0);
        assert_eq!(chunks.len(), 10);
        // One heavy item gets a chunk of its own.
        let chunks = split_balanced(&items, 2, |i| if i == 0 { 100.0 } else { 1.0 });
        assert_eq!(chunks[0], vec![0]);
    }
}
