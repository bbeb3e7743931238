"""Work-arounds for defects of the Qt binding itself, applied once when fanqc_gui.workers is imported.

PySide6 6.12.0 (abi3 wheel) hands the singletons back without a new reference: `None` from every void C++
method (``widget.setEnabled(True)``, ``painter.setPen(...)``, ``QModelIndex.data()`` of an empty role ...) and
`True`/`False` from e.g. ``signal.emit(...)``. From Python 3.12 these objects are immortal and nothing
happens; on Python 3.10/3.11 each call takes one reference away, and after a few thousand calls -- a couple
of seconds of painting thumbnails -- the interpreter aborts with "Fatal Python error: none_dealloc:
deallocating None" (or bool_dealloc). Reproduce with::

    a = sys.getrefcount(None); [QObject().setObjectName("x") for _ in range(100)]
    sys.getrefcount(None) - a  # -100 on 3.11 with PySide6 6.12.0

The fix gives these three objects a vast number of spare references so their counts can never reach zero,
which is what immortality means on 3.12+. It touches no other object and is skipped where not needed.
"""
from __future__ import annotations

import sys

_SPARE_REFERENCES = 1 << 48


def protect_singleton_refcounts() -> bool:
    """Make None, True and False practically immortal on CPython < 3.12; True if it changed anything."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or hasattr(sys, "getobjects"):
        return False  # immortal already, or a layout (PyPy, Py_TRACE_REFS build) this must not poke at
    import ctypes

    changed = False
    for singleton in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt: first field of every object
        if refcount.value < _SPARE_REFERENCES // 2:
            refcount.value += _SPARE_REFERENCES
            changed = True
    return changed
