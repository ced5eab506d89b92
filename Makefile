# The two commands of the README: `make demo` (main job) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo report test lint install clean bench bench-analysis

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[analysis,dev]'
	touch $(STAMP)

install: $(STAMP)

## Locust headless for 30 s against the embedded demo chatbot; CSVs and HTML report in results/.
demo: $(STAMP)
	mkdir -p results
	@touch results/.demo-started
	$(BIN)/locust -f locustfiles/chatbot.py --headless --users 20 --spawn-rate 10 --run-time 30s \
		--csv results/demo --html results/demo.html --summary-json results/demo.json --only-summary \
		--exit-code-on-error 0 $(ARGS)
	@$(BIN)/python scripts/demo_outputs.py results/demo --since results/.demo-started
	@echo "  Then: make report (summary, figures, HTML report from these CSVs)"

## The demo's CSVs as a summary, figures and one self-contained HTML report (after `make demo`).
report: $(STAMP)
	$(BIN)/python -m analysis summarize results/demo
	$(BIN)/python -m analysis plot results/demo
	$(BIN)/python -m analysis report results/demo

## The load generator's own figures (CPU a round trip and a chunk, connections, fidelity): ~15 min.
bench: $(STAMP)
	npm ci --prefix benchmarks --no-audit --no-fund
	$(BIN)/python benchmarks/run.py $(ARGS)

bench-analysis: $(STAMP)
	$(BIN)/python benchmarks/analysis_large_history.py

## ruff, mypy, and the layout's contracts (import-linter's in pyproject.toml, tests/test_layout.py's).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -q -p no:cacheprovider tests/test_layout.py

## lint, then pytest: the suite split in two processes run side by side (scripts/test_shards.py);
## tests/test_live_metrics_run.py runs a real Prometheus: Debian's package, installed here when
## missing, as root and without a question.
test: lint
	@command -v prometheus >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }
	$(BIN)/python scripts/test_shards.py 2

clean:
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache
