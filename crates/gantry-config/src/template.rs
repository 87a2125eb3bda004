//! Template strings with `{placeholder}`s, used by fixtures.
//!
//! Fixture commands, paths and exported variables mention things that only
//! exist once a run has started (its scratch directory, a free port, the
//! path of a freshly built binary). They are parsed when the config is
//! loaded, so that a typo is reported before anything runs, and expanded
//! later by the runner, which alone knows the values.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::span::suggest;

/// One value a template can ask for.
///
/// The runner supplies the values through the lookup passed to
/// [`Template::expand`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placeholder {
    /// `{run_dir}`: the scratch directory of the whole run, shared by every
    /// fixture, so that one fixture can find another's socket.
    RunDir,
    /// `{fixture_dir}`: the directory of this fixture instance (its logs
    /// and private files), distinct per instance for `binary`/`test` scopes.
    FixtureDir,
    /// `{port}`: a free TCP port reserved for this fixture instance.
    Port,
    /// `{port:NAME}`: a further free TCP port reserved for this fixture
    /// instance under NAME, for services that listen on several ports.
    NamedPort(String),
    /// `{bin:NAME}`: the path of the workspace binary target NAME, built
    /// before fixtures start.
    Bin(String),
    /// `{env:VAR}`: the value of VAR in gantry's own environment; expansion
    /// fails when it is unset rather than silently using an empty string.
    Env(String),
    /// `{pid}`: the process id of the started fixture; only allowed in
    /// `export`, because it is unknown before the process exists.
    Pid,
}

impl Placeholder {
    /// The placeholders a template may use, spelled as in config files; used
    /// for messages and suggestions.
    pub const KNOWN: &'static [&'static str] = &[
        "{run_dir}",
        "{fixture_dir}",
        "{port}",
        "{port:NAME}",
        "{bin:NAME}",
        "{env:VAR}",
        "{pid}",
    ];
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RunDir => f.write_str("{run_dir}"),
            Self::FixtureDir => f.write_str("{fixture_dir}"),
            Self::Port => f.write_str("{port}"),
            Self::NamedPort(name) => write!(f, "{{port:{name}}}"),
            Self::Bin(name) => write!(f, "{{bin:{name}}}"),
            Self::Env(var) => write!(f, "{{env:{var}}}"),
            Self::Pid => f.write_str("{pid}"),
        }
    }
}

/// A piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    /// Text copied as is (with `{{`/`}}` already turned into braces).
    Literal(String),
    /// A value filled in at expansion time.
    Placeholder(Placeholder),
}

/// A parsed template string such as `"{run_dir}/echo.sock"`.
///
/// Kept as parts rather than as the source text so that the runner can ask
/// which values it must provide ([`placeholders`](Self::placeholders))
/// before starting anything, and so that expansion cannot fail on syntax.
/// `Display` prints the source form, with literal braces doubled again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    parts: Vec<TemplatePart>,
}

/// Why a template string did not parse.
///
/// The loader turns this into a [`ConfigError`](crate::ConfigError) that
/// names the file, line and key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// What is wrong, e.g. "unknown placeholder `{prot}`".
    pub message: String,
    /// How to fix it, when there is something specific to say.
    pub help: Option<String>,
}

/// A placeholder had no value when a template was expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no value for placeholder `{placeholder}` in template \"{template}\"")]
pub struct ExpandError {
    /// The placeholder the lookup returned `None` for.
    pub placeholder: Placeholder,
    /// The template being expanded, in source form.
    pub template: String,
}

