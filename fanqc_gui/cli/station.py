"""`fanqc inspect`: the camera station without a window (same pipeline and log as the camera page), and on
the line: triggers from the PLC (Modbus TCP), MQTT, part presence or stdin; results to the PLC and MQTT."""
from __future__ import annotations

import argparse
import contextlib
import re
import signal
import sys
import threading
from pathlib import Path

from fanqc_gui.cli.arguments import add_common_options
from fanqc_gui.cli.progress import Progress

TRIGGERS = ("continuous", "software", "plc", "mqtt", "presence")


def add_parsers(sub) -> None:
    """Register `fanqc inspect` on the sub-command parsers `sub`."""
    p = sub.add_parser("inspect", help="camera station without a window: judge a camera, stream, video or "
                                       "image folder and log every verdict")
    add_common_options(p)
    add_inspect_arguments(p)
    p.set_defaults(func=cmd_inspect)


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
    g = p.add_argument_group("line I/O (default: the station's saved Line I/O settings)")
    g.add_argument("--trigger", choices=TRIGGERS, default="continuous",
                   help="which frames are judged: continuous (every one, default); software (one per line read "
                        "on stdin: 'PART_ID[,LOT_ID]' or empty; stops at the end of the input); plc (the PLC writes "
                        "TRIGGER over Modbus); mqtt (a message on <prefix>/<station>/trigger); presence (a part "
                        "comes into the ROI and holds still)")
    g.add_argument("--modbus", metavar="[HOST:]PORT", help="serve the PLC handshake over Modbus TCP on this port "
                                                          "(host default 0.0.0.0; docs/line_io.md has the "
                                                          "register map)")
    g.add_argument("--modbus-base", type=int, metavar="N", help="protocol address of the first register "
                                                                "(default 0 = register 40001)")
    g.add_argument("--ack-timeout-ms", type=int, metavar="MS", help="give a result up when the PLC has not "
                                                                    "acknowledged it after MS (default: wait)")
    g.add_argument("--mqtt", metavar="HOST[:PORT]", help="send one message per part and the station status to "
                                                         "this MQTT broker (mqtt://user@host:port and mqtts:// "
                                                         "work too)")
    g.add_argument("--mqtt-prefix", metavar="PREFIX", help="topic prefix (default fanqc)")
    g.add_argument("--mqtt-user", metavar="USER", help="MQTT user name")
    g.add_argument("--mqtt-password-file", metavar="FILE", help="file holding the MQTT password (or set "
                                                                "$FANQC_MQTT_PASSWORD; never on the command line)")
    g.add_argument("--line-name", metavar="NAME", help="the station's name in topics and messages (default: "
                                                       "--station)")
    g.add_argument("--no-line-io", action="store_true", help="ignore the saved Line I/O outputs")
    g.add_argument("--frame-timeout-ms", type=int, metavar="MS", help="answer ERROR when no frame comes after a "
                                                                      "trigger within MS (default 1000)")
    g.add_argument("--trigger-delay-ms", type=int, metavar="MS", help="judge a frame taken at least MS after the "
                                                                      "trigger (default 0)")
    g.add_argument("--presence-frames", type=int, metavar="N", help="presence: frames the part holds still "
                                                                    "before it is judged (default 3)")


