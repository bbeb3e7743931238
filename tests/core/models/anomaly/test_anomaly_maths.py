"""The anomaly mode's numbers without TensorFlow: PaDiM's held-out scores, PatchCore's bounded coreset and
honest folds, the normalised score, the threshold from good parts alone and the rules for sizes/channels."""
from __future__ import annotations

import numpy as np
import pytest

from fanqc_gui.core.models.anomaly import calibration
from fanqc_gui.core.models.anomaly.options import AnomalyOptions, AnomalyOptionsError, channels_for, size_by_rule
from fanqc_gui.core.models.anomaly.padim import FitStopped, fit_padim, padim_distances
from fanqc_gui.core.models.anomaly.patchcore import fit_patchcore, greedy_coreset, nearest_distances
from fanqc_gui.core.models.anomaly.threshold import choose_anomaly_threshold


def test_padim_held_out_scores_are_those_of_a_fit_without_the_image():
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(15, 4, 6)) * 2 + 1).astype(np.float32)
    stats = fit_padim(x, epsilon=0.3)
    lam = 0.3 * (len(x) - 1)  # the regularisation the fit uses, kept when one image leaves
    for i in (0, 7, 14):
        rest = np.delete(x, i, axis=0).astype(np.float64)
        mean = rest.mean(axis=0)
        for p in range(4):
            centred = rest[:, p] - mean[p]
            cov = (centred.T @ centred + lam * np.eye(6)) / (len(rest) - 1)
            d = x[i, p] - mean[p]
            assert stats.loo[i, p] == pytest.approx(np.sqrt(d @ np.linalg.solve(cov, d)), rel=1e-4)
    # the stored statistics score the training images as the full fit did, and new images alike
    assert np.allclose(padim_distances(stats, x), stats.full, rtol=1e-4)
    assert np.all(stats.loo >= stats.full)  # an image is stranger to a fit that never saw it


def test_padim_stops_between_positions_when_asked():
    x = np.random.default_rng(0).normal(size=(5, 300, 4)).astype(np.float32)
    with pytest.raises(FitStopped):
        fit_padim(x, should_stop=lambda: True)


def test_greedy_coreset_keeps_the_rare_patch_that_most_samples_would_miss():
    rng = np.random.default_rng(0)
    common = rng.normal(size=(2000, 8)).astype(np.float32) * 0.1
    rare = np.full((1, 8), 5.0, np.float32)
    z = np.concatenate([common, rare])
    chosen = greedy_coreset(z, 20, np.random.default_rng(3))
    assert 2000 in chosen  # the farthest point is taken among the first picks
    assert nearest_distances(z[chosen], rare)[0] == pytest.approx(0.0, abs=1e-3)


def test_patchcore_bank_is_bounded_and_held_out_images_are_scored_without_their_own_patches():
    rng = np.random.default_rng(0)
    n, p, d = 12, 16, 8
    x = rng.normal(size=(n, p, d)).astype(np.float32) * 0.1
    x[5, 3] = 9.0  # a patch only image 5 has
    fit = fit_patchcore(x, ratio=0.5, max_bank=64, folds=3, seed=0)
    assert len(fit.bank) <= 64 + 3  # the cap (each chunk rounds its share up)
    assert fit.ratio_used == pytest.approx(64 / (n * p))
    row = int(np.flatnonzero(fit.held_out_images == 5)[0])
    # held out, image 5's odd patch finds no twin; in the final bank it is its own nearest neighbour
    assert fit.held_out[row, 3] > 8.0
    assert nearest_distances(fit.bank, x[5, 3:4])[0] == pytest.approx(0.0, abs=1e-3)


def test_the_normalised_score_is_one_half_at_the_raw_threshold_and_keeps_the_order():
    raw = np.array([1.0, 5.0, 9.9, 10.0, 10.1, 40.0])
    s = calibration.normalise(raw, slope=6.0, scale=10.0)
    assert s[3] == pytest.approx(0.5)
    assert np.all(np.diff(s) > 0) and s[0] > 0 and s[-1] < 1
    go = np.array([4.0, 5.0, 5.0, 6.0, 7.0])
    slope = calibration.slope_for(go, 8.0)
    assert calibration.normalise(np.median(go), slope, 8.0) == pytest.approx(calibration.MEDIAN_GO_SCORE)


def test_raw_threshold_is_a_high_quantile_of_good_scores_plus_the_margin():
    go = np.arange(1, 101, dtype=float)  # 1..100
    assert calibration.raw_threshold(go, 0.975, 0.0) == 98.0
    assert calibration.raw_threshold(go, 0.975, 0.1) == pytest.approx(107.8)
    assert calibration.raw_threshold(go[:10], 0.975, 0.0) == 10.0  # few images: their maximum


