"""PyInstaller entry point of the `fanqc-gui` executable (the frozen twin of `fanqc_gui.app:main`).

multiprocessing.freeze_support() must run before anything looks at sys.argv: the training engine is a
"spawn" child, which a frozen build starts as `fanqc-gui --multiprocessing-fork ...` (and its resource
tracker as `fanqc-gui -B -s -c "from multiprocessing.resource_tracker import main; ..."`). PyInstaller's
runtime hook makes freeze_support() divert those to multiprocessing on every platform, but only if it is
called before the app's argument parser would reject the unknown options.
"""
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from fanqc_gui.app import main

    sys.exit(main())
