"""Backbone features, computed once per image and kept: the frozen feature model runs in LiteRT (float32),
and every result is cached on disk by the image's content digest, the preprocessing (input size and
interpolation), the backbone and the taps. A retrain after adding ten images computes ten images.

Orientation variants (flips and rotations of the resized image): each is one more feature vector of the
same image; the head trains on their mean, and the saved model computes that same mean (test-time
averaging inside the one model, classifier.build_classifier), so the score does not depend on how the part
lies. How many a run computes follows the data
(`variants_for`): all eight for a few hundred images, fewer as the images grow in number, and only the
four that keep the shape (flips, half turn) when the input is not square; of those, the model keeps the
fewest that lose no accuracy (pretrained_training.fewest_views), since each costs the station one backbone run.
"""
from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fanqc_gui.core.atomic_io import write_bytes_atomic
from fanqc_gui.core.dataset.scan import ImageRecord, Problem
from fanqc_gui.core.imaging import ImageError, PreprocessSpec, decode_image, resize_rgb_uint8, to_model_input
from fanqc_gui.core.models.backbone.classifier import MAX_TAP_BLOCKS, TAP_BLOCKS, feature_dim
from fanqc_gui.core.models.backbone.weights import SHA256

FORMAT_VERSION = 2  # 2: block 8's maximum added
VARIANT_NAMES = ("as is", "mirrored left-right", "mirrored top-bottom", "half turn", "quarter turn left",
                 "quarter turn right", "transposed", "anti-transposed")
SHAPE_KEEPING = 4  # the first four variants keep width and height
VARIANT_BUDGET = 4000  # feature vectors per run under "auto": the variants shrink as the images grow
# Rows (an image's variants count one each) per LiteRT call. One at a time is the fastest: EfficientNet-Lite0
# at 224 px on 2 threads, 2.0 ms per image one by one, 2.2 ms by 4, 2.6 ms by 16 (its activations then
# outgrow the CPU's caches), and a fixed batch never makes LiteRT re-plan its tensors.
ROWS_PER_CALL = 1
# Images (variants included) decoded on two threads before LiteRT runs them. Decoding while LiteRT's own
# threads run stalls both on a 2-core machine: 224 px casting photos took 8.1-8.5 ms per image overlapped,
# 6.3-6.5 ms decoded first (chunks of 64 or 32; measured on 1,500 images).
ROWS_PER_CHUNK = 32


class FeaturesStopped(Exception):
    """should_stop() answered True between two batches."""


def variant(rgb: np.ndarray, k: int) -> np.ndarray:
    """Variant k (0..7, see VARIANT_NAMES) of an HxWx3 image; 4..7 swap height and width."""
    views = (lambda a: a, lambda a: a[:, ::-1], lambda a: a[::-1], lambda a: a[::-1, ::-1],
             lambda a: np.rot90(a, 1), lambda a: np.rot90(a, 3), lambda a: a.transpose(1, 0, 2),
             lambda a: a[::-1, ::-1].transpose(1, 0, 2))
    return np.ascontiguousarray(views[k](rgb))


def variants_for(n_images: int, width: int, height: int, setting: str = "auto") -> int:
    """How many orientation variants per image: 'off' 1, 'on' all the input's shape allows, 'auto' as many
    as fit VARIANT_BUDGET (powers of two)."""
    allowed = 8 if width == height else SHAPE_KEEPING
    if setting == "off":
        return 1
    if setting == "on":
        return allowed
    count = 1
    while count * 2 <= allowed and n_images * count * 2 <= VARIANT_BUDGET:
        count *= 2
    return count


def cache_key(spec: PreprocessSpec) -> str:
    desc = {"backbone": "efficientnet_lite0", "weights": SHA256[:16], "taps": list(TAP_BLOCKS),
            "pooling": ["max", "mean"], "max_taps": list(MAX_TAP_BLOCKS), "spec": spec.to_dict(),
            "format": FORMAT_VERSION}
    return hashlib.blake2b(json.dumps(desc, sort_keys=True).encode(), digest_size=8).hexdigest()


