//! One block: a stack of layers around one weighted layer and one activation, today
//! `[input activation] → [dropout] → linear → [batchnorm] → activation [→ L2-normalize]`, or
//! for a convolutional block `[input activation] → [dropout or spatial dropout] → conv →
//! [2-D batchnorm] → activation → [max or average pool] [→ flatten]`.
//!
//! The block is the unit a rule gives a signal to. Its backward is split where rules act: from
//! the output `h` to the pre-activation `a` ([`Block::pre_activation_grad`]), from `a` to the
//! weighted layer's output `z` with the parameter gradients on the way
//! ([`Block::param_grads`]), and from `z` to the input through `W` or a stand-in
//! ([`Block::input_grad`]).

use burn::tensor::{Device, Tensor};

use crate::activation::{Activation, Estimator, EvalMode};
use crate::error::{Error, Result};
use crate::host;
use crate::net::Slot;
use crate::net::activation_layer::ActivationLayer;
use crate::net::batchnorm::{BatchNorm, BatchNormCache};
use crate::net::dropout::Dropout;
use crate::net::init::Init;
use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode, Weighted};
use crate::net::linear::Linear;
use crate::net::normalize::Normalize;
use crate::net::shape::{self, ConvGeometry, PoolGeometry, Volume};
use crate::net::{AvgPool, Conv2d, Flatten, MaxPool, SpatialDropout};
use crate::rng::Rng;

/// The resolved description of one block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSpec {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// An activation applied to the block's input before dropout, if any.
    pub input_activation: Option<Activation>,
    /// Dropout rate on the block's input (0 = none).
    pub dropout: f32,
    /// Whether a batchnorm follows the linear layer.
    pub batchnorm: bool,
    /// Whether that batchnorm learns its scale `γ` and shift `β` (PyTorch's `affine`); without
    /// them it only standardises, so a rule cannot shrink the layer's spread through `γ`.
    pub batchnorm_affine: bool,
    /// The activation after the linear layer (and batchnorm).
    pub activation: Activation,
    /// How a hard (or Gumbel-relaxed) activation's gradient is estimated.
    pub estimator: Estimator,
    /// How stochastic units behave in evaluation.
    pub eval_mode: EvalMode,
    /// Whether the output is L2-normalised per sample.
    pub normalize: bool,
    /// The convolution, when the weighted layer is one (`None`: a fully connected layer);
    /// `inputs` and `outputs` are then its input volume's and the block's output volume's
    /// feature counts.
    pub conv: Option<ConvSpec>,
}

/// How a pooling window reduces its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// The largest (PyTorch's `MaxPool2d`).
    Max,
    /// The mean (`AvgPool2d`).
    Avg,
}

/// A pooling layer after a convolutional block's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// Max or average.
    pub kind: PoolKind,
    /// Window height and width.
    pub size: usize,
    /// Stride (the window's size for non-overlapping pools).
    pub stride: usize,
}

/// A convolutional block: `[input activation] → [dropout] → conv → [batchnorm] → activation →
/// [pool] [→ flatten]`, its shapes checked when made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    geometry: ConvGeometry,
    pool: Option<Pool>,
    spatial_dropout: bool,
    flatten: bool,
    conv_output: Volume,
    output: Volume,
}

impl ConvSpec {
    /// The layers after the activation: the pool, then the flatten.
    fn output_layers(&self) -> Vec<Box<dyn Layer>> {
        let mut layers: Vec<Box<dyn Layer>> = Vec::new();
        if let Some(pool) = self.pool {
            let geometry = PoolGeometry {
                input: self.conv_output,
                size: pool.size,
                stride: pool.stride,
            };
            layers.push(match pool.kind {
                PoolKind::Max => Box::new(MaxPool::new(geometry).expect("checked in new")),
                PoolKind::Avg => Box::new(AvgPool::new(geometry).expect("checked in new")),
            });
        }
        if self.flatten {
            layers.push(Box::new(Flatten { input: self.output }));
        }
        layers
    }

