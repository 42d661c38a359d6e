# reportkit: `make report` builds the demo reports, `make test` runs the tests.
# Both set themselves up idempotently: a .venv/ with an editable install, and CJK fonts.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= reports
# The one list of system packages (Debian names); .ci/run installs them through `make test`.
APT_FONTS := fonts-noto-cjk fonts-arphic-ukai
# What the tests drive for real: the fonts the golden layouts were made with, a browser, PDF
# tools, LibreOffice (DOCX and .xls conversion), faketime (the same bytes two days later).
APT_TEST  := fontconfig $(APT_FONTS) chromium poppler-utils libreoffice-writer-nogui \
             libreoffice-calc-nogui faketime
# Extra pytest options, e.g. CI's per-test timeout and slowest-test list (see .ci/run).
PYTEST_ARGS ?=

.PHONY: setup fonts test-tools test lint report lab bench fuzz clean

setup: $(STAMP) fonts

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lab,dask]'
	touch $(STAMP)

# CJK fonts: install Debian's free ones when none is present and we may (root with apt-get).
fonts:
	@if fc-list :lang=zh family 2>/dev/null | grep -q .; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing CJK fonts: $(APT_FONTS)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fontconfig $(APT_FONTS) >/dev/null; \
	else \
	  echo "No CJK font found. Install one, e.g.: sudo apt-get install $(APT_FONTS)"; exit 1; \
	fi

test-tools:
	@missing=""; for p in $(APT_TEST); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing test tools:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "The tests need:$$missing. Install them, e.g.: sudo apt-get install$$missing"; exit 1; \
	fi

test: setup test-tools
	$(BIN)/ruff check reportkit tests benchmarks
	$(BIN)/deptry reportkit
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# deptry: every third-party import is declared in pyproject.toml, and every declared package used.
lint: setup
	$(BIN)/ruff check reportkit tests benchmarks
	$(BIN)/ruff format --check reportkit tests benchmarks
	$(BIN)/deptry reportkit

report: setup
	$(BIN)/reportkit run --out $(OUT) --formats html,pdf,docx

# JupyterLab on reportkit/notebooks/, with the .venv's python3 kernel (reportkit installed
# editable, so edits there are what `reportkit run` executes).
lab: setup
	$(BIN)/jupyter lab --notebook-dir=reportkit/notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

# Property-based fuzzing of the ingest path: 10,000+ random workbooks (FUZZ_EXAMPLES), a fresh
# seed each time (FUZZ_SEED); failing examples are kept in tests/fixtures/fuzz/ for `make test`.
FUZZ_EXAMPLES ?= 10000
FUZZ_SEED     ?= $(shell date +%s)
fuzz: setup test-tools
	REPORTKIT_FUZZ=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz -q \
	  -W ignore::hypothesis.errors.HypothesisWarning --hypothesis-seed=$(FUZZ_SEED) $(FUZZ_ARGS)

bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf build $(OUT) .pytest_cache
