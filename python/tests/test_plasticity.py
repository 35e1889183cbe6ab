"""The Python package against the engine: the same steps, the same weights, clear errors."""

import math
from pathlib import Path

import numpy as np
import pytest

import plasticity

REPO = Path(__file__).resolve().parents[2]


def optional(module):
    """`module`, or the test skipped without it; CI (PLASTICITY_REQUIRE_ALL=1) fails instead."""
    import importlib
    import os

    if os.environ.get("PLASTICITY_REQUIRE_ALL") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)


def iris_config(rule, **train):
    """Iris, no validation split, plain SGD: one full-batch step per epoch."""
    return {
        "name": f"iris_{rule}",
        "data": {"dataset": "iris", "validation_fraction": 0.0},
        "model": {"hidden": [16]},
        "train": {"rule": rule, "optimizer": "sgd", "lr": 0.1, **train},
    }


def test_a_dfa_step_through_python_equals_the_rust_step(tmp_path):
    config = iris_config("dfa", epochs=1, batch_size=1000)
    run = plasticity.train(config, out=tmp_path)  # the Rust run: one full-batch step
    trainer = plasticity.Trainer(config)
    start = trainer.weights()
    X, y = trainer.split("train")
    trainer.step(X, y)
    stepped = trainer.weights()
    rust = run.weights
    assert set(stepped) == set(rust)
    moved = max(float(np.abs(stepped[k] - start[k]).max()) for k in stepped)
    assert moved > 1e-3, "the step changed the weights"
    for name in stepped:
        np.testing.assert_allclose(stepped[name], rust[name], rtol=0, atol=2e-6, err_msg=name)
    # The same from arrays handed over by numpy: the same split, the same step.
    from_arrays = plasticity.Trainer(config, X, y, *trainer.split("test"))
    from_arrays.load_weights(start)
    from_arrays.step(X, y)
    for name, value in from_arrays.weights().items():
        np.testing.assert_allclose(value, rust[name], rtol=0, atol=2e-6, err_msg=name)


def test_weights_round_trip_into_a_pytorch_module_with_the_same_test_accuracy(tmp_path):
    torch = optional("torch")
    config = iris_config("backprop", epochs=40, batch_size=16)
    config["model"]["activation"] = "tanh"
    run = plasticity.train(config, out=tmp_path)
    weights = run.weights

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList()
            for width_in, width_out in [(4, 16), (16, 3)]:
                block = torch.nn.Module()
                block.linear = torch.nn.Linear(width_in, width_out)
                self.blocks.append(block)

        def forward(self, x):
            x = torch.tanh(self.blocks[0].linear(x))
            return self.blocks[1].linear(x)

    net = Net()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    trainer = plasticity.Trainer(config)
    X, y = trainer.split("test")
    with torch.no_grad():
        predicted = net(torch.from_numpy(trainer.scale(X))).argmax(1).numpy()
    torch_accuracy = float((predicted == y).mean())
    assert torch_accuracy == pytest.approx(run.summary["test_accuracy"], abs=1e-9)
    # Back: PyTorch's state_dict into a fresh trainer gives the same accuracy again.
    trainer.load_weights({k: v.numpy() for k, v in net.state_dict().items()})
    assert trainer.evaluate("test")["accuracy"] == pytest.approx(torch_accuracy, abs=1e-9)
    assert torch_accuracy > 0.85


def test_a_conv_net_trained_from_python_runs_as_a_pytorch_lenet(tmp_path):
    # Digits' 8×8 images through conv 4 3×3 (padding 1) → ReLU → max-pool 2 → 16 → 10,
    # trained with DFA; its weights are PyTorch's Conv2d and Linear, with their layouts.
    torch = optional("torch")
    config = {
        "name": "digits_conv",
        "data": {"dataset": "digits"},
        "model": {"arch": "4c3p1-mp2-16", "activation": "relu", "dropout": 0.0},
        "train": {"rule": "dfa", "epochs": 10, "batch_size": 32, "optimizer": "adam", "lr": 3e-3},
    }
    run = plasticity.train(config, out=tmp_path)
    weights = run.weights
    assert weights["blocks.0.conv.weight"].shape == (4, 1, 3, 3)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10),
    )
    names = {"0": "blocks.0.conv", "4": "blocks.1.linear", "6": "blocks.2.linear"}
    net.load_state_dict({
        f"{layer}.{kind}": torch.from_numpy(weights[f"{ours}.{kind}"])
        for layer, ours in names.items() for kind in ("weight", "bias")
    })
    trainer = plasticity.Trainer(config)
    X, y = trainer.split("test")
    images = torch.from_numpy(trainer.scale(X)).reshape(-1, 1, 8, 8)
    with torch.no_grad():
        predicted = net(images).argmax(1).numpy()
    torch_accuracy = float((predicted == y).mean())
    assert torch_accuracy == pytest.approx(run.summary["test_accuracy"], abs=1e-9)
    assert torch_accuracy > 0.85, run.summary


