"""Type stubs of the plasticity package (see `__init__.py` for the docstrings)."""

import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

Config = Union[None, str, os.PathLike, Mapping[str, Any]]
ArrayLike = npt.ArrayLike

class PlasticityError(ValueError):
    """A bad config, data set or weights file: the CLI's one-line message."""

class Run:
    """A finished run: its directory and the files the CLI writes there."""

    dir: Path
    summary: Dict[str, Any]
    def __init__(self, directory: str, summary: Dict[str, Any]) -> None: ...
    @property
    def metrics(self) -> List[Dict[str, Any]]:
        """One dict per epoch (`metrics.jsonl`)."""
    @property
    def weights(self) -> Dict[str, np.ndarray]:
        """The trained tensors by PyTorch name."""
    def to_pandas(self) -> Any:
        """The metrics as a pandas DataFrame (needs pandas)."""

def train(
    config: Config = ...,
    X: Optional[ArrayLike] = ...,
    y: Optional[ArrayLike] = ...,
    X_test: Optional[ArrayLike] = ...,
    y_test: Optional[ArrayLike] = ...,
    *,
    overrides: Optional[Mapping[str, Any]] = ...,
    out: Union[str, os.PathLike] = ...,
    quiet: bool = ...,
    progress: bool = ...,
) -> Run:
    """Trains one run, as `plasticity train` does, into `out/<name>/`."""

def compare(
    path: Union[str, os.PathLike],
    *,
    overrides: Optional[Mapping[str, Any]] = ...,
    out: Union[str, os.PathLike] = ...,
    jobs: int = ...,
    quiet: bool = ...,
    seeds: Optional[int] = ...,
) -> List[Dict[str, str]]:
    """Trains every variant of a comparison file from the same start; returns its table (with
    `seeds`, the mean and std over that many seeds)."""

def sweep(
    path: Union[str, os.PathLike],
    *,
    overrides: Optional[Mapping[str, Any]] = ...,
    out: Union[str, os.PathLike] = ...,
    jobs: int = ...,
    quiet: bool = ...,
) -> List[Dict[str, str]]:
    """Runs a sweep file; returns its per-trial table (`trials.csv`)."""

def read_weights(path: Union[str, os.PathLike]) -> Dict[str, np.ndarray]:
    """A safetensors weights file as a dict of float32 arrays."""

class Trainer:
    """A net and its rule, stepped one mini-batch at a time from Python."""

    def __init__(
        self,
        config: Config = ...,
        X: Optional[ArrayLike] = ...,
        y: Optional[ArrayLike] = ...,
        X_test: Optional[ArrayLike] = ...,
        y_test: Optional[ArrayLike] = ...,
        *,
        overrides: Optional[Mapping[str, Any]] = ...,
    ) -> None: ...
    def step(self, xb: ArrayLike, yb: ArrayLike) -> Dict[str, Any]:
        """One training step: `{"loss": float, "mean_abs_grad": [per block]}`."""
    def predict(self, X: ArrayLike) -> np.ndarray:
        """The rule's output scores `[rows, outputs]`."""
    def evaluate(self, split: str = ...) -> Dict[str, Any]:
        """Loss and accuracy on the `train`, `validation` or `test` split."""
    def split(self, split: str = ...) -> Tuple[np.ndarray, np.ndarray]:
        """The split as given, before scaling: `(X, y)`."""
    def scale(self, X: ArrayLike) -> np.ndarray:
        """Inputs scaled as the training data was."""
    def alignment(self) -> Optional[List[Optional[float]]]:
        """Per block, the angle (degrees) of the rule's update to the backprop gradient."""
    def weights(self) -> Dict[str, np.ndarray]:
        """Every tensor of the net and the rule, by PyTorch name."""
    def load_weights(self, weights: Mapping[str, ArrayLike]) -> None:
        """Loads every tensor of the net and the rule from `weights`."""
    @property
    def iteration(self) -> int:
        """Training steps taken so far."""
