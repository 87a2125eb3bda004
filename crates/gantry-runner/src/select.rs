//! Which listed tests run: substring filters, `--skip`, filter
//! expressions, tiers, `--run-ignored` and partitions.

use gantry_filter::FilterExpr;
use gantry_metadata::{RunIgnored, SkipReason, TestId};

use crate::list::{TestCase, TestList};
use crate::schedule::{History, Partition};

/// Everything that narrows the set of tests.
#[derive(Clone, Debug, Default)]
pub struct TestFilter {
    /// Positional filters, as `cargo test` takes them: a test runs if its
    /// name contains any of them (equals, with `exact`).
    pub patterns: Vec<String>,
    /// Match patterns and skips exactly.
    pub exact: bool,
    /// Tests whose names contain (or equal) any of these are skipped.
    pub skip: Vec<String>,
    /// `-E` expressions; a test must match at least one.
    pub exprs: Vec<FilterExpr>,
    /// The tier's filter, which every test must also match.
    pub tier: Option<FilterExpr>,
    /// Ignored tests.
    pub run_ignored: RunIgnored,
    /// This shard.
    pub partition: Option<Partition>,
}

/// The outcome of selection.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Tests to run, in list order.
    pub selected: Vec<TestCase>,
    /// Tests not run and why.
    pub skipped: Vec<(TestId, SkipReason)>,
}

impl TestFilter {
    /// Whether the name/expression/tier filters select the test (ignoring
    /// `#[ignore]` and partitions).
    pub fn matches(&self, test: &TestCase) -> bool {
        let name = test.name.as_str();
        let hit = |p: &String| {
            if self.exact {
                name == p
            } else {
                name.contains(p.as_str())
            }
        };
        if !self.patterns.is_empty() && !self.patterns.iter().any(hit) {
            return false;
        }
        if self.skip.iter().any(hit) {
            return false;
        }
        let q = test.query();
        if !self.exprs.is_empty() && !self.exprs.iter().any(|e| e.matches(&q)) {
            return false;
        }
        self.tier.as_ref().is_none_or(|t| t.matches(&q))
    }

    /// Whether `--run-ignored` lets this test run.
    pub fn ignored_ok(&self, test: &TestCase) -> bool {
        match self.run_ignored {
            RunIgnored::Default => !test.ignored,
            RunIgnored::Only => test.ignored,
            RunIgnored::All => true,
        }
    }

    /// Splits the list into selected and skipped tests.
    pub fn select(&self, list: &TestList, history: &History) -> Selection {
        let mut sel = Selection::default();
        let mut candidates = Vec::new();
        for t in &list.tests {
            if !self.matches(t) {
                sel.skipped.push((t.id(), SkipReason::Filtered));
            } else if !self.ignored_ok(t) {
                sel.skipped.push((t.id(), SkipReason::Ignored));
            } else {
                candidates.push(t);
            }
        }
        let keep = match &self.partition {
            None => vec![true; candidates.len()],
            Some(p) => {
                let ids: Vec<(&str, &str)> = candidates
                    .iter()
                    .map(|t| (t.binary.binary_id.as_str(), t.name.as_str()))
                    .collect();
                let durations: Vec<Option<f64>> = candidates
                    .iter()
                    .map(|t| {
                        history
                            .get(&t.binary.binary_id, &t.name)
                            .map(|r| r.duration_secs)
                    })
                    .collect();
                p.select(&ids, &durations)
            }
        };
        for (t, k) in candidates.into_iter().zip(keep) {
            if k {
                sel.selected.push(t.clone());
            } else {
                sel.skipped.push((t.id(), SkipReason::Filtered));
            }
        }
        sel
    }

    /// A one-line description of the filters, for "no tests matched".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.patterns.is_empty() {
            parts.push(format!(
                "name {} {}",
                if self.exact { "equal to" } else { "containing" },
                self.patterns
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        if !self.skip.is_empty() {
            parts.push(format!(
                "skipping {}",
                self.skip
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for e in &self.exprs {
            parts.push(format!("-E `{e}`"));
        }
        if let Some(t) = &self.tier {
            parts.push(format!("tier filter `{t}`"));
        }
        match self.run_ignored {
            RunIgnored::Default => {}
            RunIgnored::Only => parts.push("only ignored tests".into()),
            RunIgnored::All => parts.push("including ignored tests".into()),
        }
        if let Some(p) = &self.partition {
            parts.push(format!("partition {}/{}", p.shard, p.total));
        }
        if parts.is_empty() {
            "no filters".into()
        } else {
            parts.join(", ")
        }
    }
}
