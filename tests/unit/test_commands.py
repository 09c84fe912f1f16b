"""The commands' handling of interrupts and of a diverging retraining, in process."""

import json
import os
import signal
import time

import pytest
from click.testing import CliRunner

from nasforge.cli import main
from nasforge.commands.interrupts import Terminated, interrupts_end_the_run
from nasforge.errors import ConfigError, TrialFailed
from nasforge.model import retrain as retrain_module
from nasforge.run.components import resolve_device


@pytest.mark.parametrize("stop, status, name", [(KeyboardInterrupt, 130, "Ctrl-C"),
                                                (Terminated, 143, "SIGTERM")])
def test_an_interrupt_exits_cleanly_with_the_resume_command(tmp_path, capsys, stop, status,
                                                            name):
    (tmp_path / "trials.sqlite").touch()  # the run has started
    with pytest.raises(SystemExit) as stopped, interrupts_end_the_run(tmp_path):
        raise stop
    assert stopped.value.code == status
    assert capsys.readouterr().err.strip() == (
        f"interrupted ({name}); finished work is kept in {tmp_path}; continue with: "
        f"nasforge search --resume {tmp_path}")


def test_sigterm_is_an_interrupt(tmp_path, capsys):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped, interrupts_end_the_run(tmp_path):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert stopped.value.code == 143 and "interrupted (SIGTERM)" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is gone again


def test_an_unknown_or_missing_device_names_what_there_is():
    with pytest.raises(ConfigError, match=r"'gpu' is not a device name \(available: cpu"):
        resolve_device("gpu")
    with pytest.raises(ConfigError, match=r"'cuda:99' is not available on this machine"):
        resolve_device("cuda:99")
    assert resolve_device("cpu").type == "cpu"


def test_an_interrupt_before_the_run_started_has_no_resume_hint(tmp_path, capsys):
    with pytest.raises(SystemExit), interrupts_end_the_run(tmp_path / "not-yet"):
        raise KeyboardInterrupt
    assert capsys.readouterr().err.strip() == "interrupted (Ctrl-C)"


def test_a_diverging_retraining_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "best.json").write_text(json.dumps({
        "space": {"name": "nb201", "C": 4, "N": 1},
        "architecture": "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"}))
    (tmp_path / "config.yaml").write_text(
        "space: {name: nb201, C: 4, N: 1}\nstrategy: {name: random}\nbudget: {trials: 1}\n"
        "task: {name: synthetic, num_samples: 60, num_classes: 2, size: 8, batch_size: 20}\n")

    def diverges(*args, **kwargs):
        raise TrialFailed("non-finite training loss (nan) at step 3")

    monkeypatch.setattr(retrain_module, "fit", diverges)
    result = CliRunner().invoke(main, ["train", str(tmp_path / "best.json"), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        "error: training diverged: non-finite training loss (nan) at step 3; lower the "
        "learning rate (--set evaluator.lr=...) or train fewer --epochs"]
