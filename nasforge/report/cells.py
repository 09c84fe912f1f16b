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

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch

from nasforge.architecture import Architecture
from nasforge.report.plots import new_figure, save_figure
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.nb201 import NODES, NB201Space

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


def find_drawer(space: SearchSpace) -> CellDrawer:
    """The drawer for ``space``: its ``draw`` method, a registered drawer, or the table."""
    method = getattr(space, "draw", None)
    if callable(method):
        return lambda _space, arch, ax: method(arch, ax)
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
