# The two front-door commands (see README.md): `make demo` runs the main job
# (train the demo config on the bundled brain-MRI dataset, then evaluate it with
# tools/test.py), `make test` runs lint and the test suite. Each sets itself up first: creates
# .venv if absent, installs the pinned requirements, builds segtools._ext.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-stamp
EXT_STAMP := $(VENV)/.ext-stamp
CSRC := $(shell find csrc -name '*.h' -o -name '*.cpp' -o -name '*.cu')
PYTEST_ARGS ?=
# pytest-xdist workers ('auto': one per CPU), a test file per worker at a time (module fixtures
# are built once), one torch thread each so the workers do not oversubscribe the cores.
PYTEST_WORKERS ?= auto
DEMO_CONFIG := configs/demo/fcn_r18-d8_brain-atlas.py
DEMO_DIR := work_dirs/demo
RECOGNITION_CONFIG := configs/demo/deepten_r18-d8_1xb64-1500_brain-atlas-patches-48x48.py
RECOGNITION_DIR := work_dirs/demo-recognition

.PHONY: setup demo demo-recognition smoke test lint format bench clean

setup: $(EXT_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEPS_STAMP): requirements.txt requirements/*.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -r requirements.txt
	touch $@

# pip would compile the installed modules to bytecode one file at a time; compileall -j 0 does it
# on every core, beside the extension's build, which leaves a core idle part of the time (a fresh
# clone, both steps: 77 s one after the other -> 65 s side by side on 2 cores). Like pip, it skips
# files that do not compile (torch ships a Python 3.12-only one), so its status is not checked;
# on a later run it only compares timestamps.
$(EXT_STAMP): $(DEPS_STAMP) setup.py $(CSRC)
	$(PY) -m compileall -qq -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" & \
	$(PY) -m pip install --quiet --no-build-isolation --no-deps -e .; status=$$?; wait; exit $$status
	touch $@

demo: setup
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_DIR)
	$(PY) tools/test.py $(DEMO_CONFIG) $(DEMO_DIR)/iter_500.pth --work-dir $(DEMO_DIR)/test --show-dir $(DEMO_DIR)/test/vis
	$(PY) tools/analysis_tools/analyze_logs.py $(DEMO_DIR) --keys loss mIoU --title "demo: $(notdir $(DEMO_CONFIG))" --legend train --out $(DEMO_DIR)/curves.png

# Recognition on the same bundled data: Deep TEN names the brain structure at a patch's centre.
demo-recognition: setup
	$(PY) tools/train.py $(RECOGNITION_CONFIG) --work-dir $(RECOGNITION_DIR)
	$(PY) tools/test.py $(RECOGNITION_CONFIG) $(RECOGNITION_DIR)/iter_1500.pth --work-dir $(RECOGNITION_DIR)/test

smoke: setup
	$(PY) tools/ops_smoke.py

lint: $(DEPS_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# compileall: bytecode for the ~25 new interpreters the tests start (torchrun ranks, import checks),
# which otherwise compile segtools again each time where PYTHONDONTWRITEBYTECODE is set (0.3 s).
test: setup lint
	$(PY) -m compileall -qq -j 0 segtools tools
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

format: $(DEPS_STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Ops, bf16, SyncBN, TTA and ONNX benchmarks, then one table of the ratios measured in this run (README: Benchmark).
bench: setup
	$(PY) tools/analysis_tools/bench_summary.py

clean:
	rm -rf build segtools/_ext*.so $(EXT_STAMP)
