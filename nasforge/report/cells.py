"""Drawing one architecture (the best cell) as a PNG, dispatched on the search space.

Dispatch order in :func:`draw_cell`:

1. a space's own ``draw(arch, ax)`` method, if it has one;
2. a drawer registered for the space's class (or a base class) with
   :func:`register_cell_drawer`, e.g. the NB201 DAG below;
3. a table of decision -> choice, which fits every space.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Patch

from nasforge.architecture import Architecture
from nasforge.report.plots import new_figure, save_figure
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.darts.space import DartsSpace
from nasforge.spaces.macro import MacroSpace
from nasforge.spaces.nb201 import NODES, NB201Space
from nasforge.spaces.shufflenet.space import ShuffleNetSpace

CellDrawer = Callable[[SearchSpace, Architecture, Axes], None]

_DRAWERS: dict[type[SearchSpace], CellDrawer] = {}

OP_COLORS = {
    "none": "#b0b0b0",
    "skip_connect": "tab:green",
    "nor_conv_1x1": "tab:blue",
    "nor_conv_3x3": "tab:purple",
    "avg_pool_3x3": "tab:orange",
}
SPACING = 1.5  # distance between NB201 nodes on the line
RADIUS = 0.2  # NB201 node circles


def register_cell_drawer(space_type: type[SearchSpace]) -> Callable[[CellDrawer], CellDrawer]:
    """Decorator: draw architectures of ``space_type`` (and its subclasses) with the function."""
    def register(drawer: CellDrawer) -> CellDrawer:
        _DRAWERS[space_type] = drawer
        return drawer

    return register


@runtime_checkable
class Drawable(Protocol):
    """A space that draws its own architectures (else a registered drawer or a table)."""

    def draw(self, arch: Architecture, ax: Axes) -> None: ...


def find_drawer(space: SearchSpace) -> CellDrawer:
    """The drawer for ``space``: its ``draw`` method, a registered drawer, or the table."""
    if isinstance(space, Drawable):
        return lambda _space, arch, ax: space.draw(arch, ax)
    for cls in type(space).__mro__:
        if cls in _DRAWERS:
            return _DRAWERS[cls]
    return draw_choice_table


def draw_cell(space: SearchSpace, arch: Architecture, path: Path,
              title: str | None = None) -> Path:
    """Draw ``arch`` of ``space`` into the PNG ``path`` (a drawer may resize the figure)."""
    fig = new_figure(9.0, 4.0)
    ax = fig.add_subplot()
    find_drawer(space)(space, arch, ax)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def draw_choice_table(space: SearchSpace, arch: Architecture, ax: Axes) -> None:
    """Any space: a two-column table of decision -> choice."""
    del space
    ax.set_axis_off()
    rows = [[label, str(choice)] for label, choice in arch.items()]
    if not rows:
        ax.text(0.5, 0.5, "(no decisions)", ha="center", va="center")
        return
    longest = max(len(a) + len(b) for a, b in rows)
    if isinstance(ax.figure, Figure):  # not when drawn into a subfigure
        ax.figure.set_size_inches(min(max(4.0, 0.09 * longest + 1.5), 14.0),
                                  0.9 + 0.3 * (len(rows) + 1))
    table = ax.table(cellText=rows, colLabels=["decision", "choice"], loc="center",
                     cellLoc="left", colLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.auto_set_column_width([0, 1])
    for (row, _col), cell in table.get_celld().items():
        cell.set_height(1.0 / (len(rows) + 1))
        if row == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#e8e8e8")


@register_cell_drawer(NB201Space)
def draw_nb201(space: SearchSpace, arch: Architecture, ax: Axes) -> None:
    """NB201: the 4-node DAG on a line, an arrow per edge labelled by its op; 'none' edges
    are grey and dashed. Longer edges arc above (from the input) or below."""
    assert isinstance(space, NB201Space)
    nodes = [_draw_node(ax, i) for i in range(NODES)]
    for (to, src), op in space.edge_ops(arch).items():
        _draw_edge(ax, nodes[src], nodes[to], op, _edge_rad(to, src))
    ax.text(-RADIUS - 0.1, 0, "input", ha="right", va="center", fontsize=10)
    ax.text(SPACING * (NODES - 1) + RADIUS + 0.1, 0, "output", ha="left", va="center",
            fontsize=10)
    ax.text(SPACING * (NODES - 1) / 2, -1.05, space.format(arch), ha="center", va="top",
            fontsize=7, family="monospace", color="#444444")
    ax.set_xlim(-1.0, SPACING * (NODES - 1) + 1.0)
    ax.set_ylim(-1.3, 1.45)
    ax.set_aspect("equal")
    ax.set_axis_off()


def _edge_rad(to: int, src: int) -> float:
    """Curvature (matplotlib arc3 ``rad``): adjacent nodes straight, 0->2 and 0->3 above
    (negative), 1->3 below, so no two labels meet."""
    return {1: 0.0, 2: -0.42 if src == 0 else 0.42, 3: -0.5}[to - src]


def _draw_node(ax: Axes, i: int) -> Circle:
    """Node ``i`` as a numbered circle at (i * SPACING, 0)."""
    circle = Circle((i * SPACING, 0.0), RADIUS, facecolor="#dbe9f6", edgecolor="#1f3b57",
                    linewidth=1.5, zorder=4)
    ax.add_patch(circle)
    ax.text(i * SPACING, 0.0, str(i), ha="center", va="center", fontsize=12,
            weight="bold", zorder=5)
    return circle


def _draw_edge(ax: Axes, src: Circle, dst: Circle, op: str, rad: float) -> None:
    """An arrow from ``src`` to ``dst`` bent by ``rad``, with the op at its midpoint."""
    (x0, y0), (x1, y1) = src.center, dst.center
    none = op == "none"
    color = OP_COLORS.get(op, "black")
    arrow = FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=f"arc3,rad={rad}",
                            arrowstyle="-" if none else "-|>", mutation_scale=16,
                            patchA=src, patchB=dst, color=color, linewidth=1.2 if none else 2,
                            linestyle="--" if none else "-", zorder=2)
    ax.add_patch(arrow)
    # the midpoint of arc3's quadratic Bezier (valid in data units as the aspect is equal)
    mx, my = (x0 + x1) / 2 + 0.5 * rad * (y1 - y0), (y0 + y1) / 2 - 0.5 * rad * (x1 - x0)
    ax.text(mx, my, op, ha="center", va="center", fontsize=9, color="#666666" if none else color,
            zorder=3, bbox={"boxstyle": "round,pad=0.2", "facecolor": "white",
                            "edgecolor": color, "linewidth": 0.8})


DARTS_COLORS = {
    "max_pool_3x3": "tab:brown", "sep_conv_3x3": "tab:blue", "sep_conv_5x5": "tab:cyan",
    "dil_conv_3x3": "tab:purple", "dil_conv_5x5": "tab:pink", "noise": "tab:red",
}
DARTS_STEP = 1.7  # distance between the intermediate nodes of a DARTS cell
DARTS_CELL_WIDTH = 10.5  # horizontal offset of the reduction cell


@register_cell_drawer(DartsSpace)
def draw_darts(space: SearchSpace, arch: Architecture, ax: Axes) -> None:
    """DARTS (Liu et al., ICLR 2019): the normal and the reduction cell side by side, inputs
    c_{k-2} and c_{k-1} on the left, nodes 0..3 in the middle, the output c_{k} (concat of the
    four nodes) on the right; each kept edge labelled by its op."""
    assert isinstance(space, DartsSpace)
    for i, (cell, ops) in enumerate(space.cell_ops(arch).items()):
        _draw_darts_cell(ax, cell, ops, i * DARTS_CELL_WIDTH)
    if isinstance(ax.figure, Figure):
        ax.figure.set_size_inches(15.0, 4.6)
    ax.set_xlim(-1.2, 2 * DARTS_CELL_WIDTH - 1.0)
    ax.set_ylim(-2.0, 2.2)
    ax.set_aspect("equal")
    ax.set_axis_off()


def _draw_darts_cell(ax: Axes, cell: str, ops: dict[tuple[int, int], str], x0: float) -> None:
    nodes = [_node_at(ax, x0, 1.2, "c_{k-2}"), _node_at(ax, x0, -1.2, "c_{k-1}")]
    nodes += [_node_at(ax, x0 + 1.8 + DARTS_STEP * i, 0.0, str(i)) for i in range(4)]
    out = _node_at(ax, x0 + 1.8 + DARTS_STEP * 4, 0.0, "c_{k}")
    # label boxes (x, y, half width) to keep clear of: the nodes, then each placed label
    placed = [(*node.center, 0.3) for node in [*nodes, out]]
    for (to, src), op in sorted(ops.items(), key=lambda item: item[0][1]):
        rad = 0.0 if src < 2 or to - src == 1 else -0.45
        _darts_edge(ax, nodes[src], nodes[to], op, rad, placed)
    for node in nodes[2:]:
        ax.add_patch(FancyArrowPatch(node.center, out.center, connectionstyle="arc3,rad=0.3",
                                     arrowstyle="-|>", mutation_scale=10, patchA=node,
                                     patchB=out, color="#b0b0b0", linewidth=0.8, zorder=1))
    ax.text(x0 + 1.8 + 1.5 * DARTS_STEP, 2.0, f"{cell} cell", ha="center", va="center",
            fontsize=12, weight="bold")


def _node_at(ax: Axes, x: float, y: float, label: str) -> Circle:
    """A labelled DARTS node (inputs/output as mathtext c_{k}, intermediate nodes numbered)."""
    circle = Circle((x, y), 0.32, facecolor="#dbe9f6", edgecolor="#1f3b57", linewidth=1.2,
                    zorder=4)
    ax.add_patch(circle)
    text = f"${label}$" if label.startswith("c_") else label
    ax.text(x, y, text, ha="center", va="center", fontsize=9, weight="bold", zorder=5)
    return circle


def _darts_edge(ax: Axes, src: Circle, dst: Circle, op: str, rad: float,
                placed: list[tuple[float, float, float]]) -> None:
    """An arrow labelled by its op; the label slides along the edge to avoid earlier ones."""
    (x0, y0), (x1, y1) = src.center, dst.center
    none = op == "none"
    color = OP_COLORS.get(op) or DARTS_COLORS.get(op, "black")
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=f"arc3,rad={rad}",
                                 arrowstyle="-" if none else "-|>", mutation_scale=12,
                                 patchA=src, patchB=dst, color=color, linestyle="--" if none
                                 else "-", linewidth=1.0 if none else 1.6, zorder=2))
    cx, cy = (x0 + x1) / 2 + rad * (y1 - y0), (y0 + y1) / 2 - rad * (x1 - x0)  # arc3 control
    half = 0.04 * len(op) + 0.1
    best = (0.5, 0.5)
    for t in (0.5, 0.35, 0.65, 0.25, 0.75, 0.18, 0.82):
        x = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t**2 * x1
        y = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t**2 * y1
        best = (x, y)
        if not any(abs(x - px) < half + ph and abs(y - py) < 0.35 for px, py, ph in placed):
            break
    placed.append((*best, half))
    ax.text(*best, op, ha="center", va="center", fontsize=7, zorder=6,
            color="#666666" if none else color,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": color,
                  "linewidth": 0.6})


@register_cell_drawer(MacroSpace)
def draw_macro(space: SearchSpace, arch: Architecture, ax: Axes) -> None:
    """Macro CNN: the stem, one box per layer (kernel / filters / stride or pooling), the
    classifier, top to bottom; an arrow per connection, including the repaired ones (a layer
    without inputs reads the stem; unconsumed outputs feed the classifier), longer ones arced."""
    assert isinstance(space, MacroSpace)
    net_inputs, heads = _macro_wiring(space, arch)
    layers = space.layers(arch)
    labels = ["stem"] + [_macro_text(spec) for spec in layers] + ["classifier"]
    if isinstance(ax.figure, Figure):
        ax.figure.set_size_inches(6.0, 1.0 + 0.8 * len(labels))
    ax.set_axis_off()
    ys = {k: -k for k in range(len(labels))}  # 0 = stem, i + 1 = layer i, last = classifier
    for k, text in enumerate(labels):
        ax.text(0, ys[k], text, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round,pad=0.4", "facecolor": "#eef3fb", "edgecolor": "#555"})
    wires = [(j + 1, i + 1) for i, inputs in enumerate(net_inputs) for j in inputs]
    wires += [(i + 1, len(labels) - 1) for i in heads]
    for src, dst in wires:
        rad = 0.0 if dst - src == 1 else 0.35 + 0.05 * (dst - src)
        ax.add_patch(FancyArrowPatch((0.35, ys[src] - 0.2), (0.35, ys[dst] + 0.2),
                                     connectionstyle=f"arc3,rad={-rad}", arrowstyle="-|>",
                                     mutation_scale=10, color="#444", lw=1.0))
    ax.set_xlim(-2.0, 2.5)
    ax.set_ylim(-len(labels) + 0.4, 0.6)


SHUFFLE_COLORS = {"shuffle3": "tab:blue", "shuffle5": "tab:purple", "shuffle7": "tab:red",
                  "xception": "tab:orange"}


@register_cell_drawer(ShuffleNetSpace)
def draw_shufflenet(space: SearchSpace, arch: Architecture, ax: Axes) -> None:
    """ShuffleNet blocks left to right: a bar per block, coloured by its choice, as tall as
    its width scale, labelled with its bits (w/a) when the space searches precision; stage
    boundaries dashed."""
    assert isinstance(space, ShuffleNetSpace)
    if isinstance(ax.figure, Figure):
        ax.figure.set_size_inches(max(6.0, 0.45 * space.n_blocks + 2.0), 4.0)
    blocks = [space.block(arch, i) for i in range(space.n_blocks)]
    for i, (op, scale, wbits, abits) in enumerate(blocks):
        ax.bar(i, scale, color=SHUFFLE_COLORS.get(op, "grey"), edgecolor="black", lw=0.5)
        if len(space.bits) > 1:
            ax.text(i, scale, f"{wbits}/{abits}", ha="center", va="bottom", fontsize=7,
                    rotation=90)
    for boundary in np.cumsum(space.repeats)[:-1]:
        ax.axvline(boundary - 0.5, color="grey", ls="--", lw=0.8)
    ax.set_xticks(range(space.n_blocks))
    ax.set_xlabel("block (stages split by dashes; labels: weight/activation bits)"
                  if len(space.bits) > 1 else "block (stages split by dashes)")
    ax.set_ylabel("width scale")
    ax.set_ylim(0, max(space.channel_scales) * 1.3)
    handles = [Patch(color=c, label=op) for op, c in SHUFFLE_COLORS.items()
               if op in space.choices]
    ax.legend(handles=handles, loc="upper left", ncol=len(handles), fontsize=8)


def _macro_wiring(space: MacroSpace, arch: Architecture) -> tuple[list[list[int]], list[int]]:
    """Each layer's inputs (-1 = the stem, repair rule 1) and the classifier's (rule 2)."""
    layers = space.layers(arch)
    inputs = [spec["inputs"] or [-1] for spec in layers]
    used = {j for ins in inputs for j in ins}
    return inputs, [i for i in range(len(layers)) if i not in used]


def _macro_text(spec: dict[str, object]) -> str:
    kernel = f"{spec['filter_h']}x{spec['filter_w']}"
    if spec["type"] != "conv":
        return f"{spec['type']} {kernel}, stride {spec['stride']}"
    return f"conv {kernel}, {spec['filters']} filters, stride {spec['stride']}"
