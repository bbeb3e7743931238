"""What a model learned and why it decided: first-layer filters, feature maps, Grad-CAM, and the rankings
the insight page sorts and filters by. Pure numpy/OpenCV; Keras is only touched through the model object
passed in (TensorFlow is imported lazily, on the caller's thread).

Conv2D layers are found by type, never by name, so imported .h5 models (conv2d, conv2d_1, ...) work like the
default network (conv1, conv2). A Sequential model loaded from a file has its layers connected several
times over (one node per build); its layers are therefore chained afresh once to get one connected graph.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import cv2
import numpy as np

from fanqc_gui.core.errors import FanQCError

UNCERTAIN_BAND = 0.1  # |P(NG) - threshold| within this band counts as "uncertain"
DEFAULT_CONFIDENCE = 0.95  # inbox suggestions need at least this probability for the suggested class


class InsightError(FanQCError, ValueError):
    """The model cannot be inspected this way; the message says why."""


# ---- first-layer filters --------------------------------------------------------------------------------
def conv_layers(model) -> list:
    """The model's top-level Conv2D layers in order (the first one is the first convolution)."""
    from fanqc_gui.core.tf_runtime import import_keras

    keras = import_keras()
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def kernels_from_weights(weights: np.ndarray) -> np.ndarray:
    """A Conv2D kernel as Keras stores it, (kh, kw, in, out), -> one kernel per filter, (out, kh, kw, in)."""
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim != 4:
        raise InsightError(f"expected a convolution kernel (kh, kw, in, out), got shape {w.shape}")
    return np.ascontiguousarray(np.transpose(w, (3, 0, 1, 2)))


def first_layer_kernels(model) -> np.ndarray:
    """The first convolution's learned kernels, (n, kh, kw, in_ch): (32, 3, 3, 3) for the default model."""
    convs = conv_layers(model)
    if not convs:
        raise InsightError("the model has no convolution layer (Conv2D)")
    return kernels_from_weights(convs[0].get_weights()[0])


def kernel_images(kernels: np.ndarray, per_channel: bool = False) -> list[np.ndarray]:
    """One uint8 RGB picture per kernel, scaled symmetrically around 0 per kernel (0 -> mid grey, the
    kernel's largest |weight| -> 0 or 255), so that every kernel's pattern is visible whatever its size.

    RGB view (3 input channels): the kernel's weights for red, green and blue become the pixel's colour,
    (kh, kw, 3). Per-channel view: each input channel as a blue-white-red map (blue negative, red positive),
    side by side with a one-pixel white gap: (kh, in_ch * (kw + 1) - 1, 3).
    """
    k = np.asarray(kernels, dtype=np.float32)
    if k.ndim != 4:
        raise InsightError(f"expected kernels (n, kh, kw, in_ch), got shape {k.shape}")
    scale = np.max(np.abs(k), axis=(1, 2, 3), keepdims=True)
    unit = np.divide(k, scale, out=np.zeros_like(k), where=scale > 0)  # [-1, 1]
    if not per_channel and k.shape[3] == 3:
        return [np.clip(np.rint(127.5 + 127.5 * u), 0, 255).astype(np.uint8) for u in unit]
    if not per_channel:  # grey-scale or multi-channel input: the mean over channels, as grey
        grey = np.clip(np.rint(127.5 + 127.5 * unit.mean(axis=3)), 0, 255).astype(np.uint8)
        return [np.repeat(g[..., None], 3, axis=2) for g in grey]
    n, kh, kw, ch = unit.shape
    out = []
    for u in unit:
        tile = np.full((kh, ch * (kw + 1) - 1, 3), 255, np.uint8)
        for c in range(ch):
            tile[:, c * (kw + 1):c * (kw + 1) + kw] = diverging_colors(u[:, :, c])
        out.append(tile)
    return out


