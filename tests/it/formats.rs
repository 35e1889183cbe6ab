//! Loaders on small hand-made files, including every malformed case.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use plasticity::data::{self, DataConfig, csv, idx};

use crate::write;

fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [0x0000_0803u32, count, rows, cols] {
        out.extend(word.to_be_bytes());
    }
    out.extend(pixels);
    out
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0x0000_0801u32.to_be_bytes());
    out.extend((labels.len() as u32).to_be_bytes());
    out.extend(labels);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A 2×2-pixel MNIST-format directory: 3 training images, 2 test images.
fn mnist_dir(dir: &Path, gzipped: bool) {
    let train_x = idx_images(3, 2, 2, &[0, 255, 0, 0, 10, 20, 30, 40, 1, 2, 3, 4]);
    let test_x = idx_images(2, 2, 2, &[5, 6, 7, 8, 255, 0, 255, 0]);
    let files = [
        ("train-images-idx3-ubyte", train_x),
        ("train-labels-idx1-ubyte", idx_labels(&[0, 1, 2])),
        ("t10k-images-idx3-ubyte", test_x),
        ("t10k-labels-idx1-ubyte", idx_labels(&[2, 0])),
    ];
    for (name, bytes) in files {
        if gzipped {
            write(dir, &format!("{name}.gz"), &gzip(&bytes));
        } else {
            write(dir, name, &bytes);
        }
    }
}

#[test]
fn idx_reads_raw_and_gzip_files_alike() {
    for gzipped in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        mnist_dir(dir.path(), gzipped);
        let (train, test) = idx::read_dir(dir.path()).unwrap();
        assert_eq!(train.features, 4);
        assert_eq!(train.y, vec![0, 1, 2]);
        assert_eq!(train.row(1), &[10.0, 20.0, 30.0, 40.0]);
        assert_eq!(test.y, vec![2, 0]);
        assert_eq!(test.row(1), &[255.0, 0.0, 255.0, 0.0]);
    }
}

#[test]
fn idx_dataset_splits_and_scales_to_unit_range() {
    let dir = tempfile::tempdir().unwrap();
    mnist_dir(dir.path(), true);
    let config = DataConfig {
        dataset: format!("mnist_idx:{}", dir.path().display()),
        validation_fraction: 0.0,
        scaling: data::Scaling::Unit,
        ..DataConfig::default()
    };
    let set = data::load(&config).unwrap();
    assert_eq!(set.classes, 3);
    assert_eq!((set.train.rows(), set.test.rows()), (3, 2));
    assert_eq!(set.test.row(1), &[1.0, 0.0, 1.0, 0.0]);
}

