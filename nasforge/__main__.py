"""``python -m nasforge`` runs the CLI."""

from nasforge.entry import run

run()
