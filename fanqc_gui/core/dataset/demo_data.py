"""Deterministic synthetic data for the FanQC demo workspace.

Renders backlit top views of a small three-bladed fan (dark curved blades in front of a light
panel, a large hub and a round printed label) with pose, colour, lighting and noise jitter,
optionally with one defect, using only numpy and OpenCV drawing. ``generate_demo_workspace``
fills GO/, NG/ and inbox/ folders with JPEGs and ``write_demo_video`` writes a short MJPG
conveyor clip for trying live inspection.

The look is tuned so that the app's default CNN (80 x 80 input, 10 epochs) learns the default
demo workspace to about 98-100 % validation accuracy, while mean brightness alone still cannot
sort GO from NG: every defect spans many pixels after the resize to 80 x 80 (the label is about
a third of the image wide; the blades are wide with narrow gaps, so a missing blade opens a
bright sector far larger than any gap of a GO part), the part's own colours vary only a little
(one product), and the exposure and the housing's shade vary as much as before.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DEFECTS: tuple[str, ...] = ("missing_label", "off_centre_label", "torn_label", "smudged_label", "broken_blade")

_SS = 4  # supersampling factor: draw 4x larger with anti-aliasing, then downscale with INTER_AREA
_BLADES = 3  # one product: the blade count does not vary
_JPEG_QUALITY = 90
_AA = cv2.LINE_AA


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo_workspace`` wrote."""

    root: Path
    counts: dict[str, int]  # {"GO": n, "NG": n, "inbox": n}
    defects: dict[str, int]  # NG-folder images per defect kind (inbox truth is deliberately not reported)


def _sample_params(rng: np.random.Generator, size: int) -> dict:
    """Draw every random value up front, in a fixed order and independent of the defect, so a GO
    render and a defect render from the same generator state share pose, colours and noise."""
    u = size * _SS  # canvas side in supersampled pixels
    scale = rng.uniform(0.95, 1.03)
    hub_r = 0.215 * u * scale  # a big hub, so the label spans about a third of the image
    blade = rng.uniform(48, 62)  # one product: the plastic's shade varies only a little
    bg = rng.uniform(14, 45)  # the housing around the fan: varies, but far from every defect
    return {
        "centre": (u / 2 + rng.uniform(-0.025, 0.025) * u, u / 2 + rng.uniform(-0.025, 0.025) * u),
        "fan_r": 0.42 * u * scale,
        "hub_r": hub_r,
        "label_r": hub_r * rng.uniform(0.72, 0.78),
        "n_blades": _BLADES,
        "rotation": rng.uniform(0, 2 * math.pi),
        "sweep": rng.uniform(0.4, 0.55),
        "bg": bg + rng.uniform(-3, 3, 3),
        "light": rng.uniform(192, 202) + rng.uniform(-4, 4, 3),  # backlight seen through the blade gaps
        "blade": blade + rng.uniform(-5, 5, 3),
        "blade_var": rng.uniform(-5, 5, _BLADES),
        "hub": blade * rng.uniform(1.1, 1.3) + rng.uniform(-4, 4, 3),
        "label": np.array([rng.uniform(175, 220), rng.uniform(218, 242), rng.uniform(225, 248)]),
        "ink": rng.uniform(25, 70) + rng.uniform(-12, 12, 3),
        "ring_frac": rng.uniform(0.58, 0.74),
        "bars": rng.uniform(0.55, 1.0, 3),  # relative lengths of the "text" bars
        # defect parameters (always drawn, only some are used)
        "off_angle": rng.uniform(0, 2 * math.pi),
        "off_dist": hub_r * rng.uniform(0.45, 0.6),
        "tear_angle": rng.uniform(0, 2 * math.pi),
        "tear_width": rng.uniform(1.8, 2.6),
        "tear_jag": rng.uniform(-1, 1, 12),
        "smudge_centre": rng.uniform(-0.35, 0.35, 2),
        "smudge_blobs": rng.uniform(-0.25, 0.25, (3, 2)),
        "smudge_axes": np.column_stack([rng.uniform(0.6, 0.85, 3), rng.uniform(0.36, 0.5, 3)]),
        "smudge_angles": rng.uniform(0, 180) + rng.uniform(-20, 20, 3),  # roughly one smear direction
        "smudge_colour": rng.uniform(30, 60) + np.array([-6.0, 0.0, 8.0]),
        "smudge_alpha": rng.uniform(0.9, 0.97),
        "broken_index": int(rng.integers(0, _BLADES)),
        "broken_stub": rng.uniform(0.0, 0.2),
        "broken_jag": rng.uniform(-1, 1, 7),
        # photometric jitter, applied at the final size
        "contrast": rng.uniform(0.9, 1.1),
        "brightness": rng.uniform(-14, 14),
        "cast": rng.uniform(-4, 4, 3),
        "light_angle": rng.uniform(0, 2 * math.pi),
        "light_amp": rng.uniform(0.0, 0.08),
        "blur": rng.uniform(0.3, 0.8),
        "noise_sigma": rng.uniform(1.5, 4.0),
        "noise": rng.standard_normal((size, size, 3)).astype(np.float32),
    }