def diverging_colors(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] -> RGB uint8: blue (-1) - white (0) - red (+1)."""
    v = np.clip(np.asarray(values, dtype=np.float32), -1.0, 1.0)[..., None]
    white = np.float32([255, 255, 255])
    red, blue = np.float32([200, 30, 30]), np.float32([30, 70, 200])
    rgb = np.where(v >= 0, white + v * (red - white), white - v * (blue - white))
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def kernel_text(kernel: np.ndarray, index: int | None = None, channel_names: Sequence[str] = ("R", "G", "B")
                ) -> str:
    """The kernel's weights, one kh x kw block per input channel, for a tooltip."""
    k = np.asarray(kernel, dtype=np.float32)
    kh, kw, ch = k.shape
    head = f"Filter {index + 1}: " if index is not None else ""
    lines = [f"{head}{kh}×{kw}×{ch} weights (max |w| = {float(np.max(np.abs(k))):.3f})"]
    for c in range(ch):
        name = channel_names[c] if ch == len(channel_names) else f"ch {c + 1}"
        rows = ["  ".join(f"{k[r, col, c]:+.3f}" for col in range(kw)) for r in range(kh)]
        lines.append(f"{name}: " + rows[0])
        lines += [" " * (len(name) + 2) + row for row in rows[1:]]
    return "\n".join(lines)


# ---- feature maps and Grad-CAM ------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageExplanation:
    p_ng: float  # the Keras model's P(NG) for this input
    towards: str  # "NG" or "GO": the class whose evidence the heatmap shows
    heatmap: np.ndarray  # float32 HxW (model input size) in [0, 1]
    feature_maps: list[tuple[str, np.ndarray]]  # (layer name, HxWxC float32) per Conv2D layer, in order


class ModelProbe:
    """Built once per model (on the thread that owns it): every Conv2D output plus the score, in one pass.

    invert: the model's sigmoid is P(GO) (imported models whose NG folder sorts first); P(NG) = 1 - output.
    """

    def __init__(self, model, invert: bool = False):
        from fanqc_gui.core.tf_runtime import import_keras, import_tf

        self._tf = import_tf()
        keras = import_keras()
        self.invert = bool(invert)
        convs = conv_layers(model)
        if not convs:
            raise InsightError("the model has no convolution layer (Conv2D)")
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise InsightError("only models with one image input and one output can be inspected")
        self.layer_names = [c.name for c in convs]
        last = model.layers[-1]
        # The score is taken before the final sigmoid where there is one: its gradient does not vanish for
        # confident predictions (where a float32 sigmoid is exactly 0 or 1).
        self._dense = last if (isinstance(last, keras.layers.Dense)
                               and getattr(last.activation, "__name__", "") == "sigmoid") else None
        if isinstance(model, keras.Sequential):
            inp = keras.Input(shape=tuple(model.inputs[0].shape[1:]))
            x, conv_out, before_last = inp, [], inp
            for layer in model.layers:
                if isinstance(layer, keras.layers.InputLayer):
                    continue
                before_last = x
                x = layer(x)
                if layer in convs:
                    conv_out.append(x)
            inputs, final, penultimate = inp, x, before_last
        else:
            inputs, final = model.inputs, model.outputs[0]
            if self._dense is not None and _output_of(last) is not final:
                self._dense = None  # the last listed layer is not the one that makes the output
            conv_out = [c.output for c in convs]
            penultimate = last.input if self._dense is not None else final
        outputs = [*conv_out, penultimate if self._dense is not None else final]
        self._probe = keras.Model(inputs, outputs)
        self.input_shape = tuple(int(v) for v in model.inputs[0].shape[1:3])

    def explain(self, x: np.ndarray, towards: str | None = None, threshold: float = 0.5) -> ImageExplanation:
        """Feature maps of every Conv2D layer and the Grad-CAM heatmap of the last one for one image.

        x: float32 HxWx3 (or 1xHxWx3) as `imaging.preprocess` returns it. towards: "NG" or "GO" (the class
        whose evidence is mapped); None = the verdict at `threshold` (P(NG) >= threshold -> NG).
        """
        tf = self._tf
        batch = np.asarray(x, dtype=np.float32)
        if batch.ndim == 3:
            batch = batch[None]
        if batch.ndim != 4 or batch.shape[0] != 1:
            raise InsightError(f"expected one image HxWx3, got shape {np.shape(x)}")
        with tf.GradientTape() as tape:
            *maps, head = self._probe(tf.constant(batch), training=False)
            if self._dense is not None:
                logit = tf.matmul(head, self._dense.kernel) + self._dense.bias
            else:
                p = tf.clip_by_value(head, 1e-7, 1 - 1e-7)
                logit = tf.math.log(p) - tf.math.log1p(-p)
            logit_ng = -logit if self.invert else logit
            p_ng = float(tf.sigmoid(logit_ng)[0, 0].numpy())
            if towards is None:
                towards = "NG" if p_ng >= threshold else "GO"
            if towards not in ("NG", "GO"):
                raise ValueError(f"towards must be 'NG' or 'GO', not {towards!r}")
            score = tf.reduce_sum(logit_ng if towards == "NG" else -logit_ng)
        grads = tape.gradient(score, maps[-1])
        if grads is None:
            raise InsightError("cannot follow the model's output back to its last convolution")
        heatmap = _grad_cam(maps[-1].numpy()[0], grads.numpy()[0], batch.shape[1:3])
        return ImageExplanation(p_ng, towards, heatmap,
                                [(name, m.numpy()[0]) for name, m in zip(self.layer_names, maps)])


