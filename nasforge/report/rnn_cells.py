"""Drawing a recurrent cell of the ``rnn_cell`` space as its tree (Zoph & Le 2017, Fig. 5):
leaves at the bottom fed by x_t and h_{t-1}, each node labelled "comb / act", the node that
receives c_{t-1} and the node whose pre-activation becomes c_t marked, h_t at the root."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nasforge.architecture import Architecture
from nasforge.nn.rnn_cell import CellSpec, tree_level
from nasforge.report.cells import register_cell_drawer
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.rnn_cell import RnnCellSpace

LEAF_GAP = 2.0  # horizontal distance between leaves
LEVEL_GAP = 1.6  # vertical distance between tree levels
C_PREV_COLOR = "tab:red"
C_T_COLOR = "tab:blue"
BOX = {"boxstyle": "round,pad=0.35", "facecolor": "#dbe9f6", "edgecolor": "#1f3b57"}


def node_positions(spec: CellSpec) -> list[tuple[float, float]]:
    """(x, y) of every node: leaves on a line, an inner node centred above its children."""
    positions = [(i * LEAF_GAP, 0.0) for i in range(spec.base)]
    for node in range(spec.base, len(spec.nodes)):
        left, right = spec.children(node)
        x = (positions[left][0] + positions[right][0]) / 2
        positions.append((x, tree_level(spec.base, node) * LEVEL_GAP))
    return positions


@register_cell_drawer(RnnCellSpace)
def draw_rnn_cell(space: SearchSpace, arch: Architecture, ax: Axes) -> None:
    assert isinstance(space, RnnCellSpace)
    spec = space.spec(arch)
    if spec.base > 4 and isinstance(ax.figure, Figure):  # wide trees need a wider figure
        ax.figure.set_size_inches(1.8 * spec.base, 1.3 * tree_level(spec.base, spec.root) + 3)
    positions = node_positions(spec)
    fontsize = 9 if spec.base <= 4 else 7
    for node in range(spec.base, len(spec.nodes)):
        for child in spec.children(node):
            _arrow(ax, positions[child], positions[node])
    for node, (comb, act) in enumerate(spec.nodes):
        edge = C_PREV_COLOR if node == spec.c_prev_node else BOX["edgecolor"]
        ax.text(*positions[node], f"{node}: {comb}\n{act}", ha="center", va="center",
                fontsize=fontsize, zorder=3, bbox={**BOX, "edgecolor": edge,
                                                   "linewidth": 2 if edge != BOX["edgecolor"]
                                                   else 1})
    _draw_leaf_inputs(ax, positions[: spec.base], fontsize)
    _draw_memory(ax, spec, positions, fontsize)
    root_x, root_y = positions[spec.root]
    _arrow(ax, (root_x, root_y), (root_x, root_y + 0.9 * LEVEL_GAP))
    ax.text(root_x, root_y + LEVEL_GAP, "h_t", ha="center", va="bottom", fontsize=11,
            weight="bold")
    width = (spec.base - 1) * LEAF_GAP
    ax.text(width / 2, -1.5, space.format(arch), ha="center", va="top", fontsize=6,
            family="monospace", color="#444444", wrap=True)
    ax.set_xlim(-1.5, width + 1.5)
    ax.set_ylim(-1.9, root_y + 1.6 * LEVEL_GAP)
    ax.set_axis_off()


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float],
           color: str = "#555555", shrink: tuple[float, float] = (14, 14)) -> None:
    """An arrow between two points, stopping ``shrink`` points short of each (the boxes)."""
    ax.annotate("", xy=end, xytext=start, zorder=1,
                arrowprops={"arrowstyle": "-|>", "color": color, "linewidth": 1.2,
                            "shrinkA": shrink[0], "shrinkB": shrink[1]})


def _draw_leaf_inputs(ax: Axes, leaves: list[tuple[float, float]], fontsize: int) -> None:
    """Each leaf reads W_i x_t and U_i h_{t-1}."""
    for x, y in leaves:
        for dx, label in ((-0.45, "x_t"), (0.45, "h_{t-1}")):
            ax.text(x + dx, y - 1.0, label, ha="center", va="center", fontsize=fontsize)
            _arrow(ax, (x + dx, y - 1.0), (x, y), shrink=(6, 12))


def _draw_memory(ax: Axes, spec: CellSpec, positions: list[tuple[float, float]],
                 fontsize: int) -> None:
    """c_{t-1} comes in (red, with the inject comb / act) and c_t goes out (blue)."""
    x, y = positions[spec.c_prev_node]
    ax.text(x - 0.95, y + 0.6, f"c_{{t-1}}\n{spec.inject[0]} / {spec.inject[1]}",
            ha="center", va="center", fontsize=fontsize, color=C_PREV_COLOR)
    _arrow(ax, (x - 0.95, y + 0.6), (x, y), color=C_PREV_COLOR, shrink=(12, 12))
    x, y = positions[spec.c_t_node]
    ax.text(x + 0.95, y + 0.6, "c_t\n(pre-act.)", ha="center", va="center",
            fontsize=fontsize, color=C_T_COLOR)
    _arrow(ax, (x, y), (x + 0.95, y + 0.6), color=C_T_COLOR, shrink=(12, 12))
