//! A recursive-descent parser for filter expressions.
//!
//! ```text
//! expr    = and_expr (("|" | "+" | "or") and_expr)*
//! and_expr = unary (("&" | "and" | "-") unary)*
//! unary   = ("!" | "not") unary | atom
//! atom    = "(" expr ")" | "all()" | "none()" | FIELD "(" matcher ")"
//! matcher = ("=" | "~" | "#")? text | "/" regex "/"
//! ```

use crate::ast::{AndOp, Expr, Field, TextKind};
use crate::error::ParseError;
use crate::matcher::Matcher;

/// How deeply parentheses and negations may nest. Evaluation, printing and
/// dropping recurse over the tree, so a bound keeps hostile input from
/// overflowing the stack; real expressions are nowhere near it.
const MAX_DEPTH: usize = 128;

/// The predicate names, for the "unknown predicate" message.
const PREDICATE_NAMES: &str = "test, package, binary, binary_id, kind, all, none";

pub(crate) fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser {
        input,
        pos: 0,
        depth: 0,
    };
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(parser.error_at(input.len(), "empty expression"));
    }
    let expr = parser.expr()?;
    parser.skip_whitespace();
    match parser.peek() {
        None => Ok(expr),
        Some(')') => Err(parser.error("unmatched `)`")),
        Some(_) => Err(parser.error(format!(
            "expected an operator, found {}",
            parser.describe_next()
        ))),
    }
}

enum BinaryOp {
    And(AndOp),
    Or,
}

