//! Experiments: configs, the training loop, metrics and summaries.

pub mod alignment;
pub mod checkpoint;
pub mod compare;
pub mod config;
mod evaluate;
pub mod magnitudes;
pub mod pipeline;
pub mod snapshot;
pub mod sweep;
mod train;
pub mod updates;

pub use config::{ExperimentConfig, ModelConfig, PerBlock, TrainConfig};
pub use evaluate::{Evaluation, Split, evaluate, evaluate_weights};
pub use train::{EpochMetrics, RunOptions, Setup, Summary, train};
