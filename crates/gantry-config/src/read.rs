//! Typed reading of TOML values with locations.
//!
//! The loader walks the `toml_edit` document by hand instead of going
//! through serde so that every error can name the key path and point at the
//! value's line and column, and every unknown key can be reported (with a
//! suggestion) instead of being silently dropped.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use gantry_filter::FilterExpr;
use toml_edit::{Item, TableLike, Value};

use crate::error::{ConfigError, ConfigWarning};
use crate::span::{span_start, suggest, KeyPath};
use crate::template::Template;

/// A value in the document: a top-level item, a value nested in an inline
/// table or array, or one table of an array of tables.
#[derive(Clone, Copy)]
pub(crate) enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
    Table(&'a toml_edit::Table),
}

impl<'a> Node<'a> {
    pub(crate) fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Item(item) => item.span(),
            Node::Value(value) => value.span(),
            Node::Table(table) => table.span(),
        }
    }

    fn value(&self) -> Option<&'a Value> {
        match self {
            Node::Item(item) => item.as_value(),
            Node::Value(value) => Some(value),
            Node::Table(_) => None,
        }
    }

    /// "a string", "an integer", ... for "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Node::Item(Item::Table(_)) | Node::Table(_) => "a table",
            Node::Item(Item::ArrayOfTables(_)) => "an array of tables",
            Node::Item(Item::None) => "nothing",
            _ => match self.value() {
                Some(Value::String(_)) => "a string",
                Some(Value::Integer(_)) => "an integer",
                Some(Value::Float(_)) => "a float",
                Some(Value::Boolean(_)) => "a boolean",
                Some(Value::Datetime(_)) => "a datetime",
                Some(Value::Array(_)) => "an array",
                Some(Value::InlineTable(_)) => "a table",
                None => "nothing",
            },
        }
    }

    pub(crate) fn as_str(&self) -> Option<&'a str> {
        self.value().and_then(Value::as_str)
    }

    pub(crate) fn as_integer(&self) -> Option<i64> {
        self.value().and_then(Value::as_integer)
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        self.value().and_then(Value::as_bool)
    }

    pub(crate) fn as_table_like(&self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Value(value) => value.as_inline_table().map(|t| t as &dyn TableLike),
            Node::Table(table) => Some(*table as &dyn TableLike),
        }
    }

    /// The elements of an array or an array of tables.
    pub(crate) fn as_array(&self) -> Option<Vec<Node<'a>>> {
        if let Node::Item(Item::ArrayOfTables(tables)) = self {
            return Some(tables.iter().map(Node::Table).collect());
        }
        self.value()
            .and_then(Value::as_array)
            .map(|array| array.iter().map(Node::Value).collect())
    }
}

/// A table being read: its entries and its span.
pub(crate) struct Table<'a> {
    inner: &'a dyn TableLike,
    span: Option<Range<usize>>,
}

/// One entry of a [`Table`].
pub(crate) struct Entry<'a> {
    pub(crate) name: &'a str,
    pub(crate) node: Node<'a>,
    pub(crate) key_span: Option<Range<usize>>,
}

impl<'a> Table<'a> {
    pub(crate) fn get(&self, key: &str) -> Option<Node<'a>> {
        self.inner
            .get(key)
            .filter(|item| !item.is_none())
            .map(Node::Item)
    }

    /// The entries in file order.
    pub(crate) fn entries(&self) -> Vec<Entry<'a>> {
        let inner = self.inner;
        inner
            .iter()
            .filter(|(_, item)| !item.is_none())
            .map(|(name, item)| Entry {
                name,
                node: Node::Item(item),
                key_span: inner.key(name).and_then(|k| k.span()),
            })
            .collect()
    }

    pub(crate) fn span(&self) -> Option<Range<usize>> {
        self.span.clone()
    }
}

