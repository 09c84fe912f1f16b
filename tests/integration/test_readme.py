"""The README's and the documentation's examples work as written.

- every ```python block of README.md and of docs/**/*.md runs (the blocks of one page in
  order, in one namespace, in a fresh working directory);
- every ``nasforge ...`` line of a ```bash block is parsed by the CLI itself (the command and
  its options exist), and a ``nasforge search`` line's config file exists and its ``--set``
  keys are valid for that config;
- every fenced block names its language, so no code hides from these checks;
- the ``nasforge search`` constraint examples are feasible and bind.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
LANGUAGES = {"python", "bash", "yaml", "text", "json"}
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", flags=re.M | re.S)


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def fenced_blocks(page: Path) -> list[tuple[int, str, str]]:
    """(line of the first code line, language, code) of every fenced block."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start(2)) + 1, m.group(1).strip(), m.group(2))
            for m in FENCE.finditer(text)]


def python_blocks(page: Path) -> list[tuple[int, str]]:
    return [(line, code) for line, lang, code in fenced_blocks(page) if lang == "python"]


PYTHON_PAGES = [p for p in PAGES if python_blocks(p)]


def test_the_docs_have_examples():
    assert README in PYTHON_PAGES
    assert len(PYTHON_PAGES) >= 8, [page_id(p) for p in PYTHON_PAGES]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_block_names_its_language(page):
    """A block without a language, or with a spelling the checks do not read (``py``,
    ``sh``), would be skipped silently: name one of LANGUAGES."""
    for line, lang, _ in fenced_blocks(page):
        assert lang in LANGUAGES, f"{page_id(page)}:{line}: fenced block language {lang!r}"


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=page_id)
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for line, code in python_blocks(page):
        # padded so that a traceback names the page's own line numbers
        exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)  # noqa: S102
    if page == README:
        assert (tmp_path / "runs").is_dir() and any((tmp_path / "runs").rglob("report.html"))


def test_readme_links_resolve():
    """The README is the front page: every relative link names a file of the repository."""
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [t for t in targets if "://" not in t]
    assert any(t.startswith("docs/") for t in local)
    for target in local:
        assert (ROOT / target).exists(), target


def cli_lines(page: Path) -> list[tuple[int, list[str]]]:
    """(line, argv after ``nasforge``) of every ``nasforge ...`` command in ```bash blocks,
    also behind ``torchrun ... -m nasforge``; continued lines joined, comments dropped."""
    commands = []
    for first, lang, code in fenced_blocks(page):
        if lang != "bash":
            continue
        for offset, line in enumerate(code.replace("\\\n", "  ").split("\n")):
            words = shlex.split(line, comments=True)
            if "nasforge" in words and (words[0] == "nasforge" or "-m" in words):
                start = words.index("nasforge") + 1
                commands.append((first + offset, words[start:]))
    return commands


CLI_PAGES = [p for p in PAGES if cli_lines(p)]


@pytest.mark.parametrize("page", CLI_PAGES, ids=page_id)
def test_cli_examples_parse(page, monkeypatch):
    import click

    from nasforge.cli import main
    from nasforge.config import load_config
    from nasforge.errors import NasforgeError
    from nasforge.run.components import check_config

    monkeypatch.chdir(ROOT)  # configs are given relative to the repository
    for line, argv in cli_lines(page):
        where = f"{page_id(page)}:{line}: nasforge {' '.join(argv)}"
        command: click.Command = main
        args = list(argv)
        while isinstance(command, click.Group) and args and not args[0].startswith("-"):
            command = command.commands.get(args[0])
            assert command is not None, f"{where}: no such command {args[0]!r}"
            args = args[1:]
        try:
            ctx = command.make_context(command.name or "", args)
        except click.exceptions.Exit:  # --help, --version
            continue
        except click.ClickException as exc:
            pytest.fail(f"{where}: {exc.format_message()}")
        if command.name == "search" and ctx.params.get("config") is not None:
            config = ctx.params["config"]
            assert (ROOT / config).is_file(), f"{where}: no config file {config}"
            try:
                check_config(load_config(config, ctx.params["overrides"]))
            except NasforgeError as exc:
                pytest.fail(f"{where}: {exc}")
        if command.name == "train" and ctx.params.get("config") is not None:
            assert (ROOT / ctx.params["config"]).is_file(), where


def test_cli_examples_are_checked():
    assert sum(len(cli_lines(p)) for p in CLI_PAGES) >= 40


def constraint_examples() -> list[tuple[str, list[str]]]:
    """(config, --set overrides) of every ``nasforge search`` command of the README and the
    docs that sets constraints."""
    examples = []
    for page in PAGES:
        for _, argv in cli_lines(page):
            if argv[:1] != ["search"] or len(argv) < 2 or not argv[1].endswith(".yaml"):
                continue
            overrides = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "--set"]
            if any("constraints=" in o for o in overrides) and \
                    (argv[1], overrides) not in examples:
                examples.append((argv[1], overrides))
    return examples


def test_constraint_examples_are_feasible_and_bind(monkeypatch):
    """Each constraint example admits some architectures of its space and rejects others (a
    limit nothing meets stops the search; one everything meets does nothing)."""
    import numpy as np

    from nasforge.config import load_config
    from nasforge.run.components import build_components

    monkeypatch.chdir(ROOT)  # latency tables are given relative to the repository
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
