"""Every command family in a real (pseudo-)terminal with a size, as a person runs it, so the
code that runs only in a terminal (progress bars) runs in CI too; and the same commands in a
pipe, where progress is a log line now and then instead of a bar."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import nasforge, nasforge_pty, one_line_error, python_pty

REPO = Path(__file__).resolve().parents[2]
# Tiny DARTS-PT on NB201: 2 supernet epochs, then 6 edge decisions (about 10 s).
PT = """\
seed: 0
space: {name: nb201, C: 4, N: 1}
task: {name: mnist1d, num_samples: 1000, train_size: 300, valid_fraction: 0.5, batch_size: 50}
strategy: {name: darts, epochs: 2}
selection: {name: perturbation, finetune_epochs: 1, valid_batches: 1}
evaluator: {name: table}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("terminal")
    (path / "pt.yaml").write_text(PT)
    return path


def assert_clean(status: int, output: str) -> None:
    assert status == 0 and "Traceback" not in output and "Error" not in output, output


def test_seconds_budget_search_in_a_terminal(workdir: Path):
    """The README's first command: the bar counts simulated seconds up to the budget, and
    the last evaluation crossing the budget must not break it."""
    status, output = nasforge_pty("search", str(REPO / "configs" / "nb201_evolution.yaml"),
                                  "--out", "rea", cwd=workdir)
    assert_clean(status, output)
    assert "search (cost)" in output and "12000/12000 s" in output and "best " in output
    assert (workdir / "rea" / "best.json").is_file() and "report: rea/report.html" in output


def test_trial_budget_search_in_a_terminal(workdir: Path):
    status, output = nasforge_pty("search", str(REPO / "configs" / "nb201_random.yaml"),
                                  "--set", "budget={trials: 30}", "--out", "random",
                                  cwd=workdir)
    assert_clean(status, output)
    assert re.search(r"search: 100%.*30/30", output), output


@pytest.fixture(scope="module")
def oneshot_output(workdir: Path) -> str:
    status, output = nasforge_pty("search", "pt.yaml", "--out", "pt", cwd=workdir)
    assert_clean(status, output)
    return output


def test_oneshot_search_in_a_terminal_shows_epochs_and_pt_decisions(oneshot_output: str):
    assert re.search(r"supernet: 100%.*2/2.*epoch 2: train_loss", oneshot_output)
    # DARTS-PT says which edge it scores, in which round, and the op it chose
    assert re.search(r"PT selection:.*round 1: scoring the ops of edge \d<-\d", oneshot_output)
    assert re.search(r"PT selection: 100%.*6/6.*round 6: edge \d<-\d -> \w+", oneshot_output)


def test_train_in_a_terminal_shows_epochs(workdir: Path, oneshot_output: str):
    status, output = nasforge_pty("train", "pt/best.json", "--epochs", "2", "--out", "model",
                                  cwd=workdir)
    assert_clean(status, output)
    assert re.search(r"train: 100%.*2/2.*epoch 2: loss [\d.]+ valid_acc", output), output
    for name in ("model.pt", "model.ts", "retrain.json"):  # every file it wrote
        assert f"wrote model/{name}" in output


def test_runs_list_and_show_in_a_terminal(workdir: Path, oneshot_output: str):
    status, output = nasforge_pty("runs", "list", ".", cwd=workdir)
    assert_clean(status, output)
    assert re.search(r"pt\s+finished\s+darts\s+\S+ \S+\s+1\s", output), output
    status, output = nasforge_pty("runs", "show", "pt", cwd=workdir)
    assert_clean(status, output)
    assert "status    finished" in output


def test_in_a_pipe_progress_is_a_log_line_and_resume_of_a_finished_run_says_so(workdir: Path):
    proc = nasforge("search", str(REPO / "configs" / "nb201_random.yaml"), "--set",
                    "budget={trials: 20}", "--out", "piped", cwd=workdir)
    assert "\r" not in proc.stderr  # no bar drawn
    assert re.search(r"nasforge.progress: search: 20/20 trials, best [\d.]+", proc.stderr)
    again = nasforge("search", "--resume", "piped", cwd=workdir)
    assert "piped already finished: nothing to resume" in again.stderr
    assert "20 trials (0 failed)" in again.stdout and "best:" in again.stdout


def test_no_progress_is_quiet(workdir: Path, oneshot_output: str):
    proc = nasforge("train", "pt/best.json", "--epochs", "1", "--out", "quiet",
                    "--no-progress", cwd=workdir)
    assert proc.stderr == "" and "wrote quiet/model.pt" in proc.stdout


@pytest.fixture
def not_ray() -> Iterator[str]:
    """A TCP server that answers like a web server, not like Ray."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()


def test_an_address_that_is_not_ray_is_one_line(workdir: Path, not_ray: str):
    pytest.importorskip("ray")
    args = ("search", str(REPO / "configs" / "nb201_random.yaml"), "--set",
            f"executor={{name: ray, address: '{not_ray}'}}", "--out", "ray")
    proc = nasforge(*args, cwd=workdir, check=False)
    one_line_error(proc, "is not a Ray cluster")
    assert not (workdir / "ray").exists()  # found before a run directory was made


def test_oneshot_run_dir_records_its_status(workdir: Path, oneshot_output: str):
    summary = json.loads(nasforge("runs", "show", "pt", "--json", cwd=workdir).stdout)
    assert summary["status"] == "finished"


YOUR_DATA = """\
import numpy as np
import nasforge
from sklearn.datasets import load_digits

X, y = load_digits(return_X_y=True)
nasforge.search({"name": "nb201", "C": 4, "N": 1}, {"name": "train", "epochs": 1}, "random",
                task=(X, y), trials=2, run_dir="mine", device="cpu")
record = nasforge.train("mine", 1, task=(X, y), out="mine/model")
print("predicted", nasforge.load("mine/model").predict(X[:5]))
"""


def test_your_data_from_python_in_a_terminal(workdir: Path):
    """The Python API in a terminal: what was derived from the arrays, progress bars by
    default (search and retraining), the files train wrote, a prediction."""
    status, output = python_pty(YOUR_DATA, cwd=workdir)
    assert_clean(status, output)
    assert "task arrays:" in output and "input (1, 64), 10 classes" in output
    assert re.search(r"search: 100%.*2/2", output), output
    assert "predicted [" in output and (workdir / "mine" / "model" / "model.ts").is_file()


def test_your_npz_file_from_the_command_line_in_a_terminal(workdir: Path):
    import numpy as np
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    np.savez(workdir / "digits.npz", x=x, y=y)
    (workdir / "npz.yaml").write_text(
        "space: {name: nb201, C: 4, N: 1}\ntask: {name: npz, path: digits.npz}\n"
        "evaluator: {name: train, epochs: 1}\nstrategy: {name: random}\nbudget: {trials: 2}\n"
        "device: cpu\n")
    status, output = nasforge_pty("search", "npz.yaml", "--out", "npz", cwd=workdir)
    assert_clean(status, output)
    assert "task npz:" in output and re.search(r"search: 100%.*2/2", output), output
    status, output = nasforge_pty("train", "npz/best.json", "--epochs", "1", "--out",
                                  "npz/model", cwd=workdir)
    assert_clean(status, output)
    assert "wrote npz/model/model.pt" in output and "wrote npz/model/retrain.json" in output
