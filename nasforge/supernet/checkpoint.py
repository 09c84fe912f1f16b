"""A one-shot run's ``checkpoint.pt``: the supernet's weights and verb state, the strategy's
state and the run's progress, plus the recipe that built the supernet (``factory``), so that
loading rebuilds it by the same factory as the run (a PGNAS checkpoint is a gated supernet)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from nasforge import saved_state
from nasforge.errors import ConfigError, RunDirError
from nasforge.runtime import Runtime
from nasforge.spaces.base import SearchSpace
from nasforge.supernet import build_oneshot_supernet
from nasforge.supernet.base import Supernet
from nasforge.task import Shape

CHECKPOINT = "checkpoint.pt"


def supernet_recipe(gated: bool, options: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``build_oneshot_supernet`` besides space and shape."""
    return {"gated": gated, "options": dict(options)}


def save_checkpoint(path: Path, supernet: Supernet, recipe: dict[str, Any],
                    extra: dict[str, Any]) -> None:
    """Write ``path/checkpoint.pt`` atomically: a kill never leaves half a checkpoint."""
    tmp = path / (CHECKPOINT + ".tmp")
    torch.save({"supernet": supernet.state_dict(), "verbs": supernet.verb_state(),
                "factory": recipe, **extra}, tmp)
    os.replace(tmp, path / CHECKPOINT)


def read_checkpoint(file: Path) -> dict[str, Any]:
    """A checkpoint's contents, every tensor loaded onto the CPU (RNG states must be CPU
    tensors; modules and optimizers copy the rest to their own device), so a supernet
    trained on a GPU loads on a CPU machine, and the other way round."""
    if not file.is_file():
        raise RunDirError(f"no one-shot checkpoint at {file}")
    try:
        return saved_state.load(file)  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001  (any unreadable file)
        raise RunDirError(f"{file}: unreadable checkpoint ({exc})") from None


def restore_supernet(supernet: Supernet, data: dict[str, Any], file: Path) -> None:
    try:
        supernet.load_state_dict(data["supernet"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise ConfigError(f"{file} does not fit this supernet: {first}") from None
    supernet.load_verb_state(data["verbs"])


def load_supernet(path: Path, space: SearchSpace, shape: Shape,
                  device: Runtime | torch.device) -> Supernet:
    """The trained supernet of a one-shot run (its directory or its checkpoint file), built
    by the factory the run used (a checkpoint without a recipe held a plain supernet), on
    ``device`` (a Runtime: also in its dtype)."""
    file = path / CHECKPOINT if path.is_dir() else path
    data = read_checkpoint(file)
    recipe = data.get("factory") or supernet_recipe(False, {})
    supernet = build_oneshot_supernet(space, shape, gated=recipe["gated"], **recipe["options"])
    Runtime.of(device).place(supernet)
    restore_supernet(supernet, data, file)
    return supernet
