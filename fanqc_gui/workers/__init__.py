"""Qt threading glue: QObject workers that call core and emit plain data. No widgets."""
from .pyside_fixes import protect_singleton_refcounts

protect_singleton_refcounts()
