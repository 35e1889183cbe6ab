//! `plasticity._plasticity`: the engine behind the Python package (`python/plasticity/`).
//! Configs arrive as TOML paths or JSON text (from dicts), arrays as numpy `float32` /
//! `uint32` arrays; every error is raised as `plasticity.PlasticityError` with the CLI's
//! one-line message; training and stepping run with the GIL released.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use plasticity::data::{Dataset, Table};
use plasticity::engine::Trainer as EngineTrainer;
use plasticity::experiment::{self, EpochHook, ExperimentConfig, RunOptions};
use plasticity::net::weights::WeightsFile;
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(
    _plasticity,
    PlasticityError,
    PyValueError,
    "A bad config, data set or weights file: the CLI's one-line message."
);

fn raise(error: plasticity::Error) -> PyErr {
    PlasticityError::new_err(error.to_string().replace('\n', " "))
}

/// The experiment from a TOML file, JSON text (a dict) or the defaults, with `overrides`.
fn load_config(
    path: Option<&str>,
    json: Option<&str>,
    overrides: &[String],
) -> PyResult<ExperimentConfig> {
    if let Some(json) = json {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| PlasticityError::new_err(format!("config: {e}")))?;
        let mut table: toml::Table = toml::Value::try_from(value)
            .ok()
            .and_then(|v| v.as_table().cloned())
            .ok_or_else(|| {
                PlasticityError::new_err("config: a dict of sections (no None values)")
            })?;
        plasticity::experiment::config::apply_overrides(&mut table, overrides).map_err(raise)?;
        return ExperimentConfig::from_table(table).map_err(raise);
    }
    ExperimentConfig::load(path.map(Path::new), overrides).map_err(raise)
}

/// A `[rows, features]` float32 array and its labels as a table's parts.
fn table_parts(
    x: &PyReadonlyArray2<'_, f32>,
    y: &PyReadonlyArray1<'_, u32>,
) -> PyResult<(Vec<f32>, [usize; 2], Vec<u32>)> {
    let shape = x.shape();
    let features = x
        .as_slice()
        .map_err(|_| PlasticityError::new_err("X: a C-contiguous array"))?
        .to_vec();
    let labels = y
        .as_slice()
        .map_err(|_| PlasticityError::new_err("y: a contiguous array"))?
        .to_vec();
    Ok((features, [shape[0], shape[1]], labels))
}

/// The config's data set, or the arrays given (split and scaled as the config says).
fn dataset(
    config: &ExperimentConfig,
    train: Option<(PyReadonlyArray2<'_, f32>, PyReadonlyArray1<'_, u32>)>,
    test: Option<(PyReadonlyArray2<'_, f32>, PyReadonlyArray1<'_, u32>)>,
) -> PyResult<Dataset> {
    let Some((x, y)) = train else {
        return plasticity::data::load(&config.data).map_err(raise);
    };
    let (features, shape, labels) = table_parts(&x, &y)?;
    let test = test.map(|(x, y)| table_parts(&x, &y)).transpose()?;
    Dataset::from_arrays(features, shape, labels, test, &config.data).map_err(raise)
}

type Arrays<'py> = Option<(PyReadonlyArray2<'py, f32>, PyReadonlyArray1<'py, u32>)>;

/// A config as Python hands it over: `(TOML path, JSON text, overrides)`.
type ConfigArgs = (Option<String>, Option<String>, Vec<String>);