def _pts(points) -> np.ndarray:
    return np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)


def _polar(c: tuple[float, float], r, a) -> tuple:
    """Point(s) at radius ``r`` and angle ``a`` around ``c``; works on scalars and arrays."""
    return c[0] + r * np.cos(a), c[1] + r * np.sin(a)


def _blade_polygon(p: dict, theta: float, t_end: float = 1.0, jag: np.ndarray | None = None) -> np.ndarray:
    """A curved blade from under the hub to the rim; a jagged break at ``t_end`` < 1."""
    c, r_in, r_out = p["centre"], p["hub_r"] * 0.8, p["fan_r"]
    period = 2 * math.pi / p["n_blades"]
    ts = np.linspace(0.0, t_end, 20)
    axis = theta + p["sweep"] * ts**1.4  # blade centre-line curves backwards
    tip_round = np.sqrt(np.clip(1 - ((ts - 0.8) / 0.2).clip(0) ** 2, 0.25, 1))
    # angular half-width: wide blades with narrow gaps, rounding off at the tip
    half = period * (0.41 + 0.03 * ts) * tip_round
    radius = r_in + ts * (r_out - r_in)
    arc = np.linspace(axis[-1] + half[-1], axis[-1] - half[-1], 9 if jag is None else len(jag))
    tip_r = np.full_like(arc, r_out) if jag is None else radius[-1] + jag * 0.02 * r_out  # rim or broken edge
    left = np.column_stack(_polar(c, radius, axis - half))
    right = np.column_stack(_polar(c, radius, axis + half))
    return _pts(np.vstack([left, np.column_stack(_polar(c, tip_r, arc)), right[::-1]]))