class FeatureCache:
    """{(content digest, variant): feature vector}; one .npz per preprocessing under .fanqc/cache/."""

    def __init__(self, spec: PreprocessSpec, folder: Path | None):
        self.key = cache_key(spec)
        self.file = Path(folder) / f"features-{self.key}.npz" if folder else None
        self.folder = Path(folder) if folder else None
        self._entries: dict[str, np.ndarray] = {}
        self._dirty = False
        self._load()

    def _load(self) -> None:
        if not self.file or not self.file.is_file():
            return
        try:
            with np.load(self.file) as npz:
                keys, values = npz["keys"], npz["features"]
            if values.ndim != 2 or values.shape[1] != feature_dim() or len(keys) != len(values):
                return
            self._entries = {str(k): values[i] for i, k in enumerate(keys)}
        except Exception:  # noqa: BLE001 - a damaged cache only costs recomputing the features
            self._entries = {}

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def _name(digest: str, k: int) -> str:
        return f"{digest}/{k}"

    def has(self, digest: str, variants: int) -> bool:
        return all(self._name(digest, k) in self._entries for k in range(variants))

    def get(self, digest: str, variants: int) -> np.ndarray:
        return np.stack([self._entries[self._name(digest, k)] for k in range(variants)])

    def put(self, digest: str, k: int, vector: np.ndarray) -> None:
        self._entries[self._name(digest, k)] = np.asarray(vector, np.float32)
        self._dirty = True

    def save(self) -> None:
        """Write the cache if it changed; a failure (disk full, read-only) only costs a recompute later."""
        if not self.file or not self._dirty:
            return
        keys = np.array(list(self._entries))
        values = (np.stack(list(self._entries.values())) if self._entries
                  else np.zeros((0, feature_dim()), np.float32))
        buf = io.BytesIO()
        np.savez(buf, keys=keys, features=values)
        try:
            write_bytes_atomic(self.file, buf.getvalue())
            self._dirty = False
        except OSError:
            pass

    def tflite_file(self, name: str = "backbone") -> Path | None:
        """Where a TFLite conversion for this preprocessing is kept: the backbone's, or another network's
        built on it (e.g. "classifier-1": the classifier with one view and a template head)."""
        return self.folder / f"{name}-{self.key}.tflite" if self.folder else None

    def load_tflite(self, name: str = "backbone") -> bytes | None:
        try:
            file = self.tflite_file(name)
            return file.read_bytes() if file else None
        except OSError:
            return None

    def save_tflite(self, data: bytes, name: str = "backbone") -> None:
        file = self.tflite_file(name)
        if file:
            try:
                write_bytes_atomic(file, data)
            except OSError:
                pass


class LiteRTFeatures:
    """The feature model's TFLite in LiteRT: float32 NxHxWx3 in [0, 1] -> N x feature_dim()."""

    def __init__(self, tflite: bytes, num_threads: int | None = None):
        from fanqc_gui.core.models.backends import LiteRTBackend

        self._backend = LiteRTBackend(None, num_threads=num_threads, content=tflite)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._backend(batch).reshape(len(batch), -1)


def compute_features(records: Sequence[ImageRecord], spec: PreprocessSpec, variants: int, cache: FeatureCache,
                     make_extractor: Callable[[], Callable[[np.ndarray], np.ndarray]],
                     progress: Callable[[int, int], None] | None = None,
                     should_stop: Callable[[], bool] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, list[Problem], int]:
    """(features N x variants x D, labels float32 N, problems, images computed) for the records that decode.
    Only images missing from the cache are decoded and run; make_extractor is called only if there are any.
    Raises FeaturesStopped when should_stop() says so (what was computed stays in the cache)."""
    missing = [r for r in records if not cache.has(r.digest, variants)]
    problems: list[Problem] = []
    if missing:
        extractor = make_extractor()
        per_chunk = max(1, ROWS_PER_CHUNK // variants)
        chunks = [missing[i:i + per_chunk] for i in range(0, len(missing), per_chunk)]

        def load(rec: ImageRecord):
            try:
                return resize_rgb_uint8(decode_image(rec.path), spec)
            except ImageError as exc:
                return str(exc)

        done = 0
        with ThreadPoolExecutor(max_workers=2) as pool:
            for i, chunk in enumerate(chunks):
                # Decode, then run: decoding alongside LiteRT's threads stalls both (see ROWS_PER_CHUNK).
                pixels = list(pool.map(load, chunk))
                good = [(rec, px) for rec, px in zip(chunk, pixels) if not isinstance(px, str)]
                problems += [Problem(rec.path, px) for rec, px in zip(chunk, pixels) if isinstance(px, str)]
                for rec, px in good:
                    rows = to_model_input(np.stack([variant(px, k) for k in range(variants)]))
                    for k in range(0, variants, ROWS_PER_CALL):
                        vectors = extractor(rows[k:k + ROWS_PER_CALL])
                        for j, vec in enumerate(vectors):
                            cache.put(rec.digest, k + j, vec)
                done += len(chunk)
                if progress:
                    progress(done, len(missing))
                if should_stop and should_stop() and i + 1 < len(chunks):
                    raise FeaturesStopped()
    bad = {p.path for p in problems}
    kept = [r for r in records if r.path not in bad]
    features = (np.stack([cache.get(r.digest, variants) for r in kept]) if kept
                else np.zeros((0, variants, feature_dim()), np.float32))
    labels = np.array([r.label for r in kept], np.float32)
    return features, labels, problems, len(missing)
