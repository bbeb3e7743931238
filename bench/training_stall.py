"""GUI-thread stalls while the training page runs a real training run.

usage: QT_QPA_PLATFORM=offscreen python bench/training_stall.py [--per-class 300] [--epochs 6] [--image-size 80]

Generates a demo workspace in a temporary folder, opens the training page offscreen, starts a run and waits
until TensorFlow is loaded and the first epoch has begun. From then until the page is idle again (the run
saved its model and the comparison with the active model finished) a 5 ms QTimer heartbeat runs on the GUI
thread; a stall is how much later than due a beat arrives. For the worst beat of each phase the table also
gives how much of the gap the GUI thread spent computing (its own CPU time: painting, handlers) - the rest
it was waiting for a CPU (other processes) or for the GIL. The last line is {"max_stall_ms",
"p99_stall_ms", "epochs"} over the whole measured time. Target: max <= 50 ms.

First, as a control, the same heartbeat runs for --control-s seconds with the page open and no training: what
it shows is what the machine itself (other processes, the VM) costs, not the training.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

BEAT_MS = 5


class Heartbeat:
    """Records, per phase, how late each 5 ms timer beat arrives on the GUI thread."""

    def __init__(self, phase_of):
        self._phase_of = phase_of
        self.stalls: dict[str, list[float]] = {}
        self.worst: dict[str, tuple[float, float]] = {}  # phase -> (stall ms, GUI-thread CPU ms in that gap)
        self._clock = QElapsedTimer()
        self._timer = QTimer(interval=BEAT_MS, timerType=Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._last = 0
        self._last_cpu = 0.0

    def start(self) -> None:
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._last_cpu = time.thread_time()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _on_timer_timeout(self) -> None:
        now, cpu = self._clock.nsecsElapsed(), time.thread_time()
        late_ms = max(0.0, (now - self._last) / 1e6 - BEAT_MS)
        busy_ms = (cpu - self._last_cpu) * 1000
        self._last, self._last_cpu = now, cpu
        phase = self._phase_of()
        self.stalls.setdefault(phase, []).append(late_ms)
        if late_ms > self.worst.get(phase, (-1.0, 0.0))[0]:
            self.worst[phase] = (late_ms, busy_ms)


def wait(app, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.002)
    return False


def row(name: str, values: list[float], worst_busy: float | None) -> str:
    a = np.asarray(values)
    busy = f"{worst_busy:>12.1f}" if worst_busy is not None else f"{'':>12}"
    return (f"{name:<34}{len(a):>7}{a.max():>10.1f}{busy}{np.percentile(a, 99):>10.1f}"
            f"{np.percentile(a, 50):>10.1f}{int(np.sum(a > 50)):>9}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=300, help="demo images per class (default 300)")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--image-size", type=int, default=80)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--control-s", type=float, default=5.0, help="heartbeat without training first (0: skip)")
    args = ap.parse_args()

    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.models.model_store import ModelStore
    from fanqc_gui.ui.training.training_page import TrainingPage

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="fanqc-stall-") as tmp:
        print(f"generating {2 * args.per_class} demo images...", file=sys.stderr, flush=True)
        generate_demo_workspace(Path(tmp) / "ws", per_class=args.per_class, inbox=0)
        page = TrainingPage(open_workspace(Path(tmp) / "ws"), ModelStore(Path(tmp) / "models"))
        page.resize(1440, 900)
        page.show()
        if not wait(app, page.start_button.isEnabled, 60):
            sys.exit(f"cannot start: {page.start_reason.text()}")
        control = Heartbeat(lambda: "control")
        if args.control_s > 0:
            control.start()
            wait(app, lambda: False, args.control_s)
            control.stop()
        form = page.options_form
        form.epochs.setValue(args.epochs)
        form.image_size.setValue(args.image_size)
        form.batch_size.setValue(args.batch_size)
        form.early_stopping.setChecked(False)
        page.start_button.click()
        print("waiting for TensorFlow and the first epoch...", file=sys.stderr, flush=True)
        if not wait(app, lambda: page.progress.bar.format().startswith("Epoch 1/") or not page.is_training(), 300):
            sys.exit("the run did not reach its first epoch")

        def phase() -> str:
            stage = page.progress.stage_label.text()
            if not page.is_training() or stage.startswith(("Finished", "Stopped")):
                return "results shown in the page"
            if stage.startswith("Comparing"):
                return "comparison with the active model"
            return "measuring + saving + TFLite" if stage.startswith(("Measuring", "Saving")) else "epochs"

        beat = Heartbeat(phase)
        load_before = os.getloadavg()[0]
        beat.start()
        t0 = time.perf_counter()
        finished = wait(app, lambda: not page.is_busy(), 1800)
        seconds = time.perf_counter() - t0
        beat.stop()
        epochs = page.plots.epochs_shown
        failed = page.progress.error_banner.isVisible()
        page.shutdown()
        if not finished or failed:
            sys.exit(f"the run did not finish: {page.progress.stage_label.text()} {page.progress.error_banner.text()}")

    every = [v for values in beat.stalls.values() for v in values]
    print(f"training run: {epochs} epochs, {args.image_size}x{args.image_size} px, {2 * args.per_class} images, "
          f"{seconds:.1f} s measured, heartbeat {BEAT_MS} ms, {os.cpu_count()} CPUs, load average "
          f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after (other processes compete for the CPUs)")
    print(f"{'phase':<34}{'beats':>7}{'max ms':>10}{'of it GUI':>12}{'p99 ms':>10}{'p50 ms':>10}{'> 50 ms':>9}")
    phases = ("epochs", "measuring + saving + TFLite", "comparison with the active model", "results shown in the page")
    for name in phases:
        if beat.stalls.get(name):
            print(row(name, beat.stalls[name], beat.worst[name][1]))
    print(row("whole run (after TF loaded)", every, None))
    if control.stalls.get("control"):
        print(row("control: page open, no training", control.stalls["control"], control.worst["control"][1]))
    print(json.dumps({"max_stall_ms": round(float(np.max(every)), 1),
                      "p99_stall_ms": round(float(np.percentile(every, 99)), 1), "epochs": epochs}))


if __name__ == "__main__":
    main()
