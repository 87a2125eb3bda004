//! Finding the workspace root from inside a test process.

use std::path::{Path, PathBuf};

use crate::error::{DbError, Result};

/// The workspace whose `.config/gantry.toml` configures the databases.
///
/// `GANTRY_WORKSPACE_ROOT` wins; otherwise the search starts at
/// `CARGO_MANIFEST_DIR` (which cargo and nextest set for test processes)
/// or the current directory, and goes up to the first directory holding
/// `.config/gantry.toml` — so a test of any member crate finds the
/// workspace's config.
pub fn find_workspace_root() -> Result<PathBuf> {
    if let Some(root) = std::env::var_os("GANTRY_WORKSPACE_ROOT") {
        return Ok(PathBuf::from(root));
    }
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    search_up(&start).ok_or(DbError::WorkspaceNotFound { start })
}

fn search_up(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(gantry_config::CONFIG_PATH).is_file())
        .map(Path::to_path_buf)
}
