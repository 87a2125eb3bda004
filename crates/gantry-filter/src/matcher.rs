//! Matchers: how a predicate compares its text with a field of a test.

use std::fmt;

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;

/// One way of comparing a pattern with a string.
///
/// Regexes and globs keep their source text, which is what equality and
/// printing use: two compiled automata cannot be compared meaningfully.
#[derive(Clone)]
pub(crate) enum Matcher {
    Exact(String),
    Contains(String),
    Regex(Regex),
    Glob {
        source: String,
        matcher: GlobMatcher,
    },
}

impl Matcher {
    /// Compiles a regex; the error is a one-line description.
    ///
    /// A `\/` pair means the same to the regex engine as `/`, and the
    /// expression syntax can only spell the latter, so it is stored that
    /// way; this keeps every matcher printable.
    pub(crate) fn regex(source: &str) -> Result<Matcher, String> {
        let mut normalized = String::with_capacity(source.len());
        let mut chars = source.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                normalized.push(c);
                continue;
            }
            match chars.next() {
                Some('/') => normalized.push('/'),
                Some(escaped) => {
                    normalized.push('\\');
                    normalized.push(escaped);
                }
                None => normalized.push('\\'),
            }
        }
        Regex::new(&normalized)
            .map(Matcher::Regex)
            .map_err(|err| summarize_regex_error(&err))
    }

    /// Compiles a glob that must match the whole string.
    ///
    /// Backslash escapes are always on so that a pattern means the same on
    /// every platform.
    pub(crate) fn glob(source: &str) -> Result<Matcher, String> {
        GlobBuilder::new(source)
            .backslash_escape(true)
            .build()
            .map(|glob| Matcher::Glob {
                source: source.to_owned(),
                matcher: glob.compile_matcher(),
            })
            .map_err(|err| err.kind().to_string())
    }

    pub(crate) fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(text) => value == text,
            Matcher::Contains(text) => value.contains(text.as_str()),
            Matcher::Regex(regex) => regex.is_match(value),
            Matcher::Glob { matcher, .. } => matcher.is_match(value),
        }
    }

    /// The text as the user meant it, after unescaping.
    pub(crate) fn source(&self) -> &str {
        match self {
            Matcher::Exact(text) | Matcher::Contains(text) => text,
            Matcher::Regex(regex) => regex.as_str(),
            Matcher::Glob { source, .. } => source,
        }
    }
}

/// `regex` renders syntax errors over several lines (pattern, carets,
/// description); a filter error has room for only the description.
fn summarize_regex_error(err: &regex::Error) -> String {
    let rendered = err.to_string();
    let description = rendered
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .or_else(|| rendered.lines().rev().find(|line| !line.trim().is_empty()))
        .unwrap_or("")
        .trim()
        .trim_end_matches('.');
    // Messages are fragments after "invalid regex: ", so start lowercase.
    let mut chars = description.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        match (self, other) {
            (Matcher::Exact(a), Matcher::Exact(b))
            | (Matcher::Contains(a), Matcher::Contains(b)) => a == b,
            (Matcher::Regex(a), Matcher::Regex(b)) => a.as_str() == b.as_str(),
            (Matcher::Glob { source: a, .. }, Matcher::Glob { source: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Eq for Matcher {}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variant = match self {
            Matcher::Exact(_) => "Exact",
            Matcher::Contains(_) => "Contains",
            Matcher::Regex(_) => "Regex",
            Matcher::Glob { .. } => "Glob",
        };
        f.debug_tuple(variant).field(&self.source()).finish()
    }
}
