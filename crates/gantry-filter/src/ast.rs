//! The expression tree and how it is evaluated against a test.

use crate::matcher::Matcher;
use crate::TestQuery;

/// Which fact about a test a predicate looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Test,
    Package,
    Binary,
    BinaryId,
    Kind,
}

/// How plain (non-regex) matcher text is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TextKind {
    Exact,
    Contains,
    Glob,
}

impl Field {
    /// Every field, in the order error messages list them.
    pub(crate) const ALL: [Field; 5] = [
        Field::Test,
        Field::Package,
        Field::Binary,
        Field::BinaryId,
        Field::Kind,
    ];

    /// The predicate name as written in an expression.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Test => "test",
            Field::Package => "package",
            Field::Binary => "binary",
            Field::BinaryId => "binary_id",
            Field::Kind => "kind",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.name() == name)
    }

    /// Test names are usually filtered by fragment, package and binary
    /// names by pattern, and kinds are a closed set of words.
    pub(crate) fn default_kind(self) -> TextKind {
        match self {
            Field::Test => TextKind::Contains,
            Field::Package | Field::Binary | Field::BinaryId => TextKind::Glob,
            Field::Kind => TextKind::Exact,
        }
    }

    fn value<'a>(self, test: &TestQuery<'a>) -> &'a str {
        match self {
            Field::Test => test.test,
            Field::Package => test.package,
            Field::Binary => test.binary,
            Field::BinaryId => test.binary_id,
            Field::Kind => test.kind,
        }
    }
}

/// The operator joining an operand to the ones before it in an [`Expr::And`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AndOp {
    /// `&`: the operand must match too.
    And,
    /// `-`: the operand must not match.
    Minus,
}

/// A filter expression.
///
/// `and`/`-` chains and `or` chains are stored flat rather than as nested
/// binary nodes, so that long generated chains (for example thousands of
/// `test(=name)` alternatives) do not turn into deep trees that would
/// overflow the stack when evaluated, compared, printed or dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    All,
    None,
    Predicate(Field, Matcher),
    Not(Box<Expr>),
    /// `first op₁ e₁ op₂ e₂ …`, left-associative; `rest` is never empty.
    And(Box<Expr>, Vec<(AndOp, Expr)>),
    /// `e₀ | e₁ | …`; always at least two operands.
    Or(Vec<Expr>),
}

impl Expr {
    /// Appends to an existing `and` chain on the left, mirroring how the
    /// left-associative parser groups `a & b & c`.
    pub(crate) fn and_op(self, op: AndOp, right: Expr) -> Expr {
        match self {
            Expr::And(first, mut rest) => {
                rest.push((op, right));
                Expr::And(first, rest)
            }
            left => Expr::And(Box::new(left), vec![(op, right)]),
        }
    }

    /// Appends to an existing `or` chain on the left.
    pub(crate) fn or(self, right: Expr) -> Expr {
        match self {
            Expr::Or(mut operands) => {
                operands.push(right);
                Expr::Or(operands)
            }
            left => Expr::Or(vec![left, right]),
        }
    }

    pub(crate) fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }

    pub(crate) fn matches(&self, test: &TestQuery<'_>) -> bool {
        match self {
            Expr::All => true,
            Expr::None => false,
            Expr::Predicate(field, matcher) => matcher.matches(field.value(test)),
            Expr::Not(inner) => !inner.matches(test),
            Expr::And(first, rest) => {
                first.matches(test)
                    && rest.iter().all(|(op, operand)| match op {
                        AndOp::And => operand.matches(test),
                        AndOp::Minus => !operand.matches(test),
                    })
            }
            Expr::Or(operands) => operands.iter().any(|operand| operand.matches(test)),
        }
    }
}
