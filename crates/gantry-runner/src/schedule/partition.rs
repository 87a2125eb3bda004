//! Splitting the selected tests into shards for parallel CI jobs.

use std::str::FromStr;

/// How to split tests between `N` shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionKind {
    /// Round-robin over the sorted test list.
    Count,
    /// By a stable hash of the test id: a test stays in its shard when
    /// others are added.
    Hash,
    /// Balanced by recorded durations (longest-processing-time first).
    Duration,
}

/// `--partition KIND:M/N`: this run executes shard `M` of `N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// How tests are assigned.
    pub kind: PartitionKind,
    /// This shard, 1-based.
    pub shard: usize,
    /// Number of shards.
    pub total: usize,
}

impl FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let help =
            "expected `count:M/N`, `hash:M/N` or `duration:M/N` with 1 <= M <= N, e.g. `hash:1/3`";
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("invalid partition `{s}`: {help}"))?;
        let kind = match kind {
            "count" | "slice" => PartitionKind::Count,
            "hash" => PartitionKind::Hash,
            "duration" => PartitionKind::Duration,
            other => return Err(format!("unknown partition kind `{other}`: {help}")),
        };
        let (m, n) = rest
            .split_once('/')
            .ok_or_else(|| format!("invalid partition `{s}`: {help}"))?;
        let shard: usize = m
            .parse()
            .map_err(|_| format!("invalid shard number `{m}` in `{s}`: {help}"))?;
        let total: usize = n
            .parse()
            .map_err(|_| format!("invalid shard count `{n}` in `{s}`: {help}"))?;
        if shard == 0 || total == 0 || shard > total {
            return Err(format!("invalid partition `{s}`: {help}"));
        }
        Ok(Self { kind, shard, total })
    }
}

/// FNV-1a: tiny, stable across platforms and versions, which a shard
/// assignment must be.
fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl Partition {
    /// Returns, for each item, whether it belongs to this shard. `ids` are
    /// `(binary_id, test name)`; `durations` are the recorded seconds (used
    /// by `duration:` only; unknown ones count as the median of the known).
    pub fn select(&self, ids: &[(&str, &str)], durations: &[Option<f64>]) -> Vec<bool> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by(|&a, &b| ids[a].cmp(&ids[b]));
        let mut keep = vec![false; ids.len()];
        match self.kind {
            PartitionKind::Count => {
                for (pos, &i) in order.iter().enumerate() {
                    keep[i] = pos % self.total == self.shard - 1;
                }
            }
            PartitionKind::Hash => {
                for (i, (b, t)) in ids.iter().enumerate() {
                    keep[i] = stable_hash(&[b, t]) % self.total as u64 == (self.shard - 1) as u64;
                }
            }
            PartitionKind::Duration => {
                let mut known: Vec<f64> = durations.iter().flatten().copied().collect();
                known.sort_by(f64::total_cmp);
                let fallback = known.get(known.len() / 2).copied().unwrap_or(1.0);
                let dur = |i: usize| durations[i].unwrap_or(fallback);
                // Longest first; ties broken by id so every shard computes
                // the same assignment.
                order.sort_by(|&a, &b| dur(b).total_cmp(&dur(a)).then(ids[a].cmp(&ids[b])));
                let mut totals = vec![0.0f64; self.total];
                for i in order {
                    let (shard, _) = totals
                        .iter()
                        .enumerate()
                        .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(&b.0)))
                        .expect("at least one shard");
                    totals[shard] += dur(i);
                    keep[i] = shard == self.shard - 1;
                }
            }
        }
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| ("bin".to_string(), format!("t{i:03}")))
            .collect()
    }

    fn shards(kind: &str, n: usize, durations: &[Option<f64>]) -> Vec<Vec<usize>> {
        let owned = ids(n);
        let refs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        (1..=3)
            .map(|m| {
                let p: Partition = format!("{kind}:{m}/3").parse().unwrap();
                p.select(&refs, durations)
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| **k)
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_kind_assigns_each_test_exactly_once() {
        let durations: Vec<Option<f64>> = (0..100).map(|i| Some(i as f64 * 0.1)).collect();
        for kind in ["count", "hash", "duration"] {
            let s = shards(kind, 100, &durations);
            let mut all: Vec<usize> = s.concat();
            all.sort();
            assert_eq!(all, (0..100).collect::<Vec<_>>(), "{kind}");
        }
    }

    #[test]
    fn duration_shards_are_balanced_within_ten_percent() {
        // Skewed: a few long tests, many short ones.
        let durations: Vec<Option<f64>> = (0..120)
            .map(|i| {
                Some(if i % 17 == 0 {
                    5.0
                } else {
                    0.05 + (i % 7) as f64 * 0.1
                })
            })
            .collect();
        let s = shards("duration", 120, &durations);
        let totals: Vec<f64> = s
            .iter()
            .map(|ix| ix.iter().map(|&i| durations[i].unwrap()).sum())
            .collect();
        let max = totals.iter().cloned().fold(f64::MIN, f64::max);
        let min = totals.iter().cloned().fold(f64::MAX, f64::min);
        assert!((max - min) / max <= 0.10, "{totals:?}");
    }

    #[test]
    fn bad_partitions_are_explained() {
        for bad in ["count", "count:0/2", "count:3/2", "foo:1/2", "hash:a/2"] {
            let err = bad.parse::<Partition>().unwrap_err();
            assert!(err.contains("M/N"), "{bad}: {err}");
        }
    }
}
