import numpy as np
import pytest
import torch
from torch import nn

from nasforge.data.base import tensor_task
from nasforge.errors import TrialFailed
from nasforge.training import (
    EVAL_BATCH,
    TrainSettings,
    eval_loader,
    evaluate,
    fit,
    seeded,
    train_epoch,
)


def task():
    gen = np.random.default_rng(0)
    x = gen.normal(size=(200, 1, 8)).astype(np.float32)
    y = (x[:, 0, 0] > 0).astype(np.int64)
    return tensor_task("toy", x[:150], y[:150], x[150:], y[150:], num_classes=2, seed=0,
                       batch_size=25)


def linear() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 2))


def test_fit_learns_a_linear_rule():
    t = task()
    with seeded(0):
        model = linear()
    history = fit(model, t, TrainSettings(epochs=8, lr=0.5), torch.device("cpu"))
    assert history.valid_acc[-1] > 90 and len(history.train_loss) == 8
    assert evaluate(model, t.loader("test"), torch.device("cpu"))[0] > 85


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    with seeded(5):
        a = linear()
    after = torch.rand(1)
    with seeded(5):
        b = linear()
    assert torch.equal(before, after)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


class NaNModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return torch.full((len(x), 2), float("nan")) * self.w


def test_non_finite_loss_raises_trial_failed():
    model = NaNModel()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TrialFailed, match="non-finite"):
        train_epoch(model, task().loader("train"), opt)


def test_valid_epochs_scores_only_the_last_epochs_and_changes_no_weights():
    t = task()
    models = []
    for valid_epochs in (None, 2):
        with seeded(0):
            models.append(linear())
        history = fit(models[-1], t, TrainSettings(epochs=5, lr=0.5, valid_epochs=valid_epochs),
                      torch.device("cpu"))
        assert len(history.valid_acc) == (5 if valid_epochs is None else 2)
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.equal(a, b)  # scoring the valid split does not touch training


def test_eval_loader_uses_large_batches():
    t = task()
    assert eval_loader(t, "valid").batch_size == max(t.batch_size, EVAL_BATCH)