    /// A block of convolution `geometry`, then `pool`; its dropout drops whole channels when
    /// `spatial_dropout`; `flatten` ends the convolutional part (a fully connected block
    /// follows). Fails, saying why, when the kernel or the pool does not fit.
    pub fn new(
        geometry: ConvGeometry,
        pool: Option<Pool>,
        spatial_dropout: bool,
        flatten: bool,
    ) -> std::result::Result<Self, String> {
        let conv_output = geometry.output()?;
        let output = match pool {
            Some(pool) => PoolGeometry {
                input: conv_output,
                size: pool.size,
                stride: pool.stride,
            }
            .output()?,
            None => conv_output,
        };
        Ok(Self {
            geometry,
            pool,
            spatial_dropout,
            flatten,
            conv_output,
            output,
        })
    }

    /// The convolution.
    pub fn geometry(&self) -> ConvGeometry {
        self.geometry
    }

    /// The pool after the activation, if any.
    pub fn pool(&self) -> Option<Pool> {
        self.pool
    }

    /// Whether the block's dropout drops whole channels.
    pub fn spatial_dropout(&self) -> bool {
        self.spatial_dropout
    }

    /// Whether the block ends the net's convolutional part.
    pub fn flatten(&self) -> bool {
        self.flatten
    }

    /// The convolution's output volume (before pooling).
    pub fn conv_output(&self) -> Volume {
        self.conv_output
    }

    /// The block's output volume (after pooling).
    pub fn output(&self) -> Volume {
        self.output
    }
}

/// What carries a gradient below a block in place of `W` (`δ_in = δ_z·M`).
pub enum Feedback<'a> {
    /// The block's own weights (backprop).
    Weights,
    /// A matrix of the weight's `[out, in]` shape (feedback alignment and its variants).
    Matrix(&'a Tensor<2>),
}

/// Everything a block's backward needs from its forward pass: one cache per layer.
///
/// # Shapes
/// `input`: `[batch, in]`, `output`: `[batch, out]`; [`BlockCache::linear_input`] `[batch, in]`,
/// [`BlockCache::pre_activation`] and [`BlockCache::activated`] `[batch, out]`.
#[derive(Debug, Clone)]
pub struct BlockCache {
    /// The block's input `h_{i-1}` as received.
    pub input: Tensor<2>,
    /// The block's output `h_i`.
    pub output: Tensor<2>,
    /// Each layer's cache, in the block's order.
    pub layers: Vec<LayerCache>,
    weighted: usize,
    activation: usize,
}

impl BlockCache {
    /// What the weighted layer saw (after the input activation and dropout).
    pub fn linear_input(&self) -> &Tensor<2> {
        &self.layers[self.weighted].input
    }

    /// The pre-activation `a_i` (after batchnorm).
    pub fn pre_activation(&self) -> &Tensor<2> {
        &self.layers[self.activation].input
    }

    /// `f(a_i)`, before normalisation.
    pub fn activated(&self) -> &Tensor<2> {
        &self.layers[self.activation].output
    }

    /// Batchnorm's batch statistics, when the block has one and ran in training or
    /// calibration mode.
    pub fn batchnorm(&self) -> Option<&BatchNormCache> {
        self.layers.iter().find_map(|c| c.state::<BatchNormCache>())
    }
}

/// Gradients of one block's parameters under their names in the block (`linear.weight`,
/// `batchnorm.bias`).
#[derive(Debug, Clone, Default)]
pub struct BlockGrads {
    entries: Vec<(String, Tensor<2>)>,
}

impl BlockGrads {
    /// No gradients.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `layer`'s gradients under `layer.name`.
    pub fn push(&mut self, layer: &str, grads: LayerGrads) {
        self.entries.extend(
            grads
                .into_iter()
                .map(|(name, grad)| (format!("{layer}.{name}"), grad)),
        );
    }

    /// Adds every gradient of `other`.
    pub fn extend(&mut self, other: BlockGrads) {
        self.entries.extend(other.entries);
    }

    /// The gradient of `name` (`linear.weight`), if present.
    pub fn get(&self, name: &str) -> Option<&Tensor<2>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, g)| g)
    }

    /// Every gradient, by name in the block.
    pub fn into_entries(self) -> impl Iterator<Item = (String, Tensor<2>)> {
        self.entries.into_iter()
    }
}

