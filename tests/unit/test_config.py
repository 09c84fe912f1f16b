import pytest

from nasforge.config import apply_overrides, dump_config, load_config
from nasforge.config import config_from_dict as parse_config
from nasforge.errors import ConfigError
from nasforge.run.components import check_config


def config_from_dict(raw):
    """Parse, then check the components against their factories (as building them does)."""
    return check_config(parse_config(raw))

BASE = {
    "space": {"name": "nb201", "C": 8},
    "evaluator": {"name": "table"},
    "strategy": {"name": "evolution", "population": 10},
    "budget": {"seconds": 100},
}


def test_valid_config_round_trips(tmp_path):
    config = config_from_dict(BASE)
    assert config.strategy.options["population"] == 10 and config.budget.seconds == 100.0
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(config))
    assert load_config(path) == config


def test_overrides_set_nested_values_with_yaml_types():
    raw = apply_overrides(BASE, ["strategy.population=50", "seed=3", "space.name=nb201"])
    config = config_from_dict(raw)
    assert config.seed == 3 and config.strategy.options["population"] == 50


@pytest.mark.parametrize(
    "change, key",
    [
        ({"sead": 1}, "sead"),
        ({"strategy": {"name": "evolution", "populaton": 5}}, "strategy.populaton"),
        ({"strategy": {"name": "evolution", "population": "ten"}}, "strategy.population"),
        ({"budget": {"trials": 1.5}}, "budget.trials"),
        ({"budget": {"trails": 5}}, "budget.trails"),
        ({"space": {"name": "nb201", "C": True}}, "space.C"),
        ({"evaluator": {"name": "table", "fidelity": 50}}, "evaluator.fidelity"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_unknown_keys_and_wrong_types_name_the_key(change, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_dict({**BASE, **change})


def test_unknown_component_name():
    with pytest.raises(ConfigError, match="unknown strategy 'evolutoin'"):
        config_from_dict({**BASE, "strategy": {"name": "evolutoin"}})


@pytest.mark.parametrize("budget", [{"trials": 0}, {"seconds": -5}])
def test_budget_must_be_positive(budget):
    with pytest.raises(ConfigError, match="must be positive"):
        config_from_dict({**BASE, "budget": budget})


def test_injected_arguments_cannot_be_set():
    with pytest.raises(ConfigError, match="set by nasforge itself"):
        config_from_dict({**BASE, "strategy": {"name": "random", "seed": 1}})


def test_missing_section_and_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="'strategy' is required"):
        config_from_dict({k: v for k, v in BASE.items() if k != "strategy"})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("space: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(BASE, ["novalue"])


def test_parsing_alone_checks_no_component():
    """Parsing imports no component: names and options are checked where components are
    built (``check_config``), so a typo there passes parsing and fails the check."""
    raw = {**BASE, "strategy": {"name": "evolutoin", "populaton": 5}}
    config = parse_config(raw)
    with pytest.raises(ConfigError, match="unknown strategy 'evolutoin'"):
        check_config(config)