def _output_of(layer):
    try:
        return layer.output
    except (AttributeError, ValueError):  # a layer used more than once has no single output
        return None


def _grad_cam(activations: np.ndarray, grads: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """ReLU(sum_c mean(dScore/dA_c) * A_c), scaled to [0, 1] and resized to the input (h, w)."""
    weights = grads.reshape(-1, grads.shape[-1]).mean(axis=0)
    cam = np.maximum(np.tensordot(activations, weights, axes=([2], [0])), 0.0).astype(np.float32)
    cam[~np.isfinite(cam)] = 0.0
    peak = float(cam.max()) if cam.size else 0.0
    cam = cam / peak if peak > 0 else np.zeros_like(cam)
    h, w = int(size[0]), int(size[1])
    return np.clip(cv2.resize(cam, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0).astype(np.float32)


def feature_maps(model, x: np.ndarray, invert: bool = False) -> list[tuple[str, np.ndarray]]:
    """(layer name, HxWxC activations) for every Conv2D layer, for one preprocessed image."""
    return ModelProbe(model, invert).explain(x).feature_maps


def grad_cam(model, x: np.ndarray, towards: str | None = None, invert: bool = False) -> np.ndarray:
    """Grad-CAM at the last Conv2D for one preprocessed image: float32 HxW (input size) in [0, 1]."""
    return ModelProbe(model, invert).explain(x, towards).heatmap


def overlay_heatmap(bgr: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """The image with the heatmap (resized to it) blended in as a JET colour map (blue = 0, red = 1)."""
    img = np.asarray(bgr)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected a BGR uint8 image, got {img.shape} {img.dtype}")
    colours = heatmap_colors(heatmap, (img.shape[0], img.shape[1]))
    a = float(np.clip(opacity, 0.0, 1.0))
    return cv2.addWeighted(colours, a, img, 1.0 - a, 0.0)


def heatmap_colors(heatmap: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """A [0, 1] heatmap as BGR uint8 through the JET colour map, optionally resized to (h, w)."""
    h = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    if size is not None and h.shape[:2] != tuple(size):
        h = cv2.resize(h, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    grey = np.clip(np.rint(h * 255.0), 0, 255).astype(np.uint8)
    return cv2.applyColorMap(grey, cv2.COLORMAP_JET)


def feature_mosaic(maps: np.ndarray, columns: int | None = None, gap: int = 1) -> np.ndarray:
    """HxWxC activations -> one uint8 grey picture of C tiles (each scaled 0..its own max), `columns` wide,
    separated by `gap` white pixels. A channel that never fires stays black."""
    a = np.asarray(maps, dtype=np.float32)
    if a.ndim != 3:
        raise InsightError(f"expected feature maps HxWxC, got shape {a.shape}")
    h, w, c = a.shape
    cols = columns or min(8, c)
    rows = math.ceil(c / cols)
    peak = a.reshape(-1, c).max(axis=0)
    tiles = np.divide(a, peak, out=np.zeros_like(a), where=peak > 0)
    tiles = np.clip(np.rint(tiles * 255.0), 0, 255).astype(np.uint8)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), 255, np.uint8)
    for i in range(c):
        r, col = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, col * (w + gap):col * (w + gap) + w] = tiles[:, :, i]
    return out


# ---- rankings -------------------------------------------------------------------------------------------
def wrongness(labels: Sequence[int | None], scores: Sequence[float | None]) -> np.ndarray:
    """How wrong each prediction is, |label - P(NG)| in [0, 1]; NaN without a label or a score."""
    y = np.array([np.nan if v is None else float(v) for v in labels], dtype=np.float64)
    s = np.array([np.nan if v is None else float(v) for v in scores], dtype=np.float64)
    return np.abs(y - s)


def uncertain_mask(scores: Sequence[float | None], threshold: float, band: float = UNCERTAIN_BAND) -> np.ndarray:
    """True where P(NG) lies within `band` of the threshold (the verdict could flip with a small change)."""
    s = np.array([np.nan if v is None else float(v) for v in scores], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.abs(s - float(threshold)) <= band


@dataclass(frozen=True)
class Suggestion:
    path: str
    label: int  # 0 = GO, 1 = NG
    p_ng: float


def suggest_for_inbox(predictions: Iterable, threshold: float, confidence: float = DEFAULT_CONFIDENCE
                      ) -> list[Suggestion]:
    """Inbox images the model is confident about, with the class to file them in.

    predictions: objects with .path and .p_ng (None for unreadable files, which are never suggested).
    NG when P(NG) >= max(threshold, confidence); GO when P(NG) < threshold and P(GO) = 1 - P(NG) >=
    confidence. So a suggestion always agrees with the verdict at the threshold and is at least
    `confidence` sure.
    """
    if not 0.5 <= confidence <= 1.0:
        raise ValueError(f"confidence must be between 0.5 and 1, got {confidence}")
    out = []
    for p in predictions:
        if p.p_ng is None or not math.isfinite(p.p_ng):
            continue
        if p.p_ng >= max(threshold, confidence):
            out.append(Suggestion(str(p.path), 1, float(p.p_ng)))
        elif p.p_ng < threshold and 1.0 - p.p_ng >= confidence:
            out.append(Suggestion(str(p.path), 0, float(p.p_ng)))
    return out


def roc_points(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """evaluation.roc_curve computed by sorting once (milliseconds for 100,000 images): (fpr, tpr,
    thresholds), thresholds decreasing from +inf over every distinct score."""
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = max(int(np.sum(y == 1)), 1), max(int(np.sum(y == 0)), 1)
    thresholds = np.r_[np.inf, np.unique(s)[::-1]]
    order = np.argsort(-s, kind="mergesort")
    sorted_s = s[order]
    tp = np.cumsum(y[order] == 1)
    fp = np.cumsum(y[order] == 0)
    # for each threshold t: how many scores are >= t (the last index of its run of equal scores + 1)
    count = np.searchsorted(-sorted_s, -thresholds[1:], side="right")
    tpr = np.r_[0.0, tp[count - 1] / n_pos] if len(s) else np.zeros(1)
    fpr = np.r_[0.0, fp[count - 1] / n_neg] if len(s) else np.zeros(1)
    return fpr, tpr, thresholds