/// Where [`Block::insert_layer`] puts a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Just before the weighted layer (on its input, after dropout); parameterless layers
    /// only, since local rules never send a gradient below the weighted layer.
    Input,
    /// Between the weighted layer (and batchnorm) and the activation: its gradients are taken
    /// with the weighted layer's, from the signal at the pre-activation, under every rule.
    PreActivation,
    /// After the activation (and normalisation), at the block's output; parameterless layers
    /// only.
    Output,
}

/// What a block's units did over a stretch of training (an epoch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitFractions {
    /// Hard blocks: the fraction of units whose output never changed (dead or saturated);
    /// `None` for smooth blocks.
    pub frozen: Option<f64>,
    /// The fraction of units whose output was 0 for every training sample (dead units).
    pub dead: f64,
}

/// A block with its parameters: a stack of layers.
#[derive(Debug, Clone)]
pub struct Block {
    spec: BlockSpec,
    layers: Vec<Box<dyn Layer>>,
    /// Index of the weighted layer in `layers`.
    weighted: usize,
    /// Index of the block's activation in `layers`.
    activation: usize,
    /// Per unit, the smallest and largest output seen in training since the last
    /// [`Block::take_unit_fractions`].
    activity: Option<UnitRange>,
}

/// Per unit, the smallest and largest output a block's training passes gave.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per block
enum UnitRange {
    /// On the CPU backends: host vectors of `out` values, widened in place by each batch.
    Host { low: Vec<f32>, high: Vec<f32> },
    /// Elsewhere: `[1, out]` tensors.
    Device { low: Tensor<2>, high: Tensor<2> },
}

impl UnitRange {
    /// The range widened to take in `activated`'s rows (the range of those rows alone when
    /// `range` is `None`).
    ///
    /// # Shapes
    /// `activated`: `[batch, out]`.
    fn widen(range: Option<UnitRange>, activated: &Tensor<2>) -> UnitRange {
        let [batch, units] = activated.dims();
        let on_host = host::on_host(activated) && batch > 0;
        match range {
            Some(UnitRange::Host { mut low, mut high }) if on_host => {
                host::read(activated, |values| widen_rows(&mut low, &mut high, values));
                UnitRange::Host { low, high }
            }
            None if on_host => host::read(activated, |values| {
                let mut low = values[..units].to_vec();
                let mut high = low.clone();
                widen_rows(&mut low, &mut high, &values[units..]);
                UnitRange::Host { low, high }
            }),
            range => {
                let (low, high) = (activated.clone().min_dim(0), activated.clone().max_dim(0));
                let (l, h) = match range {
                    Some(UnitRange::Device { low: l, high: h }) => (l, h),
                    // A host range meeting tensors it cannot read (autodiff's): made tensors.
                    Some(UnitRange::Host { low: l, high: h }) => {
                        let device = activated.device();
                        let row = |v: Vec<f32>| host::matrix(v, 1, units, &device);
                        (row(l), row(h))
                    }
                    None => return UnitRange::Device { low, high },
                };
                UnitRange::Device {
                    low: l.min_pair(low),
                    high: h.max_pair(high),
                }
            }
        }
    }

    /// The fractions of units that never moved and that stayed at 0, each in `[0, 1]`.
    fn fractions(self) -> (f64, f64) {
        match self {
            UnitRange::Host { low, high } => {
                let n = low.len() as f32;
                let count = |f: &dyn Fn(f32, f32) -> bool| {
                    let k = low.iter().zip(&high).filter(|&(&l, &h)| f(l, h)).count();
                    f64::from(k as f32 / n)
                };
                (
                    count(&|l, h| h - l == 0.0),
                    count(&|l, h| l.abs() + h.abs() == 0.0),
                )
            }
            UnitRange::Device { low, high } => {
                let frozen = (high.clone() - low.clone()).equal_elem(0.0).float().mean();
                let dead = (low.abs() + high.abs()).equal_elem(0.0).float().mean();
                let both = host::values(&Tensor::cat(vec![frozen, dead], 0));
                (f64::from(both[0]), f64::from(both[1]))
            }
        }
    }
}

