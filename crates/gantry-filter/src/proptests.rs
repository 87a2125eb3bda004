//! Property tests: printing is a faithful inverse of parsing.

use proptest::prelude::*;

use crate::ast::{AndOp, Expr, Field};
use crate::matcher::Matcher;
use crate::{FilterExpr, TestQuery};

/// Characters that stress escaping and tokenizing: delimiters, operators,
/// whitespace, backslashes, prefixes, keywords' letters and non-ASCII.
const ALPHABET: &[char] = &[
    'a', 'b', 'n', 'o', 't', 'A', '0', '_', '-', ':', '.', ' ', '\t', '(', ')', ',', '/', '\\',
    '=', '~', '#', '!', '&', '|', '+', '*', '?', '[', ']', '{', '}', 'é', '日', '🦀',
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 1..8)
        .prop_map(|chars| chars.into_iter().collect())
}

fn regex_source() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec!["", ".*", "\\d+", "(a|/)", "[^)]", "\\\\", "\\/"]);
    (any::<bool>(), text(), pieces, any::<bool>()).prop_map(|(start, text, piece, end)| {
        format!(
            "{}{}{piece}{}",
            if start { "^" } else { "" },
            regex::escape(&text),
            if end { "$" } else { "" }
        )
    })
}

fn matcher() -> impl Strategy<Value = Matcher> {
    prop_oneof![
        text().prop_map(Matcher::Exact),
        text().prop_map(Matcher::Contains),
        text().prop_filter_map("invalid glob", |text| Matcher::glob(&text).ok()),
        regex_source().prop_filter_map("invalid regex", |source| Matcher::regex(&source).ok()),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        1 => Just(Expr::All),
        1 => Just(Expr::None),
        8 => (prop::sample::select(Field::ALL.to_vec()), matcher())
            .prop_map(|(field, matcher)| Expr::Predicate(field, matcher)),
    ]
}

/// Expressions built only through the constructors the parser and the
/// public API use, which are the ones that round-trip.
fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(Expr::not),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| l.and_op(AndOp::And, r)),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| l.and_op(AndOp::Minus, r)),
            (inner.clone(), inner).prop_map(|(l, r)| l.or(r)),
        ]
    })
}

/// Inputs made of the language's own tokens, which get much further into
/// the parser than random characters do.
fn token_soup() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "test(", "package(", "kind(", "all()", "none()", "a", "é", ")", "(", " & ", " | ", " - ",
        "!", "not ", " and ", " or ", "+", "/", "\\", ",", " ", "=", "~", "#", "*", "[",
    ]);
    prop::collection::vec(tokens, 0..16).prop_map(|tokens| tokens.concat())
}

fn collect_texts(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::All | Expr::None => {}
        Expr::Predicate(_, matcher) => out.push(matcher.source().to_owned()),
        Expr::Not(inner) => collect_texts(inner, out),
        Expr::And(first, rest) => {
            collect_texts(first, out);
            for (_, operand) in rest {
                collect_texts(operand, out);
            }
        }
        Expr::Or(operands) => operands
            .iter()
            .for_each(|operand| collect_texts(operand, out)),
    }
}

fn query(value: &str) -> TestQuery<'_> {
    TestQuery {
        package: value,
        binary_id: value,
        binary: value,
        kind: value,
        test: value,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printing_round_trips(expr in expr(), extra in prop::collection::vec(text(), 0..4)) {
        let expr = FilterExpr { expr };
        let printed = expr.to_string();
        let reparsed = match FilterExpr::parse(&printed) {
            Ok(reparsed) => reparsed,
            Err(err) => return Err(TestCaseError::fail(format!("{err}"))),
        };
        prop_assert_eq!(&reparsed, &expr, "printed as {}", printed);
        prop_assert_eq!(reparsed.to_string(), printed);

        // Values taken from the matchers themselves make many predicates
        // match, so the comparison exercises more than `false == false`.
        let mut values = extra;
        collect_texts(&expr.expr, &mut values);
        values.push(String::new());
        for value in &values {
            let test = query(value);
            prop_assert_eq!(reparsed.matches(&test), expr.matches(&test), "value {:?}", value);
            prop_assert_eq!(expr.clone().not().matches(&test), !expr.matches(&test));
        }
    }

    #[test]
    fn parsing_arbitrary_input_never_panics(input in prop_oneof!["\\PC{0,40}", token_soup()]) {
        if let Ok(expr) = FilterExpr::parse(&input) {
            prop_assert_eq!(FilterExpr::parse(&expr.to_string()).ok(), Some(expr));
        } else if let Err(err) = FilterExpr::parse(&input) {
            prop_assert!(input.is_char_boundary(err.offset()));
            prop_assert_eq!(err.to_string().lines().count(), 3);
        }
    }
}
