//! Parse errors: where they point and how they render.

use gantry_filter::FilterExpr;

/// The full three-line rendering of the error for `input`.
fn render(input: &str) -> String {
    match FilterExpr::parse(input) {
        Ok(expr) => panic!("{input:?} unexpectedly parsed as {expr}"),
        Err(err) => err.to_string(),
    }
}

/// The offset and message of the error for `input`.
fn error(input: &str) -> (usize, String) {
    match FilterExpr::parse(input) {
        Ok(expr) => panic!("{input:?} unexpectedly parsed as {expr}"),
        Err(err) => {
            assert_eq!(err.input(), input);
            (err.offset(), err.message().to_owned())
        }
    }
}

#[test]
fn missing_close_paren_points_at_end_of_input() {
    assert_eq!(
        render("test(foo & package(bar)"),
        "invalid filter expression: expected `)`\n\
         \x20 test(foo & package(bar)\n\
         \x20                        ^"
    );
    assert_eq!(
        render("(test(a) | kind(lib)"),
        "invalid filter expression: expected `)`\n\
         \x20 (test(a) | kind(lib)\n\
         \x20                     ^"
    );
}

#[test]
fn unknown_predicate_lists_the_known_ones() {
    assert_eq!(
        render("package(a) & tset(foo)"),
        "invalid filter expression: unknown predicate `tset`; expected one of test, package, \
         binary, binary_id, kind, all, none\n\
         \x20 package(a) & tset(foo)\n\
         \x20              ^"
    );
}

#[test]
fn bad_regex_points_at_the_pattern() {
    assert_eq!(
        render("test(/(unclosed/)"),
        "invalid filter expression: invalid regex: unclosed group\n\
         \x20 test(/(unclosed/)\n\
         \x20       ^"
    );
}

#[test]
fn bad_glob_points_at_the_pattern() {
    assert_eq!(
        render("package( #[ab )"),
        "invalid filter expression: invalid glob: unclosed character class; missing ']'\n\
         \x20 package( #[ab )\n\
         \x20           ^"
    );
}

#[test]
fn trailing_garbage_is_not_an_operator() {
    assert_eq!(
        render("test(a) foo"),
        "invalid filter expression: expected an operator, found `foo`\n\
         \x20 test(a) foo\n\
         \x20         ^"
    );
    assert_eq!(
        render("test(a))"),
        "invalid filter expression: unmatched `)`\n\
         \x20 test(a))\n\
         \x20        ^"
    );
}

#[test]
fn empty_input() {
    assert_eq!(
        render(""),
        "invalid filter expression: empty expression\n  \n  ^"
    );
    assert_eq!(
        render("   "),
        "invalid filter expression: empty expression\n     \n     ^"
    );
}

#[test]
fn empty_matcher() {
    assert_eq!(
        render("test()"),
        "invalid filter expression: empty matcher\n\
         \x20 test()\n\
         \x20      ^"
    );
    assert_eq!(error("kind(=  )"), (8, "empty matcher".to_owned()));
    assert_eq!(error("test(//)"), (6, "empty matcher".to_owned()));
}

#[test]
fn caret_counts_characters_not_bytes() {
    assert_eq!(
        render("test(€uro) ünd"),
        "invalid filter expression: expected an operator, found `ünd`\n\
         \x20 test(€uro) ünd\n\
         \x20            ^"
    );
    // The offset itself is in bytes: `€` is three of them.
    assert_eq!(error("test(€uro) ünd").0, 13);
}

#[test]
fn control_characters_do_not_break_the_layout() {
    assert_eq!(
        render("test(a)\n\tfoo"),
        "invalid filter expression: expected an operator, found `foo`\n\
         \x20 test(a)  foo\n\
         \x20          ^"
    );
}

#[test]
fn running_out_of_input() {
    let end = |input: &str| (input.len(), "unexpected end of expression".to_owned());
    assert_eq!(error("test(a) &"), end("test(a) &"));
    assert_eq!(error("not"), end("not"));
    assert_eq!(error("!"), end("!"));
    assert_eq!(error("test(a) or "), end("test(a) or "));
    assert_eq!(error("test(a"), (6, "expected `)`".to_owned()));
    assert_eq!(error("test(a\\"), (7, "expected `)`".to_owned()));
    assert_eq!(error("test(a(b)"), (9, "expected `)`".to_owned()));
    assert_eq!(
        error("test(/a"),
        (7, "unterminated regex; expected a closing `/`".to_owned())
    );
    assert_eq!(
        error("test(/a\\/)"),
        (10, "unterminated regex; expected a closing `/`".to_owned())
    );
}

#[test]
fn misplaced_tokens() {
    let cases = [
        ("& test(a)", 0, "expected a predicate, `not` or `(`, found `&`"),
        ("test(a) & | test(b)", 10, "expected a predicate, `not` or `(`, found `|`"),
        ("test(a) not test(b)", 8, "expected an operator, found `not`"),
        ("test(a) andtest(b)", 8, "expected an operator, found `andtest`"),
        ("(test(a) test(b))", 9, "expected an operator or `)`, found `test`"),
        ("test", 4, "expected `(` after `test`"),
        ("all", 3, "expected `(` after `all`"),
        ("all(x)", 4, "expected `)`; `all()` takes no matcher"),
        ("none( =a)", 6, "expected `)`; `none()` takes no matcher"),
        ("Test(a)", 0, "unknown predicate `Test`; expected one of test, package, binary, binary_id, kind, all, none"),
        ("nottest(a)", 0, "unknown predicate `nottest`; expected one of test, package, binary, binary_id, kind, all, none"),
        ("test(a,b)", 6, "unexpected `,` in matcher; write `\\,` for a literal comma"),
        ("test(a\\nb)", 6, "unknown escape `\\n`; write `\\\\` for a literal backslash"),
        ("test(/a/b/)", 8, "expected `)` after the regex; write `\\/` for a literal slash"),
        ("test(/a/ x)", 9, "expected `)` after the regex; write `\\/` for a literal slash"),
    ];
    for (input, offset, message) in cases {
        assert_eq!(error(input), (offset, message.to_owned()), "for {input:?}");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}test(a){}", "(".repeat(1000), ")".repeat(1000));
    let (offset, message) = error(&deep);
    assert_eq!(
        message,
        "expression nested too deeply (more than 128 levels)"
    );
    assert_eq!(offset, 129);
    let (_, message) = error(&format!("{}test(a)", "!".repeat(100_000)));
    assert_eq!(
        message,
        "expression nested too deeply (more than 128 levels)"
    );
    // Just under the limit is fine.
    let ok = format!("{}test(a){}", "(".repeat(128), ")".repeat(128));
    assert!(FilterExpr::parse(&ok).is_ok());
}

#[test]
fn error_is_a_std_error() {
    let err: Box<dyn std::error::Error> = match "test(".parse::<FilterExpr>() {
        Ok(_) => panic!("`test(` parsed"),
        Err(err) => Box::new(err),
    };
    assert!(err
        .to_string()
        .starts_with("invalid filter expression: expected `)`\n"));
}
