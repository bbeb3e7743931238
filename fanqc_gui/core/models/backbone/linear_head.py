"""The head the pretrained preset trains on cached features: logistic regression on standardised features,
with the classes weighted to equal total weight (few NG is the usual case) and an L2 penalty. Pure numpy:
the problem is convex and small (thousands of rows, hundreds of features), so full-batch Adam converges
in well under a second and gives the same answer for the same data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

L2 = 0.01  # on standardised features; the same for every dataset
STEPS = 400
LEARNING_RATE = 0.05
SAFER = {"l2": L2 * 10, "learning_rate": LEARNING_RATE / 5, "steps": STEPS * 2}  # the retry after a failure


class HeadFailed(RuntimeError):
    """The head's loss or weights became NaN/infinite; the message says where."""


@dataclass(frozen=True)
class LinearHead:
    mean: np.ndarray
    scale: np.ndarray
    w: np.ndarray
    b: float
    loss: float  # the weighted training loss at the end (penalty included)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.w + self.b

    def scores(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(self.logits(x))

    def folded(self) -> tuple[np.ndarray, float]:
        """(kernel, bias) on the raw features: the standardisation folded into the weights."""
        kernel = self.w / self.scale
        return kernel.astype(np.float32), float(self.b - np.sum(kernel * self.mean))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


def cross_entropy(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy of scores p (clipped away from 0 and 1) for labels y: the curves' loss."""
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log1p(-p))))


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights giving GO and NG the same total weight (mean weight 1)."""
    y = np.asarray(y)
    n, n_ng = len(y), float(np.sum(y == 1))
    n_go = n - n_ng
    return np.where(y == 1, n / (2.0 * max(n_ng, 1.0)), n / (2.0 * max(n_go, 1.0)))


def fit_head(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = STEPS,
             learning_rate: float = LEARNING_RATE) -> LinearHead:
    """Weighted, L2-penalised logistic regression by full-batch Adam. Raises HeadFailed on NaN/infinity."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)  # a constant feature stays 0 after centring
    # The two products per step in float32 (params, moments and the loss stay float64): 4x faster on casting's
    # 5,300 x 688 folds (0.11 s vs 0.45 s per fit), weights within 1e-7 of float64's.
    z = ((x - mean) / scale).astype(np.float32)
    z_t = np.ascontiguousarray(z.T)
    weights = balanced_weights(y) / len(y)
    params = np.zeros(z.shape[1] + 1)
    m = np.zeros_like(params)
    v = np.zeros_like(params)
    b1, b2 = 0.9, 0.999
    loss = np.inf
    for t in range(1, steps + 1):
        logit = (z @ params[:-1].astype(np.float32)).astype(np.float64) + params[-1]
        p = _sigmoid(logit)
        g = (p - y) * weights
        grad = np.r_[z_t @ g.astype(np.float32) + l2 * params[:-1], g.sum()]
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        params -= learning_rate * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + 1e-8)
    logit = z.astype(np.float64) @ params[:-1] + params[-1]
    # log(1 + e^-|l|) + max(l, 0) - y*l: the cross-entropy from logits without overflow
    ce = np.logaddexp(0.0, logit) - y * logit
    loss = float(np.sum(ce * weights) + 0.5 * l2 * np.sum(params[:-1] ** 2))
    if not np.isfinite(loss) or not np.all(np.isfinite(params)):
        raise HeadFailed(f"the head's loss became {loss} after {steps} steps")
    return LinearHead(mean, scale, params[:-1], float(params[-1]), loss)
