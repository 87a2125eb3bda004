//! The one error type of the crate.

/// Why a filter expression did not parse.
///
/// Expressions come from command lines and config files, where the most
/// useful report points at the exact spot, so the error keeps the whole
/// input and a byte offset into it. `Display` renders three lines: the
/// message, the input, and a caret under the offending character (or just
/// past the end when the input ran out).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid filter expression: {message}\n  {}\n  {}^",
    printable(input),
    " ".repeat(input.get(..*offset).map_or(0, |before| before.chars().count()))
)]
pub struct ParseError {
    input: String,
    offset: usize,
    message: String,
}

impl ParseError {
    pub(crate) fn new(input: &str, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            input: input.to_owned(),
            offset,
            message: message.into(),
        }
    }

    /// The expression that failed to parse, so that callers that report
    /// errors their own way (for example with a config-file span) do not
    /// have to keep it around themselves.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The byte offset into [`input`](Self::input) of the problem, equal to
    /// the input's length when the expression ended too early; always on a
    /// character boundary, so it can be used to slice the input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The one-line description of the problem, without the input and
    /// caret, for reports that lay out the location themselves.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Control characters (tabs, newlines) would break the line layout of the
/// rendered error; each becomes one space so the caret still lines up.
fn printable(input: &str) -> String {
    input
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