fn idx_error(mutate: impl Fn(&Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    mnist_dir(dir.path(), false);
    mutate(dir.path());
    let config = DataConfig {
        dataset: format!("mnist_idx:{}", dir.path().display()),
        classes: Some(3),
        ..DataConfig::default()
    };
    data::load(&config).unwrap_err().to_string()
}

#[test]
fn idx_malformed_files_are_named_errors() {
    let wrong_magic = idx_error(|d| {
        let mut bytes = idx_labels(&[0, 1, 2]);
        bytes[3] = 0x03;
        write(d, "train-labels-idx1-ubyte", &bytes);
    });
    assert!(
        wrong_magic.contains("train-labels-idx1-ubyte"),
        "{wrong_magic}"
    );
    assert!(wrong_magic.contains("magic"), "{wrong_magic}");

    let truncated = idx_error(|d| {
        let bytes = idx_images(3, 2, 2, &[1, 2, 3, 4, 5]);
        write(d, "train-images-idx3-ubyte", &bytes);
    });
    assert!(truncated.contains("train-images-idx3-ubyte"), "{truncated}");
    assert!(truncated.contains("truncated"), "{truncated}");

    let short_header = idx_error(|d| {
        write(d, "t10k-images-idx3-ubyte", &[0, 0, 8]);
    });
    assert!(
        short_header.contains("t10k-images-idx3-ubyte"),
        "{short_header}"
    );

    let count_mismatch = idx_error(|d| {
        write(d, "train-labels-idx1-ubyte", &idx_labels(&[0, 1]));
    });
    assert!(count_mismatch.contains("2 labels but"), "{count_mismatch}");

    let out_of_range = idx_error(|d| {
        write(d, "t10k-labels-idx1-ubyte", &idx_labels(&[2, 7]));
    });
    assert!(
        out_of_range.contains("t10k-labels-idx1-ubyte"),
        "{out_of_range}"
    );
    assert!(
        out_of_range.contains("label 7 outside the class range"),
        "{out_of_range}"
    );

    let corrupt_gzip = idx_error(|d| {
        std::fs::remove_file(d.join("train-images-idx3-ubyte")).unwrap();
        write(
            d,
            "train-images-idx3-ubyte.gz",
            &[0x1f, 0x8b, 8, 0, 1, 2, 3],
        );
    });
    assert!(corrupt_gzip.contains("gzip"), "{corrupt_gzip}");

    let missing = data::load(&DataConfig {
        dataset: "mnist_idx:/no/such/dir".into(),
        ..DataConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(missing.contains("/no/such/dir"), "{missing}");
}

#[test]
fn csv_reads_with_and_without_header() {
    let with_header = csv::parse(
        "a,b,label\n1,2,0\n3.5,-4,1\n",
        "x.csv".as_ref(),
        csv::Layout::default(),
    )
    .unwrap();
    let without = csv::parse(
        "1,2,0\n3.5,-4,1\n",
        "x.csv".as_ref(),
        csv::Layout::default(),
    )
    .unwrap();
    assert_eq!(with_header, without);
    assert_eq!(with_header.features, 2);
    assert_eq!(with_header.x, vec![1.0, 2.0, 3.5, -4.0]);
    assert_eq!(with_header.y, vec![0, 1]);
}

#[test]
fn csv_malformed_rows_are_named_errors() {
    let cases = [
        ("1,2,0\n3,4\n", "line 2: ragged row"),
        ("1,2,0\n3,x,1\n", "line 2, column 2: `x` is not a number"),
        ("1,2,0\n3,4,1.5\n", "line 2: label `1.5`"),
        ("1,2,0\n3,4,-1\n", "line 2: label `-1`"),
        ("a,b,c\n", "no data rows"),
    ];
    for (text, expected) in cases {
        let error = csv::parse(text, "bad.csv".as_ref(), csv::Layout::default())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("bad.csv: "), "{error}");
        assert!(error.contains(expected), "{error} lacks {expected}");
        assert!(!error.contains('\n'), "{error}");
    }
}

#[test]
fn csv_test_labels_must_fall_in_the_training_class_range() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", b"0,0,0\n1,1,1\n0,1,1\n1,0,0\n");
    let test = write(dir.path(), "test.csv", b"0,0,0\n1,1,2\n");
    let config = DataConfig {
        dataset: format!("csv:{},{}", train.display(), test.display()),
        ..DataConfig::default()
    };
    let error = data::load(&config).unwrap_err().to_string();
    assert!(error.contains("test.csv"), "{error}");
    assert!(
        error.contains("label 2 outside the class range 0..1"),
        "{error}"
    );
}

#[test]
fn splits_are_disjoint_seeded_and_standardized_on_train_only() {
    let config = DataConfig {
        dataset: "iris".into(),
        ..DataConfig::default()
    };
    let a = data::load(&config).unwrap();
    let b = data::load(&config).unwrap();
    assert_eq!(a.train, b.train);
    assert_eq!(a.train.rows() + a.validation.rows() + a.test.rows(), 150);
    assert_eq!(a.test.rows(), 30);
    assert_eq!(a.validation.rows(), 12);
    for j in 0..4 {
        let column: Vec<f32> = (0..a.train.rows()).map(|i| a.train.row(i)[j]).collect();
        let mean = column.iter().sum::<f32>() / column.len() as f32;
        let var = column.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / column.len() as f32;
        assert!(mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3, "feature {j}");
    }
    let other = data::load(&DataConfig { seed: 1, ..config }).unwrap();
    assert_ne!(a.test, other.test);
}

#[test]
fn csv_target_columns_are_read_as_float_targets() {
    let table = csv::parse(
        "a,b,y1,y2\n1,2,0.5,-3\n3.5,-4,2.25,7\n",
        "r.csv".as_ref(),
        targets(2),
    )
    .unwrap();
    assert_eq!(table.features, 2);
    assert_eq!(table.x, vec![1.0, 2.0, 3.5, -4.0]);
    assert_eq!(table.target_width, 2);
    assert_eq!(table.targets, vec![0.5, -3.0, 2.25, 7.0]);
    assert_eq!(table.target_row(1), [2.25, 7.0]);
    let picked = table.select(&[1]);
    assert_eq!(
        (picked.x, picked.targets),
        (vec![3.5, -4.0], vec![2.25, 7.0])
    );
    let error = csv::parse("1,2\n", "r.csv".as_ref(), targets(2))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "r.csv: line 1: needs at least one feature and 2 target column(s) (data.target_columns)"
    );
}

