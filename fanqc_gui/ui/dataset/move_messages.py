"""Status-bar sentences for what a move, copy, undo or redo really did."""
from __future__ import annotations

from pathlib import Path

from fanqc_gui.core.dataset.file_moves import MoveResult


def describe_result(result: MoveResult, done_text: str) -> str:
    """E.g. "Moved to NG/: a.jpg.", "Moved to GO/: 3 images, 1 renamed (name taken)." plus any failure."""
    parts = []
    done = result.done
    if done:
        renamed = [(s, d) for s, d in done if Path(s).name != Path(d).name]
        if len(done) == 1:
            src, dst = done[0]
            what = Path(src).name + (f" (as {Path(dst).name}: the name was taken)" if renamed else "")
        else:
            what = f"{len(done)} images"
            if renamed:
                what += f", {len(renamed)} renamed because the name was taken"
        parts.append(f"{done_text}: {what}.")
    if result.failed:
        path, reason = result.failed[0]
        more = f" (and {len(result.failed) - 1} more)" if len(result.failed) > 1 else ""
        it = "them" if more else "it"
        parts.append(f"⚠ Could not move {Path(path).name}{more}: {reason}. Nothing was changed for {it}.")
    return " ".join(parts) or "Nothing to move."
