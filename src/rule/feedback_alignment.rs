//! Feedback alignment (Lillicrap et al. 2016) and its sign-symmetric variants (Liao et al.
//! 2016; Moskovitz et al. 2018): the gradient at the block above's linear output flows down
//! through a matrix `B` of `W`'s shape instead of `W` itself.

use burn::tensor::Tensor;

use crate::net::{Feedback, Gradients, Net, Slot};
use crate::rng::Rng;
use crate::rule::feedback::{FeedbackSettings, FeedbackVariant, NamedMatrix};
use crate::rule::registry::{self, NoSettings, Registration};
use crate::rule::{ChainedRule, Signal, SignalContext};

/// Feedback alignment for one hidden block: its signal comes through `B_{i+1}`.
pub enum FeedbackAlignment {
    /// `B_{i+1}` drawn once and fixed.
    Random(NamedMatrix),
    /// Fixed magnitudes `|B_{i+1}|`; the sign follows `W_{i+1}`.
    Frsf(NamedMatrix),
    /// `mean|W|·sign(W)`.
    Usf,
    /// Magnitudes redrawn every step from these settings; the sign follows `W`.
    Brsf(FeedbackSettings),
}

impl FeedbackAlignment {
    /// Draws the fixed part of the feedback to hidden block `index` (shape of `W_{index+1}`).
    pub fn new(net: &Net, index: usize, settings: &FeedbackSettings, rng: &mut Rng) -> Self {
        let above = net.blocks[index + 1].weight();
        let [rows, cols] = above.dims();
        let name = format!("feedback.{}.weight", index + 1);
        let kernel = net.blocks[index + 1]
            .spec()
            .conv
            .map_or(0, |c| c.geometry().kernel);
        let mut draw = || settings.draw(rows, cols, rng, &above.device());
        // Saved in the layout of the weights it stands in for (`[out, in, kh, kw]` kernels).
        let fixed = |name, tensor| NamedMatrix {
            slot: Slot::FIXED_MATRIX.with_kernel(kernel),
            ..NamedMatrix::fixed(name, tensor)
        };
        match settings.variant {
            FeedbackVariant::Random => Self::Random(fixed(name, draw())),
            FeedbackVariant::Frsf => Self::Frsf(fixed(name, draw().abs())),
            FeedbackVariant::Usf => Self::Usf,
            FeedbackVariant::Brsf => Self::Brsf(*settings),
        }
    }

    /// The feedback matrix for this step, given the current forward weights `w`.
    fn feedback(&self, w: &Tensor<2>, rng: &mut Rng) -> Tensor<2> {
        match self {
            Self::Random(b) => b.tensor.clone(),
            Self::Frsf(magnitude) => magnitude.tensor.clone() * w.clone().sign(),
            Self::Usf => w.clone().sign() * w.clone().abs().mean().unsqueeze(),
            Self::Brsf(settings) => {
                let [rows, cols] = w.dims();
                settings.draw(rows, cols, rng, &w.device()).abs() * w.clone().sign()
            }
        }
    }
}

impl ChainedRule for FeedbackAlignment {
    fn signal(&mut self, index: usize, ctx: &mut SignalContext<'_>, _: &mut Gradients) -> Signal {
        let above = index + 1;
        let b = self.feedback(ctx.net.blocks[above].weight(), ctx.rng);
        let grad = ctx.net.blocks[above].input_grad(
            &ctx.trace.blocks[above],
            ctx.grad_z_above.clone(),
            Feedback::Matrix(&b),
        );
        Signal {
            grad,
            local_loss: None,
        }
    }

    fn feedback_pair(&self, index: usize, net: &Net) -> Option<(Tensor<2>, Tensor<2>)> {
        let w = net.blocks[index + 1].weight().clone();
        let b = match self {
            Self::Brsf(_) => return None,
            rule => rule.feedback(&w, &mut Rng::new(0)),
        };
        Some((b, w))
    }

    fn matrix(&self) -> Option<&NamedMatrix> {
        match self {
            Self::Random(m) | Self::Frsf(m) => Some(m),
            Self::Usf | Self::Brsf(_) => None,
        }
    }

    fn matrix_mut(&mut self) -> Option<&mut NamedMatrix> {
        match self {
            Self::Random(m) | Self::Frsf(m) => Some(m),
            Self::Usf | Self::Brsf(_) => None,
        }
    }
}

/// The registry entry.
pub(crate) fn registration() -> Registration {
    registry::chained(
        "feedback_alignment",
        "the error through fixed B of W's shape (train.feedback: random, usf, brsf, frsf)",
        |ctx, _: &NoSettings| {
            let settings = &ctx.settings.feedback;
            Ok(Box::new(FeedbackAlignment::new(
                ctx.net, ctx.index, settings, ctx.rng,
            )))
        },
    )
}
