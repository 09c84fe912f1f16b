import pytest

from nasforge.errors import ConfigError
from nasforge.registry import Registry


def test_register_build_and_names():
    reg: Registry[int] = Registry("thing")
    reg.register("double")(lambda x: 2 * x)
    assert reg.build("double", x=3) == 6
    assert reg.names() == ["double"] and "double" in reg


def test_duplicate_name_raises():
    reg: Registry[int] = Registry("thing")
    reg.register("a")(lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(lambda: 2)


def test_unknown_name_suggests_close_match():
    reg: Registry[int] = Registry("strategy")
    reg.register("evolution")(lambda: 1)
    with pytest.raises(ConfigError, match="did you mean evolution"):
        reg.get("evolutoin")
