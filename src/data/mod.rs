//! Data sets: embedded, synthetic, IDX and CSV sources; train / validation / test splits;
//! input scaling fitted on the training split only.

pub mod augment;
pub mod cifar;
pub mod csv;
pub mod embedded;
pub mod idx;
pub mod image_folder;
pub mod synthetic;
mod table;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use table::Table;

use crate::error::{Error, Result};
use crate::rng::Rng;
use embedded::{EMBEDDED, Embedded};
use synthetic::{SYNTHETIC, Synthetic};

/// Where Debian's `dataset-fashion-mnist` package puts Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// How inputs are scaled, with statistics from the training split only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// Zero mean and unit variance per feature (constant features become 0).
    #[default]
    Standardize,
    /// Into [0, 1] by the training split's global minimum and maximum (images: `x / 255`).
    Unit,
    /// Unchanged.
    None,
}

/// The `[data]` section of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// `iris | digits | wine | breast_cancer | fashion_mnist | signed_xor | xor | moons |
    /// circles | spirals | gaussians | mnist_idx:<dir> | cifar10:<dir> | cifar100:<dir> |
    /// cifar100_coarse:<dir> | images:<dir> | csv:<train.csv>[,<test.csv>]`.
    pub dataset: String,
    /// Fraction of the training split carved out for validation.
    pub validation_fraction: f64,
    /// Fraction carved out for testing from sets without a test split of their own.
    pub test_fraction: f64,
    /// Input scaling.
    pub scaling: Scaling,
    /// Samples drawn for a synthetic set (before the test split is carved).
    pub samples: usize,
    /// Noise of a synthetic set (its default when absent).
    pub noise: Option<f64>,
    /// Seed of the splits and of synthetic draws (independent of the run's seed).
    pub seed: u64,
    /// Number of classes, when it should not be inferred from the training labels.
    pub classes: Option<usize>,
    /// Use only the first N training samples (after the validation split).
    pub train_limit: Option<usize>,
    /// Train on this seeded fraction of the training split (after the validation split and
    /// `train_limit`), in (0, 1]; the rows kept stay in their order.
    pub examples_frac: f64,
    /// Keep only the samples of these classes, relabelled `0..k` in the order listed (e.g.
    /// `[0, 1]`: iris's first two classes), before any split.
    pub keep_classes: Option<Vec<u32>>,
    /// CSV files: the last this many columns are float targets instead of a class label
    /// (regression, `train.problem = "regression"`); 0 for a label column.
    pub target_columns: usize,
    /// CSV files: whether the first row is a header (`"auto"`: a row of names only is).
    pub header: csv::Header,
    /// The shape of a sample, `[channels, height, width]`, for CSV files whose rows are
    /// images (flattened channel-major, as `numpy`'s `reshape(len, -1)` of `NCHW` arrays); the
    /// image sets know their own.
    pub image_shape: Option<Vec<usize>>,
    /// Training images shifted by up to this many pixels each way (zero padded), a new
    /// random crop every batch; 0 for none.
    pub augment_crop: usize,
    /// Half the training images mirrored left to right, drawn anew every batch.
    pub augment_flip: bool,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dataset: "digits".into(),
            validation_fraction: 0.1,
            test_fraction: 0.2,
            scaling: Scaling::Standardize,
            samples: 2000,
            noise: None,
            seed: 0,
            classes: None,
            train_limit: None,
            examples_frac: 1.0,
            keep_classes: None,
            target_columns: 0,
            header: csv::Header::Auto,
            image_shape: None,
            augment_crop: 0,
            augment_flip: false,
        }
    }
}

/// A data set ready for training.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The config's name for it.
    pub name: String,
    /// Where it came from.
    pub source: String,
    /// Number of classes (0 for a set of float targets).
    pub classes: usize,
    /// Training split (scaled).
    pub train: Table,
    /// Validation split (scaled).
    pub validation: Table,
    /// Test split (scaled).
    pub test: Table,
    /// The input scaling fitted on the training split, to apply to new inputs.
    pub scaler: Scaler,
    /// Whether the test split is the set's own test file (else it was carved from the
    /// training file, and its [`Table::origin`] rows are rows of that file).
    pub own_test_file: bool,
}

