"""Spaces as JSON (``nasforge.spaces.reference``): built-in ones by name, a user's by reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ConfigError
from nasforge.spaces.base import FunctionSpace, SearchSpace
from nasforge.spaces.nb201 import NB201Space
from nasforge.spaces.reference import rebuildable, reference, space_from_spec, space_spec
from nasforge.task import Shape

DECISIONS = [Categorical("width", [4, 8]), Categorical("act", ["relu", "tanh"])]


def build_mlp(arch: Architecture, shape: Shape) -> nn.Module:
    """A module-level build function: stored by reference."""
    act = nn.ReLU() if arch["act"] == "relu" else nn.Tanh()
    width = int(arch["width"])
    inputs = int(np.prod(shape.input_shape))
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, width), act,
                         nn.Linear(width, shape.num_classes))


class WidthSpace(SearchSpace):
    """A user's SearchSpace subclass with an option, importable from this module."""

    name = "widths"

    def __init__(self, widths: list[int] | None = None) -> None:
        self.widths = list(widths or [2, 4])

    @property
    def decisions(self) -> tuple[Categorical, ...]:
        return (Categorical("width", self.widths),)

    def build(self, arch: Architecture, shape: Shape) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.LazyLinear(shape.num_classes))

    def options(self) -> dict[str, list[int]]:
        return {"widths": self.widths}


def json_round_trip(spec: dict) -> dict:
    return json.loads(json.dumps(spec))


def test_a_built_in_space_is_its_name_and_options():
    spec = space_spec(NB201Space(C=4, N=1))
    assert spec == {"name": "nb201", "C": 4, "N": 1}
    space = space_from_spec(json_round_trip(spec))
    assert isinstance(space, NB201Space) and space.options() == {"C": 4, "N": 1}
    assert isinstance(space_from_spec("nb201"), NB201Space)


def test_a_function_space_keeps_its_decisions_and_its_build_by_reference():
    spec = json_round_trip(space_spec(FunctionSpace(DECISIONS, build_mlp, name="mlp")))
    assert spec["build"] == f"{__name__}:build_mlp"
    space = space_from_spec(spec)
    assert isinstance(space, FunctionSpace) and space.name == "mlp"
    assert space.decisions == tuple(DECISIONS) and space.build_function is build_mlp
    net = space.build(Architecture(width=8, act="tanh"), Shape((1, 6), 3))
    assert net[1].out_features == 8


def test_a_lambda_build_is_not_stored_and_the_error_says_to_pass_space():
    spec = json_round_trip(space_spec(FunctionSpace(DECISIONS, lambda a, s: nn.Identity())))
    assert "build" not in spec and spec["decisions"] == {"width": [4, 8],
                                                         "act": ["relu", "tanh"]}
    with pytest.raises(ConfigError, match=r"cannot be imported .*pass space="):
        space_from_spec(spec)


def test_a_user_space_class_is_rebuilt_with_its_options():
    spec = json_round_trip(space_spec(WidthSpace([3, 5])))
    assert spec == {"name": "widths", "widths": [3, 5], "class": f"{__name__}:WidthSpace"}
    space = space_from_spec(spec)
    assert isinstance(space, WidthSpace) and space.widths == [3, 5]


def test_a_subclass_of_a_built_in_space_is_a_user_space():
    class Local(NB201Space):
        pass

    spec = space_spec(Local(C=4, N=1))
    assert "class" not in spec  # defined inside a function: no process can import it
    with pytest.raises(ConfigError, match=r"not built in and was stored without a reference"):
        space_from_spec({"name": "mine"})


def test_references_only_for_what_another_process_can_import():
    assert reference(build_mlp) == f"{__name__}:build_mlp"
    assert reference(lambda: 0) is None

    def local() -> None: ...

    assert reference(local) is None
    main_function = type("Main", (), {"__module__": "__main__", "__qualname__": "f"})
    assert reference(main_function) is None


def test_an_unimportable_reference_is_one_line():
    with pytest.raises(ConfigError, match=r"cannot import no_such_module:f .*pass space="):
        space_from_spec({"name": "x", "class": "no_such_module:f"})
    with pytest.raises(ConfigError, match=r"WidthSpace\(\*\*\{'nope': 1\}\) failed"):
        space_from_spec({"name": "x", "class": f"{__name__}:WidthSpace", "nope": 1})


def test_rebuildable_says_whether_space_is_needed_again():
    assert rebuildable("nb201") and rebuildable(space_spec(NB201Space(C=4, N=1)))
    assert rebuildable(space_spec(FunctionSpace(DECISIONS, build_mlp)))
    assert rebuildable(space_spec(WidthSpace()))
    assert not rebuildable(space_spec(FunctionSpace(DECISIONS, lambda a, s: nn.Identity())))
    assert not rebuildable({"name": "custom"})
