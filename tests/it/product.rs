//! The direct matrix products against burn's `matmul`: the same bits, whatever the operands'
//! layout, size (one thread or split over the cores) or the thread they run on.

use burn::tensor::Tensor;
use plasticity::backend;
use plasticity::host;
use plasticity::product;
use plasticity::rng::Rng;

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
    let direct = product::matmul(a.clone(), b.clone());
    assert_eq!(direct.dims(), [a.dims()[0], b.dims()[1]]);
    assert_eq!(host::values(&direct), expected);
    let (joined, _) = product::join(|| product::matmul(a.clone(), b.clone()), || ());
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
    let product = product::matmul(a, b);
    assert_eq!(product.dims(), [3, 2]);
    assert_eq!(host::values(&product), vec![0.0; 6]);
}

#[test]
fn join_runs_both_closures_and_keeps_their_results() {
    let (left, right) = product::join(|| 2 + 2, || "four");
    assert_eq!((left, right), (4, "four"));
}