/// Which rows of the source files each split holds (`splits.json` of a run): row indices in
/// the order the loader reads them (a CSV's data rows, an IDX or CIFAR file's records, an image
/// folder's classes in order and each class's files sorted by name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Splits {
    /// The data set's name and source.
    pub dataset: String,
    /// Where its files are.
    pub source: String,
    /// `"test file"` when the test rows are rows of the set's own test file, else
    /// `"training file"`.
    pub test_rows_of: String,
    /// Training rows (of the training file), in the order of the training split.
    pub train: Vec<usize>,
    /// Validation rows (of the training file).
    pub validation: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

impl Dataset {
    /// The rows of the source files each split holds.
    pub fn splits(&self) -> Splits {
        Splits {
            dataset: self.name.clone(),
            source: self.source.clone(),
            test_rows_of: if self.own_test_file {
                "test file"
            } else {
                "training file"
            }
            .into(),
            train: self.train.origin.clone(),
            validation: self.validation.origin.clone(),
            test: self.test.origin.clone(),
        }
    }
}

impl Dataset {
    /// The shape of a sample, `[channels, height, width]`, when the samples are images.
    pub fn volume(&self) -> Option<[usize; 3]> {
        self.train.volume
    }

    /// Features per sample.
    pub fn features(&self) -> usize {
        self.train.features
    }

    /// Float targets per sample (0 for a set of class labels).
    pub fn target_width(&self) -> usize {
        self.train.target_width
    }
}

/// A set before splitting: its tables, and where it came from.
struct Raw {
    train: Table,
    test: Option<Table>,
    source: String,
    /// The file whose labels fix the class range, for error messages.
    label_file: PathBuf,
    /// The file holding the test labels, for error messages.
    test_label_file: PathBuf,
}

fn load_raw(config: &DataConfig) -> Result<Raw> {
    let name = config.dataset.as_str();
    if config.header != csv::Header::Auto && !name.starts_with("csv:") {
        return Err(Error::config(
            "data.header",
            format!("`{name}` is not a CSV file: it has no header row to choose"),
        ));
    }
    if let Some(set) = Embedded::find(name) {
        return Ok(Raw {
            train: set.load()?,
            test: None,
            source: set.source.to_string(),
            label_file: PathBuf::from(name),
            test_label_file: PathBuf::from(name),
        });
    }
    if let Some(set) = Synthetic::find(name) {
        let mut rng = Rng::derived(config.seed, name);
        return Ok(Raw {
            train: set.generate(config.samples, config.noise.map(|n| n as f32), &mut rng),
            test: None,
            source: format!("synthetic: {}", set.description),
            label_file: PathBuf::from(name),
            test_label_file: PathBuf::from(name),
        });
    }
    let idx_dir = match name {
        "fashion_mnist" => Some(FASHION_MNIST_DIR),
        _ => name.strip_prefix("mnist_idx:"),
    };
    if let Some(dir) = idx_dir {
        let dir = Path::new(dir);
        let (train, test) = idx::read_dir(dir)?;
        return Ok(Raw {
            train,
            test: Some(test),
            source: format!("IDX files in {}", dir.display()),
            label_file: dir.join("train-labels-idx1-ubyte"),
            test_label_file: dir.join("t10k-labels-idx1-ubyte"),
        });
    }
    if let Some((cifar, dir)) = cifar_set(name) {
        let dir = Path::new(dir);
        let (train, test) = cifar.read_dir(dir)?;
        let (train_files, test_file) = cifar.files();
        return Ok(Raw {
            train,
            test: Some(test),
            source: format!("CIFAR binary files in {}", dir.display()),
            label_file: dir.join(&train_files[0]),
            test_label_file: dir.join(test_file),
        });
    }
    if let Some(dir) = name.strip_prefix("images:") {
        let volume = config.volume()?.ok_or_else(|| {
            Error::config(
                "data.image_shape",
                "an image folder needs the shape to resize its images to, e.g. [3, 64, 64]",
            )
        })?;
        let dir = Path::new(dir);
        let (train, test) = image_folder::read_dir(dir, volume)?;
        return Ok(Raw {
            train,
            test,
            source: format!("image folder {}", dir.display()),
            label_file: dir.to_path_buf(),
            test_label_file: dir.to_path_buf(),
        });
    }
    if let Some(files) = name.strip_prefix("csv:") {
        let mut paths = files.split(',').map(str::trim).filter(|p| !p.is_empty());
        let train_path = PathBuf::from(
            paths
                .next()
                .ok_or_else(|| Error::config("data.dataset", "`csv:` needs a file name"))?,
        );
        let layout = csv::Layout {
            target_columns: config.target_columns,
            header: config.header,
        };
        let train = csv::read(&train_path, layout)?;
        let test_path = paths.next().map(PathBuf::from);
        if let Some(extra) = paths.next() {
            return Err(Error::config(
                "data.dataset",
                format!(
                    "`csv:` takes a training file and optionally a test file; `{extra}` would \
                     be ignored"
                ),
            ));
        }
        let test = test_path
            .as_deref()
            .map(|p| {
                let test = csv::read(Path::new(p), layout)?;
                if test.features != train.features {
                    return Err(Error::data(
                        p,
                        format!(
                            "{} feature columns, {} has {}",
                            test.features,
                            train_path.display(),
                            train.features
                        ),
                    ));
                }
                Ok(test)
            })
            .transpose()?;
        return Ok(Raw {
            train,
            test,
            source: format!("CSV {files}"),
            test_label_file: test_path.unwrap_or_else(|| train_path.clone()),
            label_file: train_path,
        });
    }
    let known: Vec<&str> = EMBEDDED
        .iter()
        .map(|e| e.name)
        .chain(SYNTHETIC.iter().map(|s| s.name))
        .collect();
    Err(Error::config(
        "data.dataset",
        format!(
            "unknown data set `{name}`{} (expected one of: {}, fashion_mnist, mnist_idx:<dir>, \
             cifar10:<dir>, cifar100:<dir>, cifar100_coarse:<dir>, images:<dir>, \
             csv:<train.csv>[,<test.csv>])",
            crate::suggest::did_you_mean(name, known.iter().copied().chain(["fashion_mnist"])),
            known.join(", ")
        ),
    ))
}

