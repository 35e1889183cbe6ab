//! Weights as safetensors files with PyTorch names and layouts (`blocks.0.linear.weight`,
//! `[out, in]`; biases 1-D), loadable with `safetensors.torch.load_file`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::Dtype;

use crate::error::{Error, Result};
use crate::host;
use crate::io;
use crate::net::Parameters;

/// The shape a tensor has in a file: a row (`[1, n]` in memory) is saved 1-D as `[n]`, a
/// convolution's kernels (`[out, in·k·k]`) 4-D as `[out, in, k, k]`.
fn saved_shape(slot: crate::net::Slot, tensor: &burn::tensor::Tensor<2>) -> Vec<usize> {
    let [rows, cols] = tensor.dims();
    if slot.row {
        vec![cols]
    } else if slot.kernel > 0 {
        let k = slot.kernel;
        vec![rows, cols / (k * k), k, k]
    } else {
        tensor.dims().to_vec()
    }
}

/// Serialises every tensor of `models` (in order) into safetensors bytes, with `metadata`.
pub fn to_bytes(models: &[&dyn Parameters], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut entries: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for model in models {
        model.visit(&mut |name, slot, tensor| {
            let shape = saved_shape(slot, tensor);
            let bytes = host::values(tensor)
                .into_iter()
                .flat_map(f32::to_le_bytes)
                .collect();
            entries.push((name.to_string(), shape, bytes));
        });
    }
    serialize(entries, metadata)
}

/// The safetensors layout written by hand so that the same tensors and metadata always give
/// the same bytes (the `safetensors` crate orders metadata by a randomly seeded hash map): an
/// 8-byte little-endian header length, the JSON header with sorted keys padded with spaces to a
/// multiple of 8, then the tensors' bytes in name order.
fn serialize(
    mut entries: Vec<(String, Vec<usize>, Vec<u8>)>,
    metadata: &BTreeMap<String, String>,
) -> Vec<u8> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        let meta: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        header.insert("__metadata__".into(), serde_json::Value::Object(meta));
    }
    let mut offset = 0usize;
    for (name, shape, bytes) in &entries {
        header.insert(
            name.clone(),
            serde_json::json!({
                "dtype": "F32",
                "shape": shape,
                "data_offsets": [offset, offset + bytes.len()],
            }),
        );
        offset += bytes.len();
    }
    let mut text = serde_json::to_string(&header).expect("a JSON map serialises");
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + offset);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    for (_, _, bytes) in &entries {
        out.extend_from_slice(bytes);
    }
    out
}

/// The first name two tensors of `models` share, if any: a file holding both could not be
/// read back.
pub fn duplicate_name(models: &[&dyn Parameters]) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut duplicate = None;
    for model in models {
        model.visit(&mut |name, _, _| {
            if duplicate.is_none() && !seen.insert(name.to_string()) {
                duplicate = Some(name.to_string());
            }
        });
    }
    duplicate
}

/// Saves `models` to `path` atomically; refuses tensors that share a name.
pub fn save(
    path: &Path,
    models: &[&dyn Parameters],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    if let Some(name) = duplicate_name(models) {
        return Err(Error::weights(
            path,
            format!("two tensors are named `{name}`; a weights file needs unique names"),
        ));
    }
    io::write_atomic(path, &to_bytes(models, metadata))
}

/// A safetensors file read into host memory: name → (shape, values).
pub struct WeightsFile {
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    metadata: HashMap<String, String>,
    path: std::path::PathBuf,
}

impl WeightsFile {
    /// Reads and checks a safetensors file (f32 tensors only).
    pub fn read(path: &Path) -> Result<Self> {
        Self::parse(&io::read(path)?, path)
    }

