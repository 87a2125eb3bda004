//! Helpers shared by the integration tests.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::path::Path;

use gantry_config::{ConfigError, GantryConfig};

/// The path used in messages; fixed so snapshots do not depend on temp dirs.
pub const PATH: &str = ".config/gantry.toml";

/// Parses `text` (a leading newline is dropped so that line 1 of the file
/// is the first line of the raw string).
pub fn parse(text: &str) -> Result<GantryConfig, ConfigError> {
    let text = text.strip_prefix('\n').unwrap_or(text);
    GantryConfig::from_str_with_path(text, Path::new(PATH))
}

/// Parses `text`, panicking with the message if it is invalid.
pub fn ok(text: &str) -> GantryConfig {
    parse(text).unwrap_or_else(|e| panic!("config should be valid:\n{e}"))
}

/// The message of the error `text` must produce.
pub fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("config should be invalid:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// All warnings, one per line.
pub fn warnings(text: &str) -> String {
    ok(text)
        .warnings()
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
