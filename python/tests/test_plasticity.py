"""The Python package against the engine: the same steps, the same weights, clear errors."""

import math
from pathlib import Path

import numpy as np
import pytest

import plasticity

REPO = Path(__file__).resolve().parents[2]


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
    torch = pytest.importorskip("torch")
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
    assert [r["variant"] for r in rows] == ["sigmoid", "tanh", "relu"]
    assert float(rows[2]["test_accuracy"]) > float(rows[0]["test_accuracy"])


def test_to_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
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
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt) as stopped:
        plasticity.train(config, out=tmp_path)
    timer.cancel()
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
