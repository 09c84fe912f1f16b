"""What the reader sees (issue 31): the result before the config, every trial inside the
chart, architecture strings that wrap only between tokens, a heatmap scale that shows small
differences, and whole-number ticks on epoch / generation / trial axes."""

from __future__ import annotations

import re
from html import unescape
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from test_report_truth import make_run

from nasforge.architecture import Architecture
from nasforge.evaluators.base import Result
from nasforge.report import controller, plots, write_report
from nasforge.report.data import progress
from nasforge.report.html import CSS, arch_html, arch_tokens
from nasforge.report.oneshot import (
    alpha_figure,
    plot_generations,
    plot_history,
    value_digits,
)
from nasforge.run.store import Trial
from nasforge.spaces.nb201 import NB201Space

SPACE = NB201Space()
NB201_ARCH = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"
MACRO_ARCH = "conv:3x3/36/s1<-0,1 sep:5x5/48/s2<- | conv:7x7/64/s1<-0 lr=0.05"
GENOTYPE = ("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], "
            "normal_concat=range(2, 6))")


def headings(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", html)]


def visible_text(html: str) -> str:
    """What a browser shows (tags dropped, entities decoded)."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def store_run(run_dir: Path, values: list[float], meta: dict[str, object]) -> Path:
    """A run of these search-signal values with a config and a best.json (``make_run``)."""
    make_run(run_dir, [Result(metrics={"valid_acc": v}, cost=1.0, params=1000) for v in values],
             meta)
    (run_dir / "config.yaml").write_text("seed: 0\nspace: {name: nb201}\n")
    (run_dir / "best.json").write_text("{}")
    return run_dir


# -- layout ---------------------------------------------------------------------------------

def test_asktell_report_puts_the_result_first_and_the_config_last(tmp_path: Path) -> None:
    run = store_run(tmp_path / "run", [90.0, 82.9, 95.0, 93.0], {"evaluator": {}})
    html = write_report(run, SPACE).read_text()
    titles = headings(html)
    assert titles[0] == "Summary" and titles[1].startswith("Best architecture")
    assert titles[-1] == "Configuration"
    assert html.index("Top 4 of 4 trials") < html.index("<h2>Configuration")
    assert html.index("nasforge train") < html.index("<h2>Plots")


def test_one_shot_report_puts_the_config_after_its_diagnostics(tmp_path: Path) -> None:
    history = [{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 1.5}]
    run = store_run(tmp_path / "run", [80.0], {"epochs": history, "evaluator": {}})
    (run / "selection_scores.csv").write_text("edge,removed,step,valid_acc\n"
                                              "1<-0,skip_connect,op,30.0\n")
    titles = headings(write_report(run, SPACE).read_text())
    assert titles[:2] == ["Summary", "Selected architecture"]
    assert titles[-1] == "Configuration" and any(t.startswith("DARTS-PT") for t in titles)


# -- the best-so-far chart ------------------------------------------------------------------

def trial(i: int, valid: float) -> Trial:
    result = Result(metrics={"valid_acc": valid}, cost=1.0)
    return Trial(i, Architecture(a=i), str(i), "ok", result, 0.0, 1.0)


def test_progress_chart_shows_every_trial_even_a_low_one() -> None:
    # the demo's case: one trial (2) far below the other 23; a percentile cut hid it
    values = [95.0 + 0.1 * i for i in range(24)]
    values[1] = 82.9
    fig = plots.progress_figure(progress([trial(i + 1, v) for i, v in enumerate(values)]))
    for ax in fig.axes:
        low, high = ax.get_ylim()
        assert low < min(values) and high > max(values)


# -- integer ticks --------------------------------------------------------------------------

@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures the plot functions save (captured instead of written)."""
    figures: list[Figure] = []

    def keep(fig: Figure, path: Path) -> Path:
        figures.append(fig)
        return path

    monkeypatch.setattr(plots, "save_figure", keep)
    monkeypatch.setattr(controller, "save_figure", keep)
    return figures


def visible_xticks(ax: Axes) -> list[float]:
    low, high = sorted(ax.get_xlim())
    return [float(t) for t in ax.get_xticks() if low <= t <= high]


def assert_integer_ticks(ax: Axes) -> None:
    ticks = visible_xticks(ax)
    assert ticks and all(t == round(t) for t in ticks), ticks


def test_epoch_and_generation_axes_tick_whole_numbers_only(drawn: list[Figure]) -> None:
    weights = [np.full((2, 3), 1 / 3), np.array([[0.3, 0.3, 0.4], [0.2, 0.5, 0.3]])]
    fig = alpha_figure(weights, ["1<-0", "2<-0"], [["a", "b", "c"]] * 2)
    assert fig is not None
    assert_integer_ticks(fig.axes[1])  # op weights per epoch, 2 epochs: once 1.0, 1.2, ...
    plot_history([{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 1.0}],
                 Path("unused.png"))
    plot_generations([{"generation": g, "best": 1.0 + g, "top_k_mean": 0.5 + g,
                       "evaluated": 10 * g, "rejected": g} for g in range(2)],
                     Path("unused.png"))
    controller.plot_controller([{"told": t, "reward_mean": 0.1 * t, "reward_max": 0.2 * t,
                                 "baseline": 0.1, "entropy": 1.0, "depth": 0}
                                for t in (1, 2)], Path("unused.png"))
    assert len(drawn) == 3
    for fig in drawn:
        for ax in fig.axes:
            if ax.get_xlabel() in ("epoch", "generation", "architectures told"):
                assert_integer_ticks(ax)


def test_trial_axis_ticks_whole_numbers_only() -> None:
    fig = plots.progress_figure(progress([trial(1, 90.0), trial(2, 91.0)]))
    assert_integer_ticks(fig.axes[0])


# -- architecture strings -------------------------------------------------------------------

@pytest.mark.parametrize("text, whole", [
    (NB201_ARCH, re.findall(r"\w+~\d", NB201_ARCH)),
    (MACRO_ARCH, MACRO_ARCH.split()),
    (GENOTYPE, ["('sep_conv_3x3', 0)", "('skip_connect', 1)", "normal_concat=range(2, 6)"]),
    ('{"depth": 2, "widths": [16, 32], "act": "relu"}', ['"widths": [16, 32]']),
])
def test_architecture_strings_wrap_only_between_tokens(text: str, whole: list[str]) -> None:
    tokens = arch_tokens(text)
    assert "".join(tokens) == text and len(tokens) > 2  # wrappable, nothing lost
    for piece in whole:  # each op / layer lies inside one unbreakable token
        assert any(piece in token for token in tokens), piece
    html = arch_html(text)
    assert visible_text(html).replace(" ", "") == text.replace(" ", "")
    spans = re.findall(r'<span class="tok">(.*?)</span>', html)
    assert [unescape(s) for s in spans] == [t.strip() for t in tokens]


def test_nb201_wraps_at_node_and_edge_boundaries() -> None:
    assert arch_tokens(NB201_ARCH) == ["|nor_conv_3x3~0|+", "|skip_connect~0|", "none~1|+",
                                       "|nor_conv_1x1~0|", "none~1|", "avg_pool_3x3~2|"]


def test_css_never_breaks_inside_a_token() -> None:
    assert "break-all" not in CSS and "anywhere" not in CSS
    assert re.search(r"\.arch \.tok \{[^}]*white-space: nowrap", CSS)


def test_report_shows_architectures_as_wrappable_tokens(tmp_path: Path) -> None:
    run = store_run(tmp_path / "run", [90.0, 95.0], {"evaluator": {}})
    html = write_report(run, SPACE).read_text()
    start = html.index("<h2>Best architecture")
    best = html[start:html.index("<table>", start)]
    assert '<p class="arch"><span class="tok">|' in best and "<wbr>" in best
    assert "<pre>" not in best  # a <pre> never wraps: a DARTS genotype ran off the page


# -- the op-weight heatmap ------------------------------------------------------------------

def test_heatmap_colours_span_the_data_and_cells_carry_values() -> None:
    near_uniform = np.array([[0.124, 0.126, 0.125], [0.127, 0.121, 0.125]])  # ~1/8 each
    ops = [["a", "b", "c"], ["a", "b", "c"]]
    fig = alpha_figure([near_uniform], ["1<-0", "2<-0"], ops)
    assert fig is not None
    image = fig.axes[0].images[0]
    assert image.norm.vmin == pytest.approx(0.121) and image.norm.vmax == pytest.approx(0.127)
    colours = image.cmap(image.norm(near_uniform)).reshape(-1, 4)
    assert len({tuple(np.round(c, 3)) for c in colours}) >= 5  # not one colour
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "0.121" in labels and "0.127" in labels and len(labels) == 6
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)


@pytest.mark.parametrize("span, digits", [(0.0011, 4), (0.006, 3), (0.55, 2), (0.0, 2),
                                          (1e-9, 5)])
def test_annotations_have_the_decimals_that_tell_weights_apart(span: float,
                                                               digits: int) -> None:
    assert value_digits(span) == digits


def test_heatmap_leaves_missing_ops_blank_and_survives_equal_weights() -> None:
    ops = [["a", "b"], ["b"]]  # e.g. DARTS-PT after one edge was decided
    fig = alpha_figure([np.array([[0.5, 0.5], [1.0, np.nan]])], ["1<-0", "2<-0"], ops)
    assert fig is not None
    grid = np.asarray(fig.axes[0].images[0].get_array())
    assert np.isnan(grid[1, 0]) and grid[1, 1] == 1.0
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.50", "0.50", "1.00"]
    same = alpha_figure([np.full((1, 2), 0.5)], ["1<-0"], [["a", "b"]])
    assert same is not None
    for drawn_fig in (fig, same):  # draws, even with a zero-width range of weights
        drawn_fig.savefig(BytesIO(), format="png")
