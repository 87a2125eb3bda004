//! A small block-style YAML writer for generated pipelines.
//!
//! Pipelines are built as a tree and written by one function, so quoting
//! is decided in one place (a command containing `: ` or starting with `*`
//! must be quoted, or the CI server reads something else than was meant)
//! and the output is stable for snapshots and `--check`.

/// A YAML value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    /// A string, quoted only when YAML would misread it plain.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in insertion order.
    Map(Vec<(String, Node)>),
}

pub(crate) fn s(v: impl Into<String>) -> Node {
    Node::Str(v.into())
}

pub(crate) fn seq<I: IntoIterator<Item = Node>>(items: I) -> Node {
    Node::Seq(items.into_iter().collect())
}

pub(crate) fn strs<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Node {
    Node::Seq(items.into_iter().map(|x| Node::Str(x.into())).collect())
}

/// Builds a mapping: `map([("a", s("b"))])`.
pub(crate) fn map<I: IntoIterator<Item = (K, Node)>, K: Into<String>>(entries: I) -> Node {
    Node::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

fn needs_quotes(v: &str) -> bool {
    if v.is_empty() || v != v.trim() {
        return true;
    }
    let first = v.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if v.contains(": ") || v.contains(" #") || v.ends_with(':') || v.contains('\t') {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ]
    .contains(&lower.as_str())
    {
        return true;
    }
    // Anything that could read as a number (1, 1.5, 0x1f, 1e3, .5, +1).
    let numeric_start = first.is_ascii_digit() || first == '.' || first == '+';
    numeric_start
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
}

fn scalar(v: &str) -> String {
    if needs_quotes(v) {
        format!("'{}'", v.replace('\'', "''"))
    } else {
        v.to_string()
    }
}

fn key(k: &str) -> String {
    // `on` is GitHub's trigger key and is always written plain there.
    if k == "on" {
        k.to_string()
    } else {
        scalar(k)
    }
}

fn inline(node: &Node) -> Option<String> {
    match node {
        Node::Str(v) if !v.contains('\n') => Some(scalar(v)),
        Node::Int(n) => Some(n.to_string()),
        Node::Bool(b) => Some(b.to_string()),
        Node::Seq(items) if items.is_empty() => Some("[]".into()),
        Node::Map(entries) if entries.is_empty() => Some("{}".into()),
        _ => None,
    }
}

fn block_str(out: &mut String, v: &str, indent: usize) {
    out.push_str("|-\n");
    for line in v.lines() {
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn write_map(out: &mut String, entries: &[(String, Node)], indent: usize, first_inline: bool) {
    for (i, (k, v)) in entries.iter().enumerate() {
        if !(first_inline && i == 0) {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&key(k));
        out.push(':');
        write_value(out, v, indent);
    }
}

/// Writes what follows `key:` or `- `: an inline scalar or a nested block.
fn write_value(out: &mut String, v: &Node, indent: usize) {
    if let Some(text) = inline(v) {
        out.push(' ');
        out.push_str(&text);
        out.push('\n');
        return;
    }
    match v {
        Node::Str(text) => {
            out.push(' ');
            block_str(out, text, indent + 2);
        }
        Node::Seq(items) => {
            out.push('\n');
            write_seq(out, items, indent + 2);
        }
        Node::Map(entries) => {
            out.push('\n');
            write_map(out, entries, indent + 2, false);
        }
        Node::Int(_) | Node::Bool(_) => unreachable!("scalars are inline"),
    }
}

fn write_seq(out: &mut String, items: &[Node], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Node::Map(entries) if !entries.is_empty() => {
                out.push(' ');
                write_map(out, entries, indent + 2, true);
            }
            other => write_value(out, other, indent),
        }
    }
}

/// The document text of a top-level mapping.
pub(crate) fn to_string(doc: &Node) -> String {
    let mut out = String::new();
    match doc {
        Node::Map(entries) => write_map(&mut out, entries, 0, false),
        other => {
            out.push_str("---");
            write_value(&mut out, other, 0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        for plain in [
            "cargo gantry ci --step fmt",
            "target/gantry/results/shard-*",
            "${{ matrix.os }}",
            "ubuntu-latest",
            "x86_64",
        ] {
            assert_eq!(scalar(plain), plain);
        }
        assert_eq!(scalar(":rust: fmt"), "':rust: fmt'");
        assert_eq!(scalar("a: b"), "'a: b'");
        assert_eq!(scalar("it's"), "it's");
        assert_eq!(scalar("'x"), "'''x'");
        assert_eq!(scalar("0"), "'0'");
        assert_eq!(scalar("1.5"), "'1.5'");
        assert_eq!(scalar("yes"), "'yes'");
        assert_eq!(scalar("*.log"), "'*.log'");
        assert_eq!(scalar(""), "''");
    }

    #[test]
    fn nesting() {
        let doc = map([
            ("on", map([("push", map([("branches", strs(["main"]))]))])),
            (
                "steps",
                seq([
                    map([("uses", s("a@v1")), ("with", map([("x", Node::Int(0))]))]),
                    s("plain"),
                ]),
            ),
            ("empty", seq([])),
            ("flag", Node::Bool(true)),
        ]);
        assert_eq!(
            to_string(&doc),
            "on:\n  push:\n    branches:\n      - main\nsteps:\n  - uses: a@v1\n    with:\n      x: 0\n  - plain\nempty: []\nflag: true\n"
        );
    }
}
