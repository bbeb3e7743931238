"""`fanqc-gui [WORKSPACE]`: the FanQC desktop application.

The start-up path imports Qt, OpenCV and numpy only; TensorFlow is loaded later by the pages that train
or predict, so the window is on screen within about a second.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys

from fanqc_gui import __version__
from fanqc_gui.app.composition import ensure_app, launch
from fanqc_gui.core.app_settings import load_settings
from fanqc_gui.core.tf_runtime import ensure_standard_fds


def main(argv: list[str] | None = None) -> int:
    # First: in a frozen build the training engine's child starts as this executable with arguments of
    # multiprocessing's own, which argparse would refuse.
    multiprocessing.freeze_support()
    ensure_standard_fds()
    parser = argparse.ArgumentParser(prog="fanqc-gui", description="FanQC: sort, train and inspect GO/NG images.")
    parser.add_argument("workspace", nargs="?", metavar="WORKSPACE",
                        help="workspace folder to open (default: the last one; on first run, the demo workspace)")
    parser.add_argument("--version", action="version", version=f"fanqc-gui {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation offscreen (demo workspace, demo model, a few verdicts) "
                             "without touching your files; exit status 0 when it works")
    args = parser.parse_args(argv)
    if args.self_test:
        from fanqc_gui.app.self_test import main as self_test

        return self_test()
    if not _display_available():
        print("fanqc-gui: error: no display found (DISPLAY / WAYLAND_DISPLAY unset). Run it on a desktop, under "
              "Xvfb, or with QT_QPA_PLATFORM=offscreen; the `fanqc` command works without a display.",
              file=sys.stderr)
        return 2
    app = ensure_app(load_settings().theme)
    parts = launch(args.workspace)  # noqa: F841 -- held here too while the event loop runs
    return app.exec()


def _display_available() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


if __name__ == "__main__":
    raise SystemExit(main())
