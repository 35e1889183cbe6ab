"""plasticity from Python: the same engine, speed and reproducibility as the CLI.

Train the same network, on the same data, from the same initial weights, with different
learning rules (backprop, feedback alignment, DFA, DRTP, local losses, linear decoders,
forward-forward, target propagation) and see why one learns and another does not.

    >>> import plasticity
    >>> run = plasticity.train({"data": {"dataset": "iris"}, "train": {"epochs": 5}})
    >>> run.summary["test_accuracy"] > 0.5
    True
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _plasticity
from ._plasticity import PlasticityError

__all__ = ["PlasticityError", "Run", "Trainer", "compare", "read_weights", "sweep", "train"]

Config = Union[None, str, os.PathLike, Mapping[str, Any]]


def _config_args(config: Config) -> Tuple[Optional[str], Optional[str]]:
    """(path, json) of a config given as a TOML path, a dict, or None (the defaults)."""
    if config is None:
        return None, None
    if isinstance(config, (str, os.PathLike)):
        return os.fspath(config), None
    if isinstance(config, Mapping):
        return None, json.dumps(config)
    raise PlasticityError(f"config: a TOML path or a dict, not {type(config).__name__}")


def _overrides(overrides: Optional[Mapping[str, Any]]) -> List[str]:
    """`--set key=value` strings from a dict of dotted keys (values as TOML literals)."""
    out = []
    for key, value in (overrides or {}).items():
        out.append(f"{key}={json.dumps(value)}")
    return out


def _features(x: Any, name: str) -> np.ndarray:
    """`x` as a C-contiguous float32 matrix (no copy when it already is one)."""
    array = np.ascontiguousarray(x, dtype=np.float32)
    if array.ndim == 1:
        raise PlasticityError(f"{name}: a 2-D array [rows, features], got shape {array.shape}")
    if array.ndim > 2:
        array = array.reshape(array.shape[0], -1)
    return array


def _labels(y: Any, name: str) -> np.ndarray:
    """`y` as contiguous uint32 class labels (no copy when it already is)."""
    array = np.asarray(y)
    if array.ndim != 1:
        raise PlasticityError(f"{name}: a 1-D array of class labels, got shape {array.shape}")
    if array.size and (not np.issubdtype(array.dtype, np.integer) or array.min() < 0):
        raise PlasticityError(f"{name}: class labels must be integers ≥ 0")
    return np.ascontiguousarray(array, dtype=np.uint32)


def _arrays(x: Any, y: Any, what: str) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    if x is None and y is None:
        return None
    if x is None or y is None:
        raise PlasticityError(f"{what}: give both X and y")
    return _features(x, f"X{what}"), _labels(y, f"y{what}")


class Run:
    """A finished run: its directory and the files the CLI writes there."""

    def __init__(self, directory: str, summary: Dict[str, Any]) -> None:
        self.dir: Path = Path(directory)
        """The run directory (`config.toml`, `metrics.jsonl`, `weights.safetensors`, …)."""
        self.summary: Dict[str, Any] = summary
        """`summary.json`: status, test accuracy and loss, epochs, timings."""

    @property
    def metrics(self) -> List[Dict[str, Any]]:
        """One dict per epoch (`metrics.jsonl`): losses, accuracies, per-block magnitudes."""
        path = self.dir / "metrics.jsonl"
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [line for line in lines if "epoch" in line]

    @property
    def weights(self) -> Dict[str, np.ndarray]:
        """The trained tensors by PyTorch name (`blocks.0.linear.weight`, …)."""
        return read_weights(self.dir / "weights.safetensors")

    def to_pandas(self) -> Any:
        """The metrics as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.metrics)

    def __repr__(self) -> str:
        acc = self.summary.get("test_accuracy")
        return f"Run({str(self.dir)!r}, test_accuracy={acc})"


def train(
    config: Config = None,
    X: Any = None,
    y: Any = None,
    X_test: Any = None,
    y_test: Any = None,
    *,
    overrides: Optional[Mapping[str, Any]] = None,
    out: Union[str, os.PathLike] = "runs",
    quiet: bool = True,
    progress: bool = True,
) -> Run:
    """Trains one run, as `plasticity train` does, into `out/<name>/`.

    `config` is a TOML path or a dict of sections (`{"train": {"rule": "dfa"}}`); `X`, `y`
    (and optionally `X_test`, `y_test`) train on arrays instead of `data.dataset`: `X` float
    `[rows, features]`, `y` integer class labels `[rows]`. The GIL is released while it trains;
    `progress` prints one updating line per epoch (in notebooks too). Ctrl-C stops the run
    after the current epoch with `KeyboardInterrupt`, its files and checkpoint written (the
    same call resumes it).
    """
    path, text = _config_args(config)
    arrays = _arrays(X, y, "")
    test = _arrays(X_test, y_test, "_test")
    if test is not None and arrays is None:
        raise PlasticityError("X_test: give X and y too")
    directory, summary = _plasticity.train(
        (path, text, _overrides(overrides)), arrays, test, os.fspath(out), quiet, progress
    )
    return Run(directory, json.loads(summary))


