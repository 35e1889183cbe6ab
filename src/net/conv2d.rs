//! A 2-D convolution with its explicit backward, on flattened `[channels, height, width]`
//! volumes.

use burn::tensor::module::{conv_transpose2d, conv2d, conv2d_weight_backward};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor};

use crate::host::{self, on_host};
use crate::net::Slot;
use crate::net::init::Init;
use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode, Weighted};
use crate::net::shape::{ConvGeometry, Volume, flat, volumes};
use crate::net::{direct, unfold};
use crate::product::{self, tally::ConvPass};
use crate::rng::Rng;

/// `z = W ⋆ x + b` (cross-correlation, as PyTorch's `Conv2d`), every output channel one
/// kernel over all input channels.
///
/// # Shapes
/// input `[batch, in·h·w]` (a flattened `[in, h, w]` volume), output `[batch, out·oh·ow]`;
/// weight held `[out, in·kh·kw]` (each kernel flattened, PyTorch's `[out, in, kh, kw]` memory
/// layout, saved 4-D), bias `[1, out]`.
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// The kernels `W`, `[out, in·kh·kw]`.
    pub weight: Tensor<2>,
    /// The bias `b`, `[1, out]`.
    pub bias: Tensor<2>,
    geometry: ConvGeometry,
    output: Volume,
}

impl Conv2d {
    /// A layer of `geometry` with kernels drawn from `init` (fan-in `in·kh·kw`, as PyTorch's).
    /// Fails when the kernel does not fit the input.
    pub fn new(
        geometry: ConvGeometry,
        init: Init,
        scale: Option<f32>,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self, String> {
        let output = geometry.output()?;
        let [rows, cols] = geometry.weight_dims();
        let weight = init.matrix(rows, cols, scale, rng);
        let bias = init.bias(rows, cols, scale, rng);
        Ok(Self {
            weight: host::matrix(weight, rows, cols, device),
            bias: host::matrix(bias, 1, rows, device),
            geometry,
            output,
        })
    }

    /// The layer's geometry.
    pub fn geometry(&self) -> ConvGeometry {
        self.geometry
    }

    /// The output volume.
    pub fn output_volume(&self) -> Volume {
        self.output
    }

    fn options(&self) -> ConvOptions<2> {
        let g = self.geometry;
        ConvOptions::new([g.stride; 2], [g.padding; 2], [1, 1], 1)
    }

    /// The matrix product a convolution of `batch` samples amounts to, `[m, k, n]`: `m =
    /// batch·oh·ow` output positions, `k = in·kh·kw` taps, `n = out` channels (each of the
    /// forward, weight-gradient and input-gradient passes costs `2·m·k·n` FLOPs).
    fn product_shape(&self, batch: usize) -> [usize; 3] {
        let [out, oh, ow] = self.output;
        let [_, taps] = self.geometry.weight_dims();
        [batch * oh * ow, taps, out]
    }

    /// Counts one `pass` over `batch` samples (`product::tally`).
    fn count(&self, batch: usize, pass: ConvPass) {
        product::tally::count_conv(self.geometry, batch, pass);
    }

    /// `matrix` (`[out, in·kh·kw]`) as the kernels `[out, in, kh, kw]`.
    fn kernels(&self, matrix: &Tensor<2>) -> Tensor<4> {
        matrix.clone().reshape(self.geometry.kernel_shape())
    }

    /// # Shapes
    /// `x`: `[batch, in·h·w]` → `[batch, out·oh·ow]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.run(x).0
    }

    /// The output and, on the host path, what the weight gradient reuses: the padded input of
    /// a direct convolution (`direct.rs`, stride 1 on AVX-512), else the unfolded patches.
    fn run(&self, x: Tensor<2>) -> (Tensor<2>, Option<Saved>) {
        let batch = x.dims()[0];
        self.count(batch, ConvPass::Forward);
        if !on_host(&x) {
            let out = self.geometry.channels;
            let z = conv2d(
                volumes(x, self.geometry.input),
                self.kernels(&self.weight),
                Some(self.bias.clone().reshape([out])),
                self.options(),
            );
            return (flat(z), None);
        }
        let [out, oh, ow] = self.output;
        let device = x.device();
        if direct::applies(&self.geometry) {
            let padded = host::read(&x, |x| direct::pad(x, batch, &self.geometry));
            let z = host::read(&self.weight, |weight| {
                host::read(&self.bias, |bias| {
                    direct::forward(&padded, batch, &self.geometry, self.output, weight, bias)
                })
            });
            let z = host::matrix(z, batch, out * oh * ow, &device);
            return (z, Some(Saved::Padded(padded)));
        }
        let [_, taps] = self.geometry.weight_dims();
        let patches = host::read(&x, |x| {
            unfold::unfold(x, batch, &self.geometry, self.output)
        });
        let patches = host::matrix(patches, taps, batch * oh * ow, &device);
        let rows = product::matmul_untallied(self.weight.clone(), patches.clone());
        let z = host::read(&rows, |rows| {
            host::read(&self.bias, |bias| {
                unfold::sample_rows(rows, batch, bias, oh * ow)
            })
        });
        (
            host::matrix(z, batch, out * oh * ow, &device),
            Some(Saved::Patches(Box::new(patches))),
        )
    }

    /// `δ` `[batch, out·oh·ow]` as one row per output channel, `[out, batch·oh·ow]`.
    fn channel_rows(&self, grad_output: &Tensor<2>) -> Tensor<2> {
        let batch = grad_output.dims()[0];
        let [out, oh, ow] = self.output;
        let rows = host::read(grad_output, |grad| {
            unfold::channel_rows(grad, batch, out, oh * ow)
        });
        host::matrix(rows, out, batch * oh * ow, &grad_output.device())
    }
}

