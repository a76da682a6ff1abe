# sohoa: `make demo` runs the pipeline on the sample scans; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: setup demo test lint format samples schema clean bench-samples bench-speed train bench-accuracy bench-extract fuzz bench-load bench-api

setup: $(STAMP)

$(STAMP): pyproject.toml
	deploy/dev/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Python packages into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install --upgrade pip > $(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip install -e '.[dev]' >> $(VENV)/install.log 2>&1 \
	  || (tail -30 $(VENV)/install.log; exit 1)
	rm -f $(VENV)/.installed-*
	touch $@

## Process the sample scans through the embedded default (SQLite, folder store, server-less broker).
demo: setup
	SOHOA_DATA_DIR=$${SOHOA_DATA_DIR:-var/demo} $(BIN)/sohoa demo samples

## Every test, against real PostgreSQL, Redis, RabbitMQ, Tesseract and an S3 server.
test: setup
	deploy/dev/services.sh
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

## Fuzz the intake (triage, safe_name, dossier codes) with SOHOA_FUZZ_EXAMPLES examples each, randomised.
fuzz: setup
	SOHOA_FUZZ_EXAMPLES=$${SOHOA_FUZZ_EXAMPLES:-20000} $(BIN)/python -m pytest -p no:cacheprovider \
	  --timeout 0 -q tests/pipeline/test_fuzz_intake.py --hypothesis-show-statistics

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pipeline workers api config schemas

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Re-render the sample scans shipped in samples/.
samples: setup
	$(BIN)/python -m tests.make_samples samples

schema: setup
	$(BIN)/sohoa schema --write

clean:
	rm -rf var build *.egg-info

## Pages/min and CPU s/page of `sohoa process` vs bare tesseract and OCRmyPDF; 1 -> 2 processes.
bench-speed: setup
	deploy/dev/system-deps.sh --bench
	$(BIN)/python -m tests.bench.bench_speed

## Character error rate of sohoa's text vs bare tesseract (-l vie, --psm 1) on a seeded degraded corpus.
bench-accuracy: setup
	$(BIN)/python -m tests.bench.bench_accuracy

## Document types, fields (exact match, precision at confidence >= 0.9) and bundle splits on a seeded corpus.
bench-extract: setup
	$(BIN)/python -m tests.bench.bench_extract

## 500 documents through 2 workers (Redis, PostgreSQL, S3), then killing one every 30 s: pages/min, waits, memory (BENCH_LOAD_ARGS="--docs 40").
bench-load: setup
	deploy/dev/services.sh
	$(BIN)/python -m tests.bench.bench_load $(BENCH_LOAD_ARGS)

## API req/s and p50/p99 (record read, citizen lookup) at 1/10/50 clients vs a bare asyncpg endpoint; 100,000 records.
bench-api: setup
	deploy/dev/services.sh
	command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python -m tests.bench.bench_api

## Train the document-type classifier on OCR text of the generated corpus.
train: setup
	$(BIN)/python -m tests.train

## Pages per minute of `sohoa process` on samples/, next to bare tesseract on the same pages.
bench-samples: setup
	$(BIN)/python -m tests.bench.bench_samples samples
