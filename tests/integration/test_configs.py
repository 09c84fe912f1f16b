"""Every shipped config loads strictly (unknown keys or wrong types would fail here)."""

from pathlib import Path

import pytest

from nasforge.config import load_config
from nasforge.run.components import check_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_loads(path):
    config = check_config(load_config(path))
    assert config.space.name and config.strategy.name