def _draw_fan(canvas: np.ndarray, p: dict, defect: str | None) -> None:
    u = canvas.shape[0]
    c, line = p["centre"], max(1, u // 128)
    ci, ring_r = _pts([c])[0, 0], int(p["fan_r"] + 0.03 * u)
    cv2.circle(canvas, ci, ring_r, p["light"].tolist(), -1, _AA)  # the backlight, seen between the blades
    cv2.circle(canvas, ci, ring_r, (p["bg"] + 16).tolist(), int(0.022 * u), _AA)  # the housing's rim
    period = 2 * math.pi / p["n_blades"]
    broken = p["broken_index"] % p["n_blades"] if defect == "broken_blade" else -1
    for k in range(p["n_blades"]):
        theta = p["rotation"] + k * period
        if k == broken:
            t_hub = 0.2 * p["hub_r"] / (p["fan_r"] - 0.8 * p["hub_r"])
            if p["broken_stub"] < 0.08:  # blade snapped off completely
                continue
            poly = _blade_polygon(p, theta, t_hub + p["broken_stub"] * (1 - t_hub), p["broken_jag"])
        else:
            poly = _blade_polygon(p, theta)
        colour = np.clip(p["blade"] + p["blade_var"][k], 0, 255)
        cv2.fillPoly(canvas, [poly], colour.tolist(), _AA)
        cv2.polylines(canvas, [poly], True, (colour * 0.7).tolist(), line, _AA)
    hub_c = _pts([c])[0, 0]
    cv2.circle(canvas, hub_c, int(p["hub_r"]), p["hub"].tolist(), -1, _AA)
    cv2.circle(canvas, hub_c, int(p["hub_r"]), (p["hub"] * 0.6).tolist(), 2 * line, _AA)


def _draw_label(canvas: np.ndarray, p: dict, defect: str | None) -> None:
    if defect == "missing_label":
        return
    u, lr, rot = canvas.shape[0], p["label_r"], p["rotation"]
    c = p["centre"]
    if defect == "off_centre_label":
        c = _polar(c, p["off_dist"], p["off_angle"])
    ci = _pts([c])[0, 0]
    cv2.circle(canvas, ci, int(lr), p["label"].tolist(), -1, _AA)
    cv2.circle(canvas, ci, int(lr), (p["label"] * 0.75).tolist(), max(1, u // 128), _AA)
    # printed mark: a ring plus three short "text" bars, turning with the fan
    ink = np.clip(p["ink"], 0, 255).tolist()
    cv2.circle(canvas, ci, int(lr * p["ring_frac"]), ink, max(2, int(0.12 * lr)), _AA)
    for row, length in zip((-0.22, 0.0, 0.22), p["bars"]):
        centre = _polar(c, row * lr, rot + math.pi / 2)
        box = ((centre[0], centre[1]), (0.62 * lr * length, 0.1 * lr), math.degrees(rot))
        cv2.fillPoly(canvas, [_pts(cv2.boxPoints(box))], ink, _AA)
    if defect == "torn_label":
        _tear(canvas, p, c)
    elif defect == "smudged_label":
        _smudge(canvas, p, c)


def _blend(canvas: np.ndarray, mask: np.ndarray, colour: np.ndarray, alpha: float = 1.0) -> None:
    """Alpha-blend ``colour`` into the canvas where the uint8 ``mask`` is set (only those pixels)."""
    ys, xs = np.nonzero(mask)
    a = (mask[ys, xs].astype(np.float32) * (alpha / 255))[:, None]
    canvas[ys, xs] = np.round(canvas[ys, xs] * (1 - a) + colour * a).astype(np.uint8)


def _label_mask(shape: tuple[int, ...], c: tuple[float, float], radius: float) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.circle(mask, _pts([c])[0, 0], int(radius), 255, -1, _AA)
    return mask


def _tear(canvas: np.ndarray, p: dict, c: tuple[float, float]) -> None:
    """Cut a jagged wedge out of the label so the hub shows through."""
    lr, a, w = p["label_r"], p["tear_angle"], p["tear_width"]
    n = len(p["tear_jag"]) // 2
    apex = _polar(c, -0.1 * lr, a)  # just behind the centre: a big chunk
    edge1 = [_polar(apex, 1.5 * lr * i / n, a - w / 2 + 0.12 * j) for i, j in enumerate(p["tear_jag"][:n], 1)]
    edge2 = [_polar(apex, 1.5 * lr * i / n, a + w / 2 + 0.12 * j) for i, j in enumerate(p["tear_jag"][n:], 1)]
    rim = [_polar(apex, 1.6 * lr, t) for t in np.linspace(a - w / 2, a + w / 2, 8)]  # beyond the label edge
    wedge = np.zeros(canvas.shape[:2], np.uint8)
    cv2.fillPoly(wedge, [_pts([apex] + edge1 + rim + edge2[::-1])], 255, _AA)
    outline = max(1, canvas.shape[0] // 128)
    _blend(canvas, np.minimum(wedge, _label_mask(canvas.shape, c, lr + outline + 2)), p["hub"])


def _smudge(canvas: np.ndarray, p: dict, c: tuple[float, float]) -> None:
    """Blend a soft dark smear over part of the label (and only a little beyond it)."""
    lr = p["label_r"]
    sc = (c[0] + p["smudge_centre"][0] * lr, c[1] + p["smudge_centre"][1] * lr)
    blot = np.zeros(canvas.shape[:2], np.uint8)
    for off, axes, ang in zip(p["smudge_blobs"], p["smudge_axes"], p["smudge_angles"]):
        bc = _pts([(sc[0] + off[0] * lr, sc[1] + off[1] * lr)])[0, 0]
        cv2.ellipse(blot, bc, (int(axes[0] * lr), int(axes[1] * lr)), float(ang), 0, 360, 255, -1, _AA)
    blot = cv2.GaussianBlur(blot, (0, 0), 0.07 * lr)
    mask = (blot.astype(np.uint16) * _label_mask(canvas.shape, c, lr * 1.05) // 255).astype(np.uint8)
    _blend(canvas, mask, p["smudge_colour"], p["smudge_alpha"])


def _photometric(img: np.ndarray, p: dict) -> np.ndarray:
    size = img.shape[0]
    out = cv2.GaussianBlur(img, (0, 0), p["blur"]).astype(np.float32)
    xs = np.linspace(-1, 1, size, dtype=np.float32)
    ramp = math.cos(p["light_angle"]) * xs[None, :] + math.sin(p["light_angle"]) * xs[:, None]
    out *= (1 + p["light_amp"] * ramp)[..., None]
    out = (out - 128) * p["contrast"] + 128 + p["brightness"] + p["cast"]
    out += p["noise"] * p["noise_sigma"]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def render_part(rng: np.random.Generator, defect: str | None = None, size: int = 128) -> np.ndarray:
    """One BGR uint8 image (size x size x 3) of a fan; defect None = GO part."""
    if defect is not None and defect not in DEFECTS:
        raise ValueError(f"unknown defect {defect!r}; expected one of {DEFECTS}")
    if size < 16:
        raise ValueError(f"size must be at least 16 px, got {size}")
    p = _sample_params(rng, size)
    u = size * _SS
    canvas = np.empty((u, u, 3), np.uint8)
    canvas[:] = np.clip(p["bg"], 0, 255).astype(np.uint8)
    _draw_fan(canvas, p, defect)
    _draw_label(canvas, p, defect)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return _photometric(small, p)


def _write_jpeg(path: Path, img: np.ndarray) -> None:
    """Encode in memory (non-ASCII paths work) and publish atomically via os.replace."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for {path.name}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(buf.tobytes())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _image_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    # one independent stream per image: image i does not depend on how many others are made
    return np.random.default_rng([seed, stream, index])


def generate_demo_workspace(root: str | Path, per_class: int = 300, inbox: int = 40, size: int = 128,
                            seed: int = 0, go_folder: str = "GO", ng_folder: str = "NG",
                            inbox_folder: str = "inbox") -> DemoSummary:
    """Write GO/, NG/ and inbox/ demo images under ``root`` (created if missing).

    NG images cycle evenly through DEFECTS and are named ``ng_0000_<defect>.jpg``; the inbox mixes
    GO and NG parts about 50/50 without revealing which is which. Same arguments give byte-identical
    files. Raises FileExistsError, before writing anything, if a target folder already has content.
    """
    if per_class < 0 or inbox < 0 or size < 16:
        raise ValueError("per_class and inbox must be >= 0 and size >= 16")
    root = Path(root)
    folders = {"GO": root / go_folder, "NG": root / ng_folder, "inbox": root / inbox_folder}
    for folder in folders.values():
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise FileExistsError(f"Refusing to create demo data: '{folder}' already exists and is not empty. "
                                  "Choose an empty or new folder so no existing images are overwritten.")
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)

    for i in range(per_class):
        _write_jpeg(folders["GO"] / f"go_{i:04d}.jpg", render_part(_image_rng(seed, 0, i), None, size))
    defect_counts = dict.fromkeys(DEFECTS, 0)
    for i in range(per_class):
        defect = DEFECTS[i % len(DEFECTS)]
        defect_counts[defect] += 1
        _write_jpeg(folders["NG"] / f"ng_{i:04d}_{defect}.jpg", render_part(_image_rng(seed, 1, i), defect, size))
    n_ng = inbox // 2
    plan = [None] * (inbox - n_ng) + [DEFECTS[i % len(DEFECTS)] for i in range(n_ng)]
    order = _image_rng(seed, 2, 0).permutation(inbox)
    for i, j in enumerate(order):
        _write_jpeg(folders["inbox"] / f"inbox_{i:04d}.jpg", render_part(_image_rng(seed, 3, i), plan[j], size))
    return DemoSummary(root=root, counts={"GO": per_class, "NG": per_class, "inbox": inbox}, defects=defect_counts)


def _conveyor_frame(w: int, h: int, band: int, step: int) -> np.ndarray:
    """Grey frame with a darker belt whose slats move a few pixels per frame."""
    frame = np.full((h, w, 3), 112, np.uint8)
    top, bottom = max(0, (h - band) // 2), min(h, (h + band) // 2)
    frame[top:bottom] = 68
    for x in range(-(step * 4) % 48 - 48, w, 48):
        cv2.line(frame, (x, top), (x, bottom - 1), (58, 58, 58), 3, _AA)
    frame[max(0, top - 3):top] = frame[bottom:bottom + 3] = 150  # belt edges
    return frame


def write_demo_video(path: str | Path, parts: int = 20, seed: int = 1, frame_size: tuple[int, int] = (640, 480),
                     frames_per_part: int = 6, fps: float = 15.0) -> list[str | None]:
    """Write an MJPG .avi of fans passing on a conveyor, each held for ``frames_per_part`` frames.

    About one part in three is NG. Returns the defect per part (None for GO). Raises RuntimeError if
    the video writer cannot be opened.
    """
    w, h = frame_size
    part_px = min(200, min(w, h) - 16)
    if part_px < 16:
        raise ValueError(f"frame_size {frame_size} is too small")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), float(fps), (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"Cannot open an MJPG video writer for '{path}'")
    rng = np.random.default_rng(seed)
    truth: list[str | None] = []
    try:
        for k in range(parts):
            defect = DEFECTS[int(rng.integers(len(DEFECTS)))] if rng.random() < 1 / 3 else None
            truth.append(defect)
            part = render_part(rng, defect, part_px)
            for f in range(frames_per_part):
                frame = _conveyor_frame(w, h, part_px + 40, k * frames_per_part + f)
                dx, dy = (int(v) for v in rng.integers(-3, 4, 2))
                x0 = min(max(0, (w - part_px) // 2 + dx), w - part_px)
                y0 = min(max(0, (h - part_px) // 2 + dy), h - part_px)
                frame[y0:y0 + part_px, x0:x0 + part_px] = part
                writer.write(frame)
    finally:
        writer.release()
    return truth
