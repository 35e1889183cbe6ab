//! Image folders: one sub-folder of PNG or JPEG files per class, as Caltech-256 and EuroSAT
//! unpack (`<dir>/<class>/<image>.jpg`), classes numbered in the sorted order of their folder
//! names. A folder holding `train/` and `test/` (each laid out so) gives both splits. Every
//! image is resized to `data.image_shape`'s height and width (bilinear) and read as 1 channel
//! (luma) or 3 (RGB), pixel values 0–255, channel-major.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use crate::data::Table;
use crate::error::{Error, Result};

/// File extensions read as images (any case); other files are skipped.
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The sorted entries of `dir` that are directories (`want_dirs`) or files.
fn entries(dir: &Path, want_dirs: bool) -> Result<Vec<PathBuf>> {
    let read = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    for entry in read {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() == want_dirs {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The class folders of `dir`, by name.
pub fn classes(dir: &Path) -> Result<Vec<String>> {
    let folders = entries(dir, true)?;
    if folders.is_empty() {
        return Err(Error::data(
            dir,
            "no class folders (expected one sub-folder of images per class)",
        ));
    }
    Ok(folders
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect())
}

/// One image, resized to `[channels, height, width]` (channels 1 or 3), channel-major.
pub fn read_image(path: &Path, [channels, height, width]: [usize; 3]) -> Result<Vec<f32>> {
    let decoded =
        image::open(path).map_err(|e| Error::data(path, format!("not a readable image: {e}")))?;
    let resized = decoded.resize_exact(width as u32, height as u32, FilterType::Triangle);
    let planes = |pixels: Vec<u8>, c: usize| -> Vec<f32> {
        (0..c)
            .flat_map(|k| {
                pixels
                    .iter()
                    .skip(k)
                    .step_by(c)
                    .map(|&v| f32::from(v))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    Ok(match channels {
        1 => planes(resized.to_luma8().into_raw(), 1),
        _ => planes(resized.to_rgb8().into_raw(), 3),
    })
}

/// Every image under `dir`'s class folders `names` (a folder may be absent from a split),
/// labelled by position in `names`.
fn read_split(dir: &Path, names: &[String], volume: [usize; 3]) -> Result<Table> {
    let mut table = Table {
        features: volume.iter().product(),
        volume: Some(volume),
        ..Table::default()
    };
    for (label, name) in names.iter().enumerate() {
        let folder = dir.join(name);
        if !folder.is_dir() {
            continue;
        }
        for file in entries(&folder, false)?.into_iter().filter(|p| is_image(p)) {
            table.x.extend(read_image(&file, volume)?);
            table.y.push(label as u32);
        }
    }
    if table.y.is_empty() {
        return Err(Error::data(
            dir,
            "no PNG or JPEG images in its class folders",
        ));
    }
    Ok(table)
}

/// Reads the image folder `dir` at `volume` (channels 1 or 3): the training table, and the
/// test table when `dir` holds `train/` and `test/`.
pub fn read_dir(dir: &Path, volume: [usize; 3]) -> Result<(Table, Option<Table>)> {
    if !dir.is_dir() {
        return Err(Error::data(dir, "no such directory"));
    }
    if !matches!(volume[0], 1 | 3) {
        return Err(Error::config(
            "data.image_shape",
            format!(
                "{} channels: image folders are read as 1 (grey) or 3 (RGB)",
                volume[0]
            ),
        ));
    }
    let (train_dir, test_dir) = (dir.join("train"), dir.join("test"));
    if train_dir.is_dir() && test_dir.is_dir() {
        let names = classes(&train_dir)?;
        let train = read_split(&train_dir, &names, volume)?;
        let test = read_split(&test_dir, &names, volume)?;
        return Ok((train, Some(test)));
    }
    let names = classes(dir)?;
    Ok((read_split(dir, &names, volume)?, None))
}
