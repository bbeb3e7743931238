"""Every kind of bad file through `fanqc scan`, `train`, `evaluate`, `predict` and `inspect --source FOLDER`, run as
a user runs them (subprocesses, each with a timeout): exit 0, never a traceback, every skipped file named with
its reason in the text output and in --json, every usable file used.

One corpus workspace holds one entry of every kind (corpus.py); each command runs over it once (a few
processes in all) and each kind is then its own test id.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from corpus import KIND_BY_ID, active_kinds, corpus_entry
from corpus_runs import fanqc, names_with_reason

from fanqc_gui.core.tf_runtime import tensorflow_available

KINDS = active_kinds()
SKIPPED = [k for k in KINDS if not k.usable]
ids = [k.id for k in KINDS]


def _same(a, b) -> bool:
    return os.path.normpath(os.fspath(a)) == os.path.normpath(os.fspath(b))


def _reason_in(rows, path, key: str = "path", reason_key: str = "reason") -> str | None:
    for row in rows:
        if _same(row[key], path) or (key == "file" and row[key] == Path(path).name):
            return (row.get(reason_key) or "").lower()
    return None


# ---- scan ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scans(corpus_workspace):
    as_json = fanqc("scan", corpus_workspace, "--json")
    as_text = fanqc("scan", corpus_workspace)
    return as_json, as_text


def test_scan_runs_cleanly(scans):
    for run in scans:
        run.assert_clean(0)
    assert scans[0].document["counts"]["GO"] >= 8


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_scan_names_each_kind(kind, scans, corpus_workspace):
    as_json, as_text = scans
    path = corpus_entry(kind, corpus_workspace)
    reason = _reason_in(as_json.document["problems"], path)
    if kind.usable:
        assert reason is None, f"usable file reported: {reason}"
        if kind.id == "duplicate_b":
            assert any(any(_same(p, path) for p in g) for g in as_json.document["duplicates"])
        return
    assert reason is not None and kind.reason in reason, f"--json: {reason!r}"
    assert names_with_reason(as_text.stderr, path, kind.reason), as_text.stderr[-2000:]


# ---- evaluate and predict with the demo model (LiteRT, no TensorFlow) ------------------------------------------
@pytest.fixture(scope="module")
def evaluations(corpus_workspace, demo_store):
    as_json = fanqc("evaluate", "demo-model", corpus_workspace, "--models", demo_store, "--json")
    as_text = fanqc("evaluate", "demo-model", corpus_workspace, "--models", demo_store)
    return as_json, as_text


def test_evaluate_runs_cleanly(evaluations):
    for run in evaluations:
        run.assert_clean(0)


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_evaluate_names_each_kind(kind, evaluations, corpus_workspace):
    as_json, as_text = evaluations
    path = corpus_entry(kind, corpus_workspace)
    reason = _reason_in(as_json.document["skipped_files"], path)
    if kind.usable:
        assert reason is None, f"usable file skipped: {reason}"
        return
    assert reason is not None and kind.reason in reason, f"--json: {reason!r}"
    assert names_with_reason(as_text.stderr + as_text.stdout, path, kind.reason), as_text.stderr[-2000:]


@pytest.fixture(scope="module")
def predictions(corpus_workspace, demo_store):
    folders = [corpus_workspace / "GO", corpus_workspace / "NG"]
    as_json = fanqc("predict", "demo-model", *folders, "--models", demo_store, "--json")
    as_text = fanqc("predict", "demo-model", *folders, "--models", demo_store)
    return as_json, as_text


def test_predict_runs_cleanly(predictions):
    for run in predictions:
        run.assert_clean(0)


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_predict_names_each_kind(kind, predictions, corpus_workspace):
    as_json, as_text = predictions
    path = corpus_entry(kind, corpus_workspace)
    rows = [r for r in as_json.document if _same(r["path"], path)]
    # a label conflict is no reason not to judge an image; outside a workspace, a link may point anywhere
    if kind.usable or kind.id in ("same_image_in_go_and_ng", "link_outside"):
        assert len(rows) == 1 and rows[0]["verdict"] in ("GO", "NG"), rows
        return
    assert len(rows) == 1 and rows[0]["verdict"] is None, rows
    assert kind.reason in rows[0]["error"].lower()
    assert names_with_reason(as_text.stdout + as_text.stderr, path, kind.reason), as_text.stdout[-2000:]


# ---- inspect --source FOLDER ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inspections(corpus_workspace, demo_store, tmp_path_factory):
    station_ws = tmp_path_factory.mktemp("station")
    for sub in ("GO", "NG"):
        (station_ws / sub).mkdir()
    runs = {}
    for folder in ("GO", "NG"):
        runs[folder] = fanqc("inspect", "--source", corpus_workspace / folder, "--models", demo_store,
                             "--workspace", station_ws, "--roi", "full", "--no-line-io", "--json")
    return runs


def test_inspect_runs_cleanly(inspections):
    for run in inspections.values():
        run.assert_clean(0)


@pytest.mark.parametrize("kind", [k for k in KINDS if k.id != "same_image_in_go_and_ng"],
                         ids=lambda k: k.id)
def test_inspect_names_each_kind(kind, inspections, corpus_workspace):
    from corpus import place

    run = inspections[place(kind, corpus_workspace)]
    path = corpus_entry(kind, corpus_workspace)
    reason = _reason_in(run.document["skipped_files"], path, key="file")
    if kind.usable or kind.id == "link_outside":  # outside a workspace a link may point anywhere
        assert reason is None, f"usable file skipped: {reason}"
        return
    assert reason is not None and kind.reason in reason, f"--json: {reason!r}"
    assert names_with_reason(run.stderr, path.name, kind.reason), run.stderr[-2000:]


def test_inspect_judges_every_usable_file(inspections, corpus_workspace):
    from corpus import place

    for folder, run in inspections.items():
        # outside a workspace a link may point anywhere; the GO copy of the GO-and-NG image is a plain image
        judged = [k for k in KINDS if (k.usable or k.id in ("link_outside", "same_image_in_go_and_ng"))
                  and place(k, corpus_workspace) == folder]
        extra = len(list((corpus_workspace / folder).glob(f"{folder.lower()}_*.png")))
        extra += folder == "GO"  # both-classes-copy.png
        assert run.document["frames"] == extra + len(judged), folder


# ---- train (tiny: reference CNN, 32 px, one epoch) ---------------------------------------------------------------
@pytest.fixture(scope="module")
def training(corpus_workspace, tmp_path_factory):
    if not tensorflow_available():
        pytest.skip("TensorFlow not installed")
    models = tmp_path_factory.mktemp("trained") / "models"
    return fanqc("train", corpus_workspace, "--preset", "reference", "--image-size", "32", "--epochs", "1",
                 "--batch-size", "8", "--models", models, "--json", timeout=300)


@pytest.mark.slow
def test_train_runs_cleanly_and_saves_a_model(training):
    training.assert_clean(0)
    assert training.document["model"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_train_names_each_kind(kind, training, corpus_workspace):
    path = corpus_entry(kind, corpus_workspace)
    reason = _reason_in(training.document["skipped_files"], path)
    if kind.usable:
        assert reason is None, f"usable file skipped: {reason}"
        return
    assert reason is not None and kind.reason in reason, f"--json: {reason!r}"
    assert names_with_reason(training.stderr, path, kind.reason), training.stderr[-2000:]


def test_the_corpus_has_at_least_forty_kinds():
    assert len(KIND_BY_ID) >= 40
