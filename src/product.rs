//! Matrix products of 2-D tensors, the bulk of every training step.
//!
//! On the flex backend the products call the `gemm` crate (flex's own kernel, same arguments,
//! so bit-identical results) directly on the tensors' buffers, with their strides, so a
//! transposed operand is never copied. Written by hand because burn's `matmul` on flex spent
//! most of its time outside the kernel on this net's shapes (batch 128, 300–784 units): a
//! profile of `gᵀ·x` shows page faults, page clearing and TLB shootdowns from its output
//! buffers (30–40 GFLOP/s through burn, 80–110 called directly, 2 cores). Other backends, and
//! operands that are not f32 flex tensors, go through burn's `matmul`.

use burn::tensor::Tensor;

/// `a·b`.
///
/// # Shapes
/// `a`: `[m, k]`, `b`: `[k, n]` → `[m, n]`.
pub fn matmul(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let ([m, k], [_, n]) = (a.dims(), b.dims());
    tally::count([m, k, n]);
    #[cfg(feature = "flex")]
    if let Some(product) = flex::product(&a, &b) {
        return product;
    }
    a.matmul(b)
}

/// What the products of a stretch of training were: their FLOPs (counted always, one relaxed
/// atomic add per product) and, while [`tally::record`] runs, their shapes. Convolutions
/// count as the products they amount to (`conv2d.rs`).
pub mod tally {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    static FLOPS: AtomicU64 = AtomicU64::new(0);
    static RECORDING: AtomicBool = AtomicBool::new(false);
    static SHAPES: Mutex<Vec<[usize; 3]>> = Mutex::new(Vec::new());

    /// Counts one `[m, k] · [k, n]` product: `2·m·k·n` FLOPs.
    pub fn count([m, k, n]: [usize; 3]) {
        FLOPS.fetch_add(2 * (m * k * n) as u64, Ordering::Relaxed);
        if RECORDING.load(Ordering::Relaxed)
            && let Ok(mut shapes) = SHAPES.lock()
        {
            shapes.push([m, k, n]);
        }
    }

    /// FLOPs of every product counted so far, by any thread.
    pub fn flops() -> u64 {
        FLOPS.load(Ordering::Relaxed)
    }

    /// Runs `f` and returns, with its result, the shapes `[m, k, n]` of the products it ran
    /// (in order; concurrent products of other threads would be listed too, so call it with
    /// nothing else training).
    pub fn record<T>(f: impl FnOnce() -> T) -> (T, Vec<[usize; 3]>) {
        if let Ok(mut shapes) = SHAPES.lock() {
            shapes.clear();
        }
        RECORDING.store(true, Ordering::SeqCst);
        let result = f();
        RECORDING.store(false, Ordering::SeqCst);
        let shapes = SHAPES.lock().map(|mut s| std::mem::take(&mut *s));
        (result, shapes.unwrap_or_default())
    }
}

/// Runs `a` and `b` at once, one per core, their products on one thread each (the other core
/// is busy with the other closure).
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    rayon::join(|| serial(a), || serial(b))
}

