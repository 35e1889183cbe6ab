//! Bad input, tried as a new user would: every case exits 2 (bad input) with one line naming
//! the file or key at fault — never a panic, a second line or a silent run. With
//! `PLASTICITY_CASE_TABLE=<file>` the cases and their messages are written there as a
//! Markdown table.

use std::path::Path;

use crate::{plasticity, write};

/// One case: what it tries, the command line (`{d}` is the fixtures' directory), and a piece
/// of the one-line message it must get.
struct Case {
    what: &'static str,
    args: &'static [&'static str],
    expect: &'static str,
}

const fn case(what: &'static str, args: &'static [&'static str], expect: &'static str) -> Case {
    Case { what, args, expect }
}

/// `plasticity train --set key=value …` (each `value` a `key=value` item).
macro_rules! set {
    ($what:expr, [$($item:expr),+], $expect:expr) => {
        case($what, &["train", "-q", "--out", "{d}/runs", $("--set", $item),+], $expect)
    };
}

const CASES: &[Case] = &[
    // Numeric settings.
    set!(
        "zero epochs",
        ["train.epochs=0"],
        "config `train.epochs`: must be at least 1"
    ),
    set!(
        "absurd epochs",
        ["train.epochs=100000000"],
        "config `train.epochs`: 100000000 is more than the 1000000"
    ),
    set!(
        "zero batch",
        ["train.batch_size=0"],
        "config `train.batch_size`: must be at least 1"
    ),
    set!(
        "NaN rate",
        ["train.lr=nan"],
        "config `train.lr`: NaN is not a positive number"
    ),
    set!(
        "negative rate",
        ["train.lr=-1"],
        "config `train.lr`: -1 is not a positive number"
    ),
    set!(
        "infinite rate",
        ["train.lr=inf"],
        "config `train.lr`: inf is not a positive number"
    ),
    set!(
        "momentum above 1",
        ["train.momentum=1.5"],
        "config `train.momentum`: 1.5 is not a number in [0, 1)"
    ),
    set!(
        "negative decay",
        ["train.weight_decay=-0.1"],
        "config `train.weight_decay`: -0.1 is not a non-negative number"
    ),
    set!(
        "zero gamma",
        ["train.gamma=0"],
        "config `train.gamma`: 0 is not a number in (0, 1]"
    ),
    set!(
        "floor above rate",
        ["train.min_lr=1"],
        "config `train.min_lr`: 1 is above the learning rate 0.001"
    ),
    set!(
        "absurd threads",
        ["train.threads=100000"],
        "config `train.threads`: 100000 is more than the 4096"
    ),
    set!(
        "zero-width layer",
        ["model.hidden=[0]"],
        "config `model.hidden`: a layer cannot have 0 units"
    ),
    set!(
        "negative width",
        ["model.hidden=[-5]"],
        "config `model.hidden[0]`: invalid value: integer `-5`"
    ),
    set!(
        "width beyond memory",
        ["model.hidden=[100000000000]"],
        "config `model.hidden`: the network's weights would need about"
    ),
    set!(
        "width beyond counting",
        ["model.hidden=[4000000000000000000]"],
        "config `model.hidden`: the network's weights would need more bytes than a 64-bit count holds"
    ),
    set!(
        "dropout of 1",
        ["model.dropout=1.0"],
        "config `model.dropout`"
    ),
    set!(
        "NaN dropout",
        ["model.dropout=nan"],
        "config `model.dropout`"
    ),
    set!(
        "negative temperature",
        ["model.temperature=-1"],
        "config `model.temperature`: -1 is not a positive number"
    ),
    set!(
        "zero init scale",
        ["model.init_scale=0"],
        "config `model.init_scale`: 0 is not a positive number"
    ),
    set!(
        "infinite feedback scale",
        ["train.feedback_scale=inf"],
        "config `train.feedback_scale`: inf is not a positive number"
    ),
    set!(
        "zero FF sharpness",
        ["train.ff_sharpness=0"],
        "config `train.ff_sharpness`: 0 is not a positive number"
    ),
    set!(
        "validation fraction 1.5",
        ["data.validation_fraction=1.5"],
        "config `data.validation_fraction`: 1.5 is not in [0, 1)"
    ),
    set!(
        "negative test fraction",
        ["data.test_fraction=-0.1"],
        "config `data.test_fraction`: -0.1 is not in [0, 1)"
    ),
    set!(
        "fractions leave no rows",
        ["data.validation_fraction=0.5", "data.test_fraction=0.6"],
        "config `data.test_fraction`: 0.6 with data.validation_fraction 0.5 leaves no training rows"
    ),
    set!(
        "negative noise",
        ["data.dataset=moons", "data.noise=-1"],
        "config `data.noise`: -1 is not a non-negative number"
    ),
    set!(
        "absurd sample count",
        ["data.dataset=moons", "data.samples=1000000000000"],
        "config `data.samples`: 1000000000000 is more than the 100000000"
    ),
    set!(
        "one class",
        ["data.classes=1"],
        "config `data.classes`: 1 is not between 2 and 100000"
    ),
    set!(
        "zero training limit",
        ["data.train_limit=0"],
        "config `data.train_limit`: must be at least 1"
    ),
    set!(
        "zero examples fraction",
        ["data.examples_frac=0"],
        "config `data.examples_frac`: 0 is not a fraction in (0, 1]"
    ),
    set!(
        "examples fraction above one",
        ["data.examples_frac=1.5"],
        "config `data.examples_frac`: 1.5 is not a fraction in (0, 1]"
    ),
    set!(
        "categorical groups that do not tile the block",
        ["model.hidden=[30]", "model.activation=\"categorical:4\""],
        "config `model.activation`: categorical:4 groups units in 4s, but block 0 has 30 units"
    ),
    set!(
        "fractional categorical group",
        ["model.activation=\"categorical:1.5\""],
        "config `model.activation`: categorical:1.5: a group needs a whole number"
    ),
    set!(
        "non-positive clipping ceiling",
        ["model.activation=\"clipped_relu:-1\""],
        "config `model.activation`: clipped_relu:-1: the ceiling must be positive"
    ),
    set!(
        "zero noise level",
        ["model.activation=\"noisy_relu:0\""],
        "config `model.activation`: noisy_relu:0: the noise level must be positive"
    ),
    set!(
        "negative TP step",
        ["target_prop.x_lr=-1"],
        "config `target_prop.x_lr`: -1 is not a non-negative number"
    ),
    set!(
        "TP gamma 2",
        ["target_prop.gamma=2"],
        "config `target_prop.gamma`: 2 is not a number in (0, 1]"
    ),
    set!(
        "mistyped TP feedback pass",
        ["target_prop.feedback_pass=evaluate"],
        "config `target_prop.feedback_pass`: unknown variant `evaluate`, expected `train` or \
         `evaluation`"
    ),
    set!(
        "alignment batch 0",
        ["train.align_every=1", "train.align_batch=0"],
        "config `train.align_batch`: must be at least 1"
    ),
    set!(
        "step schedule every 0",
        ["train.schedule=step", "train.step_every=0"],
        "config `train.step_every`: must be at least 1"
    ),
    // Names, with a suggestion when one is close.
    set!(
        "mistyped data set",
        ["data.dataset=digitz"],
        "unknown data set `digitz` (did you mean `digits`?)"
    ),
    set!(
        "mistyped rule",
        ["train.rule=backprob"],
        "unknown rule `backprob` (did you mean `backprop`?)"
    ),
    set!(
        "mistyped key",
        ["train.epoch=3"],
        "unknown field `epoch` (did you mean `epochs`?)"
    ),
    set!(
        "mistyped section",
        ["trian.epochs=3"],
        "unknown field `trian` (did you mean `train`?)"
    ),
    set!(
        "mistyped activation",
        ["model.activation=tahn"],
        "unknown activation `tahn` (did you mean `tanh`?)"
    ),
    set!(
        "NaN slope",
        ["model.activation=leaky_relu:nan"],
        "bad parameter `nan` in activation `leaky_relu:nan`"
    ),
    set!(
        "mistyped optimizer",
        ["train.optimizer=adamm"],
        "unknown variant `adamm` (did you mean `adam`?)"
    ),
    set!(
        "mistyped loss",
        ["train.loss=cross_entropi"],
        "unknown loss `cross_entropi` (did you mean `cross_entropy`?)"
    ),
    set!(
        "mistyped init",
        ["model.init=xaviar"],
        "unknown init `xaviar` (did you mean `xavier`?)"
    ),
    set!(
        "unknown rule, nothing close",
        ["train.rule=hebbian_magic"],
        "unknown rule `hebbian_magic` (registered:"
    ),
    set!(
        "run name leaving --out",
        ["name=../escape"],
        "config `name`: `../escape` is not a plain name"
    ),
    set!(
        "rules for too few blocks",
        ["train.rules=[\"dfa\"]"],
        "config `train.rules`: 1 rules given, the network has 2 blocks"
    ),
    set!(
        "TP with a mixed rule list",
        ["train.rules=[\"target_prop\",\"backprop\"]"],
        "config `train.rules`"
    ),
    set!(
        "regression on class labels",
        ["train.problem=regression"],
        "regression"
    ),
    set!(
        "batchnorm before a linear layer",
        ["model.layers=[\"batchnorm\",\"linear\"]"],
        "config `model.layers`: entry 1 `batchnorm`"
    ),
    set!(
        "layers beside the shorthand",
        [
            "model.layers=[\"linear:8\",\"tanh\",\"linear\"]",
            "model.hidden=[4]"
        ],
        "config `model.hidden`"
    ),
    set!(
        "a convolution on flat features",
        ["data.dataset=iris", "model.arch=4c3-16"],
        "config `model.arch`: block 0 is a convolution, but data.dataset `iris` has flat samples"
    ),
    set!(
        "a kernel larger than the image",
        ["model.arch=4c9-16"],
        "config `model.arch`: block 0: a 9×9 kernel with padding 0 does not fit a 1×8×8 input"
    ),
    set!(
        "a pool larger than the volume",
        ["model.layers=[\"conv:4:3\",\"relu\",\"max_pool:7\",\"linear\"]"],
        "config `model.layers`: block 0: a 7×7 pooling window does not fit a 4×6×6 input"
    ),
    set!(
        "a convolution's options misspelt",
        ["model.layers=[\"conv:4:3:q1\",\"linear\"]"],
        "config `model.layers`: entry 1 `conv:4:3:q1`: unknown option `q1`"
    ),
    set!(
        "target propagation on a conv net",
        ["model.arch=4c3-16", "train.rule=difference_target_prop"],
        "config `train.rule`: difference_target_prop trains fully connected blocks only"
    ),
    set!(
        "an image shape of two sizes",
        ["data.image_shape=[8, 8]"],
        "config `data.image_shape`: [8, 8] is not [channels, height, width]"
    ),
    set!(
        "an image shape the rows do not have",
        ["data.image_shape=[1, 8, 9]"],
        "config `data.image_shape`: [1, 8, 9] is 72 values per sample, `digits` has 64 features"
    ),
    set!(
        "recalibration without batchnorm",
        ["train.recalibrate_batchnorm=true"],
        "config `train.recalibrate_batchnorm`: the model has no batchnorm"
    ),
    set!("--set without =", ["train.epochs"], "--set needs key=value"),
    set!(
        "--set through a value",
        ["train.epochs=3", "train.epochs.x=1"],
        "config `train.epochs`: is a value, not a section"
    ),
    // Data files.
    set!(
        "csv: without a file",
        ["data.dataset=csv:"],
        "config `data.dataset`: `csv:` needs a file name"
    ),
    set!(
        "missing CSV file",
        ["data.dataset=csv:{d}/missing.csv"],
        "missing.csv: No such file or directory (os error 2)"
    ),
    set!(
        "ragged CSV row",
        ["data.dataset=csv:{d}/ragged.csv"],
        "ragged.csv: line 3: ragged row, 2 fields where earlier rows have 3"
    ),
    set!(
        "text in a CSV cell",
        ["data.dataset=csv:{d}/text.csv"],
        "text.csv: line 2, column 2: `x` is not a number"
    ),
    set!(
        "CSV value beyond f32",
        ["data.dataset=csv:{d}/huge.csv"],
        "huge.csv: line 2, column 1: `1e300` does not fit a 32-bit float"
    ),
    set!(
        "NaN in a CSV",
        ["data.dataset=csv:{d}/nan.csv"],
        "nan.csv: line 1, column 2: `NaN` is not finite"
    ),
    set!(
        "negative CSV label",
        ["data.dataset=csv:{d}/neglabel.csv"],
        "neglabel.csv: line 2: label `-1` is not a class index"
    ),
    set!(
        "fractional CSV label",
        ["data.dataset=csv:{d}/fraclabel.csv"],
        "fraclabel.csv: line 1: label `0.5` is not a class index"
    ),
    set!(
        "huge CSV label",
        ["data.dataset=csv:{d}/biglabel.csv"],
        "biglabel.csv: sample 2: label 4000000 would make 4000001 classes"
    ),
    set!(
        "CSV first row mixes names and numbers",
        ["data.dataset=csv:{d}/mixed.csv"],
        "mixed.csv: line 1 mixes names and numbers"
    ),
    set!(
        "CSV not UTF-8",
        ["data.dataset=csv:{d}/latin1.csv"],
        "latin1.csv: line 2: not UTF-8 text"
    ),
    set!(
        "empty CSV",
        ["data.dataset=csv:{d}/empty.csv"],
        "empty.csv: no data rows"
    ),
    set!(
        "CSV header only",
        ["data.dataset=csv:{d}/header_only.csv"],
        "header_only.csv: no data rows"
    ),
    set!(
        "CSV of one column",
        ["data.dataset=csv:{d}/one_col.csv"],
        "one_col.csv: line 1: needs at least one feature and a label"
    ),
    set!(
        "three CSV paths",
        ["data.dataset=csv:{d}/good.csv,{d}/good.csv,{d}/good.csv"],
        "config `data.dataset`: `csv:` takes a training file and optionally a test file"
    ),
    set!(
        "test CSV of another width",
        ["data.dataset=csv:{d}/good.csv,{d}/wide.csv"],
        "wide.csv: 3 feature columns, "
    ),
    set!(
        "test CSV label out of range",
        ["data.dataset=csv:{d}/good.csv,{d}/label5.csv"],
        "label5.csv: sample 1: label 5 outside the class range 0..1"
    ),
    set!(
        "header choice for a non-CSV set",
        ["data.header=true"],
        "config `data.header`: `digits` is not a CSV file"
    ),
    set!(
        "header neither bool nor auto",
        ["data.dataset=csv:{d}/good.csv", "data.header=\"maybe\""],
        "config `data.header`: `\"maybe\"` is not one of"
    ),
    set!(
        "target columns on labels",
        ["data.target_columns=2"],
        "config `data.target_columns`"
    ),
    set!(
        "too many target columns",
        [
            "data.dataset=csv:{d}/good.csv",
            "data.target_columns=3",
            "train.problem=regression"
        ],
        "good.csv: line 1: needs at least one feature and 3 target column(s)"
    ),
    set!(
        "missing IDX directory",
        ["data.dataset=mnist_idx:{d}/nowhere"],
        "nowhere: no such directory"
    ),
    set!(
        "IDX file missing",
        ["data.dataset=mnist_idx:{d}/idx_missing"],
        "train-images-idx3-ubyte: missing (looked for it raw and as .gz)"
    ),
    set!(
        "IDX wrong magic",
        ["data.dataset=mnist_idx:{d}/idx_magic"],
        "train-images-idx3-ubyte: wrong magic number 0x00000808"
    ),
    set!(
        "IDX truncated",
        ["data.dataset=mnist_idx:{d}/idx_short"],
        "train-images-idx3-ubyte: 5 data bytes, the header promises 3 images of 2×2 = 12 (truncated)"
    ),
    set!(
        "IDX empty images",
        ["data.dataset=mnist_idx:{d}/idx_empty"],
        "train-images-idx3-ubyte: the header describes empty images (0×2)"
    ),
    set!(
        "IDX header overflowing",
        ["data.dataset=mnist_idx:{d}/idx_overflow"],
        "train-images-idx3-ubyte: the header's 4294967295 images of 4294967295×4294967295 overflow a byte count"
    ),
    set!(
        "IDX test images of another shape",
        ["data.dataset=mnist_idx:{d}/idx_shape"],
        "t10k-images-idx3-ubyte: images of 3 pixels, the training images have 4"
    ),
    set!(
        "IDX label count mismatch",
        ["data.dataset=mnist_idx:{d}/idx_count"],
        "train-labels-idx1-ubyte: 2 labels but"
    ),
    set!(
        "IDX corrupt gzip",
        ["data.dataset=mnist_idx:{d}/idx_gzip"],
        "train-images-idx3-ubyte.gz: corrupt gzip stream"
    ),
    // Config files.
    case(
        "missing config file",
        &["train", "-c", "{d}/missing.toml"],
        "missing.toml: No such file or directory (os error 2)",
    ),
    case(
        "TOML syntax error",
        &["train", "-c", "{d}/syntax.toml"],
        "syntax.toml: line 3: ",
    ),
    case(
        "mistyped key in a file",
        &["train", "-c", "{d}/typo.toml"],
        "typo.toml: line 3: config `train.epoch`: unknown field `epoch` (did you mean `epochs`?)",
    ),
    case(
        "bad value in a file",
        &["train", "-c", "{d}/badvalue.toml"],
        "badvalue.toml: line 2: config `train.lr`: -1 is not a positive number",
    ),
    case(
        "bad value in a file, fixed by --set",
        &["train", "-c", "{d}/badvalue.toml", "--set", "train.lr=-2"],
        "config `train.lr`: -2 is not a positive number",
    ),
    case(
        "config is a directory",
        &["train", "-c", "{d}"],
        "Is a directory",
    ),
    // Weights files.
    case(
        "eval without weights",
        &["eval", "--run", "{d}/no_run"],
        "no_run",
    ),
    case(
        "eval of corrupt weights",
        &["eval", "--weights", "{d}/corrupt.safetensors"],
        "corrupt.safetensors: ",
    ),
    case(
        "start from corrupt weights",
        &["train", "--init-weights", "{d}/corrupt.safetensors"],
        "corrupt.safetensors: ",
    ),
    case(
        "start from a truncated header",
        &["train", "--init-weights", "{d}/short.safetensors"],
        "short.safetensors: ",
    ),
    case(
        "start from weights of another shape",
        &["train", "--init-weights", "{d}/shape.safetensors"],
        "shape.safetensors: tensor `blocks.0.linear.weight` has shape [3, 2], the network needs [100, 64]",
    ),
    case(
        "start from a missing file",
        &["train", "--init-weights", "{d}/none.safetensors"],
        "none.safetensors: No such file or directory (os error 2)",
    ),
    case(
        "eval of an unknown split",
        &[
            "eval",
            "--split",
            "nope",
            "--weights",
            "{d}/corrupt.safetensors",
        ],
        "error: invalid value 'nope' for '--split <SPLIT>' [possible values: train, validation, test] (see --help)",
    ),
    // Comparison and sweep files.
    case(
        "comparison without variants",
        &["compare", "{d}/novariant.toml"],
        "novariant.toml: a comparison lists at least one [[variant]] table",
    ),
    case(
        "two variants of one name",
        &["compare", "{d}/twice.toml"],
        "twice.toml: line 5: config `variant[1].name`: `a` names two variants",
    ),
    case(
        "variant with a bad value",
        &["compare", "{d}/badvariant.toml"],
        "badvariant.toml: line 6: config `variant `b``: config `train.lr`: -1 is not a positive number",
    ),
    case(
        "sweep without [sweep]",
        &["sweep", "{d}/nosweep.toml"],
        "nosweep.toml: a sweep file has a [sweep] table",
    ),
    case(
        "sweep of an unknown objective",
        &["sweep", "{d}/objective.toml"],
        "objective.toml: unknown objective `val_los` (did you mean `val_loss`?)",
    ),
    case(
        "unknown option",
        &["train", "--bogus"],
        "error: unexpected argument '--bogus' found (see --help)",
    ),
    case(
        "mistyped subcommand",
        &["trian"],
        "error: unrecognized subcommand 'trian'",
    ),
    case(
        "plot of a missing directory",
        &["plot", "{d}/nothing_here"],
        "nothing_here",
    ),
];

/// The fixtures every case reads, written into `d`.
fn fixtures(d: &Path) {
    let files: &[(&str, &[u8])] = &[
        (
            "good.csv",
            b"1,2,0\n3,4,1\n5,6,0\n7,8,1\n2,1,0\n4,3,1\n1,1,0\n2,2,1\n",
        ),
        ("ragged.csv", b"1,2,0\n3,4,1\n5,6\n"),
        ("text.csv", b"1,2,0\n3,x,1\n"),
        ("huge.csv", b"1,2,0\n1e300,4,1\n"),
        ("nan.csv", b"1,NaN,0\n3,4,1\n"),
        ("neglabel.csv", b"1,2,0\n3,4,-1\n"),
        ("fraclabel.csv", b"1,2,0.5\n3,4,1\n"),
        ("biglabel.csv", b"1,2,0\n3,4,4000000\n"),
        ("mixed.csv", b"1.0,abc,0\n3,4,1\n"),
        ("latin1.csv", b"1,2,0\n3,4\xe9,1\n"),
        ("empty.csv", b""),
        ("header_only.csv", b"a,b,label\n"),
        ("one_col.csv", b"1\n2\n"),
        ("wide.csv", b"1,2,3,0\n"),
        ("label5.csv", b"1,2,5\n"),
        ("syntax.toml", b"name = \"x\"\n[train]\nepochs = = 3\n"),
        ("typo.toml", b"[train]\nrule = \"dfa\"\nepoch = 3\n"),
        ("badvalue.toml", b"[train]\nlr = -1\n"),
        (
            "corrupt.safetensors",
            b"\x07\x00\x00\x00\x00\x00\x00\x00{nope}!",
        ),
        ("short.safetensors", b"\xff\xff"),
        ("novariant.toml", b"name = \"c\"\n"),
        (
            "twice.toml",
            b"[[variant]]\nname = \"a\"\n\n[[variant]]\nname = \"a\"\n",
        ),
        (
            "badvariant.toml",
            b"[[variant]]\nname = \"a\"\n\n[[variant]]\nname = \"b\"\ntrain.lr = -1\n",
        ),
        ("nosweep.toml", b"name = \"s\"\n"),
        (
            "objective.toml",
            b"[sweep]\n\"train.lr\" = [0.1]\nobjective = \"val_los\"\n",
        ),
    ];
    for (name, bytes) in files {
        write(d, name, bytes);
    }
    write(
        d,
        "shape.safetensors",
        &safetensors_of("blocks.0.linear.weight", [3, 2]),
    );
    idx_fixtures(d);
}

/// A safetensors file of one f32 tensor of `shape`, zeros.
fn safetensors_of(name: &str, shape: [usize; 2]) -> Vec<u8> {
    let bytes = shape[0] * shape[1] * 4;
    let header =
        format!(r#"{{"{name}":{{"dtype":"F32","shape":{shape:?},"data_offsets":[0,{bytes}]}}}}"#);
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(vec![0u8; bytes]);
    out
}

fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = [0x0803u32, count, rows, cols]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>();
    out.extend(pixels);
    out
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = [0x0801u32, labels.len() as u32]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>();
    out.extend(labels);
    out
}

/// IDX directories, each good but for one file.
fn idx_fixtures(d: &Path) {
    let good = |name: &str| -> std::path::PathBuf {
        let dir = d.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        write(
            &dir,
            "train-images-idx3-ubyte",
            &idx_images(3, 2, 2, &[1; 12]),
        );
        write(&dir, "train-labels-idx1-ubyte", &idx_labels(&[0, 1, 0]));
        write(
            &dir,
            "t10k-images-idx3-ubyte",
            &idx_images(2, 2, 2, &[2; 8]),
        );
        write(&dir, "t10k-labels-idx1-ubyte", &idx_labels(&[1, 0]));
        dir
    };
    std::fs::remove_file(good("idx_missing").join("train-images-idx3-ubyte")).unwrap();
    let mut magic = idx_images(3, 2, 2, &[1; 12]);
    magic[3] = 0x08;
    write(&good("idx_magic"), "train-images-idx3-ubyte", &magic);
    let short = idx_images(3, 2, 2, &[1; 5]);
    write(&good("idx_short"), "train-images-idx3-ubyte", &short);
    let empty = idx_images(3, 0, 2, &[]);
    write(&good("idx_empty"), "train-images-idx3-ubyte", &empty);
    let overflow = idx_images(u32::MAX, u32::MAX, u32::MAX, &[1; 4]);
    write(&good("idx_overflow"), "train-images-idx3-ubyte", &overflow);
    let shape = good("idx_shape");
    write(
        &shape,
        "t10k-images-idx3-ubyte",
        &idx_images(1, 3, 1, &[1; 3]),
    );
    write(&shape, "t10k-labels-idx1-ubyte", &idx_labels(&[0]));
    write(
        &good("idx_count"),
        "train-labels-idx1-ubyte",
        &idx_labels(&[0, 1]),
    );
    let gzip = good("idx_gzip");
    std::fs::remove_file(gzip.join("train-images-idx3-ubyte")).unwrap();
    write(
        &gzip,
        "train-images-idx3-ubyte.gz",
        b"\x1f\x8b\x08\x00garbage",
    );
}

#[test]
fn every_bad_input_is_one_line_naming_its_cause_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    fixtures(dir.path());
    let mut table = String::from("| # | case | command | message (exit 2) |\n|---|---|---|---|\n");
    let mut failures = Vec::new();
    for (n, case) in CASES.iter().enumerate() {
        let args: Vec<String> = case.args.iter().map(|a| a.replace("{d}", &d)).collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, stderr) = plasticity(&refs);
        let message = stderr.trim_end().replace(&d, "…");
        let one_line = !message.is_empty() && !message.contains('\n');
        let expect = case.expect.replace("{d}", "…");
        if code != 2 || !one_line || !message.contains(&expect) {
            failures.push(format!(
                "{}: exit {code}, `{message}`; wanted `{expect}`",
                case.what
            ));
        }
        let shown: Vec<&str> = case.args.iter().copied().filter(|a| *a != "-q").collect();
        let command = shown
            .join(" ")
            .replace("--out {d}/runs ", "")
            .replace('|', "\\|");
        let cell = message.replace('|', "\\|");
        table.push_str(&format!(
            "| {} | {} | `{command}` | {cell} |\n",
            n + 1,
            case.what
        ));
    }
    if let Ok(path) = std::env::var("PLASTICITY_CASE_TABLE") {
        std::fs::write(path, &table).unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    assert!(CASES.len() >= 80, "{} cases", CASES.len());
}
