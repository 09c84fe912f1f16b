"""Shared fixtures. The NB201 table is read from ../shared (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TABLE = REPO.parent / "shared" / "data" / "nb201" / "nb201_compact.csv.gz"


def table_path() -> Path:
    return Path(os.environ.get("NASFORGE_NB201") or DEFAULT_TABLE)


# Subprocesses started by module-scoped fixtures (CLI tests) see the table too.
os.environ.setdefault("NASFORGE_NB201", str(table_path()))


@pytest.fixture(scope="session")
def nb201_table():
    from nasforge.evaluators.table import NB201Table

    path = table_path()
    if not path.is_file():
        pytest.fail(f"NB201 table not found at {path}: set NASFORGE_NB201")
    return NB201Table(path)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                    ) -> None:
    """Generated data sets go to one session-wide temporary cache, not the user's."""
    cache = tmp_path_factory.getbasetemp() / "nasforge-cache"
    monkeypatch.setenv("NASFORGE_CACHE", str(cache))
    monkeypatch.setenv("NASFORGE_NB201", str(table_path()))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny networks: torch threads only add overhead on shared cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
