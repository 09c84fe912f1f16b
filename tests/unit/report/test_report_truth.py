"""Reports that tell the truth: every number labelled by its origin, real wall time, one-shot
runs described as one-shot, no one-dot charts, the supernet's curves and the selection's
tables, the retrain command, and one self-contained HTML file."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import numpy as np

from nasforge.architecture import Architecture
from nasforge.evaluators.base import Result
from nasforge.report import write_report
from nasforge.report.sources import metrics_text, outcome_text
from nasforge.run.directory import SearchResult
from nasforge.run.store import STORE_NAME, Trial, TrialStore
from nasforge.spaces.nb201 import NB201Space

SPACE = NB201Space()
TABLE = {"evaluator": "table", "dataset": "cifar10", "fidelity": 200}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def table_result(i: int) -> Result:
    return Result(metrics={"valid_acc": 80.0 + i % 7, "test_acc": 90.0 + i % 5},
                  cost=2200.0, params=10_000 + i, flops=10**6 + i)


def make_run(run_dir: Path, results: list[Result], meta: dict[str, object]) -> Path:
    """A run directory whose store holds these results and this meta data."""
    run_dir.mkdir()
    rng = np.random.default_rng(0)
    with TrialStore(run_dir / STORE_NAME) as store:
        for result in results:
            arch = SPACE.sample(rng)
            store.finish(store.start(arch, SPACE.key(arch)), result)
        for name, value in meta.items():
            store.set_meta(name, value)
    return run_dir


def embedded_images(html: str) -> dict[str, bytes]:
    """title (the PNG's relative path) -> the decoded bytes of each inlined image."""
    found = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*'
                       r'title="([^"]+)"', html)
    return {title: base64.b64decode(data) for data, title in found}