/// A CSV layout of `n` float target columns, its header detected.
fn targets(n: usize) -> csv::Layout {
    csv::Layout {
        target_columns: n,
        ..csv::Layout::default()
    }
}

/// A CSV layout whose header row is `header`.
fn header(header: csv::Header) -> csv::Layout {
    csv::Layout {
        header,
        ..csv::Layout::default()
    }
}

#[test]
fn csv_header_rows_are_never_dropped_unseen() {
    let path: &std::path::Path = "h.csv".as_ref();
    // A numeric first row is data under `auto` and `false`, a header under `true`.
    let text = "5,6,1\n1,2,0\n";
    let auto = csv::parse(text, path, header(csv::Header::Auto)).unwrap();
    let no = csv::parse(text, path, header(csv::Header::No)).unwrap();
    let yes = csv::parse(text, path, header(csv::Header::Yes)).unwrap();
    assert_eq!((auto.rows(), no.rows(), yes.rows()), (2, 2, 1));
    assert_eq!(yes.x, vec![1.0, 2.0]);
    // A first row of numbers and names is neither, unless the config says.
    let mixed = "1.0,abc,0\n1,2,0\n";
    let error = csv::parse(mixed, path, header(csv::Header::Auto))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "h.csv: line 1 mixes names and numbers: set data.header = true if it is a header, false \
         if it is a data row"
    );
    assert_eq!(
        csv::parse(mixed, path, header(csv::Header::Yes))
            .unwrap()
            .rows(),
        1
    );
    let error = csv::parse("a,b,c\n1,2,0\n", path, header(csv::Header::No))
        .unwrap_err()
        .to_string();
    assert_eq!(error, "h.csv: line 1, column 1: `a` is not a number");
}

#[test]
fn csv_byte_order_marks_and_float_ranges() {
    let path: &std::path::Path = "b.csv".as_ref();
    let plain = csv::parse("x,y,label\n1,2,0\n", path, csv::Layout::default()).unwrap();
    let marked = csv::parse("\u{feff}x,y,label\n1,2,0\n", path, csv::Layout::default()).unwrap();
    assert_eq!(plain, marked);
    let error = csv::parse("1,2,0\n3,1e300,1\n", path, csv::Layout::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "b.csv: line 2, column 2: `1e300` does not fit a 32-bit float"
    );
    let error = csv::parse("1,nan,0\n", path, csv::Layout::default())
        .unwrap_err()
        .to_string();
    assert_eq!(error, "b.csv: line 1, column 2: `nan` is not finite");
}

#[test]
fn csv_files_that_are_not_text_or_listed_twice_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.csv", b"1,2,0\n3,\xff,1\n");
    let error = csv::read(&bad, csv::Layout::default())
        .unwrap_err()
        .to_string();
    assert_eq!(error, format!("{}: line 2: not UTF-8 text", bad.display()));
    let good = write(dir.path(), "good.csv", b"1,2,0\n3,4,1\n");
    let config = DataConfig {
        dataset: format!("csv:{0},{0},{0}", good.display()),
        ..DataConfig::default()
    };
    let error = data::load(&config).unwrap_err().to_string();
    assert!(
        error.starts_with("config `data.dataset`: `csv:` takes a training file"),
        "{error}"
    );
    let config = DataConfig {
        header: csv::Header::Yes,
        ..DataConfig::default()
    };
    let error = data::load(&config).unwrap_err().to_string();
    assert_eq!(
        error,
        "config `data.header`: `digits` is not a CSV file: it has no header row to choose"
    );
}