/// `low` and `high` (one value per unit) widened to take in every row of `values`
/// (`[rows, units]`, row-major), by compare-and-select, which runs in vectors; a NaN never
/// replaces a bound.
fn widen_rows(low: &mut [f32], high: &mut [f32], values: &[f32]) {
    for row in values.chunks_exact(low.len()) {
        for ((low, high), &v) in low.iter_mut().zip(high.iter_mut()).zip(row) {
            *low = if v < *low { v } else { *low };
            *high = if v > *high { v } else { *high };
        }
    }
}

impl BlockSpec {
    /// A plain `linear → activation` block from `inputs` to `outputs` units: no input
    /// activation, dropout, batchnorm or normalisation; hard units estimated straight through
    /// and thresholded in evaluation. Set the other fields to add those.
    pub fn dense(inputs: usize, outputs: usize, activation: Activation) -> Self {
        Self {
            inputs,
            outputs,
            input_activation: None,
            dropout: 0.0,
            batchnorm: false,
            batchnorm_affine: true,
            activation,
            estimator: Estimator::Ste,
            eval_mode: EvalMode::Threshold,
            normalize: false,
            conv: None,
        }
    }

    /// The weighted layer's `[out, fan_in]`: `[outputs, inputs]` for a linear layer, the
    /// kernels' `[out, in·k·k]` for a convolution.
    pub fn weight_dims(&self) -> [usize; 2] {
        match self.conv {
            Some(conv) => conv.geometry.weight_dims(),
            None => [self.outputs, self.inputs],
        }
    }

    /// Multiply–adds of the weighted layer per sample: `out·fan_in`, times the output
    /// positions for a convolution (each kernel applied at every one).
    pub fn multiply_adds(&self) -> usize {
        let [out, fan_in] = self.weight_dims();
        let positions = self.conv.map_or(1, |c| c.conv_output[1] * c.conv_output[2]);
        out * fan_in * positions
    }

    /// A convolutional block of `conv` with `activation` (no input activation, dropout,
    /// batchnorm or normalisation; hard units estimated straight through).
    pub fn convolution(conv: ConvSpec, activation: Activation) -> Self {
        Self {
            conv: Some(conv),
            ..Self::dense(
                shape::features(conv.geometry.input),
                shape::features(conv.output),
                activation,
            )
        }
    }

    /// The layers this description stands for, in order, with the weighted layer drawn with
    /// `init`; returns them with the weighted layer's and the activation's positions.
    fn layers(
        &self,
        init: Init,
        scale: Option<f32>,
        rng: &mut Rng,
        device: &Device,
    ) -> (Vec<Box<dyn Layer>>, usize, usize) {
        let mut layers: Vec<Box<dyn Layer>> = Vec::new();
        if let Some(activation) = self.input_activation {
            layers.push(Box::new(ActivationLayer {
                activation,
                estimator: self.estimator,
                eval_mode: self.eval_mode,
                relaxes: false,
                name: "input_activation",
            }));
        }
        if self.dropout > 0.0 {
            layers.push(match self.conv {
                Some(conv) if conv.spatial_dropout => {
                    let [channels, h, w] = conv.geometry.input;
                    Box::new(SpatialDropout {
                        rate: self.dropout,
                        channels,
                        positions: h * w,
                    })
                }
                _ => Box::new(Dropout { rate: self.dropout }),
            });
        }
        let weighted = layers.len();
        layers.push(match self.conv {
            Some(conv) => Box::new(
                Conv2d::new(conv.geometry, init, scale, rng, device)
                    .expect("a ConvSpec's geometry fits"),
            ),
            None => Box::new(Linear::new(
                self.inputs,
                self.outputs,
                init,
                scale,
                rng,
                device,
            )),
        });
        if self.batchnorm {
            layers.push(Box::new(match self.conv {
                Some(conv) => {
                    let [channels, h, w] = conv.conv_output;
                    BatchNorm::spatial(channels, h * w, self.batchnorm_affine, device)
                }
                None => BatchNorm::new(self.outputs, self.batchnorm_affine, device),
            }));
        }
        let activation = layers.len();
        layers.push(Box::new(ActivationLayer {
            activation: self.activation,
            estimator: self.estimator,
            eval_mode: self.eval_mode,
            relaxes: true,
            name: "activation",
        }));
        if let Some(conv) = self.conv {
            layers.extend(conv.output_layers());
        }
        if self.normalize {
            layers.push(Box::new(Normalize));
        }
        (layers, weighted, activation)
    }
}