def _workspace(args, settings):
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.paths import user_data_dir

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
    from fanqc_gui.core.app_settings import default_model_store
    from fanqc_gui.core.models.model_store import ModelStore
    from fanqc_gui.core.station.camera_sources import SourceSpec, open_source
    from fanqc_gui.core.station.frame_grabber import FrameGrabber
    from fanqc_gui.core.station.line_io.results import LineIOError
    from fanqc_gui.core.station.line_io.triggers import TRIGGERED
    from fanqc_gui.core.station.line_station import LineStation, run_line_station
    from fanqc_gui.core.station.pipeline import Station, StationError
    from fanqc_gui.core.station.station_runner import RunSummary, status_recorder
    from fanqc_gui.core.station.station_settings import CaptureRules, Roi, load_station_settings

    if args.frames is not None and args.frames < 1:
        raise ValueError("--frames must be at least 1")
    settings = load_station_settings(args.station)
    if args.roi is not None:
        settings = settings.with_changes(roi=Roi.parse(args.roi))
    if args.no_captures:
        settings = settings.with_changes(capture=CaptureRules(save_ng=False, go_fraction=0.0))
    line_settings = _line_settings(args, settings.line_io)
    mode = TRIGGERED if args.trigger == "software" else args.trigger
    spec = SourceSpec.parse(args.source)
    ws = _workspace(args, settings)
    store = ModelStore(args.models or default_model_store())
    progress = Progress(args.quiet)
    if line_settings.problem:
        progress.say(f"warning: {line_settings.problem}")
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
        t50 = line.latency.percentile(50)
        trigger = f", trigger to result p50 {t50:.2f} ms" if t50 is not None and mode != "continuous" else ""
        waiting = sum(o.waiting for o in line.outputs())
        progress.say(f"{s.frames} frames, GO {c.go} NG {c.ng}, {s.fps:.0f} frames/s, model p50 {p50:.2f} ms"
                     f"{trigger}{f', {waiting} MQTT messages waiting' if waiting else ''}")

    summary = RunSummary()
    source = open_source(spec)
    grabber = FrameGrabber(source, realtime=args.realtime, loop=args.loop,
                           on_status=status_recorder(summary, on_status))
    stop = threading.Event()
    line = None
    try:
        line = LineStation(station, mode, line_settings, live=spec.live, workspace_root=ws.root)
        with _stop_on_signals(stop, summary):
            try:
                line.start()  # before the camera: a port in use is reported at once
            except LineIOError as exc:
                raise StationError(str(exc)) from None
            for output in line.outputs():
                progress.say(f"{output.name}: {output.detail}")
            grabber.start()
            if spec.live:  # a frame judged for a trigger must be exposed after it (core/station/line_io/triggers.py)
                line.triggers.frame_period_s = 1.0 / (grabber.source.nominal_fps or 30.0)
            input_done = _read_triggers_from_stdin(line) if mode == TRIGGERED else None
            run_line_station(line, grabber, args.frames, should_stop=stop.is_set, input_done=input_done,
                             on_progress=on_progress, summary=summary)
    finally:
        grabber.stop()
        if line is not None:
            line.stop()
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
        # an image folder's files that could not be judged, each with its reason (the first 100)
        "skipped_files": [{"file": name, "reason": why} for name, why in getattr(source, "skipped", [])],
        "trigger": args.trigger, "line_io": line.summary(),
    }
    if args.trigger != "continuous" and not args.json:
        li = out["line_io"]
        progress.say(f"{li['inspected']} parts judged, {li['errors']} ERROR answers, {li['refused']} triggers "
                     f"refused; trigger to result p50 {li['trigger_to_result_p50_ms']} ms, "
                     f"p99 {li['trigger_to_result_p99_ms']} ms")
    if not args.json:
        yp = f"{c.yield_pct:.1f}%" if c.yield_pct is not None else "-"
        progress.say(f"{summary.frames} frames ({summary.stopped_by}): GO {c.go}, NG {c.ng}, yield {yp}; "
                     f"{out['fps']} frames/s; model latency p50 {out['latency_p50_ms']} ms, "
                     f"p99 {out['latency_p99_ms']} ms; {out['captures_saved']} images saved")
    for skipped in out["skipped_files"]:  # said with --json too (on stderr): never dropped without a word
        progress.say(f"skipped {skipped['file']}: {skipped['reason']}")
    return out


