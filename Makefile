# The two commands of the quick start: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test check lint index bench eval clean

$(PY):
	python3 -m venv $(VENV)

# torch first, the CPU wheel from PyTorch's CPU index: on Linux, `torch` from PyPI
# alone is a multi-GB CUDA build. Where that index is unreachable, pip retries for a
# few seconds, then installs from its other indexes.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu
	$(PIP) install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

index: $(STAMP)
	$(VENV)/bin/qa index seeds/

run: $(STAMP)
	$(VENV)/bin/qa serve seeds/

lint: $(STAMP)
	$(VENV)/bin/ruff check qa tests bench
	$(VENV)/bin/ruff format --check qa tests bench
	$(VENV)/bin/mypy qa

test: $(STAMP)
	$(VENV)/bin/ruff check qa tests bench
	$(VENV)/bin/ruff format --check qa tests bench
	$(VENV)/bin/mypy qa
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(PY) bench/ask_latency.py

eval: $(STAMP)
	$(VENV)/bin/qa eval ../shared/eval/article_qa_dev.jsonl
	$(VENV)/bin/qa eval ../shared/eval/squad2/dev-articles.json
	$(VENV)/bin/qa eval ../shared/eval/scifact

clean:
	rm -rf $(VENV) index/v-* index/CURRENT
