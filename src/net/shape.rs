//! The shapes of image-like activations: a sample is a `[channels, height, width]` volume,
//! held flattened in channel-major order (PyTorch's `NCHW` memory layout) so that every layer
//! still passes `[batch, features]` matrices; the layers with spatial structure know their own
//! volume and reshape inside.

use std::fmt;

use burn::tensor::Tensor;

/// A sample's shape, `[channels, height, width]`.
pub type Volume = [usize; 3];

/// The number of features of a volume, `channels · height · width`.
pub fn features(volume: Volume) -> usize {
    volume.iter().product()
}

/// A `[batch, c·h·w]` matrix as the `[batch, c, h, w]` tensor of its `volume`s.
pub fn volumes(x: Tensor<2>, [c, h, w]: Volume) -> Tensor<4> {
    let batch = x.dims()[0];
    x.reshape([batch, c, h, w])
}

/// A `[batch, c, h, w]` tensor as the `[batch, c·h·w]` matrix.
pub fn flat(x: Tensor<4>) -> Tensor<2> {
    let [batch, c, h, w] = x.dims();
    x.reshape([batch, c * h * w])
}

/// A volume written as PyTorch prints a sample's shape, `6×28×28`.
pub fn display(volume: Volume) -> String {
    format!("{}×{}×{}", volume[0], volume[1], volume[2])
}

/// The output length of a sliding window of `kernel` cells moved by `stride` over `length`
/// cells padded by `padding` on both sides; `None` when the window does not fit.
pub fn window_output(length: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    let padded = length + 2 * padding;
    (kernel >= 1 && stride >= 1 && padded >= kernel).then(|| (padded - kernel) / stride + 1)
}

/// A 2-D convolution's geometry: input volume, output channels, a square kernel, stride and
/// zero padding (the same on every side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// The input volume `[in_channels, height, width]`.
    pub input: Volume,
    /// Output channels (kernels).
    pub channels: usize,
    /// Kernel height and width.
    pub kernel: usize,
    /// Stride in both directions.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
}

impl ConvGeometry {
    /// The output volume `[channels, out_height, out_width]`, or why the kernel does not fit.
    pub fn output(&self) -> Result<Volume, String> {
        let [_, h, w] = self.input;
        match (
            window_output(h, self.kernel, self.stride, self.padding),
            window_output(w, self.kernel, self.stride, self.padding),
        ) {
            (Some(oh), Some(ow)) if self.channels > 0 => Ok([self.channels, oh, ow]),
            _ if self.channels == 0 => Err("a convolution needs at least one channel".into()),
            _ => Err(format!(
                "a {k}×{k} kernel with padding {p} does not fit a {} input",
                display(self.input),
                k = self.kernel,
                p = self.padding,
            )),
        }
    }

    /// The weight's rows and columns as held, `[channels, in_channels · kernel · kernel]`.
    pub fn weight_dims(&self) -> [usize; 2] {
        [self.channels, self.input[0] * self.kernel * self.kernel]
    }

    /// The weight's shape as PyTorch holds it, `[out, in, kh, kw]`.
    pub fn kernel_shape(&self) -> [usize; 4] {
        [self.channels, self.input[0], self.kernel, self.kernel]
    }
}

/// A pooling window: square, moved by `stride`, no padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeometry {
    /// The input volume.
    pub input: Volume,
    /// Window height and width.
    pub size: usize,
    /// Stride in both directions.
    pub stride: usize,
}

impl PoolGeometry {
    /// The output volume (channels unchanged), or why the window does not fit.
    pub fn output(&self) -> Result<Volume, String> {
        let [c, h, w] = self.input;
        match (
            window_output(h, self.size, self.stride, 0),
            window_output(w, self.size, self.stride, 0),
        ) {
            (Some(oh), Some(ow)) => Ok([c, oh, ow]),
            _ => Err(format!(
                "a {s}×{s} pooling window does not fit a {} input",
                display(self.input),
                s = self.size
            )),
        }
    }
}

impl fmt::Display for ConvGeometry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conv {}→{} {k}×{k}",
            self.input[0],
            self.channels,
            k = self.kernel
        )?;
        if self.stride != 1 {
            write!(f, " stride {}", self.stride)?;
        }
        if self.padding != 0 {
            write!(f, " pad {}", self.padding)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenet_shapes_follow_pytorch() {
        let conv1 = ConvGeometry {
            input: [1, 28, 28],
            channels: 6,
            kernel: 5,
            stride: 1,
            padding: 2,
        };
        assert_eq!(conv1.output(), Ok([6, 28, 28]));
        let pool = PoolGeometry {
            input: [6, 28, 28],
            size: 2,
            stride: 2,
        };
        assert_eq!(pool.output(), Ok([6, 14, 14]));
        let conv2 = ConvGeometry {
            input: [6, 14, 14],
            channels: 16,
            kernel: 5,
            stride: 1,
            padding: 0,
        };
        assert_eq!(conv2.output(), Ok([16, 10, 10]));
        assert_eq!(conv2.weight_dims(), [16, 150]);
        let strided = ConvGeometry { stride: 2, ..conv2 };
        assert_eq!(strided.output(), Ok([16, 5, 5]));
        assert!(
            ConvGeometry {
                kernel: 15,
                ..conv2
            }
            .output()
            .is_err()
        );
    }
}
