//! Experiments: configs, the training loop, metrics and summaries.

pub mod compare;
pub mod config;
pub mod jobs;
mod layers;
pub mod limits;
pub mod located;
pub mod lock;
pub mod snapshot;
pub mod splice;
pub mod sweep;
pub mod tensorboard;
mod train;

pub use crate::engine::{EpochMetrics, Evaluation, Split, evaluate, evaluate_weights};
pub use config::{ExperimentConfig, ModelConfig, PerBlock, TrainConfig};
pub use train::{EpochHook, RunOptions, RunStatus, Summary, train, train_on};
