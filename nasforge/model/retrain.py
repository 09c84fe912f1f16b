"""Retrain a searched architecture from scratch and save it as a model: ``nasforge.train``
(the ``nasforge train`` command is a thin adapter over it).

What to train comes from the run: its ``best.json`` (space and architecture; a user's space
by reference, ``nasforge.spaces.reference``) and its ``config.yaml`` (task, seed, device, the
search's training settings). A run whose task or space were Python objects has neither on
disk: they are given again (``task=``, ``space=``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nasforge.architecture import Architecture
from nasforge.config import (
    Component,
    apply_overrides,
    check_options,
    config_from_dict,
    read_mapping,
)
from nasforge.data.arrays import TaskArgument, task_argument
from nasforge.errors import ArchitectureError, ConfigError, NasforgeError, TrialFailed
from nasforge.model.io import ONNX_FILE, Predictor, export, save_model
from nasforge.model.onnx import require_onnx
from nasforge.nn.counting import measure
from nasforge.progress import progress_logging
from nasforge.run.components import build, factory_for, registries, resolve_runtime
from nasforge.run.directory import CONFIG_NAME, SearchResult
from nasforge.runtime import Runtime
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.reference import space_from_spec, space_spec
from nasforge.task import Task
from nasforge.training import TrainSettings, eval_batches, evaluate, fit, seeded

log = logging.getLogger(__name__)
DEFAULT_EPOCHS = 10
RECORD_FILE = "retrain.json"
SETTING_KEYS = ("lr", "momentum", "weight_decay", "optimizer", "grad_clip", "label_smoothing")
NEEDS_TASK = ("pass task= to nasforge.train, or --config CONFIG.yaml (with a task section) to "
              "nasforge train")


@dataclass(frozen=True)
class RetrainConfig:
    """What retraining reads from a config: the task, the search evaluator (its training
    settings, or an evaluator that retrains itself), seed and runtime. Not the search's own
    sections: the space is the one in best.json, and no strategy runs."""

    path: Path | None
    task: Component | None = None
    evaluator: Component | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "32-true"
    compile: bool | str = "auto"

    def runtime(self) -> Runtime:
        return resolve_runtime(self.device, self.precision, self.compile)


def train(run_or_best_json: str | Path | SearchResult, epochs: int | None = None, *,
          task: TaskArgument = None, space: SearchSpace | None = None,
          config: str | Path | None = None, out: str | Path | None = None, onnx: bool = False,
          progress: bool | None = None, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Retrain a run's best architecture from scratch and save it; return the record
    (also written as ``retrain.json``) with ``valid_acc``, ``test_acc`` and ``files`` (every
    file written).

    - ``run_or_best_json``: a run directory, its ``best.json`` (or any JSON with ``space``
      and ``architecture``), or a ``SearchResult``.
    - ``epochs``: default ``DEFAULT_EPOCHS``.
    - ``task``: what ``nasforge.search(task=...)`` takes (a ``Task``, a name or spec, arrays
      ``(X, y, ...)``, a Dataset, a folder or ``.npz`` file). Needed for a run whose task was
      an object or arrays; else the run's config.yaml (or ``config``) names it.
    - ``space``: the ``SearchSpace`` of a run on a user space that best.json could not
      store by reference (``nasforge.spaces.reference``).
    - ``out``: default ``RUN_DIR/retrain``. It gets ``model.pt`` (``nasforge.load``),
      ``model.ts`` (TorchScript) and, with ``onnx=True``, ``model.onnx`` (checked against
      PyTorch; the ``onnx`` extra). All three take raw inputs: the task's
      ``preprocessing`` is inside.
    - ``overrides``: ``"key=value"`` config overrides, e.g. ``"evaluator.lr=0.05"``,
      ``"device=cpu"``.
    - ``progress``: see ``nasforge.progress``."""
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                               or epochs <= 0):
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    if onnx:
        require_onnx()  # before training, not after
    try:
        with progress_logging(progress):
            return _train(run_or_best_json, epochs, task=task, space=space, config=config,
                          out=out, onnx=onnx, progress=progress, overrides=overrides)
    except TrialFailed as exc:
        raise NasforgeError(f"training diverged: {exc}; lower the learning rate "
                            "(--set evaluator.lr=...) or train fewer --epochs") from None