/// A CIFAR set's kind and directory from its name: `cifar10:<dir>`, `cifar100:<dir>` (fine
/// labels), `cifar100_coarse:<dir>`.
fn cifar_set(name: &str) -> Option<(cifar::Cifar, &str)> {
    use cifar::Cifar;
    [
        ("cifar10:", Cifar::Ten),
        ("cifar100:", Cifar::HundredFine),
        ("cifar100_coarse:", Cifar::HundredCoarse),
    ]
    .into_iter()
    .find_map(|(prefix, set)| name.strip_prefix(prefix).map(|dir| (set, dir)))
}

/// The rows of `table` whose class is in `keep`, relabelled by position in `keep`.
fn keep_only(table: &Table, keep: &[u32]) -> Table {
    let rows: Vec<usize> = (0..table.rows())
        .filter(|&i| keep.contains(&table.y[i]))
        .collect();
    let mut kept = table.select(&rows);
    for y in &mut kept.y {
        *y = keep
            .iter()
            .position(|k| k == y)
            .expect("kept rows have kept classes") as u32;
    }
    kept
}

/// Splits `table` into (rest, carved) with `fraction` of the rows carved, shuffled by `rng`.
fn carve(table: &Table, fraction: f64, rng: &mut Rng) -> (Table, Table) {
    let mut order: Vec<usize> = (0..table.rows()).collect();
    rng.shuffle(&mut order);
    let carved = ((table.rows() as f64) * fraction).round() as usize;
    let (taken, rest) = order.split_at(carved.min(table.rows()));
    (table.select(rest), table.select(taken))
}

fn check_fraction(key: &str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::config(key, format!("{value} is not in [0, 1)")))
    }
}

/// At most this many classes.
pub const MAX_CLASSES: usize = 100_000;

/// At most this many samples drawn for a synthetic data set.
pub const MAX_SAMPLES: usize = 100_000_000;