def compare(
    path: Union[str, os.PathLike],
    *,
    overrides: Optional[Mapping[str, Any]] = None,
    out: Union[str, os.PathLike] = "runs",
    jobs: int = 1,
    quiet: bool = True,
    seeds: Optional[int] = None,
) -> List[Dict[str, str]]:
    """Trains every variant of a comparison file from the same start (`jobs` runs at once,
    each on its share of the cores; the results do not depend on it); returns its table (one
    dict per variant, the columns of `table.csv`). With `seeds`, runs the comparison for that
    many seeds (the file's seed, +1, …; every seed's runs share the `jobs` queue) and returns
    the table over them (the columns of `seeds.csv`: test accuracy and loss as mean and std)."""
    directory = _plasticity.compare(
        os.fspath(path), _overrides(overrides), os.fspath(out), jobs, quiet, seeds
    )
    name = "table.csv" if seeds is None else "seeds.csv"
    with open(Path(directory) / name, newline="") as table:
        return list(csv.DictReader(table))


def sweep(
    path: Union[str, os.PathLike],
    *,
    overrides: Optional[Mapping[str, Any]] = None,
    out: Union[str, os.PathLike] = "runs",
    jobs: int = 1,
    quiet: bool = True,
) -> List[Dict[str, str]]:
    """Runs a sweep file (a grid of configs with repeated seeds; finished runs are reused);
    returns its per-trial table (the rows of `trials.csv`)."""
    directory = _plasticity.sweep(
        os.fspath(path), _overrides(overrides), os.fspath(out), jobs, quiet
    )
    with open(Path(directory) / "trials.csv", newline="") as table:
        return list(csv.DictReader(table))


def read_weights(path: Union[str, os.PathLike]) -> Dict[str, np.ndarray]:
    """A safetensors weights file as a dict of float32 arrays (PyTorch names and layouts)."""
    return dict(_plasticity.read_weights(os.fspath(path)))


class Trainer:
    """A net and its rule, stepped one mini-batch at a time from Python.

    Built from a config (TOML path or dict) and either the config's data set or arrays `X`,
    `y`; inputs given to `step` and `predict` are scaled as the training data was.
    """

    def __init__(
        self,
        config: Config = None,
        X: Any = None,
        y: Any = None,
        X_test: Any = None,
        y_test: Any = None,
        *,
        overrides: Optional[Mapping[str, Any]] = None,
    ) -> None:
        path, text = _config_args(config)
        arrays = _arrays(X, y, "")
        test = _arrays(X_test, y_test, "_test")
        self._inner = _plasticity.Trainer((path, text, _overrides(overrides)), arrays, test)

    def step(self, xb: Any, yb: Any) -> Dict[str, Any]:
        """One training step on a mini-batch: `{"loss": float, "mean_abs_grad": [per block]}`."""
        return dict(self._inner.step(_features(xb, "xb"), _labels(yb, "yb")))

    def predict(self, X: Any) -> np.ndarray:
        """The rule's output scores `[rows, outputs]` for inputs `X` (evaluation mode)."""
        return self._inner.predict(_features(X, "X"))

    def evaluate(self, split: str = "test") -> Dict[str, Any]:
        """Loss and accuracy on the trainer's `train`, `validation` or `test` split."""
        return dict(self._inner.evaluate(split))

    def split(self, split: str = "train") -> Tuple[np.ndarray, np.ndarray]:
        """The trainer's split as given, before scaling (what `step` and `predict` take):
        `(X, y)`."""
        return self._inner.split(split)

    def scale(self, X: Any) -> np.ndarray:
        """Inputs `X` scaled as the training data was: what the net itself takes (to run its
        weights elsewhere, e.g. in a PyTorch module)."""
        return self._inner.scale(_features(X, "X"))

    def alignment(self) -> Optional[List[Optional[float]]]:
        """Per block, the angle in degrees between the rule's update and the backprop
        gradient on a fixed probe batch (`None` for forward-forward)."""
        return self._inner.alignment()

    def weights(self) -> Dict[str, np.ndarray]:
        """Every tensor of the net and the rule, by PyTorch name."""
        return dict(self._inner.weights())

    def load_weights(self, weights: Mapping[str, Any]) -> None:
        """Loads every tensor of the net and the rule from `weights` (name → array, e.g. a
        PyTorch `state_dict()` converted with `.numpy()`)."""
        flat = {}
        for name, value in weights.items():
            array = np.ascontiguousarray(value, dtype=np.float32)
            flat[name] = (list(array.shape), array.reshape(-1))
        self._inner.load_weights(flat)

    @property
    def iteration(self) -> int:
        """Training steps taken so far."""
        return self._inner.iteration()