impl Template {
    /// Parses a template string.
    ///
    /// `{{` and `}}` stand for literal braces; everything between a single
    /// `{` and the next `}` must be one of [`Placeholder::KNOWN`].
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|&(_, c)| c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(TemplateError {
                        message: format!("unmatched `}}` at character {}", char_pos(text, at)),
                        help: Some("write `}}` for a literal brace".into()),
                    });
                }
                '{' => {
                    let rest = &text[at + 1..];
                    let Some(end) = rest
                        .find(['{', '}'])
                        .filter(|&e| rest[e..].starts_with('}'))
                    else {
                        return Err(TemplateError {
                            message: format!("unclosed `{{` at character {}", char_pos(text, at)),
                            help: Some(
                                "close the placeholder with `}`, or write `{{` for a literal brace"
                                    .into(),
                            ),
                        });
                    };
                    let placeholder = parse_placeholder(&rest[..end])?;
                    if !literal.is_empty() {
                        parts.push(TemplatePart::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(TemplatePart::Placeholder(placeholder));
                    // Skip the name and the closing brace.
                    let close = at + 1 + end;
                    while chars.next_if(|&(i, _)| i <= close).is_some() {}
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(TemplatePart::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// A template without placeholders, for values built in code.
    pub fn literal(text: impl Into<String>) -> Self {
        let text = text.into();
        Template {
            parts: if text.is_empty() {
                Vec::new()
            } else {
                vec![TemplatePart::Literal(text)]
            },
        }
    }

    /// The parts in order.
    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// Every placeholder the template uses, in order of appearance
    /// (repeats included), so the runner can prepare exactly those values,
    /// e.g. reserve ports or check that `{bin:NAME}` targets exist.
    pub fn placeholders(&self) -> impl Iterator<Item = &Placeholder> + '_ {
        self.parts.iter().filter_map(|part| match part {
            TemplatePart::Placeholder(p) => Some(p),
            TemplatePart::Literal(_) => None,
        })
    }

    /// The text, when the template has no placeholders; lets the loader
    /// validate fixed values (a `host:port`, a URL) early.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Placeholder(_) => return None,
            }
        }
        Some(out)
    }

    /// Fills in the placeholders.
    ///
    /// `lookup` returns the value of a placeholder, or `None` when it has
    /// none (an unset `{env:VAR}`, an unknown `{bin:NAME}`), which makes the
    /// expansion fail with an error naming that placeholder.
    pub fn expand(
        &self,
        lookup: &dyn Fn(&Placeholder) -> Option<String>,
    ) -> Result<String, ExpandError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Placeholder(p) => match lookup(p) {
                    Some(value) => out.push_str(&value),
                    None => {
                        return Err(ExpandError {
                            placeholder: p.clone(),
                            template: self.to_string(),
                        })
                    }
                },
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => {
                    f.write_str(&text.replace('{', "{{").replace('}', "}}"))?
                }
                TemplatePart::Placeholder(p) => write!(f, "{p}")?,
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Template {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Template::parse(s)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn char_pos(text: &str, byte: usize) -> usize {
    text[..byte].chars().count() + 1
}

fn parse_placeholder(inner: &str) -> Result<Placeholder, TemplateError> {
    let (name, arg) = match inner.split_once(':') {
        Some((name, arg)) => (name, Some(arg)),
        None => (inner, None),
    };
    let simple = |p: Placeholder| match arg {
        None => Ok(p),
        Some(_) => Err(TemplateError {
            message: format!("`{{{name}}}` takes no argument, found `{{{inner}}}`"),
            help: Some(format!("write `{{{name}}}`")),
        }),
    };
    let named = |make: fn(String) -> Placeholder, what: &str| match arg {
        Some(arg) if !arg.trim().is_empty() && arg.trim() == arg => Ok(make(arg.to_owned())),
        _ => Err(TemplateError {
            message: format!("`{{{inner}}}` needs a {what} after the colon"),
            help: Some(format!("write `{{{name}:{}}}`", what.to_uppercase())),
        }),
    };
    match name {
        "run_dir" => simple(Placeholder::RunDir),
        "fixture_dir" => simple(Placeholder::FixtureDir),
        "pid" => simple(Placeholder::Pid),
        "port" if arg.is_none() => Ok(Placeholder::Port),
        "port" => named(Placeholder::NamedPort, "name"),
        "bin" => named(Placeholder::Bin, "name"),
        "env" => named(Placeholder::Env, "var"),
        _ => {
            let known = ["run_dir", "fixture_dir", "port", "bin", "env", "pid"];
            let help = match suggest(name, known) {
                Some(s) if arg.is_some() => {
                    format!("did you mean `{{{s}:{}}}`?", arg.unwrap_or_default())
                }
                Some(s) => format!("did you mean `{{{s}}}`?"),
                None => format!(
                    "known placeholders are {}; write `{{{{` for a literal brace",
                    Placeholder::KNOWN.join(", ")
                ),
            };
            Err(TemplateError {
                message: format!("unknown placeholder `{{{inner}}}`"),
                help: Some(help),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(p: &Placeholder) -> Option<String> {
        match p {
            Placeholder::RunDir => Some("/run".into()),
            Placeholder::FixtureDir => Some("/run/fx".into()),
            Placeholder::Port => Some("4000".into()),
            Placeholder::NamedPort(n) if n == "grpc" => Some("4001".into()),
            Placeholder::Bin(n) => Some(format!("/target/debug/{n}")),
            Placeholder::Env(v) if v == "HOME" => Some("/home/me".into()),
            Placeholder::Pid => Some("42".into()),
            _ => None,
        }
    }

    #[test]
    fn parses_every_placeholder() {
        let t = Template::parse(
            "{run_dir}|{fixture_dir}|{port}|{port:grpc}|{bin:echo-server}|{env:HOME}|{pid}",
        )
        .unwrap();
        assert_eq!(
            t.placeholders().cloned().collect::<Vec<_>>(),
            vec![
                Placeholder::RunDir,
                Placeholder::FixtureDir,
                Placeholder::Port,
                Placeholder::NamedPort("grpc".into()),
                Placeholder::Bin("echo-server".into()),
                Placeholder::Env("HOME".into()),
                Placeholder::Pid,
            ]
        );
        assert_eq!(
            t.expand(&lookup).unwrap(),
            "/run|/run/fx|4000|4001|/target/debug/echo-server|/home/me|42"
        );
    }

    #[test]
    fn literal_braces_and_round_trip() {
        let t = Template::parse("{{\"a\": {port}}} x}}").unwrap();
        assert_eq!(
            t.parts(),
            &[
                TemplatePart::Literal("{\"a\": ".into()),
                TemplatePart::Placeholder(Placeholder::Port),
                TemplatePart::Literal("} x}".into()),
            ]
        );
        assert_eq!(t.expand(&lookup).unwrap(), "{\"a\": 4000} x}");
        assert_eq!(t.to_string(), "{{\"a\": {port}}} x}}");
        assert_eq!(Template::parse(&t.to_string()).unwrap(), t);
    }

    #[test]
    fn plain_text_is_literal() {
        let t = Template::parse("héllo wörld").unwrap();
        assert_eq!(t.as_literal().as_deref(), Some("héllo wörld"));
        assert_eq!(t, Template::literal("héllo wörld"));
        assert_eq!(Template::parse("").unwrap().expand(&lookup).unwrap(), "");
        assert_eq!(Template::parse("{port}").unwrap().as_literal(), None);
    }

    #[test]
    fn expand_names_the_missing_placeholder() {
        let t = Template::parse("{env:NOPE}/x").unwrap();
        let err = t.expand(&lookup).unwrap_err();
        assert_eq!(err.placeholder, Placeholder::Env("NOPE".into()));
        insta::assert_snapshot!(err, @r#"no value for placeholder `{env:NOPE}` in template "{env:NOPE}/x""#);
    }

    fn err(text: &str) -> String {
        let e = Template::parse(text).unwrap_err();
        format!("{} ({})", e.message, e.help.unwrap_or_default())
    }

    #[test]
    fn syntax_errors() {
        insta::assert_snapshot!(err("{prot}"), @"unknown placeholder `{prot}` (did you mean `{port}`?)");
        insta::assert_snapshot!(err("{rundir}/x"), @"unknown placeholder `{rundir}` (did you mean `{run_dir}`?)");
        insta::assert_snapshot!(err("{evn:HOME}"), @"unknown placeholder `{evn:HOME}` (did you mean `{env:HOME}`?)");
        insta::assert_snapshot!(err("{json}"), @"unknown placeholder `{json}` (known placeholders are {run_dir}, {fixture_dir}, {port}, {port:NAME}, {bin:NAME}, {env:VAR}, {pid}; write `{{` for a literal brace)");
        insta::assert_snapshot!(err("ab{run_dir"), @"unclosed `{` at character 3 (close the placeholder with `}`, or write `{{` for a literal brace)");
        insta::assert_snapshot!(err("{port{run_dir}"), @"unclosed `{` at character 1 (close the placeholder with `}`, or write `{{` for a literal brace)");
        insta::assert_snapshot!(err("a}b"), @"unmatched `}` at character 2 (write `}}` for a literal brace)");
        insta::assert_snapshot!(err("{env:}"), @"`{env:}` needs a var after the colon (write `{env:VAR}`)");
        insta::assert_snapshot!(err("{bin: x}"), @"`{bin: x}` needs a name after the colon (write `{bin:NAME}`)");
        insta::assert_snapshot!(err("{run_dir:x}"), @"`{run_dir}` takes no argument, found `{run_dir:x}` (write `{run_dir}`)");
    }
}
