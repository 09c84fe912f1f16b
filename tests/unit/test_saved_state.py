"""Run state pickled before the run spine moved into ``nasforge.run`` still loads."""

import io
import sys
import types

import torch

from nasforge import saved_state
from nasforge.run.oneshot import OneShotState


def test_a_state_pickled_under_an_old_module_name_loads() -> None:
    old = types.ModuleType("nasforge.oneshot")  # what the class was called before the move
    old.OneShotState = OneShotState  # type: ignore[attr-defined]
    buffer = io.BytesIO()
    sys.modules["nasforge.oneshot"] = old
    OneShotState.__module__ = "nasforge.oneshot"
    try:
        torch.save({"state": OneShotState(epoch=3)}, buffer)
    finally:
        OneShotState.__module__ = "nasforge.run.oneshot"
        del sys.modules["nasforge.oneshot"]
    assert b"nasforge.oneshot" in buffer.getvalue()
    buffer.seek(0)
    loaded = saved_state.load(buffer)["state"]
    assert isinstance(loaded, OneShotState) and loaded.epoch == 3


def test_every_moved_module_exists() -> None:
    import importlib

    for new in saved_state.MOVED.values():
        importlib.import_module(new)
