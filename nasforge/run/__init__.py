"""The run spine: how a search runs, resumes and is written down.

``plan`` (one ``Plan`` per search: built from a config or from objects, checked in one
place, executed by one function) -> the two loops, ``loop`` (ask/tell trials) and
``oneshot`` (supernet training, selection, evaluation) -> the run ``directory`` (config,
outputs, ``lock`` against two processes in one directory) and its SQLite ``store``
(trials, strategy state: what a resume reads). Around them: ``components`` (registries ->
objects), ``executors`` / ``ray_executor`` (where candidates are evaluated),
``distributed`` (data-parallel supernet training) and ``supernet_reuse`` (starting from
another run's trained supernet).

Nothing is imported here, so that low layers (executors, the store) can be imported without
the loops above them.
"""
