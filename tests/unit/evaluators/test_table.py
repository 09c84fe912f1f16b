import gzip

import pytest

from nasforge.errors import ConfigError, DataError
from nasforge.evaluators.table import NB201Table, TableEvaluator
from nasforge.spaces.base import FunctionSpace
from nasforge.spaces.nb201 import NB201Space

OPTIMUM = (  # the CIFAR-10 optimum, index 6111
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)


def test_nb201_protocol_values_for_the_optimum(nb201_table):
    space = NB201Space()
    row = nb201_table.rows[OPTIMUM]
    result = TableEvaluator(space, table=nb201_table).evaluate(space.parse(OPTIMUM))
    assert result.metrics["valid_acc"] == float(row["c10v_valid_12ep"])
    assert result.metrics["test_acc"] == pytest.approx(94.3733, abs=1e-4)
    assert result.cost == pytest.approx(12 * float(row["c10v_train_sec_per_epoch"]))
    assert result.params == round(float(row["params_mb_c10"]) * 1e6)


@pytest.mark.parametrize("dataset, valid, test, cost",
                         [("cifar100", "c100_valid_approx", "c100_test", "c100_train_sec_200ep"),
                          ("ImageNet16-120", "in16_valid_approx", "in16_test",
                           "in16_train_sec_200ep")])
def test_200_epoch_fidelity_on_other_datasets(nb201_table, dataset, valid, test, cost):
    space = NB201Space()
    row = nb201_table.rows[OPTIMUM]
    ev = TableEvaluator(space, dataset=dataset, fidelity=200, table=nb201_table,
                        latency_device="pixel3")
    result = ev.evaluate(space.parse(OPTIMUM))
    assert result.metrics["valid_acc"] == float(row[valid])
    assert result.metrics["test_acc"] == float(row[test])
    assert result.metrics["latency_ms"] == float(row["lat_ms_pixel3"])
    assert result.cost == pytest.approx(float(row[cost]))


def test_path_from_environment_then_the_cache_folder(monkeypatch, nb201_table, tmp_path):
    """The documented search order: NASFORGE_NB201, then the user cache folder; the error
    names every place to put the file."""
    monkeypatch.setenv("NASFORGE_CACHE", str(tmp_path))
    monkeypatch.setenv("NASFORGE_NB201", str(nb201_table.path))
    assert len(NB201Table().rows) == 15625
    monkeypatch.delenv("NASFORGE_NB201")
    with pytest.raises(DataError, match="NASFORGE_NB201") as error:
        NB201Table()
    assert "evaluator.path" in str(error.value) and str(tmp_path) in str(error.value)
    (tmp_path / "nb201_compact.csv.gz").symlink_to(nb201_table.path)
    assert NB201Table().path == tmp_path / "nb201_compact.csv.gz"


def test_missing_and_corrupt_tables(tmp_path):
    with pytest.raises(DataError, match="not found"):
        NB201Table(tmp_path / "nope.csv.gz")
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"\x1f\x8b\x08 this is not gzip")
    with pytest.raises(DataError, match="corrupt"):
        NB201Table(broken)
    truncated = tmp_path / "short.csv.gz"
    with gzip.open(truncated, "wt") as handle:
        handle.write("index,arch_str\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|\n")
    with pytest.raises(DataError, match="expected 15625"):
        NB201Table(truncated)


def test_bad_options(nb201_table):
    with pytest.raises(ConfigError, match="needs the nb201 space"):
        TableEvaluator(FunctionSpace([]), table=nb201_table)
    with pytest.raises(ConfigError, match="latency device"):
        TableEvaluator(NB201Space(), table=nb201_table, latency_device="toaster")