thread_local! {
    /// Whether products on this thread stay on it.
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `f` with this thread's products kept on it.
fn serial<R>(f: impl FnOnce() -> R) -> R {
    let before = SERIAL.replace(true);
    let result = f();
    SERIAL.set(before);
    result
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::Flex;
    use burn::tensor::{DType, Tensor, TensorData};

    /// Products below this many multiply-adds run on one thread: waking the other costs
    /// more than it saves (flex's own threshold).
    const PARALLEL_MIN: usize = 192 * 192 * 192;

    /// A 2-D f32 flex tensor's buffer, from its first element, with its row and column
    /// strides.
    struct View {
        tensor: burn::backend::flex::FlexTensor,
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    }

    impl View {
        fn of(tensor: &Tensor<2>) -> Option<Self> {
            let tensor = tensor.clone().try_into_primitive::<Flex>().ok()?;
            if tensor.dtype() != DType::F32 {
                return None;
            }
            let layout = tensor.layout();
            let [rows, cols] = layout.shape().dims::<2>();
            let (row_stride, col_stride) = (layout.strides()[0], layout.strides()[1]);
            Some(Self {
                tensor,
                rows,
                cols,
                row_stride,
                col_stride,
            })
        }

        fn ptr(&self) -> *const f32 {
            let storage = self.tensor.storage::<f32>();
            storage[self.tensor.layout().start_offset()..].as_ptr()
        }
    }

    /// `a·b` by `gemm`, or `None` when an operand is not an f32 flex tensor or the product is
    /// empty.
    pub(super) fn product(a: &Tensor<2>, b: &Tensor<2>) -> Option<Tensor<2>> {
        let (lhs, rhs) = (View::of(a)?, View::of(b)?);
        let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
        assert_eq!(
            k, rhs.rows,
            "matmul: inner dimensions differ ({k} and {})",
            rhs.rows
        );
        if m * n * k == 0 {
            return None;
        }
        let parallelism = if m * n * k >= PARALLEL_MIN && !super::SERIAL.get() {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        };
        // Not zeroed: with `read_dst = false` gemm writes every entry without reading any.
        let mut out = Vec::<f32>::with_capacity(m * n);
        // SAFETY: the views keep both buffers alive; their shapes and strides describe `m × k`
        // and `k × n` matrices inside them; `out` has room for `m × n` row-major entries, all
        // of which gemm writes (`read_dst = false`, so `alpha` is unused) before `set_len`.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                1,
                n as isize,
                false,
                lhs.ptr(),
                lhs.col_stride,
                lhs.row_stride,
                rhs.ptr(),
                rhs.col_stride,
                rhs.row_stride,
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
            out.set_len(m * n);
        }
        Some(Tensor::from_data(TensorData::new(out, [m, n]), &a.device()))
    }
}

#[cfg(test)]
mod tests {
    //! The direct products against burn's `matmul`: the same bits, whatever the operands'
    //! layout, size (one thread or split over the cores) or the thread they run on.

    use super::*;
    use crate::backend;
    use crate::host;
    use crate::rng::Rng;

    fn random(rows: usize, cols: usize, rng: &mut Rng) -> Tensor<2> {
        host::matrix(
            rng.normal_vec(rows * cols, 0.0, 1.0),
            rows,
            cols,
            &backend::device(),
        )
    }

    /// `a·b` both ways, and whether they agree bit for bit.
    fn assert_same(a: Tensor<2>, b: Tensor<2>) {
        let expected = host::values(&a.clone().matmul(b.clone()));
        let direct = matmul(a.clone(), b.clone());
        assert_eq!(direct.dims(), [a.dims()[0], b.dims()[1]]);
        assert_eq!(host::values(&direct), expected);
        let (joined, _) = join(|| matmul(a.clone(), b.clone()), || ());
        assert_eq!(host::values(&joined), expected);
    }

    #[test]
    fn products_match_burns_matmul_for_every_layout() {
        let mut rng = Rng::new(3);
        // Small (one thread) and above the threshold where products split over the cores.
        for (m, k, n) in [(5, 7, 3), (128, 300, 64), (256, 200, 210)] {
            assert_same(random(m, k, &mut rng), random(k, n, &mut rng));
            // Transposed operands, as in `x·Wᵀ` and `δᵀ·x`.
            assert_same(random(k, m, &mut rng).transpose(), random(k, n, &mut rng));
            assert_same(random(m, k, &mut rng), random(n, k, &mut rng).transpose());
            // A view that starts inside its buffer and skips columns.
            let wide = random(m + 2, k + 3, &mut rng);
            assert_same(wide.slice([1..m + 1, 2..k + 2]), random(k, n, &mut rng));
        }
    }

    #[test]
    fn products_of_empty_inner_dimension_are_zero() {
        let mut rng = Rng::new(4);
        let a = random(3, 1, &mut rng).slice([0..3, 0..0]);
        let b = random(1, 2, &mut rng).slice([0..0, 0..2]);
        let product = matmul(a, b);
        assert_eq!(product.dims(), [3, 2]);
        assert_eq!(host::values(&product), vec![0.0; 6]);
    }

    #[test]
    fn join_runs_both_closures_and_keeps_their_results() {
        let (left, right) = join(|| 2 + 2, || "four");
        assert_eq!((left, right), (4, "four"));
    }
}
