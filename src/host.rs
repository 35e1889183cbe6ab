//! Moving numbers between host vectors and tensors.

use burn::tensor::{Device, Tensor, TensorData};

/// A `[rows, cols]` tensor from row-major values.
pub fn matrix(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// The row-major values of a tensor of any rank.
pub fn values<const D: usize>(tensor: &Tensor<D>) -> Vec<f32> {
    tensor
        .to_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor data converts to f32")
}

/// The single value of a one-element tensor.
pub fn scalar<const D: usize>(tensor: &Tensor<D>) -> f32 {
    values(tensor)[0]
}

/// Runs `f` on a tensor's row-major f32 values: borrowed in place for a contiguous f32 flex
/// tensor, copied out ([`values`]) otherwise.
pub fn read<const D: usize, R>(tensor: &Tensor<D>, f: impl FnOnce(&[f32]) -> R) -> R {
    #[cfg(feature = "flex")]
    if let Ok(flex) = tensor.clone().try_into_primitive::<burn::backend::Flex>()
        && flex.dtype() == burn::tensor::DType::F32
        && let Some((start, end)) = flex.layout().contiguous_offsets()
    {
        return f(&flex.storage::<f32>()[start..end]);
    }
    f(&values(tensor))
}

/// Whether `x`'s values may be worked on by host loops: a CPU backend's tensor that burn's
/// autodiff does not track (GPU tensors, and the tests' autodiff references, keep the
/// backend's own ops).
pub fn on_host<const D: usize>(x: &Tensor<D>) -> bool {
    crate::backend::is_cpu() && !x.is_autodiff()
}
