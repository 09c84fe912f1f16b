"""The README's Python examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_python_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})  # noqa: S102
    assert (tmp_path / "runs" / "mine" / "report.html").is_file()


def constraint_examples() -> list[tuple[str, list[str]]]:
    """(config, --set overrides) of every README ``nasforge search`` command that sets
    constraints (continued lines joined)."""
    text = README.read_text().replace("\\\n", " ")
    examples = []
    for line in re.findall(r"^nasforge search (configs/\S+\.yaml)(.*)$", text, flags=re.M):
        config, rest = line
        overrides = re.findall(r"--set '([^']+)'", rest)
        if any("constraints=" in o for o in overrides):
            examples.append((config, overrides))
    return examples


def test_constraint_examples_are_feasible_and_bind(monkeypatch):
    """Each README constraint example admits some architectures of its space and rejects
    others (a limit nothing meets stops the search; one everything meets does nothing)."""
    import numpy as np

    from nasforge.components import build_components
    from nasforge.config import load_config

    monkeypatch.chdir(README.parent)  # latency tables are given relative to the repository
    examples = constraint_examples()
    assert len(examples) >= 4
    for config_path, overrides in examples:
        parts = build_components(load_config(Path(config_path), overrides))
        assert parts.task is not None and parts.selection is not None
        parts.selection.check(parts.space, parts.task, parts.strategy)  # feasible
        strategy = parts.selection._make_strategy(parts.space, parts.task, 0)
        rng = np.random.default_rng(0)
        verdicts = [strategy.constraints.violation(parts.space.sample(rng)) is None
                    for _ in range(300)]
        assert 0 < sum(verdicts) < len(verdicts), (config_path, overrides, sum(verdicts))
