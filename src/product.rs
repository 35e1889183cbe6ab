//! Matrix products of 2-D tensors, the bulk of every training step.
//!
//! On the flex backend the products call the `gemm` crate (flex's own kernel, same arguments,
//! so bit-identical results) directly on the tensors' buffers, with their strides, so a
//! transposed operand is never copied. A product big enough for several cores is cut into
//! blocks of its output, one single-threaded `gemm` call each, the same bits as one call
//! (`flex::split_tiles`). Products with a small output and a long inner
//! dimension (a convolution's weight gradient) are cut along it into fixed chunks run on the
//! cores and summed in order: the same bits for any number of threads, and within rounding of
//! burn's single product. Where both operands run contiguously along that dimension (`δ·Pᵀ`,
//! from 2,048 long) each chunk is a block of dot products (`dots.rs`, AVX-512) instead of a
//! `gemm` call: gemm's packing of the transposed patches took 18 % of a LeNet-5 step. Written
//! by hand because burn's `matmul` on flex spent most of its time outside the kernel on this net's shapes (batch 128, 300–784 units): a
//! profile of `gᵀ·x` shows page faults, page clearing and TLB shootdowns from its output
//! buffers (30–40 GFLOP/s through burn, 80–110 called directly, 2 cores). Other backends, and
//! operands that are not f32 flex tensors, go through burn's `matmul`.

use burn::tensor::Tensor;

#[cfg(feature = "flex")]
mod dots;

/// `a·b`.
///
/// # Shapes
/// `a`: `[m, k]`, `b`: `[k, n]` → `[m, n]`.
pub fn matmul(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let ([m, k], [_, n]) = (a.dims(), b.dims());
    tally::count([m, k, n]);
    matmul_untallied(a, b)
}

/// `a·b` without counting it: for a product that is part of an operation counted as a whole
/// (a convolution's pass on unfolded patches, `net/conv2d.rs`).
///
/// # Shapes
/// `a`: `[m, k]`, `b`: `[k, n]` → `[m, n]`.
pub(crate) fn matmul_untallied(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    #[cfg(feature = "flex")]
    if let Some(product) = flex::product(&a, &b) {
        return product;
    }
    a.matmul(b)
}

/// What the products of a stretch of training were: their FLOPs (counted always, one relaxed
/// atomic add per product) and, while [`tally::record`] runs, the operations themselves. A
/// convolution's pass counts as the product it amounts to (`[batch·oh·ow, in·kh·kw, out]`
/// and its transposes) but is recorded as the convolution, so the benchmark's ceiling times
/// it as it runs (directly, or on unfolded patches).
pub mod tally {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use crate::net::shape::ConvGeometry;

    static FLOPS: AtomicU64 = AtomicU64::new(0);
    static RECORDING: AtomicBool = AtomicBool::new(false);
    static OPS: Mutex<Vec<Op>> = Mutex::new(Vec::new());

