# spectrolab: `make demo` and `make test` each set everything up on a fresh machine, then run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
SOUNDFONT := /usr/share/sounds/sf2/TimGM6mb.sf2
# Playwright drives Debian's chromium (scripts/sysdeps.sh); it never downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: demo test lint bench results sysdeps clean

sysdeps:
	@bash scripts/sysdeps.sh

$(STAMP): pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

demo: sysdeps $(STAMP)
	$(BIN)/spectrolab demo

# A worker that dies ends the run at once, naming its test: xdist's replacement worker under --dist loadfile
# is never given work, and the last CI run waited on it for 90 minutes.
test: sysdeps $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --max-worker-restart=0

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy src

bench: sysdeps $(STAMP)
	$(BIN)/python benchmarks/run_all.py

results: sysdeps $(STAMP)
	$(BIN)/python scripts/results.py

clean:
	rm -rf $(VENV) out
