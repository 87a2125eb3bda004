//! From config text to a validated [`GantryConfig`].
//!
//! Order matters only for which error is reported first: test groups are
//! read before profiles because overrides refer to them, and the profile
//! inheritance graph and fixture graph are checked once every table has
//! been read.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::ConfigError;
use crate::fixture::{check_graph, parse_fixture};
use crate::profile::{chain, parse_profile, ChainError, DEFAULT_PROFILE};
use crate::read::{Ctx, Node};
use crate::span::{line_col, suggest, KeyPath};
use crate::{GantryConfig, TestGroup};

/// The top-level sections; `database`, `ci` and `cover` are reserved for
/// features configured elsewhere and accepted as they are.
const TOP_KEYS: &[&str] = &[
    "profile",
    "test-groups",
    "tiers",
    "fixture",
    "database",
    "ci",
    "cover",
];

pub(crate) fn parse(text: &str, path: &Path) -> Result<GantryConfig, ConfigError> {
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        ConfigError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    let raw: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        ConfigError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;

    let mut ctx = Ctx::new(text, path);
    let root_key = KeyPath::root();
    let root = ctx.table(Node::Item(doc.as_item()), &root_key, TOP_KEYS)?;
    let mut config = GantryConfig {
        path: Some(path.to_owned()),
        ..GantryConfig::default()
    };

    if let Some(node) = root.get("test-groups") {
        let key = root_key.child("test-groups");
        for entry in ctx.any_table(node, &key)?.entries() {
            let k = key.child(entry.name);
            let table = ctx.table(entry.node, &k, &["max-threads"])?;
            let Some(v) = table.get("max-threads") else {
                return Err(ctx.invalid(
                    table.span(),
                    &k,
                    "missing required key `max-threads`",
                    Some(
                        "say how many tests of the group may run at once, e.g. max-threads = 1"
                            .into(),
                    ),
                ));
            };
            let max_threads = ctx.positive(v, &k.child("max-threads"), "a positive integer")?;
            config
                .test_groups
                .insert(entry.name.to_owned(), TestGroup { max_threads });
        }
    }

    if let Some(node) = root.get("tiers") {
        let key = root_key.child("tiers");
        for entry in ctx.any_table(node, &key)?.entries() {
            let (filter, _) = ctx.filter(entry.node, &key.child(entry.name))?;
            config.tiers.insert(entry.name.to_owned(), filter);
        }
    }

    if let Some(node) = root.get("profile") {
        let key = root_key.child("profile");
        let groups: Vec<&str> = config.test_groups.keys().map(String::as_str).collect();
        let mut profiles = BTreeMap::new();
        for entry in ctx.any_table(node, &key)?.entries() {
            let layer = parse_profile(
                &mut ctx,
                entry.node,
                &key.child(entry.name),
                entry.name,
                &groups,
            )?;
            profiles.insert(entry.name.to_owned(), layer);
        }
        config.profiles = profiles;
        check_inheritance(&ctx, &config)?;
    }

    if let Some(node) = root.get("fixture") {
        let key = root_key.child("fixture");
        let mut spans = BTreeMap::new();
        for entry in ctx.any_table(node, &key)?.entries() {
            let (fixture, deps) = parse_fixture(
                &mut ctx,
                entry.name,
                entry.key_span.clone(),
                entry.node,
                &key.child(entry.name),
            )?;
            spans.insert(entry.name.to_owned(), deps);
            config.fixtures.insert(entry.name.to_owned(), fixture);
        }
        check_graph(&ctx, &config.fixtures, &spans)?;
    }

    config.raw = raw;
    config.warnings = ctx.warnings;
    config.warnings.sort_by_key(|w| w.line);
    Ok(config)
}

/// Every profile's `inherits` chain must end at `default` without a cycle.
fn check_inheritance(ctx: &Ctx<'_>, config: &GantryConfig) -> Result<(), ConfigError> {
    let profiles = &config.profiles;
    for name in profiles.keys() {
        let Err(e) = chain(profiles, name) else {
            continue;
        };
        let (at, message, help) = match e {
            ChainError::Unknown { at, parent } => {
                let known = config.profile_names();
                let help = match suggest(&parent, known.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("known profiles: {}", known.join(", ")),
                };
                (at, format!("unknown profile `{parent}`"), help)
            }
            ChainError::Cycle { at, cycle } => (
                at,
                format!("inheritance cycle: {}", cycle.join(" -> ")),
                format!("remove `inherits` from one of these profiles; every chain must end at `{DEFAULT_PROFILE}`"),
            ),
        };
        let span = profiles
            .get(&at)
            .and_then(|l| l.inherits.as_ref())
            .and_then(|(_, span)| span.clone());
        let key = KeyPath::root()
            .child("profile")
            .child(&at)
            .child("inherits");
        return Err(ctx.invalid(span, &key, message, Some(help)));
    }
    Ok(())
}