/// Trains one run into `out/<name>/`; returns the run directory and its `summary.json` text.
#[pyfunction]
#[pyo3(signature = (config, train, test, out, quiet, progress))]
fn train(
    py: Python<'_>,
    config: ConfigArgs,
    train: Arrays<'_>,
    test: Arrays<'_>,
    out: PathBuf,
    quiet: bool,
    progress: bool,
) -> PyResult<(String, String)> {
    let (path, json, overrides) = config;
    let config = load_config(path.as_deref(), json.as_deref(), &overrides)?;
    let given = train.is_some();
    let data = dataset(&config, train, test)?;
    let interrupted: Arc<Mutex<Option<PyErr>>> = Arc::default();
    let options = RunOptions {
        out: out.clone(),
        quiet,
        on_epoch: Some(epoch_hook(progress, interrupted.clone())),
        ..RunOptions::default()
    };
    let result = py.detach(|| {
        if given {
            experiment::train_on(&config, &data, &options)
        } else {
            experiment::train(&config, &options)
        }
    });
    if progress {
        let _ = py.import("builtins")?.getattr("print")?.call0();
    }
    let summary = match result {
        Err(error @ plasticity::Error::Stopped { .. }) => {
            let cause = interrupted.lock().unwrap_or_else(|e| e.into_inner()).take();
            return Err(match cause {
                Some(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => {
                    PyKeyboardInterrupt::new_err(error.to_string())
                }
                Some(e) => e,
                None => raise(error),
            });
        }
        other => other.map_err(raise)?,
    };
    let dir = out.join(&config.name);
    let text = serde_json::to_string(&summary).unwrap_or_default();
    Ok((dir.display().to_string(), text))
}

/// After every epoch, with the GIL: a progress line (`progress`), and Python's pending
/// signals; a Ctrl-C is kept in `interrupted` and stops the run (its files and checkpoint
/// written: the same config resumes it).
fn epoch_hook(progress: bool, interrupted: Arc<Mutex<Option<PyErr>>>) -> EpochHook {
    EpochHook(Arc::new(move |metrics, epochs| {
        Python::attach(|py| {
            if progress {
                let accuracy = metrics
                    .test_accuracy
                    .map_or(String::new(), |a| format!(", test accuracy {a:.4}"));
                let line = format!(
                    "epoch {}/{epochs}: train loss {:.4}{accuracy}",
                    metrics.epoch, metrics.train_loss
                );
                let kwargs = PyDict::new(py);
                let printed = kwargs
                    .set_item("end", "\r")
                    .and_then(|()| kwargs.set_item("flush", true))
                    .and_then(|()| py.import("builtins")?.getattr("print"))
                    .and_then(|print| print.call((line,), Some(&kwargs)));
                if let Err(e) = printed {
                    *interrupted.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                    return false;
                }
            }
            match py.check_signals() {
                Ok(()) => true,
                Err(e) => {
                    *interrupted.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                    false
                }
            }
        })
    }))
}

/// Trains every variant of a comparison file (`jobs` runs at once), for `seeds` seeds when
/// given (the file's seed, +1, …); returns the directory holding `table.csv` (or, with
/// seeds, `seeds.csv`).
#[pyfunction]
#[pyo3(signature = (path, overrides, out, jobs, quiet, seeds))]
fn compare(
    py: Python<'_>,
    path: PathBuf,
    overrides: Vec<String>,
    out: PathBuf,
    jobs: usize,
    quiet: bool,
    seeds: Option<usize>,
) -> PyResult<String> {
    use plasticity::experiment::compare::{self, CompareOptions, Comparison};
    let comparison = Comparison::load(&path, &overrides).map_err(raise)?;
    let options = CompareOptions {
        out,
        quiet,
        jobs: jobs.max(1),
    };
    let dir = py
        .detach(|| match seeds {
            Some(count) => compare::compare_seeds(&comparison, &options, count).map(|r| r.dir),
            None => compare::compare(&comparison, &options).map(|r| r.dir),
        })
        .map_err(raise)?;
    Ok(dir.display().to_string())
}

/// Runs a sweep file (`jobs` runs at once; finished runs are kept); returns its directory.
#[pyfunction]
#[pyo3(signature = (path, overrides, out, jobs, quiet))]
fn sweep(
    py: Python<'_>,
    path: PathBuf,
    overrides: Vec<String>,
    out: PathBuf,
    jobs: usize,
    quiet: bool,
) -> PyResult<String> {
    use plasticity::experiment::sweep::{Sweep, SweepOptions, run};
    let sweep = Sweep::load(&path, &overrides).map_err(raise)?;
    let options = SweepOptions {
        out,
        jobs: jobs.max(1),
        shard: None,
        merge: false,
        quiet,
    };
    let report = py.detach(|| run(&sweep, &options)).map_err(raise)?;
    Ok(report.dir.display().to_string())
}

/// The tensors of a safetensors file by name: `(shape, values)`.
#[pyfunction]
fn read_weights<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let file = WeightsFile::read(&path).map_err(raise)?;
    weights_dict(py, &file)
}

