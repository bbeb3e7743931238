"""`fanqc inspect`: the camera station without a window (same pipeline and log as the camera page)."""
from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path


def add_inspect_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True, metavar="SRC",
                   help="camera number (0), video file, image folder, or rtsp:// / http:// stream address")
    p.add_argument("--roi", metavar="X,Y,W,H", help="region judged, in frame pixels, or 'full' "
                                                    "(default: the station's saved ROI)")
    p.add_argument("--frames", type=int, metavar="N", help="stop after judging N frames")
    p.add_argument("--model", metavar="MODEL", help="model id or folder (default: the active model, followed "
                                                    "when another one is activated)")
    p.add_argument("--workspace", metavar="DIR", help="workspace for the log and captures (default: the "
                                                      "station's workspace, else a 'station' workspace in "
                                                      "the FanQC data folder)")
    p.add_argument("--station", default="default", metavar="NAME", help="station name (its ROI and capture "
                                                                        "rules; default 'default')")
    p.add_argument("--realtime", action="store_true", help="play a video file or folder at its own speed "
                                                           "(frames drop like a live camera's)")
    p.add_argument("--loop", action="store_true", help="play a video file or folder again when it ends")
    p.add_argument("--backend", choices=("auto", "litert", "keras"), default="auto",
                   help="auto: the model's verified int8 station model when it may judge at the threshold, "
                        "else model.tflite; litert: always the float model.tflite")
    p.add_argument("--threads", type=int, metavar="N", help="inference threads (default 1: the capture "
                                                            "thread uses another core)")
    p.add_argument("--no-captures", action="store_true", help="log verdicts but save no images")


def _workspace(args, settings):
    from .core.paths import user_data_dir
    from .core.workspace import open_workspace

    if args.workspace:
        return open_workspace(args.workspace)
    if settings.workspace and Path(settings.workspace).is_dir():
        return open_workspace(settings.workspace)
    fallback = user_data_dir() / "station"
    fallback.mkdir(parents=True, exist_ok=True)
    return open_workspace(fallback)


def _rss_mb() -> float | None:
    try:
        import resource
    except ImportError:
        return None
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1.0 / scale


def cmd_inspect(args) -> dict:
    from .cli_commands import Progress
    from .core.camera_sources import SourceSpec, open_source
    from .core.frame_grabber import FrameGrabber
    from .core.model_store import ModelStore
    from .core.paths import default_model_store
    from .core.station import Station
    from .core.station_runner import RunSummary, run_station, status_recorder
    from .core.station_settings import CaptureRules, Roi, load_station_settings

    if args.frames is not None and args.frames < 1:
        raise ValueError("--frames must be at least 1")
    settings = load_station_settings(args.station)
    if args.roi is not None:
        settings = settings.with_changes(roi=Roi.parse(args.roi))
    if args.no_captures:
        settings = settings.with_changes(capture=CaptureRules(save_ng=False, go_fraction=0.0))
    spec = SourceSpec.parse(args.source)
    ws = _workspace(args, settings)
    store = ModelStore(args.models or default_model_store())
    progress = Progress(args.quiet)
    station = Station(ws, store, settings, model_ref=args.model, source=spec.describe(), backend=args.backend,
                      num_threads=args.threads or 1)
    model = station.model_summary()
    progress.say(f"judging {spec.describe()} with {model.id} ({model.backend}, threshold {model.threshold:.3f}); "
                 f"ROI {settings.roi or 'full frame'}; log {station.log.path}")

    def on_status(status):
        if status.state in ("reconnecting", "failed", "ended"):
            retry = f" (retry {status.attempt} in {status.retry_in_s:.1f}s)" if status.state == "reconnecting" else ""
            progress.say(f"source {status.state}: {status.message}{retry}")

    def on_progress(s: RunSummary):
        c = station.counters
        p50 = station.latency.percentile(50) or 0.0
        progress.say(f"{s.frames} frames, GO {c.go} NG {c.ng}, {s.fps:.0f} frames/s, model p50 {p50:.2f} ms")

    summary = RunSummary()
    grabber = FrameGrabber(open_source(spec), realtime=args.realtime, loop=args.loop,
                           on_status=status_recorder(summary, on_status))
    stop = threading.Event()
    try:
        with _stop_on_signals(stop, summary):
            grabber.start()
            run_station(station, grabber, args.frames, should_stop=stop.is_set, on_progress=on_progress,
                        summary=summary)
    finally:
        grabber.stop()
        station.close()
    c, lat = station.counters, station.latency
    out = {
        "frames": summary.frames, "go": c.go, "ng": c.ng,
        "yield_pct": round(c.yield_pct, 3) if c.yield_pct is not None else None,
        "fps": round(summary.fps, 1),
        "latency_p50_ms": _ms(lat.percentile(50)), "latency_p99_ms": _ms(lat.percentile(99)),
        "preprocess_p50_ms": _ms(station.preprocess_latency.percentile(50)),
        "seconds": round(summary.seconds, 3), "stopped_by": summary.stopped_by,
        "dropped_frames": grabber.dropped, "reconnects": grabber.reconnects,
        "source": spec.describe(), "source_kind": spec.kind, "live": spec.live,
        "roi": settings.roi.to_list() if settings.roi else None,
        "model": station.predictor.info.id, "threshold": station.predictor.threshold,
        "backend": station.predictor.backend_name, "model_changes": station.model_changes,
        "captures_saved": station.captures.stats.saved, "workspace": str(ws.root), "log": str(station.log.path),
        "run_id": station.run_id, "source_events": list(summary.events), "max_rss_mb": _ms(_rss_mb()),
    }
    if not args.json:
        yp = f"{c.yield_pct:.1f}%" if c.yield_pct is not None else "-"
        progress.say(f"{summary.frames} frames ({summary.stopped_by}): GO {c.go}, NG {c.ng}, yield {yp}; "
                     f"{out['fps']} frames/s; model latency p50 {out['latency_p50_ms']} ms, "
                     f"p99 {out['latency_p99_ms']} ms; {out['captures_saved']} images saved")
    return out


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event, summary):
    """SIGTERM (a service manager's stop) and SIGINT end the run between two frames: every judged frame is
    logged, its capture paired with its row, and the summary printed, instead of dying mid-batch."""
    received: list[str] = []

    def handler(signum, _frame):
        received.append(signal.Signals(signum).name)
        stop.set()

    wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if received:
            summary.stopped_by = f"stopped by {received[0]}"


def _ms(v: float | None) -> float | None:
    return None if v is None else round(float(v), 3)
