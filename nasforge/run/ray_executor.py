"""Candidate evaluation on a Ray cluster (``pip install 'nasforge[ray]'``).

``executor: {name: ray, address: "HOST:6379", workers: 64, cpus_per_trial: 4,
gpus_per_trial: 0.5}`` joins the cluster at ``address`` (started with Ray's own tools, e.g.
``ray start --head`` and ``ray start --address=HOST:6379`` on each machine); without an
address a local Ray instance is started on this machine. ``workers`` bounds the trials in
flight; each trial asks Ray for ``cpus_per_trial`` CPUs and ``gpus_per_trial`` GPUs
(fractions allowed), so Ray places it where they are free; its worker process starts with
passive OpenMP waiting (unless set here) and ``cpus_per_trial`` OpenMP threads
(``nasforge.threads``). A worker that dies mid-trial has
its trial retried by Ray up to ``max_retries`` times, then the trial is marked failed. The
run store on this machine stays the single source of truth: resume works as with any
executor.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Evaluator, Result
from nasforge.registry import EXECUTORS
from nasforge.run.executors import Executor, evaluate_safely
from nasforge.threads import worker_environment

log = logging.getLogger(__name__)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install 'nasforge[ray]'") from None
    return ray


def _evaluate(evaluator: Evaluator, arch: Architecture, threads: int) -> Result:
    import torch

    torch.set_num_threads(threads)
    return evaluate_safely(evaluator, arch)


# A client's HTTP/2 connection preface and an empty SETTINGS frame: a gRPC server (Ray's GCS
# and Ray Client) answers with a SETTINGS frame of its own (RFC 9113, Sec. 3.4 and 6.5).
HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
SETTINGS_FRAME = 4
PROBE_TIMEOUT = 5.0  # seconds to wait for that answer


def _speaks_grpc(sock: socket.socket) -> bool:
    """Whether the server on ``sock`` answers an HTTP/2 preface with a SETTINGS frame."""
    sock.sendall(HTTP2_HELLO)
    header = b""
    try:
        while len(header) < 9:  # a frame header: length (3), type (1), flags (1), stream (4)
            chunk = sock.recv(9 - len(header))
            if not chunk:
                break
            header += chunk
    except TimeoutError:
        return False
    return len(header) == 9 and header[3] == SETTINGS_FRAME


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    def __init__(self, address: str | None = None, workers: int = 2, cpus_per_trial: float = 1,
                 gpus_per_trial: float = 0, max_retries: int = 2,
                 connect_timeout: float = 10.0) -> None:
        if workers < 1 or cpus_per_trial <= 0 or gpus_per_trial < 0 or max_retries < 0:
            raise ConfigError("executor: workers >= 1, cpus_per_trial > 0, gpus_per_trial >= 0, "
                              "max_retries >= 0")
        self.address, self.capacity = address, workers
        self.cpus, self.gpus, self.max_retries = cpus_per_trial, gpus_per_trial, max_retries
        self.connect_timeout = connect_timeout
        self.refs: dict[Any, int] = {}
        self.started_here = False

    def start(self, evaluator: Evaluator) -> None:
        super().start(evaluator)
        ray = _ray()
        if not ray.is_initialized():
            if self.address:
                self._check_reachable(self.address)
                ray.init(address=self.address, log_to_driver=False)
            else:  # a local cluster sized for the trials in flight, importing what we import
                path = os.pathsep.join(p for p in sys.path if p)
                ray.init(num_cpus=max(1, int(self.capacity * self.cpus)),
                         include_dashboard=False, log_to_driver=False,
                         runtime_env={"env_vars": {"PYTHONPATH": path}})
                self.started_here = True
        self.evaluator_ref = ray.put(evaluator)  # shipped once, not with every trial
        # Workers are separate processes: the env must be theirs before their torch loads.
        env = worker_environment(max(1, int(self.cpus)))
        self.task = ray.remote(_evaluate).options(
            num_cpus=self.cpus, num_gpus=self.gpus, max_retries=self.max_retries,
            runtime_env={"env_vars": env})

    def check(self) -> None:
        if self.address:
            self._check_reachable(self.address)

    def _check_reachable(self, address: str) -> None:
        """Fail fast, naming the address, instead of Ray's long connection retries: the
        address must answer, and answer as Ray does (gRPC, i.e. HTTP/2)."""
        host, _, port = address.removeprefix("ray://").rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)),
                                          timeout=self.connect_timeout) as sock:
                sock.settimeout(min(self.connect_timeout, PROBE_TIMEOUT))
                speaks = _speaks_grpc(sock)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {address!r} ({exc})") from None
        if not speaks:
            raise ConfigError(f"{address!r} answers but is not a Ray cluster (no gRPC reply): "
                              "check executor.address (the head's GCS port, 6379 by default)")

    def submit(self, trial_id: int, arch: Architecture) -> None:
        threads = max(1, int(self.cpus))
        self.refs[self.task.remote(self.evaluator_ref, arch, threads)] = trial_id

    def wait(self) -> tuple[int, Result]:
        ray = _ray()
        ready, _ = ray.wait(list(self.refs), num_returns=1)
        trial_id = self.refs.pop(ready[0])
        try:
            return trial_id, ray.get(ready[0])
        except (ray.exceptions.RayTaskError, ray.exceptions.WorkerCrashedError,
                ray.exceptions.RayActorError) as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ConfigError):
                raise cause from None  # a user error stops the search, as locally
            log.warning("trial %d failed on Ray: %s", trial_id, exc)
            return trial_id, Result.failed(f"Ray: {type(exc).__name__}")

    def close(self) -> None:
        ray = _ray()
        for ref in list(self.refs):
            ray.cancel(ref, force=True)
        self.refs.clear()
        if self.started_here:
            ray.shutdown()
            self.started_here = False
