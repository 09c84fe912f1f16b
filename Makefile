# Two entry points (see README): `make demo` runs the main job, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch first, so that nothing later pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf runs/demo
	$(VENV)/bin/nasforge search configs/demo.yaml --out runs/demo

test: $(STAMP)
	$(VENV)/bin/ruff check nasforge tests benchmarks tools
	$(VENV)/bin/mypy
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir .docs-site   # the docs/ site, warnings as errors
	NASFORGE_NB201=$${NASFORGE_NB201:-$(abspath ../shared/data/nb201/nb201_compact.csv.gz)} \
	  $(PY) -m pytest tests -p no:cacheprovider

clean:
	rm -rf $(VENV) runs
