# One command for each job; each first sets up what it needs (tools/setup_env.sh, idempotent).
WSDET_VENV ?= $(CURDIR)/.venv
PY := $(or $(WSDET_PYTHON),$(WSDET_VENV)/bin/python)
export WSDET_VENV
DATASETS ?= $(CURDIR)/datasets
export WSDET_DATASETS := $(DATASETS)

.PHONY: setup data demo test test-fast

setup:
	@tools/setup_env.sh > /dev/null

data: setup
	$(PY) datasets/prepare_synthetic_bus.py --root $(DATASETS)
	$(PY) datasets/prepare_synthetic_cxr.py --root $(DATASETS)

demo: data
	$(PY) tools/train_net.py --config-file configs/bus_joint.yaml

test: setup
	$(PY) -m pytest tests -q -rs

# the edit-test loop: everything but the end-to-end training tests (CI runs `make test`)
test-fast: setup
	$(PY) -m pytest tests -q -rs -m "not slow"
