//! Canonical printing.

use gantry_filter::FilterExpr;

fn canonical(input: &str) -> String {
    let expr = FilterExpr::parse(input).unwrap_or_else(|err| panic!("{err}"));
    let printed = expr.to_string();
    let reparsed = FilterExpr::parse(&printed).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(reparsed, expr, "{input:?} printed as {printed:?}");
    printed
}

#[test]
fn matchers_always_print_their_prefix() {
    assert_eq!(canonical("test(foo)"), "test(~foo)");
    assert_eq!(canonical("package(echo-*)"), "package(#echo-*)");
    assert_eq!(canonical("binary(a)"), "binary(#a)");
    assert_eq!(canonical("binary_id(a::b)"), "binary_id(#a::b)");
    assert_eq!(canonical("kind(lib)"), "kind(=lib)");
    assert_eq!(canonical("test(=a)"), "test(=a)");
    assert_eq!(canonical("kind(~a)"), "kind(~a)");
    assert_eq!(canonical("test(#a*)"), "test(#a*)");
    assert_eq!(canonical("test(/^a.*$/)"), "test(/^a.*$/)");
    assert_eq!(canonical(" all ( ) "), "all()");
    assert_eq!(canonical("none()"), "none()");
}

#[test]
fn operators_print_as_symbols() {
    assert_eq!(canonical("test(a) and test(b)"), "test(~a) & test(~b)");
    assert_eq!(canonical("test(a) or test(b)"), "test(~a) | test(~b)");
    assert_eq!(canonical("test(a) + test(b)"), "test(~a) | test(~b)");
    assert_eq!(canonical("test(a)-test(b)"), "test(~a) - test(~b)");
    assert_eq!(canonical("not test(a)"), "!test(~a)");
    assert_eq!(canonical("not not test(a)"), "!!test(~a)");
}

#[test]
fn parentheses_only_where_precedence_needs_them() {
    assert_eq!(canonical("((test(a)))"), "test(~a)");
    assert_eq!(
        canonical("test(a) | (test(b) & test(c))"),
        "test(~a) | test(~b) & test(~c)"
    );
    assert_eq!(
        canonical("(test(a) | test(b)) & test(c)"),
        "(test(~a) | test(~b)) & test(~c)"
    );
    assert_eq!(
        canonical("test(a) & (test(b) | test(c))"),
        "test(~a) & (test(~b) | test(~c))"
    );
    assert_eq!(
        canonical("(test(a) & test(b)) & test(c)"),
        "test(~a) & test(~b) & test(~c)"
    );
    assert_eq!(
        canonical("test(a) & (test(b) & test(c))"),
        "test(~a) & (test(~b) & test(~c))"
    );
    assert_eq!(
        canonical("test(a) - (test(b) - test(c))"),
        "test(~a) - (test(~b) - test(~c))"
    );
    assert_eq!(
        canonical("(test(a) - test(b)) & test(c)"),
        "test(~a) - test(~b) & test(~c)"
    );
    assert_eq!(
        canonical("(test(a) | test(b)) | test(c)"),
        "test(~a) | test(~b) | test(~c)"
    );
    assert_eq!(
        canonical("test(a) | (test(b) | test(c))"),
        "test(~a) | (test(~b) | test(~c))"
    );
    assert_eq!(canonical("!(test(a) & test(b))"), "!(test(~a) & test(~b))");
    assert_eq!(canonical("!(test(a) | test(b))"), "!(test(~a) | test(~b))");
    assert_eq!(
        canonical("(!test(a)) | (test(b) & !(test(c)))"),
        "!test(~a) | test(~b) & !test(~c)"
    );
}

#[test]
fn text_is_escaped_where_it_would_not_parse() {
    assert_eq!(canonical("test(a\\)b)"), "test(~a\\)b)");
    assert_eq!(canonical("test((balanced))"), "test(~\\(balanced\\))");
    assert_eq!(canonical("test(a\\,b)"), "test(~a\\,b)");
    assert_eq!(canonical("test(a\\\\b)"), "test(~a\\\\b)");
    // Two spaces at each end: one escaped, one kept because it is inside.
    assert_eq!(canonical("test(\\  a b \\ )"), "test(~\\ \\ a b\\ \\ )");
    assert_eq!(canonical("test(=/not a regex/)"), "test(=/not a regex/)");
    assert_eq!(canonical("package(#a\\\\*)"), "package(#a\\\\*)");
    assert_eq!(canonical("test(ünïcødé 🦀)"), "test(~ünïcødé 🦀)");
}

#[test]
fn slashes_in_regexes_are_escaped() {
    assert_eq!(canonical("test(/a\\/b/)"), "test(/a\\/b/)");
    assert_eq!(canonical("test(/a\\\\/)"), "test(/a\\\\/)");
    assert_eq!(canonical("test(/a\\\\\\/b/)"), "test(/a\\\\\\/b/)");
    assert_eq!(canonical("test(/ (x|y), z /)"), "test(/ (x|y), z /)");
}

#[test]
fn combinators_print_like_parsed_expressions() {
    let a = FilterExpr::parse("test(a)").unwrap_or_else(|err| panic!("{err}"));
    let b = FilterExpr::parse("test(b)").unwrap_or_else(|err| panic!("{err}"));
    let c = FilterExpr::parse("test(c)").unwrap_or_else(|err| panic!("{err}"));
    let built = a.clone().or(b.clone().and(c.clone().not()));
    assert_eq!(built.to_string(), "test(~a) | test(~b) & !test(~c)");
    assert_eq!(FilterExpr::parse(&built.to_string()).ok(), Some(built));
    let chained = a.clone().and(b.clone()).and(c.clone());
    assert_eq!(
        FilterExpr::parse("test(a) & test(b) & test(c)").ok(),
        Some(chained)
    );
    let nested = a.clone().and(b.clone().and(c.clone()));
    assert_eq!(nested.to_string(), "test(~a) & (test(~b) & test(~c))");
    let negated_chain = a.or(b).not();
    assert_eq!(negated_chain.to_string(), "!(test(~a) | test(~b))");
    assert_eq!(
        FilterExpr::all().and(FilterExpr::none()).to_string(),
        "all() & none()"
    );
}

#[test]
fn long_chains_stay_flat() {
    let mut expr = FilterExpr::none();
    for i in 0..20_000 {
        let alternative =
            FilterExpr::parse(&format!("test(=t{i})")).unwrap_or_else(|err| panic!("{err}"));
        expr = expr.or(alternative);
    }
    let printed = expr.to_string();
    assert!(printed.starts_with("none() | test(=t0) | test(=t1) | "));
    assert_eq!(FilterExpr::parse(&printed).ok(), Some(expr));
}

#[test]
fn equality_is_structural() {
    let parse = |input: &str| FilterExpr::parse(input).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(parse("test(a)"), parse("test(~a)"));
    assert_eq!(parse("package(a)"), parse("package(#a)"));
    assert_eq!(parse("test(/a/)"), parse("test( /a/ )"));
    assert_ne!(parse("test(/a/)"), parse("test(/(?:a)/)"));
    assert_ne!(parse("test(=a)"), parse("test(~a)"));
    assert_ne!(parse("test(a)"), parse("package(~a)"));
    assert_ne!(parse("test(a) - test(b)"), parse("test(a) & !test(b)"));
}