def test_training_on_arrays_and_the_run_files(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2)).astype(np.float64)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    config = {"name": "xor", "model": {"hidden": [16, 16], "activation": "tanh"},
              "train": {"rule": "dfa", "epochs": 40, "batch_size": 16, "lr": 0.01}}
    run = plasticity.train(config, X[:300], y[:300], X[300:], y[300:], out=tmp_path)
    assert run.summary["status"] == "finished"
    assert run.summary["test_accuracy"] > 0.9, run.summary
    assert len(run.metrics) == 40
    assert run.metrics[-1]["test_accuracy"] == run.summary["test_accuracy"]
    assert (run.dir / "report.html").is_file()
    assert len(run.metrics[0]["mean_abs_grad"]) == 3


def test_a_step_reports_the_loss_and_per_block_gradients_and_alignment():
    trainer = plasticity.Trainer(iris_config("feedback_alignment", batch_size=16))
    X, y = trainer.split("train")
    first = trainer.step(X[:16], y[:16])
    assert math.isfinite(first["loss"])
    assert len(first["mean_abs_grad"]) == 2 and all(g > 0 for g in first["mean_abs_grad"])
    angles = trainer.alignment()
    assert len(angles) == 2 and 0 <= angles[0] <= 180
    assert trainer.iteration == 1
    scores = trainer.predict(X)
    assert scores.shape == (len(X), 3)


def test_compare_returns_its_table(tmp_path):
    rows = plasticity.compare(REPO / "experiments" / "vanishing_gradients.toml", out=tmp_path)
    names = ["sigmoid", "tanh", "relu", "relu_large_init", "relu6_large_init"]
    assert [r["variant"] for r in rows] == names
    assert float(rows[2]["test_accuracy"]) > float(rows[0]["test_accuracy"])


def test_compare_with_jobs_gives_the_same_table(tmp_path):
    path = REPO / "experiments" / "vanishing_gradients.toml"
    serial = plasticity.compare(path, out=tmp_path / "serial")
    parallel = plasticity.compare(path, out=tmp_path / "parallel", jobs=2)
    results = lambda rows: [(r["variant"], r["test_accuracy"], r["test_loss"]) for r in rows]
    assert results(parallel) == results(serial)


def test_compare_over_seeds_gives_each_variants_mean_and_std(tmp_path):
    path = REPO / "experiments" / "vanishing_gradients.toml"
    over = {"train.epochs": 2}
    rows = plasticity.compare(path, overrides=over, out=tmp_path / "seeds", seeds=2, jobs=2)
    per_seed = [
        plasticity.compare(path, overrides={**over, "seed": s}, out=tmp_path / f"s{s}")
        for s in (0, 1)
    ]
    for k, row in enumerate(rows):
        accuracies = [float(table[k]["test_accuracy"]) for table in per_seed]
        assert row["variant"] == per_seed[0][k]["variant"]
        assert float(row["test_accuracy_mean"]) == pytest.approx(sum(accuracies) / 2, abs=1e-12)
        spread = abs(accuracies[0] - accuracies[1]) / 2**0.5
        assert float(row["test_accuracy_std"]) == pytest.approx(spread, abs=1e-12)


