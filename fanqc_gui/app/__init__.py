"""The desktop application: the entry point (`fanqc-gui`), the composition root that wires workers, pages and
the model store together, and the installation self-test."""
from fanqc_gui.app.entry import main

__all__ = ["main"]
