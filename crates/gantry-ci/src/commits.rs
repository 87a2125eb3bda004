//! Commit-message rules for the commits of a branch.
//!
//! Short titles keep `git log --oneline`, GitHub's lists and email subjects
//! readable; the blank second line is what git itself uses to tell the
//! title from the body; wrapped bodies read well in terminals and mail.
//! Only the branch's own commits are checked (`BASE..HEAD`, merges
//! excluded), so old history never fails a new pull request.

use std::fmt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{CiError, Result};

/// The rules a message must follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitRules {
    /// Longest title, in characters (60).
    pub title_max: usize,
    /// Longest body line, in characters (75); a line holding only a URL
    /// may be longer, since URLs cannot be wrapped.
    pub body_max: usize,
    /// Require a `Signed-off-by:` line (the Developer Certificate of Origin).
    pub signed_off_by: bool,
}

impl Default for CommitRules {
    fn default() -> Self {
        Self {
            title_max: 60,
            body_max: 75,
            signed_off_by: false,
        }
    }
}

/// A broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitRule {
    /// The message is empty or its first line is blank.
    EmptyTitle,
    /// The title is longer than the limit.
    TitleTooLong {
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The line after the title is not blank.
    SecondLineNotBlank,
    /// A body line is longer than the limit.
    BodyLineTooLong {
        /// 1-based line number within the message.
        line: usize,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `Signed-off-by:` is required and missing.
    MissingSignoff,
}

impl fmt::Display for CommitRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyTitle => f.write_str("the title (first line) is empty"),
            Self::TitleTooLong { len, max } => write!(
                f,
                "the title is {len} characters long; the limit is {max} (shorten it, move details to the body)"
            ),
            Self::SecondLineNotBlank => f.write_str(
                "the second line is not blank (separate the title from the body with an empty line)",
            ),
            Self::BodyLineTooLong { line, len, max } => write!(
                f,
                "body line {line} is {len} characters long; the limit is {max} (wrap it; only a line holding a single URL may be longer)"
            ),
            Self::MissingSignoff => f.write_str(
                "there is no `Signed-off-by:` line (commit with `git commit -s`, or amend with `git commit --amend -s`)",
            ),
        }
    }
}

/// A rule one commit breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitViolation {
    /// Abbreviated hash.
    pub short_hash: String,
    /// The commit's title.
    pub title: String,
    /// The rule.
    pub rule: CommitRule,
}

impl fmt::Display for CommitViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "commit {} \"{}\": {}",
            self.short_hash, self.title, self.rule
        )
    }
}

fn is_lone_url(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty()
        && !t.contains(char::is_whitespace)
        && t.split_once("://").is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
        })
}

/// The rules `message` breaks (empty when it is fine). Trailing blank
/// lines are ignored, as git strips them.
pub fn check_message(message: &str, rules: &CommitRules) -> Vec<CommitRule> {
    let mut broken = Vec::new();
    let lines: Vec<&str> = message.trim_end().lines().collect();
    let title = lines.first().copied().unwrap_or_default();
    if title.trim().is_empty() {
        broken.push(CommitRule::EmptyTitle);
    }
    let len = title.chars().count();
    if len > rules.title_max {
        broken.push(CommitRule::TitleTooLong {
            len,
            max: rules.title_max,
        });
    }
    if lines.len() > 1 && !lines[1].trim().is_empty() {
        broken.push(CommitRule::SecondLineNotBlank);
    }
    for (i, line) in lines.iter().enumerate().skip(1) {
        let len = line.chars().count();
        if len > rules.body_max && !is_lone_url(line) {
            broken.push(CommitRule::BodyLineTooLong {
                line: i + 1,
                len,
                max: rules.body_max,
            });
        }
    }
    if rules.signed_off_by
        && !lines.iter().any(|l| {
            l.strip_prefix("Signed-off-by:")
                .is_some_and(|rest| !rest.trim().is_empty())
        })
    {
        broken.push(CommitRule::MissingSignoff);
    }
    broken
}

/// The commits to check and how they were chosen.
#[derive(Clone, Debug)]
pub struct CommitRange {
    /// The revision range passed to `git log`: `BASE..HEAD`, or `HEAD -1`
    /// when there is no base.
    pub revs: Vec<String>,
    /// A sentence for the log, e.g. "checked 3 commits in a1b2c3d..HEAD
    /// (merge-base with origin/main)".
    pub description: String,
}

/// What [`check_repo`] found.
#[derive(Clone, Debug)]
pub struct CommitCheck {
    /// The range checked.
    pub range: CommitRange,
    /// How many commits were checked.
    pub checked: usize,
    /// Every broken rule, commit by commit.
    pub violations: Vec<CommitViolation>,
}

