"""Saved models (``nasforge.model.io``): model.pt, TorchScript and ONNX on raw inputs, and the
``Predictor`` that ``nasforge.load`` returns."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_space_ref import DECISIONS, build_mlp

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, DataError
from nasforge.model.io import Predictor, export, load, raw_batch, save_model
from nasforge.model.onnx import MISSING, ExportError, check_onnx, export_onnx
from nasforge.preprocessing import Preprocessing
from nasforge.spaces.base import FunctionSpace
from nasforge.spaces.reference import space_spec
from nasforge.task import Shape

ARCH = Architecture(width=8, act="relu")
IMAGE = Preprocessing.per_channel((3, 4, 4), [0.5, 0.4, 0.3], [0.2, 0.25, 0.3],
                                  scale=1 / 255, image_size=4, classes=("cat", "dog", "eel"))
TABLE = Preprocessing((1, 5), mean=[[1.0, 2.0, 3.0, 4.0, 5.0]], std=[[2.0] * 5])


def predictor(prep: Preprocessing = IMAGE, space: FunctionSpace | None = None) -> Predictor:
    space = space or FunctionSpace(DECISIONS, build_mlp, name="mlp")
    torch.manual_seed(0)
    network = space.build(ARCH, Shape(prep.input_shape, 3))
    return Predictor(network, prep).eval()


def saved(tmp_path: Path, prep: Preprocessing = IMAGE) -> tuple[Predictor, Path]:
    model = predictor(prep)
    save_model(model, tmp_path, space=space_spec(FunctionSpace(DECISIONS, build_mlp, name="mlp")),
               architecture=ARCH, num_classes=3)
    return model, tmp_path


def pixels(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3, 4, 4), dtype=np.uint8)


def test_forward_normalises_raw_inputs_then_runs_the_network():
    model = predictor()
    raw = torch.from_numpy(pixels(6))
    assert torch.equal(model(raw), model.network(IMAGE(raw)))
    assert model.classes == ("cat", "dog", "eel") and model.input_shape == (3, 4, 4)


def test_predict_answers_in_class_names_or_indices():
    x = pixels(6)
    logits = predictor()(torch.from_numpy(x))
    names = predictor().predict(x)
    assert list(names) == [("cat", "dog", "eel")[i] for i in logits.argmax(1)]
    proba = predictor().predict_proba(x)
    assert proba.shape == (6, 3) and np.allclose(proba.sum(1), 1)
    unnamed = predictor(Preprocessing((3, 4, 4)))
    assert unnamed.predict(x).dtype.kind == "i"


def test_one_sample_a_flat_sample_and_a_table_row():
    model = predictor()
    x = pixels(3)
    assert model.predict(x[0]) == model.predict(x[:1])
    assert model.predict(x[0].reshape(-1)) == model.predict(x[:1])
    table = predictor(TABLE)
    rows = np.arange(10, dtype=np.float64).reshape(2, 5)
    assert raw_batch(rows[0], TABLE).shape == (1, 5)
    assert np.array_equal(table.predict(rows), table.predict(rows.tolist()))
    with pytest.raises(DataError, match="inputs must be numbers"):
        table.predict(np.array([["a"] * 5]))
    with pytest.raises(DataError, match=r"shape \(2, 4\) do not fit .* \(1, 5\)"):
        table.predict(np.zeros((2, 4)))
    with pytest.raises(DataError, match="no inputs"):
        table.predict(np.zeros((0, 5)))
    grey = predictor(Preprocessing((1, 4, 4)))
    square = np.arange(16.0).reshape(4, 4)  # one sample as (H, W), no channel axis
    assert grey.predict(square) == grey.predict(square[None, None])


def test_images_are_read_and_resized_as_the_image_folder_task_reads_them(tmp_path: Path):
    array = np.random.default_rng(1).integers(0, 256, size=(9, 7, 3), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / "a.png")
    resized = np.asarray(Image.fromarray(array).resize((4, 4), Image.Resampling.BILINEAR))
    expected = torch.from_numpy(resized.transpose(2, 0, 1)[None].copy())
    model = predictor()
    for given in (tmp_path / "a.png", str(tmp_path / "a.png"), Image.fromarray(array)):
        assert torch.equal(raw_batch(given, IMAGE), expected)
    image = Image.fromarray(array)
    model.predict([image, image])
    assert image.size == (7, 9)  # the caller's image is left open and unchanged
    assert raw_batch([tmp_path / "a.png"] * 2, IMAGE).shape == (2, 3, 4, 4)
    assert model.predict(tmp_path / "a.png") == model.predict(expected)
    grey = Preprocessing((1, 4, 4), image_size=4)
    assert raw_batch(tmp_path / "a.png", grey).shape == (1, 1, 4, 4)
    with pytest.raises(DataError, match="cannot read image"):
        model.predict(tmp_path / "missing.png")
    with pytest.raises(DataError, match="not images"):
        raw_batch(tmp_path / "a.png", TABLE)


def test_model_pt_is_one_plain_dict_and_loads_back(tmp_path: Path):
    model, out = saved(tmp_path)
    files = sorted(p.name for p in out.iterdir())
    assert files == ["model.pt", "model.ts"]
    plain = torch.load(out / "model.pt", weights_only=True)  # no pickled objects
    assert plain["classes"] == ["cat", "dog", "eel"] and plain["num_classes"] == 3
    assert Preprocessing.from_dict(plain["preprocessing"]) == IMAGE
    assert plain["space"]["build"].endswith(":build_mlp")
    raw = torch.from_numpy(pixels(5))
    for path in (out / "model.pt", out):
        loaded = load(path)
        assert isinstance(loaded, Predictor) and not loaded.training
        assert torch.equal(loaded(raw), model(raw)) and loaded.classes == model.classes


def test_torchscript_takes_raw_inputs_and_carries_the_class_names(tmp_path: Path):
    model, out = saved(tmp_path)
    extra = {"classes.json": "", "preprocessing.json": ""}
    traced = torch.jit.load(str(out / "model.ts"), _extra_files=extra)
    assert json.loads(extra["classes.json"]) == ["cat", "dog", "eel"]
    assert Preprocessing.from_dict(json.loads(extra["preprocessing.json"])) == IMAGE
    raw = torch.from_numpy(pixels(7, seed=3)).float()
    assert torch.equal(traced(raw), model(raw))
    assert export(out, "torchscript", tmp_path / "again.ts").is_file()


def test_a_user_space_without_a_reference_is_given_again(tmp_path: Path):
    space = FunctionSpace(DECISIONS, lambda arch, shape: build_mlp(arch, shape), name="mlp")
    model = predictor(space=space)
    save_model(model, tmp_path, space=space_spec(space), architecture=ARCH, num_classes=3)
    with pytest.raises(ConfigError, match="pass space="):
        load(tmp_path)
    raw = torch.from_numpy(pixels(2))
    assert torch.equal(load(tmp_path, space=space)(raw), model(raw))


def test_load_errors_are_one_line(tmp_path: Path):
    with pytest.raises(DataError, match="no model at"):
        load(tmp_path / "nowhere")
    (tmp_path / "junk.pt").write_text("not a model")
    with pytest.raises(DataError, match="not a nasforge model file"):
        load(tmp_path / "junk.pt")
    torch.save({"state_dict": {}}, tmp_path / "partial.pt")
    with pytest.raises(DataError, match="missing space, architecture"):
        load(tmp_path / "partial.pt")
    with pytest.raises(ConfigError, match="'onnx' or 'torchscript'"):
        export(predictor(), "tflite", tmp_path / "m")  # type: ignore[arg-type]


def test_onnx_takes_raw_inputs_and_matches_pytorch(tmp_path: Path):
    onnxruntime = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    model = predictor()
    path = export(model, "onnx", tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    raw = pixels(11, seed=4).astype(np.float32)  # any batch size
    (logits,) = session.run(None, {"input": raw})
    np.testing.assert_allclose(logits, model(torch.from_numpy(raw)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    props = {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}
    assert props["classes"] == ["cat", "dog", "eel"]


def test_an_onnx_file_that_disagrees_with_pytorch_fails_loudly(tmp_path: Path):
    pytest.importorskip("onnxruntime")
    model = predictor()
    path = export_onnx(model, model.example_inputs(), tmp_path / "model.onnx")
    other = predictor()
    with torch.no_grad():
        other.network[1].weight.add_(1.0)
    with pytest.raises(ExportError, match="differ from PyTorch's by up to"):
        check_onnx(other, model.example_inputs(), path)


def test_a_missing_onnx_extra_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ExportError, match=r"pip install 'nasforge\[onnx\]'") as info:
        export(predictor(), "onnx", tmp_path / "model.onnx")
    assert str(info.value) == MISSING
    assert not (tmp_path / "model.onnx").exists()
