"""One trained supernet, several selections: ``supernet_from: RUN_DIR`` starts a one-shot run
from the supernet another run trained.

The papers compare selections on one supernet: DARTS-PT (Wang et al., ICLR 2021, Sec. 4)
selects by perturbation on the supernet DARTS trained, where DARTS takes the argmax; SPOS (Guo
et al., ECCV 2020, Sec. 3.3) runs its evolution on one trained supernet under any constraint;
PGNAS (Zhou et al., AAAI 2020, Sec. 4.1) compares posterior-guided with random-rate sampling on
the same supernet. Training once and starting each selection from it is that comparison, at
the cost of one training.

A one-shot run whose training has finished writes ``trained_supernet.pt``: its checkpoint at
the end of the last epoch, before the selection changes anything (DARTS-PT fixes edges and
fine-tunes the supernet it selects on). A run with ``supernet_from`` adopts that file once
the source's config agrees on the space, task, strategy and seed (the seed draws the
train/valid split: under another seed the selection would score on the supernet's own
training images).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nasforge.config import RunConfig, load_config
from nasforge.errors import ConfigError, RunDirError
from nasforge.run.directory import CONFIG_NAME
from nasforge.supernet.checkpoint import CHECKPOINT

TRAINED = "trained_supernet.pt"
MUST_AGREE = ("space", "task", "strategy", "seed")


def trained_file(source: str | Path, config: RunConfig | None) -> Path:
    """The trained supernet of run ``source``, checked against this run's ``config``."""
    source = Path(source)
    file = source / TRAINED
    if not file.is_file():
        raise RunDirError(f"supernet_from {source}: no {TRAINED} there (not a one-shot run, "
                          "or its supernet training has not finished)")
    if config is not None and (source / CONFIG_NAME).is_file():
        theirs = load_config(source / CONFIG_NAME).to_dict()
        ours = config.to_dict()
        for key in MUST_AGREE:
            if theirs.get(key) != ours.get(key):
                raise ConfigError(f"supernet_from {source}: its supernet was trained with "
                                  f"{key} {theirs.get(key)}, this run has {ours.get(key)}")
    return file


def keep_trained(path: Path) -> None:
    """Copy the run's checkpoint, written at the end of its last epoch, to ``TRAINED`` (once:
    later checkpoints hold the selection's changes)."""
    if not (path / TRAINED).is_file():
        shutil.copyfile(path / CHECKPOINT, path / TRAINED)
