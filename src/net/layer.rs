//! The layer trait: one step of a block, with its own forward and explicit backward.
//!
//! A [`crate::net::Block`] is a stack of layers around one [`Weighted`] layer (the one whose
//! weights a rule may replace by a feedback matrix in the backward) and one activation. Every
//! layer passes `[batch, features]` matrices; a layer with spatial structure keeps its shape
//! itself. A new layer kind is one file implementing [`Layer`] (and [`Weighted`] if it holds the
//! block's weights), checked against burn's autodiff by the tests' shared layer check.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use burn::tensor::Tensor;

use crate::net::Slot;
use crate::rng::Rng;

/// Whether a forward pass trains (dropout on, batch statistics) or evaluates.
pub enum Mode<'a> {
    /// Training: dropout masks and stochastic samples come from this stream; batchnorm uses
    /// batch statistics.
    Train(&'a mut Rng),
    /// Evaluation: no dropout; batchnorm uses running statistics.
    Eval,
    /// As evaluation, except that batchnorm normalises with (and caches) the batch's own
    /// statistics: what [`crate::net::Net::recalibrate_batchnorm`] measures.
    Calibrate,
}

/// What a layer's backward needs from its forward pass: its input, its output and whatever
/// else the layer keeps (a dropout mask, batch statistics), typed by the layer.
///
/// # Shapes
/// `input`: `[batch, in]`, `output`: `[batch, out]`.
#[derive(Clone)]
pub struct LayerCache {
    /// What the layer received.
    pub input: Tensor<2>,
    /// What it produced.
    pub output: Tensor<2>,
    state: Option<Arc<dyn Any + Send + Sync>>,
}

impl LayerCache {
    /// A cache of the input and output alone.
    pub fn new(input: Tensor<2>, output: Tensor<2>) -> Self {
        Self {
            input,
            output,
            state: None,
        }
    }

    /// The cache with the layer's own `state` kept beside.
    pub fn with_state<T: Any + Send + Sync>(mut self, state: T) -> Self {
        self.state = Some(Arc::new(state));
        self
    }

    /// The layer's own state, if it kept one of type `T`.
    pub fn state<T: Any>(&self) -> Option<&T> {
        self.state.as_deref()?.downcast_ref()
    }
}

impl fmt::Debug for LayerCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerCache")
            .field("input", &self.input.dims())
            .field("output", &self.output.dims())
            .field("state", &self.state.is_some())
            .finish()
    }
}

/// A layer's parameter gradients under its own names (`weight`, `bias`), `[out, in]` or
/// `[1, n]` as the parameters.
pub type LayerGrads = Vec<(&'static str, Tensor<2>)>;

/// What every layer type gets for free (a blanket impl for `Clone` layers): reaching its
/// concrete type and copying it behind a `Box`.
pub trait LayerObject {
    /// The layer as `Any`, to reach its concrete type ([`crate::net::Block::layer`]).
    fn as_any(&self) -> &dyn Any;

    /// The layer as `Any`, mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;

    /// A boxed copy.
    fn clone_layer(&self) -> Box<dyn Layer>;
}

impl<L: Layer + Clone + 'static> LayerObject for L {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn clone_layer(&self) -> Box<dyn Layer> {
        Box::new(self.clone())
    }
}

/// One layer of a block: a forward that keeps what its backward needs, and the backward.
/// A `Clone` type implementing it is a layer ([`LayerObject`] comes with it).
pub trait Layer: LayerObject + fmt::Debug + Send + Sync {
    /// The layer's name in parameter names (`blocks.0.<name>.weight`) and listings:
    /// `linear`, `batchnorm`, `dropout`, `activation`, `input_activation`, `normalize`.
    fn name(&self) -> &'static str;

    /// Runs the layer on `x`, keeping what its backward needs.
    ///
    /// # Shapes
    /// `x`: `[batch, in]` → cache with output `[batch, out]`.
    fn forward(&self, x: Tensor<2>, mode: &mut Mode<'_>) -> LayerCache;

    /// The parameter gradients and the gradient at the input, from the gradient at the output.
    ///
    /// # Shapes
    /// `grad_output`: `[batch, out]` → (gradients, `[batch, in]`).
    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>);

    /// Records what a training pass saw (batchnorm's running statistics); nothing by default.
    fn observe(&mut self, _cache: &LayerCache) {}

    /// Whether a training pass (`Mode::Train`) draws from the run's stream: dropout masks,
    /// samples of stochastic and noisy units. `true` unless the layer says otherwise, so that a
    /// caller running side by side the passes that draw nothing (target propagation's noisy
    /// passes) never moves one that does out of the stream's order.
    fn draws_in_training(&self) -> bool {
        true
    }

    /// Visits the layer's tensors under their own names (`weight`, `running_mean`), in a
    /// stable order; none by default.
    fn visit(&self, _f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {}

    /// Visits the layer's tensors mutably, in the order of [`Layer::visit`].
    fn visit_mut(&mut self, _f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {}

    /// The layer as the block's weighted layer, if it is one.
    fn weighted(&self) -> Option<&dyn Weighted> {
        None
    }

    /// The layer as the block's weighted layer, mutably.
    fn weighted_mut(&mut self) -> Option<&mut dyn Weighted> {
        None
    }
}

impl Clone for Box<dyn Layer> {
    fn clone(&self) -> Self {
        self.clone_layer()
    }
}

/// The layer of a block that holds its weights `W` (`[out, in]`, PyTorch's layout, a
/// convolution's kernels flattened per output channel) and bias: the one whose backward a rule
/// may send through a feedback matrix of `W`'s shape instead of `W`.
pub trait Weighted {
    /// `W`, `[out, in]`.
    fn weight(&self) -> &Tensor<2>;

    /// `W`, mutably.
    fn weight_mut(&mut self) -> &mut Tensor<2>;

    /// The bias, `[1, out]`.
    fn bias(&self) -> &Tensor<2>;

    /// The bias, mutably.
    fn bias_mut(&mut self) -> &mut Tensor<2>;

    /// The gradients of `W` and the bias from the gradient at the layer's output.
    ///
    /// # Shapes
    /// `grad_output`: `[batch, out]` → `weight` `[out, in]`, `bias` `[1, out]`.
    fn param_grads(&self, cache: &LayerCache, grad_output: &Tensor<2>) -> LayerGrads;

    /// The gradient at the layer's input with `feedback` (`W` itself for backprop, or a matrix
    /// of its shape) in place of `W`.
    ///
    /// # Shapes
    /// `grad_output`: `[batch, out]`, `feedback`: `[out, in]` → `[batch, in]`.
    fn input_grad(
        &self,
        cache: &LayerCache,
        grad_output: Tensor<2>,
        feedback: &Tensor<2>,
    ) -> Tensor<2>;
}