fn weights_dict<'py>(py: Python<'py>, file: &WeightsFile) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for name in file.names() {
        let (shape, values) = file.tensor(name).expect("listed tensors exist");
        let array = PyArray1::from_slice(py, values).reshape(shape.to_vec())?;
        dict.set_item(name, array)?;
    }
    Ok(dict)
}

/// What the Python `Trainer` holds: the engine's trainer and the data it was built on.
struct Inner {
    trainer: EngineTrainer,
    data: Dataset,
}

/// A net and its rule stepped one mini-batch at a time (the engine's `Trainer`).
#[pyclass(module = "plasticity._plasticity")]
struct Trainer {
    inner: Mutex<Inner>,
}

impl Trainer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The rows of `x` scaled as the training split was, as a table with labels `y`.
fn scaled_table(
    inner: &Inner,
    x: &PyReadonlyArray2<'_, f32>,
    y: Option<Vec<u32>>,
) -> PyResult<Table> {
    let shape = x.shape();
    let width = inner.data.features();
    if shape[1] != width {
        return Err(PlasticityError::new_err(format!(
            "X has {} features per row; the net takes {width}",
            shape[1]
        )));
    }
    let mut values = x
        .as_slice()
        .map_err(|_| PlasticityError::new_err("X: a C-contiguous array"))?
        .to_vec();
    inner.data.scaler.apply_rows(&mut values);
    let labels = y.unwrap_or_else(|| vec![0; shape[0]]);
    if let Some(&bad) = labels
        .iter()
        .find(|&&l| l as usize >= inner.data.classes.max(1))
    {
        return Err(PlasticityError::new_err(format!(
            "label {bad} is not below the {} classes",
            inner.data.classes
        )));
    }
    Table::from_arrays(values, [shape[0], shape[1]], labels, "X").map_err(raise)
}

/// The data set's split named `split`: `train`, `validation` or `test`.
fn split_of<'a>(data: &'a Dataset, split: &str) -> PyResult<&'a Table> {
    match split {
        "train" => Ok(&data.train),
        "validation" => Ok(&data.validation),
        "test" => Ok(&data.test),
        other => Err(PlasticityError::new_err(format!(
            "split `{other}`: train, validation or test"
        ))),
    }
}

#[pymethods]
impl Trainer {
    #[new]
    #[pyo3(signature = (config, train, test))]
    fn new(config: ConfigArgs, train: Arrays<'_>, test: Arrays<'_>) -> PyResult<Self> {
        let (path, json, overrides) = config;
        let config = load_config(path.as_deref(), json.as_deref(), &overrides)?;
        let data = dataset(&config, train, test)?;
        let mut trainer = EngineTrainer::new(&config, &data).map_err(raise)?;
        if !config.rule_settings().map_err(raise)?.embeds_label() {
            let rows = config.train.align_batch.min(data.train.rows());
            trainer.set_probe(&data.train, rows);
        }
        Ok(Self {
            inner: Mutex::new(Inner { trainer, data }),
        })
    }

