"""Your model out, end to end on scikit-learn's digits: search with your arrays, retrain with
``nasforge.train``, reload with ``nasforge.load`` and predict on raw held-out samples with the
accuracy ``train`` reported; TorchScript and ONNX give the same outputs; runs on a user's
space retrain too, from Python and from the command line."""

from __future__ import annotations

import json
import os
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import nasforge as run_cli
from sklearn.datasets import load_digits
from user_space import DECISIONS, build_mlp, mlp_space

import nasforge
from nasforge.errors import ConfigError
from nasforge.spaces.base import FunctionSpace

NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                  "nine"])
SPACE = {"name": "nb201", "C": 4, "N": 1}
TRAIN = {"name": "train", "epochs": 1}
# the accuracy train reports is measured where it trained: pin the CPU, where load predicts
CPU = ["device=cpu"]
# the onnx extra (in dev): tested where installed
ONNX = find_spec("onnx") is not None and find_spec("onnxruntime") is not None
FILES = ["model.pt", "model.ts", *(["model.onnx"] if ONNX else []), "retrain.json"]


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Percent right, computed as ``nasforge.training.evaluate`` computes it (same rounding)."""
    return 100.0 * int(np.sum(predicted == labels)) / len(labels)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, ...]:
    """Raw digits (pixel values 0..16, as sklearn has them) with class names as labels, cut
    into train / valid / test by hand: the test samples are known raw."""
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    x, y = data.images[order], NAMES[data.target[order]]
    return x[:1000], y[:1000], x[1000:1400], y[1000:1400], x[1400:], y[1400:]


@pytest.fixture(scope="module")
def retrained(digits: tuple[np.ndarray, ...], tmp_path_factory: pytest.TempPathFactory,
              one_thread: None) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("train") / "run"
    nasforge.search(SPACE, TRAIN, "random", task=digits, trials=2, run_dir=run, progress=False,
                    device="cpu")
    record = nasforge.train(run, 2, task=digits, onnx=ONNX, progress=False, overrides=CPU)
    return run, record


def test_train_writes_and_lists_every_file(retrained: tuple[Path, dict]):
    run, record = retrained
    assert record["files"] == [str(run / "retrain" / name) for name in FILES]
    assert all(Path(f).is_file() for f in record["files"])
    assert json.loads((run / "retrain" / "retrain.json").read_text()) == record
    assert record["epochs"] == 2 and record["space"] == SPACE and record["test_acc"] > 20


def test_load_predicts_raw_samples_with_the_reported_accuracy(
        retrained: tuple[Path, dict], digits: tuple[np.ndarray, ...]):
    run, record = retrained
    model = nasforge.load(run / "retrain" / "model.pt")
    x_test, y_test = digits[4], digits[5]
    assert model.classes == tuple(sorted(NAMES))  # string labels: sorted class names
    assert accuracy(model.predict(x_test), y_test) == record["test_acc"]
    assert isinstance(nasforge.load(run), nasforge.Predictor)  # a run directory works too


def test_torchscript_and_onnx_give_the_pytorch_outputs(
        retrained: tuple[Path, dict], digits: tuple[np.ndarray, ...]):
    onnxruntime = pytest.importorskip("onnxruntime")
    run, _ = retrained
    model = nasforge.load(run)
    raw = torch.from_numpy(digits[4]).float()
    expected = model(raw).detach()
    extra = {"classes.json": ""}
    traced = torch.jit.load(str(run / "retrain" / "model.ts"), _extra_files=extra)
    assert torch.equal(traced(raw), expected)
    assert json.loads(extra["classes.json"]) == list(model.classes or ())
    session = onnxruntime.InferenceSession(str(run / "retrain" / "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    # ONNX fixes the input's rank: raw values in the network's layout (batch, 1, 8, 8)
    (logits,) = session.run(None, {"input": raw.reshape(-1, *model.input_shape).numpy()})
    np.testing.assert_allclose(logits, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_a_run_on_arrays_needs_its_task_again(retrained: tuple[Path, dict]):
    run, _ = retrained
    with pytest.raises(ConfigError, match=r"task as an object\): pass task= to nasforge.train"):
        nasforge.train(run, 1, progress=False, overrides=CPU)


def test_a_user_space_stored_by_reference_retrains(digits: tuple[np.ndarray, ...],
                                                    tmp_path: Path, one_thread: None):
    run = tmp_path / "mlp"
    nasforge.search(mlp_space(), TRAIN, "random", task=digits, trials=2, run_dir=run,
                    progress=False, device="cpu")
    best = json.loads((run / "best.json").read_text())
    assert best["space"]["build"] == "user_space:build_mlp"
    record = nasforge.train(run / "best.json", 1, task=digits, progress=False, overrides=CPU)
    model = nasforge.load(run / "retrain")
    assert accuracy(model.predict(digits[4]), digits[5]) == record["test_acc"] > 20


def test_a_space_without_a_reference_is_given_again(digits: tuple[np.ndarray, ...],
                                                    tmp_path: Path, one_thread: None):
    space = FunctionSpace(DECISIONS, lambda arch, shape: build_mlp(arch, shape), name="mlp")
    result = nasforge.search(space, lambda arch: float(arch["width"]), "random", trials=2,
                             run_dir=tmp_path / "run", progress=False, device="cpu")
    with pytest.raises(ConfigError, match=r"cannot be imported .*pass space="):
        nasforge.train(tmp_path / "run", 1, task=digits, progress=False, overrides=CPU)
    record = nasforge.train(result, 1, task=digits, space=space, progress=False, overrides=CPU)
    assert result.best is not None and record["architecture"] == result.best.arch.to_dict()
    assert nasforge.load(tmp_path / "run" / "retrain", space=space).classes is not None
    in_memory = nasforge.search(space, lambda arch: 1.0, "random", trials=1, progress=False,
                                device="cpu")
    with pytest.raises(ConfigError, match="pass space="):
        nasforge.train(in_memory, 1, task=digits, out=tmp_path / "m", progress=False,
                       overrides=CPU)
    record = nasforge.train(in_memory, 1, task=digits, space=space, out=tmp_path / "m",
                            progress=False, overrides=CPU)
    assert Path(record["model"]).parent == tmp_path / "m"


def test_the_command_line_retrains_a_user_space_run_with_a_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None):
    """The report's suggestion for a run on a user's space: ``nasforge train best.json
    --config CONFIG.yaml`` (the config only names the task), with ``--onnx``."""
    nasforge.search(mlp_space(), TRAIN, "random", task="digits", trials=1,
                    run_dir=tmp_path / "run", progress=False, device="cpu")
    (tmp_path / "task.yaml").write_text("task: {name: digits, batch_size: 64}\n")
    here = str(Path(__file__).parent)  # where user_space lives
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get(
        "PYTHONPATH")])))
    proc = run_cli("train", "run/best.json", "--config", "task.yaml", "--epochs", "1",
                   "--out", "model", *(["--onnx"] if ONNX else []), "--no-progress",
                   "--set", "device=cpu", cwd=tmp_path)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("valid_acc") and "test_acc" in lines[0]
    assert lines[1:-1] == [f"wrote model/{name}" for name in FILES]
    assert "nasforge.load('model/model.pt')" in lines[-1]
    assert nasforge.load(tmp_path / "model").predict(load_digits().images[:3]).shape == (3,)


def test_plain_x_y_arrays_from_search_to_prediction(tmp_path: Path, one_thread: None):
    """The issue's path with the shortest call, ``task=(X, y)``: nasforge holds out the test
    split itself (stratified, ``data_seed`` 0); the model predicts those raw samples with the
    accuracy ``train`` reported."""
    from nasforge.data.transforms import stratified_split

    data = load_digits()
    x, y = data.data, data.target  # (1797, 64) raw pixel values 0..16, integer labels
    run = tmp_path / "run"
    nasforge.search(SPACE, TRAIN, "random", task=(x, y), trials=2, run_dir=run,
                    progress=False, device="cpu")
    record = nasforge.train(run, 2, task=(x, y), progress=False, overrides=CPU)
    _, held_out = stratified_split(y, 0.2, 0)
    model = nasforge.load(run / "retrain")
    assert accuracy(model.predict(x[held_out]), y[held_out]) == record["test_acc"]
    assert record["test_acc"] > 20  # chance is 10
