"""PyInstaller entry point of the `fanqc` executable (the frozen twin of `fanqc_gui.cli:main`).

freeze_support() first, as in entry_gui.py: harmless when nothing is spawned, and correct if a command ever
starts the engine process.
"""
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from fanqc_gui.cli import main

    sys.exit(main())
