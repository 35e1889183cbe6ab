//! Experiments: configs, the training loop, metrics and summaries.

pub mod config;
mod evaluate;
mod train;

pub use config::{ExperimentConfig, ModelConfig, PerBlock, Problem, TrainConfig};
pub use evaluate::{Evaluation, Split, batch, evaluate, evaluate_weights};
pub use train::{EpochMetrics, RunOptions, Setup, Summary, train};
