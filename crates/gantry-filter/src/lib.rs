//! The filter-expression language used by `cargo gantry run -E`, profile
//! overrides, tiers and fixtures.
//!
//! One small language selects tests everywhere, so that a selection that
//! works on the command line can be pasted into a config file unchanged.
//! It is modelled on cargo-nextest's filtersets.
//!
//! # Syntax
//!
//! Predicates look at one fact about a test:
//!
//! | predicate      | looks at                                  | default matcher |
//! |----------------|-------------------------------------------|-----------------|
//! | `test(M)`      | the full test name, `tests::parses_empty`  | contains        |
//! | `package(M)`   | the package name                          | glob            |
//! | `binary(M)`    | the target name of the test binary        | glob            |
//! | `binary_id(M)` | the binary id, `echo-cli::bin/echo-cli`    | glob            |
//! | `kind(M)`      | the target kind, `lib`, `test`, …          | exact           |
//! | `all()`, `none()` | nothing: always / never match         |                 |
//!
//! A matcher may pick its kind with a prefix: `=text` (exact), `~text`
//! (contains), `#glob` (the whole string must match) or `/regex/`
//! (unanchored; `\/` is a slash). Plain text runs up to the closing
//! parenthesis, may contain balanced parentheses and has surrounding
//! whitespace trimmed; `\\`, `\(`, `\)`, `\,` and a backslash before
//! whitespace stand for that character.
//!
//! Operators, from tightest to loosest: `not X` / `!X`; `A and B` / `A & B`
//! and `A - B` (A but not B); `A or B` / `A | B` / `A + B`. Binary
//! operators are left-associative and parentheses group.
//!
//! ```
//! use gantry_filter::{FilterExpr, TestQuery};
//!
//! let filter: FilterExpr = "package(echo-*) & not test(/slow$/)".parse()?;
//! let test = TestQuery {
//!     package: "echo-client",
//!     binary_id: "echo-client::integration",
//!     binary: "integration",
//!     kind: "test",
//!     test: "connects::fast",
//! };
//! assert!(filter.matches(&test));
//! assert_eq!(filter.to_string(), "package(#echo-*) & !test(/slow$/)");
//! # Ok::<(), gantry_filter::ParseError>(())
//! ```

use std::fmt;
use std::str::FromStr;

mod ast;
mod display;
mod error;
mod matcher;
mod parse;
#[cfg(test)]
mod proptests;

pub use error::ParseError;

use ast::{AndOp, Expr};

/// The facts about one test that a filter expression can ask about.
///
/// Borrowed rather than owned so that filtering a large test list does not
/// allocate per test.
#[derive(Clone, Copy, Debug)]
pub struct TestQuery<'a> {
    /// Package name, e.g. `echo-client`.
    pub package: &'a str,
    /// Binary id, e.g. `echo-client`, `echo-client::integration`, `echo-cli::bin/echo-cli`.
    pub binary_id: &'a str,
    /// Target name of the test binary, e.g. `integration` or `echo_client`.
    pub binary: &'a str,
    /// Target kind: `lib`, `bin`, `test`, `example`, `bench`, `proc-macro`.
    pub kind: &'a str,
    /// Full test name as libtest prints it, e.g. `tests::parses_empty`.
    pub test: &'a str,
}

/// A parsed filter expression.
///
/// Parsing compiles regexes and globs once, so an expression can be matched
/// against many tests cheaply. `Display` prints a canonical form that
/// parses back to an equal expression, which lets the runner echo or store
/// the exact selection it used. Equality is structural; regexes and globs
/// compare by their source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterExpr {
    expr: Expr,
}

impl FilterExpr {
    /// Parses an expression; the error points at the offending character.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        parse::parse(input).map(|expr| FilterExpr { expr })
    }

    /// Whether the test is selected by this expression.
    pub fn matches(&self, test: &TestQuery<'_>) -> bool {
        self.expr.matches(test)
    }

    /// The expression that selects every test, the neutral starting point
    /// when no filter was given.
    pub fn all() -> Self {
        FilterExpr { expr: Expr::All }
    }

    /// The expression that selects no test, the neutral starting point for
    /// combining alternatives with [`or`](Self::or).
    pub fn none() -> Self {
        FilterExpr { expr: Expr::None }
    }

    /// Selects tests matched by both expressions (`self & other`), e.g. to
    /// narrow a profile's filter by the one given on the command line.
    ///
    /// Chains built by repeated calls stay flat, exactly as if
    /// `a & b & c` had been parsed.
    pub fn and(self, other: FilterExpr) -> Self {
        FilterExpr {
            expr: self.expr.and_op(AndOp::And, other.expr),
        }
    }

    /// Selects tests matched by either expression (`self | other`), e.g. to
    /// combine several `-E` options.
    ///
    /// Chains built by repeated calls stay flat, so thousands of
    /// alternatives do not nest deeply.
    pub fn or(self, other: FilterExpr) -> Self {
        FilterExpr {
            expr: self.expr.or(other.expr),
        }
    }

    /// Selects the tests this expression does not (`!self`), e.g. to turn a
    /// skip list into a filter.
    #[expect(
        clippy::should_implement_trait,
        reason = "an inherent method works without importing `std::ops::Not`"
    )]
    pub fn not(self) -> Self {
        FilterExpr {
            expr: self.expr.not(),
        }
    }
}

impl fmt::Display for FilterExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl FromStr for FilterExpr {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, ParseError> {
        FilterExpr::parse(input)
    }
}
