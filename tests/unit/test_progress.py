"""The one progress display: a bar that never passes its total, log lines without a terminal."""

import logging

import pytest

from nasforge.progress import Progress


def test_a_count_past_the_total_stops_at_it_and_still_draws(capsys):
    """A seconds budget: the last evaluation's cost crosses the budget. tqdm would drop the
    total, and the seconds bar format would then fail to draw."""
    with Progress("search (cost)", 100.0, unit="s", progress=True) as bar:
        bar.advance(60.0, "best 1.00")
        bar.advance(70.0, "best 2.00")
        assert bar.count == 100.0 and bar.bar.total == 100.0
        str(bar.bar)  # draws
    assert "100/100 s" in capsys.readouterr().err


def test_without_a_terminal_it_logs_now_and_then_and_at_the_end(caplog):
    caplog.set_level(logging.INFO, logger="nasforge.progress")
    with Progress("train", 4, unit="epoch", progress=None, log_every=0.0) as bar:
        for epoch in range(4):
            bar.advance(1, f"epoch {epoch + 1}")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "train: 1/4 epochs, epoch 1" and lines[-1] == "train: 4/4 epochs, epoch 4"
    caplog.clear()
    with Progress("train", 4, unit="epoch", progress=None) as bar:  # every 10 s: only the end
        bar.advance(4)
    assert [r.getMessage() for r in caplog.records] == ["train: 4/4 epochs"]


@pytest.mark.parametrize("progress", [True, False])
def test_a_forced_choice_logs_nothing(progress, caplog):
    caplog.set_level(logging.INFO, logger="nasforge.progress")
    with Progress("train", 2, progress=progress, log_every=0.0) as bar:
        bar.advance(2)
    assert not caplog.records
