//! The engine: a [`Trainer`] owns a net, its learning rule, both optimizers and the random
//! streams, and steps them one mini-batch ([`Trainer::step`]) or one epoch
//! ([`Trainer::epoch`]) at a time. Runs, comparisons, sweeps, the benchmark, the tests and
//! the examples all train through it.

pub mod alignment;
pub mod checkpoint;
mod divergence;
mod evaluate;
mod magnitudes;
mod metrics;
pub(crate) mod pipeline;
mod trainer;
mod updates;

pub use alignment::{AlignmentLine, AlignmentProbe, AlignmentRecord, cosine_angle};
pub use checkpoint::{Checkpoint, TrainerState};
pub use divergence::{Divergence, first_non_finite};
pub use evaluate::{Evaluation, Evaluator, Split, evaluate, evaluate_weights};
pub use metrics::{EpochMetrics, EpochReport, IterationLine, StepReport};
pub use pipeline::stage_ranges;
pub use trainer::{Trainer, TrainerOptions, build_model};
