# The README's two commands: `make run` (the app on fakeredis + SQLite) and `make test` (everything).
PORT ?= 8501
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench bench-browser bench-load clean

$(VENV)/.app-installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.app-installed
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.app-installed
	$(PY) -m streamlit run app.py --server.port $(PORT)

test: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m pytest

bench: $(VENV)/.dev-installed
	$(PY) -m bench.core --growth

bench-browser: $(VENV)/.dev-installed
	$(PY) -m bench.browser

bench-load: $(VENV)/.dev-installed
	$(PY) -m bench.load

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .hypothesis
