"""Widgets and pages."""
from fanqc_gui import workers as _workers  # noqa: F401  (applies the Qt binding work-arounds first)
