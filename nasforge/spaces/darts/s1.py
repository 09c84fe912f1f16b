"""The data of space S1 (Zela et al., ICLR 2020): on every edge of the DARTS cell, the two ops
DARTS's alpha ranked highest in the authors' search; the space keeps only those two.

Transcribed from the pairs the DARTS-PT authors (Wang et al., ICLR 2021) ship for S1, in DARTS's
edge order (node 2 <- 0, 1; node 3 <- 0, 1, 2; node 4 <- 0..3; node 5 <- 0..4).
"""

from __future__ import annotations

from nasforge.spaces.darts.network import CELL_TYPES, EDGES

_SKIP, _MAX, _AVG = "skip_connect", "max_pool_3x3", "avg_pool_3x3"
_SEP3, _DIL3, _DIL5 = "sep_conv_3x3", "dil_conv_3x3", "dil_conv_5x5"

S1_NORMAL = (
    (_SKIP, _DIL3), (_SKIP, _DIL5),  # node 2
    (_SKIP, _DIL5), (_SKIP, _SEP3), (_SKIP, _DIL3),  # node 3
    (_MAX, _SKIP), (_SKIP, _SEP3), (_SKIP, _SEP3), (_SKIP, _DIL3),  # node 4
    (_SKIP, _SEP3), (_MAX, _SKIP), (_SKIP, _DIL3), (_DIL3, _DIL5), (_DIL3, _DIL5),  # node 5
)
S1_REDUCE = (
    (_MAX, _AVG), (_MAX, _DIL3),
    (_MAX, _AVG), (_MAX, _AVG), (_SKIP, _DIL5),
    (_MAX, _AVG), (_MAX, _SEP3), (_SKIP, _DIL3), (_SKIP, _DIL5),
    (_MAX, _AVG), (_MAX, _AVG), (_SKIP, _DIL5), (_SKIP, _DIL5), (_SKIP, _DIL5),
)

S1_EDGE_OPS: dict[str, list[str]] = {
    f"{cell}/{to}<-{src}": list(pair)
    for cell, pairs in zip(CELL_TYPES, (S1_NORMAL, S1_REDUCE), strict=True)
    for (to, src), pair in zip(EDGES, pairs, strict=True)
}