def test_to_pandas(tmp_path):
    pd = optional("pandas")
    run = plasticity.train(iris_config("backprop", epochs=3), out=tmp_path)
    frame = run.to_pandas()
    assert isinstance(frame, pd.DataFrame) and list(frame["epoch"]) == [1, 2, 3]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: plasticity.train({"train": {"rulee": "dfa"}}), "train.rulee"),
        (lambda: plasticity.train({"train": {"rule": "dfaa"}}), "did you mean `dfa`"),
        (lambda: plasticity.train("no/such/file.toml"), "no/such/file.toml"),
        (lambda: plasticity.Trainer(None, np.zeros((10, 3)), np.zeros(9, dtype=int)), "9 labels"),
        (lambda: plasticity.Trainer(None, np.zeros(10), np.zeros(10, dtype=int)), "2-D"),
        (lambda: plasticity.Trainer(None, np.zeros((10, 2)), -np.ones(10, dtype=int)), "≥ 0"),
        (lambda: plasticity.Trainer(None, np.zeros((10, 2)), np.zeros(10)), "integers"),
        (lambda: plasticity.Trainer({"data": {"dataset": "iris"}}).step(np.zeros((2, 3)), [0, 1]), "3 features"),
        (lambda: plasticity.Trainer({"data": {"dataset": "iris"}}).step(np.zeros((2, 4)), [0, 7]), "label 7"),
        (lambda: plasticity.Trainer({"data": {"dataset": "iris"}}).evaluate("tset"), "split `tset`"),
        (lambda: plasticity.Trainer({"data": {"dataset": "iris"}}).load_weights({}), "weights"),
        (lambda: plasticity.train({"train": {"lr": None}}), "config"),
        (lambda: plasticity.train(42), "config"),
    ],
)
def test_bad_input_raises_a_one_line_error_and_the_interpreter_lives_on(make, message):
    with pytest.raises(plasticity.PlasticityError) as error:
        make()
    text = str(error.value)
    assert message in text, text
    assert "\n" not in text


def test_ctrl_c_stops_a_run_cleanly_after_its_epoch(tmp_path, capsys):
    import os
    import signal
    import threading

    config = iris_config("backprop", epochs=1_000_000, batch_size=16)
    # A process started in the background by a non-interactive shell (`cmd &`, as CI may be)
    # inherits SIGINT ignored, and then Python never installs its handler: the signal below would
    # be dropped and the run would go on for a million epochs. Ctrl-C is what is tested, so the
    # test installs Python's own handler for its duration.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as stopped:
            plasticity.train(config, out=tmp_path)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert "stopped after epoch" in str(stopped.value)
    run = tmp_path / "iris_backprop"
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) >= 1
    assert (run / "checkpoint.safetensors").is_file(), "resumable"
    assert "epoch " in capsys.readouterr().out, "progress was printed"