def _train(source: str | Path | SearchResult, epochs: int | None, *, task: TaskArgument,
           space: SearchSpace | None, config: str | Path | None, out: str | Path | None,
           onnx: bool, progress: bool | None, overrides: Sequence[str]) -> dict[str, Any]:
    best_json, record = best_of(source, space)
    space, arch = architecture_of(record, space, best_json)
    settings_from = find_config(best_json, config, overrides)
    target = Path(out) if out is not None else _default_out(best_json)
    if task is None and settings_from.task is None and evaluator_retrains(settings_from):
        return _evaluator_retrains(space, arch, settings_from, epochs, target, onnx, progress)
    task_obj = make_task(task, settings_from, best_json)
    record, network = fit_and_score(space, arch, task_obj, settings_from, epochs, progress)
    if task is None and settings_from.task is not None:
        record["task"] = settings_from.task.to_dict()
    else:  # an object (its spec, if it had one, is not kept)
        record["task"] = {"name": task_obj.name}
    record["num_classes"] = task_obj.num_classes
    # saved as a CPU float32 model, whatever it trained on: it loads anywhere
    predictor = Predictor(network.to("cpu", torch.float32), task_obj.preparation)
    return write_model(record, predictor, target, onnx)


# -- what to train ------------------------------------------------------------------------

def best_of(source: str | Path | SearchResult, space: SearchSpace | None
            ) -> tuple[Path | None, dict[str, Any]]:
    """The ``best.json`` path (None for a search kept in memory) and its record."""
    if isinstance(source, SearchResult):
        if source.run_dir is not None:
            source = source.run_dir
        elif source.best is None:
            raise ConfigError("the search has no finished trial to retrain")
        elif space is None:
            raise ConfigError("the search kept no run directory: pass space= (and out=)")
        else:
            return None, {"space": space_spec(space),
                          "architecture": source.best.arch.to_dict()}
    path = Path(source)
    path = path / "best.json" if path.is_dir() else path
    return path, read_record(path)


def read_record(path: Path) -> dict[str, Any]:
    """A ``best.json``, or any JSON with ``space`` and ``architecture``."""
    if not path.is_file():
        raise ArchitectureError(f"architecture file not found: {path}")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArchitectureError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(record, dict) or "space" not in record or "architecture" not in record:
        raise ArchitectureError(f"{path}: needs the keys 'space' and 'architecture'")
    return record


def architecture_of(record: Mapping[str, Any], space: SearchSpace | None,
                    where: Path | None = None) -> tuple[SearchSpace, Architecture]:
    """The space (``space``, else rebuilt from the record) and the record's architecture
    (a mapping, or the space's own string format) checked against it."""
    space = space or space_from_spec(record["space"])
    arch = record["architecture"]
    try:
        if isinstance(arch, str):
            return space, space.parse(arch)
        return space, space.validate(Architecture.from_json(json.dumps(arch)))
    except ArchitectureError as exc:
        raise ArchitectureError(f"{where or 'the search'}: {exc}") from None


def read_arch_json(path: Path, space: SearchSpace | None = None
                   ) -> tuple[SearchSpace, Architecture]:
    """The space and architecture of a ``best.json`` (kept for callers of the old API)."""
    return architecture_of(read_record(path), space, path)


def _default_out(best_json: Path | None) -> Path:
    if best_json is None:
        raise ConfigError("the search kept no run directory: pass out= (where to save)")
    return best_json.parent / "retrain"


def find_config(best_json: Path | None, config: str | Path | None,
                overrides: Sequence[str]) -> RetrainConfig:
    """``config``, else the run's ``config.yaml`` when it has one (else the defaults),
    with ``overrides`` applied and the sections retraining uses checked."""
    path = Path(config) if config is not None else (
        best_json.parent / CONFIG_NAME if best_json is not None else None)
    if config is None and path is not None and not path.is_file():
        path = None  # a run whose components were objects has no config.yaml
    raw = apply_overrides(read_mapping(path) if path else {}, overrides)
    # A config written only to retrain may leave out the search's sections; a user space's
    # name (not registered) would not pass their checks, and retraining uses neither.
    parsed = config_from_dict({**raw, "space": "unused", "strategy": "unused"})
    for section in ("task", "evaluator"):
        comp = getattr(parsed, section)
        if comp is not None:
            check_options(factory_for(section, comp.name), comp.options, section)
    return RetrainConfig(path, parsed.task, parsed.evaluator, parsed.seed, parsed.device,
                         parsed.precision, parsed.compile)


def evaluator_retrains(config: RetrainConfig) -> bool:
    """Whether the run's evaluator owns its data and retrains itself (e.g. ``lm``)."""
    return config.evaluator is not None and callable(
        getattr(factory_for("evaluator", config.evaluator.name), "retrain", None))


