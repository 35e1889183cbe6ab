//! One writer per run directory: a run holds an exclusive lock on `<dir>/.lock` while it
//! writes the directory, so a second run into it fails at once, naming the holder, instead of
//! interleaving its files with the first's.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The lock on a run directory, released when dropped (or when the process ends, however it
/// ends: the operating system releases it, so a killed run leaves no stale lock).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// The lock file of the run directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(".lock")
}

impl RunLock {
    /// Takes the lock on `dir` (which must exist), or fails naming the process that holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = path(dir);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // Best effort: the holder may be rewriting its line this very moment.
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "another run"
                } else {
                    holder
                };
                return Err(Error::Busy {
                    path: dir.to_path_buf(),
                    holder: holder.to_string(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let line = format!(
            "process {} (started at unix time {stamp})\n",
            std::process::id()
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(line.as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        Ok(Self { _file: file })
    }
}