impl DataConfig {
    /// Checks the numeric settings: split fractions in `[0, 1)` leaving training rows, a
    /// non-negative noise, a sample count a machine can hold, at least 2 classes and 1 row.
    pub fn check(&self) -> Result<()> {
        check_fraction("data.validation_fraction", self.validation_fraction)?;
        check_fraction("data.test_fraction", self.test_fraction)?;
        if !(self.examples_frac > 0.0 && self.examples_frac <= 1.0) {
            return Err(Error::config(
                "data.examples_frac",
                format!("{} is not a fraction in (0, 1]", self.examples_frac),
            ));
        }
        if self.validation_fraction + self.test_fraction >= 1.0 {
            return Err(Error::config(
                "data.test_fraction",
                format!(
                    "{} with data.validation_fraction {} leaves no training rows",
                    self.test_fraction, self.validation_fraction
                ),
            ));
        }
        if let Some(noise) = self.noise
            && !(noise.is_finite() && noise >= 0.0)
        {
            return Err(Error::config(
                "data.noise",
                format!("{noise} is not a non-negative number"),
            ));
        }
        if self.samples > MAX_SAMPLES {
            return Err(Error::config(
                "data.samples",
                format!(
                    "{} is more than the {MAX_SAMPLES} a run can use",
                    self.samples
                ),
            ));
        }
        if let Some(classes) = self.classes
            && !(2..=MAX_CLASSES).contains(&classes)
        {
            return Err(Error::config(
                "data.classes",
                format!("{classes} is not between 2 and {MAX_CLASSES}"),
            ));
        }
        if self.train_limit == Some(0) {
            return Err(Error::config("data.train_limit", "must be at least 1"));
        }
        self.volume()?;
        Ok(())
    }

    /// The augmentation of training batches of samples shaped `volume`, if any is asked for.
    pub fn augment(&self, volume: Option<[usize; 3]>) -> Result<Option<augment::Augment>> {
        augment::Augment::new(self.augment_crop, self.augment_flip, volume)
    }

    /// `data.image_shape` read, if given: three positive sizes.
    pub fn volume(&self) -> Result<Option<[usize; 3]>> {
        match self.image_shape.as_deref() {
            None => Ok(None),
            Some(&[c, h, w]) if c > 0 && h > 0 && w > 0 => Ok(Some([c, h, w])),
            Some(other) => Err(Error::config(
                "data.image_shape",
                format!("{other:?} is not [channels, height, width] of positive sizes"),
            )),
        }
    }

    /// The shape of a sample as known before the data is read: `data.image_shape`, or an
    /// image set's own (`fashion_mnist` and IDX directories 1×28×28, `digits` 1×8×8); `None`
    /// for flat features. The loaded set has the final word.
    pub fn volume_hint(&self) -> Option<[usize; 3]> {
        if let Ok(Some(volume)) = self.volume() {
            return Some(volume);
        }
        let name = self.dataset.as_str();
        if name == "fashion_mnist" || name.starts_with("mnist_idx:") {
            return Some([1, 28, 28]);
        }
        if cifar_set(name).is_some() {
            return Some(cifar::VOLUME);
        }
        Embedded::find(name).and_then(|set| set.volume())
    }
}

/// Loads, splits and scales the configured data set.
pub fn load(config: &DataConfig) -> Result<Dataset> {
    config.check()?;
    prepare(load_raw(config)?, config)
}

impl Dataset {
    /// A data set from arrays in memory: `features` row-major of `shape` `[rows, width]`,
    /// one class label per row (from 0), optionally a test split of its own (`test`, the same
    /// layout); split (validation, and test when none is given) and scaled as `config` says,
    /// exactly as a loaded file would be.
    pub fn from_arrays(
        features: Vec<f32>,
        shape: [usize; 2],
        labels: Vec<u32>,
        test: Option<(Vec<f32>, [usize; 2], Vec<u32>)>,
        config: &DataConfig,
    ) -> Result<Self> {
        let train = Table::from_arrays(features, shape, labels, "features")?;
        let test = test
            .map(|(x, shape, y)| Table::from_arrays(x, shape, y, "test features"))
            .transpose()?;
        from_tables(train, test, "labels", config)
    }
}