impl Block {
    /// A freshly initialised block.
    pub fn new(
        spec: BlockSpec,
        init: Init,
        scale: Option<f32>,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let (layers, weighted, activation) = spec.layers(init, scale, rng, device);
        Self {
            spec,
            layers,
            weighted,
            activation,
            activity: None,
        }
    }

    /// The description the block was built from.
    pub fn spec(&self) -> &BlockSpec {
        &self.spec
    }

    /// Switches how the block's hard units estimate their gradient (the alignment probe
    /// differentiates blocks without a gradient through the straight-through estimator).
    pub fn set_estimator(&mut self, estimator: Estimator) {
        self.spec.estimator = estimator;
        for layer in &mut self.layers {
            if let Some(activation) = layer.as_any_mut().downcast_mut::<ActivationLayer>() {
                activation.estimator = estimator;
            }
        }
    }

    /// Adds `layer` to the block at `place`: a layer defined outside the crate joins the
    /// block's forward, backward, parameters (`blocks.<i>.<name>.<tensor>`, trained by the
    /// net's optimizer) and weights files. Fails if the block already has a layer of that
    /// name, or if a layer with parameters to learn is placed anywhere but
    /// [`Place::PreActivation`].
    pub fn insert_layer(&mut self, place: Place, layer: Box<dyn Layer>) -> Result<()> {
        let name = layer.name();
        if self.layers.iter().any(|l| l.name() == name) {
            return Err(Error::Layer(format!(
                "the block already has a layer named `{name}`"
            )));
        }
        let mut trainable = false;
        layer.visit(&mut |_, slot, _| trainable |= slot.trainable);
        if trainable && place != Place::PreActivation {
            return Err(Error::Layer(format!(
                "layer `{name}` has parameters to learn: it must sit between the weighted layer \
                 and the activation (Place::PreActivation), where every rule's signal reaches it"
            )));
        }
        match place {
            Place::Input => {
                self.layers.insert(self.weighted, layer);
                self.weighted += 1;
                self.activation += 1;
            }
            Place::PreActivation => {
                self.layers.insert(self.activation, layer);
                self.activation += 1;
            }
            Place::Output => self.layers.push(layer),
        }
        Ok(())
    }

