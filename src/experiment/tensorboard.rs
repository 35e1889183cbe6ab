//! TensorBoard event files (`train.tensorboard = true`): a run's scalars per epoch, per-block
//! histograms of weights and gradients, and the hyperparameters of a sweep's trial, written to
//! `<run>/tensorboard/events.out.tfevents.<time>.<pid>.plasticity` so that `tensorboard
//! --logdir runs` (or a sweep's `runs/`) shows every run, or every trial, as its own run.
//!
//! The file is TFRecord-framed `tensorflow.Event` protocol buffers, encoded here by hand: the
//! handful of messages and fields it needs (`Event`, `Summary`, `HistogramProto`, the hparams
//! plugin's `SessionStartInfo`) do not justify a protobuf toolchain. Each (re)start of a run
//! writes a new file, as TensorFlow's own writers do; TensorBoard reads a directory's files
//! together.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::engine::EpochMetrics;
use crate::error::{Error, Result};

/// Buckets of every histogram.
const BUCKETS: usize = 30;

/// Appends records to one run's event file.
pub struct EventWriter {
    path: PathBuf,
    file: std::fs::File,
}

/// One histogram: a tensor's values by name.
pub struct Histogram<'a> {
    /// Its tag (`weights/blocks.0.linear.weight`).
    pub tag: String,
    /// The values, any order.
    pub values: &'a [f32],
}