def _read_triggers_from_stdin(line):
    """The software trigger mode without a window: each line on stdin ('PART_ID[,LOT_ID]', or empty) triggers
    one part. Returns a function telling whether the input has ended."""
    from fanqc_gui.core.station.line_io.line_settings import MAX_LOT_ID, MAX_PART_ID

    ended = threading.Event()

    def read() -> None:
        try:
            for raw in sys.stdin:
                part, _, lot = raw.strip().partition(",")
                line.fire(part.strip()[:MAX_PART_ID], lot.strip()[:MAX_LOT_ID])
        except (OSError, ValueError):  # stdin closed or not readable: no more triggers
            pass
        finally:
            ended.set()

    threading.Thread(target=read, name="fanqc-stdin-triggers", daemon=True).start()
    return ended.is_set


def _line_settings(args, line):
    """The saved Line I/O settings with the command line's changes; ValueError (one line) when a value is wrong."""
    from dataclasses import replace

    from fanqc_gui.core.station.line_io.line_settings import LineIOSettings

    modbus, mqtt, trigger = line.modbus, line.mqtt, line.trigger
    if args.no_line_io:
        modbus, mqtt = replace(modbus, enabled=False), replace(mqtt, enabled=False)
    if args.modbus:
        host, port = _host_port(args.modbus, "--modbus", "0.0.0.0")
        modbus = replace(modbus, enabled=True, host=host, port=port)
    if args.modbus_base is not None:
        modbus = replace(modbus, register_base=args.modbus_base)
    if args.ack_timeout_ms is not None:
        modbus = replace(modbus, ack_timeout_ms=args.ack_timeout_ms)
    if args.mqtt:
        host, port, user, tls = _mqtt_address(args.mqtt)
        mqtt = replace(mqtt, enabled=True, host=host, port=port or (8883 if tls else 1883), tls=tls or mqtt.tls,
                       username=user or mqtt.username)
    if args.mqtt_prefix is not None:
        mqtt = replace(mqtt, topic_prefix=args.mqtt_prefix)
    if args.mqtt_user is not None:
        mqtt = replace(mqtt, username=args.mqtt_user)
    if args.mqtt_password_file:
        try:
            text = Path(args.mqtt_password_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the MQTT password file {args.mqtt_password_file}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
        mqtt = replace(mqtt, password=text.splitlines()[0] if text else "")
    for flag, name in (("frame_timeout_ms", "frame_timeout_ms"), ("trigger_delay_ms", "delay_ms"),
                       ("presence_frames", "presence_frames")):
        if getattr(args, flag) is not None:
            trigger = replace(trigger, **{name: getattr(args, flag)})
    return LineIOSettings(line_name=args.line_name if args.line_name is not None else line.line_name,
                          modbus=modbus, mqtt=mqtt, trigger=trigger, problem=line.problem)


def _host_port(text: str, flag: str, default_host: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not port.isdigit():
        raise ValueError(f"{flag} '{text}' must be [HOST:]PORT, e.g. 5020 or 0.0.0.0:502")
    return (host if sep and host else default_host), int(port)


def _mqtt_address(text: str) -> tuple[str, int | None, str, bool]:
    """(host, port or None, user, tls) from HOST[:PORT] or mqtt[s]://[USER@]HOST[:PORT]."""
    from fanqc_gui.core.station.secret_redaction import redact_url

    m = re.fullmatch(r"(?:(mqtts?)://)?(?:([^@/]*)@)?([^:/@\s]+)(?::(\d+))?/?", text.strip())
    if m is None:
        raise ValueError(f"--mqtt '{redact_url(text)}' must be HOST[:PORT] or mqtt://[USER@]HOST[:PORT]")
    scheme, userinfo, host, port = m.groups()
    if userinfo and ":" in userinfo:
        raise ValueError(f"--mqtt '{redact_url(text)}': no password on the command line (other users of this "
                         f"computer can see it); use --mqtt-password-file or $FANQC_MQTT_PASSWORD")
    return host, int(port) if port else None, userinfo or "", scheme == "mqtts"


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