struct Parser<'a> {
    input: &'a str,
    /// Byte offset of the next unread character.
    pos: usize,
    /// Current nesting of parentheses and negations.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos == self.input.len()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.peek() == Some(expected) {
            self.pos += expected.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// The run of word characters at the cursor; keywords and predicate
    /// names are only recognized as whole words, so `nothing` is not `not`.
    fn word(&self) -> &'a str {
        let rest = self.rest();
        let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        &rest[..end]
    }

    /// Names the token at the cursor for "found …" messages.
    fn describe_next(&self) -> String {
        let word = self.word();
        if !word.is_empty() {
            return format!("`{word}`");
        }
        match self.peek() {
            Some(c) => format!("`{}`", c.escape_debug()),
            None => "end of input".to_owned(),
        }
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(self.input, offset, message)
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut expr = self.and_expr()?;
        while let Some(BinaryOp::Or) = self.peek_operator() {
            self.eat_operator();
            let right = self.and_expr()?;
            expr = expr.or(right);
        }
        Ok(expr)
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut expr = self.unary()?;
        while let Some(BinaryOp::And(op)) = self.peek_operator() {
            self.eat_operator();
            let right = self.unary()?;
            expr = expr.and_op(op, right);
        }
        Ok(expr)
    }

    /// Looks at the operator after an operand without consuming it, so that
    /// each precedence level can leave looser operators to its caller.
    fn peek_operator(&mut self) -> Option<BinaryOp> {
        self.skip_whitespace();
        match self.peek()? {
            '&' => Some(BinaryOp::And(AndOp::And)),
            '-' => Some(BinaryOp::And(AndOp::Minus)),
            '|' | '+' => Some(BinaryOp::Or),
            _ => match self.word() {
                "and" => Some(BinaryOp::And(AndOp::And)),
                "or" => Some(BinaryOp::Or),
                _ => None,
            },
        }
    }

    /// Consumes the operator that [`peek_operator`](Self::peek_operator)
    /// just recognized.
    fn eat_operator(&mut self) {
        let word = self.word();
        if word.is_empty() {
            self.bump();
        } else {
            self.pos += word.len();
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!(
                "expression nested too deeply (more than {MAX_DEPTH} levels)"
            )));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.skip_whitespace();
        if self.peek() == Some('!') || self.word() == "not" {
            self.eat_operator();
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(inner.not());
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        if self.eat('(') {
            self.enter()?;
            let expr = self.expr()?;
            self.depth -= 1;
            self.skip_whitespace();
            if self.eat(')') {
                return Ok(expr);
            }
            return Err(if self.at_end() {
                self.error("expected `)`")
            } else {
                self.error(format!(
                    "expected an operator or `)`, found {}",
                    self.describe_next()
                ))
            });
        }
        let name = self.word();
        if name.is_empty() {
            return Err(if self.at_end() {
                self.error("unexpected end of expression")
            } else {
                self.error(format!(
                    "expected a predicate, `not` or `(`, found {}",
                    self.describe_next()
                ))
            });
        }
        let field = match name {
            "all" | "none" => None,
            _ => match Field::from_name(name) {
                Some(field) => Some(field),
                None => {
                    return Err(self.error(format!(
                        "unknown predicate `{name}`; expected one of {PREDICATE_NAMES}"
                    )))
                }
            },
        };
        self.pos += name.len();
        self.skip_whitespace();
        if !self.eat('(') {
            return Err(self.error(format!("expected `(` after `{name}`")));
        }
        match field {
            Some(field) => Ok(Expr::Predicate(field, self.matcher(field)?)),
            None => {
                self.skip_whitespace();
                if !self.eat(')') {
                    return Err(self.error(format!("expected `)`; `{name}()` takes no matcher")));
                }
                Ok(if name == "all" { Expr::All } else { Expr::None })
            }
        }
    }

    /// Parses a matcher and the `)` that closes its predicate.
    fn matcher(&mut self, field: Field) -> Result<Matcher, ParseError> {
        self.skip_whitespace();
        let prefixed = match self.peek() {
            Some('/') => return self.regex(),
            Some('=') => Some(TextKind::Exact),
            Some('~') => Some(TextKind::Contains),
            Some('#') => Some(TextKind::Glob),
            _ => None,
        };
        if prefixed.is_some() {
            self.bump();
        }
        let (start, text) = self.text()?;
        self.finish_text(prefixed.unwrap_or(field.default_kind()), start, text)
    }

    fn finish_text(
        &mut self,
        kind: TextKind,
        start: usize,
        text: String,
    ) -> Result<Matcher, ParseError> {
        if text.is_empty() {
            return Err(self.error("empty matcher"));
        }
        let matcher = match kind {
            TextKind::Exact => Matcher::Exact(text),
            TextKind::Contains => Matcher::Contains(text),
            TextKind::Glob => Matcher::glob(&text)
                .map_err(|reason| self.error_at(start, format!("invalid glob: {reason}")))?,
        };
        // `text` stopped at the closing parenthesis.
        self.bump();
        Ok(matcher)
    }

    /// Reads plain matcher text up to the `)` that closes the predicate,
    /// leaving the cursor on it. Balanced parentheses are part of the text;
    /// `\\`, `\(`, `\)`, `\,` and a backslash before whitespace stand for
    /// the character itself. Unescaped whitespace at either end is trimmed.
    /// A bare `,` is rejected so that it stays free to separate arguments.
    fn text(&mut self) -> Result<(usize, String), ParseError> {
        self.skip_whitespace();
        let start = self.pos;
        let mut text = String::new();
        let mut kept_len = 0;
        let mut open_parens = 0usize;
        loop {
            let at = self.pos;
            let Some(c) = self.bump() else {
                return Err(self.error("expected `)`"));
            };
            match c {
                ')' if open_parens == 0 => {
                    self.pos = at;
                    break;
                }
                ')' => open_parens -= 1,
                '(' => open_parens += 1,
                ',' => {
                    return Err(self.error_at(
                        at,
                        "unexpected `,` in matcher; write `\\,` for a literal comma",
                    ))
                }
                '\\' => match self.bump() {
                    Some(escaped)
                        if matches!(escaped, '\\' | '(' | ')' | ',') || escaped.is_whitespace() =>
                    {
                        text.push(escaped);
                        kept_len = text.len();
                        continue;
                    }
                    Some(escaped) => {
                        return Err(self.error_at(
                            at,
                            format!(
                                "unknown escape `\\{}`; write `\\\\` for a literal backslash",
                                escaped.escape_debug()
                            ),
                        ))
                    }
                    None => return Err(self.error("expected `)`")),
                },
                _ => {}
            }
            text.push(c);
            if !c.is_whitespace() {
                kept_len = text.len();
            }
        }
        text.truncate(kept_len);
        Ok((start, text))
    }

    /// Parses `/regex/` and the `)` after it. Inside the slashes `\/` is a
    /// slash; every other backslash pair is regex syntax and kept as is.
    fn regex(&mut self) -> Result<Matcher, ParseError> {
        self.bump();
        let start = self.pos;
        let mut source = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated regex; expected a closing `/`")),
                Some('/') => break,
                Some('\\') => match self.bump() {
                    Some('/') => source.push('/'),
                    Some(escaped) => {
                        source.push('\\');
                        source.push(escaped);
                    }
                    None => return Err(self.error("unterminated regex; expected a closing `/`")),
                },
                Some(c) => source.push(c),
            }
        }
        if source.is_empty() {
            return Err(self.error_at(start, "empty matcher"));
        }
        let matcher = Matcher::regex(&source)
            .map_err(|reason| self.error_at(start, format!("invalid regex: {reason}")))?;
        self.skip_whitespace();
        if !self.eat(')') {
            return Err(self.error("expected `)` after the regex; write `\\/` for a literal slash"));
        }
        Ok(matcher)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> Expr {
        parse(input).unwrap_or_else(|err| panic!("{err}"))
    }

    fn pred(field: Field, matcher: Matcher) -> Expr {
        Expr::Predicate(field, matcher)
    }

    fn contains(text: &str) -> Expr {
        pred(Field::Test, Matcher::Contains(text.to_owned()))
    }

    #[test]
    fn each_predicate_and_its_default_kind() {
        let glob = |text: &str| Matcher::glob(text).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(parsed("test(a)"), contains("a"));
        assert_eq!(parsed("package(a*)"), pred(Field::Package, glob("a*")));
        assert_eq!(parsed("binary(a)"), pred(Field::Binary, glob("a")));
        assert_eq!(
            parsed("binary_id(a::b)"),
            pred(Field::BinaryId, glob("a::b"))
        );
        assert_eq!(
            parsed("kind(lib)"),
            pred(Field::Kind, Matcher::Exact("lib".into()))
        );
        assert_eq!(parsed("all()"), Expr::All);
        assert_eq!(parsed("none()"), Expr::None);
    }

    #[test]
    fn each_matcher_prefix() {
        let regex = |text: &str| Matcher::regex(text).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            parsed("kind(=a b)"),
            pred(Field::Kind, Matcher::Exact("a b".into()))
        );
        assert_eq!(
            parsed("kind(~a)"),
            pred(Field::Kind, Matcher::Contains("a".into()))
        );
        assert_eq!(
            parsed("kind(#a?)"),
            pred(
                Field::Kind,
                Matcher::glob("a?").unwrap_or_else(|err| panic!("{err}"))
            )
        );
        assert_eq!(parsed("kind(/a+/)"), pred(Field::Kind, regex("a+")));
        // `\/` is a slash; other backslash pairs are regex syntax.
        assert_eq!(
            parsed("test(/a\\/b\\d/)"),
            pred(Field::Test, regex("a/b\\d"))
        );
        assert_eq!(parsed("test(/a\\\\/)"), pred(Field::Test, regex("a\\\\")));
        assert_eq!(regex("a\\/b\\\\/"), regex("a/b\\\\/"));
        assert_eq!(regex("a\\/b").source(), "a/b");
        // A prefix is only a prefix at the start.
        assert_eq!(parsed("test(a=b)"), contains("a=b"));
        assert_eq!(
            parsed("test(==a)"),
            pred(Field::Test, Matcher::Exact("=a".into()))
        );
        assert_eq!(parsed("test(~/a/)"), contains("/a/"));
        assert_eq!(
            parsed("test(= /a/)"),
            pred(Field::Test, Matcher::Exact("/a/".into()))
        );
    }

    #[test]
    fn text_characters() {
        assert_eq!(parsed("test( a::b-c_d.e*f/g )"), contains("a::b-c_d.e*f/g"));
        assert_eq!(parsed("test(a (b) c)"), contains("a (b) c"));
        assert_eq!(parsed("test(a\\)\\(\\,\\\\)"), contains("a)(,\\"));
        assert_eq!(parsed("test(\\ a\\ )"), contains(" a "));
        assert_eq!(parsed("test(\\\ta)"), contains("\ta"));
        assert_eq!(parsed("test(日本 🦀)"), contains("日本 🦀"));
        assert_eq!(parsed("test(&|!-+)"), contains("&|!-+"));
    }

    #[test]
    fn operators_and_precedence() {
        let (a, b, c) = (contains("a"), contains("b"), contains("c"));
        let and = |l: &Expr, r: &Expr| l.clone().and_op(AndOp::And, r.clone());
        let minus = |l: &Expr, r: &Expr| l.clone().and_op(AndOp::Minus, r.clone());
        let or = |l: &Expr, r: &Expr| l.clone().or(r.clone());

        for input in [
            "test(a) & test(b)",
            "test(a) and test(b)",
            "test(a)&test(b)",
        ] {
            assert_eq!(parsed(input), and(&a, &b), "{input}");
        }
        for input in ["test(a) | test(b)", "test(a) or test(b)", "test(a)+test(b)"] {
            assert_eq!(parsed(input), or(&a, &b), "{input}");
        }
        assert_eq!(parsed("test(a) - test(b)"), minus(&a, &b));
        assert_eq!(parsed("not test(a)"), a.clone().not());
        assert_eq!(parsed("!test(a)"), a.clone().not());

        assert_eq!(parsed("test(a) | test(b) & test(c)"), or(&a, &and(&b, &c)));
        assert_eq!(parsed("test(a) & test(b) | test(c)"), or(&and(&a, &b), &c));
        assert_eq!(
            parsed("test(a) | test(b) - test(c)"),
            or(&a, &minus(&b, &c))
        );
        assert_eq!(parsed("!test(a) & test(b)"), and(&a.clone().not(), &b));
        assert_eq!(parsed("!(test(a) & test(b))"), and(&a, &b).not());
        assert_eq!(
            parsed("test(a) & (test(b) | test(c))"),
            and(&a, &or(&b, &c))
        );
        // Left-associative, and `&`/`-` share a level.
        assert_eq!(
            parsed("test(a) - test(b) & test(c)"),
            and(&minus(&a, &b), &c)
        );
        assert_eq!(
            parsed("test(a) - test(b) - test(c)"),
            Expr::And(
                Box::new(a.clone()),
                vec![(AndOp::Minus, b.clone()), (AndOp::Minus, c.clone())]
            )
        );
        assert_eq!(
            parsed("test(a) - (test(b) - test(c))"),
            minus(&a, &minus(&b, &c))
        );
        assert_eq!(
            parsed("test(a) | test(b) | test(c)"),
            Expr::Or(vec![a.clone(), b.clone(), c.clone()])
        );
        assert_eq!(parsed("test(a) | (test(b) | test(c))"), or(&a, &or(&b, &c)));
        // A parenthesized chain on the left merges, like left-associativity.
        assert_eq!(
            parsed("(test(a) | test(b)) | test(c)"),
            parsed("test(a) | test(b) | test(c)")
        );
    }

    #[test]
    fn keywords_are_whole_words() {
        let (a, b) = (contains("a"), contains("b"));
        assert_eq!(parsed("not(test(a))"), a.clone().not());
        assert_eq!(parsed("not!test(a)"), a.clone().not().not());
        assert_eq!(
            parsed("test(a)and(test(b))"),
            a.clone().and_op(AndOp::And, b.clone())
        );
        assert_eq!(parsed("test(a)or!test(b)"), a.clone().or(b.clone().not()));
        assert!(parse("nottest(a)").is_err());
        assert!(parse("test(a) andnot test(b)").is_err());
        assert!(parse("test(a) AND test(b)").is_err());
    }

    #[test]
    fn whitespace_between_tokens() {
        let expected = contains("a").and_op(AndOp::Minus, Expr::All).not();
        assert_eq!(parsed(" \t! ( test ( a ) -all ( ) )\n"), expected);
        assert_eq!(parsed("!(test(a)-all())"), expected);
    }
}