    /// One operation a step ran, as the tally records it (`bench::StepBench::step_products`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Op {
        /// A `[m, k] · [k, n]` product.
        Matmul([usize; 3]),
        /// One pass of a convolution of `geometry` over `batch` samples.
        Conv {
            /// The convolution's geometry.
            geometry: ConvGeometry,
            /// Samples.
            batch: usize,
            /// Which pass.
            pass: ConvPass,
        },
    }

    /// A convolution's three passes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ConvPass {
        /// `z = W ⋆ x + b`.
        Forward,
        /// `∂L/∂W` and `∂L/∂b` from the input and the output gradient.
        Weight,
        /// `∂L/∂x` from the output gradient and the kernels.
        Input,
    }

    impl Op {
        /// Its floating-point operations: `2·m·k·n` (a convolution's pass as its product).
        pub fn flops(&self) -> u64 {
            let [m, k, n] = match *self {
                Op::Matmul(shape) => shape,
                Op::Conv {
                    geometry, batch, ..
                } => {
                    let [out, oh, ow] = geometry.output().unwrap_or([0; 3]);
                    [batch * oh * ow, geometry.weight_dims()[1], out]
                }
            };
            2 * (m * k * n) as u64
        }
    }

    /// Counts one `[m, k] · [k, n]` product: `2·m·k·n` FLOPs.
    pub fn count(shape: [usize; 3]) {
        count_op(Op::Matmul(shape));
    }

    /// Counts one pass of a convolution of `geometry` over `batch` samples.
    pub fn count_conv(geometry: ConvGeometry, batch: usize, pass: ConvPass) {
        count_op(Op::Conv {
            geometry,
            batch,
            pass,
        });
    }

    fn count_op(op: Op) {
        FLOPS.fetch_add(op.flops(), Ordering::Relaxed);
        if RECORDING.load(Ordering::Relaxed)
            && let Ok(mut ops) = OPS.lock()
        {
            ops.push(op);
        }
    }

    /// FLOPs of every product counted so far, by any thread.
    pub fn flops() -> u64 {
        FLOPS.load(Ordering::Relaxed)
    }

    /// Runs `f` and returns, with its result, the operations it ran (in order; concurrent
    /// products of other threads would be listed too, so call it with nothing else training).
    pub fn record<T>(f: impl FnOnce() -> T) -> (T, Vec<Op>) {
        if let Ok(mut ops) = OPS.lock() {
            ops.clear();
        }
        RECORDING.store(true, Ordering::SeqCst);
        let result = f();
        RECORDING.store(false, Ordering::SeqCst);
        let ops = OPS.lock().map(|mut s| std::mem::take(&mut *s));
        (result, ops.unwrap_or_default())
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

/// Runs `f` on a worker thread of the current Rayon pool (the global pool when called from
/// outside every pool; directly when already on a worker). A training step run from outside
/// the pool hands each of its parallel products to the pool's threads and sleeps until they
/// end, a wake-up per product; run on a worker, it takes a share of each product itself and
/// the others steal the rest (Fashion-MNIST MLP, backprop, batch 128, 2 cores: about 13 %
/// more samples per second, median of four alternating rounds). While `f` runs, the pool's
/// other threads look for work instead of sleeping between its parallel parts ([`with_keeper`]:
/// a backprop step woke a sleeping thread for each product; 2-core Xeon, own bench, two
/// alternating rounds: backprop 59,417 / 53,398 → 67,451 / 68,902 samples/s, TP 24,828 /
/// 23,151 → 29,082 / 29,164). The results are the same either way.
pub fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        with_keeper(f)
    }
}

/// `f` with the pool's other threads kept awake until it returns: each looks for work between
/// `f`'s parallel parts instead of going to sleep and being woken for the next one.
fn with_keeper<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use std::sync::atomic::{AtomicBool, Ordering};
    let done = AtomicBool::new(false);
    let keepers = rayon::current_num_threads().saturating_sub(1);
    rayon::scope(|scope| {
        for _ in 0..keepers {
            scope.spawn(|_| {
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::hint::spin_loop();
                    }
                }
            });
        }
        let result = f();
        done.store(true, Ordering::Release);
        result
    })
}

