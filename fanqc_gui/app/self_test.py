"""`fanqc-gui --self-test`: prove an installation works, without a display and without touching the user's
files: build the whole window offscreen, open a freshly generated demo workspace, load the active model
(the shipped demo model, installed into a throwaway store), judge demo images with the engine and run the
station pipeline over an image folder. Prints what it checked; exit status 0 only when everything passed.
"""
from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, qInstallMessageHandler, qVersion
from PySide6.QtGui import QGuiApplication

from fanqc_gui.core import tf_runtime
from fanqc_gui.core.app_settings import AppSettings
from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.demo_model import install_demo_model
from fanqc_gui.core.models.inference import Predictor, expand_paths
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.station.camera_sources import SourceSpec, open_source
from fanqc_gui.core.station.frame_grabber import FrameGrabber
from fanqc_gui.core.station.pipeline import Station
from fanqc_gui.core.station.station_runner import run_station
from fanqc_gui.core.station.station_settings import CaptureRules, StationSettings
from fanqc_gui.core.versions import component_versions
from fanqc_gui.ui.event_loop import wait_until

PER_CLASS = 6
INBOX = 4
WAIT_S = 20.0


class SelfTestFailed(Exception):
    pass


@contextmanager
def _isolated_environment(tmp: Path):
    """Data, settings and models in tmp, offscreen Qt: the user's own state is never read or written."""
    wanted = {"FANQC_DATA_DIR": str(tmp / "data"), "FANQC_CONFIG_DIR": str(tmp / "config"),
              "FANQC_MODELS": str(tmp / "models"), "QT_QPA_PLATFORM": "offscreen"}
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _wait_until(condition, what: str, timeout_s: float = WAIT_S) -> None:
    if not wait_until(QCoreApplication, condition, timeout_s):
        raise SelfTestFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SelfTestFailed(message)


def _quiet_offscreen_warnings(mode, context, message: str) -> None:
    if "propagateSizeHints" not in message:  # the offscreen platform's only complaint about real windows
        print(message, file=sys.stderr)


def run_self_test(say=print) -> int:
    """Run the checks, reporting each through say(str); 0 when all passed, 1 otherwise."""
    previous_handler = qInstallMessageHandler(_quiet_offscreen_warnings)
    try:
        return _run_checks(say)
    finally:
        qInstallMessageHandler(previous_handler)


def _run_checks(say) -> int:
    from fanqc_gui.app.composition import build_app, ensure_app  # the app module imports this one

    versions = component_versions()
    say(f"FanQC {versions['FanQC']} self-test (Python {versions['Python']})")
    with tempfile.TemporaryDirectory(prefix="fanqc-self-test-", ignore_cleanup_errors=True) as tmp_name, \
            _isolated_environment(Path(tmp_name)):
        tmp = Path(tmp_name)
        parts = None
        try:
            app = ensure_app()
            tf = versions["TensorFlow"]
            say(f"  Qt {qVersion()} ({QGuiApplication.platformName()}), OpenCV {versions['OpenCV']}, "
                f"LiteRT {versions['LiteRT']}, TensorFlow "
                + (tf if tf and tf_runtime.tensorflow_available()
                   else "not installed: training, Grad-CAM and feature maps are off"))
            root = tmp / "data" / "demo-workspace"
            generate_demo_workspace(root, per_class=PER_CLASS, inbox=INBOX)
            store = ModelStore(tmp / "models")
            install_demo_model(store)
            active = store.active()
            _check(active is not None, "no active model after installing the demo model")

            parts = build_app(AppSettings(), store)
            parts.window.show()
            _check(parts.workspaces.open_path(root), f"could not open the demo workspace {root}")
            panes = parts.dataset.panes
            want = {"go": PER_CLASS, "ng": PER_CLASS, "inbox": INBOX}
            _wait_until(lambda: all(panes[k].model.rowCount() == n for k, n in want.items()),
                        "the dataset page to list the demo images")
            titles = [title for title, _page in parts.window.pages()]
            say(f"  window: {len(titles)} pages ({', '.join(titles)}); dataset page lists "
                f"{PER_CLASS} GO, {PER_CLASS} NG, {INBOX} inbox images")

            ws = open_workspace(root)
            predictor = Predictor(active)
            labelled = [(p, "GO") for p in expand_paths([ws.go_dir])] + [(p, "NG") for p in expand_paths([ws.ng_dir])]
            results = predictor.predict_paths([p for p, _label in labelled])
            wrong = [f"{Path(r.path).name} ({r.error or r.verdict})" for r, (_p, label) in zip(results, labelled)
                     if r.verdict != label]
            say(f"  model {active.id} ({predictor.backend_name}, {active.preprocess_spec.width}x"
                f"{active.preprocess_spec.height}, threshold {active.threshold:.3f}): "
                f"{len(results) - len(wrong)}/{len(results)} demo images judged right")
            _check(not wrong, f"wrong verdicts: {', '.join(wrong)}")

            station = Station(ws, store, StationSettings(capture=CaptureRules(save_ng=False, go_fraction=0.0)),
                              source=str(ws.inbox_dir), num_threads=1)
            grabber = FrameGrabber(open_source(SourceSpec.parse(str(ws.inbox_dir))))
            try:
                grabber.start()
                summary = run_station(station, grabber)
                logged = station.log.counts(run_id=station.run_id)
            finally:
                grabber.stop()
                station.close()
            say(f"  station ({station.model_summary().backend}): {summary.frames} frames from an image folder "
                f"({summary.stopped_by}), log rows GO {logged.get('go', 0)} NG {logged.get('ng', 0)}")
            _check(summary.frames == INBOX, f"the station judged {summary.frames} of {INBOX} frames")
            _check(logged.get("go", 0) + logged.get("ng", 0) == INBOX, f"the log holds {logged} for {INBOX} frames")
        except SelfTestFailed as exc:
            say(f"self-test FAILED: {exc}")
            return 1
        except Exception as exc:  # any crash is a failed self-test, reported in one line
            say(f"self-test FAILED: {type(exc).__name__}: {exc}")
            return 1
        finally:
            if parts is not None:
                parts.window.close()  # stops the pages' workers and waits for them
                # A closed window is not deleted: its pages' signal connections (lambdas held by Qt) keep it
                # alive, and every later setStyle/setStyleSheet re-polishes its ~700 widgets (in-process tests).
                parts.window.deleteLater()
                QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # processEvents() does not
                QCoreApplication.processEvents()
        del app
    say("self-test passed")
    return 0


def main() -> int:
    return run_self_test(lambda line: print(line, flush=True, file=sys.stdout))