impl Dataset {
    /// A regression set from arrays in memory: `features` row-major of `shape`
    /// `[rows, width]`, `targets` row-major of `target_shape` `[rows, outputs]`, optionally a
    /// test split of its own (a [`Table::with_targets`] of the same widths); split and scaled
    /// (the features, not the targets) as `config` says. Train it with
    /// `train.problem = "regression"`.
    pub fn from_arrays_with_targets(
        features: Vec<f32>,
        shape: [usize; 2],
        targets: Vec<f32>,
        target_shape: [usize; 2],
        test: Option<Table>,
        config: &DataConfig,
    ) -> Result<Self> {
        let train = Table::with_targets(features, shape, targets, target_shape, "features")?;
        from_tables(train, test, "targets", config)
    }
}

/// A set of tables in memory, `what` (`labels`, `targets`) naming their labels in errors.
fn from_tables(
    train: Table,
    test: Option<Table>,
    what: &str,
    config: &DataConfig,
) -> Result<Dataset> {
    if let Some(test) = &test
        && test.features != train.features
    {
        return Err(Error::data(
            "test features",
            format!(
                "{} columns, the training features have {}",
                test.features, train.features
            ),
        ));
    }
    let raw = Raw {
        train,
        test,
        source: "arrays in memory".into(),
        label_file: PathBuf::from(what),
        test_label_file: PathBuf::from(format!("test {what}")),
    };
    config.check()?;
    prepare(raw, config)
}

/// Splits, checks and scales a loaded set as `config` says.
fn prepare(mut raw: Raw, config: &DataConfig) -> Result<Dataset> {
    raw.train.origin = (0..raw.train.rows()).collect();
    if let Some(test) = &mut raw.test {
        test.origin = (0..test.rows()).collect();
    }
    if let Some(volume) = config.volume()? {
        let pixels: usize = volume.iter().product();
        if pixels != raw.train.features {
            return Err(Error::config(
                "data.image_shape",
                format!(
                    "{volume:?} is {pixels} values per sample, `{}` has {} features",
                    config.dataset, raw.train.features
                ),
            ));
        }
        raw.train.volume = Some(volume);
        if let Some(test) = &mut raw.test {
            test.volume = Some(volume);
        }
    }
    if let Some(keep) = &config.keep_classes {
        let unique: std::collections::BTreeSet<&u32> = keep.iter().collect();
        if keep.len() < 2 || unique.len() != keep.len() {
            return Err(Error::config(
                "data.keep_classes",
                "must list at least two different classes",
            ));
        }
        raw.train = keep_only(&raw.train, keep);
        raw.test = raw.test.map(|test| keep_only(&test, keep));
    }
    if raw.train.target_width > 0 {
        return prepare_targets(raw, config);
    }
    if config.target_columns > 0 {
        return Err(Error::config(
            "data.target_columns",
            format!(
                "`{}` has class labels; float target columns are read from CSV files only",
                config.dataset
            ),
        ));
    }
    let classes = match config.classes {
        Some(classes) => classes,
        None => raw.train.label_bound(),
    };
    if classes > MAX_CLASSES {
        let (at, label) = (raw.train.y.iter().enumerate())
            .max_by_key(|(_, y)| **y)
            .map_or((0, 0), |(i, y)| (i, *y));
        return Err(Error::data(
            &raw.label_file,
            format!(
                "sample {}: label {label} would make {classes} classes, more than the \
                 {MAX_CLASSES} a run can hold",
                at + 1
            ),
        ));
    }
    if classes < 2 {
        return Err(Error::data(
            &raw.label_file,
            format!("{classes} class(es): a classification set needs at least 2"),
        ));
    }
    let check_labels = |table: &Table, file: &Path| -> Result<()> {
        match table.y.iter().position(|&y| y as usize >= classes) {
            Some(i) => Err(Error::data(
                file,
                format!(
                    "sample {}: label {} outside the class range 0..{}",
                    i + 1,
                    table.y[i],
                    classes - 1
                ),
            )),
            None => Ok(()),
        }
    };
    check_labels(&raw.train, &raw.label_file)?;
    let test = match raw.test.take() {
        Some(test) => {
            check_labels(&test, &raw.test_label_file)?;
            Some(test)
        }
        None => None,
    };
    split_and_scale(raw, test, classes, config)
}