thread_local! {
    /// Whether products on this thread stay on it.
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `f` with this thread's products kept on it (for work that runs one part per core).
pub(crate) fn serial<R>(f: impl FnOnce() -> R) -> R {
    let before = SERIAL.replace(true);
    let result = f();
    SERIAL.set(before);
    result
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::Flex;
    use burn::tensor::{DType, Tensor, TensorData};
    use rayon::prelude::*;

    /// Products below this many multiply-adds run on one thread: waking the other costs
    /// more than it saves (flex's own threshold).
    const PARALLEL_MIN: usize = 192 * 192 * 192;

    /// The inner dimension's chunk in products with a small output and a long inner
    /// dimension ([`long_inner`]).
    const INNER_CHUNK: usize = 8192;

    /// Inner dimensions from which a small product of operands contiguous along it runs as
    /// dot products ([`dot_chunk`]).
    const DOTS_MIN: usize = 2048;

    /// Outputs of at most this many entries count as small for [`long_inner`].
    const SMALL_OUTPUT: usize = 64 * 1024;

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

        /// The buffer from the view's first element on.
        fn storage(&self) -> &[f32] {
            &self.tensor.storage::<f32>()[self.tensor.layout().start_offset()..]
        }

        fn ptr(&self) -> *const f32 {
            self.storage().as_ptr()
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
        let serial = super::SERIAL.get();
        // Inner dimension contiguous in both operands (`δ·Pᵀ`): dot products, not gemm.
        let dots = lhs.col_stride == 1
            && rhs.row_stride == 1
            && lhs.row_stride > 0
            && rhs.col_stride > 0
            && k >= DOTS_MIN
            && super::dots::available();
        let out = if (k >= 2 * INNER_CHUNK || dots) && m * n <= SMALL_OUTPUT {
            long_inner(&lhs, &rhs, [m, k, n], serial, dots)
        } else {
            let parallel = m * n * k >= PARALLEL_MIN && !serial;
            // SAFETY: the views keep both buffers alive and describe `m × k` and `k × n`
            // matrices inside them.
            unsafe { gemm_into(&lhs, &rhs, [m, k, n], 0, parallel) }
        };
        Some(Tensor::from_data(TensorData::new(out, [m, n]), &a.device()))
    }

    /// `a·b` over inner indices `start..start + k` (`[m, k, n]`), by `gemm`, into a new
    /// row-major `m × n` buffer; split over the pool's threads when `parallel`
    /// ([`split_tiles`]).
    ///
    /// # Safety
    /// `lhs` and `rhs` must hold `m × (start + k)` and `(start + k) × n` matrices.
    unsafe fn gemm_into(
        lhs: &View,
        rhs: &View,
        [m, k, n]: [usize; 3],
        start: usize,
        parallel: bool,
    ) -> Vec<f32> {
        // Not zeroed: with `read_dst = false` gemm writes every entry without reading any.
        let mut out = Vec::<f32>::with_capacity(m * n);
        let tile = Tile {
            out: OutPtr(out.as_mut_ptr()),
            out_cols: n,
            rows: 0..m,
            cols: 0..n,
        };
        let levels = if parallel {
            rayon::current_num_threads()
                .next_power_of_two()
                .trailing_zeros()
        } else {
            0
        };
        // SAFETY: the caller vouches for the operands; the tile is the whole of `out`, which
        // has room for `m × n` entries, all of which the tiles write before `set_len`.
        unsafe {
            split_tiles(lhs, rhs, tile, [start, k], levels);
            out.set_len(m * n);
        }
        out
    }

    /// A row-major output buffer shared by the tiles of one product, each writing its own
    /// entries.
    #[derive(Clone, Copy)]
    struct OutPtr(*mut f32);
    // SAFETY: the tiles of a product write disjoint entries of the buffer, which outlives
    // them (`gemm_into` joins every tile before it returns).
    unsafe impl Send for OutPtr {}
    unsafe impl Sync for OutPtr {}

    /// A block of a product's output: rows `rows` and columns `cols` of an `_ × out_cols`
    /// row-major buffer.
    struct Tile {
        out: OutPtr,
        out_cols: usize,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
    }

    impl Tile {
        /// The tile in two: its first `at` columns (`along_cols`) or rows, and the rest.
        fn cut(self, at: usize, along_cols: bool) -> (Tile, Tile) {
            let mut first = Tile {
                rows: self.rows.clone(),
                cols: self.cols.clone(),
                ..self
            };
            let mut second = self;
            let (head, tail) = if along_cols {
                (&mut first.cols, &mut second.cols)
            } else {
                (&mut first.rows, &mut second.rows)
            };
            head.end = head.start + at;
            tail.start = head.end;
            (first, second)
        }
    }

    /// Whether `gemm` computes an `m × n` output over `k` along its general path, whose
    /// blocking of the inner dimension depends on `k` alone (`gemm_common::cache::
    /// kernel_params`): outputs of at most 64 × 64 or 16 × 16 entries, one row or column, and
    /// `k ≤ 2` take other paths that sum in other orders.
    fn general_path(m: usize, n: usize, k: usize) -> bool {
        k > 2 && m > 1 && n > 1 && m * n > 16 * 16 && (m > 64 || n > 64)
    }

    /// The tile's output by `gemm` on one thread each, after cutting it in two along its
    /// longer side (on a multiple of 16) up to `levels` times, the halves run side by side
    /// by `rayon::join`, while both halves stay on `gemm`'s general path ([`general_path`])
    /// and the tile holds at least [`PARALLEL_MIN`] multiply-adds. Every entry is the same
    /// sum in the same order as in one product, so the bits do not depend on the number of
    /// threads. Why not `gemm`'s own threads: on a 2-core Xeon its products of a training
    /// step's shapes (batch 128, 300–784 units) ran at 108–153 GFLOP/s on both cores and
    /// 136–156 on one; cut in two halves, 235–274 (PyTorch's: 203–301).
    ///
    /// # Safety
    /// `lhs` and `rhs` must hold `_ × (start + k)` and `(start + k) × _` matrices covering
    /// the tile, and the tile must lie inside a buffer no other thread touches meanwhile.
    unsafe fn split_tiles(lhs: &View, rhs: &View, tile: Tile, [start, k]: [usize; 2], levels: u32) {
        let (m, n) = (tile.rows.len(), tile.cols.len());
        let along_cols = n >= m;
        let long = m.max(n);
        let mid = long.div_ceil(2).next_multiple_of(16).min(long);
        let halves_general = [mid, long - mid].into_iter().all(|half| {
            let (rows, cols) = if along_cols { (m, half) } else { (half, n) };
            general_path(rows, cols, k)
        });
        if levels == 0 || !halves_general || m * n * k < PARALLEL_MIN {
            // SAFETY: as the caller vouches.
            return unsafe { gemm_tile(lhs, rhs, &tile, [start, k]) };
        }
        let (first, second) = tile.cut(mid, along_cols);
        // SAFETY: the halves are disjoint parts of the caller's tile.
        rayon::join(
            || unsafe { split_tiles(lhs, rhs, first, [start, k], levels - 1) },
            || unsafe { split_tiles(lhs, rhs, second, [start, k], levels - 1) },
        );
    }

    /// The tile's output by `gemm` on this thread, over inner indices `start..start + k`.
    ///
    /// # Safety
    /// As [`split_tiles`].
    unsafe fn gemm_tile(lhs: &View, rhs: &View, tile: &Tile, [start, k]: [usize; 2]) {
        let (row, col, shift) = (
            tile.rows.start as isize,
            tile.cols.start as isize,
            start as isize,
        );
        // SAFETY: the caller vouches for the operands and the tile; the offsets stay inside
        // them; gemm writes every entry of the tile (`read_dst = false`, so `alpha` is unused).
        unsafe {
            gemm::gemm(
                tile.rows.len(),
                tile.cols.len(),
                k,
                tile.out
                    .0
                    .add(tile.rows.start * tile.out_cols + tile.cols.start),
                1,
                tile.out_cols as isize,
                false,
                lhs.ptr()
                    .offset(row * lhs.row_stride + shift * lhs.col_stride),
                lhs.col_stride,
                lhs.row_stride,
                rhs.ptr()
                    .offset(shift * rhs.row_stride + col * rhs.col_stride),
                rhs.col_stride,
                rhs.row_stride,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }

    /// `a·b` over inner indices `start..start + len` by [`super::dots::dot_products`], for
    /// operands that run contiguously along the inner dimension (`δ·Pᵀ`; `None` without
    /// AVX-512).
    fn dot_chunk(
        lhs: &View,
        rhs: &View,
        [m, len, n]: [usize; 3],
        start: usize,
    ) -> Option<Vec<f32>> {
        let (a, b) = (lhs.storage(), rhs.storage());
        let (a_stride, b_stride) = (lhs.row_stride as usize, rhs.col_stride as usize);
        super::dots::dot_products(&a[start..], a_stride, m, &b[start..], b_stride, n, len)
    }

    /// A product with a small output and a long inner dimension (a convolution's weight
    /// gradient, `δ·Pᵀ` over every position of the batch), which `gemm` would run on one
    /// thread: the inner dimension cut into fixed chunks of [`INNER_CHUNK`], their products
    /// run on the pool's threads and summed in chunk order, so the bits do not depend on the
    /// number of threads; with `dots` (operands contiguous along it) each chunk by
    /// [`dot_chunk`].
    fn long_inner(
        lhs: &View,
        rhs: &View,
        [m, k, n]: [usize; 3],
        serial: bool,
        dots: bool,
    ) -> Vec<f32> {
        let chunks: Vec<_> = (0..k).step_by(INNER_CHUNK).collect();
        let part = |&start: &usize| {
            let len = INNER_CHUNK.min(k - start);
            dots.then(|| dot_chunk(lhs, rhs, [m, len, n], start))
                .flatten()
                // SAFETY: `start + len ≤ k`, inside both operands.
                .unwrap_or_else(|| unsafe { gemm_into(lhs, rhs, [m, len, n], start, false) })
        };
        let parts: Vec<Vec<f32>> = if serial {
            chunks.iter().map(part).collect()
        } else {
            chunks.par_iter().map(part).collect()
        };
        let mut parts = parts.into_iter();
        let mut sum = parts.next().unwrap_or_else(|| vec![0.0; m * n]);
        for part in parts {
            sum.iter_mut().zip(&part).for_each(|(s, p)| *s += p);
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    //! The direct products against burn's `matmul`: the same bits, whatever the operands'
    //! layout, size (one thread or split over the cores) or the thread they run on; products
    //! split along a long inner dimension within rounding, and the same bits on any thread.

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
        let dims = [a.dims()[0], a.dims()[1], b.dims()[1]];
        assert_eq!(direct.dims(), [dims[0], dims[2]]);
        assert_bits(&host::values(&direct), &expected, dims, "on the cores");
        let (joined, _) = join(|| matmul(a.clone(), b.clone()), || ());
        assert_bits(&host::values(&joined), &expected, dims, "on one thread");
    }

    /// The same bits, or a line naming the product and its first entry that differs.
    fn assert_bits(got: &[f32], expected: &[f32], dims: [usize; 3], run: &str) {
        assert_eq!(got.len(), expected.len());
        let first = got
            .iter()
            .zip(expected)
            .position(|(g, e)| g.to_bits() != e.to_bits());
        if let Some(i) = first {
            panic!(
                "{dims:?} {run}: entry {i} is {} where burn's is {}",
                got[i], expected[i]
            );
        }
    }

    #[test]
    fn products_match_burns_matmul_for_every_layout() {
        let mut rng = Rng::new(3);
        // Small (one thread) and above the threshold where products split over the cores:
        // a training step's shapes (halves 128 × 160 and 128 × 144, or 160 and 140 rows);
        // halves that would leave gemm's general path (120 × 64: two 64 × 64 outputs, summed
        // in other chunks of k = 1000), so the product is not cut; a thin output cut along
        // its rows.
        for (m, k, n) in [
            (5, 7, 3),
            (128, 300, 64),
            (256, 200, 210),
            (128, 784, 300),
            (300, 128, 300),
            (120, 1000, 64),
            (2000, 600, 6),
        ] {
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
    fn long_inner_products_split_into_chunks_agree_with_one_product() {
        let mut rng = Rng::new(5);
        // A conv weight gradient's shape (δ·Pᵀ), the inner dimension not a multiple of the
        // chunk, and a transposed right operand as the patches are.
        let (m, k, n) = (6, 2 * 8192 + 1000, 25);
        let a = random(m, k, &mut rng);
        let b = random(n, k, &mut rng).transpose();
        let expected = host::values(&a.clone().matmul(b.clone()));
        let split = host::values(&matmul(a.clone(), b.clone()));
        assert_eq!(split.len(), m * n);
        for (s, e) in split.iter().zip(&expected) {
            // Sums of 17,384 products of unit normals: rounding differs by far less than this.
            assert!((s - e).abs() <= 1e-3 * e.abs().max(1.0), "{s} vs {e}");
        }
        let (serial, _) = join(|| matmul(a.clone(), b.clone()), || ());
        assert_eq!(host::values(&serial), split, "the same bits on one thread");
        // Chunks really are summed: a product of ones counts the inner dimension.
        let ones = matmul(
            Tensor::ones([2, k], &backend::device()),
            Tensor::ones([k, 3], &backend::device()),
        );
        assert_eq!(host::values(&ones), vec![k as f32; 6]);
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
    fn on_worker_returns_when_its_parallel_parts_and_the_keepers_end() {
        use rayon::prelude::*;
        let sum: u64 = on_worker(|| (0..10_000u64).into_par_iter().sum());
        assert_eq!(sum, 49_995_000);
        assert_eq!(on_worker(|| on_worker(|| 7)), 7);
    }

    #[test]
    fn join_runs_both_closures_and_keeps_their_results() {
        let (left, right) = join(|| 2 + 2, || "four");
        assert_eq!((left, right), (4, "four"));
    }
}