#[test]
fn idx_headers_are_checked_against_each_other_and_their_products() {
    let empty = idx_error(|d| {
        write(d, "train-images-idx3-ubyte", &idx_images(3, 0, 2, &[]));
    });
    assert!(
        empty.ends_with("train-images-idx3-ubyte: the header describes empty images (0×2)"),
        "{empty}"
    );
    let overflow = idx_error(|d| {
        let bytes = idx_images(u32::MAX, u32::MAX, u32::MAX, &[1, 2, 3]);
        write(d, "train-images-idx3-ubyte", &bytes);
    });
    assert!(overflow.contains("overflow a byte count"), "{overflow}");
    let none = idx_error(|d| {
        write(d, "train-images-idx3-ubyte", &idx_images(0, 2, 2, &[]));
        write(d, "train-labels-idx1-ubyte", &idx_labels(&[]));
    });
    assert!(
        none.ends_with("train-images-idx3-ubyte: the header promises no images"),
        "{none}"
    );
    let shapes = idx_error(|d| {
        write(
            d,
            "t10k-images-idx3-ubyte",
            &idx_images(1, 3, 1, &[1, 2, 3]),
        );
        write(d, "t10k-labels-idx1-ubyte", &idx_labels(&[0]));
    });
    assert!(
        shapes.ends_with("t10k-images-idx3-ubyte: images of 3 pixels, the training images have 4"),
        "{shapes}"
    );
}

/// A CIFAR record: the label bytes, then image `seed`'s pixels (red plane, green, blue).
fn cifar_record(labels: &[u8], seed: u8) -> Vec<u8> {
    let mut out = labels.to_vec();
    for channel in 0..3u8 {
        out.extend((0..1024).map(|p| (p as u8).wrapping_mul(seed).wrapping_add(channel * 80)));
    }
    out
}

#[test]
fn cifar_binary_files_load_as_channel_major_images() {
    let dir = tempfile::tempdir().unwrap();
    for batch in 1..=5u8 {
        let bytes = [cifar_record(&[batch], batch), cifar_record(&[9], 7)].concat();
        std::fs::write(dir.path().join(format!("data_batch_{batch}.bin")), bytes).unwrap();
    }
    std::fs::write(dir.path().join("test_batch.bin"), cifar_record(&[3], 2)).unwrap();
    let config = DataConfig {
        dataset: format!("cifar10:{}", dir.path().display()),
        validation_fraction: 0.0,
        scaling: data::Scaling::None,
        ..DataConfig::default()
    };
    let set = data::load(&config).unwrap();
    assert_eq!(set.volume(), Some([3, 32, 32]));
    assert_eq!(
        (set.train.rows(), set.test.rows(), set.classes),
        (10, 1, 10)
    );
    assert_eq!(set.test.y, [3]);
    let image = set.test.row(0);
    // Pixel (row 1, column 2) of the green plane: index 1024 + 34, value 34·2 + 80.
    assert_eq!(image[1024 + 34], 148.0);
    assert_eq!(image[2048], 160.0, "the blue plane starts at 2048");
    let mut labels = set.train.y.clone();
    labels.sort();
    assert_eq!(labels, [1, 2, 3, 4, 5, 9, 9, 9, 9, 9]);
}

#[test]
fn cifar100_keeps_the_fine_or_the_coarse_label_and_bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let train = [cifar_record(&[4, 41], 1), cifar_record(&[19, 99], 3)].concat();
    std::fs::write(dir.path().join("train.bin"), &train).unwrap();
    std::fs::write(dir.path().join("test.bin"), cifar_record(&[0, 7], 5)).unwrap();
    let load = |name: &str| {
        data::load(&DataConfig {
            dataset: format!("{name}:{}", dir.path().display()),
            validation_fraction: 0.0,
            ..DataConfig::default()
        })
    };
    let mut fine = load("cifar100").unwrap().train.y;
    fine.sort();
    assert_eq!(fine, [41, 99]);
    let mut coarse = load("cifar100_coarse").unwrap().train.y;
    coarse.sort();
    assert_eq!(coarse, [4, 19]);
    std::fs::write(dir.path().join("test.bin"), &train[..3000]).unwrap();
    let message = load("cifar100").unwrap_err().to_string();
    assert!(
        message.contains("test.bin: 3000 bytes is not a whole number of 3074-byte records"),
        "{message}"
    );
    std::fs::write(dir.path().join("test.bin"), cifar_record(&[25, 7], 5)).unwrap();
    let message = load("cifar100_coarse").unwrap_err().to_string();
    assert!(
        message.contains("record 0: label 25, this set has 20 classes"),
        "{message}"
    );
    let missing = load("cifar10").unwrap_err().to_string();
    assert!(missing.contains("data_batch_1.bin"), "{missing}");
}

