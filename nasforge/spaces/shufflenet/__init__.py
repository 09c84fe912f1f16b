"""SPOS's ShuffleNetV2 space (Guo et al., ECCV 2020) as one package: ``space`` (choice
blocks, channel and bit-width search; registered as ``shufflenet``), ``blocks`` (the choice
blocks and their sliced, quantised layers) and ``latency`` (per-block latency tables). Its
supernet is ``nasforge.supernet.shufflenet``: spaces never import supernets."""

from nasforge.spaces.shufflenet import space  # registers the space

__all__ = ["space"]