impl EventWriter {
    /// A new event file in `dir` (made if missing), starting with the file-version record.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let now = wall_time();
        let path = dir.join(format!(
            "events.out.tfevents.{}.{}.plasticity",
            now as u64,
            std::process::id()
        ));
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut writer = Self { path, file };
        let mut event = Message::default();
        event.double(1, now);
        event.varint(2, 0);
        event.string(3, "brain.Event:2");
        writer.record(&event.0)?;
        Ok(writer)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hyperparameters of the run (a sweep trial's swept keys), for TensorBoard's HParams
    /// dashboard: numbers as numbers, booleans as booleans, anything else as its TOML text.
    pub fn hyperparameters(&mut self, values: &[(String, toml::Value)]) -> Result<()> {
        let mut start = Message::default();
        for (key, value) in values {
            let mut entry = Message::default();
            entry.string(1, key);
            entry.message(2, &protobuf_value(value));
            start.message(1, &entry);
        }
        let mut data = Message::default();
        data.varint(1, 0);
        data.message(3, &start);
        let mut plugin = Message::default();
        plugin.string(1, "hparams");
        plugin.bytes(2, &data.0);
        let mut metadata = Message::default();
        metadata.message(1, &plugin);
        let mut tensor = Message::default();
        tensor.varint(1, 1); // DT_FLOAT
        tensor.message(2, &Message::default());
        tensor.bytes(5, &0f32.to_le_bytes());
        let mut value = Message::default();
        value.string(1, "_hparams_/session_start_info");
        value.message(8, &tensor);
        value.message(9, &metadata);
        self.summary(0, &[value])
    }

    /// An epoch's scalars (losses, accuracies, learning rate, per-block gradient and update
    /// magnitudes, dead and frozen unit fractions) and `histograms`, at step = the epoch; the
    /// file is flushed, so what TensorBoard shows follows the run epoch by epoch.
    pub fn epoch(&mut self, m: &EpochMetrics, histograms: &[Histogram<'_>]) -> Result<()> {
        let mut values = Vec::new();
        let mut scalar = |tag: &str, v: Option<f64>| {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                let mut value = Message::default();
                value.string(1, tag);
                value.float(2, v as f32);
                values.push(value);
            }
        };
        scalar("loss/train", Some(m.train_loss));
        scalar("loss/validation", m.val_loss);
        scalar("loss/test", Some(m.test_loss));
        scalar("accuracy/train", m.train_accuracy);
        scalar("accuracy/validation", m.val_accuracy);
        scalar("accuracy/test", m.test_accuracy);
        scalar("lr", Some(m.lr));
        let per_block = [
            ("mean_abs_grad", &m.mean_abs_grad),
            ("mean_abs_update", &m.mean_abs_update),
            ("dead_units", &m.dead_units),
        ];
        for (name, series) in per_block {
            for (i, v) in series.iter().enumerate() {
                scalar(&format!("{name}/block_{i}"), *v);
            }
        }
        for (i, v) in m.frozen_units.iter().flatten().enumerate() {
            scalar(&format!("frozen_units/block_{i}"), *v);
        }
        for histogram in histograms {
            let mut value = Message::default();
            value.string(1, &histogram.tag);
            value.message(5, &histogram_proto(histogram.values));
            values.push(value);
        }
        self.summary(m.epoch as u64, &values)?;
        self.file.flush().map_err(|e| Error::io(&self.path, e))
    }

    /// One event holding a summary of `values` at `step`.
    fn summary(&mut self, step: u64, values: &[Message]) -> Result<()> {
        let mut summary = Message::default();
        for value in values {
            summary.message(1, value);
        }
        let mut event = Message::default();
        event.double(1, wall_time());
        event.varint(2, step);
        event.message(5, &summary);
        self.record(&event.0)
    }

    /// Appends one TFRecord: length, its masked CRC-32C, the data, its masked CRC-32C.
    fn record(&mut self, data: &[u8]) -> Result<()> {
        let length = (data.len() as u64).to_le_bytes();
        let mut out = Vec::with_capacity(data.len() + 16);
        out.extend_from_slice(&length);
        out.extend_from_slice(&masked_crc(&length).to_le_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&masked_crc(data).to_le_bytes());
        self.file
            .write_all(&out)
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// Seconds since the Unix epoch.
fn wall_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// TFRecord's CRC: CRC-32C, rotated right by 15 bits, plus a constant.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// A `HistogramProto` of `values`: min, max, count, sum, sum of squares, and [`BUCKETS`]
/// equal-width buckets between min and max (the upper edges and the counts).
fn histogram_proto(values: &[f32]) -> Message {
    let finite: Vec<f64> = (values.iter())
        .filter(|v| v.is_finite())
        .map(|&v| f64::from(v))
        .collect();
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (min, max) = if finite.is_empty() {
        (0.0, 0.0)
    } else {
        (min, max)
    };
    let width = (max - min) / BUCKETS as f64;
    let mut counts = vec![0.0f64; BUCKETS];
    for &v in &finite {
        let k = if width > 0.0 {
            (((v - min) / width) as usize).min(BUCKETS - 1)
        } else {
            BUCKETS - 1
        };
        counts[k] += 1.0;
    }
    let limits: Vec<f64> = (1..=BUCKETS)
        .map(|k| {
            if k == BUCKETS {
                max
            } else {
                min + width * k as f64
            }
        })
        .collect();
    let mut histogram = Message::default();
    histogram.double(1, min);
    histogram.double(2, max);
    histogram.double(3, finite.len() as f64);
    histogram.double(4, finite.iter().sum());
    histogram.double(5, finite.iter().map(|v| v * v).sum());
    histogram.packed_doubles(6, &limits);
    histogram.packed_doubles(7, &counts);
    histogram
}

/// A TOML value as a `google.protobuf.Value`.
fn protobuf_value(value: &toml::Value) -> Message {
    let mut out = Message::default();
    match value {
        toml::Value::Integer(i) => out.double(2, *i as f64),
        toml::Value::Float(f) => out.double(2, *f),
        toml::Value::Boolean(b) => out.varint(4, u64::from(*b)),
        toml::Value::String(s) => out.string(3, s),
        other => out.string(3, &other.to_string()),
    }
    out
}

/// A protocol-buffer message being encoded: fields appended in order.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn key(&mut self, field: u32, wire: u8) {
        self.raw_varint(u64::from(field) << 3 | u64::from(wire));
    }

    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn varint(&mut self, field: u32, v: u64) {
        self.key(field, 0);
        self.raw_varint(v);
    }

    fn double(&mut self, field: u32, v: f64) {
        self.key(field, 1);
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn float(&mut self, field: u32, v: f32) {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn bytes(&mut self, field: u32, data: &[u8]) {
        self.key(field, 2);
        self.raw_varint(data.len() as u64);
        self.0.extend_from_slice(data);
    }

    fn string(&mut self, field: u32, text: &str) {
        self.bytes(field, text.as_bytes());
    }

    fn message(&mut self, field: u32, message: &Message) {
        self.bytes(field, &message.0);
    }

    fn packed_doubles(&mut self, field: u32, values: &[f64]) {
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.bytes(field, &data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_masked_crcs_match_their_definitions() {
        let mut m = Message::default();
        m.varint(1, 300);
        // Field 1, wire type 0 (0x08), then 300 = 0b1_0010_1100 as 0xac 0x02.
        assert_eq!(m.0, vec![0x08, 0xac, 0x02]);
        // CRC-32C of "123456789" is 0xe3069283 (the standard check value).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(
            masked_crc(b"123456789"),
            0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }
}
