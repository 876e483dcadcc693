//! The session dir: one private temp dir per provisioning, holding the servers' data and
//! logs, removed on drop. A lock file held for the session's lifetime tells live
//! sessions from dead ones, so dirs that a killed process (`kill -9`, a crash) could not
//! remove are swept by the next session instead of piling up. Names carry the pid and a
//! random part, so two processes never share a dir.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::InfraError;

const SESSION_DIR_PREFIX: &str = "stockproof-infra-";
const LOCK_FILE_NAME: &str = "session.lock";

#[derive(Debug)]
pub(crate) struct SessionDir {
    dir: tempfile::TempDir,
    /// Held (locked) until drop; a dir whose lock can be taken belongs to a dead process.
    _lock: File,
}

impl SessionDir {
    pub(crate) fn create() -> Result<SessionDir, InfraError> {
        sweep_stale_sessions(&std::env::temp_dir());
        let dir = tempfile::Builder::new()
            .prefix(&format!("{SESSION_DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(|error| InfraError::io("creating the session dir", error))?;
        // The lock file appears under its final name already locked (created and locked
        // under another name, then renamed), so a concurrent sweep never finds it
        // unlocked and takes a live session for a dead one.
        let unlocked_path = dir.path().join(format!("{LOCK_FILE_NAME}.new"));
        let lock_path = dir.path().join(LOCK_FILE_NAME);
        let lock = File::create(&unlocked_path).map_err(|error| {
            InfraError::io(format!("creating {}", unlocked_path.display()), error)
        })?;
        lock.lock().map_err(|error| {
            InfraError::io(format!("locking {}", unlocked_path.display()), error)
        })?;
        fs::rename(&unlocked_path, &lock_path)
            .map_err(|error| InfraError::io(format!("creating {}", lock_path.display()), error))?;
        Ok(SessionDir { dir, _lock: lock })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A sub-directory, created.
    pub(crate) fn subdir(&self, name: &str) -> Result<PathBuf, InfraError> {
        let path = self.dir.path().join(name);
        fs::create_dir_all(&path)
            .map_err(|error| InfraError::io(format!("creating {}", path.display()), error))?;
        Ok(path)
    }
}

/// Removes session dirs under `temp_dir` whose owner is gone. Best effort: a dir that
/// cannot be read or removed is left for the next sweep.
pub(crate) fn sweep_stale_sessions(temp_dir: &Path) {
    let Ok(entries) = fs::read_dir(temp_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let is_session = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(SESSION_DIR_PREFIX));
        if !is_session {
            continue;
        }
        let path = entry.path();
        let Ok(lock) = File::open(path.join(LOCK_FILE_NAME)) else {
            continue; // still being created, or not ours
        };
        if lock.try_lock().is_ok() {
            tracing::info!(dir = %path.display(), "removing a session dir left by a dead process");
            let _ = fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests;