    /// Parses safetensors `bytes` (f32 tensors only); `path` names them in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let parsed = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| Error::weights(path, format!("not a safetensors file: {e}")))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| Error::weights(path, format!("not a safetensors file: {e}")))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let mut tensors = BTreeMap::new();
        for (name, view) in parsed.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(Error::weights(
                    path,
                    format!("tensor `{name}` is {:?}, expected F32", view.dtype()),
                ));
            }
            let values = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.insert(name, (view.shape().to_vec(), values));
        }
        Ok(Self {
            tensors,
            metadata,
            path: path.to_path_buf(),
        })
    }

    /// Refuses a file holding a NaN or infinity, naming the first tensor that does (a start
    /// from it could only diverge).
    pub fn check_finite(&self) -> Result<()> {
        match self
            .tensors
            .iter()
            .find(|(_, (_, values))| values.iter().any(|v| !v.is_finite()))
        {
            Some((name, _)) => Err(Error::weights(
                &self.path,
                format!("tensor `{name}` holds values that are not finite"),
            )),
            None => Ok(()),
        }
    }

    /// Loads the tensors of `model` that the file holds with the right shape and returns the
    /// names of the others (left as they were).
    pub fn load_matching(&self, model: &mut dyn Parameters) -> Vec<String> {
        let mut missing = Vec::new();
        model.visit_mut(&mut |name, slot, tensor| {
            let expected = saved_shape(slot, tensor);
            match self.tensors.get(name) {
                Some((shape, values)) if *shape == expected => {
                    let [rows, cols] = tensor.dims();
                    *tensor = host::matrix(values.clone(), rows, cols, &tensor.device());
                }
                _ => missing.push(name.to_string()),
            }
        });
        missing
    }

    /// Loads every tensor of `model` from the file; every one must be present with its shape.
    pub fn load_into(&self, model: &mut dyn Parameters) -> Result<()> {
        let mut failure = None;
        model.visit_mut(&mut |name, slot, tensor| {
            if failure.is_some() {
                return;
            }
            let expected = saved_shape(slot, tensor);
            match self.tensors.get(name) {
                None => failure = Some(format!("tensor `{name}` is missing")),
                Some((shape, _)) if *shape != expected => {
                    failure = Some(format!(
                        "tensor `{name}` has shape {shape:?}, the network needs {expected:?}"
                    ))
                }
                Some((_, values)) => {
                    let [rows, cols] = tensor.dims();
                    *tensor = host::matrix(values.clone(), rows, cols, &tensor.device());
                }
            }
        });
        match failure {
            Some(message) => Err(Error::weights(&self.path, message)),
            None => Ok(()),
        }
    }

    /// Loads the tensors of `model` that the file holds; one it holds with another shape is
    /// an error naming it, one it lacks stays as it was.
    pub fn load_present(&self, model: &mut dyn Parameters) -> Result<()> {
        let mut failure = None;
        model.visit_mut(&mut |name, slot, tensor| {
            let Some((shape, values)) = self.tensors.get(name) else {
                return;
            };
            let expected = saved_shape(slot, tensor);
            if *shape != expected {
                failure.get_or_insert(format!(
                    "tensor `{name}` has shape {shape:?}, the run needs {expected:?}"
                ));
                return;
            }
            let [rows, cols] = tensor.dims();
            *tensor = host::matrix(values.clone(), rows, cols, &tensor.device());
        });
        match failure {
            Some(message) => Err(Error::weights(&self.path, message)),
            None => Ok(()),
        }
    }

    /// Fails naming the first tensor of the file that none of `models` has.
    pub fn check_all_placed(&self, models: &[&dyn Parameters], what: &str) -> Result<()> {
        let mut known = std::collections::BTreeSet::new();
        for model in models {
            model.visit(&mut |name, _, _| {
                known.insert(name.to_string());
            });
        }
        match self.tensors.keys().find(|name| !known.contains(*name)) {
            Some(name) => Err(Error::weights(
                &self.path,
                format!("tensor `{name}` has no place in {what}"),
            )),
            None => Ok(()),
        }
    }

    /// Names of the tensors in the file.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.tensors.keys()
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shape of tensor `name` as saved (`[out, in]`, `[out, in, kh, kw]`, `[n]`).
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|(shape, _)| shape.as_slice())
    }

    /// A metadata entry of the file's header.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// A weights file from named tensors in memory (`shape`, row-major `values`, PyTorch's
    /// names and layouts, as [`WeightsFile::tensor`] gives them); `origin` names it in errors.
    pub fn from_tensors(
        tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
        origin: &Path,
    ) -> Result<Self> {
        for (name, (shape, values)) in &tensors {
            if shape.iter().product::<usize>() != values.len() {
                return Err(Error::weights(
                    origin,
                    format!(
                        "tensor `{name}` has {} values, its shape {shape:?} needs {}",
                        values.len(),
                        shape.iter().product::<usize>()
                    ),
                ));
            }
        }
        Ok(Self {
            tensors,
            metadata: HashMap::new(),
            path: origin.to_path_buf(),
        })
    }

    /// The tensor `name`: its shape and row-major values.
    pub fn tensor(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.tensors
            .get(name)
            .map(|(shape, values)| (shape.as_slice(), values.as_slice()))
    }

    /// Every tensor of `models` (a trainer's net and rule: `[trainer.net(), trainer.rule()]`)
    /// by name, in the layouts a weights file holds.
    pub fn of(models: &[&dyn Parameters]) -> Self {
        let mut tensors = BTreeMap::new();
        for model in models {
            model.visit(&mut |name, slot, tensor| {
                let shape = saved_shape(slot, tensor);
                tensors.insert(name.to_string(), (shape, host::values(tensor)));
            });
        }
        Self {
            tensors,
            metadata: HashMap::new(),
            path: Path::new("<memory>").to_path_buf(),
        }
    }

    /// The tensor `name` as a matrix (a 1-D tensor as one row), on `device`.
    pub fn matrix(
        &self,
        name: &str,
        device: &burn::tensor::Device,
    ) -> Option<burn::tensor::Tensor<2>> {
        let (shape, values) = self.tensors.get(name)?;
        let (rows, cols) = match shape.as_slice() {
            [cols] => (1, *cols),
            [rows, cols] => (*rows, *cols),
            [rows, rest @ ..] => (*rows, rest.iter().product()),
            _ => return None,
        };
        Some(host::matrix(values.clone(), rows, cols, device))
    }
}