    /// One training step on raw inputs `x` `[batch, features]` (scaled as the training data
    /// was) and labels `y` `[batch]`: `{"loss", "mean_abs_grad"}`.
    fn step<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
        y: PyReadonlyArray1<'py, u32>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let labels = y
            .as_slice()
            .map_err(|_| PlasticityError::new_err("y: contiguous"))?
            .to_vec();
        let mut guard = self.lock();
        let table = scaled_table(&guard, &x, Some(labels))?;
        let inner: &mut Inner = &mut guard;
        let (loss, grads) = py.detach(move || {
            let rows: Vec<usize> = (0..table.rows()).collect();
            let batch = inner.trainer.batch(&table, &rows);
            let report = inner.trainer.step(&batch);
            (report.loss(), report.mean_abs_grad())
        });
        let out = PyDict::new(py);
        out.set_item("loss", loss)?;
        out.set_item("mean_abs_grad", grads)?;
        Ok(out)
    }

    /// The rule's predictions (scores, `[rows, outputs]`) for raw inputs `x`.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut guard = self.lock();
        let table = scaled_table(&guard, &x, None)?;
        let inner: &mut Inner = &mut guard;
        let rows = table.rows();
        let (values, cols) = py.detach(move || {
            let rows: Vec<usize> = (0..table.rows()).collect();
            let batch = inner.trainer.batch(&table, &rows);
            let scores = inner.trainer.predict(batch.x);
            let cols = scores.dims()[1];
            (
                scores.into_data().try_to_vec::<f32>().unwrap_or_default(),
                cols,
            )
        });
        Ok(PyArray1::from_vec(py, values)
            .reshape([rows, cols])?
            .into_any())
    }

    /// Loss and accuracy on the trainer's `split` (`train`, `validation`, `test`).
    fn evaluate<'py>(&self, py: Python<'py>, split: &str) -> PyResult<Bound<'py, PyDict>> {
        let mut guard = self.lock();
        let inner: &mut Inner = &mut guard;
        let table = split_of(&inner.data, split)?;
        let trainer = &mut inner.trainer;
        let evaluation = py.detach(move || trainer.evaluate(table));
        let out = PyDict::new(py);
        out.set_item("loss", evaluation.loss)?;
        out.set_item("accuracy", evaluation.accuracy)?;
        out.set_item("samples", evaluation.samples)?;
        Ok(out)
    }

    /// The trainer's `split` as it was given (before scaling): `(X, y)`.
    fn split<'py>(
        &self,
        py: Python<'py>,
        split: &str,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let inner = self.lock();
        let table = split_of(&inner.data, split)?;
        let mut raw = table.x.clone();
        inner.data.scaler.unscale_rows(&mut raw);
        let x = PyArray1::from_vec(py, raw).reshape([table.rows(), table.features])?;
        let y = PyArray1::from_slice(py, &table.y);
        Ok((x.into_any(), y.into_any()))
    }

    /// Inputs `x` scaled as the training data was: what the net itself takes (e.g. to run
    /// its weights in PyTorch).
    fn scale<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.lock();
        let table = scaled_table(&inner, &x, None)?;
        let shape = [table.rows(), table.features];
        Ok(PyArray1::from_vec(py, table.x).reshape(shape)?.into_any())
    }

    /// Per block, the angle (degrees) between the rule's update and the backprop gradient on
    /// a fixed probe batch of training rows; `None` for forward-forward.
    fn alignment(&self, py: Python<'_>) -> Option<Vec<Option<f64>>> {
        let mut guard = self.lock();
        let trainer = &mut guard.trainer;
        py.detach(move || trainer.measure_alignment().map(|a| a.grad_angle))
    }

    /// Every tensor of the net and the rule, PyTorch's names and layouts.
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let inner = self.lock();
        let file = WeightsFile::of(&[inner.trainer.net(), inner.trainer.rule()]);
        weights_dict(py, &file)
    }

    /// Loads every tensor of the net and the rule from `weights` (name → `(shape, flat
    /// float32 values)`, PyTorch's names and layouts; every tensor must be there).
    fn load_weights(
        &self,
        weights: BTreeMap<String, (Vec<usize>, PyReadonlyArray1<'_, f32>)>,
    ) -> PyResult<()> {
        let tensors = weights
            .into_iter()
            .map(|(name, (shape, array))| {
                let values = array
                    .as_slice()
                    .map(<[f32]>::to_vec)
                    .map_err(|_| PlasticityError::new_err(format!("{name}: a contiguous array")))?;
                Ok((name, (shape, values)))
            })
            .collect::<PyResult<BTreeMap<_, _>>>()?;
        let file = WeightsFile::from_tensors(tensors, Path::new("weights")).map_err(raise)?;
        self.lock().trainer.load_weights(&file).map_err(raise)
    }

    /// Training steps so far.
    fn iteration(&self) -> usize {
        self.lock().trainer.iteration()
    }
}

/// The extension module.
#[pymodule]
fn _plasticity(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PlasticityError", m.py().get_type::<PlasticityError>())?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(read_weights, m)?)?;
    m.add_class::<Trainer>()?;
    Ok(())
}
