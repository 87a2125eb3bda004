//! Canonical printing: every matcher with its prefix, operators as symbols,
//! and only the parentheses that the precedence rules require, so that the
//! printed form parses back to an equal expression.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::{AndOp, Expr};
use crate::matcher::Matcher;

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::All => f.write_str("all()"),
            Expr::None => f.write_str("none()"),
            Expr::Predicate(field, matcher) => write!(f, "{}({matcher})", field.name()),
            Expr::Not(inner) => {
                f.write_char('!')?;
                operand(f, inner, matches!(**inner, Expr::And(..) | Expr::Or(_)))
            }
            Expr::And(first, rest) => {
                // The first operand is on the left of a left-associative
                // chain, so only a looser `or` needs parentheses; later ones
                // also need them around another `and` chain.
                operand(f, first, matches!(**first, Expr::Or(_)))?;
                for (op, right) in rest {
                    f.write_str(match op {
                        AndOp::And => " & ",
                        AndOp::Minus => " - ",
                    })?;
                    operand(f, right, matches!(right, Expr::And(..) | Expr::Or(_)))?;
                }
                Ok(())
            }
            Expr::Or(operands) => {
                for (index, right) in operands.iter().enumerate() {
                    if index > 0 {
                        f.write_str(" | ")?;
                    }
                    operand(f, right, matches!(right, Expr::Or(_)))?;
                }
                Ok(())
            }
        }
    }
}

fn operand(f: &mut Formatter<'_>, expr: &Expr, parenthesize: bool) -> fmt::Result {
    if parenthesize {
        write!(f, "({expr})")
    } else {
        write!(f, "{expr}")
    }
}

impl Display for Matcher {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(text) => {
                f.write_char('=')?;
                write_text(f, text)
            }
            Matcher::Contains(text) => {
                f.write_char('~')?;
                write_text(f, text)
            }
            Matcher::Glob { source, .. } => {
                f.write_char('#')?;
                write_text(f, source)
            }
            Matcher::Regex(regex) => {
                f.write_char('/')?;
                write_regex(f, regex.as_str())?;
                f.write_char('/')
            }
        }
    }
}

/// Writes plain matcher text so that the parser reads back exactly `text`:
/// the characters that end or delimit text are escaped, and so is
/// whitespace at either end, which the parser would otherwise trim.
fn write_text(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    let leading_end = text
        .find(|c: char| !c.is_whitespace())
        .unwrap_or(text.len());
    let trailing_start = text.rfind(|c: char| !c.is_whitespace()).map_or(0, |index| {
        index + text[index..].chars().next().map_or(0, char::len_utf8)
    });
    for (index, c) in text.char_indices() {
        let at_edge = index < leading_end || index >= trailing_start;
        if matches!(c, '\\' | '(' | ')' | ',') || (at_edge && c.is_whitespace()) {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    Ok(())
}

/// Writes a regex body between slashes: backslash pairs are regex syntax
/// and pass through untouched; a bare `/` would end the regex, so it becomes
/// `\/`, which the parser turns back into `/`.
fn write_regex(f: &mut Formatter<'_>, source: &str) -> fmt::Result {
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                f.write_char('\\')?;
                if let Some(escaped) = chars.next() {
                    f.write_char(escaped)?;
                }
            }
            '/' => f.write_str("\\/")?,
            c => f.write_char(c)?,
        }
    }
    Ok(())
}