/// A set of float targets (regression): no classes to check; split and scaled like any set
/// (the targets are not scaled).
fn prepare_targets(mut raw: Raw, config: &DataConfig) -> Result<Dataset> {
    for (key, set) in [
        ("data.keep_classes", config.keep_classes.is_some()),
        ("data.classes", config.classes.is_some()),
    ] {
        if set {
            return Err(Error::config(
                key,
                "the data set has float targets, not classes",
            ));
        }
    }
    let test = raw.test.take();
    if let Some(test) = &test
        && test.target_width != raw.train.target_width
    {
        return Err(Error::data(
            &raw.test_label_file,
            format!(
                "{} target columns, the training set has {}",
                test.target_width, raw.train.target_width
            ),
        ));
    }
    split_and_scale(raw, test, 0, config)
}

/// Carves the test split (when the set has none) and the validation split, applies the
/// training limit and fits the scaling on the training split.
fn split_and_scale(
    raw: Raw,
    test: Option<Table>,
    classes: usize,
    config: &DataConfig,
) -> Result<Dataset> {
    let own_test_file = test.is_some();
    let (train, test) = match test {
        Some(test) => (raw.train, test),
        None => carve(
            &raw.train,
            config.test_fraction,
            &mut Rng::derived(config.seed, "test split"),
        ),
    };
    let (mut train, validation) = carve(
        &train,
        config.validation_fraction,
        &mut Rng::derived(config.seed, "validation split"),
    );
    if let Some(limit) = config.train_limit {
        let keep: Vec<usize> = (0..limit.min(train.rows())).collect();
        train = train.select(&keep);
    }
    if config.examples_frac < 1.0 {
        let mut order: Vec<usize> = (0..train.rows()).collect();
        Rng::derived(config.seed, "examples fraction").shuffle(&mut order);
        let kept = ((train.rows() as f64) * config.examples_frac).round() as usize;
        let mut keep = order[..kept.clamp(1, train.rows().max(1)).min(train.rows())].to_vec();
        keep.sort_unstable();
        train = train.select(&keep);
    }
    if train.rows() == 0 || test.rows() == 0 {
        return Err(Error::config(
            "data",
            format!(
                "`{}` leaves an empty training or test split",
                config.dataset
            ),
        ));
    }
    let scaler = Scaler::fit(config.scaling, &train);
    Ok(Dataset {
        name: config.dataset.clone(),
        source: raw.source,
        classes,
        train: scaler.apply(train),
        validation: scaler.apply(validation),
        test: scaler.apply(test),
        scaler,
        own_test_file,
    })
}

/// Per-feature affine scaling `x ↦ (x − shift) · factor`, fitted on a training split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Subtracted from each feature.
    pub shift: Vec<f32>,
    /// Then multiplied into each feature.
    pub factor: Vec<f32>,
}

impl Scaler {
    fn fit(scaling: Scaling, train: &Table) -> Self {
        let d = train.features;
        let n = train.rows().max(1) as f64;
        match scaling {
            Scaling::None => Self {
                shift: vec![0.0; d],
                factor: vec![1.0; d],
            },
            Scaling::Unit => {
                let min = train.x.iter().copied().fold(f32::INFINITY, f32::min);
                let max = train.x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let range = max - min;
                let factor = if range > 0.0 { 1.0 / range } else { 1.0 };
                Self {
                    shift: vec![min; d],
                    factor: vec![factor; d],
                }
            }
            Scaling::Standardize => {
                let mut mean = vec![0.0f64; d];
                let mut square = vec![0.0f64; d];
                for i in 0..train.rows() {
                    for (j, &v) in train.row(i).iter().enumerate() {
                        mean[j] += f64::from(v);
                        square[j] += f64::from(v) * f64::from(v);
                    }
                }
                let mut shift = Vec::with_capacity(d);
                let mut factor = Vec::with_capacity(d);
                for j in 0..d {
                    let m = mean[j] / n;
                    let var = (square[j] / n - m * m).max(0.0);
                    shift.push(m as f32);
                    factor.push(if var > 1e-12 {
                        (1.0 / var.sqrt()) as f32
                    } else {
                        0.0
                    });
                }
                Self { shift, factor }
            }
        }
    }

    fn apply(&self, mut table: Table) -> Table {
        self.apply_rows(&mut table.x);
        table
    }

