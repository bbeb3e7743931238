"""Start-up time of an installed FanQC: process start -> main window on screen, and the self-test.

usage: python bench/start_time.py [--python VENV/bin/python ...] [--cold] [--runs 3]
Each --python is one installation (default: this interpreter). --cold drops the OS file cache before each
run (needs root), as after a reboot. Runs offscreen with throwaway settings, data and model folders, so the
first-start path (demo model install, demo workspace generation in the background) is what is timed.
Last line of output: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WINDOW_SNIPPET = """
import os, sys, time, json
from fanqc_gui.app.composition import ensure_app, launch
app = ensure_app()
parts = launch()
app.processEvents()
shown = time.time() - float(os.environ["FANQC_T0"])
loaded = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'})
parts.window.close()
print(json.dumps({"window_s": shown, "heavy_modules": loaded}))
"""


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def site_size_mb(python: str) -> float:
    out = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    total = 0
    for root, _dirs, files in os.walk(out):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total / 1e6


def one_run(python: str, cold: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="fanqc-start-") as tmp:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FANQC_DATA_DIR": f"{tmp}/data",
               "FANQC_CONFIG_DIR": f"{tmp}/config", "FANQC_MODELS": f"{tmp}/models"}
        if cold:
            drop_caches()
        env["FANQC_T0"] = repr(time.time())
        out = subprocess.run([python, "-c", WINDOW_SNIPPET], capture_output=True, text=True, env=env, timeout=300)
        if out.returncode != 0:
            sys.exit(f"{python}: start failed\n{out.stderr[-2000:]}")
        window = json.loads(out.stdout.strip().splitlines()[-1])
        if cold:
            drop_caches()
        t0 = time.perf_counter()
        test = subprocess.run([python, "-m", "fanqc_gui.app", "--self-test"], capture_output=True, text=True,
                              env=env, timeout=300)
        return {"window_s": window["window_s"], "self_test_s": time.perf_counter() - t0,
                "self_test_ok": test.returncode == 0, "heavy_modules": window["heavy_modules"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", action="append", help="interpreter of an installation (repeatable)")
    ap.add_argument("--cold", action="store_true", help="drop the OS file cache before each run (root)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    results = {}
    for python in args.python or [sys.executable]:
        has_tf = subprocess.run([python, "-c", "import importlib.util,sys; "
                                 "sys.exit(importlib.util.find_spec('tensorflow') is None)"]).returncode == 0
        runs = [one_run(python, args.cold) for _ in range(args.runs)]
        median = sorted(runs, key=lambda r: r["window_s"])[len(runs) // 2]
        results[python] = {"tensorflow": has_tf, "site_packages_mb": round(site_size_mb(python)),
                           "window_s": round(median["window_s"], 2),
                           "self_test_s": round(sorted(r["self_test_s"] for r in runs)[len(runs) // 2], 2),
                           "self_test_ok": all(r["self_test_ok"] for r in runs),
                           "tf_loaded_at_start": median["heavy_modules"]}
    print(f"{'installation':<40}{'TF':>4}{'size MB':>9}{'window s':>10}{'self-test s':>13}")
    for python, r in results.items():
        print(f"{python[-40:]:<40}{'yes' if r['tensorflow'] else 'no':>4}{r['site_packages_mb']:>9}"
              f"{r['window_s']:>10.2f}{r['self_test_s']:>13.2f}")
    print(json.dumps({"cold": args.cold, "installations": results}))


if __name__ == "__main__":
    main()