/// What the forward keeps for the weight gradient on the host.
enum Saved {
    /// The input with its zero padding, `[batch·in·(h+2p)·(w+2p) + 16]` (`direct::pad`).
    Padded(Vec<f32>),
    /// The unfolded input `[in·kh·kw, batch·oh·ow]` (`unfold::unfold`).
    Patches(Box<Tensor<2>>),
}

impl Layer for Conv2d {
    fn name(&self) -> &'static str {
        "conv"
    }

    fn draws_in_training(&self) -> bool {
        false
    }

    fn forward(&self, x: Tensor<2>, _mode: &mut Mode<'_>) -> LayerCache {
        let (z, saved) = self.run(x.clone());
        let cache = LayerCache::new(x, z);
        match saved {
            Some(saved) => cache.with_state(saved),
            None => cache,
        }
    }

    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let grads = self.param_grads(cache, &grad_output);
        let input = self.input_grad(cache, grad_output, &self.weight);
        (grads, input)
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        f("weight", self.kernel_slot(), &self.weight);
        f("bias", Slot::ROW, &self.bias);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        f("weight", self.kernel_slot(), &mut self.weight);
        f("bias", Slot::ROW, &mut self.bias);
    }

    fn weighted(&self) -> Option<&dyn Weighted> {
        Some(self)
    }

    fn weighted_mut(&mut self) -> Option<&mut dyn Weighted> {
        Some(self)
    }
}

impl Conv2d {
    /// The weight's slot: a trainable matrix saved as `[out, in, kh, kw]`.
    pub fn kernel_slot(&self) -> Slot {
        Slot::MATRIX.with_kernel(self.geometry.kernel)
    }
}

impl Weighted for Conv2d {
    fn weight(&self) -> &Tensor<2> {
        &self.weight
    }

    fn weight_mut(&mut self) -> &mut Tensor<2> {
        &mut self.weight
    }

    fn bias(&self) -> &Tensor<2> {
        &self.bias
    }

    fn bias_mut(&mut self) -> &mut Tensor<2> {
        &mut self.bias
    }

    /// `∂L/∂W` (the correlation of the input with the output gradient; on the host, from the
    /// forward's padded input, or `δ·Pᵀ` with its patches) and `∂L/∂b` (the output gradient
    /// summed over the batch and positions).
    fn param_grads(&self, cache: &LayerCache, grad_output: &Tensor<2>) -> LayerGrads {
        let batch = grad_output.dims()[0];
        self.count(batch, ConvPass::Weight);
        match cache.state::<Saved>() {
            Some(Saved::Padded(padded)) if on_host(grad_output) => {
                let [_, k, n] = self.product_shape(batch);
                let g = &self.geometry;
                let (weight, bias) = host::read(grad_output, |grad| {
                    direct::weight_grad(padded, batch, g, self.output, grad)
                });
                let device = grad_output.device();
                return vec![
                    ("weight", host::matrix(weight, n, k, &device)),
                    ("bias", host::matrix(bias, 1, n, &device)),
                ];
            }
            Some(Saved::Patches(patches)) if on_host(grad_output) => {
                let rows = self.channel_rows(grad_output);
                let weight =
                    product::matmul_untallied(rows.clone(), (**patches).clone().transpose());
                let bias = rows.sum_dim(1).reshape([1, self.geometry.channels]);
                return vec![("weight", weight), ("bias", bias)];
            }
            _ => {}
        }
        let grad = volumes(grad_output.clone(), self.output);
        let weight = conv2d_weight_backward(
            volumes(cache.input.clone(), self.geometry.input),
            self.kernels(&self.weight),
            grad.clone(),
            self.options(),
        );
        let [batch, out, oh, ow] = grad.dims();
        let bias = grad
            .reshape([batch, out, oh * ow])
            .sum_dim(2)
            .sum_dim(0)
            .reshape([1, out]);
        let [rows, cols] = self.geometry.weight_dims();
        vec![("weight", weight.reshape([rows, cols])), ("bias", bias)]
    }

    /// The transposed convolution of the output gradient with `feedback`'s kernels (`W`'s own
    /// for backprop, a feedback kernel of the same shape for feedback alignment): on the host,
    /// the patches' gradient `Fᵀ·δ` folded back into the input volume.
    fn input_grad(
        &self,
        _cache: &LayerCache,
        grad_output: Tensor<2>,
        feedback: &Tensor<2>,
    ) -> Tensor<2> {
        let g = self.geometry;
        let batch = grad_output.dims()[0];
        self.count(batch, ConvPass::Input);
        if on_host(&grad_output) && on_host(feedback) {
            let rows = self.channel_rows(&grad_output);
            let patches = product::matmul_untallied(feedback.clone().transpose(), rows);
            let grad = host::read(&patches, |p| unfold::fold(p, batch, &g, self.output));
            return host::matrix(grad, batch, g.input.iter().product(), &grad_output.device());
        }
        let [_, h, w] = g.input;
        let leftover = |length: usize| (length + 2 * g.padding - g.kernel) % g.stride;
        let options = ConvTransposeOptions::new(
            [g.stride; 2],
            [g.padding; 2],
            [leftover(h), leftover(w)],
            [1, 1],
            1,
        );
        let grad = conv_transpose2d(
            volumes(grad_output, self.output),
            self.kernels(feedback),
            None,
            options,
        );
        debug_assert_eq!(grad.dims()[1..], g.input);
        flat(grad)
    }
}
