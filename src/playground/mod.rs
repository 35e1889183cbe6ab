//! The playground behind `plasticity serve`: small nets on 2-D data, stepped natively through
//! the [`Trainer`](crate::engine::Trainer) a chunk of steps at a time, with what a page draws
//! after each chunk (decision heatmaps of the output and of each block's decoder, losses,
//! accuracies, per-block gradient magnitudes and alignment angles). Compare mode trains two
//! rules from the same initial weights on the same batches.
//!
//! ```
//! use plasticity::playground::{PlaygroundSpec, Session};
//! let spec = PlaygroundSpec { rule: "dfa".into(), ..PlaygroundSpec::default() };
//! let mut session = Session::new(spec)?;
//! session.step(10);
//! let frame = session.frame();
//! assert_eq!(frame.step, 10);
//! assert!(frame.lanes[0].test_accuracy.is_some());
//! # Ok::<(), plasticity::Error>(())
//! ```

pub mod session;
pub mod spec;

pub use session::{Frame, LaneFrame, MapFrame, RESOLUTION, Session, SessionInfo};
pub use spec::PlaygroundSpec;
