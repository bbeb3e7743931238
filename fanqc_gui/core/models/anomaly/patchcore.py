"""PatchCore in numpy: a memory bank of good patches chosen by a greedy coreset; a patch's anomaly is the
distance to its nearest neighbour in the bank.

Memory and time stay bounded:
- the coreset is chosen in chunks of at most CHUNK_PATCHES patches (whole images), on a seeded random
  projection to PROJECTION dims (Johnson-Lindenstrauss), so each greedy step touches a few MB;
- the bank holds at most `max_bank` patches (the ratio shrinks on large sets); the station's nearest-
  neighbour search costs patches x bank x dims per image;
- held-out scores: the good images are dealt into folds and each fold's coreset is chosen from its own
  images only. The bank without fold f is then exactly what a fit without fold f's images would keep, so
  fold f's images are scored against it as new parts (at most HELD_OUT_IMAGES of them, for time).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fanqc_gui.core.models.anomaly.padim import FitStopped

CHUNK_PATCHES = 16384
PROJECTION = 32
HELD_OUT_IMAGES = 100
QUERY_ROWS = 2048  # patches per distance block in numpy


@dataclass
class PatchCoreFit:
    bank: np.ndarray  # (M, d) float32
    held_out: np.ndarray  # (h, P) float32: nearest-neighbour distances of held-out good images
    held_out_images: np.ndarray  # (h,) indices into the training images
    ratio_used: float


def greedy_coreset(z: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of m rows of z chosen by greedy k-centre (each next row is the farthest from those chosen)."""
    n = len(z)
    m = max(1, min(m, n))
    sq = np.einsum("ij,ij->i", z, z)
    chosen = np.empty(m, np.int64)
    chosen[0] = int(rng.integers(n))
    nearest = sq - 2.0 * (z @ z[chosen[0]]) + sq[chosen[0]]
    for j in range(1, m):
        i = int(np.argmax(nearest))
        chosen[j] = i
        np.minimum(nearest, sq - 2.0 * (z @ z[i]) + sq[i], out=nearest)
    return chosen


def nearest_distances(bank: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(q, d) -> (q,) Euclidean distance of each query to its nearest bank row, in blocks."""
    bank = np.asarray(bank, np.float32)
    bank_sq = np.einsum("ij,ij->i", bank, bank)
    out = np.empty(len(queries), np.float32)
    for s in range(0, len(queries), QUERY_ROWS):
        q = np.asarray(queries[s:s + QUERY_ROWS], np.float32)
        d2 = np.einsum("ij,ij->i", q, q)[:, None] - 2.0 * (q @ bank.T) + bank_sq[None]
        out[s:s + QUERY_ROWS] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def fit_patchcore(features: np.ndarray, ratio: float, max_bank: int, folds: int, seed: int = 0,
                  progress: Callable[[int, int], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> PatchCoreFit:
    """features: (n, P, d) patch features of n good images."""
    n, p, d = features.shape
    rng = np.random.default_rng(seed)
    folds = max(2, min(folds, n))
    fold = np.empty(n, np.int64)
    fold[rng.permutation(n)] = np.arange(n) % folds
    ratio_used = min(ratio, max_bank / float(n * p))
    projection = (rng.normal(size=(d, PROJECTION)) / math.sqrt(PROJECTION)).astype(np.float32) \
        if d > PROJECTION else None
    images_per_chunk = max(1, CHUNK_PATCHES // p)
    picks: list[tuple[int, np.ndarray]] = []  # (fold, rows of the flattened features)
    chunks = [(f, ids[s:s + images_per_chunk]) for f in range(folds) for ids in [np.flatnonzero(fold == f)]
              for s in range(0, len(ids), images_per_chunk)]
    for done, (f, ids) in enumerate(chunks, start=1):
        if should_stop and should_stop():
            raise FitStopped()
        rows = features[ids].reshape(-1, d).astype(np.float32)
        z = rows @ projection if projection is not None else rows
        local = greedy_coreset(z, math.ceil(len(rows) * ratio_used), rng)
        picks.append((f, (ids[local // p] * p + local % p)))
        if progress:
            progress(done, len(chunks) + folds)
    flat = features.reshape(n * p, d)
    bank_fold = np.concatenate([np.full(len(r), f) for f, r in picks])
    bank_rows = np.concatenate([r for _, r in picks])
    held_ids = np.sort(rng.permutation(n)[:HELD_OUT_IMAGES])
    held = np.empty((len(held_ids), p), np.float32)
    for f in range(folds):
        if should_stop and should_stop():
            raise FitStopped()
        mine = held_ids[fold[held_ids] == f]
        if len(mine):
            others = np.asarray(flat[bank_rows[bank_fold != f]], np.float32)
            dist = nearest_distances(others, features[mine].reshape(-1, d))
            held[np.searchsorted(held_ids, mine)] = dist.reshape(len(mine), p)
        if progress:
            progress(len(chunks) + f + 1, len(chunks) + folds)
    return PatchCoreFit(np.asarray(flat[bank_rows], np.float32), held, held_ids, float(ratio_used))


def patchcore_distances(bank: np.ndarray, features: np.ndarray) -> np.ndarray:
    m, p, d = features.shape
    return nearest_distances(bank, features.reshape(-1, d)).reshape(m, p)
