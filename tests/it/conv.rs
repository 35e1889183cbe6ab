//! Convolutional nets: each spatial layer's forward against a loop written out and its backward
//! against burn's autodiff; conv blocks whole; feedback alignment with `B = W` on kernels is
//! backprop; the model description; every rule that trains conv nets learns on digits' 8×8
//! images; the rules that cannot are refused by name; weights saved in PyTorch's layouts.

use plasticity::activation::Activation;
use plasticity::backend;
use plasticity::experiment::{ExperimentConfig, RunOptions, train};
use plasticity::loss::Loss;
use plasticity::net::weights::WeightsFile;
use plasticity::net::{
    AvgPool, BatchNorm, Block, BlockSpec, Conv2d, ConvGeometry, ConvSpec, Flatten, Init, Layer,
    MaxPool, Mode, Net, Pool, PoolGeometry, PoolKind, SpatialDropout,
};
use plasticity::rng::Rng;
use plasticity::task::Problem;

use crate::host;
use crate::layers::{check_block, check_layer};
use crate::rules::{assert_same, backprop_rule, batch, grads, settings, task_for};

fn geometry(
    input: [usize; 3],
    channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> ConvGeometry {
    ConvGeometry {
        input,
        channels,
        kernel,
        stride,
        padding,
    }
}

fn conv(g: ConvGeometry, seed: u64) -> Conv2d {
    Conv2d::new(
        g,
        Init::Lecun,
        None,
        &mut Rng::new(seed),
        &backend::device(),
    )
    .unwrap()
}

/// The convolution written out: `z[b, o, i, j] = bias[o] + Σ_{c, u, v} W[o, c, u, v] ·
/// x[b, c, i·s + u − p, j·s + v − p]` (zero outside the image).
fn direct_conv(layer: &Conv2d, x: &[f32], batch: usize) -> Vec<f32> {
    let g = layer.geometry();
    let [c_in, h, w] = g.input;
    let [out, oh, ow] = layer.output_volume();
    let (weight, bias) = (host::values(&layer.weight), host::values(&layer.bias));
    let k = g.kernel;
    let mut z = vec![0.0; batch * out * oh * ow];
    for b in 0..batch {
        for o in 0..out {
            for i in 0..oh {
                for j in 0..ow {
                    let mut sum = bias[o];
                    for c in 0..c_in {
                        for u in 0..k {
                            for v in 0..k {
                                let (r, q) = (
                                    (i * g.stride + u) as isize - g.padding as isize,
                                    (j * g.stride + v) as isize - g.padding as isize,
                                );
                                if r < 0 || q < 0 || r >= h as isize || q >= w as isize {
                                    continue;
                                }
                                let pixel = x[((b * c_in + c) * h + r as usize) * w + q as usize];
                                sum += weight[((o * c_in + c) * k + u) * k + v] * pixel;
                            }
                        }
                    }
                    z[((b * out + o) * oh + i) * ow + j] = sum;
                }
            }
        }
    }
    z
}

#[test]
fn conv_forward_is_the_correlation_written_out() {
    let device = backend::device();
    for g in [
        geometry([2, 5, 6], 3, 3, 1, 1),
        geometry([2, 7, 6], 4, 3, 2, 1),
        geometry([1, 8, 8], 2, 5, 1, 0),
        geometry([3, 6, 5], 2, 2, 3, 2),
        // Stride 1 rows wider than a 16-lane register, channels past a tile of 4.
        geometry([2, 4, 19], 5, 3, 1, 1),
    ] {
        let layer = conv(g, 4);
        let batch = 3;
        let x = Rng::new(9).normal_vec(batch * g.input.iter().product::<usize>(), 0.0, 1.0);
        let got =
            host::values(&layer.forward(host::matrix(x.clone(), batch, x.len() / batch, &device)));
        let want = direct_conv(&layer, &x, batch);
        assert_eq!(got.len(), want.len(), "{g}");
        for (k, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!((a - b).abs() < 1e-4, "{g}: [{k}] {a} vs {b}");
        }
    }
}

#[test]
fn every_spatial_layer_matches_autodiff() {
    let device = backend::device();
    // Strides that leave rows over ((7 + 2 − 3) mod 2 = 0, (6 + 2 − 3) mod 2 = 1), padding.
    for (g, seed) in [
        (geometry([2, 5, 6], 3, 3, 1, 1), 1),
        (geometry([2, 7, 6], 4, 3, 2, 1), 2),
        (geometry([3, 6, 5], 2, 2, 3, 2), 3),
        (geometry([2, 4, 19], 5, 3, 1, 1), 4),
    ] {
        let layer = conv(g, seed);
        let [o, oh, ow] = layer.output_volume();
        let n = g.input.iter().product::<usize>();
        let checked = check_layer(&layer, n, 4, seed);
        assert_eq!(
            checked,
            4 * n + o * g.input[0] * g.kernel * g.kernel + o,
            "{g}"
        );
        assert!(oh * ow > 0);
    }
    for (size, stride) in [(2, 2), (3, 2), (2, 1)] {
        let pool = PoolGeometry {
            input: [3, 6, 7],
            size,
            stride,
        };
        assert_eq!(
            check_layer(&MaxPool::new(pool).unwrap(), 126, 4, 5),
            4 * 126
        );
        assert_eq!(
            check_layer(&AvgPool::new(pool).unwrap(), 126, 4, 6),
            4 * 126
        );
    }
    // A window of more than 64 cells (the host pool's per-cell mask) goes cell by cell.
    let wide = PoolGeometry {
        input: [2, 10, 10],
        size: 9,
        stride: 1,
    };
    assert_eq!(
        check_layer(&MaxPool::new(wide).unwrap(), 200, 3, 9),
        3 * 200
    );
    let mut bn = BatchNorm::spatial(3, 20, true, &device);
    bn.gamma = host::matrix(vec![0.5, 1.5, -1.0], 1, 3, &device);
    bn.beta = host::matrix(vec![0.1, -0.2, 0.3], 1, 3, &device);
    assert_eq!(check_layer(&bn, 60, 5, 7), 5 * 60 + 3 + 3);
    assert_eq!(
        check_layer(&BatchNorm::spatial(3, 20, false, &device), 60, 5, 8),
        5 * 60
    );
    let dropout = SpatialDropout {
        rate: 0.4,
        channels: 3,
        positions: 20,
    };
    assert_eq!(check_layer(&dropout, 60, 5, 9), 5 * 60);
    assert_eq!(
        check_layer(&Flatten { input: [3, 4, 5] }, 60, 5, 10),
        5 * 60
    );
}

#[test]
fn spatial_batchnorm_and_dropout_act_per_channel() {
    let device = backend::device();
    let bn = BatchNorm::spatial(2, 4, false, &device);
    let x = Rng::new(1).normal_vec(3 * 8, 2.0, 3.0);
    let cache = bn.forward(
        host::matrix(x, 3, 8, &device),
        &mut Mode::Train(&mut Rng::new(0)),
    );
    let y = host::values(&cache.output);
    for c in 0..2 {
        let cells: Vec<f32> = (0..3)
            .flat_map(|b| (0..4).map(move |p| (b, p)))
            .map(|(b, p)| y[b * 8 + c * 4 + p])
            .collect();
        let mean = cells.iter().sum::<f32>() / 12.0;
        let var = cells.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 12.0;
        assert!(
            mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3,
            "channel {c}: {mean} {var}"
        );
    }
    let dropout = SpatialDropout {
        rate: 0.5,
        channels: 6,
        positions: 9,
    };
    let ones = host::matrix(vec![1.0; 20 * 54], 20, 54, &device);
    let out = host::values(
        &dropout
            .forward(ones, &mut Mode::Train(&mut Rng::new(2)))
            .output,
    );
    let mut dropped = 0;
    for chunk in out.chunks(9) {
        assert!(
            chunk.iter().all(|v| *v == chunk[0]),
            "a channel is dropped whole: {chunk:?}"
        );
        dropped += usize::from(chunk[0] == 0.0);
    }
    assert!(
        (40..=80).contains(&dropped),
        "{dropped} of 120 channels dropped"
    );
}

/// A conv block with every layer kind around the convolution.
fn conv_block(pool: PoolKind, seed: u64) -> Block {
    let g = geometry([2, 6, 6], 3, 3, 1, 1);
    let pool = Pool {
        kind: pool,
        size: 2,
        stride: 2,
    };
    let mut spec = BlockSpec::convolution(
        ConvSpec::new(g, Some(pool), true, true).unwrap(),
        Activation::Tanh,
    );
    spec.dropout = 0.3;
    spec.batchnorm = true;
    Block::new(
        spec,
        Init::Lecun,
        None,
        &mut Rng::new(seed),
        &backend::device(),
    )
}

#[test]
fn whole_conv_blocks_match_autodiff() {
    for (kind, seed) in [(PoolKind::Max, 1), (PoolKind::Avg, 2)] {
        let block = conv_block(kind, seed);
        let names: Vec<&str> = block.layers().iter().map(|l| l.name()).collect();
        let pool = if kind == PoolKind::Max {
            "max_pool"
        } else {
            "avg_pool"
        };
        assert_eq!(
            names,
            [
                "spatial_dropout",
                "conv",
                "batchnorm",
                "activation",
                pool,
                "flatten"
            ]
        );
        assert_eq!(block.spec().outputs, 3 * 3 * 3);
        assert_eq!(
            check_block(&block, 4, seed),
            4 * 72 + (3 * 18 + 3) + (3 + 3)
        );
    }
}

/// LeNet-like on 8×8 images: two conv blocks, then linear ones.
fn small_conv_net(seed: u64) -> Net {
    let first = ConvSpec::new(
        geometry([1, 8, 8], 3, 3, 1, 1),
        Some(Pool {
            kind: PoolKind::Max,
            size: 2,
            stride: 2,
        }),
        false,
        false,
    )
    .unwrap();
    let second = ConvSpec::new(geometry([3, 4, 4], 4, 3, 1, 0), None, false, true).unwrap();
    let mut specs = vec![
        BlockSpec::convolution(first, Activation::Tanh),
        BlockSpec::convolution(second, Activation::Tanh),
        BlockSpec::dense(16, 5, Activation::Tanh),
        BlockSpec::dense(5, 3, Activation::Identity),
    ];
    specs[1].batchnorm = true;
    Net::new(
        specs,
        Init::Lecun,
        None,
        &mut Rng::new(seed),
        &backend::device(),
    )
}

#[test]
fn feedback_alignment_with_kernels_equal_to_w_is_backprop_on_a_conv_net() {
    let net = small_conv_net(3);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 6, 4);
    let mut fa = plasticity::rule::build(
        &settings(vec!["feedback_alignment"; 4]),
        &net,
        task,
        &mut Rng::new(5),
    )
    .unwrap();
    for j in 1..4 {
        let w = net.blocks[j].weight().clone();
        fa.visit_mut(&mut |name, _, t| {
            if name == format!("feedback.{j}.weight") {
                *t = w.clone();
            }
        });
    }
    let synced = grads(fa.as_mut(), &net, &batch, task);
    let reference = grads(backprop_rule(&net, task).as_mut(), &net, &batch, task);
    let names = [
        "blocks.0.conv.weight",
        "blocks.0.conv.bias",
        "blocks.1.conv.weight",
        "blocks.1.batchnorm.weight",
        "blocks.2.linear.weight",
    ];
    assert_same(&synced, &reference, &names);
}

