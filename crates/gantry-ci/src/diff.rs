//! A line diff summary, for `ci generate --check`: enough to tell a user
//! what changed in the committed pipeline file without printing it whole.

use std::fmt;

/// How two texts differ, line by line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffSummary {
    /// Lines only in the new text.
    pub added: usize,
    /// Lines only in the old text.
    pub removed: usize,
    /// The first changed lines, `-old` / `+new`, each prefixed with its
    /// 1-based line number in the old (`-`) or new (`+`) text; at most 10.
    pub first_changes: Vec<String>,
}

impl DiffSummary {
    /// Whether the texts are equal line by line.
    pub fn is_empty(&self) -> bool {
        self.added == 0 && self.removed == 0
    }
}

impl fmt::Display for DiffSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} line{} added, {} line{} removed",
            self.added,
            if self.added == 1 { "" } else { "s" },
            self.removed,
            if self.removed == 1 { "" } else { "s" }
        )?;
        for c in &self.first_changes {
            write!(f, "\n  {c}")?;
        }
        Ok(())
    }
}

const SHOWN: usize = 10;
/// Above this many cells the middle part is compared as a whole block
/// rather than line by line (still correct counts of a replacement).
const MAX_CELLS: usize = 4_000_000;

/// Compares `old` with `new` line by line.
pub fn diff_summary(old: &str, new: &str) -> DiffSummary {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    // ops: (is_added, line index in its own text)
    let mut ops: Vec<(bool, usize)> = Vec::new();
    if am.len().saturating_mul(bm.len()) > MAX_CELLS {
        ops.extend((0..am.len()).map(|i| (false, prefix + i)));
        ops.extend((0..bm.len()).map(|j| (true, prefix + j)));
    } else {
        // Longest common subsequence table, filled from the end.
        let (n, m) = (am.len(), bm.len());
        let mut t = vec![vec![0u32; m + 1]; n + 1];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                t[i][j] = if am[i] == bm[j] {
                    t[i + 1][j + 1] + 1
                } else {
                    t[i + 1][j].max(t[i][j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                i += 1;
                j += 1;
            } else if i < n && (j == m || t[i + 1][j] >= t[i][j + 1]) {
                ops.push((false, prefix + i));
                i += 1;
            } else {
                ops.push((true, prefix + j));
                j += 1;
            }
        }
    }
    let mut summary = DiffSummary::default();
    for &(added, idx) in &ops {
        if added {
            summary.added += 1;
        } else {
            summary.removed += 1;
        }
        if summary.first_changes.len() < SHOWN {
            let (sign, line) = if added { ('+', b[idx]) } else { ('-', a[idx]) };
            summary
                .first_changes
                .push(format!("{sign}{:>4}: {line}", idx + 1));
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_shows_changes() {
        let d = diff_summary("a\nb\nc\nd\n", "a\nB\nc\nd\ne\n");
        assert_eq!((d.added, d.removed), (2, 1));
        assert_eq!(d.first_changes, ["-   2: b", "+   2: B", "+   5: e"]);
        assert!(diff_summary("x\ny", "x\ny\n").is_empty());
        assert_eq!(
            diff_summary("a\nb\n", "a\nb\nc\n").to_string(),
            "1 line added, 0 lines removed\n  +   3: c"
        );
    }
}
