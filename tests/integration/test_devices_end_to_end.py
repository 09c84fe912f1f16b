"""Every method end to end, as a user runs it, on devices other than the CPU in float32: in
float64 here (``precision: 64-true``: any tensor a command makes in the default float32, such
as a one-hot path, a probe input for FLOPs counting or an input batch, fails as a CPU tensor
does next to CUDA weights), and on CUDA where the machine has a GPU (``-m cuda``).

Each search writes its run directory; the DARTS-PT run's best architecture is then retrained
by ``nasforge train``'s own function, which counts FLOPs, evaluates and exports the model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import nasforge
from nasforge.commands.train import retrain

SPACE = {"name": "nb201", "C": 4, "N": 1}
TASK = {"name": "mnist1d", "num_samples": 600, "train_size": 200, "valid_fraction": 0.5,
        "batch_size": 50}
METHODS = {
    "darts_pt": dict(evaluator="table", strategy={"name": "darts", "epochs": 1},
                     selection={"name": "perturbation", "finetune_epochs": 1,
                                "valid_batches": 1}),
    "fixed_alpha_pt": dict(evaluator=None, strategy={"name": "darts", "epochs": 1,
                                                     "fixed_alpha": True},
                           selection={"name": "perturbation", "finetune_epochs": 0,
                                      "valid_batches": 1}),
    "spos": dict(evaluator="table", strategy={"name": "spos", "epochs": 1},
                 selection={"name": "evolution", "recalibration_batches": 1,
                            "valid_batches": 1,
                            "strategy": {"name": "spos_evolution", "population": 4,
                                         "generations": 2, "top_k": 2, "mutation": 1,
                                         "crossover": 1}}),
    "pgnas": dict(evaluator="table", strategy={"name": "pgnas", "epochs": 1},
                  selection={"name": "posterior", "candidates": 3, "valid_batches": 1}),
    "random_train": dict(evaluator={"name": "train", "epochs": 1},
                         strategy={"name": "random"}, trials=2),
    "controller_train": dict(evaluator={"name": "train", "epochs": 1},
                             strategy={"name": "controller", "batch": 2}, trials=2),
}
DEVICES = [pytest.param("cpu", "64-true", id="cpu-float64"),
           pytest.param("cuda", "32-true", id="cuda", marks=[
               pytest.mark.cuda,
               pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")])]


@pytest.mark.parametrize(("device", "precision"), DEVICES)
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_runs(method: str, device: str, precision: str, tmp_path: Path) -> None:
    spec = METHODS[method]
    result = nasforge.search(SPACE, spec["evaluator"], spec["strategy"], task=TASK,
                             selection=spec.get("selection"), trials=spec.get("trials"),
                             device=device, precision=precision, run_dir=tmp_path / "run")
    assert result.best is not None and (tmp_path / "run" / "report.html").is_file()
    if method == "darts_pt":
        record = retrain(tmp_path / "run" / "best.json", None, [], 1, tmp_path / "model", False)
        assert record["params"] > 0 and (tmp_path / "model" / "model.ts").is_file()
        saved = torch.load(tmp_path / "model" / "model.pt", weights_only=False)
        assert all(t.dtype == torch.float32 and t.device.type == "cpu"  # loads anywhere
                   for t in saved["state_dict"].values() if t.is_floating_point())