fn digits_conv(rule: &str, extra: &[&str]) -> (ExperimentConfig, tempfile::TempDir) {
    let mut overrides: Vec<String> = [
        "name=c",
        "data.dataset=digits",
        "model.arch=8c3p1-mp2-16c3-32",
        "model.activation=relu",
        "train.epochs=4",
        "train.batch_size=32",
        "train.lr=0.003",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    overrides.push(format!("train.rule={rule}"));
    overrides.extend(extra.iter().map(|s| s.to_string()));
    (
        ExperimentConfig::load(None, &overrides).unwrap(),
        tempfile::tempdir().unwrap(),
    )
}

#[test]
fn every_rule_that_trains_conv_nets_learns_digits_images() {
    let cases: [(&str, &[&str], f64); 8] = [
        ("backprop", &[], 0.9),
        ("feedback_alignment", &[], 0.8),
        ("feedback_alignment", &["train.feedback=usf"], 0.9),
        ("feedback_alignment", &["train.feedback=brsf"], 0.85),
        ("feedback_alignment", &["train.feedback=frsf"], 0.85),
        ("dfa", &[], 0.8),
        ("drtp", &["model.activation=tanh", "train.epochs=12"], 0.75),
        ("local_loss", &[], 0.8),
    ];
    for (rule, extra, bar) in cases {
        let (config, dir) = digits_conv(rule, extra);
        let options = RunOptions {
            out: dir.path().to_path_buf(),
            ..RunOptions::default()
        };
        let summary = train(&config, &options).unwrap();
        let accuracy = summary.test_accuracy.unwrap();
        eprintln!("{rule} {extra:?}: {accuracy}");
        assert!(accuracy >= bar, "{rule} {extra:?}: {accuracy} < {bar}");
    }
    let (config, dir) = digits_conv("linear_decoder", &[]);
    let options = RunOptions {
        out: dir.path().to_path_buf(),
        ..RunOptions::default()
    };
    let summary = train(&config, &options).unwrap();
    assert!(summary.test_accuracy.unwrap() >= 0.8, "{summary:?}");
}

#[test]
fn weights_are_saved_in_pytorch_layouts_and_read_back() {
    let (config, dir) = digits_conv("feedback_alignment", &["train.epochs=1"]);
    let options = RunOptions {
        out: dir.path().to_path_buf(),
        ..RunOptions::default()
    };
    let summary = train(&config, &options).unwrap();
    let file = dir.path().join("c/weights.safetensors");
    let weights = WeightsFile::read(&file).unwrap();
    let shape = |name: &str| weights.shape(name).unwrap_or_else(|| panic!("{name}"));
    assert_eq!(shape("blocks.0.conv.weight"), [8, 1, 3, 3]);
    assert_eq!(shape("blocks.0.conv.bias"), [8]);
    assert_eq!(shape("blocks.1.conv.weight"), [16, 8, 3, 3]);
    assert_eq!(shape("feedback.1.weight"), [16, 8, 3, 3]);
    assert_eq!(shape("blocks.2.linear.weight"), [32, 16 * 2 * 2]);
    let again = plasticity::experiment::evaluate_weights(
        &config,
        &file,
        plasticity::experiment::Split::Test,
    )
    .unwrap();
    assert!(
        (again.accuracy.unwrap() - summary.test_accuracy.unwrap()).abs() < 1e-9,
        "{again:?}"
    );
}

#[test]
fn the_model_description_gives_pytorch_shapes_and_names_what_does_not_fit() {
    let lenet = ExperimentConfig::load(
        None,
        &[
            "data.dataset=fashion_mnist".into(),
            "model.arch=6c5p2-mp2-16c5-mp2-120-84".into(),
            "model.activation=relu".into(),
        ],
    )
    .unwrap();
    let specs = lenet.block_specs_on(784, Some([1, 28, 28]), 10).unwrap();
    let volumes: Vec<[usize; 3]> = specs
        .iter()
        .filter_map(|s| s.conv.map(|c| c.output()))
        .collect();
    assert_eq!(volumes, [[6, 14, 14], [16, 5, 5]]);
    assert_eq!(specs[2].inputs, 400);
    let listed = ExperimentConfig::load(
        None,
        &["data.dataset=fashion_mnist".into(), "model.layers=[\"conv:6:5:p2\", \"relu\", \"max_pool:2\", \"conv:16:5\", \"relu\", \"max_pool:2\", \"flatten\", \"linear:120\", \"relu\", \"linear:84\", \"relu\", \"linear\"]".into()],
    )
    .unwrap();
    assert_eq!(
        listed.block_specs_on(784, Some([1, 28, 28]), 10).unwrap(),
        specs
    );
    let error = |overrides: &[&str]| {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        ExperimentConfig::load(None, &overrides)
            .unwrap_err()
            .to_string()
    };
    let cases: [(&[&str], &str); 5] = [
        (
            &["data.dataset=iris", "model.arch=4c3-16"],
            "block 0 is a convolution, but data.dataset `iris` has flat samples",
        ),
        (
            &["data.dataset=digits", "model.arch=4c9-16"],
            "a 9×9 kernel with padding 0 does not fit a 1×8×8 input",
        ),
        (
            &["data.dataset=digits", "model.arch=4c3-mp8-16"],
            "a 8×8 pooling window does not fit a 4×6×6 input",
        ),
        (
            &[
                "data.dataset=digits",
                "model.arch=4c3-16",
                "train.rule=target_prop",
            ],
            "target_prop trains fully connected blocks only, and block 0 is a convolution (conv 1→4 3×3)",
        ),
        (
            &[
                "data.dataset=digits",
                "model.arch=4c3-16",
                "train.rule=forward_forward",
            ],
            "forward_forward trains fully connected blocks only",
        ),
    ];
    for (overrides, want) in cases {
        let message = error(overrides);
        assert!(message.contains(want), "{overrides:?}: {message}");
    }
}

#[test]
fn csv_rows_become_images_with_data_image_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("images.csv");
    let mut text = String::new();
    let mut rng = Rng::new(3);
    for row in 0..60 {
        let label = row % 2;
        let pixels: Vec<String> = (0..16)
            .map(|p| {
                format!(
                    "{:.3}",
                    rng.uniform()
                        + if (p % 4 < 2) == (label == 0) {
                            1.0
                        } else {
                            0.0
                        }
                )
            })
            .collect();
        text.push_str(&format!("{},{label}\n", pixels.join(",")));
    }
    std::fs::write(&path, text).unwrap();
    let dataset = format!("data.dataset=csv:{}", path.display());
    let load = |shape: &str| {
        let overrides = vec![
            dataset.clone(),
            format!("data.image_shape={shape}"),
            "model.arch=2c3p1-4".into(),
            "train.epochs=1".into(),
        ];
        ExperimentConfig::load(None, &overrides)
    };
    let config = load("[1, 4, 4]").unwrap();
    let data = plasticity::data::load(&config.data).unwrap();
    assert_eq!(data.volume(), Some([1, 4, 4]));
    let options = RunOptions {
        out: dir.path().to_path_buf(),
        ..RunOptions::default()
    };
    assert!(train(&config, &options).is_ok());
    let wrong = load("[1, 4, 5]").unwrap();
    let message = plasticity::data::load(&wrong.data).unwrap_err().to_string();
    assert!(
        message.contains("`data.image_shape`: [1, 4, 5] is 20 values per sample"),
        "{message}"
    );
    let bad = load("[4, 4]").unwrap_err().to_string();
    assert!(bad.contains("is not [channels, height, width]"), "{bad}");
}

