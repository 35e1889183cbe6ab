//! The library's error type: every variant renders as one line naming the file or field at fault.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in plasticity, as one-line messages.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file is malformed (wrong magic number, truncated, ragged row, bad label…).
    #[error("{path}: {message}")]
    Data {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Training diverged: a loss, gradient or tensor stopped being a finite number.
    #[error("{0}")]
    Diverged(Box<crate::engine::Divergence>),
    /// A layer cannot be placed in a block as asked.
    #[error("layer: {0}")]
    Layer(String),
    /// A run directory is being written by another run.
    #[error("{path}: in use by {holder}; wait for it to finish or give this run another name")]
    Busy {
        /// The run directory.
        path: PathBuf,
        /// The process holding it, as its lock file says.
        holder: String,
    },
    /// A run was asked to stop (its epoch hook said so, e.g. Ctrl-C in Python) after `epoch`
    /// epochs; its directory holds them and a checkpoint, so the same config resumes it.
    #[error("{dir}: stopped after epoch {epoch}; run the same config again to resume")]
    Stopped {
        /// The run directory.
        dir: PathBuf,
        /// Epochs finished.
        epoch: usize,
    },
    /// A configuration key has a bad value or does not exist.
    #[error("config `{key}`: {message}")]
    Config {
        /// Dotted path of the key, e.g. `model.activation`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A configuration file could not be parsed.
    #[error("{path}: {message}")]
    ConfigFile {
        /// The TOML file.
        path: PathBuf,
        /// The parser's message, on one line.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A plot could not be drawn or encoded.
    #[error("{path}: {message}")]
    Plot {
        /// The image file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A weights file does not fit the network.
    #[error("{path}: {message}")]
    Weights {
        /// The safetensors file.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A plotting error.
    pub fn plot(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Plot {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }

    /// A data-file error.
    pub fn data(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Data {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }

    /// A configuration-key error.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A weights-file error.
    pub fn weights(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Weights {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }
}
