import pytest

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ArchitectureError


def test_json_round_trip_and_key_are_order_independent():
    a = Architecture({"b": 2, "a": "x", "c": True})
    b = Architecture.from_json(a.to_json())
    assert a == b and hash(a) == hash(b)
    assert Architecture({"a": "x", "c": True, "b": 2}).key() == a.key()


def test_architecture_is_frozen():
    a = Architecture(a=1)
    with pytest.raises(TypeError):
        a["a"] = 2  # type: ignore[index]
    assert a.replace(a=2)["a"] == 2 and a["a"] == 1


@pytest.mark.parametrize("bad", ["[1, 2]", "{not json", '{"a": [1]}'])
def test_bad_json_is_an_architecture_error(bad):
    with pytest.raises(ArchitectureError):
        Architecture.from_json(bad)


def test_categorical_checks_options():
    with pytest.raises(ArchitectureError):
        Categorical("x", [])
    with pytest.raises(ArchitectureError):
        Categorical("x", [1, 1])
    with pytest.raises(ArchitectureError, match="not an option"):
        Categorical("x", [1, 2]).index(3)
