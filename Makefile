# FanQC developer tasks. `make venv` once, then `make test`. Everything runs inside .venv.
PY ?= .venv/bin/python
SHARED ?= ../shared
CASTING ?= $(SHARED)/datasets/casting

.PHONY: run venv test test-fast lint screenshots bench-train bench-infer bench-thumbnails clean

venv:
	bash .ci/setup-venv

test: venv
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

test-fast:
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not slow"

lint:
	.venv/bin/lint-imports

screenshots:
	QT_QPA_PLATFORM=offscreen $(PY) -m fanqc_gui.ui.screenshots docs/screenshots

bench-train:
	$(PY) bench/train_speed.py --data $(CASTING)/train --test $(CASTING)/test

bench-infer:
	$(PY) bench/infer_speed.py

bench-thumbnails:
	QT_QPA_PLATFORM=offscreen $(PY) bench/thumbnails.py

clean:
	rm -rf build dist *.egg-info .pytest_cache

run: venv
	.venv/bin/fanqc-gui $(WORKSPACE)
