//! Evaluating expressions against tests.

use gantry_filter::{FilterExpr, TestQuery};

const CLIENT_TEST: TestQuery<'static> = TestQuery {
    package: "echo-client",
    binary_id: "echo-client::integration",
    binary: "integration",
    kind: "test",
    test: "connect::retries_on_refused",
};

const CLIENT_LIB: TestQuery<'static> = TestQuery {
    package: "echo-client",
    binary_id: "echo-client",
    binary: "echo_client",
    kind: "lib",
    test: "tests::parses_empty",
};

const CLI_BIN: TestQuery<'static> = TestQuery {
    package: "echo-cli",
    binary_id: "echo-cli::bin/echo-cli",
    binary: "echo-cli",
    kind: "bin",
    test: "args::rejects_unknown_flag",
};

const SERVER_PROC_MACRO: TestQuery<'static> = TestQuery {
    package: "server-macros",
    binary_id: "server-macros",
    binary: "server_macros",
    kind: "proc-macro",
    test: "expands (weird) names, too",
};

const ALL: [TestQuery<'static>; 4] = [CLIENT_TEST, CLIENT_LIB, CLI_BIN, SERVER_PROC_MACRO];

/// The indices into [`ALL`] of the tests that `input` selects.
fn selected(input: &str) -> Vec<usize> {
    let expr = FilterExpr::parse(input).unwrap_or_else(|err| panic!("{err}"));
    (0..ALL.len()).filter(|&i| expr.matches(&ALL[i])).collect()
}

#[test]
fn constants() {
    assert_eq!(selected("all()"), [0, 1, 2, 3]);
    assert_eq!(selected("none()"), [] as [usize; 0]);
    assert_eq!(selected(" all ( ) "), [0, 1, 2, 3]);
}

#[test]
fn test_predicate_defaults_to_contains() {
    assert_eq!(selected("test(parses)"), [1]);
    assert_eq!(selected("test(::)"), [0, 1, 2]);
    assert_eq!(selected("test(retries_on_refused)"), [0]);
    assert_eq!(selected("test(connect::retries_on_refused)"), [0]);
    assert_eq!(selected("test(Parses)"), [] as [usize; 0]);
}

#[test]
fn package_binary_and_binary_id_default_to_glob() {
    assert_eq!(selected("package(echo-*)"), [0, 1, 2]);
    // A glob must match the whole name, unlike contains.
    assert_eq!(selected("package(echo)"), [] as [usize; 0]);
    assert_eq!(selected("package(echo-cli)"), [2]);
    assert_eq!(selected("package(echo-c?i)"), [2]);
    // A bare comma is reserved, so glob alternatives escape theirs.
    assert!(FilterExpr::parse("package(*-{client,macros})").is_err());
    assert_eq!(selected("package(*-{client\\,macros})"), [0, 1, 3]);
    assert_eq!(selected("binary(echo[_-]c*)"), [1, 2]);
    assert_eq!(selected("binary(integration)"), [0]);
    assert_eq!(selected("binary_id(echo-client::*)"), [0]);
    // `*` crosses the `/` of `bin/…` binary ids.
    assert_eq!(selected("binary_id(echo-cli::*)"), [2]);
    assert_eq!(selected("binary_id(*)"), [0, 1, 2, 3]);
}

#[test]
fn kind_defaults_to_exact() {
    assert_eq!(selected("kind(lib)"), [1]);
    assert_eq!(selected("kind(proc-macro)"), [3]);
    assert_eq!(selected("kind(proc)"), [] as [usize; 0]);
    assert_eq!(selected("kind(li*)"), [] as [usize; 0]);
}

#[test]
fn explicit_matchers_override_the_default() {
    assert_eq!(selected("test(=tests::parses_empty)"), [1]);
    assert_eq!(selected("test(=parses_empty)"), [] as [usize; 0]);
    assert_eq!(selected("package(~cli)"), [0, 1, 2]);
    assert_eq!(selected("package(~macro)"), [3]);
    assert_eq!(selected("package(=echo-*)"), [] as [usize; 0]);
    assert_eq!(selected("kind(~b)"), [1, 2]);
    assert_eq!(selected("kind(#*i*)"), [1, 2]);
    assert_eq!(selected("kind(~in)"), [2]);
    assert_eq!(selected("test(#tests::*)"), [1]);
    assert_eq!(selected("test(#*::*)"), [0, 1, 2]);
    assert_eq!(selected("test(#parses_*)"), [] as [usize; 0]);
}

#[test]
fn regexes_are_unanchored_unless_anchored() {
    assert_eq!(selected("test(/parses/)"), [1]);
    assert_eq!(selected("test(/^parses/)"), [] as [usize; 0]);
    assert_eq!(selected("test(/_(empty|flag)$/)"), [1, 2]);
    assert_eq!(selected("package(/^echo-c(li|lient)$/)"), [0, 1, 2]);
    assert_eq!(selected("binary_id(/bin\\/echo/)"), [2]);
    assert_eq!(selected("binary_id(/bin\\x2Fecho/)"), [2]);
    assert_eq!(selected("kind(/-/)"), [3]);
    // Parentheses and commas need no escaping inside a regex.
    assert_eq!(selected("test(/\\(weird\\) names, too/)"), [3]);
    assert_eq!(selected("test( /\\d/ )"), [] as [usize; 0]);
}

#[test]
fn text_escapes_and_balanced_parentheses() {
    assert_eq!(selected("test((weird))"), [3]);
    assert_eq!(selected("test(\\(weird\\) names\\, too)"), [3]);
    assert_eq!(selected("test(=expands (weird) names\\, too)"), [3]);
    assert_eq!(selected("test(\\(weird)"), [3]);
    assert_eq!(selected("test(weird\\))"), [3]);
    // Surrounding whitespace is trimmed unless escaped.
    assert_eq!(selected("test(  names  )"), [3]);
    assert_eq!(selected("test(=  tests::parses_empty  )"), [1]);
    assert_eq!(selected("test(\\ names)"), [3]);
    assert_eq!(selected("test(\\ expands)"), [] as [usize; 0]);
    assert_eq!(selected("test(too\\ )"), [] as [usize; 0]);
    assert_eq!(selected("test(names\\,\\ )"), [3]);
}

#[test]
fn keywords_are_plain_text_inside_matchers() {
    let query = TestQuery {
        test: "not and or all() none",
        ..CLIENT_LIB
    };
    for input in [
        "test(not)",
        "test(and)",
        "test(or)",
        "test(all())",
        "test(=not and or all() none)",
        "test(~ not and )",
    ] {
        let expr = FilterExpr::parse(input).unwrap_or_else(|err| panic!("{err}"));
        assert!(expr.matches(&query), "{input}");
    }
}

#[test]
fn not() {
    assert_eq!(selected("not kind(lib)"), [0, 2, 3]);
    assert_eq!(selected("!kind(lib)"), [0, 2, 3]);
    assert_eq!(selected("!!kind(lib)"), [1]);
    assert_eq!(selected("not not kind(lib)"), [1]);
    assert_eq!(selected("not(kind(lib))"), [0, 2, 3]);
    assert_eq!(selected("!(kind(lib) | kind(bin))"), [0, 3]);
}

#[test]
fn and_minus_or() {
    for and in ["&", "and"] {
        assert_eq!(selected(&format!("package(echo-*) {and} kind(lib)")), [1]);
    }
    for or in ["|", "or", "+"] {
        assert_eq!(selected(&format!("kind(lib) {or} kind(bin)")), [1, 2]);
    }
    assert_eq!(selected("package(echo-*) - kind(lib)"), [0, 2]);
    assert_eq!(selected("package(echo-*)-kind(lib)"), [0, 2]);
    assert_eq!(selected("kind(lib)|kind(bin)&package(x)"), [1]);
    assert_eq!(selected("kind(lib)and(kind(lib))"), [1]);
    assert_eq!(selected("kind(lib)or(kind(bin))"), [1, 2]);
}

#[test]
fn precedence() {
    // not binds tighter than and: (!lib) & echo-*.
    assert_eq!(selected("!kind(lib) & package(echo-*)"), [0, 2]);
    // and binds tighter than or: lib | (bin & none).
    assert_eq!(selected("kind(lib) | kind(bin) & none()"), [1]);
    assert_eq!(selected("kind(bin) & none() | kind(lib)"), [1]);
    assert_eq!(
        selected("(kind(lib) | kind(bin)) & none()"),
        [] as [usize; 0]
    );
    // `-` binds like and: lib | (bin - bin).
    assert_eq!(selected("kind(lib) | kind(bin) - kind(bin)"), [1]);
    assert_eq!(selected("kind(lib) or kind(bin) and not kind(bin)"), [1]);
    // `-` is left-associative: (all - lib) - bin, not all - (lib - bin).
    assert_eq!(selected("all() - kind(lib) - kind(bin)"), [0, 3]);
    assert_eq!(selected("all() - (kind(lib) - kind(bin))"), [0, 2, 3]);
    // and and `-` mix left to right: (all - lib) & echo-*.
    assert_eq!(selected("all() - kind(lib) & package(echo-*)"), [0, 2]);
    assert_eq!(selected("all() - (kind(lib) & package(echo-*))"), [0, 2, 3]);
}

#[test]
fn combinators() {
    let lib = FilterExpr::parse("kind(lib)").unwrap_or_else(|err| panic!("{err}"));
    let bin = FilterExpr::parse("kind(bin)").unwrap_or_else(|err| panic!("{err}"));
    let echo = FilterExpr::parse("package(echo-*)").unwrap_or_else(|err| panic!("{err}"));
    let check = |expr: &FilterExpr, expected: &[usize]| {
        let got: Vec<usize> = (0..ALL.len()).filter(|&i| expr.matches(&ALL[i])).collect();
        assert_eq!(got, expected, "{expr}");
    };
    check(&FilterExpr::all(), &[0, 1, 2, 3]);
    check(&FilterExpr::none(), &[]);
    check(&lib.clone().or(bin.clone()), &[1, 2]);
    check(&echo.clone().and(lib.clone().not()), &[0, 2]);
    check(&lib.clone().not(), &[0, 2, 3]);
    check(&FilterExpr::none().or(lib.clone()).or(bin.clone()), &[1, 2]);
    check(&FilterExpr::all().and(echo).and(bin.not()), &[0, 1]);
}