def one_shot_dir(tmp_path: Path) -> Path:
    history = [{"epoch": e, "train_loss": 2.3 - 0.1 * e, "train_acc": 10.0 + e}
               for e in (1, 2, 3)]
    run = make_run(tmp_path / "run", [table_result(0)],
                   {"epochs": history, "evaluator": TABLE, "created": 1000.0,
                    "finished_at": 1108.0})
    (run / "history.json").write_text(json.dumps(history))
    (run / "best.json").write_text("{}")
    (run / "config.yaml").write_text("strategy: {name: darts}\n")
    with (run / "selection_scores.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["edge", "removed", "step", "valid_acc"])
        writer.writeheader()
        for edge, accs in (("1<-0", (30.0, 12.0, 40.0)), ("2<-1", (25.0, 26.0, 5.0))):
            for op, acc in zip(("skip_connect", "nor_conv_1x1", "nor_conv_3x3"), accs,
                               strict=True):
                writer.writerow({"edge": edge, "removed": op, "step": "op", "valid_acc": acc})
    return run


def test_plots_are_embedded_so_the_html_is_one_file(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", [table_result(i) for i in range(6)], {"evaluator": TABLE})
    html = write_report(run, SPACE).read_text()
    images = embedded_images(html)
    assert set(images) == {"plots/progress.png", "plots/accuracy_vs_size.png",
                           "plots/best_cell.png"}
    for name, data in images.items():
        assert data.startswith(PNG_MAGIC) and data == (run / name).read_bytes()  # kept too
    assert 'src="plots/' not in html


def test_a_single_trial_draws_no_best_so_far_chart(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", [table_result(0)], {"evaluator": TABLE})
    html = write_report(run, SPACE).read_text()
    assert not (run / "plots" / "progress.png").exists() and "progress.png" not in html
    assert "accuracy_vs_size.png" not in html
    assert "plots/best_cell.png" in embedded_images(html)


def test_asktell_numbers_say_where_they_come_from(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", [table_result(i) for i in range(4)],
                   {"evaluator": TABLE, "created": 50.0, "finished_at": 62.5})
    (run / "config.yaml").write_text("space: {name: nb201}\nevaluator: {name: table}\n")
    (run / "best.json").write_text("{}")
    html = write_report(run, SPACE).read_text()
    # a table search trained nothing: the retrain command names a config with a task
    assert f"nasforge train {run / 'best.json'} --config configs/proxy_task.yaml" in html
    assert "NB201 table look-up: cifar10 validation accuracy after 200 epochs (search " \
           "signal)" in html
    assert "NB201 table look-up: cifar10 test accuracy after 200 epochs" in html
    assert "NB201 table look-up (cifar10 network)" in html  # params and FLOPs
    assert "evaluation cost, summed over trials (simulated: NB201 table training times)" in html
    assert "8,800.0 s" in html  # 4 x 2,200 simulated seconds ...
    assert "wall time (real, start to end of the run)</th><td>12.5 s" in html  # ... in 12.5 s


def test_one_shot_report_is_not_a_one_trial_search(tmp_path: Path) -> None:
    run = one_shot_dir(tmp_path)
    html = write_report(run, SPACE).read_text()
    assert "<th>trials</th>" not in html and "Top 1 of 1" not in html
    assert "one-shot: supernet trained for 3 epochs" in html
    assert "wall time (real, start to end of the run)</th><td>108.0 s" in html
    assert "simulated, not spent here" in html  # the table's 2,200 s, labelled
    assert "not the search signal" in html  # the table's valid_acc of the selected cell
    assert "nasforge train " + str(run / "best.json") in html
    assert embedded_images(html)["plots/supernet_training.png"].startswith(PNG_MAGIC)


def test_dartspt_scores_table_marks_the_kept_op(tmp_path: Path) -> None:
    html = write_report(one_shot_dir(tmp_path), SPACE).read_text()
    table = html[html.index("DARTS-PT: valid accuracy"):]
    rows = re.findall(r"<tr><td>(.*?)</td>(.*?)<td>(\w+)</td></tr>", table)
    assert [(edge, kept) for edge, _, kept in rows] == [("1&lt;-0", "nor_conv_1x1"),
                                                        ("2&lt;-1", "nor_conv_3x3")]
    assert "<b>12</b>" in rows[0][1] and "<b>5</b>" in rows[1][1]


def test_spos_and_pgnas_diagnostics_are_tables(tmp_path: Path) -> None:
    run = one_shot_dir(tmp_path)
    with (run / "selection_scores.csv").open("w") as handle:
        handle.write("arch,flops,params,step,trial,valid_acc\n")
        for i in range(20):
            handle.write(f"|a{i}|,{1000 + i},{10 + i},evolution,{i + 1},{i * 1.5}\n")
    (run / "candidates.csv").write_text("candidates,valid_error,test_error,arch\n"
                                        "1,40.0,41.0,|x|\n10,30.0,33.0,|y|\n")
    (run / "dropped.csv").write_text("layer,group,drop_p\n1<-0,skip_connect,0.75\n")
    html = write_report(run, SPACE).read_text()
    spos = html[html.index("SPOS: the best 15 candidates"):]
    assert "20 candidates scored" in spos and "1,000 to 1,019" in spos
    assert spos.index("|a19|") < spos.index("|a18|")  # best first
    assert "|a0|" not in spos.split("</table>")[0]  # only the best 15
    assert "PGNAS: error (%) of the best of the first C candidates" in html
    assert "<td class=\"num\">0.75</td>" in html


def test_the_terminal_names_the_signal_and_the_kind_of_run() -> None:
    lm = {"valid_acc": 14.62, "reward": 14.62, "valid_ppl": 20.92}
    line = metrics_text(lm, {"evaluator": "lm"})
    assert "reward 14.62 (search signal)" in line and "valid_acc" not in line
    one_shot = metrics_text({"valid_acc": 54.5, "test_acc": 87.0}, TABLE, one_shot=True)
    assert one_shot.startswith("NB201 table look-up of the selection:")
    assert "search signal" not in one_shot
    text = outcome_text(1, 0, 2200.0, TABLE, one_shot_epochs=50, wall_time=108.0)
    assert "1 trials" not in text and "2200" not in text and "wall time 108s" in text
    asktell = outcome_text(30, 1, 12000.0, TABLE, sim_clock=1500.0, wall_time=2.0)
    assert "evaluation cost 12000s (simulated)" in asktell and "cluster clock 1500s" in asktell


def test_search_result_repr_is_short() -> None:
    trials = [Trial(i, Architecture(op=f"conv{i}"), str(i), "ok",
                    Result(metrics={"valid_acc": float(i)}), 0.0, 1.0) for i in range(500)]
    text = repr(SearchResult(trials, trials[-1], 0.0, Path("runs/x")))
    assert len(text) < 200, text
    assert "trials=500" in text and "conv499" in text and "valid_acc=499" in text
    assert "conv3'" not in text
