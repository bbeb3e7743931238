"""Whole workspaces that cannot be trained on, and damaged model folders: each ends in one clear message
(exit 2, `fanqc: error: ...`, with --json an {"error": ...} document), never a traceback or a hang; a damaged
model never takes the store's listing down.

`fanqc train` runs as a real process per workspace kind (its failures in the first seconds once printed
nothing); the rest call `fanqc_gui.cli.main` in-process, where an unexpected exception fails the test.
"""
from __future__ import annotations

import json
import shutil

import pytest
from corpus import IS_ROOT, MODEL_KINDS, WORKSPACE_KINDS, make_corpus_workspace
from corpus_runs import fanqc

from fanqc_gui.cli import main


def _param(kind):
    marks = [pytest.mark.skipif(IS_ROOT, reason="root reads folders whatever their mode")] \
        if getattr(kind, "needs_non_root", False) else []
    return pytest.param(kind, id=kind.id, marks=marks)


@pytest.fixture(scope="module")
def good_workspace(tmp_path_factory):
    return make_corpus_workspace(tmp_path_factory.mktemp("good") / "ws", good_per_class=5, kinds=[])


@pytest.fixture
def bad_workspace(request, good_workspace, tmp_path):
    kind = request.param
    root = tmp_path / "ws"
    shutil.copytree(good_workspace, root)
    kind.make(root)
    yield kind, root
    if root.is_dir() and not root.is_symlink():
        for p in [root, *root.iterdir()]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)


def _cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str, words) -> str:
    lines = [line for line in err.splitlines() if line.startswith("fanqc: error: ")]
    assert len(lines) == 1, err
    low = lines[0].lower()
    for word in words:
        assert word in low, lines[0]
    return lines[0]


@pytest.mark.parametrize("bad_workspace", [_param(k) for k in WORKSPACE_KINDS], indirect=True)
def test_scan_of_a_bad_workspace_reports_or_says_why(bad_workspace, capsys):
    kind, root = bad_workspace
    for extra in ((), ("--json",)):
        code, out, err = _cli(capsys, "scan", root, *extra)
        if kind.scan_ok and code == 0:
            if extra:
                json.loads(out)
            continue
        assert code == 2, err
        _one_line_error(err, kind.words)
        if extra:
            assert json.loads(out)["error"]


@pytest.mark.parametrize("bad_workspace", [_param(k) for k in WORKSPACE_KINDS], indirect=True)
def test_train_on_a_bad_workspace_says_why_in_one_line(bad_workspace, tmp_path):
    kind, root = bad_workspace
    run = fanqc("train", root, "--preset", "reference", "--image-size", "32", "--epochs", "1", "--json",
                "--models", tmp_path / "models", timeout=240)
    run.assert_clean(2)
    _one_line_error(run.stderr, kind.words)
    assert json.loads(run.stdout)["error"]
    assert not (tmp_path / "models").is_dir() or not [p for p in (tmp_path / "models").iterdir()
                                                      if not p.name.startswith(".")]


# ---- damaged models --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def damaged_store(demo_store, tmp_path_factory):
    """The demo model and one damaged copy of it per model kind, each under the kind's id."""
    root = tmp_path_factory.mktemp("damaged") / "models"
    shutil.copytree(demo_store, root)
    for kind in MODEL_KINDS:
        folder = root / kind.id
        shutil.copytree(root / "demo-model", folder)
        meta = json.loads((folder / "metadata.json").read_text())
        meta["id"] = kind.id
        (folder / "metadata.json").write_text(json.dumps(meta))
        kind.damage(folder)
    return root


def test_models_list_shows_the_good_model_and_names_each_damaged_one(damaged_store, capsys):
    code, out, err = _cli(capsys, "models", "list", "--models", damaged_store, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert "demo-model" in [m["id"] for m in doc["models"]]
    damaged = {d["folder"]: d["reason"] for d in doc.get("damaged", [])}
    for kind in MODEL_KINDS:
        if kind.listed_damaged:
            assert kind.id in damaged, kind.id
            assert all(w in damaged[kind.id].lower() for w in kind.words), damaged[kind.id]
    code, out, err = _cli(capsys, "models", "list", "--models", damaged_store)
    assert code == 0 and "demo-model" in out
    for kind in MODEL_KINDS:
        if kind.listed_damaged:
            assert f"! {kind.id}" in out


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    from corpus import write_good_images

    root = tmp_path_factory.mktemp("frames")
    for sub in ("GO", "NG", "inbox"):
        (root / sub).mkdir()
    write_good_images(root, 4)
    return root


@pytest.mark.parametrize("kind", MODEL_KINDS, ids=[k.id for k in MODEL_KINDS])
@pytest.mark.parametrize("command", ["predict", "evaluate", "inspect", "activate"])
def test_a_damaged_model_is_one_clear_error_in_every_command(kind, command, damaged_store, frames, capsys):
    store = ["--models", damaged_store]
    args = {
        "predict": ["predict", kind.id, frames / "GO", *store, "--json"],
        "evaluate": ["evaluate", kind.id, frames, *store, "--json"],
        "inspect": ["inspect", "--source", frames / "NG", "--model", kind.id, "--workspace", frames, "--frames", "2",
                    "--roi", "full", "--no-line-io", "--no-captures", *store, "--json"],
        "activate": ["models", "activate", kind.id, *store, "--json"],
    }[command]
    code, out, err = _cli(capsys, *args)
    if command == "activate" and not kind.listed_damaged:
        # the metadata is sound: activating is allowed (the station then says the file is damaged)
        assert code in (0, 2), err
        return
    assert code == 2, f"exit {code}: {err[-2000:]}"
    line = _one_line_error(err, ())
    assert kind.id in line or "model" in line.lower() or "tflite" in line.lower(), line
    assert json.loads(out)["error"]