def test_sweep_returns_one_row_per_trial(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(
        'name = "grid"\n[data]\ndataset = "iris"\n[train]\nepochs = 3\nbatch_size = 16\n'
        '[sweep]\n"train.rule" = ["backprop", "dfa"]\n"train.lr" = [0.001, 0.01]\n'
    )
    rows = plasticity.sweep(path, out=tmp_path / "runs")
    assert len(rows) == 4
    assert {r["train.rule"] for r in rows} == {"backprop", "dfa"}


def _safetensors(path):
    """A safetensors file read with the standard library and numpy only: tensors, metadata."""
    import json
    import struct

    raw = Path(path).read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    metadata = header.pop("__metadata__", {})
    body = raw[8 + length :]
    tensors = {}
    for name, entry in header.items():
        assert entry["dtype"] == "F32", name
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(entry["shape"])
    return tensors, metadata


def test_a_runs_test_accuracy_is_reproduced_from_its_files_alone(tmp_path):
    """The scaling in the weights' metadata, the split rows in splits.json and the raw CSV
    give the run's test accuracy with numpy alone: no plasticity call after training."""
    import json

    rng = np.random.default_rng(3)
    centres = rng.normal(0.0, 3.0, size=(3, 5)) + 40.0  # far from 0: the scaling matters
    labels = rng.integers(0, 3, size=400)
    features = centres[labels] + rng.normal(0.0, 2.5, size=(400, 5))
    csv = tmp_path / "blobs.csv"
    rows = [",".join(f"{v:.6f}" for v in x) + f",{y}" for x, y in zip(features, labels)]
    csv.write_text("a,b,c,d,e,label\n" + "\n".join(rows) + "\n")
    config = {
        "name": "blobs",
        "data": {"dataset": f"csv:{csv}", "examples_frac": 0.5},
        "model": {"hidden": [12], "activation": "tanh"},
        "train": {"rule": "dfa", "epochs": 15, "batch_size": 16, "optimizer": "adam", "lr": 0.01},
    }
    run = plasticity.train(config, out=tmp_path / "runs")
    reported = run.summary["test_accuracy"]

    tensors, metadata = _safetensors(run.dir / "weights.safetensors")
    scaling = json.loads(metadata["scaling"])
    splits = json.loads((run.dir / "splits.json").read_text())
    assert splits["test_rows_of"] == "training file"
    every = splits["train"] + splits["validation"] + splits["test"]
    assert len(set(every)) == len(every), "the splits are disjoint"
    # examples_frac = 0.5: half of the rows left after the test and validation splits.
    assert len(splits["train"]) == round(0.5 * (400 - len(splits["test"]) - len(splits["validation"])))
    raw = np.loadtxt(csv, delimiter=",", skiprows=1)
    x = (raw[splits["test"], :5] - np.array(scaling["shift"])) * np.array(scaling["factor"])
    y = raw[splits["test"], 5].astype(int)
    h = np.tanh(x @ tensors["blocks.0.linear.weight"].T + tensors["blocks.0.linear.bias"])
    logits = h @ tensors["blocks.1.linear.weight"].T + tensors["blocks.1.linear.bias"]
    accuracy = float((logits.argmax(axis=1) == y).mean())
    assert reported > 0.9, f"the run learned: {reported}"
    assert abs(accuracy - reported) < 0.5 / len(y), (accuracy, reported)


def test_tensorboard_events_read_back_with_tensorboards_own_reader(tmp_path):
    """train.tensorboard: scalars per epoch equal to metrics.jsonl, per-block histograms of
    weights and gradients, and a sweep's trials each in their own directory with their
    hyperparameters, all read with TensorBoard's event reader."""
    ea = optional("tensorboard.backend.event_processing.event_accumulator")
    from tensorboard.plugins.hparams import plugin_data_pb2

    config = iris_config("dfa", epochs=4, batch_size=16, tensorboard=True)
    run = plasticity.train(config, out=tmp_path)
    events = ea.EventAccumulator(
        str(run.dir / "tensorboard"), size_guidance={ea.HISTOGRAMS: 0, ea.SCALARS: 0}
    )
    events.Reload()
    tags = events.Tags()
    metrics = run.metrics
    test_accuracy = events.Scalars("accuracy/test")
    assert [e.step for e in test_accuracy] == [1, 2, 3, 4]
    for event, line in zip(test_accuracy, metrics):
        assert abs(event.value - line["test_accuracy"]) < 1e-6
    loss = [e.value for e in events.Scalars("loss/train")]
    assert loss == pytest.approx([m["train_loss"] for m in metrics], rel=1e-6)
    assert {"mean_abs_grad/block_0", "mean_abs_grad/block_1", "dead_units/block_0"} <= set(
        tags["scalars"]
    )
    for name in ["blocks.0.linear.weight", "blocks.1.linear.weight"]:
        weights = events.Histograms(f"weights/{name}")
        assert [h.step for h in weights] == [1, 2, 3, 4]
        last = weights[-1].histogram_value
        final = run.weights[name]
        assert last.num == final.size
        assert last.min == pytest.approx(float(final.min()), abs=1e-6)
        assert last.max == pytest.approx(float(final.max()), abs=1e-6)
        assert sum(last.bucket) == final.size
        grads = events.Histograms(f"gradients/{name}")
        assert len(grads) == 4 and grads[-1].histogram_value.num == final.size

    sweep_file = tmp_path / "lr_sweep.toml"
    sweep_file.write_text(
        """
name = "lr_sweep"
[data]
dataset = "iris"
[model]
hidden = [8]
[train]
rule = "dfa"
epochs = 2
batch_size = 16
tensorboard = true
[sweep]
"train.lr" = [0.01, 0.1]
"train.optimizer" = ["sgd", "adam"]
"""
    )
    plasticity.sweep(sweep_file, out=tmp_path / "sweeps")
    trials = sorted((tmp_path / "sweeps" / "lr_sweep" / "runs").iterdir())
    assert len(trials) == 4
    seen = set()
    for trial in trials:
        events = ea.EventAccumulator(str(trial / "tensorboard"))
        events.Reload()
        content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
        seen.add((hparams["train.lr"].number_value, hparams["train.optimizer"].string_value))
        assert len(events.Scalars("loss/test")) == 2
    assert seen == {(0.01, "sgd"), (0.01, "adam"), (0.1, "sgd"), (0.1, "adam")}