fn git(repo: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| CiError::Git {
            command: format!("git {}", args.join(" ")),
            message: format!("could not run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(CiError::Git {
            command: format!("git {}", args.join(" ")),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn git_ok(repo: &Path, args: &[&str]) -> Option<String> {
    git(repo, args).ok().map(|s| s.trim().to_string())
}

/// Whether `dir` is inside a git work tree.
pub fn is_git_repo(dir: &Path) -> bool {
    git_ok(dir, &["rev-parse", "--is-inside-work-tree"]).is_some_and(|s| s == "true")
}

/// The default branch to compare with: `origin/HEAD`'s target, else the
/// first of `main`, `master`, `origin/main`, `origin/master` that exists.
pub fn default_branch(repo: &Path) -> Option<String> {
    if let Some(r) = git_ok(repo, &["symbolic-ref", "-q", "refs/remotes/origin/HEAD"]) {
        if !r.is_empty() {
            return Some(r.trim_start_matches("refs/remotes/").to_string());
        }
    }
    ["main", "master", "origin/main", "origin/master"]
        .into_iter()
        .find(|b| {
            git_ok(
                repo,
                &["rev-parse", "--verify", "-q", &format!("{b}^{{commit}}")],
            )
            .is_some()
        })
        .map(str::to_string)
}

/// Chooses the commits to check: `base..HEAD` when `base` is given;
/// otherwise from the merge-base with the default branch. When there is no
/// base, or the range is empty (HEAD is on the default branch), only HEAD
/// is checked.
pub fn resolve_range(repo: &Path, base: Option<&str>) -> Result<CommitRange> {
    let head_only = |why: String| CommitRange {
        revs: vec!["-1".into(), "HEAD".into()],
        description: format!("checked HEAD only ({why})"),
    };
    let (base_rev, why) = match base {
        Some(b) => {
            let rev = git(repo, &["rev-parse", "--verify", &format!("{b}^{{commit}}")]).map_err(
                |e| CiError::Git {
                    command: format!("git rev-parse --verify {b}"),
                    message: format!(
                        "the base `{b}` is not a commit here ({e}); fetch it (`git fetch origin {b}`) or pass another --base"
                    ),
                },
            )?;
            (rev.trim().to_string(), format!("base {b}"))
        }
        None => {
            let Some(branch) = default_branch(repo) else {
                return Ok(head_only(
                    "no default branch found: neither origin/HEAD nor main/master exists".into(),
                ));
            };
            let Some(mb) = git_ok(repo, &["merge-base", "HEAD", &branch]) else {
                return Ok(head_only(format!(
                    "HEAD has no common ancestor with {branch}"
                )));
            };
            (mb, format!("merge-base with {branch}"))
        }
    };
    let count: usize = git_ok(
        repo,
        &[
            "rev-list",
            "--count",
            "--no-merges",
            &format!("{base_rev}..HEAD"),
        ],
    )
    .and_then(|s| s.parse().ok())
    .unwrap_or(0);
    if count == 0 {
        return Ok(head_only(format!("no commits after the {why}")));
    }
    let short = git_ok(repo, &["rev-parse", "--short", &base_rev]).unwrap_or(base_rev.clone());
    Ok(CommitRange {
        revs: vec![format!("{base_rev}..HEAD")],
        description: format!(
            "checked {count} commit{} in {short}..HEAD ({why})",
            if count == 1 { "" } else { "s" }
        ),
    })
}

/// Checks the messages of the commits [`resolve_range`] picks.
pub fn check_repo(repo: &Path, base: Option<&str>, rules: &CommitRules) -> Result<CommitCheck> {
    let range = resolve_range(repo, base)?;
    let mut args = vec!["log", "--no-merges", "--format=%h%x1f%B%x1e"];
    args.extend(range.revs.iter().map(String::as_str));
    let out = git(repo, &args)?;
    let mut per_commit: Vec<Vec<CommitViolation>> = Vec::new();
    let mut checked = 0;
    for record in out.split('\x1e') {
        let record = record.trim_start_matches('\n');
        let Some((short, message)) = record.split_once('\x1f') else {
            continue;
        };
        checked += 1;
        let title = message.lines().next().unwrap_or_default().to_string();
        per_commit.push(
            check_message(message, rules)
                .into_iter()
                .map(|rule| CommitViolation {
                    short_hash: short.to_string(),
                    title: title.clone(),
                    rule,
                })
                .collect(),
        );
    }
    // Oldest commit first reads like the branch's story.
    let violations = per_commit.into_iter().rev().flatten().collect();
    Ok(CommitCheck {
        range,
        checked,
        violations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> CommitRules {
        CommitRules::default()
    }

    #[test]
    fn good_messages_pass() {
        assert!(check_message("Fix the parser\n\nIt was wrong.\n", &rules()).is_empty());
        assert!(check_message("Fix the parser", &rules()).is_empty());
        let url = format!("Link\n\nSee:\nhttps://example.com/{}\n", "a".repeat(100));
        assert!(check_message(&url, &rules()).is_empty());
    }

    #[test]
    fn each_rule_is_reported() {
        let long_title = "x".repeat(61);
        assert_eq!(
            check_message(&long_title, &rules()),
            [CommitRule::TitleTooLong { len: 61, max: 60 }]
        );
        assert_eq!(
            check_message("Title\nbody right away", &rules()),
            [CommitRule::SecondLineNotBlank]
        );
        let body = format!("Title\n\n{}\n", "word ".repeat(16));
        assert!(matches!(
            check_message(&body, &rules())[..],
            [CommitRule::BodyLineTooLong { line: 3, .. }]
        ));
        let long_url_with_text = format!("T\n\nsee https://e.com/{}", "a".repeat(80));
        assert_eq!(check_message(&long_url_with_text, &rules()).len(), 1);
        let signed = CommitRules {
            signed_off_by: true,
            ..rules()
        };
        assert_eq!(
            check_message("T\n\nbody", &signed),
            [CommitRule::MissingSignoff]
        );
        assert!(check_message("T\n\nSigned-off-by: A <a@b.c>", &signed).is_empty());
        assert_eq!(check_message("", &rules()), [CommitRule::EmptyTitle]);
    }

    #[test]
    fn title_length_counts_characters_not_bytes() {
        let title = "é".repeat(60);
        assert!(check_message(&title, &rules()).is_empty());
    }
}
