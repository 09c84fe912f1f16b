"""Dimension-agnostic building blocks (1D sequences and 2D images) and cost counting."""