def make_task(task: TaskArgument, config: RetrainConfig, best_json: Path | None) -> Task:
    """The task to train on: ``task`` (as ``nasforge.search`` takes it: a Task, a name or
    spec, arrays, a Dataset, a folder or ``.npz`` file), else the config's."""
    registries()  # a task name is told from a path by the registered names
    task = task_argument(task, config.seed)  # arrays, Datasets -> Task; paths -> a spec
    if isinstance(task, Task):
        return task
    if isinstance(task, (str, Mapping)):
        raw = {"name": task} if isinstance(task, str) else dict(task)
        if "name" not in raw:
            raise ConfigError(f"task spec needs a 'name': {task!r}")
        comp = Component(str(raw.pop("name")), raw)
        check_options(factory_for("task", comp.name), comp.options, "task")
        return build("task", comp, seed=config.seed)  # type: ignore[no-any-return]
    if task is not None:
        raise ConfigError(f"task= must be a Task, a task name or spec, arrays (X, y), a "
                          f"Dataset or a path, got {type(task).__name__}")
    if config.task is not None:
        return build("task", config.task, seed=config.seed)  # type: ignore[no-any-return]
    where = best_json.parent if best_json is not None else "the search"
    if config.path is None:
        raise ConfigError(f"{where} has no config.yaml naming its task (the search was given "
                          f"its task as an object): {NEEDS_TASK}")
    raise ConfigError(f"{config.path} has no task section, nothing to train on: {NEEDS_TASK}")


def train_settings(config: RetrainConfig, epochs: int | None) -> TrainSettings:
    """The search's training settings when it trained candidates, with more epochs."""
    options: dict[str, Any] = {}
    if config.evaluator is not None and config.evaluator.name == "train":
        options = {k: v for k, v in config.evaluator.options.items() if k in SETTING_KEYS}
    return TrainSettings(epochs=epochs or DEFAULT_EPOCHS, **options)


# -- training and saving ------------------------------------------------------------------

def fit_and_score(space: SearchSpace, arch: Architecture, task: Task, config: RetrainConfig,
                  epochs: int | None, progress: bool | None
                  ) -> tuple[dict[str, Any], torch.nn.Module]:
    """Train ``arch`` from scratch on ``task``: the record and the trained network."""
    runtime = config.runtime()
    runtime.activate()
    settings = train_settings(config, epochs)
    with seeded(config.seed):
        network = space.build(arch, task.shape)
    history = fit(network, task, settings, runtime, seed=config.seed, progress=progress)
    test_acc, _ = evaluate(network, eval_batches(task, "test", runtime))
    return {
        "space": space_spec(space),
        "architecture": arch.to_dict(),
        "arch_str": space.format(arch),
        "epochs": settings.epochs,
        "valid_acc": history.valid_acc[-1] if history.valid_acc else None,
        "test_acc": test_acc,
        "valid_curve": history.valid_acc,
        "train_loss": history.train_loss,
        "params": measure(network, task.input_shape).params,
        "seconds": history.seconds,
    }, network


def write_model(record: dict[str, Any], predictor: Predictor, out: Path,
                onnx: bool) -> dict[str, Any]:
    """``model.pt``, ``model.ts``, optionally ``model.onnx``, then ``retrain.json`` (the
    record, with every file written under ``files``) into ``out``."""
    files = save_model(predictor, out, space=record["space"],
                       architecture=Architecture(record["architecture"]),
                       num_classes=record["num_classes"])
    if onnx:
        files.append(export(predictor, "onnx", out / ONNX_FILE))
    record["model"] = str(files[0])
    record["files"] = [str(f) for f in [*files, out / RECORD_FILE]]
    (out / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
    log.info("retrained model written to %s", out)
    return record


def _evaluator_retrains(space: SearchSpace, arch: Architecture, config: RetrainConfig,
                        epochs: int | None, out: Path, onnx: bool,
                        progress: bool | None) -> dict[str, Any]:
    """An evaluator that owns its data (the ``lm`` corpus) trains and saves the model."""
    assert config.evaluator is not None  # evaluator_retrains said so
    if onnx:
        raise ConfigError(f"ONNX export is for classifiers; evaluator "
                          f"{config.evaluator.name!r} saves model.pt only")
    runtime = config.runtime()
    evaluator = build("evaluator", config.evaluator, space=space, seed=config.seed,
                      device=runtime.device, runtime=runtime)
    record: dict[str, Any] = evaluator.retrain(arch, epochs, out, progress)
    record.setdefault("files", [record["model"], str(out / RECORD_FILE)])
    return record
