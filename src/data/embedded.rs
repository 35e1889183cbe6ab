//! The small real data sets compiled into the binary (see `data/README.md` for provenance).

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use crate::data::{Table, csv};
use crate::error::Result;

/// One embedded set.
pub struct Embedded {
    /// Its name in configs.
    pub name: &'static str,
    /// Where it comes from.
    pub source: &'static str,
    bytes: &'static [u8],
    gzip: bool,
    /// Whether its first row is scikit-learn's header (rows, features, class names).
    header: bool,
    /// The shape of a sample when the rows are images.
    volume: Option<[usize; 3]>,
}

/// Every embedded set.
pub const EMBEDDED: &[Embedded] = &[
    Embedded {
        name: "iris",
        source: "embedded: UCI Iris (Fisher 1936), via scikit-learn",
        bytes: include_bytes!("../../data/iris.csv"),
        gzip: false,
        header: true,
        volume: None,
    },
    Embedded {
        name: "digits",
        source: "embedded: UCI optical handwritten digits 8×8, via scikit-learn",
        bytes: include_bytes!("../../data/digits.csv.gz"),
        gzip: true,
        header: false,
        volume: Some([1, 8, 8]),
    },
    Embedded {
        name: "wine",
        source: "embedded: UCI Wine recognition, via scikit-learn",
        bytes: include_bytes!("../../data/wine_data.csv"),
        gzip: false,
        header: true,
        volume: None,
    },
    Embedded {
        name: "breast_cancer",
        source: "embedded: UCI Breast Cancer Wisconsin (diagnostic), via scikit-learn",
        bytes: include_bytes!("../../data/breast_cancer.csv"),
        gzip: false,
        header: true,
        volume: None,
    },
];

impl Embedded {
    /// The set by name.
    pub fn find(name: &str) -> Option<&'static Embedded> {
        EMBEDDED.iter().find(|e| e.name == name)
    }

    /// The shape of a sample when the rows are images (`digits`: 1×8×8).
    pub fn volume(&self) -> Option<[usize; 3]> {
        self.volume
    }

    /// Parses the set.
    pub fn load(&self) -> Result<Table> {
        let path = Path::new(self.name);
        let text = if self.gzip {
            let mut text = String::new();
            GzDecoder::new(self.bytes)
                .read_to_string(&mut text)
                .expect("the embedded gzip file is valid");
            text
        } else {
            String::from_utf8(self.bytes.to_vec()).expect("the embedded file is UTF-8")
        };
        let header = if self.header {
            csv::Header::Yes
        } else {
            csv::Header::No
        };
        let layout = csv::Layout {
            header,
            ..csv::Layout::default()
        };
        let mut table = csv::parse(&text, path, layout)?;
        table.volume = self.volume;
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_sets_have_their_documented_shapes() {
        let expected = [
            ("iris", 150, 4, 3),
            ("digits", 1797, 64, 10),
            ("wine", 178, 13, 3),
            ("breast_cancer", 569, 30, 2),
        ];
        for (name, rows, features, classes) in expected {
            let table = Embedded::find(name).unwrap().load().unwrap();
            assert_eq!(
                (table.rows(), table.features, table.label_bound()),
                (rows, features, classes),
                "{name}"
            );
        }
    }
}
