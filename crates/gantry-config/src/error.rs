//! Errors and warnings of config loading.
//!
//! Messages are complete sentences for the user: they say what is wrong,
//! where (file:line:column and the dotted key) and, where possible, what to
//! do. The CLI prints them as they are and maps every [`ConfigError`] to the
//! usage/config exit code.

use std::fmt;
use std::path::PathBuf;

use gantry_filter::ParseError;

/// Why the configuration could not be loaded or a name could not be
/// resolved.
///
/// Invalid values are errors (nothing should run with a config the user
/// did not mean); unknown keys are only [`ConfigWarning`]s.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("{}: cannot read the config file: {source}", path.display())]
    Io {
        /// The config file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: invalid TOML: {message}", path.display())]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// The TOML parser's description.
        message: String,
    },

    /// A key has a value gantry cannot use (wrong type, out of range, an
    /// unknown name it refers to, a dependency cycle, ...).
    #[error("{}:{line}:{column}: {key}: {message}{}", path.display(), help_suffix(help))]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the offending value.
        line: usize,
        /// 1-based column (in characters) of the offending value.
        column: usize,
        /// Dotted path of the offending key, e.g.
        /// `profile.default.overrides[0].retries`.
        key: String,
        /// What is wrong.
        message: String,
        /// What to do about it, shown in parentheses after the message.
        help: Option<String>,
    },

    /// A filter expression (in an override, a tier or a fixture's `for`)
    /// does not parse; `Display` shows the parser's message with the
    /// expression and a caret below the location.
    #[error("{}:{line}:{column}: {key}: {source}", path.display())]
    InvalidFilter {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the expression's string.
        line: usize,
        /// 1-based column (in characters) of the offending character when
        /// the string is written without escapes, else of the string.
        column: usize,
        /// Dotted path of the key holding the expression.
        key: String,
        /// The parser's error, with the offset into the expression.
        #[source]
        source: ParseError,
    },

    /// `--profile NAME` names a profile that is neither built in nor in the
    /// file.
    #[error("unknown profile `{name}`{}; known profiles: {} (define `[profile.{name}]` in .config/gantry.toml to add it)",
        did_you_mean(name, known), known.join(", "))]
    UnknownProfile {
        /// The requested name.
        name: String,
        /// Every profile that exists, sorted.
        known: Vec<String>,
    },

    /// `--tier NAME` names a tier the `[tiers]` table does not define.
    #[error(
        "unknown tier `{name}`{}; {}",
        did_you_mean(name, known),
        known_tiers(known)
    )]
    UnknownTier {
        /// The requested name.
        name: String,
        /// Every defined tier, sorted.
        known: Vec<String>,
    },
}

fn help_suffix(help: &Option<String>) -> String {
    help.as_ref().map_or(String::new(), |h| format!(" ({h})"))
}

fn did_you_mean(name: &str, known: &[String]) -> String {
    crate::span::suggest(name, known.iter().map(String::as_str))
        .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"))
}

fn known_tiers(known: &[String]) -> String {
    if known.is_empty() {
        "no tiers are defined (declare them in the `[tiers]` table of .config/gantry.toml, e.g. `tier1 = \"kind(lib)\"`)".to_owned()
    } else {
        format!(
            "known tiers: {} (tiers are declared in the `[tiers]` table of .config/gantry.toml)",
            known.join(", ")
        )
    }
}

/// Something in the file gantry ignores or that has no effect, most often
/// an unknown (misspelt) key.
///
/// Warnings do not stop a run; the CLI shows them before it starts.
/// `Display` gives `path:line: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The config file.
    pub path: PathBuf,
    /// 1-based line of the key.
    pub line: usize,
    /// Dotted path of the key, e.g. `profile.default.retires`.
    pub key: String,
    /// The full message, e.g. "unknown key `profile.default.retires` (did
    /// you mean `retries`?)".
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}
