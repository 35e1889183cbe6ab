//! The compute device, chosen by cargo feature: `cuda`, then `wgpu`, then `ndarray`, else `flex`.

use burn::tensor::Device;

/// The device every tensor of a run lives on.
#[allow(deprecated)] // burn 0.22 deprecates ndarray in favour of flex; we keep it as an option
pub fn device() -> Device {
    #[cfg(feature = "cuda")]
    return Device::cuda(0);
    #[cfg(all(feature = "wgpu", not(feature = "cuda")))]
    return Device::wgpu(Default::default());
    #[cfg(all(feature = "ndarray", not(any(feature = "cuda", feature = "wgpu"))))]
    return Device::ndarray();
    #[cfg(not(any(feature = "ndarray", feature = "cuda", feature = "wgpu")))]
    return Device::flex();
}

/// The backend's name, for reports.
pub fn name() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda"
    } else if cfg!(feature = "wgpu") {
        "wgpu"
    } else if cfg!(feature = "ndarray") {
        "ndarray"
    } else {
        "flex"
    }
}

/// Whether tensors live in host memory (`flex`, `ndarray`), where element-wise loops may run
/// on the host directly.
pub fn is_cpu() -> bool {
    !cfg!(any(feature = "cuda", feature = "wgpu"))
}
