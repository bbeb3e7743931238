"""Widgets and pages."""
from .. import workers as _workers  # noqa: F401  (applies the Qt binding work-arounds first)
