#![warn(missing_docs)]
//! # plasticity
//!
//! Train the same network, on the same data, from the same initial weights, with different
//! learning rules — backprop and the rules beyond it — and see why one learns and another does
//! not.
//!
//! A training step is always the same four moves (see `ARCHITECTURE.md`): **forward** through
//! the blocks keeping a [`net::Trace`], a **signal** per block chosen by the rule, a local
//! objective, and an **update** by an optimizer. Blocks own an explicit backward, so rules
//! differ only in which signal reaches a block. One [`engine::Trainer`] runs the step for
//! every front end; rules are looked up by name in the [`rule::registry`], where a rule from
//! another crate registers exactly as the built-in ones do.
//!
//! ```
//! use plasticity::prelude::*;
//! let config = ExperimentConfig::load(None, &["data.dataset=iris".into(), "train.rule=dfa".into()])?;
//! let data = plasticity::data::load(&config.data)?;
//! let mut trainer = Trainer::new(&config, &data)?;
//! for _ in 0..5 {
//!     trainer.epoch(&data, &|| {})?;
//! }
//! println!("test accuracy {:?}", trainer.evaluate(&data.test).accuracy);
//! # Ok::<(), plasticity::Error>(())
//! ```

pub mod activation;
pub mod backend;
pub mod bench;
pub mod data;
pub mod engine;
pub mod error;
pub mod experiment;
mod host;
mod io;
mod linalg;
pub mod loss;
pub mod net;
pub mod optim;
pub mod playground;
pub mod plot;
mod product;
pub mod report;
pub mod rng;
pub mod rule;
mod suggest;
pub mod task;

pub use error::{Error, Result};

/// What most programs need: configs, data, the trainer, and the traits and registration
/// functions of a rule written outside the crate.
pub mod prelude {
    pub use crate::data::{DataConfig, Dataset, Table};
    pub use crate::engine::{
        AlignmentRecord, EpochMetrics, EpochReport, Evaluation, StepReport, Trainer, TrainerOptions,
    };
    pub use crate::experiment::{ExperimentConfig, RunOptions, Summary, train};
    pub use crate::net::{
        Block, Feedback, Gradients, Layer, LayerCache, LayerGrads, Mode, Net, Parameters, Place,
        Slot,
    };
    pub use crate::rule::{
        BuildContext, ChainedRule, LearningRule, LocalRule, NamedMatrix, NoSettings, RuleKind,
        Signal, SignalContext, register_chained, register_local, register_net,
    };
    pub use crate::task::{Batch, Task};
    pub use crate::{Error, Result};
}

/// Implements serde's `Serialize`/`Deserialize` through `Display`/`FromStr`, so a type appears
/// in configs as its snake_case name (e.g. `"leaky_relu:0.1"`).
#[macro_export]
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
