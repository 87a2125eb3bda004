//! Locations in the config file: byte offsets to line/column, dotted key
//! paths, and "did you mean" suggestions.
//!
//! Every message the loader produces names the file, the line and the
//! dotted key, so users can jump straight to the offending spot.

use std::fmt;
use std::ops::Range;

/// A 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

/// The start of a span as line/column, or 1:1 for values without one.
pub(crate) fn span_start(text: &str, span: Option<&Range<usize>>) -> (usize, usize) {
    span.map_or((1, 1), |span| line_col(text, span.start))
}

/// A dotted key path such as `profile.default.overrides[0].filter`.
///
/// Segments that are not bare TOML keys are quoted, so the path can be
/// pasted back into a TOML header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(String);

impl KeyPath {
    /// The path of the document root (empty).
    pub(crate) fn root() -> Self {
        KeyPath(String::new())
    }

    /// The path of `key` inside this table.
    pub(crate) fn child(&self, key: &str) -> Self {
        let bare = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let segment = if bare {
            key.to_owned()
        } else {
            format!("{key:?}")
        };
        if self.0.is_empty() {
            KeyPath(segment)
        } else {
            KeyPath(format!("{}.{segment}", self.0))
        }
    }

    /// The path of element `index` of this array.
    pub(crate) fn index(&self, index: usize) -> Self {
        KeyPath(format!("{}[{index}]", self.0))
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The candidate closest to `input`, if it is close enough to be a likely
/// typo (an edit distance of at most a third of its length, minimum 1).
/// Shared by every "did you mean" in gantry, so they all agree.
pub fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let normalized = input.replace('_', "-").to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != input)
        .map(|c| {
            (
                edit_distance(&normalized, &c.replace('_', "-").to_lowercase()),
                c,
            )
        })
        .filter(|&(d, c)| d <= (c.chars().count() / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Edit distance where swapping two adjacent characters counts as one
/// edit (optimal string alignment), since transpositions are common typos.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        // Column counts characters, not bytes.
        assert_eq!(line_col(text, text.find('"').unwrap()), (2, 6));
        assert_eq!(line_col(text, 1000), (3, 1));
    }

    #[test]
    fn key_paths_quote_odd_segments() {
        let p = KeyPath::root().child("profile").child("my.prof");
        assert_eq!(p.to_string(), "profile.\"my.prof\"");
        assert_eq!(
            p.child("overrides").index(2).child("filter").to_string(),
            "profile.\"my.prof\".overrides[2].filter"
        );
    }

    #[test]
    fn suggestions() {
        let keys = ["retries", "slow-timeout", "jobs", "fail-fast"];
        assert_eq!(suggest("retires", keys), Some("retries"));
        assert_eq!(suggest("slow_timeout", keys), Some("slow-timeout"));
        assert_eq!(suggest("job", keys), Some("jobs"));
        assert_eq!(suggest("jbos", keys), Some("jobs"));
        assert_eq!(edit_distance("prot", "port"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(suggest("colour", keys), None);
        assert_eq!(suggest("x", ["ci", "default"]), None);
    }
}
