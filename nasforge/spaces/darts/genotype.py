"""DARTS's ``Genotype`` text, read safely (``ast``, never ``eval``) and written exactly as the
official code prints it (Liu et al., ICLR 2019)::

    Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=range(2, 6),
             reduce=[...], reduce_concat=range(2, 6))

Each cell lists 8 ``(op, input)`` pairs, two per intermediate node 2..5; concat may be written
``range(2, 6)`` or ``[2, 3, 4, 5]`` (the only concat the space has).
"""

from __future__ import annotations

import ast
from typing import Any

from nasforge.errors import ArchitectureError
from nasforge.spaces.darts.network import CELL_TYPES, NODES

FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")
CONCAT = list(NODES)
Pairs = list[tuple[str, int]]  # one cell: 8 (op, input) pairs, node by node


def format_genotype(cells: dict[str, Pairs]) -> str:
    parts = []
    for cell in CELL_TYPES:
        pairs = ", ".join(f"({op!r}, {src})" for op, src in cells[cell])
        parts.append(f"{cell}=[{pairs}], {cell}_concat=range({NODES[0]}, {NODES[-1] + 1})")
    return f"Genotype({', '.join(parts)})"


def parse_genotype(text: str) -> dict[str, Pairs]:
    """``{"normal": pairs, "reduce": pairs}``; any deviation is a one-line ArchitectureError."""
    fields = _fields(text)
    cells: dict[str, Pairs] = {}
    for cell in CELL_TYPES:
        cells[cell] = _pairs(_literal(fields[cell], text), cell, text)
        concat = _concat(fields[f"{cell}_concat"], text)
        if concat != CONCAT:
            raise ArchitectureError(
                f"{cell}_concat must be {CONCAT} (nodes 2..5), got {concat} in {_short(text)}")
    return cells


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= 80 else flat[:77] + "...")


def _fields(text: str) -> dict[str, ast.expr]:
    """The four fields of ``Genotype(...)`` (keywords, or positional in the official order)."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        raise ArchitectureError(f"not a DARTS genotype: {_short(text)}") from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == "Genotype" and len(call.args) <= len(FIELDS)):
        raise ArchitectureError(f"not a DARTS genotype (want Genotype(...)): {_short(text)}")
    fields: dict[str, ast.expr] = dict(zip(FIELDS, call.args, strict=False))
    for keyword in call.keywords:
        if keyword.arg not in FIELDS or keyword.arg in fields:
            raise ArchitectureError(
                f"bad genotype field {keyword.arg!r} in {_short(text)}; fields: {list(FIELDS)}")
        fields[keyword.arg] = keyword.value
    missing = [f for f in FIELDS if f not in fields]
    if missing:
        raise ArchitectureError(f"genotype misses {missing}: {_short(text)}")
    return fields


def _literal(node: ast.expr, text: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ArchitectureError(f"genotype field is not a literal: {_short(text)}") from None


def _pairs(value: Any, cell: str, text: str) -> Pairs:
    want = 2 * len(NODES)
    if not isinstance(value, (list, tuple)) or len(value) != want:
        raise ArchitectureError(f"genotype {cell} must list {want} (op, input) pairs: "
                                f"{_short(text)}")
    pairs: Pairs = []
    for item in value:
        ok = (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
              and isinstance(item[1], int) and not isinstance(item[1], bool))
        if not ok:
            raise ArchitectureError(f"genotype {cell} has a bad pair {item!r} (want ('op', input))")
        pairs.append((item[0], item[1]))
    return pairs


def _concat(node: ast.expr, text: str) -> list[int]:
    """``range(a, b)`` (literal int arguments) or a literal list of ints."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        args = [_literal(a, text) for a in node.args]
        if node.keywords or not 1 <= len(args) <= 3 or not all(
                isinstance(a, int) and abs(a) < 1000 for a in args):
            raise ArchitectureError(f"bad concat range in {_short(text)}")
        return list(range(*args))
    value = _literal(node, text)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) for v in value):
        raise ArchitectureError(f"concat must be range(2, 6) or [2, 3, 4, 5]: {_short(text)}")
    return list(value)