#[test]
fn diagnostics_cover_conv_blocks() {
    for rule in ["feedback_alignment", "dfa"] {
        let (config, dir) = digits_conv(rule, &["train.epochs=1", "train.align_every=10"]);
        let options = RunOptions {
            out: dir.path().to_path_buf(),
            ..RunOptions::default()
        };
        train(&config, &options).unwrap();
        let metrics = std::fs::read_to_string(dir.path().join("c/metrics.jsonl")).unwrap();
        let last: serde_json::Value =
            serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
        for block in 0..2 {
            let grad = last["mean_abs_grad"][block].as_f64();
            assert!(
                grad.is_some_and(|g| g > 0.0),
                "{rule} block {block}: {last}"
            );
            let angle = last["alignment"]["grad_angle"][block].as_f64();
            assert!(
                angle.is_some_and(|a| (0.0..=180.0).contains(&a)),
                "{rule} block {block}: {last}"
            );
        }
        let kernel_angle = last["alignment"]["weight_angle"][1].as_f64();
        assert!(
            kernel_angle.is_some_and(|a| (0.0..=180.0).contains(&a)),
            "{rule}: {last}"
        );
        if rule == "dfa" {
            // The first block's error path runs through a convolution: no matrix to compare.
            assert!(last["alignment"]["weight_angle"][0].is_null(), "{last}");
        }
    }
}

