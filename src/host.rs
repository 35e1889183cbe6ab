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
