//! Tensors to and from host vectors, for the tests (burn's `TensorData` directly).

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
        .try_to_vec::<f32>()
        .unwrap()
}

/// The single value of a one-element tensor.
pub fn scalar<const D: usize>(tensor: &Tensor<D>) -> f32 {
    values(tensor)[0]
}
