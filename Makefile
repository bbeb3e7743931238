# FanQC developer tasks. `make venv` once, then `make test`. Everything runs inside .venv.
PY ?= .venv/bin/python
SHARED ?= ../shared
CASTING ?= $(SHARED)/datasets/casting

.PHONY: run venv system-packages system-packages-tests test test-fast lint screenshots bench-train bench-infer bench-thumbnails package clean

venv:
	bash .ci/setup-venv

# Debian/Ubuntu system libraries of Qt's xcb plugin (and, for the tests, Xvfb, openbox, xdotool): installed
# when missing (with sudo when not root); other systems get the list to install.
system-packages:
	bash tools/install-system-packages.sh

system-packages-tests:
	bash tools/install-system-packages.sh --tests

test: venv system-packages-tests
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q --durations=25

test-fast:
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not slow"

lint:
	.venv/bin/lint-imports
	.venv/bin/ruff check .

screenshots:
	QT_QPA_PLATFORM=offscreen $(PY) -m tools.screenshots docs/screenshots

bench-train:
	$(PY) bench/train_speed.py --data $(CASTING)/train --test $(CASTING)/test

bench-infer:
	$(PY) bench/infer_speed.py

bench-thumbnails:
	QT_QPA_PLATFORM=offscreen $(PY) bench/thumbnails.py

# `make package`: dist/FanQC/ (fanqc-gui + fanqc, one folder, PyInstaller), then a smoke test of the built
# folder. PACKAGE_VENV=<venv without TensorFlow> PACKAGE_DIST=dist/station: the station build (packaging/README.md).
PACKAGE_VENV ?= .venv
PACKAGE_DIST ?= dist
package:
	$(PACKAGE_VENV)/bin/python -m pip install --quiet "pyinstaller>=6.11"
	TF_CPP_MIN_LOG_LEVEL=3 $(PACKAGE_VENV)/bin/python -m PyInstaller --noconfirm --log-level WARN \
		--distpath $(PACKAGE_DIST) --workpath build/pyinstaller-$(notdir $(PACKAGE_VENV)) packaging/fanqc.spec
	sh packaging/smoke-test.sh $(PACKAGE_DIST)/FanQC

clean:
	rm -rf build dist *.egg-info .pytest_cache

run: venv system-packages
	.venv/bin/fanqc-gui $(WORKSPACE)
