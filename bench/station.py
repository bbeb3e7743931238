"""Camera-station benchmark: the headless pipeline (read, crop, preprocess, infer, log) on a 640x480 video.

usage: python bench/station.py [--frames 2000] [--cores 2] [--threads 1] [--model MODEL_DIR | --preset P] [--long N]

Writes a demo conveyor video (MJPG, 640x480), uses --model or trains a model of --preset (reference: the seed's
CNN at 80x80; pretrained: the ImageNet backbone with its head, at the size its rule picks) on demo parts,
and runs exactly what `fanqc inspect` runs: a capture thread decoding the
video, the ROI crop, `imaging.preprocess`, LiteRT, the verdict, capture rules and the SQLite log. The
process is pinned to --cores CPUs. The same pipeline then runs with `model.predict` for comparison.
--long N also runs N frames (the video looped) and reports the resident memory growth after warm-up.
Last line of output: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fanqc_gui.core.dataset.workspace import open_workspace  # noqa: E402
from fanqc_gui.core.models.inference import Predictor  # noqa: E402
from fanqc_gui.core.models.model_store import ModelStore  # noqa: E402
from fanqc_gui.core.station.camera_sources import SourceSpec, open_source  # noqa: E402
from fanqc_gui.core.station.frame_grabber import FrameGrabber  # noqa: E402
from fanqc_gui.core.station.pipeline import Station  # noqa: E402
from fanqc_gui.core.station.station_runner import run_station  # noqa: E402
from fanqc_gui.core.station.station_settings import Roi, StationSettings  # noqa: E402

PART_ROI = Roi(220, 140, 200, 200)  # where write_demo_video puts each part


def pin_cores(n: int) -> list[int]:
    if not hasattr(os, "sched_setaffinity"):
        return []
    cpus = sorted(os.sched_getaffinity(0))[:n]
    os.sched_setaffinity(0, cpus)
    return cpus


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def make_model(store: ModelStore, model_dir: str | None, tmp: Path, preset: str = "reference"):
    """--model, else a model of `preset` trained on demo parts (the reference CNN at 80x80 for a few epochs,
    about half a minute):
    a real model, so the station's choice between the fast int8 model and the float one is made on a real
    proof (fast_model.py), as it is for every trained model."""
    if model_dir:
        return ModelStore(Path(model_dir).parent).get(model_dir)
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
    from fanqc_gui.core.training.trainer import TrainOptions, train

    generate_demo_workspace(tmp / "train-ws", per_class=200, inbox=0, seed=11)
    options = TrainOptions(preset="reference", epochs=6) if preset == "reference" else TrainOptions(preset=preset)
    result = train(open_workspace(tmp / "train-ws"), store, options, name=f"bench demo model ({preset})",
                   use_disk_cache=False)
    return result.model


class PredictPredictor(Predictor):
    """The old way: Keras `model.predict` for every frame."""

    def __init__(self, info, store):
        self._model = store.load_keras(info)
        super().__init__(info, backend="keras", keras_model=self._model)

    def p_ng_batch(self, batch):
        out = self._model.predict(batch, verbose=0).reshape(-1)
        return 1.0 - out if self._invert else out


def run(station: Station, video: Path, frames: int) -> tuple[float, int]:
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(video))), loop=True)
    grabber.start()
    summary = run_station(station, grabber, max_frames=frames)
    return summary.fps, summary.frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--predict-frames", type=int, default=150)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="LiteRT threads (the capture thread has its own)")
    ap.add_argument("--model", help="a model folder (default: a model of --preset trained on demo parts)")
    ap.add_argument("--preset", default="reference", choices=("reference", "pretrained"),
                    help="the preset of the model trained when no --model is given")
    ap.add_argument("--long", type=int, default=0, metavar="N", help="also run N frames and report memory growth")
    args = ap.parse_args()
    cpus = pin_cores(args.cores)
    from fanqc_gui.core.dataset.demo_data import write_demo_video

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "ws").mkdir()
        ws = open_workspace(tmp / "ws")
        store = ModelStore(tmp / "models")
        info = make_model(store, args.model, tmp, args.preset)
        video = tmp / "conveyor.avi"
        write_demo_video(video, parts=60, frames_per_part=6, frame_size=(640, 480))  # 360 frames
        settings = StationSettings(roi=PART_ROI)

        station = Station(ws, store, settings, model_ref=str(info.folder), source="bench", num_threads=args.threads)
        run(station, video, 100)  # warm-up: caches, interpreter, SQLite
        station.reset_counters()
        first_id = station.log.last_id()
        fps, n = run(station, video, args.frames)
        p50, p99 = station.latency.percentile(50), station.latency.percentile(99)
        pre_p50 = station.preprocess_latency.percentile(50)
        logged = station.log.counts(run_id=station.run_id, since_id=first_id)["total"]
        backend = station.predictor.backend_name
        saved = station.captures.stats.saved
        station.close()

        # The same pipeline with the float model.tflite (what `fanqc inspect --backend litert` runs).
        float_station = Station(ws, store, settings, model_ref=str(info.folder), source="bench-float",
                                num_threads=args.threads, backend="litert")
        run(float_station, video, 100)
        float_station.reset_counters()
        float_fps, _ = run(float_station, video, args.frames)
        float_p50 = float_station.latency.percentile(50)
        float_station.close()

        long_report = {}
        if args.long:
            station = Station(ws, store, settings, model_ref=str(info.folder), source="bench-long",
                              num_threads=args.threads)
            grabber = FrameGrabber(open_source(SourceSpec.parse(str(video))), loop=True)
            grabber.start()
            warm = max(1000, args.long // 10)
            run_station(station, grabber, max_frames=warm)
            before = rss_mb()
            grabber = FrameGrabber(open_source(SourceSpec.parse(str(video))), loop=True)
            grabber.start()
            summary = run_station(station, grabber, max_frames=args.long - warm)
            after = rss_mb()
            station.close()
            long_report = {"long_frames": args.long, "long_fps": round(summary.fps, 1),
                           "rss_mb_after_warmup": round(before, 1), "rss_mb_end": round(after, 1),
                           "rss_growth_pct": round(100.0 * (after - before) / before, 2)}

        predict_station = Station(ws, store, settings, model_ref=str(info.folder), source="bench-predict",
                                  predictor_factory=lambda i: PredictPredictor(i, store))
        run(predict_station, video, 10)
        predict_station.reset_counters()
        predict_fps, _ = run(predict_station, video, args.predict_frames)
        predict_p50 = predict_station.latency.percentile(50)
        predict_station.close()

    spec, preset = info.preprocess_spec, info.metadata.get("preset", "reference")
    size = f"{spec.width}x{spec.height}"
    print(f"station pipeline on a 640x480 MJPG video, ROI {PART_ROI}, model {preset} {size}, "
          f"cores {cpus or 'all'}")
    print(f"{'':<34}{'frames/s':>10}{'model p50 ms':>14}{'p99 ms':>9}")
    print(f"{'LiteRT (' + backend + f', {args.threads} thread)':<34}{fps:>10.0f}{p50:>14.3f}{p99:>9.3f}")
    print(f"{'LiteRT (float model.tflite)':<34}{float_fps:>10.0f}{float_p50:>14.3f}{'':>9}")
    print(f"{'model.predict':<34}{predict_fps:>10.1f}{predict_p50:>14.3f}{'':>9}")
    print(f"preprocess (crop -> {size} float RGB) p50 {pre_p50:.3f} ms; model latency = the LiteRT call alone")
    print(f"{n} frames judged, {logged} logged, {saved} NG crops saved (rate-limited); "
          f"speed-up {fps / predict_fps:.0f}x")
    for k, v in long_report.items():
        print(f"{k}: {v}")
    print(json.dumps({"frames": n, "fps": round(fps, 1), "latency_p50_ms": round(p50, 3),
                      "latency_p99_ms": round(p99, 3), "predict_fps": round(predict_fps, 1),
                      "preprocess_p50_ms": round(pre_p50, 3),
                      "predict_latency_p50_ms": round(predict_p50, 3), "backend": backend,
                      "float_fps": round(float_fps, 1), "float_latency_p50_ms": round(float_p50, 3),
                      "cores": len(cpus) or os.cpu_count(), "preset": preset, "input": size,
                      "litert_threads": args.threads, **long_report}))


if __name__ == "__main__":
    main()
