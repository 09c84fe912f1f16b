"""Loading the pickled state of a run (checkpoints, strategy states) written by an older
nasforge, after modules moved.

A pickle names the module of every object it holds (``nasforge.oneshot.OneShotState``); when
the run spine moved into ``nasforge.run`` those names went stale, and a run started before
an upgrade could not be resumed after it. ``load`` reads such files with the old names
mapped to the new ones, so no run loses its work to a reorganisation of the code.
"""

from __future__ import annotations

import pickle
import types
from pathlib import Path
from typing import IO, Any

import torch

# old module -> where it lives now (one line per move; never remove one)
MOVED = {
    "nasforge.run_dir": "nasforge.run.directory",
    "nasforge.run_lock": "nasforge.run.lock",
    "nasforge.oneshot": "nasforge.run.oneshot",
    "nasforge.plan": "nasforge.run.plan",
    "nasforge.store": "nasforge.run.store",
    "nasforge.executors": "nasforge.run.executors",
    "nasforge.ray_executor": "nasforge.run.ray_executor",
    "nasforge.distributed": "nasforge.run.distributed",
    "nasforge.supernet_reuse": "nasforge.run.supernet_reuse",
    "nasforge.components": "nasforge.run.components",
    "nasforge.spaces.darts": "nasforge.spaces.darts.space",
    "nasforge.spaces.darts_genotype": "nasforge.spaces.darts.genotype",
    "nasforge.spaces.darts_net": "nasforge.spaces.darts.network",
    "nasforge.spaces.darts_ops": "nasforge.spaces.darts.ops",
    "nasforge.spaces.darts_s1": "nasforge.spaces.darts.s1",
    "nasforge.spaces.shufflenet": "nasforge.spaces.shufflenet.space",
    "nasforge.spaces.shufflenet_blocks": "nasforge.spaces.shufflenet.blocks",
    "nasforge.spaces.shufflenet_latency": "nasforge.spaces.shufflenet.latency",
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED.get(module, module), name)


# torch.load takes a pickle module; this one is pickle with the renaming Unpickler
_pickle = types.ModuleType("nasforge_pickle")
_pickle.__dict__.update({k: getattr(pickle, k) for k in dir(pickle) if not k.startswith("__")})
_pickle.Unpickler = _Unpickler  # type: ignore[attr-defined]


def load(source: str | Path | IO[bytes]) -> Any:
    """``torch.load`` of a state nasforge wrote (any version), every tensor onto the CPU."""
    return torch.load(source, weights_only=False, map_location="cpu", pickle_module=_pickle)
