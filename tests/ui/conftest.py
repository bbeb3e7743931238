"""UI tests run the real window: its fixtures (autouse: garbage collected on the GUI thread, no QThread left
running) come from tests/window_fixtures.py."""
from window_fixtures import app_parts, gc_on_the_gui_thread, no_dangling_qthreads, page  # noqa: F401
