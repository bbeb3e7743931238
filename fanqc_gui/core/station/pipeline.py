"""The inspection pipeline of one station: ROI crop -> preprocess -> model -> verdict -> captures -> log.

`Station.process(frame)` judges one frame. Between two frames it picks up a newly activated model or a
new threshold (see model_watch), so every log row names the model and threshold that judged that part.
A Station, its predictor and its log connection belong to the thread that created them.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.imaging import preprocess
from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore, ModelStoreError
from fanqc_gui.core.station.camera_sources import Frame
from fanqc_gui.core.station.captures import CaptureSaver, relative_to_workspace, save_snapshot, send_image_to_inbox
from fanqc_gui.core.station.inspection_log import InspectionLog, InspectionLogError, LogEntry
from fanqc_gui.core.station.latency_stats import LatencyHistogram, RateMeter
from fanqc_gui.core.station.model_watch import ModelWatcher, StationError
from fanqc_gui.core.station.station_settings import Roi, StationSettings

__all__ = ["Counters", "ModelSummary", "Station", "StationError", "StationStats", "Verdict"]

PredictorFactory = Callable[[ModelInfo], Predictor]


@dataclass(frozen=True)
class Verdict:
    verdict: str            # "GO" / "NG"
    p_ng: float
    threshold: float
    model_id: str
    model_name: str
    frame_index: int
    roi: Roi                # the crop that was judged, in frame pixels
    latency_ms: float       # the model call (preprocessing not included)
    wall_time: float        # time.time() of the verdict
    capture_path: str | None = None  # saved crop, relative to the workspace
    # an anomaly model's map of where the crop differs (rows x cols, scored like P(NG)); None for a classifier
    anomaly_map: np.ndarray | None = field(default=None, compare=False, repr=False)
    # on the line (line_station.py): what triggered the verdict, for which part, and where it went
    trigger_source: str = ""
    part_id: str = ""
    lot_id: str = ""
    trigger_to_result_ms: float | None = None
    sent_to: str = ""


@dataclass(frozen=True)
class ModelSummary:
    id: str
    name: str
    threshold: float
    backend: str
    error: str = ""        # set when a new model could not be loaded (the old one keeps judging)


@dataclass
class Counters:
    inspected: int = 0
    go: int = 0
    ng: int = 0

    @property
    def yield_pct(self) -> float | None:
        return 100.0 * self.go / self.inspected if self.inspected else None

    def add(self, verdict: str) -> None:
        self.inspected += 1
        if verdict == "NG":
            self.ng += 1
        else:
            self.go += 1


@dataclass(frozen=True)
class StationStats:
    counters: Counters
    fps: float              # judged frames per second, recent
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    captures_saved: int
    capture_problem: str


class Station:
    def __init__(self, workspace: Workspace, store: ModelStore, settings: StationSettings | None = None, *,
                 model_ref: str | None = None, source: str = "", backend: str = "auto",
                 num_threads: int | None = None, log: InspectionLog | None = None,
                 predictor_factory: PredictorFactory | None = None, model_poll_s: float = 0.5):
        self.workspace = workspace
        self.store = store
        self.settings = settings or StationSettings()
        self.source = source
        self.run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        # "auto" at the station: the verified int8 model when it may judge at the threshold (fast_model.py)
        backend = "station" if backend == "auto" else backend
        self._reload_on_threshold = backend == "station"
        self._factory = predictor_factory or (
            lambda info: Predictor(info, backend=backend, num_threads=num_threads, store=store))
        try:
            self._watcher = ModelWatcher(store, model_ref, interval_s=model_poll_s)
            self.predictor = self._factory(self._watcher.info)
        except ModelStoreError as exc:
            raise StationError(str(exc)) from None
        self.model_error = ""
        try:
            self.log = log or InspectionLog.for_workspace(workspace.root)
        except (InspectionLogError, OSError) as exc:
            raise StationError(str(exc)) from None
        self.captures = CaptureSaver(workspace, self.settings.capture)
        self.counters = Counters()
        self.latency = LatencyHistogram()             # the model call (LiteRT invoke)
        self.preprocess_latency = LatencyHistogram()  # crop -> model input
        self.rate = RateMeter()
        self.model_changes = 0
        self.last_verdict: Verdict | None = None
        self._last_crop: np.ndarray | None = None

    # ---- settings ------------------------------------------------------------------------------------
    @property
    def roi(self) -> Roi | None:
        return self.settings.roi

    def set_roi(self, roi: Roi | None) -> None:
        self.settings = self.settings.with_changes(roi=roi)

    def set_settings(self, settings: StationSettings) -> None:
        self.settings = settings
        self.captures.set_rules(settings.capture)

    def model_summary(self) -> ModelSummary:
        p = self.predictor
        return ModelSummary(p.info.id, p.info.name, p.threshold, p.backend_name, self.model_error)

    # ---- the pipeline --------------------------------------------------------------------------------
    def check_model(self, force: bool = False) -> ModelSummary | None:
        """Switch to a newly activated model or threshold; returns the new summary when something changed."""
        change = self._watcher.poll(force)
        if change is None:
            return None
        # A new threshold may allow or forbid the fast model: build the predictor again (milliseconds).
        rebuilt = False
        if change.reload or self._reload_on_threshold:
            try:
                self.predictor = self._factory(change.info)
                self.model_error = ""
                rebuilt = True
            except (ModelStoreError, ValueError, OSError) as exc:
                if change.reload:
                    self.model_error = (f"cannot load {change.info.id}: {exc}; still judging with "
                                        f"{self.predictor.info.id}")
                    self._watcher.accept(self.predictor.info)
                    return self.model_summary()
        if not rebuilt:  # same network: the new threshold / name applies to the loaded one, never dropped
            self.predictor.info = change.info
            self.predictor.threshold = change.info.threshold
        self._watcher.accept(change.info)
        self.model_changes += 1
        return self.model_summary()

    def effective_roi(self, frame: np.ndarray) -> Roi:
        h, w = frame.shape[:2]
        roi = self.settings.roi.clamped(w, h) if self.settings.roi else None
        return roi or Roi(0, 0, w, h)

    def process(self, frame: Frame, deliver: Callable[[Verdict], dict] | None = None) -> Verdict:
        """Judge one frame, save its crop if the rules say so, and log it. deliver (line I/O) sends the
        verdict to the PLC / MQTT before the crop is saved (the line waits for no disk) and returns the
        traceability fields of the log row (core/station/line_station.py)."""
        self.check_model()
        roi = self.effective_roi(frame.image)
        crop = roi.crop(frame.image)
        t0 = time.perf_counter()
        x = preprocess(crop, self.predictor.spec)
        t1 = time.perf_counter()
        p_ng = float(self.predictor.p_ng_batch(x[None])[0])
        latency_ms = (time.perf_counter() - t1) * 1000.0
        maps = self.predictor.last_maps() if self.predictor.is_anomaly else None
        amap = maps[0] if maps is not None else None
        verdict = self.predictor.verdict(p_ng)
        now = time.time()
        info = self.predictor.info
        judged = Verdict(verdict, p_ng, self.predictor.threshold, info.id, info.name, frame.index, roi, latency_ms,
                         now, anomaly_map=amap)
        trace = deliver(judged) if deliver is not None else {}
        saved = self.captures.maybe_save(crop, verdict, p_ng, frame.source_time, frame.index, now,
                                         anomaly_map=amap, threshold=self.predictor.threshold)
        rel = relative_to_workspace(self.workspace, saved)
        self.log.add(LogEntry(now, self.settings.name, self.run_id, self.source, frame.index, info.id,
                              self.predictor.threshold, p_ng, verdict, rel, str(roi), latency_ms, **trace))
        if saved is not None:
            self.log.flush()  # a kept image is committed with its row at once: a kill leaves no orphan capture
        self.counters.add(verdict)
        self.latency.add(latency_ms)
        self.preprocess_latency.add((t1 - t0) * 1000.0)
        self.rate.tick()
        self._last_crop = crop
        self.last_verdict = replace(judged, capture_path=rel, trigger_source=trace.get("trigger_source") or "",
                                    part_id=trace.get("part_id") or "", lot_id=trace.get("lot_id") or "",
                                    trigger_to_result_ms=trace.get("trigger_to_result_ms"),
                                    sent_to=trace.get("sent_to") or "")
        return self.last_verdict

    # ---- operator actions ----------------------------------------------------------------------------
    def reset_counters(self) -> None:
        self.counters = Counters()
        self.latency.reset()
        self.preprocess_latency.reset()
        self.rate.reset()

    def stats(self) -> StationStats:
        c = self.counters
        s = self.captures.stats
        return StationStats(Counters(c.inspected, c.go, c.ng), self.rate.rate(), self.latency.percentile(50),
                            self.latency.percentile(99), s.saved, s.last_error)

    def send_last_to_inbox(self):
        """The crop of the last judged frame into the inbox (named after its verdict)."""
        if self._last_crop is None or self.last_verdict is None:
            raise StationError("no judged frame yet to send to the inbox")
        v = self.last_verdict
        return send_image_to_inbox(self.workspace, self._last_crop, f"station_{v.verdict}_p{v.p_ng:.3f}")

    def snapshot(self, image: np.ndarray):
        return save_snapshot(self.workspace, image)

    def flush(self) -> None:
        self.log.flush()

    def close(self) -> None:
        self.log.close()