/// The reading state: the source for locations and the warnings so far.
pub(crate) struct Ctx<'a> {
    pub(crate) text: &'a str,
    pub(crate) path: &'a Path,
    pub(crate) warnings: Vec<ConfigWarning>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(text: &'a str, path: &'a Path) -> Self {
        Ctx {
            text,
            path,
            warnings: Vec::new(),
        }
    }

    /// A [`ConfigError::Invalid`] at `span`.
    pub(crate) fn invalid(
        &self,
        span: Option<Range<usize>>,
        key: &KeyPath,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ConfigError {
        let (line, column) = span_start(self.text, span.as_ref());
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line,
            column,
            key: key.to_string(),
            message: message.into(),
            help,
        }
    }

    /// An error for a value of the wrong type.
    pub(crate) fn expected(&self, node: &Node<'_>, key: &KeyPath, what: &str) -> ConfigError {
        self.invalid(
            node.span(),
            key,
            format!("expected {what}, found {}", node.describe()),
            None,
        )
    }

    /// Records a warning at `span`.
    pub(crate) fn warn(&mut self, span: Option<Range<usize>>, key: &KeyPath, message: String) {
        let (line, _) = span_start(self.text, span.as_ref());
        self.warnings.push(ConfigWarning {
            path: self.path.to_owned(),
            line,
            key: key.to_string(),
            message,
        });
    }

    /// Reads `node` as a table, warning about every key not in `known`.
    pub(crate) fn table<'n>(
        &mut self,
        node: Node<'n>,
        key: &KeyPath,
        known: &[&str],
    ) -> Result<Table<'n>, ConfigError> {
        let table = self.any_table(node, key)?;
        for entry in table.entries() {
            if !known.contains(&entry.name) {
                self.unknown_key(&entry, key, known);
            }
        }
        Ok(table)
    }

    /// Reads `node` as a table whose keys are names chosen by the user.
    pub(crate) fn any_table<'n>(
        &mut self,
        node: Node<'n>,
        key: &KeyPath,
    ) -> Result<Table<'n>, ConfigError> {
        let inner = node
            .as_table_like()
            .ok_or_else(|| self.expected(&node, key, "a table"))?;
        Ok(Table {
            inner,
            span: node.span(),
        })
    }

    pub(crate) fn unknown_key(&mut self, entry: &Entry<'_>, parent: &KeyPath, known: &[&str]) {
        let key = parent.child(entry.name);
        let hint = suggest(entry.name, known.iter().copied())
            .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
        let span = entry.key_span.clone().or_else(|| entry.node.span());
        self.warn(span, &key, format!("unknown key `{key}`{hint}"));
    }

    pub(crate) fn string(&self, node: Node<'_>, key: &KeyPath) -> Result<String, ConfigError> {
        node.as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.expected(&node, key, "a string"))
    }

    pub(crate) fn bool(&self, node: Node<'_>, key: &KeyPath) -> Result<bool, ConfigError> {
        node.as_bool()
            .ok_or_else(|| self.expected(&node, key, "`true` or `false`"))
    }

    /// A non-negative integer that fits a `u32`.
    pub(crate) fn u32(&self, node: Node<'_>, key: &KeyPath) -> Result<u32, ConfigError> {
        let n = node
            .as_integer()
            .ok_or_else(|| self.expected(&node, key, "a non-negative integer"))?;
        u32::try_from(n).map_err(|_| {
            let what = if n < 0 {
                "a non-negative integer".to_owned()
            } else {
                format!("an integer of at most {}", u32::MAX)
            };
            self.invalid(
                node.span(),
                key,
                format!("expected {what}, found {n}"),
                None,
            )
        })
    }

    /// An integer of at least 1.
    pub(crate) fn positive(
        &self,
        node: Node<'_>,
        key: &KeyPath,
        what: &str,
    ) -> Result<usize, ConfigError> {
        let n = node
            .as_integer()
            .ok_or_else(|| self.expected(&node, key, what))?;
        match usize::try_from(n) {
            Ok(n) if n >= 1 && n <= u32::MAX as usize => Ok(n),
            _ => Err(self.invalid(
                node.span(),
                key,
                format!("expected {what}, found {n}"),
                None,
            )),
        }
    }

    /// A humantime duration string such as `"30s"` or `"1h 30m"`.
    pub(crate) fn duration(&self, node: Node<'_>, key: &KeyPath) -> Result<Duration, ConfigError> {
        const HELP: &str = "expected a duration such as \"30s\", \"2m\" or \"1h 30m\"";
        let Some(text) = node.as_str() else {
            let (message, help) = match node.as_integer() {
                Some(n) => (
                    format!("expected a duration string, found the number {n}"),
                    format!("durations need a unit: write \"{n}s\" for {n} seconds"),
                ),
                None => (
                    format!("expected a duration string, found {}", node.describe()),
                    HELP.to_owned(),
                ),
            };
            return Err(self.invalid(node.span(), key, message, Some(help)));
        };
        humantime::parse_duration(text).map_err(|_| {
            self.invalid(
                node.span(),
                key,
                format!("invalid duration {text:?}"),
                Some(HELP.into()),
            )
        })
    }

    /// A duration that must not be zero, for periods and timeouts.
    pub(crate) fn nonzero_duration(
        &self,
        node: Node<'_>,
        key: &KeyPath,
    ) -> Result<Duration, ConfigError> {
        let d = self.duration(node, key)?;
        if d.is_zero() {
            return Err(self.invalid(
                node.span(),
                key,
                "the duration must be greater than zero",
                Some("use e.g. \"100ms\" or \"1s\"".into()),
            ));
        }
        Ok(d)
    }

    /// An array of strings.
    pub(crate) fn strings(
        &self,
        node: Node<'_>,
        key: &KeyPath,
    ) -> Result<Vec<String>, ConfigError> {
        let elements = node
            .as_array()
            .ok_or_else(|| self.expected(&node, key, "an array of strings"))?;
        elements
            .into_iter()
            .enumerate()
            .map(|(i, element)| self.string(element, &key.index(i)))
            .collect()
    }

    /// A template string; `allow_pid` says whether `{pid}` may appear.
    pub(crate) fn template(
        &self,
        node: Node<'_>,
        key: &KeyPath,
        allow_pid: bool,
    ) -> Result<Template, ConfigError> {
        let text = node
            .as_str()
            .ok_or_else(|| self.expected(&node, key, "a string"))?;
        let template = Template::parse(text).map_err(|e| {
            self.invalid(
                node.span(),
                key,
                format!("in {text:?}: {}", e.message),
                e.help,
            )
        })?;
        if !allow_pid
            && template
                .placeholders()
                .any(|p| *p == crate::Placeholder::Pid)
        {
            return Err(self.invalid(
                node.span(),
                key,
                format!("in {text:?}: `{{pid}}` is only available in `export`"),
                Some("the fixture's process id is known only once it has started, after its command line was built".into()),
            ));
        }
        Ok(template)
    }

    /// A non-empty argv of template strings.
    pub(crate) fn argv(&self, node: Node<'_>, key: &KeyPath) -> Result<Vec<Template>, ConfigError> {
        let elements = node.as_array().ok_or_else(|| {
            self.invalid(
                node.span(),
                key,
                format!("expected an array of strings (program and arguments), found {}", node.describe()),
                Some("write e.g. [\"{bin:echo-server}\", \"--port\", \"{port}\"]; gantry does not split command strings".into()),
            )
        })?;
        if elements.is_empty() {
            return Err(self.invalid(
                node.span(),
                key,
                "the command is empty",
                Some("give at least the program to run".into()),
            ));
        }
        elements
            .into_iter()
            .enumerate()
            .map(|(i, element)| self.template(element, &key.index(i), false))
            .collect()
    }

    /// A filter expression; the error shows the parser's caret message.
    pub(crate) fn filter(
        &self,
        node: Node<'_>,
        key: &KeyPath,
    ) -> Result<(FilterExpr, String), ConfigError> {
        let text = node
            .as_str()
            .ok_or_else(|| self.expected(&node, key, "a filter expression string"))?;
        match FilterExpr::parse(text) {
            Ok(expr) => Ok((expr, text.to_owned())),
            Err(source) => {
                let span = node.span();
                let (line, mut column) = span_start(self.text, span.as_ref());
                // Point at the offending character when the string's source
                // text is the expression verbatim (one line, no escapes).
                let raw = span.and_then(|s| self.text.get(s)).unwrap_or_default();
                let verbatim =
                    (raw.starts_with('"') && !raw.starts_with("\"\"\"") && !raw.contains('\\'))
                        || (raw.starts_with('\'') && !raw.starts_with("'''"));
                if verbatim {
                    let before = text.get(..source.offset()).unwrap_or(text);
                    column += 1 + before.chars().count();
                }
                Err(ConfigError::InvalidFilter {
                    path: self.path.to_owned(),
                    line,
                    column,
                    key: key.to_string(),
                    source,
                })
            }
        }
    }

    /// A string that must be one of `choices`.
    pub(crate) fn choice<T: Copy>(
        &self,
        node: Node<'_>,
        key: &KeyPath,
        what: &str,
        choices: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let names = || {
            let quoted: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
            format!("expected one of {}", quoted.join(", "))
        };
        let Some(text) = node.as_str() else {
            return Err(self.invalid(
                node.span(),
                key,
                format!("expected {what} string, found {}", node.describe()),
                Some(names()),
            ));
        };
        choices
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                let help = match suggest(text, choices.iter().map(|(n, _)| *n)) {
                    Some(s) => format!("{}; did you mean {s:?}?", names()),
                    None => names(),
                };
                self.invalid(
                    node.span(),
                    key,
                    format!("invalid {what} {text:?}"),
                    Some(help),
                )
            })
    }
}
