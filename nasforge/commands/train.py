"""``nasforge train``: retrain an architecture from scratch and save the model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from nasforge.architecture import Architecture
from nasforge.components import build, check_config, factory_for, resolve_runtime
from nasforge.config import Component, RunConfig, load_config
from nasforge.errors import ArchitectureError, ConfigError, NasforgeError, TrialFailed
from nasforge.nn.counting import measure
from nasforge.spaces.base import SearchSpace
from nasforge.training import TrainSettings, eval_batches, evaluate, fit, seeded

DEFAULT_EPOCHS = 10
SETTING_KEYS = ("lr", "momentum", "weight_decay", "optimizer", "grad_clip", "label_smoothing")


def read_arch_json(path: Path) -> tuple[SearchSpace, Architecture]:
    """A ``best.json`` or any JSON with ``space`` ({name, options...}) and ``architecture``
    (a mapping, or the space's own string format)."""
    if not path.is_file():
        raise ArchitectureError(f"architecture file not found: {path}")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArchitectureError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(record, dict) or "space" not in record or "architecture" not in record:
        raise ArchitectureError(f"{path}: needs the keys 'space' and 'architecture'")
    spec = record["space"]
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    space: SearchSpace = build("space", Component(spec.pop("name"), spec))
    arch = record["architecture"]
    if isinstance(arch, str):
        return space, space.parse(arch)
    return space, space.validate(Architecture.from_json(arch))


def find_config(arch_json: Path, config_path: Path | None, overrides: Sequence[str]
                ) -> RunConfig:
    path = config_path or arch_json.parent / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"no config with a task for {arch_json}: pass --config CONFIG.yaml")
    config = check_config(load_config(path, overrides))
    if config.task is None and not evaluator_retrains(config):
        raise ConfigError(f"{path} has no task section: nothing to train on")
    return config


def evaluator_retrains(config: RunConfig) -> bool:
    """Whether the run's evaluator owns its data and retrains itself (e.g. ``lm``)."""
    return config.evaluator is not None and callable(
        getattr(factory_for("evaluator", config.evaluator.name), "retrain", None))


def train_settings(config: RunConfig, epochs: int | None) -> TrainSettings:
    """The search's training settings when it trained candidates, with more epochs."""
    options: dict[str, Any] = {}
    if config.evaluator is not None and config.evaluator.name == "train":
        options = {k: v for k, v in config.evaluator.options.items() if k in SETTING_KEYS}
    if epochs is not None and epochs <= 0:
        raise ConfigError(f"--epochs must be positive, got {epochs}")
    return TrainSettings(epochs=epochs or DEFAULT_EPOCHS, **options)


def retrain(arch_json: Path, config_path: Path | None, overrides: Sequence[str],
            epochs: int | None, out: Path | None, progress: bool | None) -> dict[str, Any]:
    """Retrain the architecture of ``arch_json`` from scratch; a diverging training is a
    user-facing error (one line in the CLI) that says what to change."""
    try:
        return _retrain(arch_json, config_path, overrides, epochs, out, progress)
    except TrialFailed as exc:
        raise NasforgeError(f"training diverged: {exc}; lower the learning rate "
                            "(--set evaluator.lr=...) or train fewer --epochs") from None


def _retrain(arch_json: Path, config_path: Path | None, overrides: Sequence[str],
             epochs: int | None, out: Path | None, progress: bool | None) -> dict[str, Any]:
    space, arch = read_arch_json(arch_json)
    config = find_config(arch_json, config_path, overrides)
    if config.task is None:  # the evaluator brings its own data (find_config checked)
        assert config.evaluator is not None
        runtime = resolve_runtime(config.device, config.precision, config.compile)
        evaluator = build("evaluator", config.evaluator, space=space, seed=config.seed,
                          device=runtime.device, runtime=runtime)
        return evaluator.retrain(arch, epochs, out or arch_json.parent / "retrain",  # type: ignore[no-any-return]
                                 progress)
    task = build("task", config.task, seed=config.seed)
    runtime = resolve_runtime(config.device, config.precision, config.compile)
    runtime.activate()
    settings = train_settings(config, epochs)
    with seeded(config.seed):
        model = space.build(arch, task.shape)
    history = fit(model, task, settings, runtime, seed=config.seed, progress=progress)
    test_acc, _ = evaluate(model, eval_batches(task, "test", runtime))
    out = out or arch_json.parent / "retrain"
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "space": {"name": space.name, **space.options()},
        "architecture": arch.to_dict(),
        "arch_str": space.format(arch),
        "task": config.task.to_dict(),
        "epochs": settings.epochs,
        "valid_acc": history.valid_acc[-1],
        "test_acc": test_acc,
        "valid_curve": history.valid_acc,
        "train_loss": history.train_loss,
        "params": measure(model, task.input_shape).params,
        "seconds": history.seconds,
        "model": str(out / "model.pt"),
    }
    # saved as a CPU float32 model, whatever it trained on: it loads anywhere
    save_model(model.to("cpu", torch.float32), record, task.input_shape, out,
               num_classes=task.shape.num_classes)
    (out / "retrain.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def save_model(model: torch.nn.Module, record: dict[str, Any], input_shape: tuple[int, ...],
               out: Path, num_classes: int | None = None) -> None:
    """``model.pt``: state_dict + architecture + input shape and number of classes (enough to
    rebuild it with the space: ``space.build(arch, Shape(input_shape, num_classes))``);
    ``model.ts``: a TorchScript trace that runs without nasforge."""
    model.eval()
    torch.save({"state_dict": model.state_dict(), "space": record["space"],
                "architecture": record["architecture"], "input_shape": list(input_shape),
                "num_classes": num_classes}, out / "model.pt")
    traced = torch.jit.trace(model, torch.zeros(2, *input_shape))
    traced.save(str(out / "model.ts"))
