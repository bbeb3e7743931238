"""The `fanqc` command: --json prints exactly one JSON document; errors are one line, never a traceback.

A few checks run `python -m fanqc_gui` as a real process (stdout purity needs one); the rest call
`fanqc_gui.cli.main` in-process, which is much faster.
"""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fanqc_gui.cli import main
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.tf_runtime import tensorflow_available

needs_tf = pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")
MAPPING_LINE = "output = probability of NG (defect); NG = folder '60', GO = folder '100'"


def run_fanqc(*args: str, stdin=subprocess.DEVNULL, python_code: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", python_code, *args] if python_code else [sys.executable, "-m", "fanqc_gui", *args]
    return subprocess.run(command, capture_output=True, text=True, stdin=stdin, timeout=300)


def assert_one_line_error(stderr: str, *words: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fanqc: error: "), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_workspace_template):
    """A workspace with GO = folder 100 and NG = folder 60, trained by a real `fanqc train --json` process."""
    if not tensorflow_available():
        pytest.skip("TensorFlow not installed")
    base = tmp_path_factory.mktemp("cli")
    ws = base / "ws"
    shutil.copytree(demo_workspace_template, ws)
    (ws / "GO").rename(ws / "100")
    (ws / "NG").rename(ws / "60")
    proc = run_fanqc("train", str(ws), "--go-folder", "100", "--ng-folder", "60", "--preset", "reference",
                     "--epochs", "2", "--image-size", "32", "--json", "--models", str(base / "models"))
    assert proc.returncode == 0, proc.stderr
    return ws, base / "models", proc


@pytest.fixture
def store_copy(trained, tmp_path) -> tuple[Path, str]:
    """(store folder, model id): a private copy of the trained model for tests that change the store."""
    _, models, proc = trained
    folder = Path(json.loads(proc.stdout)["model"])
    shutil.copytree(folder, tmp_path / "models" / folder.name)
    return tmp_path / "models", folder.name


def fanqc_json(capsys, *args: str):
    """Run in-process with --json; stdout must parse as one JSON document."""
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def fanqc_fails(capsys, *args: str, words=()) -> None:
    capsys.readouterr()
    assert main(list(args)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_line_error(captured.err, *words)


# ---- real processes -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_train_json_is_the_only_thing_on_stdout(trained):
    _, models, proc = trained
    result = json.loads(proc.stdout)
    assert {"model", "epochs_run", "seconds", "val_accuracy"} <= set(result)
    assert Path(result["model"]).parent == models and (Path(result["model"]) / "model.tflite").is_file()
    assert result["epochs_run"] == 2 and result["seconds"] > 0 and 0 <= result["val_accuracy"] <= 1
    assert result["class_mapping"]["folders"] == {"GO": "100", "NG": "60"} and result["active"] is False
    assert MAPPING_LINE in proc.stderr and "epoch 2:" in proc.stderr  # progress goes to stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_predict_folder_json_in_a_real_process(trained):
    ws, models, proc = trained
    model = json.loads(proc.stdout)["model"]
    out = run_fanqc("predict", model, str(ws / "inbox"), "--json", "--models", str(models))
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["path"] for r in rows] == [str(p) for p in sorted((ws / "inbox").iterdir())]
    assert all(set(r) == {"path", "p_ng", "verdict"} and r["verdict"] in ("GO", "NG") for r in rows)


@pytest.mark.slow
def test_predicting_with_litert_does_not_load_tensorflow(trained):
    ws, models, proc = trained
    code = ("import sys; from fanqc_gui.cli import main; rc = main(sys.argv[1:]); "
            "print('TENSORFLOW LOADED' if 'tensorflow' in sys.modules else 'lean', file=sys.stderr); sys.exit(rc)")
    out = run_fanqc("predict", json.loads(proc.stdout)["model"], str(ws / "inbox"), "--json", "--quiet",
                    "--models", str(models), python_code=code)
    assert out.returncode == 0 and out.stderr.strip().splitlines()[-1] == "lean", out.stderr
    assert len(json.loads(out.stdout)) == 8


@pytest.mark.parametrize("args, words", [
    (["train", "/no/such/folder", "--json"], ["workspace folder not found"]),
    (["train", ".", "--epochs", "abc"], ["invalid int value: 'abc'"]),
    (["predict", "nope", "x.jpg"], ["no model 'nope'"]),
])
def test_errors_in_a_real_process_are_one_line_without_traceback(args, words):
    out = run_fanqc(*args)
    assert out.returncode == 2
    assert_one_line_error(out.stderr, *words)
    if "--json" in args:
        assert json.loads(out.stdout) == {"error": out.stderr.strip().removeprefix("fanqc: error: ")}
    else:
        assert out.stdout == ""


@pytest.mark.slow
def test_delete_without_a_terminal_needs_yes(store_copy):
    models, model_id = store_copy
    out = run_fanqc("models", "delete", model_id, "--models", str(models))
    assert out.returncode == 2
    assert_one_line_error(out.stderr, "needs confirmation: add --yes")
    assert (models / model_id).is_dir()


# ---- in-process ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_evaluate_json_has_the_metrics_and_the_class_mapping(trained, capsys):
    ws, models, proc = trained
    model = json.loads(proc.stdout)["model"]
    out = fanqc_json(capsys, "evaluate", model, str(ws), "--models", str(models), "--quiet")
    assert {"accuracy", "ng_recall", "go_recall", "precision", "roc_auc", "threshold", "confusion_matrix",
            "images", "class_mapping"} <= set(out)
    assert out["images"] == 48 and sum(map(sum, out["confusion_matrix"])) == 48
    assert [sum(row) for row in out["confusion_matrix"]] == [24, 24]  # rows: true GO, true NG
    assert out["class_mapping"]["folders"] == {"GO": "100", "NG": "60"}
    assert out["threshold"] == ModelStore(models).get(model).threshold


@pytest.mark.slow
def test_evaluate_prints_the_mapping_and_a_summary_to_stderr(trained, capsys):
    ws, models, proc = trained
    assert main(["evaluate", json.loads(proc.stdout)["model"], str(ws), "--models", str(models)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert MAPPING_LINE in captured.err and "accuracy" in captured.err and "confusion" in captured.err


@pytest.mark.slow
def test_evaluate_can_suggest_and_save_a_threshold(store_copy, trained, capsys):
    ws, _, _ = trained
    models, model_id = store_copy
    out = fanqc_json(capsys, "evaluate", model_id, str(ws), "--models", str(models), "--quiet",
                     "--target-ng-recall", "1.0", "--save-threshold", "--per-image")
    assert out["threshold_saved"] == out["suggested_threshold"]
    saved = ModelStore(models).get(model_id)
    assert saved.threshold == out["suggested_threshold"]
    # the trade-off measured here is stored with it: the model list's verdict follows this evaluation
    assert saved.readiness() == (out["ready"], out["verdict"]) and out["verdict"].endswith("for the station")
    choice = out["threshold_choice"]
    ng_scores = [row["p_ng"] for row in out["per_image"] if row["label"] == "NG"]
    go_scores = [row["p_ng"] for row in out["per_image"] if row["label"] == "GO"]
    t = out["suggested_threshold"]
    assert choice["ng_recall"] == sum(s >= t for s in ng_scores) / len(ng_scores)
    assert choice["false_reject_rate"] == sum(s >= t for s in go_scores) / len(go_scores) <= 0.05
    assert choice["catch_all_threshold"] <= min(ng_scores)  # what catching every NG would take
    assert len(out["per_image"]) == 48


@pytest.mark.slow
def test_predict_human_output_shows_the_mapping_and_one_line_per_image(trained, capsys):
    ws, models, proc = trained
    model = json.loads(proc.stdout)["model"]
    images = sorted((ws / "inbox").iterdir())[:3]
    assert main(["predict", model, *map(str, images), "--models", str(models), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("# model ") and MAPPING_LINE in lines[0]
    assert len(lines) == 4
    for line, image in zip(lines[1:], images):
        assert line.split()[0] in ("GO", "NG") and "P(NG)=" in line and line.endswith(str(image))


@pytest.mark.slow
def test_predict_threshold_option_decides_the_verdicts(trained, capsys):
    ws, models, proc = trained
    model = json.loads(proc.stdout)["model"]
    rows = fanqc_json(capsys, "predict", model, str(ws / "60"), "--models", str(models), "--threshold", "0")
    assert len(rows) == 24 and {r["verdict"] for r in rows} == {"NG"}


@pytest.mark.slow
def test_predict_reports_unreadable_files_in_place(trained, capsys, tmp_path):
    ws, models, proc = trained
    good = sorted((ws / "inbox").iterdir())[0]
    (tmp_path / "broken.jpg").write_text("not a picture")
    rows = fanqc_json(capsys, "predict", json.loads(proc.stdout)["model"], str(tmp_path / "broken.jpg"), str(good),
                      "--models", str(models))
    assert rows[0]["p_ng"] is None and "not an image" in rows[0]["error"]
    assert rows[1]["verdict"] in ("GO", "NG")


@pytest.mark.slow
def test_models_list_activate_rename_show_and_delete(store_copy, capsys):
    models, model_id = store_copy
    shutil.copytree(models / model_id, models / "spare")
    listing = fanqc_json(capsys, "models", "--models", str(models))
    assert listing["active"] is None and {m["id"] for m in listing["models"]} == {model_id, "spare"}
    # 5 GO + 5 NG validation images are too few to call the model ready: activating it takes --force.
    assert fanqc_json(capsys, "models", "activate", model_id, "--force", "--models", str(models)) == {
        "active": model_id}
    assert fanqc_json(capsys, "models", "rename", "spare", "Night shift", "--models", str(models))["name"] == \
        "Night shift"
    shown = fanqc_json(capsys, "models", "show", "spare", "--models", str(models))
    assert shown["name"] == "Night shift" and shown["class_mapping"]["folders"]["NG"] == "60"
    fanqc_fails(capsys, "models", "delete", model_id, "--yes", "--models", str(models), words=["active model"])
    assert fanqc_json(capsys, "models", "delete", "spare", "--yes", "--models", str(models)) == {"deleted": "spare"}
    listing = fanqc_json(capsys, "models", "list", "--models", str(models))
    assert [(m["id"], m["active"]) for m in listing["models"]] == [(model_id, True)]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.slow
@pytest.mark.parametrize("typed, deleted", [("spare\n", True), ("yes\n", False)])
def test_delete_on_a_terminal_asks_for_the_model_id(store_copy, capsys, monkeypatch, typed, deleted):
    models, model_id = store_copy
    shutil.copytree(models / model_id, models / "spare")
    monkeypatch.setattr(sys, "stdin", _Terminal(typed))
    assert main(["models", "delete", "spare", "--models", str(models)]) == (0 if deleted else 2)
    assert (models / "spare").exists() is not deleted


def test_models_list_on_an_empty_store(capsys, tmp_path):
    assert fanqc_json(capsys, "models", "--models", str(tmp_path / "none")) == {
        "store": str(tmp_path / "none"), "active": None, "models": []}
    assert main(["models", "--models", str(tmp_path / "none")]) == 0
    assert "(empty)" in capsys.readouterr().out


@pytest.mark.slow
def test_export_rewrites_the_tflite_file(store_copy, capsys):
    models, model_id = store_copy
    (models / model_id / "model.tflite").unlink()
    out = fanqc_json(capsys, "export", model_id, "--models", str(models), "--quiet")
    assert Path(out["tflite"]) == models / model_id / "model.tflite"
    assert out["bytes"] == Path(out["tflite"]).stat().st_size > 1000


def test_demo_data_and_scan(capsys, tmp_path):
    out = fanqc_json(capsys, "demo-data", str(tmp_path / "demo"), "--per-class", "5", "--inbox", "2", "--quiet")
    assert out["counts"] == {"GO": 5, "NG": 5, "inbox": 2} and Path(out["root"]).is_dir()
    (tmp_path / "demo" / "NG" / "broken.jpg").write_bytes(b"")
    scan = fanqc_json(capsys, "scan", str(tmp_path / "demo"), "--quiet")
    assert scan["counts"] == {"GO": 5, "NG": 5, "inbox": 2}
    assert scan["problems"] == [{"path": str((tmp_path / "demo" / "NG" / "broken.jpg").resolve()),
                                 "reason": "empty file (0 bytes)"}]


# ---- errors -------------------------------------------------------------------------------------------------

@pytest.fixture
def one_class_workspace(demo_workspace):
    for p in (demo_workspace / "NG").iterdir():
        p.unlink()
    return demo_workspace


def test_train_on_a_workspace_with_an_empty_class(one_class_workspace, capsys):
    fanqc_fails(capsys, "train", str(one_class_workspace), "--preset", "reference", "--epochs", "1", "--quiet",
                words=["class NG has 0 usable image"])
    # Without --quiet the progress lines come first; the error is still one line, the last.
    assert main(["train", str(one_class_workspace), "--preset", "reference", "--epochs", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "output = probability of NG (defect); NG = folder 'NG', GO = folder 'GO'"
    assert [line for line in lines if line.startswith("fanqc: error:")] == [lines[-1]]
    assert "class NG has 0 usable image" in lines[-1]


@pytest.mark.parametrize("option, value, words", [
    ("--epochs", "abc", ["argument --epochs: invalid int value: 'abc'"]),
    ("--val-split", "2", ["validation split must be between 0 and 0.9"]),
    ("--learning-rate", "-1", ["learning rate"]),
    ("--image-size", "4", ["image size"]),
])
def test_train_bad_options(demo_workspace, capsys, option, value, words):
    fanqc_fails(capsys, "train", str(demo_workspace), "--preset", "reference", option, value, words=words)


def test_reference_options_with_the_default_preset_are_refused_not_ignored(demo_workspace, capsys, tmp_path):
    fanqc_fails(capsys, "train", str(demo_workspace), "--epochs", "3", "--batch-size", "8", "--models",
                str(tmp_path / "models"), words=["--epochs, --batch-size apply to the reference preset only",
                                                 "add --preset reference"])
    assert not (tmp_path / "models").exists()


def test_usage_errors(capsys, tmp_path):
    fanqc_fails(capsys, words=["required: COMMAND"])
    fanqc_fails(capsys, "fly", words=["invalid choice: 'fly'"])
    fanqc_fails(capsys, "models", "delete", words=["needs a MODEL id"])
    fanqc_fails(capsys, "train", str(tmp_path / "missing"), words=["workspace folder not found"])
    fanqc_fails(capsys, "evaluate", "any", str(tmp_path), "--save-threshold",
                words=["--save-threshold needs --target-ng-recall"])


@pytest.mark.slow
def test_unreadable_models_are_one_line_errors(store_copy, trained, capsys, tmp_path):
    ws, _, _ = trained
    models, model_id = store_copy
    fanqc_fails(capsys, "evaluate", "nope", str(ws), "--models", str(models), words=["no model 'nope'"])
    garbage = models / model_id
    (garbage / "model.keras").write_bytes(b"garbage")
    fanqc_fails(capsys, "predict", model_id, str(ws / "inbox"), "--backend", "keras", "--models", str(models),
                words=["cannot load", "model.keras"])
    (garbage / "model.tflite").unlink()
    fanqc_fails(capsys, "evaluate", model_id, str(ws), "--models", str(models), words=["cannot load"])
    (garbage / "metadata.json").unlink()
    fanqc_fails(capsys, "predict", model_id, str(ws / "inbox"), "--models", str(models), words=["no model"])
    fanqc_fails(capsys, "predict", str(garbage), str(ws / "inbox"), "--models", str(models), words=["no model"])


@pytest.mark.slow
def test_predict_and_evaluate_on_missing_data_are_one_line_errors(trained, capsys, tmp_path):
    ws, models, proc = trained
    model = json.loads(proc.stdout)["model"]
    fanqc_fails(capsys, "predict", model, str(tmp_path / "missing.jpg"), "--models", str(models),
                words=["not found", "missing.jpg"])
    fanqc_fails(capsys, "predict", model, str(tmp_path / "missing_folder"), "--models", str(models),
                words=["not found"])
    (tmp_path / "empty").mkdir()
    fanqc_fails(capsys, "predict", model, str(tmp_path / "empty"), "--models", str(models), words=["no images"])
    fanqc_fails(capsys, "evaluate", model, str(tmp_path / "empty"), "--models", str(models),
                words=["no class folders"])


def test_json_errors_still_leave_one_json_document_on_stdout(capsys, tmp_path):
    capsys.readouterr()
    assert main(["train", str(tmp_path / "missing"), "--json"]) == 2
    captured = capsys.readouterr()
    assert "workspace folder not found" in json.loads(captured.out)["error"]
    assert_one_line_error(captured.err, "workspace folder not found")
    assert main(["train", "--json"]) == 2  # an argument error, before any argument was parsed
    captured = capsys.readouterr()
    assert "DATA_DIR" in json.loads(captured.out)["error"]


# ---- ready / not ready ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_train_reports_the_threshold_verdict_in_json_and_text(trained):
    _, _, proc = trained
    result = json.loads(proc.stdout)
    assert result["ready"] is False and result["threshold_choice"]["ready"] is False
    assert result["verdict"].startswith("catches ") and "but on only 5 NG and 5 GO validation images: too few" \
        in result["verdict"]
    assert result["verdict"].endswith("not ready for the station")
    assert result["threshold_choice"]["threshold"] == result["threshold"]
    assert result["threshold_choice"]["scores"] == "validation" and result["threshold_choice"]["n_ng"] == 5
    assert f"NOT READY: {result['verdict']}" in proc.stderr


@pytest.mark.slow
def test_a_model_that_is_not_ready_is_activated_only_with_force(store_copy, capsys):
    models, model_id = store_copy
    fanqc_fails(capsys, "models", "activate", model_id, "--models", str(models),
                words=[f"{model_id} is not ready for the station: catches ", "only 5 NG and 5 GO", "add --force"])
    assert ModelStore(models).active() is None
    capsys.readouterr()
    assert main(["models", "activate", model_id, "--force", "--models", str(models), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert ModelStore(models).active_id() == model_id
    assert err.startswith(f"fanqc: warning: {model_id} is active although it is not ready for the station")


@pytest.mark.slow
def test_models_list_says_ready_not_ready_or_unknown(store_copy, capsys):
    models, model_id = store_copy
    store = ModelStore(models)
    shutil.copytree(models / model_id, models / "ready-one")
    shutil.copytree(models / model_id, models / "old-one")
    choice = {**store.get("ready-one").metadata["threshold_choice"], "ready": True, "meets_target": True,
              "reason": "catches 100 % of defects and rejects 1 % of good parts: ready for the station"}
    store.update_metadata("ready-one", threshold_choice=choice)
    old = {k: v for k, v in store.get("old-one").metadata.items() if k != "threshold_choice"}
    (models / "old-one" / "metadata.json").write_text(json.dumps(old))  # saved before the record existed
    rows = {m["id"]: m for m in fanqc_json(capsys, "models", "--models", str(models))["models"]}
    assert (rows[model_id]["ready"], rows["ready-one"]["ready"], rows["old-one"]["ready"]) == (False, True, None)
    assert rows[model_id]["verdict"].endswith(": not ready for the station")
    assert rows["old-one"]["verdict"].startswith("readiness unknown")
    assert rows[model_id]["threshold_scores"] == {"scores": "validation", "images": 10, "NG": 5}
    assert main(["models", "--models", str(models)]) == 0
    lines = capsys.readouterr().out.splitlines()
    line_of = {next(w for w in line.split() if w in rows): line for line in lines if any(w in rows for w in
                                                                                        line.split())}
    assert "NOT READY" in line_of[model_id] and " ready " in line_of["ready-one"]
    assert " unknown " in line_of["old-one"]
    assert lines[lines.index(line_of[model_id]) + 1].strip() == rows[model_id]["verdict"]
    # A model without the record (imported, or older) is not blocked.
    assert fanqc_json(capsys, "models", "activate", "old-one", "--models", str(models)) == {"active": "old-one"}
    # A threshold a supervisor saved later is their decision: no longer "not ready".
    store.update_metadata(model_id, threshold=0.3)
    assert ModelStore(models).get(model_id).readiness()[0] is None
    assert "set by a supervisor" in ModelStore(models).get(model_id).readiness()[1]


@pytest.mark.slow
def test_train_activate_leaves_a_model_that_is_not_ready_inactive(demo_workspace, tmp_path, capsys):
    capsys.readouterr()
    assert main(["train", str(demo_workspace), "--preset", "reference", "--epochs", "1", "--image-size", "32",
                 "--activate", "--json",
                 "--quiet", "--models", str(tmp_path / "models")]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["active"] is False and out["model_id"] and out["activation_refused"] == out["verdict"]
    assert ModelStore(tmp_path / "models").active() is None
    assert f"fanqc models activate {out['model_id']} --force" in captured.err
