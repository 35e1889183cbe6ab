//! IDX files (the MNIST format), raw or gzip-compressed: `train-images-idx3-ubyte[.gz]`,
//! `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::data::Table;
use crate::error::{Error, Result};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// The bytes of a file, gunzipped if it starts with the gzip magic number.
fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::data(path, format!("corrupt gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

fn header(bytes: &[u8], words: usize, path: &Path) -> Result<Vec<u32>> {
    if bytes.len() < 4 * words {
        return Err(Error::data(
            path,
            format!(
                "truncated header: {} bytes, need {}",
                bytes.len(),
                4 * words
            ),
        ));
    }
    Ok((0..words)
        .map(|i| u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes")))
        .collect())
}

/// Parses an IDX image file: returns `(count, pixels per image, pixel values 0–255)`.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let head = header(bytes, 4, path)?;
    if head[0] != IMAGES_MAGIC {
        return Err(Error::data(
            path,
            format!(
                "wrong magic number {:#010x}, expected {IMAGES_MAGIC:#010x} (unsigned-byte images)",
                head[0]
            ),
        ));
    }
    let (count, rows, cols) = (head[1] as u64, head[2] as u64, head[3] as u64);
    if rows == 0 || cols == 0 {
        return Err(Error::data(
            path,
            format!("the header describes empty images ({rows}×{cols})"),
        ));
    }
    let pixels = rows * cols;
    let promised = count.checked_mul(pixels).ok_or_else(|| {
        Error::data(
            path,
            format!("the header's {count} images of {rows}×{cols} overflow a byte count"),
        )
    })?;
    let body = &bytes[16..];
    if body.len() as u64 != promised {
        return Err(Error::data(
            path,
            format!(
                "{} data bytes, the header promises {count} images of {rows}×{cols} = {}{}",
                body.len(),
                promised,
                if (body.len() as u64) < promised {
                    " (truncated)"
                } else {
                    ""
                }
            ),
        ));
    }
    if count == 0 {
        return Err(Error::data(path, "the header promises no images"));
    }
    let (count, pixels) = (count as usize, pixels as usize);
    Ok((count, pixels, body.iter().map(|&b| f32::from(b)).collect()))
}

/// Parses an IDX label file.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u32>> {
    let head = header(bytes, 2, path)?;
    if head[0] != LABELS_MAGIC {
        return Err(Error::data(
            path,
            format!(
                "wrong magic number {:#010x}, expected {LABELS_MAGIC:#010x} (unsigned-byte labels)",
                head[0]
            ),
        ));
    }
    let count = head[1] as usize;
    let body = &bytes[8..];
    if body.len() != count {
        return Err(Error::data(
            path,
            format!(
                "{} labels, the header promises {count}{}",
                body.len(),
                if body.len() < count {
                    " (truncated)"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(body.iter().map(|&b| u32::from(b)).collect())
}

/// The file `stem` in `dir`, raw or with `.gz`.
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    [stem.to_string(), format!("{stem}.gz")]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::data(dir.join(stem), "missing (looked for it raw and as .gz)"))
}

/// Reads one split (`train` or `t10k`) of an MNIST-format directory.
pub fn read_split(dir: &Path, prefix: &str) -> Result<Table> {
    let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let bytes = read_maybe_gzip(&images_path)?;
    let (count, pixels, x) = parse_images(&bytes, &images_path)?;
    let head = header(&bytes, 4, &images_path)?;
    let y = parse_labels(&read_maybe_gzip(&labels_path)?, &labels_path)?;
    if y.len() != count {
        return Err(Error::data(
            &labels_path,
            format!(
                "{} labels but {} has {count} images",
                y.len(),
                images_path.display()
            ),
        ));
    }
    Ok(Table {
        x,
        y,
        features: pixels,
        volume: Some([1, head[2] as usize, head[3] as usize]),
        ..Table::default()
    })
}

/// Reads the train and test splits of an MNIST-format directory.
pub fn read_dir(dir: &Path) -> Result<(Table, Table)> {
    if !dir.is_dir() {
        return Err(Error::data(dir, "no such directory"));
    }
    let train = read_split(dir, "train")?;
    let test = read_split(dir, "t10k")?;
    if test.features != train.features {
        return Err(Error::data(
            find(dir, "t10k-images-idx3-ubyte")?,
            format!(
                "images of {} pixels, the training images have {}",
                test.features, train.features
            ),
        ));
    }
    Ok((train, test))
}
