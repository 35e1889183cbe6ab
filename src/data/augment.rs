//! Seeded augmentation of training images: a random crop of the image padded with zeros
//! (`data.augment_crop = P`: shifts of up to `P` pixels each way, the image keeping its size)
//! and a horizontal flip with probability ½ (`data.augment_flip`), as torchvision's
//! `RandomCrop(size, padding=P)` and `RandomHorizontalFlip()`. Every training batch draws
//! from its own stream (the run's seed, the epoch and the batch's index), so a run is
//! reproducible, pipelined or not.

use crate::error::{Error, Result};
use crate::rng::Rng;

/// The augmentation of training batches of `volume`-shaped images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Augment {
    /// The largest shift, in pixels, each way (0: no crop).
    pub crop_padding: usize,
    /// Whether half the images are mirrored left to right.
    pub flip: bool,
    /// The images' shape, `[channels, height, width]`.
    pub volume: [usize; 3],
}

impl Augment {
    /// The augmentation `crop_padding` and `flip` ask for, on samples of `volume`; `None`
    /// when they ask for none. Fails when the samples are not images.
    pub fn new(
        crop_padding: usize,
        flip: bool,
        volume: Option<[usize; 3]>,
    ) -> Result<Option<Self>> {
        if crop_padding == 0 && !flip {
            return Ok(None);
        }
        let key = if crop_padding > 0 {
            "data.augment_crop"
        } else {
            "data.augment_flip"
        };
        let volume = volume.ok_or_else(|| {
            Error::config(
                key,
                "augmentation crops and flips images, and the samples are flat features \
                 (set data.image_shape for a CSV file of images)",
            )
        })?;
        if crop_padding >= volume[1].min(volume[2]) {
            return Err(Error::config(
                "data.augment_crop",
                format!(
                    "a shift of {crop_padding} pixels is not smaller than the {}×{} images",
                    volume[1], volume[2]
                ),
            ));
        }
        Ok(Some(Self {
            crop_padding,
            flip,
            volume,
        }))
    }

    /// Augments every image of `x` (row-major, one flattened image per row) in place.
    pub fn apply(&self, x: &mut [f32], rng: &mut Rng) {
        let [channels, height, width] = self.volume;
        let size = channels * height * width;
        let mut out = vec![0.0; size];
        for image in x.chunks_exact_mut(size) {
            let span = 2 * self.crop_padding + 1;
            let (dy, dx) = if self.crop_padding > 0 {
                (rng.index(span), rng.index(span))
            } else {
                (self.crop_padding, self.crop_padding)
            };
            let mirror = self.flip && rng.uniform() < 0.5;
            out.fill(0.0);
            for c in 0..channels {
                for i in 0..height {
                    // Output row i shows input row i + dy − padding (zero outside).
                    let Some(r) = (i + dy)
                        .checked_sub(self.crop_padding)
                        .filter(|r| *r < height)
                    else {
                        continue;
                    };
                    for j in 0..width {
                        let q = (j + dx)
                            .checked_sub(self.crop_padding)
                            .filter(|q| *q < width);
                        if let Some(q) = q {
                            let target = if mirror { width - 1 - j } else { j };
                            out[(c * height + i) * width + target] =
                                image[(c * height + r) * width + q];
                        }
                    }
                }
            }
            image.copy_from_slice(&out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Vec<f32> {
        (0..2 * 3 * 4).map(|v| v as f32 + 1.0).collect()
    }

    #[test]
    fn a_flip_mirrors_rows_and_a_crop_shifts_in_zeros() {
        let flip = Augment {
            crop_padding: 0,
            flip: true,
            volume: [2, 3, 4],
        };
        let mut rng = Rng::new(0);
        let mut flipped = 0;
        for _ in 0..40 {
            let mut x = image();
            flip.apply(&mut x, &mut rng);
            if x != image() {
                flipped += 1;
                assert_eq!(
                    &x[..4],
                    &[4.0, 3.0, 2.0, 1.0],
                    "row 0 of channel 0 mirrored"
                );
                assert_eq!(&x[12..16], &[16.0, 15.0, 14.0, 13.0], "channel 1 too");
            }
        }
        assert!((10..=30).contains(&flipped), "{flipped} of 40 flipped");
        let crop = Augment {
            crop_padding: 1,
            flip: false,
            volume: [2, 3, 4],
        };
        let mut shifts = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut x = image();
            crop.apply(&mut x, &mut rng);
            // Every kept pixel is the original shifted by the same (dy, dx) in both channels.
            let (i, j) = (1, 1);
            let centre = x[i * 4 + j];
            assert!(centre > 0.0, "the centre never leaves the image");
            let source = centre as usize - 1;
            let (r, q) = (source / 4, source % 4);
            assert_eq!(x[12 + i * 4 + j], centre + 12.0);
            let zeros = x.iter().filter(|v| **v == 0.0).count();
            let shift = (r as isize - 1, q as isize - 1);
            let expected_zeros =
                2 * (3 * 4 - (3 - shift.0.unsigned_abs()) * (4 - shift.1.unsigned_abs()));
            assert_eq!(zeros, expected_zeros, "shift {shift:?}");
            shifts.insert(shift);
        }
        assert_eq!(shifts.len(), 9, "every shift in [-1, 1]² drawn");
    }

    #[test]
    fn flat_features_and_oversized_crops_are_refused() {
        assert_eq!(Augment::new(0, false, None).unwrap(), None);
        let flat = Augment::new(4, false, None).unwrap_err().to_string();
        assert!(flat.contains("config `data.augment_crop`"), "{flat}");
        let big = Augment::new(8, true, Some([1, 8, 8]))
            .unwrap_err()
            .to_string();
        assert!(big.contains("not smaller than the 8×8 images"), "{big}");
    }
}
