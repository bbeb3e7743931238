"""The one error family. FanQCError is a problem the user can act on: its message says what went wrong and
what to do, and it is shown as that one line (the CLI exits 2, a page shows it, the engine process sends it
back to the window as itself). Anything that is not a FanQCError (or an OSError: disk full, no permission)
is a bug and keeps its traceback. Each feature's errors derive from it and keep their old built-in base
(ValueError, RuntimeError, OSError), so `except ValueError` around them still works.
"""
from __future__ import annotations

import importlib


class FanQCError(Exception):
    """A problem the user can act on; the message says which and what to do."""


class ModelStoreError(FanQCError, ValueError):
    """A model cannot be found, read or changed; the message says which and why."""


def user_message(exc: BaseException) -> str | None:
    """The one line to show for a user's error (FanQCError, or an OSError of the disk); None for a bug."""
    if isinstance(exc, FanQCError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError):  # disk full, read-only store, no permission...
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    return None


def error_class(module: str, qualname: str) -> type[FanQCError] | None:
    """The FanQCError class named (module, qualname), e.g. as another process reported it; None otherwise."""
    if not module.startswith("fanqc_gui.") or "." in qualname:
        return None
    try:
        cls = getattr(importlib.import_module(module), qualname, None)
    except ImportError:
        return None
    return cls if isinstance(cls, type) and issubclass(cls, FanQCError) else None