/// Writes a `width`×`height` image of one colour to `path` (PNG or JPEG by extension).
fn solid_image(path: &Path, [r, g, b]: [u8; 3], width: u32, height: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(width, height, image::Rgb([r, g, b]))
        .save(path)
        .unwrap();
}

#[test]
fn image_folders_load_one_class_per_folder_resized() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for k in 0..3 {
        solid_image(&root.join(format!("cats/{k}.png")), [250, 0, 0], 10, 12);
        solid_image(&root.join(format!("dogs/{k}.JPG")), [0, 0, 250], 7, 5);
    }
    std::fs::write(root.join("cats/notes.txt"), "not an image").unwrap();
    let load = |shape: &str, dataset: String| {
        let overrides = vec![
            format!("data.dataset={dataset}"),
            format!("data.image_shape={shape}"),
            "data.validation_fraction=0.0".into(),
            "data.test_fraction=0.0".into(),
            "data.scaling=none".into(),
        ];
        let config = plasticity::experiment::ExperimentConfig::load(None, &overrides)?;
        data::load(&config.data)
    };
    let images = format!("images:{}", root.display());
    let err = load("[3, 8, 8]", images.clone()).unwrap_err().to_string();
    assert!(err.contains("empty training or test split"), "{err}");
    let overrides = |shape: &str| {
        vec![
            format!("data.dataset={images}"),
            format!("data.image_shape={shape}"),
            "data.scaling=none".into(),
            "data.validation_fraction=0.0".into(),
            "data.test_fraction=0.34".into(),
        ]
    };
    let config =
        plasticity::experiment::ExperimentConfig::load(None, &overrides("[3, 8, 8]")).unwrap();
    let set = data::load(&config.data).unwrap();
    assert_eq!(set.volume(), Some([3, 8, 8]));
    assert_eq!(
        set.train.rows() + set.test.rows(),
        6,
        "the text file is skipped"
    );
    assert_eq!(set.classes, 2);
    for table in [&set.train, &set.test] {
        for (i, &label) in table.y.iter().enumerate() {
            let image = table.row(i);
            let (red, blue) = (
                image[..64].iter().sum::<f32>() / 64.0,
                image[128..].iter().sum::<f32>() / 64.0,
            );
            // cats (label 0, sorted first) are red, dogs blue; JPEG rounds a little.
            let (want_red, want_blue) = if label == 0 {
                (250.0, 0.0)
            } else {
                (0.0, 250.0)
            };
            assert!(
                (red - want_red).abs() < 8.0 && (blue - want_blue).abs() < 8.0,
                "{label}: {red} {blue}"
            );
        }
    }
    let grey = data::load(
        &plasticity::experiment::ExperimentConfig::load(None, &overrides("[1, 4, 6]"))
            .unwrap()
            .data,
    )
    .unwrap();
    assert_eq!(grey.train.features, 24);
    let split = tempfile::tempdir().unwrap();
    for (part, n) in [("train", 3), ("test", 1)] {
        for k in 0..n {
            solid_image(
                &split.path().join(format!("{part}/a/{k}.png")),
                [9, 9, 9],
                4,
                4,
            );
            solid_image(
                &split.path().join(format!("{part}/b/{k}.png")),
                [200, 200, 200],
                4,
                4,
            );
        }
    }
    let both = load("[1, 4, 4]", format!("images:{}", split.path().display())).unwrap();
    assert_eq!((both.train.rows(), both.test.rows()), (6, 2));
    std::fs::write(root.join("dogs/broken.png"), b"\x89PNG not really").unwrap();
    let broken = load("[3, 8, 8]", images.clone()).unwrap_err().to_string();
    assert!(
        broken.contains("broken.png: not a readable image"),
        "{broken}"
    );
    let no_shape =
        plasticity::experiment::ExperimentConfig::load(None, &[format!("data.dataset={images}")]);
    let message = match no_shape {
        Ok(config) => data::load(&config.data).unwrap_err().to_string(),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("`data.image_shape`: an image folder needs the shape"),
        "{message}"
    );
}
