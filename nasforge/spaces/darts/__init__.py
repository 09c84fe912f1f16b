"""The DARTS CNN cell space (Liu et al., ICLR 2019) as one package: ``space`` (the decisions,
sampling, mutation; registered as ``darts``), ``ops`` (its eight operations), ``network``
(the standalone network of a genotype), ``genotype`` (the official ``Genotype(...)`` text
format) and ``s1`` (the data of the S1 space of Zela et al., ICLR 2020, used by DARTS-PT).
Its supernets (every op; the fused cell) are ``nasforge.supernet.darts`` and
``nasforge.supernet.fused_darts``: spaces never import supernets."""

from nasforge.spaces.darts import space  # registers the space

__all__ = ["space"]
