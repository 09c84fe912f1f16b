"""A user's search space in its own importable module, as a user would write one: runs store
it by reference (``nasforge.spaces.reference``), so ``nasforge train`` rebuilds it in another
process (the CLI tests put this folder on PYTHONPATH)."""

from __future__ import annotations

import math

from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.spaces.base import FunctionSpace
from nasforge.task import Shape

DECISIONS = [Categorical("width", [16, 32]), Categorical("act", ["relu", "tanh"])]


def build_mlp(arch: Architecture, shape: Shape) -> nn.Module:
    """One hidden layer of ``width`` units."""
    act = nn.ReLU() if arch["act"] == "relu" else nn.Tanh()
    width = int(arch["width"])
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape.input_shape), width), act,
                         nn.Linear(width, shape.num_classes))


def mlp_space() -> FunctionSpace:
    return FunctionSpace(DECISIONS, build_mlp, name="mlp")