    /// The layers, input first.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The first layer of concrete type `L` (`block.layer::<BatchNorm>()`), if any.
    pub fn layer<L: Layer + 'static>(&self) -> Option<&L> {
        self.layers.iter().find_map(|l| l.as_any().downcast_ref())
    }

    /// The first layer of concrete type `L`, mutably.
    pub fn layer_mut<L: Layer + 'static>(&mut self) -> Option<&mut L> {
        self.layers
            .iter_mut()
            .find_map(|l| l.as_any_mut().downcast_mut())
    }

    /// The block's batchnorm, if it has one.
    pub fn batchnorm(&self) -> Option<&BatchNorm> {
        self.layer()
    }

    /// The block's batchnorm, mutably.
    pub fn batchnorm_mut(&mut self) -> Option<&mut BatchNorm> {
        self.layer_mut()
    }

    /// The weighted layer.
    pub fn weighted(&self) -> &dyn Weighted {
        self.layers[self.weighted]
            .weighted()
            .expect("a block's weighted layer is weighted")
    }

    /// The weighted layer, mutably.
    pub fn weighted_mut(&mut self) -> &mut dyn Weighted {
        self.layers[self.weighted]
            .weighted_mut()
            .expect("a block's weighted layer is weighted")
    }

    /// The name of the weights of the block at position `index` in its net
    /// (`blocks.<index>.linear.weight`, `blocks.<index>.conv.weight`).
    pub fn weight_name(&self, index: usize) -> String {
        format!(
            "blocks.{index}.{}.weight",
            self.layers[self.weighted].name()
        )
    }

    /// The weights `W`, `[out, in]`.
    pub fn weight(&self) -> &Tensor<2> {
        self.weighted().weight()
    }

    /// The weights, mutably.
    pub fn weight_mut(&mut self) -> &mut Tensor<2> {
        self.weighted_mut().weight_mut()
    }

    /// The bias, `[1, out]`.
    pub fn bias(&self) -> &Tensor<2> {
        self.weighted().bias()
    }

    /// The bias, mutably.
    pub fn bias_mut(&mut self) -> &mut Tensor<2> {
        self.weighted_mut().bias_mut()
    }

    /// Whether the block's training pass draws from the run's stream (one of its layers does:
    /// [`Layer::draws_in_training`]).
    pub fn draws_in_training(&self) -> bool {
        self.layers.iter().any(|layer| layer.draws_in_training())
    }

    /// Runs the block, keeping what its backward needs.
    ///
    /// # Shapes
    /// `x`: `[batch, in]` → output `[batch, out]` (in the cache).
    pub fn forward(&self, x: Tensor<2>, mode: &mut Mode<'_>) -> BlockCache {
        let mut caches = Vec::with_capacity(self.layers.len());
        let mut h = x.clone();
        for layer in &self.layers {
            let cache = layer.forward(h, mode);
            h = cache.output.clone();
            caches.push(cache);
        }
        BlockCache {
            input: x,
            output: h,
            layers: caches,
            weighted: self.weighted,
            activation: self.activation,
        }
    }

    /// The gradient at the pre-activation `a_i` from the gradient at the output `h_i`: back
    /// through the layers after the activation, then the activation (its derivative, or the
    /// estimator's surrogate).
    ///
    /// # Shapes
    /// `grad_output`: `[batch, out]` → `[batch, out]`.
    pub fn pre_activation_grad(&self, cache: &BlockCache, grad_output: Tensor<2>) -> Tensor<2> {
        (self.activation..self.layers.len())
            .rev()
            .fold(grad_output, |grad, k| {
                self.layers[k].backward(&cache.layers[k], grad).1
            })
    }

    /// Parameter gradients from the gradient at the pre-activation, and the gradient at the
    /// weighted layer's output `z_i` (what goes below the block, through `W` or a stand-in).
    ///
    /// # Shapes
    /// `grad_pre_activation`: `[batch, out]` → (grads, `[batch, out]`).
    pub fn param_grads(
        &self,
        cache: &BlockCache,
        grad_pre_activation: Tensor<2>,
    ) -> (BlockGrads, Tensor<2>) {
        let (mut grads, grad_z) = self.linear_output_grad(cache, grad_pre_activation);
        grads.extend(self.weighted_grads(cache, &grad_z));
        (grads, grad_z)
    }

    /// The gradient at the weighted layer's output `z_i` from the gradient at the
    /// pre-activation, with the gradients of the layers between them (an affine batchnorm's):
    /// the first half of [`Block::param_grads`], for callers that take the weighted layer's
    /// gradients later ([`Block::weighted_grads`]).
    ///
    /// # Shapes
    /// `grad_pre_activation`: `[batch, out]` → `[batch, out]`.
    pub fn linear_output_grad(
        &self,
        cache: &BlockCache,
        grad_pre_activation: Tensor<2>,
    ) -> (BlockGrads, Tensor<2>) {
        let mut grads = BlockGrads::new();
        let mut grad = grad_pre_activation;
        for k in (self.weighted + 1..self.activation).rev() {
            let (layer_grads, below) = self.layers[k].backward(&cache.layers[k], grad);
            grads.push(self.layers[k].name(), layer_grads);
            grad = below;
        }
        (grads, grad)
    }

    /// The weighted layer's gradients (`linear.weight`, `linear.bias`) from the gradient at
    /// its output.
    ///
    /// # Shapes
    /// `grad_z`: `[batch, out]` → `[out, in]`, `[1, out]`.
    pub fn weighted_grads(&self, cache: &BlockCache, grad_z: &Tensor<2>) -> BlockGrads {
        let layer = &self.layers[self.weighted];
        let mut grads = BlockGrads::new();
        grads.push(
            layer.name(),
            self.weighted()
                .param_grads(&cache.layers[self.weighted], grad_z),
        );
        grads
    }

    /// The gradient at the block's input from the gradient `grad_z` at its weighted layer's
    /// output, sent through `feedback` in place of `W` (then back through the layers below it:
    /// dropout, the input activation).
    ///
    /// # Shapes
    /// `grad_z`: `[batch, out]` → `[batch, in]`.
    pub fn input_grad(
        &self,
        cache: &BlockCache,
        grad_z: Tensor<2>,
        feedback: Feedback<'_>,
    ) -> Tensor<2> {
        let weighted = self.weighted();
        let matrix = match feedback {
            Feedback::Weights => weighted.weight(),
            Feedback::Matrix(matrix) => matrix,
        };
        let grad = weighted.input_grad(&cache.layers[self.weighted], grad_z, matrix);
        (0..self.weighted).rev().fold(grad, |grad, k| {
            self.layers[k].backward(&cache.layers[k], grad).1
        })
    }

    /// Records what a training pass saw: each layer's (batch statistics folded into the running
    /// ones), and each unit's output range.
    pub fn observe(&mut self, cache: &BlockCache) {
        for (layer, layer_cache) in self.layers.iter_mut().zip(&cache.layers) {
            layer.observe(layer_cache);
        }
        self.activity = Some(UnitRange::widen(self.activity.take(), cache.activated()));
    }

    /// What the units did since the last call, and a fresh start: `None` before any training.
    pub fn take_unit_fractions(&mut self) -> Option<UnitFractions> {
        let (frozen, dead) = self.activity.take()?.fractions();
        Some(UnitFractions {
            frozen: self.spec.activation.is_hard().then_some(frozen),
            dead,
        })
    }

    /// Visits every tensor of the block under `prefix.<layer>.<name>` (`blocks.0.linear.weight`),
    /// layers in order.
    pub fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        for layer in &self.layers {
            let name = layer.name();
            layer.visit(&mut |local, slot, t| f(&format!("{prefix}.{name}.{local}"), slot, t));
        }
    }

    /// Visits every tensor of the block mutably, in the order of [`Block::visit`].
    pub fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        for layer in &mut self.layers {
            let name = layer.name();
            layer.visit_mut(&mut |local, slot, t| f(&format!("{prefix}.{name}.{local}"), slot, t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fractions of frozen and dead units by tensor ops on the whole range, `[1, out]` each.
    fn by_tensors(low: Tensor<2>, high: Tensor<2>) -> (f64, f64) {
        UnitRange::Device { low, high }.fractions()
    }

    #[test]
    fn host_unit_ranges_widen_as_the_tensor_reductions_do() {
        let device = crate::backend::device();
        // 7 units over two batches of 3 rows: unit 0 stays 0 (dead and frozen), unit 1 stays 2
        // (frozen), the others move; unit 6 is 0 in the first batch and moves in the second.
        let first = [
            [0.0, 2.0, -1.0, 3.0, 0.5, 1.0, 0.0],
            [0.0, 2.0, 4.0, -2.0, 0.5, 1.5, 0.0],
            [0.0, 2.0, 0.0, 1.0, -0.5, 1.0, 0.0],
        ];
        let second = [
            [0.0, 2.0, 5.0, 0.0, 0.5, 0.0, 0.25],
            [0.0, 2.0, -3.0, 1.0, 0.5, 1.0, 0.0],
            [0.0, 2.0, 1.0, 1.0, 0.5, 1.0, -0.5],
        ];
        let matrix = |rows: [[f32; 7]; 3]| {
            host::matrix(rows.iter().flatten().copied().collect(), 3, 7, &device)
        };
        let range = UnitRange::widen(None, &matrix(first));
        assert!(matches!(range, UnitRange::Host { .. }));
        let sevenths = |k: f32| f64::from(k / 7.0);
        assert_eq!(range.clone().fractions(), (sevenths(3.0), sevenths(2.0)));
        let range = UnitRange::widen(Some(range), &matrix(second));
        let UnitRange::Host { low, high } = range.clone() else {
            panic!("a host range stays on the host");
        };
        assert_eq!(low, [0.0, 2.0, -3.0, -2.0, -0.5, 0.0, -0.5]);
        assert_eq!(high, [0.0, 2.0, 5.0, 3.0, 0.5, 1.5, 0.25]);
        let both = Tensor::cat(vec![matrix(first), matrix(second)], 0);
        let want = by_tensors(both.clone().min_dim(0), both.max_dim(0));
        assert_eq!(range.fractions(), want);
        assert_eq!(want, (sevenths(2.0), sevenths(1.0)));
    }
}