def test_smoothing_is_renormalised_at_the_borders():
    flat = np.full((1, 6, 9), 3.0, np.float32)
    kernel = calibration.gaussian_kernel(1.0)
    assert np.allclose(calibration.smooth_maps(flat, kernel), 3.0, atol=1e-5)  # no dark frame at the edges
    spot = np.zeros((1, 6, 9), np.float32)
    spot[0, 2, 4] = 10.0
    assert calibration.image_scores(spot, kernel)[0] < 10.0  # a lone hot patch is spread a little


def test_good_parts_alone_give_a_threshold_but_never_a_ready_model():
    go = np.linspace(0.01, 0.45, 99).tolist() + [0.6]
    choice = choose_anomaly_threshold(np.array(go), np.array([]), 0.995, 0.05, "held-out")
    assert choice.threshold == 0.5 and choice.false_reject_rate == pytest.approx(0.01)
    assert not choice.ready and choice.n_ng == 0
    assert "good parts only" in choice.reason and "rejects 1 % of 100 held-out good parts" in choice.reason
    assert choice.reason.endswith("not ready for the station")
    assert choice.curve and all(len(point) == 3 for point in choice.curve)


def test_ng_images_move_the_threshold_towards_the_recall_target_within_the_cap():
    rng = np.random.default_rng(0)
    go = rng.uniform(0.0, 0.35, 200)
    ng = np.r_[rng.uniform(0.6, 1.0, 25), [0.4]]  # one subtle defect below the good-parts threshold 0.5
    choice = choose_anomaly_threshold(go, ng, 0.995, 0.05, "held-out")
    assert choice.threshold < 0.4 and choice.ng_recall == 1.0 and choice.false_reject_rate == 0.0
    assert choice.ready and "ready for the station" in choice.reason
    # a defect that looks like a good part is not caught at any price within the cap
    hard = np.r_[ng, [0.1]]
    choice = choose_anomaly_threshold(go, hard, 0.995, 0.05, "held-out")
    assert not choice.ready and choice.false_reject_rate <= 0.05


def test_the_input_keeps_the_parts_aspect_and_small_images_are_not_blown_up():
    assert size_by_rule([(448, 448)] * 5)[:2] == (320, 320)
    assert size_by_rule([(500, 1250)] * 5)[:2] == (320, 800)
    assert size_by_rule([(1250, 500), (1300, 520)])[:2] == (800, 320)
    assert size_by_rule([(96, 96), (100, 90)])[:2] == (64, 64)  # 90 px: the 32-px step below
    assert size_by_rule([])[:2] == (320, 320)


def test_padim_drops_channels_on_large_grids_and_refuses_what_cannot_fit(monkeypatch):
    from fanqc_gui.core.models.anomaly import options as anomaly_options

    options = AnomalyOptions()
    assert channels_for(options, 320, 320)[0] == 152
    kept, why = channels_for(options, 320, 800)
    assert kept < 152 and "PaDiM" in why
    assert 40 * 100 * kept ** 2 * 4 <= anomaly_options.PRECISION_BUDGET_BYTES
    assert channels_for(AnomalyOptions(method="patchcore"), 320, 800)[0] == 152
    monkeypatch.setattr(anomaly_options, "PRECISION_BUDGET_BYTES", 10_000_000)
    with pytest.raises(AnomalyOptionsError, match="too large for PaDiM.*patchcore"):
        channels_for(options, 1024, 1024)


@pytest.mark.parametrize("change, message", [
    ({"method": "autoencoder"}, "unknown anomaly method"),
    ({"input_size": "100"}, "multiple of 32"),
    ({"channels": 8}, "channels must be between"),
    ({"quantile": 0.2}, "quantile"),
    ({"max_bank": 3}, "memory bank"),
])
def test_impossible_options_are_one_clear_message(change, message):
    with pytest.raises(AnomalyOptionsError, match=message):
        AnomalyOptions(**change).validate()


def test_the_anomaly_modules_load_without_tensorflow_or_qt():
    """Only layers.py (the Keras scorer) needs TensorFlow at import; the rest runs on a lean station."""
    import json
    import subprocess
    import sys

    code = """
import importlib, json, pkgutil, sys
import fanqc_gui.core.models.anomaly as pkg
names = [m.name for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + ".") if not m.name.endswith(".layers")]
names += ["fanqc_gui.core.training.anomaly_training", "fanqc_gui.core.training.anomaly_advice"]
for name in names:
    importlib.import_module(name)
print(json.dumps([len(names), sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "PySide6"))]))
"""
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    count, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert count >= 11 and heavy == []
