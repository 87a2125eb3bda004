//! What earlier runs taught: durations, CPU use, failures and tests that
//! only fail next to others. Kept in `target/gantry/history.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Result, RunnerError};

const HISTORY_VERSION: u32 = 1;
/// Weight of the newest run in the moving average: heavy enough to follow a
/// test that got slower, light enough to ignore one noisy run.
const EWMA_WEIGHT: f64 = 0.5;
/// Passing runs in a row after which an isolation-sensitive test is tried
/// in a batch again.
pub const BATCH_AGAIN_AFTER: u32 = 20;

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What is remembered of one test.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestRecord {
    /// Moving average of the wall time, in seconds.
    pub duration_secs: f64,
    /// Moving average of CPU time / wall time (0 = only waits, 1 = one core busy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ratio: Option<f64>,
    /// The last run of this test failed.
    #[serde(default)]
    pub last_failed: bool,
    /// It failed in a batch and passed alone: it depends on state shared
    /// with other tests, so it runs in its own process — until it has
    /// passed [`BATCH_AGAIN_AFTER`] runs in a row, when it is tried in a
    /// batch again (a test fixed since, or flagged by a one-off, returns to
    /// batches; one that still shares state is caught and flagged again).
    #[serde(default)]
    pub isolation_sensitive: bool,
    /// Passing runs in a row since it was flagged isolation-sensitive.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub passes_since_flagged: u32,
    /// How many runs the averages are based on.
    #[serde(default)]
    pub runs: u32,
}

/// The duration history of a workspace.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct History {
    version: u32,
    /// binary id → test name → record.
    tests: BTreeMap<String, BTreeMap<String, TestRecord>>,
    #[serde(skip)]
    path: PathBuf,
}

/// One observation of a test, fed into the history after a run.
#[derive(Clone, Debug)]
pub struct Observation {
    /// Wall time.
    pub duration: Duration,
    /// CPU time / wall time when known.
    pub cpu_ratio: Option<f64>,
    /// Whether the final status was a failure.
    pub failed: bool,
    /// Failed in a batch but passed alone.
    pub isolation_sensitive: bool,
}

impl History {
    /// The history file under a target directory.
    pub fn path_in(target_dir: &Path) -> PathBuf {
        target_dir.join("gantry").join("history.json")
    }

    /// Loads the history; a missing or unreadable file (e.g. from another
    /// version) gives an empty history rather than an error, since it is
    /// only an optimization.
    pub fn load(path: &Path) -> Self {
        let mut history = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<History>(&bytes).ok())
            .filter(|h| h.version == HISTORY_VERSION)
            .unwrap_or_default();
        history.version = HISTORY_VERSION;
        history.path = path.to_path_buf();
        history
    }

    /// The record of a test, if it ran before.
    pub fn get(&self, binary_id: &str, name: &str) -> Option<&TestRecord> {
        self.tests.get(binary_id)?.get(name)
    }

    /// Records one observation.
    pub fn record(&mut self, binary_id: &str, name: &str, obs: &Observation) {
        let rec = self
            .tests
            .entry(binary_id.to_string())
            .or_default()
            .entry(name.to_string())
            .or_default();
        let secs = obs.duration.as_secs_f64();
        rec.duration_secs = if rec.runs == 0 {
            secs
        } else {
            rec.duration_secs * (1.0 - EWMA_WEIGHT) + secs * EWMA_WEIGHT
        };
        if let Some(r) = obs.cpu_ratio {
            rec.cpu_ratio = Some(match rec.cpu_ratio {
                Some(old) if rec.runs > 0 => old * (1.0 - EWMA_WEIGHT) + r * EWMA_WEIGHT,
                _ => r,
            });
        }
        rec.last_failed = obs.failed;
        if obs.isolation_sensitive {
            rec.isolation_sensitive = true;
            rec.passes_since_flagged = 0;
        } else if rec.isolation_sensitive {
            rec.passes_since_flagged = if obs.failed {
                0
            } else {
                rec.passes_since_flagged + 1
            };
            if rec.passes_since_flagged >= BATCH_AGAIN_AFTER {
                rec.isolation_sensitive = false;
                rec.passes_since_flagged = 0;
            }
        }
        rec.runs = rec.runs.saturating_add(1);
    }

    /// Sets the CPU ratio of a recorded test (batches learn it only when
    /// their process exits, after their tests were recorded).
    pub fn set_cpu_ratio(&mut self, binary_id: &str, name: &str, ratio: f64) {
        if let Some(rec) = self.tests.get_mut(binary_id).and_then(|t| t.get_mut(name)) {
            rec.cpu_ratio = Some(match rec.cpu_ratio {
                Some(old) if rec.runs > 1 => old * (1.0 - EWMA_WEIGHT) + ratio * EWMA_WEIGHT,
                _ => ratio,
            });
        }
    }

    /// Merges another history into this one (used when combining shards):
    /// records of `other` replace those of the same tests here.
    pub fn merge(&mut self, other: &History) {
        for (bin, tests) in &other.tests {
            let mine = self.tests.entry(bin.clone()).or_default();
            for (name, rec) in tests {
                mine.insert(name.clone(), rec.clone());
            }
        }
    }

    /// Writes the history atomically (temp file + rename), so a killed run
    /// never leaves a half-written file.
    pub fn save(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(RunnerError::io("could not create", dir))?;
        }
        let tmp = self
            .path
            .with_extension(format!("json.tmp{}", std::process::id()));
        let bytes = serde_json::to_vec(self).expect("history serializes");
        std::fs::write(&tmp, bytes).map_err(RunnerError::io("could not write", &tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(RunnerError::io("could not write", &self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_averages_and_keeps_isolation_flag() {
        let mut h = History::default();
        let obs = |secs: f64, iso: bool| Observation {
            duration: Duration::from_secs_f64(secs),
            cpu_ratio: Some(0.5),
            failed: false,
            isolation_sensitive: iso,
        };
        h.record("b", "t", &obs(1.0, true));
        h.record("b", "t", &obs(3.0, false));
        let r = h.get("b", "t").unwrap();
        assert!((r.duration_secs - 2.0).abs() < 1e-9);
        assert!(r.isolation_sensitive);
        assert_eq!(r.runs, 2);
    }

    #[test]
    fn a_flagged_test_is_tried_in_a_batch_after_passing_runs_in_a_row() {
        let mut h = History::default();
        let obs = |failed: bool, iso: bool| Observation {
            duration: Duration::from_millis(1),
            cpu_ratio: None,
            failed,
            isolation_sensitive: iso,
        };
        h.record("b", "t", &obs(false, true));
        for _ in 0..BATCH_AGAIN_AFTER - 2 {
            h.record("b", "t", &obs(false, false));
        }
        // A failure starts the count again.
        h.record("b", "t", &obs(true, false));
        for _ in 0..BATCH_AGAIN_AFTER - 1 {
            h.record("b", "t", &obs(false, false));
        }
        assert!(h.get("b", "t").unwrap().isolation_sensitive);
        h.record("b", "t", &obs(false, false));
        let r = h.get("b", "t").unwrap();
        assert!(!r.isolation_sensitive);
        assert_eq!(r.passes_since_flagged, 0);
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = History::path_in(dir.path());
        let mut h = History::load(&path);
        h.record(
            "b",
            "t",
            &Observation {
                duration: Duration::from_millis(10),
                cpu_ratio: None,
                failed: true,
                isolation_sensitive: false,
            },
        );
        h.save().unwrap();
        let again = History::load(&path);
        assert!(again.get("b", "t").unwrap().last_failed);
    }
}
