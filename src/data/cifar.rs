//! The CIFAR-10 and CIFAR-100 binary formats (Krizhevsky 2009), as the "binary version"
//! archives unpack: a record per image, the label byte(s) then 3 072 pixel bytes, the red,
//! green and blue 32×32 planes in turn, row-major — PyTorch's `[3, 32, 32]` channel-major
//! layout as it stands.
//!
//! - CIFAR-10 (`cifar-10-batches-bin/`): `data_batch_1.bin` … `data_batch_5.bin` for training,
//!   `test_batch.bin`; a record is 1 label byte (0–9) and the pixels (3 073 bytes).
//! - CIFAR-100 (`cifar-100-binary/`): `train.bin`, `test.bin`; a record is the coarse label
//!   (20 superclasses), the fine label (100 classes) and the pixels (3 074 bytes).

use std::path::Path;

use crate::data::Table;
use crate::error::{Error, Result};

/// Pixel bytes per image: 3 channels of 32×32.
pub const PIXELS: usize = 3 * 32 * 32;

/// The shape of a CIFAR sample.
pub const VOLUME: [usize; 3] = [3, 32, 32];

/// Which CIFAR set, and for CIFAR-100 which of its two labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cifar {
    /// CIFAR-10: 10 classes.
    Ten,
    /// CIFAR-100 with its 100 fine labels.
    HundredFine,
    /// CIFAR-100 with its 20 coarse labels (superclasses).
    HundredCoarse,
}

impl Cifar {
    /// Label bytes before each image's pixels.
    fn label_bytes(self) -> usize {
        match self {
            Cifar::Ten => 1,
            Cifar::HundredFine | Cifar::HundredCoarse => 2,
        }
    }

    /// Which of the label bytes is the label kept.
    fn label_at(self) -> usize {
        match self {
            Cifar::Ten | Cifar::HundredCoarse => 0,
            Cifar::HundredFine => 1,
        }
    }

    /// How many classes the labels range over.
    pub fn classes(self) -> usize {
        match self {
            Cifar::Ten => 10,
            Cifar::HundredFine => 100,
            Cifar::HundredCoarse => 20,
        }
    }

    /// The training files and the test file, in the set's directory.
    pub fn files(self) -> (Vec<String>, String) {
        match self {
            Cifar::Ten => (
                (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
                "test_batch.bin".into(),
            ),
            _ => (vec!["train.bin".into()], "test.bin".into()),
        }
    }

    /// Parses one file's records into a table of `[3, 32, 32]` images, pixel values 0–255.
    pub fn parse(self, bytes: &[u8], path: &Path) -> Result<Table> {
        let record = self.label_bytes() + PIXELS;
        if bytes.is_empty() {
            return Err(Error::data(path, "empty file: no images"));
        }
        if !bytes.len().is_multiple_of(record) {
            return Err(Error::data(
                path,
                format!(
                    "{} bytes is not a whole number of {record}-byte records ({} label byte{} \
                     and {PIXELS} pixels each): truncated, or not this CIFAR format",
                    bytes.len(),
                    self.label_bytes(),
                    if self.label_bytes() == 1 { "" } else { "s" }
                ),
            ));
        }
        let count = bytes.len() / record;
        let mut x = Vec::with_capacity(count * PIXELS);
        let mut y = Vec::with_capacity(count);
        for (i, chunk) in bytes.chunks_exact(record).enumerate() {
            let label = chunk[self.label_at()];
            if usize::from(label) >= self.classes() {
                return Err(Error::data(
                    path,
                    format!(
                        "record {i}: label {label}, this set has {} classes",
                        self.classes()
                    ),
                ));
            }
            y.push(u32::from(label));
            x.extend(chunk[self.label_bytes()..].iter().map(|&b| f32::from(b)));
        }
        Ok(Table {
            x,
            y,
            features: PIXELS,
            volume: Some(VOLUME),
            ..Table::default()
        })
    }

    /// Reads the training files and the test file of the set in `dir`.
    pub fn read_dir(self, dir: &Path) -> Result<(Table, Table)> {
        if !dir.is_dir() {
            return Err(Error::data(dir, "no such directory"));
        }
        let read = |name: &str| {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            self.parse(&bytes, &path)
        };
        let (train_files, test_file) = self.files();
        let mut train = Table::default();
        for name in &train_files {
            let part = read(name)?;
            train.x.extend(part.x);
            train.y.extend(part.y);
            train.features = PIXELS;
            train.volume = Some(VOLUME);
        }
        Ok((train, read(&test_file)?))
    }
}
