"""Errors a user can cause. The CLI prints them as one line and exits with status 2."""

from __future__ import annotations


class NasforgeError(ValueError):
    """Bad input from a user: a config, an architecture string, a file, a data set."""


class ConfigError(NasforgeError):
    """A config key that does not exist, or a value of the wrong type."""


class ArchitectureError(NasforgeError):
    """An architecture that is malformed or not in its search space."""


class DataError(NasforgeError):
    """A data set or benchmark file that is missing or corrupt."""


class RunDirError(NasforgeError):
    """A run directory that cannot be used as asked (e.g. it already holds another run)."""


class SearchFailed(NasforgeError):
    """A search in which no trial finished: it ends "failed" with its first trial's error."""


class TrialFailed(RuntimeError):
    """One candidate failed (NaN loss, crash). The search marks the trial failed and goes on."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would raise KeyboardInterrupt, so that both stop a run
    the same way (``kill PID``, a batch system's time limit, ``docker stop``)."""