#[test]
fn augmented_runs_are_reproducible_and_differ_from_plain_ones() {
    let run = |extra: &[&str]| {
        let (config, dir) = digits_conv("backprop", extra);
        let options = RunOptions {
            out: dir.path().to_path_buf(),
            ..RunOptions::default()
        };
        let summary = train(&config, &options).unwrap();
        let weights = std::fs::read(dir.path().join("c/weights.safetensors")).unwrap();
        (summary.test_accuracy.unwrap(), weights)
    };
    let augmented = [
        "train.epochs=2",
        "data.augment_crop=1",
        "data.augment_flip=true",
    ];
    let (first, again, plain) = (run(&augmented), run(&augmented), run(&["train.epochs=2"]));
    assert_eq!(first.1, again.1, "the same seed augments alike");
    assert_ne!(first.1, plain.1, "augmentation changes what the net sees");
    // Digits are not mirror-symmetric: shifts alone, over the usual 4 epochs, still learn.
    let shifted = run(&["data.augment_crop=1"]).0;
    assert!(shifted > 0.8, "{shifted}");
    let flat = ExperimentConfig::load(
        None,
        &["data.dataset=iris".into(), "data.augment_flip=true".into()],
    )
    .unwrap_err()
    .to_string();
    assert!(
        flat.contains("config `data.augment_flip`: augmentation crops and flips images"),
        "{flat}"
    );
}
