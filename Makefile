# Quick start:  make demo   (toy BEVT end to end on CPU)
#               make test   (the test suite)
# Both create .venv/ on first use (Python 3.11) and reuse it afterwards.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.bevt_installed

.PHONY: venv test test-unit demo clean-venv

venv: $(STAMP)

CONSTRAINTS := requirements/constraints.txt
DRN_STUB    := packaging/mmaction2-drn-stub

$(STAMP): setup.cfg setup.py $(CONSTRAINTS) $(DRN_STUB)/pyproject.toml tools/install_ffmpeg_libs.sh
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade "pip>=23"
	sh tools/install_ffmpeg_libs.sh
	$(PY) -m pip install -c $(CONSTRAINTS) -e ".[all,mmcv-lite]"
	$(PY) -m pip install -c $(CONSTRAINTS) --no-deps openmim==0.3.9
	$(PY) -c "import mmaction.models" 2>/dev/null || $(PY) -m pip install -c $(CONSTRAINTS) --no-deps ./$(DRN_STUB)
	$(PY) -c "import mmaction.models, bevt_mm; print('bevt_mm', bevt_mm.__version__, 'crash fixes applied:', bevt_mm.compat.APPLIED)"
	$(PY) -c "from bevt_mm.datasets.transforms.video_decode import resolve_video_backend as r; print('video decoder (video_backend=auto):', r())"
	touch $(STAMP)

# Two pytest-xdist workers (one torch thread each, tests/conftest.py); modules stay whole on a
# worker so their module-scoped runs are made once.
test: venv
	$(PY) -m pytest -q -n 2 --dist loadscope tests

test-unit: venv
	$(PY) -m pytest -q -m "not slow" tests

demo: venv
	$(PY) demo/toy_demo.py

clean-venv:
	rm -rf $(VENV)
