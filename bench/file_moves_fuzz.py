"""Random sorting (moves, undos, redos through one MoveJournal) while another program renames files and saves
new versions over them in the same folders (issue 15: a move once had a window in which a concurrent change
left a file in both GO and NG, or lost its new content).

    python bench/file_moves_fuzz.py [--ops 100000] [--files 60] [--seed 0] [--dir DIR]

An operation is one journal call: a move of 1-3 files (70 %), an undo (15 %) or a redo (15 %). Every 5,000
operations, and at the end, the folders are checked: each part (its id is the first field of its content) is
present (none lost), no content is present under two names and no file has two links (none doubled), and the
latest version the writer saved is present (no saved version lost). A part in two files of different versions
is the writer's doing: it saved at the old name after a move took the file away (counted apart).
Prints one JSON object last: operations, files moved, writer changes, files lost, doubled, saved versions lost,
seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fanqc_gui.core.dataset.file_moves import MoveJournal  # noqa: E402

FOLDERS = ("inbox", "GO", "NG", "trash")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", help="work in this folder (same file system as a workspace would be); default: a "
                                  "temporary folder")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fanqc-fuzz-", dir=args.dir))
    d = {name: root / name for name in FOLDERS}
    for folder in d.values():
        folder.mkdir()
    for i in range(args.files):
        (d[FOLDERS[i % 3]] / f"p{i}.jpg").write_bytes(f"{i}:0".encode())
    latest = dict.fromkeys(range(args.files), 0)
    latest_lock = threading.Lock()
    stop = threading.Event()
    writer_changes = [0]

    def files() -> list[Path]:
        return [p for k in FOLDERS for p in d[k].iterdir() if not p.name.startswith(".")]

    def writer() -> None:
        rng = random.Random(args.seed + 1)
        n = 0
        while not stop.is_set():
            candidates = files()
            if not candidates:
                continue
            p = rng.choice(candidates)
            n += 1
            try:
                ident = int(p.read_bytes().split(b":")[0])
                if rng.random() < 0.5:
                    os.rename(p, p.with_name(f"w{n}-{p.name.split('-')[-1]}"))  # renamed by the other program
                else:
                    tmp = p.with_name(f".w{n}.tmp")
                    with latest_lock:
                        version = latest[ident] + 1
                        tmp.write_bytes(f"{ident}:{version}".encode())
                        os.replace(tmp, p)  # a new version saved over it
                        latest[ident] = version
                writer_changes[0] += 1
            except (FileNotFoundError, ValueError):
                continue
            time.sleep(0)  # let the sorter run

    def check() -> dict:
        found = files()
        contents = []
        for p in found:
            try:
                contents.append(p.read_bytes())
            except FileNotFoundError:  # renamed by the writer just now: read the folders again
                return check()
        ids = Counter(int(c.split(b":")[0]) for c in contents)
        copies = Counter(contents)
        for p, c in zip(found, contents):
            if copies[c] > 1:
                print(f"doubled: {p.relative_to(root)} = {c.decode()}", file=sys.stderr)
        with latest_lock:
            versions_lost = [i for i, v in latest.items() if f"{i}:{v}".encode() not in contents]
        return {"files_lost": len([i for i in latest if ids[i] == 0]),
                # the same version under two names: a move that copied instead of moving
                "files_doubled": len([c for c, n in copies.items() if n > 1])
                + len([p for p in found if p.exists() and p.stat().st_nlink > 1]),
                "saved_versions_lost": len(versions_lost),
                # a part in two files of different versions: the writer saved at the old name after a move
                # took the file away (its own doing, as any program that saves by name would)
                "writer_recreated": len([i for i, n in ids.items() if n > 1])}

    journal = MoveJournal(d["trash"])
    rng = random.Random(args.seed)
    thread = threading.Thread(target=writer, daemon=True)
    t0 = time.perf_counter()
    thread.start()
    moved = 0
    worst = {"files_lost": 0, "files_doubled": 0, "saved_versions_lost": 0, "writer_recreated": 0}
    for op in range(1, args.ops + 1):
        r = rng.random()
        if r < 0.7:
            candidates = files()
            pick = rng.sample(candidates, min(rng.randint(1, 3), len(candidates)))
            moved += len(journal.move(pick, d[rng.choice(FOLDERS)]).done)
        elif r < 0.85:
            journal.undo()
        else:
            journal.redo()
        if op % 5000 == 0:
            stop.set()
            thread.join()
            now = check()
            worst = {k: max(worst[k], now[k]) for k in worst}
            stop.clear()
            thread = threading.Thread(target=writer, daemon=True)
            thread.start()
    stop.set()
    thread.join()
    final = check()
    worst = {k: max(worst[k], final[k]) for k in worst}
    seconds = time.perf_counter() - t0
    shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({"operations": args.ops, "files": args.files, "files_moved": moved,
                      "writer_changes": writer_changes[0], **worst, "seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()
