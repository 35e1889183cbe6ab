//! Kolen–Pollack learning (Akrout et al. 2019, "Deep learning without weight transport"),
//! written outside plasticity against its public API only.
//!
//! As in feedback alignment, the error reaches hidden block i through a feedback matrix `B`
//! of `W_{i+1}`'s shape instead of `W_{i+1}` itself: `δh_i = δz_{i+1}·B`. But `B` is not fixed:
//! it receives exactly the update `W_{i+1}` receives, `δz_{i+1}ᵀ·h_i`, and both decay,
//! `ΔW = −η(δzᵀh + λW)`, `ΔB = −η(δzᵀh + λB)`. Under SGD the difference shrinks by `(1 − ηλ)`
//! every step, `B − W ← (1 − ηλ)(B − W)`, so `B` comes to mirror `W` without ever reading it.

use burn::tensor::Tensor;
use plasticity::prelude::*;
use serde::Deserialize;

/// The rule's settings: the config's `[kolen_pollack]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KolenPollackSettings {
    /// λ: weight decay on both `W_{i+1}` and `B`, in the gradient.
    pub decay: f64,
}

impl Default for KolenPollackSettings {
    fn default() -> Self {
        Self { decay: 0.02 }
    }
}

/// Kolen–Pollack feedback to one hidden block.
pub struct KolenPollack {
    /// `B`, `[out_{i+1}, out_i]`, trained by the rule's optimizer.
    feedback: NamedMatrix,
    decay: f32,
}

impl KolenPollack {
    /// Draws `B` for hidden block `ctx.index` as feedback alignment would.
    pub fn new(ctx: &mut BuildContext<'_>, settings: &KolenPollackSettings) -> Result<Self> {
        if !(settings.decay.is_finite() && settings.decay >= 0.0) {
            return Err(Error::config(
                "kolen_pollack.decay",
                format!("{} is not a non-negative number", settings.decay),
            ));
        }
        let above = ctx.net.blocks[ctx.index + 1].weight();
        let [rows, cols] = above.dims();
        let b = ctx
            .settings
            .feedback
            .draw(rows, cols, ctx.rng, &above.device());
        let name = format!("kolen_pollack.{}.weight", ctx.index + 1);
        Ok(Self {
            feedback: NamedMatrix::trainable(name, b),
            decay: settings.decay as f32,
        })
    }
}

impl ChainedRule for KolenPollack {
    fn signal(
        &mut self,
        index: usize,
        ctx: &mut SignalContext<'_>,
        grads: &mut Gradients,
    ) -> Signal {
        let above = index + 1;
        let (block, cache) = (&ctx.net.blocks[above], &ctx.trace.blocks[above]);
        let b = &self.feedback.tensor;
        // W_{i+1}'s own update, δz_{i+1}ᵀ·h_i, is B's too; both decay by λ.
        let update = ctx
            .grad_z_above
            .clone()
            .transpose()
            .matmul(cache.linear_input().clone());
        grads.add(
            self.feedback.name.clone(),
            update + b.clone().mul_scalar(self.decay),
        );
        let w: &Tensor<2> = block.weight();
        grads.add(
            format!("blocks.{above}.linear.weight"),
            w.clone().mul_scalar(self.decay),
        );
        let grad = block.input_grad(cache, ctx.grad_z_above.clone(), Feedback::Matrix(b));
        Signal::gradient(grad)
    }

    fn matrix(&self) -> Option<&NamedMatrix> {
        Some(&self.feedback)
    }

    fn matrix_mut(&mut self) -> Option<&mut NamedMatrix> {
        Some(&mut self.feedback)
    }

    fn feedback_pair(&self, index: usize, net: &Net) -> Option<(Tensor<2>, Tensor<2>)> {
        Some((
            self.feedback.tensor.clone(),
            net.blocks[index + 1].weight().clone(),
        ))
    }
}

/// Registers the rule as `kolen_pollack` (once per process; later calls do nothing).
pub fn register() -> Result<()> {
    static DONE: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        register_chained(
            "kolen_pollack",
            "feedback B learns W's update, both decay: B comes to mirror W",
            |ctx, settings: &KolenPollackSettings| Ok(Box::new(KolenPollack::new(ctx, settings)?)),
        )
        .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|message| Error::config("train.rule", message))
}
