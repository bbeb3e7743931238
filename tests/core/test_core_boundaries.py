"""The engine runs without a display and, for inspection, without TensorFlow.

Each check imports in a fresh interpreter, so modules loaded by other tests cannot hide a violation.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

QT_MODULES = ("PySide6", "shiboken6", "pyqtgraph", "superqt", "fanqc_gui.ui", "fanqc_gui.workers")
TF_MODULES = ("tensorflow", "keras")


def _loaded_after(code: str) -> list[str]:
    """Top-level names of the modules loaded after running code in a new interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json, sys
        print(json.dumps(sorted(sys.modules)))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _hits(modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden)]


def test_every_core_module_imports_without_qt():
    modules = _loaded_after("""
        import importlib, pkgutil
        import fanqc_gui.core as core
        names = [m.name for m in pkgutil.walk_packages(core.__path__, "fanqc_gui.core.")]
        assert len(names) >= 10, names
        for name in names:
            importlib.import_module(name)
    """)
    assert "fanqc_gui.core.training.trainer" in modules and "fanqc_gui.core.models.inference" in modules
    assert _hits(modules, QT_MODULES) == []


def test_core_modules_do_not_import_tensorflow_at_import_time():
    modules = _loaded_after("""
        import importlib, pkgutil
        import fanqc_gui.core as core
        # Keras layer classes subclass keras.layers.Layer: their module is imported only where TF is needed
        KERAS_LAYER_MODULES = {"fanqc_gui.core.models.anomaly.layers"}
        for m in pkgutil.walk_packages(core.__path__, "fanqc_gui.core."):
            if m.name not in KERAS_LAYER_MODULES:
                importlib.import_module(m.name)
    """)
    assert _hits(modules, TF_MODULES) == [], "TensorFlow must be imported lazily, inside the functions needing it"


def test_inspection_modules_are_lean():
    """What a camera station needs (images, datasets, inference) loads neither TensorFlow nor Qt."""
    modules = _loaded_after("""
        import fanqc_gui.core.imaging, fanqc_gui.core.dataset.scan, fanqc_gui.core.models.inference
        import fanqc_gui.core.models.model_store, fanqc_gui.core.models.evaluation
    """)
    assert _hits(modules, TF_MODULES + QT_MODULES) == []


def test_cli_parser_loads_no_tensorflow():
    modules = _loaded_after("""
        from fanqc_gui.cli import build_parser
        build_parser().parse_args(["models", "list"])
    """)
    assert _hits(modules, TF_MODULES + QT_MODULES) == []

