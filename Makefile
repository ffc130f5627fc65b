# Quick start:  make demo   (toy BEVT end to end on CPU)
#               make test   (the test suite)
# Both create .venv/ on first use (Python 3.11) and reuse it afterwards.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.bevt_installed

.PHONY: venv test demo clean-venv

venv: $(STAMP)

$(STAMP): setup.cfg setup.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade "pip>=23"
	$(PY) -m pip install -e ".[all]"
	$(PY) -m pip install --no-deps openmim==0.3.9
	$(PY) -c "import bevt_mm, mmaction.models; print('bevt_mm', bevt_mm.__version__, 'shims:', bevt_mm.compat.APPLIED)"
	touch $(STAMP)

test: venv
	$(PY) -m pytest -q tests

demo: venv
	$(PY) demo/toy_demo.py

clean-venv:
	rm -rf $(VENV)