    /// Undoes [`Scaler::apply_rows`] in place: the inputs as they were before scaling (a
    /// constant feature, scaled to 0, comes back as its value: the shift).
    pub fn unscale_rows(&self, x: &mut [f32]) {
        let d = self.shift.len().max(1);
        for (i, v) in x.iter_mut().enumerate() {
            let j = i % d;
            *v = if self.factor[j] == 0.0 {
                self.shift[j]
            } else {
                *v / self.factor[j] + self.shift[j]
            };
        }
    }

    /// Scales row-major `x` (rows of the fitted width) in place, as the splits were.
    pub fn apply_rows(&self, x: &mut [f32]) {
        let d = self.shift.len().max(1);
        for (i, v) in x.iter_mut().enumerate() {
            let j = i % d;
            *v = (*v - self.shift[j]) * self.factor[j];
        }
    }
}

/// One line of `plasticity datasets`: name, shape and origin.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetInfo {
    /// The name to put in `data.dataset`.
    pub name: String,
    /// Samples (train + test as shipped, or the default draw).
    pub samples: String,
    /// Features per sample.
    pub features: String,
    /// Classes.
    pub classes: String,
    /// Where it comes from.
    pub source: String,
}

/// Describes every built-in data set (Fashion-MNIST only if installed) and the file sources.
pub fn catalogue() -> Vec<DatasetInfo> {
    let mut out = Vec::new();
    for set in EMBEDDED {
        if let Ok(t) = set.load() {
            out.push(DatasetInfo {
                name: set.name.into(),
                samples: t.rows().to_string(),
                features: t.features.to_string(),
                classes: t.label_bound().to_string(),
                source: set.source.into(),
            });
        }
    }
    for set in SYNTHETIC {
        out.push(DatasetInfo {
            name: set.name.into(),
            samples: format!("data.samples (default {})", DataConfig::default().samples),
            features: "2".into(),
            classes: "2".into(),
            source: format!(
                "synthetic: {}; noise default {}",
                set.description, set.default_noise
            ),
        });
    }
    let fashion = match idx::read_dir(Path::new(FASHION_MNIST_DIR)) {
        Ok((train, test)) => DatasetInfo {
            name: "fashion_mnist".into(),
            samples: format!("{} + {}", train.rows(), test.rows()),
            features: format!("{} (28×28)", train.features),
            classes: train.label_bound().to_string(),
            source: format!("IDX files in {FASHION_MNIST_DIR}"),
        },
        Err(e) => DatasetInfo {
            name: "fashion_mnist".into(),
            samples: "60000 + 10000".into(),
            features: "784 (28×28)".into(),
            classes: "10".into(),
            source: format!(
                "not installed ({e}); `apt-get install dataset-fashion-mnist` puts it in \
                 {FASHION_MNIST_DIR}"
            ),
        },
    };
    out.push(fashion);
    out.push(DatasetInfo {
        name: "mnist_idx:<dir>".into(),
        samples: "from the files".into(),
        features: "rows×cols".into(),
        classes: "largest label + 1".into(),
        source: "train-/t10k- images-idx3-ubyte and labels-idx1-ubyte in <dir>, raw or .gz".into(),
    });
    for (name, classes, files) in [
        (
            "cifar10:<dir>",
            "10",
            "data_batch_1..5.bin and test_batch.bin",
        ),
        ("cifar100:<dir>", "100 (fine)", "train.bin and test.bin"),
        (
            "cifar100_coarse:<dir>",
            "20 (coarse)",
            "train.bin and test.bin",
        ),
    ] {
        out.push(DatasetInfo {
            name: name.into(),
            samples: "50000 + 10000".into(),
            features: "3072 (3×32×32)".into(),
            classes: classes.into(),
            source: format!("CIFAR binary version in <dir>: {files}"),
        });
    }
    out.push(DatasetInfo {
        name: "images:<dir>".into(),
        samples: "the image files".into(),
        features: "data.image_shape".into(),
        classes: "sub-folders".into(),
        source: "one sub-folder of PNG/JPEG files per class (or train/ and test/ so), resized"
            .into(),
    });
    out.push(DatasetInfo {
        name: "csv:<train.csv>[,<test.csv>]".into(),
        samples: "rows".into(),
        features: "columns − 1".into(),
        classes: "largest label + 1".into(),
        source: "numeric columns, last = integer label from 0, optional header row".into(),
    });
    out
}
