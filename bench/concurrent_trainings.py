"""N `fanqc train` processes on one model store at the same time (issue 15: two trainings once lost a model).

    python bench/concurrent_trainings.py [--n 20] [--keep DIR]

Each trains the reference CNN at 32x32 for one epoch on a tiny generated workspace (12 images per class), so
the runs end within seconds of each other and their saves collide. Prints one JSON object last: processes,
exit statuses, models saved, models listed, models lost, leftover temporary folders, seconds.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--keep", metavar="DIR", help="work here and keep the files (default: a temporary folder)")
    args = ap.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fanqc-concurrent-"))
    ws, models = base / "ws", base / "models"
    subprocess.run([sys.executable, "-m", "fanqc_gui.cli", "demo-data", str(ws), "--per-class", "12", "--inbox", "0",
                    "--quiet"], check=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "fanqc_gui.cli", "train", str(ws), "--preset", "reference",
                               "--image-size", "32", "--epochs", "1", "--models", str(models), "--name", f"run-{i}",
                               "--json", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(args.n)]
    results = [p.communicate() for p in procs]
    seconds = time.perf_counter() - t0
    codes = [p.returncode for p in procs]
    saved = []
    for out, _ in results:
        try:
            saved.append(json.loads(out)["model"])
        except (ValueError, KeyError, TypeError):
            pass
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fanqc_gui.core.models.model_store import ModelStore

    listed = ModelStore(models).list()
    names = sorted(i.name for i in listed)
    report = {
        "processes": args.n, "exit_codes": sorted(set(codes)), "failed": sum(c != 0 for c in codes),
        "models_saved": len(saved), "distinct_ids": len({Path(s).name for s in saved}), "models_listed": len(listed),
        "models_lost": len([i for i in range(args.n) if f"run-{i}" not in names]),
        "leftover_temp_folders": len([p for p in os.listdir(models) if p.startswith(".")]),
        "tracebacks": sum("Traceback" in err for _, err in results), "seconds": round(seconds, 1),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
