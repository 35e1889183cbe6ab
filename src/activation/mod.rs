//! Activation functions: each one's forward and its explicit backward.

mod smooth;

pub use smooth::Activation;
