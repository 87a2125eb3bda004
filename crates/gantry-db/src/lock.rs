//! Whole-file locks between processes (`flock`), released when the
//! holder exits however it exits.

use std::fs::{File, OpenOptions};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::error::{DbError, Result};

/// An exclusive `flock` on a file; unlocked on drop or process exit.
pub(crate) struct FileLock {
    _lock: Flock<File>,
}

/// Takes an exclusive lock on `path` (created if missing), waiting for
/// other holders.
pub(crate) fn lock_exclusive(path: &Path) -> Result<FileLock> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| DbError::io(format!("creating `{}`", parent.display()), e))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| DbError::io(format!("opening lock file `{}`", path.display()), e))?;
    let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| {
        DbError::io(
            format!("locking `{}`", path.display()),
            std::io::Error::from(errno),
        )
    })?;
    Ok(FileLock { _lock: lock })
}
