#!/usr/bin/env python3
"""Rearrange FanQC by feature (issue 14, part 1): folders per feature inside each layer, `app/` and `cli/`
packages, developer tools out of the package, the five import cycles broken, every import rewritten.

    python apply_refactor.py [--repo DIR] [--check] [--allow-dirty] [--no-verify]

--check        plan only: print the old -> new table and check that every module has a place and every
               exact text edit still matches; changes nothing.
--allow-dirty  run although `git status` shows changes (the default refuses, so that `git reset --hard`
               undoes a failed run).
--no-verify    skip the final import of every module, ruff and lint-imports.

It refuses a tree where fanqc_gui/app/ already exists (it is not meant to run twice on one tree), and it
FAILS, before changing anything, when a module of fanqc_gui/ or tests/ has no place in the new tree, when a
text it must edit is not found, or when a definition it must carry is missing.

Order of work: text edits on today's files -> relative imports made absolute (today's names) -> git mv ->
definitions carried between modules (splits, the CLI's parser split into command groups) -> every import
and every dotted/path reference rewritten from old to new names -> imports that the splits made necessary
added -> new package files -> pyproject/Makefile/spec/README/.ci -> ruff --fix (F401, I001) -> verification.
Run with the project's venv python (it calls ruff and lint-imports next to it).
"""
from __future__ import annotations

import argparse
import ast
import builtins
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

PKG = "fanqc_gui"

# ---------------------------------------------------------------------------------------------------------
# 1. Where every module goes.  old path -> new path.  Files not listed here are placed by RULES below, or the
#    script fails and names them.
# ---------------------------------------------------------------------------------------------------------
EXACT: dict[str, str] = {
    # app/ and cli/
    "fanqc_gui/app.py": "fanqc_gui/app/entry.py",
    "fanqc_gui/ui/self_test.py": "fanqc_gui/app/self_test.py",
    "fanqc_gui/cli.py": "fanqc_gui/cli/entry.py",
    "fanqc_gui/cli_commands.py": "fanqc_gui/cli/models.py",   # what is not carried to other groups stays here
    "fanqc_gui/cli_inspect.py": "fanqc_gui/cli/station.py",
    "fanqc_gui/cli_anomaly.py": "fanqc_gui/cli/training_anomaly.py",
    # anomaly mode: the model (scorer, maps, threshold) with the models, its trainer with training
    "fanqc_gui/core/anomaly/training.py": "fanqc_gui/core/training/anomaly_training.py",
    "fanqc_gui/core/anomaly/advice.py": "fanqc_gui/core/training/anomaly_advice.py",
    "tests/core/anomaly/test_anomaly_training.py": "tests/core/training/test_anomaly_training.py",
    # core: shared base stays at core/
    # core/dataset
    "fanqc_gui/core/workspace.py": "fanqc_gui/core/dataset/workspace.py",
    "fanqc_gui/core/dataset.py": "fanqc_gui/core/dataset/scan.py",
    "fanqc_gui/core/file_moves.py": "fanqc_gui/core/dataset/file_moves.py",
    "fanqc_gui/core/folder_listing.py": "fanqc_gui/core/dataset/folder_listing.py",
    "fanqc_gui/core/decode_cache.py": "fanqc_gui/core/dataset/decode_cache.py",
    "fanqc_gui/core/demo_data.py": "fanqc_gui/core/dataset/demo_data.py",
    # core/models
    "fanqc_gui/core/architecture.py": "fanqc_gui/core/models/architecture.py",
    "fanqc_gui/core/model_store.py": "fanqc_gui/core/models/model_store.py",
    "fanqc_gui/core/model_metadata.py": "fanqc_gui/core/models/model_metadata.py",
    "fanqc_gui/core/inference.py": "fanqc_gui/core/models/inference.py",
    "fanqc_gui/core/station_model.py": "fanqc_gui/core/models/fast_model.py",
    "fanqc_gui/core/export.py": "fanqc_gui/core/models/export.py",
    "fanqc_gui/core/evaluation.py": "fanqc_gui/core/models/evaluation.py",
    "fanqc_gui/core/threshold_choice.py": "fanqc_gui/core/models/threshold_choice.py",
    "fanqc_gui/core/demo_model.py": "fanqc_gui/core/models/demo_model.py",
    # core/training
    "fanqc_gui/core/training.py": "fanqc_gui/core/training/trainer.py",
    "fanqc_gui/core/training_loop.py": "fanqc_gui/core/training/training_loop.py",
    "fanqc_gui/core/engine_process.py": "fanqc_gui/core/training/engine_process.py",
    "fanqc_gui/core/model_comparison.py": "fanqc_gui/core/training/model_comparison.py",
    # core/insight
    "fanqc_gui/core/insight.py": "fanqc_gui/core/insight/explanations.py",
    "fanqc_gui/core/workspace_predictions.py": "fanqc_gui/core/insight/workspace_predictions.py",
    # core/station
    "fanqc_gui/core/station.py": "fanqc_gui/core/station/pipeline.py",
    "fanqc_gui/core/camera_sources.py": "fanqc_gui/core/station/camera_sources.py",
    "fanqc_gui/core/frame_grabber.py": "fanqc_gui/core/station/frame_grabber.py",
    "fanqc_gui/core/captures.py": "fanqc_gui/core/station/captures.py",
    "fanqc_gui/core/inspection_log.py": "fanqc_gui/core/station/inspection_log.py",
    "fanqc_gui/core/latency_stats.py": "fanqc_gui/core/station/latency_stats.py",
    "fanqc_gui/core/model_watch.py": "fanqc_gui/core/station/model_watch.py",
    "fanqc_gui/core/station_runner.py": "fanqc_gui/core/station/station_runner.py",
    "fanqc_gui/core/station_settings.py": "fanqc_gui/core/station/station_settings.py",
    "fanqc_gui/core/secret_redaction.py": "fanqc_gui/core/station/secret_redaction.py",
    # line I/O (another open issue, in progress): the PLC/MQTT parts go to station/line_io/; the loop that
    # drives the pipeline from the line sits beside the pipeline, or line_io/ and station/ import each other
    "fanqc_gui/core/line_io/line_station.py": "fanqc_gui/core/station/line_station.py",
    # ui/shell
    "fanqc_gui/ui/main_window.py": "fanqc_gui/ui/shell/main_window.py",
    "fanqc_gui/ui/about_dialog.py": "fanqc_gui/ui/shell/about_dialog.py",
    "fanqc_gui/ui/help_dialogs.py": "fanqc_gui/ui/shell/help_dialogs.py",
    "fanqc_gui/ui/settings_actions.py": "fanqc_gui/ui/shell/settings_actions.py",
    "fanqc_gui/ui/settings_dialog.py": "fanqc_gui/ui/shell/settings_dialog.py",
    "fanqc_gui/ui/workspace_actions.py": "fanqc_gui/ui/shell/workspace_actions.py",
    "fanqc_gui/ui/gui_thread_gc.py": "fanqc_gui/ui/shell/gui_thread_gc.py",
    # ui/dataset
    "fanqc_gui/ui/dataset_page.py": "fanqc_gui/ui/dataset/dataset_page.py",
    "fanqc_gui/ui/thumbnail_pane.py": "fanqc_gui/ui/dataset/thumbnail_pane.py",
    "fanqc_gui/ui/thumbnail_model.py": "fanqc_gui/ui/dataset/thumbnail_list_model.py",
    "fanqc_gui/ui/thumbnail_delegate.py": "fanqc_gui/ui/dataset/thumbnail_delegate.py",
    "fanqc_gui/ui/image_preview.py": "fanqc_gui/ui/dataset/image_preview.py",
    "fanqc_gui/ui/workspace_watcher.py": "fanqc_gui/ui/dataset/workspace_watcher.py",
    "fanqc_gui/ui/move_messages.py": "fanqc_gui/ui/dataset/move_messages.py",
    # ui/training
    "fanqc_gui/ui/training_page.py": "fanqc_gui/ui/training/training_page.py",
    "fanqc_gui/ui/training_page_layout.py": "fanqc_gui/ui/training/training_page_layout.py",
    "fanqc_gui/ui/training_plots.py": "fanqc_gui/ui/training/training_plots.py",
    "fanqc_gui/ui/training_progress.py": "fanqc_gui/ui/training/training_progress.py",
    "fanqc_gui/ui/training_dialogs.py": "fanqc_gui/ui/training/training_dialogs.py",
    "fanqc_gui/ui/training_options_form.py": "fanqc_gui/ui/training/training_options_form.py",
    "fanqc_gui/ui/architecture_table.py": "fanqc_gui/ui/training/architecture_table.py",
    "fanqc_gui/ui/dataset_summary.py": "fanqc_gui/ui/training/dataset_summary.py",
    "fanqc_gui/ui/model_comparison_view.py": "fanqc_gui/ui/training/model_comparison_view.py",
    # ui/models
    "fanqc_gui/ui/model_list.py": "fanqc_gui/ui/models/model_list.py",
    "fanqc_gui/ui/model_chooser.py": "fanqc_gui/ui/models/model_chooser.py",
    # ui/insight
    "fanqc_gui/ui/insight_page.py": "fanqc_gui/ui/insight/insight_page.py",
    "fanqc_gui/ui/filter_grid.py": "fanqc_gui/ui/insight/filter_grid.py",
    "fanqc_gui/ui/feature_map_view.py": "fanqc_gui/ui/insight/feature_map_view.py",
    "fanqc_gui/ui/gradcam_view.py": "fanqc_gui/ui/insight/gradcam_view.py",
    "fanqc_gui/ui/array_image.py": "fanqc_gui/ui/insight/array_image.py",
    "fanqc_gui/ui/prediction_table.py": "fanqc_gui/ui/insight/prediction_table.py",
    "fanqc_gui/ui/prediction_model.py": "fanqc_gui/ui/insight/prediction_table_model.py",
    "fanqc_gui/ui/prediction_run.py": "fanqc_gui/ui/insight/prediction_run.py",
    "fanqc_gui/ui/threshold_panel.py": "fanqc_gui/ui/insight/threshold_panel.py",
    "fanqc_gui/ui/confusion_matrix.py": "fanqc_gui/ui/insight/confusion_matrix.py",
    "fanqc_gui/ui/label_fixer.py": "fanqc_gui/ui/insight/label_fixer.py",
    # ui/station (the Camera page)
    "fanqc_gui/ui/camera_page.py": "fanqc_gui/ui/station/camera_page.py",
    "fanqc_gui/ui/roi_view.py": "fanqc_gui/ui/station/roi_view.py",
    "fanqc_gui/ui/verdict_banner.py": "fanqc_gui/ui/station/verdict_banner.py",
    "fanqc_gui/ui/station_counters.py": "fanqc_gui/ui/station/station_counters.py",
    "fanqc_gui/ui/source_bar.py": "fanqc_gui/ui/station/source_bar.py",
    "fanqc_gui/ui/capture_rules_dialog.py": "fanqc_gui/ui/station/capture_rules_dialog.py",
    "fanqc_gui/ui/inspection_log_view.py": "fanqc_gui/ui/station/inspection_log_view.py",
    # out of the package: tools/ (not shipped)
    "fanqc_gui/ui/screenshots.py": "tools/screenshots/render_all.py",
    "fanqc_gui/ui/insight_screenshots.py": "tools/screenshots/insight.py",
    "fanqc_gui/ui/training_screenshots.py": "tools/screenshots/training.py",
    "fanqc_gui/ui/camera_screenshot.py": "tools/screenshots/camera.py",
    "fanqc_gui/ui/screenshot_tools.py": "tools/screenshots/grab.py",
    # ---- tests follow the same tree ----
    "tests/ui/conftest.py": "tests/window_fixtures.py",  # shared by tests/ui and tests/app (new conftests import it)
    "tests/test_cli.py": "tests/cli/test_cli.py",
    "tests/test_cli_errors.py": "tests/cli/test_cli_errors.py",
    "tests/test_cli_inspect.py": "tests/cli/test_cli_inspect.py",
    "tests/test_first_start.py": "tests/app/test_first_start.py",
    "tests/ui/test_self_test.py": "tests/app/test_self_test.py",
    "tests/ui/test_app_lifetime.py": "tests/app/test_app_lifetime.py",
    "tests/core/test_dataset.py": "tests/core/dataset/test_scan.py",
    "tests/core/test_bad_inputs.py": "tests/core/dataset/test_bad_inputs.py",
    "tests/core/test_hostile_files.py": "tests/core/dataset/test_hostile_files.py",
    "tests/core/test_station.py": "tests/core/station/test_pipeline.py",
    "tests/core/test_station_parts.py": "tests/core/station/test_station_parts.py",
    "tests/core/test_station_sources.py": "tests/core/station/test_station_sources.py",
    "tests/core/test_station_model.py": "tests/core/models/test_fast_model.py",
    "tests/core/test_import_model.py": "tests/core/models/test_import_model.py",
    "tests/core/test_model_store_concurrency.py": "tests/core/models/test_model_store_concurrency.py",
    "tests/core/test_training.py": "tests/core/training/test_trainer.py",
    "tests/core/test_insight.py": "tests/core/insight/test_explanations.py",
    "tests/ui/test_main_window.py": "tests/ui/shell/test_main_window.py",
    "tests/ui/test_help_menu.py": "tests/ui/shell/test_help_menu.py",
    "tests/ui/test_settings_dialog.py": "tests/ui/shell/test_settings_dialog.py",
    "tests/ui/test_gui_thread_gc.py": "tests/ui/shell/test_gui_thread_gc.py",
    "tests/ui/test_panes_and_preview.py": "tests/ui/dataset/test_panes_and_preview.py",
    "tests/ui/test_camera_folder_and_workspace.py": "tests/ui/station/test_camera_folder_and_workspace.py",
}

# Files that keep their place (shared base of a layer, helpers, cross-feature tests).
STAY = {
    "fanqc_gui/__init__.py", "fanqc_gui/__main__.py", "fanqc_gui/core/__init__.py", "fanqc_gui/ui/__init__.py",
    "fanqc_gui/core/app_settings.py", "fanqc_gui/core/atomic_io.py", "fanqc_gui/core/paths.py",
    "fanqc_gui/core/tf_runtime.py", "fanqc_gui/core/versions.py", "fanqc_gui/core/imaging.py",
    "fanqc_gui/core/image_files.py", "fanqc_gui/core/errors.py",
    # the ui layer's shared base, below every page and the shell
    "fanqc_gui/ui/theme.py", "fanqc_gui/ui/elided_widgets.py",
    "tests/conftest.py", "tests/test_lean_install.py", "tests/ui/ui_helpers.py",
    "tests/ui/test_pyside_refcounts.py", "tests/ui/test_without_tensorflow.py",
    "tests/core/test_core_boundaries.py", "tests/core/test_app_settings.py", "tests/core/test_imaging.py",
    "tests/core/test_file_modes_and_names.py",
}

# Placing files that are not named above (new modules of the other open issues). First match wins.
# (regex on the old path, replacement); "\g<name>" keeps the file name.
CORE_FEATURE_RULES = [
    (r"^(backbone/.*)$", r"models/\1"),
    (r"^(anomaly/.*)$", r"models/\1"),
    (r"^(errors|paths|atomic_io|tf_runtime|versions|app_settings|imaging|image_files)\.py$", r"\1.py"),
    (r"^(.*train.*|.*epoch.*|engine.*|pretrained.*|.*comparison.*)\.py$", r"training/\1.py"),
    (r"^((?:station|camera|frame|capture|inspection|latency|trigger|line_io|plc|roi|secret).*)\.py$",
     r"station/\1.py"),
    (r"^((?:model|export|inference|backend|architecture|preset|threshold|evaluation|metric|fast|demo_model|quantis)"
     r".*)\.py$", r"models/\1.py"),
    (r"^((?:insight|gradcam|explan|.*predictions).*)\.py$", r"insight/\1.py"),
    (r"^((?:dataset|workspace|file|folder|decode|demo_data|scan|duplicate|split|image_).*)\.py$", r"dataset/\1.py"),
]
UI_FEATURE_RULES = [
    (r"^(.*)_screenshots?\.py$", None),  # tools/screenshots/<name>.py, see place()
    (r"^((?:theme|event_loop|.*widgets?)\.py)$", r"\1"),  # the shared base stays in ui/
    (r"^((?:training|dataset_summary|architecture|.*comparison|run_).*)\.py$", r"training/\1.py"),
    (r"^((?:insight|prediction|gradcam|filter_|feature_map|threshold|confusion|roc|label_|array_image).*)\.py$",
     r"insight/\1.py"),
    (r"^((?:camera|station|roi|verdict|source|inspection|capture|trigger).*)\.py$", r"station/\1.py"),
    (r"^((?:model_|models_).*)\.py$", r"models/\1.py"),
    (r"^((?:dataset|thumbnail|image_preview|move_|workspace_watch|pane).*)\.py$", r"dataset/\1.py"),
    (r"^((?:main_window|about|help|settings|workspace_actions|menu|shell|gui_thread|.*_dialogs?|icons?|status)"
     r".*)\.py$", r"shell/\1.py"),
]


def place(old: str, old_core_modules: dict[str, str]) -> tuple[str | None, str]:
    """(new path or None, how it was placed) for one file of today's tree."""
    if old in EXACT:
        return EXACT[old], "table"
    if old in STAY:
        return old, "stays"
    p = Path(old)
    parts = p.parts
    if parts[0] == PKG:
        if parts[1] == "workers" and len(parts) == 3:
            return old, "stays (workers/ is flat)"
        if parts[1] == "core" and len(parts) >= 3:
            rel = "/".join(parts[2:])
            for rx, repl in CORE_FEATURE_RULES:
                if re.match(rx, rel):
                    return f"{PKG}/core/" + re.sub(rx, repl, rel), f"rule {rx}"
        if parts[1] == "ui" and len(parts) == 3:
            for rx, repl in UI_FEATURE_RULES:
                m = re.match(rx, parts[2])
                if m:
                    if repl is None:
                        return f"tools/screenshots/{m.group(1)}.py", f"rule {rx}"
                    return f"{PKG}/ui/" + re.sub(rx, repl, parts[2]), f"rule {rx}"
        return None, "no rule"
    if parts[0] == "tests":
        name = p.name
        if name == "__init__.py" or name.endswith("_helpers.py"):
            return old, "stays (helper)"
        if len(parts) == 2 and name.startswith("test_cli"):
            return f"tests/cli/{name}", "rule tests/test_cli*"
        if len(parts) == 3 and parts[1] == "workers":
            return old, "stays (tests/workers is flat)"
        if len(parts) >= 4 and parts[1] in ("core", "ui"):
            # a test folder named after a package of that layer follows the package
            pkg_init = f"{PKG}/{parts[1]}/{parts[2]}/__init__.py"
            if (REPO / pkg_init).exists():
                target, how = place(pkg_init, old_core_modules)
                if target:
                    folder = str(Path(target).parent)[len(PKG) + 1:]
                    return f"tests/{folder}/" + "/".join(parts[3:]), f"follows {Path(pkg_init).parent}"
        if len(parts) == 3 and parts[1] in ("core", "ui") and name.startswith("test_"):
            stem = name[len("test_"):]
            # a test named after a module goes where that module goes
            module_old = f"{PKG}/{parts[1]}/{stem}"
            if module_old in EXACT or module_old in STAY or parts[1] == "core":
                target, how = place(module_old, old_core_modules)
                if target and target.startswith(f"{PKG}/{parts[1]}/"):
                    folder = str(Path(target).parent)[len(PKG) + 1:]
                    return f"tests/{folder}/{name}", f"follows {module_old}"
            target, how = place(f"{PKG}/{parts[1]}/{stem}", old_core_modules)
            if target and target.startswith(f"{PKG}/"):
                folder = str(Path(target).parent)[len(PKG) + 1:]
                return f"tests/{folder}/{name}", f"{how} (as {stem})"
            # else: where most of the modules it imports from its own layer go
            folder = folder_by_imports(old, parts[1], old_core_modules)
            if folder:
                return f"tests/{folder}/{name}", f"by imports ({folder})"
        return None, "no rule"
    return None, "outside fanqc_gui/ and tests/"


REPO = Path(".")


def folder_by_imports(test_path: str, layer: str, old_core_modules: dict[str, str]) -> str | None:
    """The feature folder (e.g. core/models) holding most of the modules of `layer` that a test imports."""
    try:
        tree = ast.parse((REPO / test_path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    votes: dict[str, int] = defaultdict(int)
    for node in ast.walk(tree):
        mods = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{PKG}.{layer}"):
            mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            mods = [a.name for a in node.names if a.name.startswith(f"{PKG}.{layer}.")]
        for mod in mods:
            path = mod.replace(".", "/") + ".py"
            if not (REPO / path).exists() or path in STAY:
                continue
            target, _ = place(path, old_core_modules)
            if target and target.startswith(f"{PKG}/{layer}/") and target.count("/") >= 3:
                votes[str(Path(target).parent)[len(PKG) + 1:]] += 1
    if not votes:
        return None
    ranked = sorted(votes.items(), key=lambda kv: -kv[1])
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None  # a tie: name it in EXACT
    return ranked[0][0]


# ---------------------------------------------------------------------------------------------------------
# 2. Exact text edits on TODAY's files (before anything moves).  (path, old text, new text).  Each old text
#    must occur exactly once, or the script fails before changing anything.
# ---------------------------------------------------------------------------------------------------------
TEXT_EDITS: list[tuple[str, str, str]] = [
    # cli <-> cli_commands: dispatch by set_defaults(func=...) (the parser part is done by split_cli_parser)
    ("fanqc_gui/cli.py",
     "        from . import cli_commands\n\n"
     "        result = getattr(cli_commands, \"cmd_\" + args.command.replace(\"-\", \"_\"))(args)\n",
     "        result = args.func(args)\n"),
    # the getattr dispatch needed cli_commands as a hidden import; the command groups are imported statically
    ("packaging/fanqc.spec",
     'hiddenimports = ["fanqc_gui.cli", "fanqc_gui.cli_commands", "fanqc_gui.app"]',
     'hiddenimports = ["fanqc_gui.cli", "fanqc_gui.app"]'),
    # every core module, now in feature folders, is still imported by the boundary checks
    ("tests/core/test_core_boundaries.py",
     '        names = [m.name for m in pkgutil.iter_modules(core.__path__, "fanqc_gui.core.")]\n',
     '        names = [m.name for m in pkgutil.walk_packages(core.__path__, "fanqc_gui.core.")]\n'),
    ("tests/core/test_core_boundaries.py",
     '        for m in pkgutil.iter_modules(core.__path__, "fanqc_gui.core."):\n',
     '        for m in pkgutil.walk_packages(core.__path__, "fanqc_gui.core."):\n'),
]

# Exact edits applied at the very end, on the NEW files with their NEW text. Same rule: found once or fail.
POST_EDITS: list[tuple[str, str, str]] = [
    # the demo-model builder now lives in tools/: the shipped folder is fanqc_gui/resources/demo_model
    ("tools/build_demo_model.py",
     # (parents[2]: the move to core/models/ kept it pointing at fanqc_gui/; from tools/ that is the wrong folder)
     'Path(__file__).resolve().parents[2] / "resources" / "demo_model"',
     'Path(__file__).resolve().parents[1] / "fanqc_gui" / "resources" / "demo_model"'),
]

# Small fixes so that `ruff check` passes; applied where the text is still found (NEW paths), else listed for
# the lead to fix by hand. They change no behaviour (line length, an unused name, a deliberate expression).
LINT_EDITS: list[tuple[str, str, str]] = [
    ("fanqc_gui/core/models/model_store.py",
     '            source = "imported" if self.metadata.get("source") == "imported" else "saved before FanQC checked '
     'thresholds"\n',
     '            imported = self.metadata.get("source") == "imported"\n'
     '            source = "imported" if imported else "saved before FanQC checked thresholds"\n'),
    ("fanqc_gui/ui/station/verdict_banner.py",
     "        for label in (self.word, self.detail, self.note, self.info):  # the text fits the banner, not the other "
     "way round\n",
     "        # the text fits the banner, not the other way round\n"
     "        for label in (self.word, self.detail, self.note, self.info):\n"),
    ("fanqc_gui/workers/camera_worker.py",
     "                 folder_interval_s: float = 0.0, capture_factory: CaptureFactory | None = None, "
     "predictor_factory: PredictorFactory | None = None,\n",
     "                 folder_interval_s: float = 0.0, capture_factory: CaptureFactory | None = None,\n"
     "                 predictor_factory: PredictorFactory | None = None,\n"),
    ("fanqc_gui/workers/insight_worker.py",
     "        layer.output\n",
     "        layer.output  # noqa: B018 - reading the property is the check\n"),
    ("bench/predict_workspace.py",
     "    app = QCoreApplication.instance() or QCoreApplication([])\n",
     "    _app = QCoreApplication.instance() or QCoreApplication([])  # held while the loop runs\n"),
    ("tests/cli/test_cli_inspect.py",
     '    assert doc["model"] == store.active_id() and doc["backend"] == "litert-int8" and doc["stopped_by"] == '
     '"end of source"\n',
     '    assert doc["model"] == store.active_id() and doc["backend"] == "litert-int8"\n'
     '    assert doc["stopped_by"] == "end of source"\n'),
    ("tests/core/dataset/test_bad_inputs.py",
     '    (root / "GO/grey.png").write_bytes(cv2.imencode(".png", rng.integers(0, 256, (64, 64), dtype=np.uint8))[1]'
     '.tobytes())\n',
     '    grey_pixels = rng.integers(0, 256, (64, 64), dtype=np.uint8)\n'
     '    (root / "GO/grey.png").write_bytes(cv2.imencode(".png", grey_pixels)[1].tobytes())\n'),
    ("tests/ui/shell/test_help_menu.py",
     '    assert rows[("G", "Dataset")].startswith("Move the selected images to GO") and rows[("G", "Insight")] == '
     '"Move to GO"\n',
     '    assert rows[("G", "Dataset")].startswith("Move the selected images to GO")\n'
     '    assert rows[("G", "Insight")] == "Move to GO"\n'),
    ("tests/ui/test_without_tensorflow.py",
     '    assert "Filters, feature maps and Grad-CAM: not available, this installation has no TensorFlow" in '
     'page.filters.canvas.message\n',
     '    assert ("Filters, feature maps and Grad-CAM: not available, this installation has no TensorFlow"\n'
     '            in page.filters.canvas.message)\n'),
    ("tests/workers/test_training_worker.py",
     '    worker.stage_changed.connect(lambda stage: worker.request_stop() if stage == "Reading and decoding images" '
     'else None)\n',
     '    worker.stage_changed.connect(\n'
     '        lambda stage: worker.request_stop() if stage == "Reading and decoding images" else None)\n'),
]

# ---------------------------------------------------------------------------------------------------------
# 3. Definitions carried between modules (after the moves; paths are NEW paths).  A name is a top-level
#    def/class/assignment; "__main__" is the `if __name__ == "__main__":` block.  Missing names fail the run.
#    The docstring is used when the destination is created.  Afterwards every module gets the imports of
#    names it uses from its siblings, and ruff removes the imports it no longer uses.
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Split:
    src: str
    dst: str
    names: list[str]
    doc: str = ""
    optional: list[str] = field(default_factory=list)  # carried when present


SPLITS: list[Split] = [
    # app.py <-> ui/self_test.py: the composition root leaves the entry point; self_test imports only it
    Split("fanqc_gui/app/entry.py", "fanqc_gui/app/composition.py",
          ["AppParts", "_collector", "ensure_app", "build_app", "_running", "launch",
           "_install_demo_model_on_first_start"],
          doc="The composition root: the QApplication set up once (ensure_app), the workers, pages and window\n"
              "created and wired together (build_app), and the window launched with the user's settings and\n"
              "model store (launch), installing the shipped demo model on the very first start."),
    # cli <-> cli_commands <-> cli_inspect: one module per command group, shared parts below them
    Split("fanqc_gui/cli/entry.py", "fanqc_gui/cli/errors.py", ["EXIT_USER_ERROR", "UserError"],
          doc="How `fanqc` fails: a user's error is one line (`fanqc: error: ...`) and exit status 2, never a\n"
              "traceback; anything else is a bug and raises."),
    Split("fanqc_gui/cli/models.py", "fanqc_gui/cli/errors.py", ["describe_error"]),
    Split("fanqc_gui/cli/entry.py", "fanqc_gui/cli/arguments.py",
          ["_add_common", "_add_mapping", "threshold_arg", "fraction_arg"],
          doc="Options shared by the `fanqc` commands (model store, --json, --quiet, class folders), argument\n"
              "types, and what the commands read from them."),
    Split("fanqc_gui/cli/models.py", "fanqc_gui/cli/arguments.py", ["_store", "_mapping", "_model"]),
    Split("fanqc_gui/cli/models.py", "fanqc_gui/cli/progress.py", ["Progress"],
          doc="Progress of a `fanqc` command on stderr (stdout stays reserved for --json)."),
    Split("fanqc_gui/cli/models.py", "fanqc_gui/cli/training.py", ["cmd_train"],
          doc="`fanqc train`: a new model from a workspace, with progress on stderr."),
    Split("fanqc_gui/cli/models.py", "fanqc_gui/cli/predict.py", ["cmd_evaluate", "cmd_predict"],
          doc="`fanqc evaluate` and `fanqc predict`: a model's verdicts on labelled folders or any images."),
    Split("fanqc_gui/cli/models.py", "fanqc_gui/cli/dataset.py", ["cmd_demo_data", "cmd_scan"],
          doc="`fanqc scan` and `fanqc demo-data`: check a workspace, or write the synthetic demo workspace."),
    # core/app_settings <-> core/paths: the default store depends on the settings, so it lives with them
    Split("fanqc_gui/core/paths.py", "fanqc_gui/core/app_settings.py", ["default_model_store"]),
    # core/inference <-> core/station_model: the backends leave inference; both import them
    Split("fanqc_gui/core/models/inference.py", "fanqc_gui/core/models/backends.py",
          ["default_threads", "LiteRTBackend", "KerasBackend"],
          doc="The two ways to run a model on preprocessed images: LiteRT (model.tflite, the fast path, no\n"
              "TensorFlow needed) and Keras (model.keras)."),
    # the demo-model builder trains: a developer tool, not shipped; installing the shipped model stays
    Split("fanqc_gui/core/models/demo_model.py", "tools/build_demo_model.py", ["build_demo_model", "__main__"],
          doc="`python -m tools.build_demo_model`: train the demo model on generated parts (seed 1) and write the\n"
              "files shipped in fanqc_gui/resources/demo_model (needs TensorFlow, about a minute)."),
    # the self-test needs wait_until at run time; the screenshot helpers keep save_grab
    Split("tools/screenshots/grab.py", "fanqc_gui/ui/event_loop.py", ["wait_until"],
          doc="Spinning the Qt event loop until a condition holds, without a test framework (the self-test and\n"
              "the screenshot tools)."),
]

# Definitions deleted (shims that only existed for a cycle), and where their users are sent instead.
DELETE_DEFS: list[tuple[str, str, str]] = [  # (new path, name, old module whose users now import it from ...)
    ("fanqc_gui/ui/station/camera_page.py", "render_camera_screenshot", "tools.screenshots.camera"),
    ("fanqc_gui/cli/models.py", "cmd_inspect", "fanqc_gui.cli.station"),
]

# Docstrings replaced on files that keep only part of what they held.
NEW_DOCSTRINGS = {
    "fanqc_gui/cli/models.py": "`fanqc models`, `fanqc export` and `fanqc import-model`: the model store from a "
                               "terminal.",
    "tools/screenshots/grab.py": "Saving a widget's picture atomically, for the offscreen screenshot scripts.",
}

# Private helpers of the CLI used across its modules now: public names.  (only in fanqc_gui/cli/)
CLI_RENAMES = {"_add_common": "add_common_options", "_add_mapping": "add_mapping_options",
               "_store": "store_from", "_mapping": "mapping_from", "_model": "model_from"}
# The `fanqc` sub-commands and the module of their group.  A command not listed fails the run.
CLI_GROUPS = {"train": "training", "evaluate": "predict", "predict": "predict", "export": "models",
              "import-model": "models", "models": "models", "demo-data": "dataset", "scan": "dataset",
              "inspect": "station"}

# Public faces: these names stay importable from the package (and the installed entry points use them).
FACES = {("fanqc_gui.app", "main"), ("fanqc_gui.cli", "main"), ("fanqc_gui.cli", "build_parser")}
# `from fanqc_gui import app as app_module`: the module object tests drive is the composition root.
MODULE_OBJECT = {"fanqc_gui.app": "fanqc_gui.app.composition", "fanqc_gui.cli": "fanqc_gui.cli.entry"}
# In strings, comments and docs: `python -m fanqc_gui.app` etc. keep working through __main__.py.
STRING_MODULE = {"fanqc_gui.app": "fanqc_gui.app", "fanqc_gui.cli": "fanqc_gui.cli",
                 "fanqc_gui.ui.screenshots": "tools.screenshots", "fanqc_gui.core.demo_model": None}
# Exact phrases in docs and strings (before the general mapping).
PHRASES = {
    "python -m fanqc_gui.core.demo_model": "python -m tools.build_demo_model",
    "-m fanqc_gui.ui.screenshots": "-m tools.screenshots",
}
# Function-local imports that only existed to dodge a cycle: moved to the top of the module.
HOIST = [("fanqc_gui/cli/", "fanqc_gui.cli."),
         ("fanqc_gui/core/models/fast_model.py", "fanqc_gui.core.models.backends")]

NEW_FILES = {
    "fanqc_gui/app/__init__.py": '''\
"""The desktop application: the entry point (`fanqc-gui`), the composition root that wires workers, pages and
the model store together, and the installation self-test."""
from fanqc_gui.app.entry import main

__all__ = ["main"]
''',
    "fanqc_gui/app/__main__.py": '''\
"""`python -m fanqc_gui.app [WORKSPACE] [--self-test]`: the same as `fanqc-gui`."""
from fanqc_gui.app.entry import main

if __name__ == "__main__":
    raise SystemExit(main())
''',
    "fanqc_gui/cli/__init__.py": '''\
"""The `fanqc` command: one module per command group (dataset, training, predict, models, station), each
registering its sub-commands with set_defaults(func=...); entry.py builds the parser and runs the command."""
from fanqc_gui.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
''',
    "fanqc_gui/cli/__main__.py": '''\
"""`python -m fanqc_gui.cli ...`: the same as `fanqc ...`."""
from fanqc_gui.cli.entry import main

if __name__ == "__main__":
    raise SystemExit(main())
''',
    "fanqc_gui/core/dataset/__init__.py": '"""Workspaces and their images: folder layout and class mapping, '
    'scanning, file moves with undo,\nfolder listings, the decode cache, the demo workspace."""\n',
    "fanqc_gui/core/models/__init__.py": '"""Trained models: the network and its pretrained backbone, the model '
    'store and metadata, inference\nbackends, export, the station\'s int8 variant, metrics and the threshold, '
    'the shipped demo model."""\n',
    "fanqc_gui/core/training/__init__.py": '"""Training a model: the recipe and its loop, the engine process that '
    'runs it beside the GUI, and the\ncomparison of a new model with the active one."""\n',
    "fanqc_gui/core/insight/__init__.py": '"""What a model learned and where it is wrong: filters, feature maps, '
    'Grad-CAM, rankings, and one\nmodel\'s predictions for a whole workspace."""\n',
    "fanqc_gui/core/station/__init__.py": '"""The inspection station: frame sources, the capture thread, the '
    'pipeline (ROI -> model -> verdict),\ncaptures, the inspection log, per-station settings, the headless '
    'runner."""\n',
    "fanqc_gui/ui/shell/__init__.py": '"""The window around the pages: main window and menus, workspace and '
    'settings actions, the\nsettings, about and help dialogs."""\n',
    "fanqc_gui/ui/dataset/__init__.py": '"""The Dataset page: Inbox / GO / NG panes of thumbnails, the preview, '
    'moves with undo."""\n',
    "fanqc_gui/ui/training/__init__.py": '"""The Training page: what will be trained on, options, the network, '
    'live progress and curves, and\nthe comparison with the active model after a run."""\n',
    "fanqc_gui/ui/models/__init__.py": '"""The stored models as the Training and Insight pages show them: the '
    'model list and the chooser."""\n',
    "fanqc_gui/ui/insight/__init__.py": '"""The Insight page: filters, feature maps, per-image predictions, '
    'Grad-CAM, confusion matrix, ROC\nand threshold, fixing labels."""\n',
    "fanqc_gui/ui/station/__init__.py": '"""The Camera page (the station): live view with the ROI, verdict '
    'banner, counters, source, capture\nrules and the inspection log."""\n',
    "tools/__init__.py": '"""Developer tools that the product does not ship: screenshots (`python -m '
    'tools.screenshots`) and the\ndemo-model builder (`python -m tools.build_demo_model`)."""\n',
    "tools/screenshots/__init__.py": '"""Offscreen pictures of every page for docs/screenshots '
    '(`make screenshots`)."""\n',
    "tools/screenshots/__main__.py": '''\
"""`python -m tools.screenshots OUT_DIR`: render every page of the app on the demo workspace."""
from tools.screenshots.render_all import main

if __name__ == "__main__":
    raise SystemExit(main())
''',
}

README_LAYOUT = """\
Code layout (layer first, then feature; `pyproject.toml` holds the import-linter contracts that keep it so):
`fanqc_gui/app` (entry point, composition root, self-test), `fanqc_gui/cli` (the `fanqc` command, one module
per command group), `fanqc_gui/core` (Qt-free engine: `dataset/`, `models/`, `training/`, `insight/`,
`station/`), `fanqc_gui/workers` (Qt threading glue), `fanqc_gui/ui` (`shell/`: window, menus, dialogs; one folder per
page: `dataset/`, `training/`, `insight/`, `station/` (the Camera page); `models/`: the model list and chooser
the pages share). `tools/` (screenshots, demo-model builder) is not shipped. Tests follow the same tree."""

PYPROJECT_CONTRACTS = '''\
[tool.importlinter]
root_package = "fanqc_gui"
include_external_packages = true

[[tool.importlinter.contracts]]
name = "core is Qt-free"
type = "forbidden"
source_modules = ["fanqc_gui.core"]
forbidden_modules = ["PySide6", "pyqtgraph", "superqt", "fanqc_gui.ui", "fanqc_gui.workers", "fanqc_gui.app",
                     "fanqc_gui.cli"]

[[tool.importlinter.contracts]]
name = "app -> ui -> workers -> core"
type = "layers"
layers = ["fanqc_gui.app", "fanqc_gui.ui", "fanqc_gui.workers", "fanqc_gui.core"]

[[tool.importlinter.contracts]]
name = "cli sits on core alone: no Qt, no window"
type = "forbidden"
source_modules = ["fanqc_gui.cli"]
forbidden_modules = ["PySide6", "pyqtgraph", "superqt", "fanqc_gui.app", "fanqc_gui.ui", "fanqc_gui.workers"]

[[tool.importlinter.contracts]]
name = "nothing imports the entry points"
type = "forbidden"
source_modules = ["fanqc_gui.ui", "fanqc_gui.workers", "fanqc_gui.core"]
forbidden_modules = ["fanqc_gui.app", "fanqc_gui.cli"]

[[tool.importlinter.contracts]]
name = "core features: training | insight | station -> models -> dataset"
type = "layers"
layers = ["fanqc_gui.core.training | fanqc_gui.core.insight | fanqc_gui.core.station", "fanqc_gui.core.models",
          "fanqc_gui.core.dataset"]

[[tool.importlinter.contracts]]
name = "the station does not import training"
type = "forbidden"
source_modules = ["fanqc_gui.core.station", "fanqc_gui.ui.station"]
forbidden_modules = ["fanqc_gui.core.training", "fanqc_gui.ui.training"]

[[tool.importlinter.contracts]]
name = "no import cycles inside a feature"
type = "acyclic_siblings"
ancestors = ["fanqc_gui"]
'''

PYPROJECT_RUFF = '''\
[tool.ruff]
line-length = 120
target-version = "py310"
extend-exclude = ["packaging/fanqc.spec"]

[tool.ruff.lint]
# pycodestyle, pyflakes, import order, bugbear. The code aligns continuation lines with the opening bracket,
# which `ruff format` (Black's style) would rewrite in nearly every file (~5,000 lines), so the format is not
# checked; the line length is.
select = ["E", "W", "F", "I", "B"]
ignore = [
    "B905",  # zip() without strict=: pairs of equal length by construction throughout
]

[tool.ruff.lint.flake8-bugbear]
extend-immutable-calls = ["PySide6.QtCore.QModelIndex"]

[tool.ruff.lint.isort]
known-first-party = ["fanqc_gui", "tools"]
'''


# =========================================================================================================
# Machinery
# =========================================================================================================
class Failure(SystemExit):
    pass


def fail(title: str, items: list[str] | None = None) -> None:
    msg = f"\napply_refactor: FAILED: {title}"
    if items:
        msg += "\n" + "\n".join(f"  - {i}" for i in items)
    msg += "\nNothing after this point was done."
    raise Failure(msg)


def say(text: str) -> None:
    print(text, flush=True)


def module_of(path: str) -> str | None:
    """Dotted module of a .py path of the package or tools/ (None elsewhere)."""
    p = Path(path)
    if p.suffix != ".py" or not p.parts or p.parts[0] not in (PKG, "tools"):
        return None
    parts = list(p.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=check)


# ---- source positions -----------------------------------------------------------------------------------
class Source:
    """A file's text with byte-offset (ast) to character-offset conversion and span replacement."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col_bytes: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col_bytes].decode("utf-8"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)


def apply_replacements(text: str, repl: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(repl, key=lambda r: r[0], reverse=True):
        text = text[:start] + new + text[end:]
    return text


def line_indent(src: Source, node: ast.AST) -> str:
    line = src.lines[node.lineno - 1]
    return line[: len(line) - len(line.lstrip())]


# ---- import statements ----------------------------------------------------------------------------------
def resolve_relative(node: ast.ImportFrom, own_module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = own_module.split(".") if is_package else own_module.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def format_from(module: str, names: list[tuple[str, str | None]], indent: str) -> str:
    items = [n if not a or a == n else f"{n} as {a}" for n, a in names]
    one = f"from {module} import {', '.join(items)}"
    if len(indent) + len(one) <= 120:
        return one
    inner = ",\n".join(f"{indent}    {item}" for item in items)  # no magic trailing comma: ruff re-joins
    return f"from {module} import (\n{inner}\n{indent})"


@dataclass
class NameMap:
    modmap: dict[str, str]                      # old module -> new module (file moves)
    symmap: dict[tuple[str, str], str]          # (old module, name) -> new module (splits, deletions)
    old_modules: set[str]                       # every module of today's tree (package and tools)

    def module(self, old: str) -> str:
        return self.modmap.get(old, old)

    def module_object(self, old: str) -> str:
        return MODULE_OBJECT.get(old, self.module(old))

    def name_target(self, old_mod: str, name: str) -> str:
        if (old_mod, name) in FACES:
            return old_mod
        if (old_mod, name) in self.symmap:
            return self.symmap[(old_mod, name)]
        return self.module(old_mod)


def rewrite_from(node: ast.ImportFrom, module: str, nm: NameMap, indent: str) -> str | None:
    """New text for `from module import ...` (module absolute, today's name), or None if unchanged."""
    if not (module == PKG or module.startswith(PKG + ".")):
        return None
    groups: dict[str, list[tuple[str, str | None]]] = {}
    changed = False
    for alias in node.names:
        n, a = alias.name, alias.asname
        full = f"{module}.{n}"
        if full in nm.old_modules and n != "*":
            target = nm.module_object(full)
            parent, base = target.rsplit(".", 1)
            groups.setdefault(parent, []).append((base, a or (n if base != n else None)))
            changed |= target != full
        else:
            target = nm.name_target(module, n)
            groups.setdefault(target, []).append((n, a))
            changed |= target != module
    if not changed and not node.level:
        return None
    return ("\n" + indent).join(format_from(m, names, indent) for m, names in groups.items())


def rewrite_import(node: ast.Import, nm: NameMap, indent: str) -> str | None:
    out, changed = [], False
    for alias in node.names:
        target = nm.module(alias.name) if alias.name in nm.old_modules else alias.name
        if target != alias.name:
            changed = True
            if not alias.asname:
                warn(f"`import {alias.name}` became `import {target}`: check attribute chains using the old name")
        out.append(f"import {target}" + (f" as {alias.asname}" if alias.asname else ""))
    return ("\n" + indent).join(out) if changed else None


WARNINGS: list[str] = []


def warn(text: str) -> None:
    WARNINGS.append(text)
    say(f"  warning: {text}")


def absolutize(text: str, own_module: str, is_package: bool) -> str:
    """Relative imports -> absolute ones (today's names)."""
    tree = ast.parse(text)
    src = Source(text)
    repl = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            module = resolve_relative(node, own_module, is_package)
            names = [(a.name, a.asname) for a in node.names]
            s, e = src.span(node)
            repl.append((s, e, format_from(module, names, line_indent(src, node))))
    return apply_replacements(text, repl)


def rewrite_imports(text: str, nm: NameMap) -> str:
    tree = ast.parse(text)
    src = Source(text)
    repl = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            new = rewrite_from(node, node.module, nm, line_indent(src, node))
        elif isinstance(node, ast.Import):
            new = rewrite_import(node, nm, line_indent(src, node))
        else:
            continue
        if new is not None:
            s, e = src.span(node)
            inner = src.text[s:e]
            if "#" in inner:
                warn(f"a comment inside a rewritten import was dropped: {inner.splitlines()[0]}...")
            repl.append((s, e, new))
    return apply_replacements(text, repl)


# ---- dotted names, paths and phrases in strings, comments and docs ---------------------------------------
DOTTED = re.compile(r"(?<![\w.])fanqc_gui(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_]\w*)?")
FROM_IN_STRING = re.compile(r"from (fanqc_gui(?:\.\w+)*) import ((?:\w+(?: as \w+)?)(?:, \w+(?: as \w+)?)*)")
SHORT_DOTTED = re.compile(r"(?<![\w./])(?:core|ui|workers)(?:\.[A-Za-z_]\w*)+")
# Renamed files named alone in prose (unambiguous names only).
BASENAMES = {"station_model.py": "fast_model.py", "prediction_model.py": "prediction_table_model.py",
             "thumbnail_model.py": "thumbnail_list_model.py", "screenshot_tools.py": "tools/screenshots/grab.py",
             "cli_commands.py": "cli/", "cli_inspect.py": "cli/station.py"}
IMPORT_IN_STRING = re.compile(r"(?<![\w.])import ((?:fanqc_gui(?:\.\w+)+)(?:, fanqc_gui(?:\.\w+)+)*)")


class TextMapper:
    def __init__(self, nm: NameMap, pathmap: dict[str, str]):
        self.nm = nm
        self.pathmap = {k: v for k, v in pathmap.items() if k != v}
        # paths: whole (fanqc_gui/ui/x.py, tests/ui/test_x.py) and short (core/x.py, ui/x.py) as in the README
        keys = sorted(self.pathmap, key=len, reverse=True)
        self.path_rx = re.compile(r"(?<![\w/.])(?:" + "|".join(re.escape(k) for k in keys) + r")(?![\w/])") \
            if keys else None
        short = {k[len(PKG) + 1:]: v[len(PKG) + 1:] if v.startswith(PKG + "/") else v
                 for k, v in self.pathmap.items() if k.startswith(PKG + "/")}
        self.short = short
        skeys = sorted(short, key=len, reverse=True)
        self.short_rx = re.compile(r"(?<![\w/.])(?:" + "|".join(re.escape(k) for k in skeys) + r")(?![\w/])") \
            if skeys else None

    def dotted(self, m: re.Match) -> str:
        ref = m.group(0)
        ref, _, attr_after_colon = ref.partition(":")
        parts = ref.split(".")
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head in self.nm.old_modules:
                rest = parts[i:]
                if attr_after_colon:
                    target = self.nm.name_target(head, attr_after_colon)
                    return f"{target}:{attr_after_colon}" if not rest else m.group(0)
                if rest and (head, rest[0]) in self.nm.symmap:
                    return ".".join([self.nm.symmap[(head, rest[0])], *rest])
                if head in STRING_MODULE and STRING_MODULE[head] is not None:
                    return ".".join([STRING_MODULE[head], *rest])
                return ".".join([self.nm.module(head), *rest])
        return m.group(0)

    def short_dotted(self, m: re.Match) -> str:
        new = self.dotted(re.match(DOTTED, f"{PKG}.{m.group(0)}"))
        return new[len(PKG) + 1:] if new.startswith(PKG + ".") else new

    def from_in_string(self, m: re.Match) -> str:
        module = m.group(1)
        names = []
        for item in m.group(2).split(", "):
            n, _, a = item.partition(" as ")
            names.append(ast.alias(name=n, asname=a or None))
        node = ast.ImportFrom(module=module, names=names, level=0)
        new = rewrite_from(node, module, self.nm, "")
        return m.group(0) if new is None else new.replace("\n", "; ")

    def import_in_string(self, m: re.Match) -> str:
        mods = [self.nm.module(x) if x in self.nm.old_modules else x for x in m.group(1).split(", ")]
        return "import " + ", ".join(mods)

    def __call__(self, s: str) -> str:
        for old, new in PHRASES.items():
            s = s.replace(old, new)
        s = FROM_IN_STRING.sub(self.from_in_string, s)
        s = IMPORT_IN_STRING.sub(self.import_in_string, s)
        # dotted names, but not inside the `from X import` / `import X` we just wrote (already new)
        protected = [(mm.start(), mm.end()) for rx in (FROM_IN_STRING, IMPORT_IN_STRING) for mm in rx.finditer(s)]

        def dotted(mm: re.Match) -> str:
            if any(a <= mm.start() < b for a, b in protected):
                return mm.group(0)
            return self.dotted(mm)

        s = DOTTED.sub(dotted, s)
        # short dotted names in prose: core.insight.kernel_images, core.training.TrainOptions
        s = SHORT_DOTTED.sub(self.short_dotted, s)
        for old, new in BASENAMES.items():
            s = re.sub(r"(?<![\w/.])" + re.escape(old) + r"(?![\w/])", new, s)
        if self.path_rx:
            s = self.path_rx.sub(lambda mm: self.pathmap[mm.group(0)], s)
        if self.short_rx:
            s = self.short_rx.sub(lambda mm: self.short[mm.group(0)], s)
        return s


def map_strings_and_comments(text: str, mapper: TextMapper) -> str:
    src = Source(text)
    repl = []
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    for tok in tokens:
        if tok.type in (tokenize.STRING, tokenize.COMMENT):
            new = mapper(tok.string)
            if new != tok.string:
                (sl, sc), (el, ec) = tok.start, tok.end
                start = src.starts[sl - 1] + sc
                end = src.starts[el - 1] + ec
                repl.append((start, end, new))
    return apply_replacements(text, repl)


# ---- paths computed from __file__ -----------------------------------------------------------------------
FILE_PARENTS = re.compile(r"(Path\(__file__\)(?:\.resolve\(\))?)((?:\.parent(?!s))+|\.parents\[(\d+)\])")


def fix_file_parents(text: str, old: str, new: str) -> str:
    """`Path(__file__).resolve().parents[N]` (or `.parent.parent`) in a moved file still names the same
    folder (the repository root, tests/, ...) from the new place."""
    old_parents, new_parents = list(Path(old).parents), list(Path(new).parents)

    def repl(m: re.Match) -> str:
        n = int(m.group(3)) if m.group(3) is not None else m.group(2).count(".parent") - 1
        if n >= len(old_parents):
            return m.group(0)
        target = old_parents[n]
        if n == 0:  # the file's own folder: what it reads there moves with it (or is named in the table)
            return m.group(0)
        if target not in new_parents:
            warn(f"{new}: {m.group(0)} named {target}/, which moved; fix it by hand")
            return m.group(0)
        k = new_parents.index(target)
        if k == n:
            return m.group(0)
        return f"{m.group(1)}.parents[{k}]" if m.group(3) is not None or k > 1 else m.group(1) + ".parent" * (k + 1)

    return FILE_PARENTS.sub(repl, text)


# ---- definitions ----------------------------------------------------------------------------------------
def top_level_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and isinstance(node.test.left, ast.Name) \
            and node.test.left.id == "__name__":
        return ["__main__"]
    return []


def def_span(src: Source, node: ast.stmt) -> tuple[int, int]:
    """Lines [first, last] (1-based) of a top-level statement with its decorators and the comment lines
    directly above it."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    while first > 1 and src.lines[first - 2].lstrip().startswith("#") and not src.lines[first - 2].startswith(" "):
        first -= 1
    return first, node.end_lineno


def import_block(text: str) -> list[str]:
    """Source of the module-level import statements (in order)."""
    tree = ast.parse(text)
    src = Source(text)
    out = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            s, e = src.span(node)
            out.append(src.text[s:e])
    return out


def insert_after_imports(text: str, block: str) -> str:
    """block inserted after the last module-level import that comes before the first def/class (or after the
    docstring when there is none)."""
    tree = ast.parse(text)
    src = Source(text)
    last = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            break
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            last = node
    if last is None:
        first = tree.body[0] if tree.body else None
        is_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        at = src.starts[first.end_lineno] if is_doc else 0
        return text[:at] + block + text[at:]
    at = src.starts[last.end_lineno]
    return text[:at] + block + text[at:]


def tidy(text: str) -> str:
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.rstrip("\n") + "\n"


def carry(repo: Path, split: Split, created: set[str]) -> list[str]:
    """Carry definitions from split.src to split.dst; returns the names carried."""
    src_path, dst_path = repo / split.src, repo / split.dst
    text = read(src_path)
    tree = ast.parse(text)
    src = Source(text)
    wanted = set(split.names) | set(split.optional)
    found: dict[str, ast.stmt] = {}
    for node in tree.body:
        for n in top_level_names(node):
            if n in wanted:
                found[n] = node
    missing = [n for n in split.names if n not in found]
    if missing:
        fail(f"{split.src}: definitions to carry to {split.dst} are missing", missing)
    nodes = sorted({id(n): n for n in found.values()}.values(), key=lambda n: n.lineno)
    spans = [def_span(src, n) for n in nodes]
    pieces = ["".join(src.lines[a - 1:b]) for a, b in spans]
    keep = list(src.lines)
    for a, b in sorted(spans, reverse=True):
        del keep[a - 1:b]
    write(src_path, tidy("".join(keep)))
    imports = import_block(text)
    body = "\n\n".join(p.rstrip("\n") + "\n" for p in pieces)
    if dst_path.exists():
        dst_text = read(dst_path)
        have = set(import_block(dst_text))
        extra = [i for i in imports if i not in have and "__future__" not in i]
        if extra:
            dst_text = insert_after_imports(dst_text, "\n".join(extra) + "\n")
        write(dst_path, tidy(dst_text.rstrip("\n") + "\n\n\n" + body))
    else:
        doc = f'"""{split.doc}"""\n' if split.doc else ""
        future = [i for i in imports if "__future__" in i]
        rest = [i for i in imports if "__future__" not in i]
        head = doc + ("\n".join(future) + "\n\n" if future else "") + ("\n".join(rest) + "\n" if rest else "")
        write(dst_path, tidy(head + "\n\n" + body))
        created.add(split.dst)
    return [n for n in split.names + split.optional if n in found]


def delete_def(repo: Path, path: str, name: str) -> None:
    text = read(repo / path)
    tree = ast.parse(text)
    src = Source(text)
    for node in tree.body:
        if name in top_level_names(node):
            a, b = def_span(src, node)
            keep = src.lines[: a - 1] + src.lines[b:]
            write(repo / path, tidy("".join(keep)))
            return
    fail(f"{path}: definition {name} to delete is missing")


def replace_docstring(repo: Path, path: str, doc: str) -> None:
    text = read(repo / path)
    tree = ast.parse(text)
    first = tree.body[0] if tree.body else None
    src = Source(text)
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        s, e = src.span(first)
        text = text[:s] + f'"""{doc}"""' + text[e:]
    else:
        text = f'"""{doc}"""\n' + text
    write(repo / path, text)


def rename_names(text: str, renames: dict[str, str]) -> str:
    """Rename NAME tokens (not attributes) in a module."""
    src = Source(text)
    repl = []
    prev = None
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NAME and tok.string in renames and not (prev and prev.string == "."):
            (sl, sc), (el, ec) = tok.start, tok.end
            repl.append((src.starts[sl - 1] + sc, src.starts[el - 1] + ec, renames[tok.string]))
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            prev = tok
    return apply_replacements(text, repl)


# ---- the CLI's parser: each sub-command's block goes to its group's add_parsers(sub) ----------------------
def split_cli_parser(repo: Path) -> None:
    entry = repo / "fanqc_gui/cli/entry.py"
    text = read(entry)
    tree = ast.parse(text)
    src = Source(text)
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build_parser"), None)
    if fn is None:
        fail("fanqc_gui/cli/entry.py has no build_parser()")
    starts, commands = [], []
    ret = None
    for stmt in fn.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) \
                and isinstance(stmt.value.func, ast.Attribute) and stmt.value.func.attr == "add_parser" \
                and stmt.value.args and isinstance(stmt.value.args[0], ast.Constant):
            starts.append(stmt)
            commands.append(stmt.value.args[0].value)
        if isinstance(stmt, ast.Return):
            ret = stmt
    unknown = [c for c in commands if c not in CLI_GROUPS]
    if unknown:
        fail("`fanqc` sub-commands with no command group (add them to CLI_GROUPS)", unknown)
    missing = [c for c in CLI_GROUPS if c not in commands]
    if missing:
        fail("CLI_GROUPS names sub-commands that build_parser() no longer has", missing)
    order = []
    for c in commands:
        g = CLI_GROUPS[c]
        if order and order[-1] == g:
            continue
        if g in order:
            fail("the sub-commands of one group are not next to each other in `fanqc --help`; reorder CLI_GROUPS",
                 commands)
        order.append(g)
    # line ranges: each block runs to the line before the next block (or the return)
    first_lines = [s.lineno for s in starts] + [ret.lineno]
    blocks: dict[str, list[str]] = defaultdict(list)
    pending: list[str] = []  # comment lines found at the end of one block: they open the next one
    for i, cmd in enumerate(commands):
        a, b = first_lines[i], first_lines[i + 1] - 1
        lines = src.lines[a - 1:b]
        while lines and not lines[-1].strip():
            lines.pop()
        comments = []
        while lines and lines[-1].strip().startswith("#"):
            comments.insert(0, lines.pop())
        # imports inside a block go: the names come with the group's module
        inner = ast.parse(textwrap.dedent("".join(lines)))
        import_lines = set()
        for node in ast.walk(inner):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                import_lines.update(range(node.lineno, node.end_lineno + 1))
        kept = [line for j, line in enumerate(lines, start=1) if j not in import_lines]
        while kept and not kept[-1].strip():
            kept.pop()
        body = "".join(pending + kept) + f"    p.set_defaults(func=cmd_{cmd.replace('-', '_')})\n"
        pending = comments
        blocks[CLI_GROUPS[cmd]].append(body)
    # build_parser keeps its head and calls the groups
    a, b = first_lines[0], ret.lineno - 1
    call = (f"    for group in ({', '.join(order)}):\n"
            f"        group.add_parsers(sub)\n")
    new_lines = src.lines[: a - 1] + [call] + src.lines[b:]
    write(entry, "".join(new_lines))
    for group, bodies in blocks.items():
        path = repo / f"fanqc_gui/cli/{group}.py"
        cmds = [c for c in commands if CLI_GROUPS[c] == group]
        if not path.exists():  # a group named in CLI_GROUPS that no split creates
            write(path, f'"""{", ".join(f"`fanqc {c}`" for c in cmds)}."""\nfrom __future__ import annotations\n')
            warn(f"{path.relative_to(repo)} was created for {cmds}; carry their cmd_ functions there (SPLITS)")
        doc = f'    """Register {", ".join(f"`fanqc {c}`" for c in cmds)} on the sub-command parsers `sub`."""\n'
        func = "def add_parsers(sub) -> None:\n" + doc + "\n".join(bodies) + "\n\n"
        gtext = read(path)
        gtree = ast.parse(gtext)
        gsrc = Source(gtext)
        first_def = next((n for n in gtree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))), None)
        at_line = def_span(gsrc, first_def)[0] if first_def else len(gsrc.lines) + 1
        lines = gsrc.lines[: at_line - 1] + [func, "\n"] + gsrc.lines[at_line - 1:]
        write(path, tidy("".join(lines)))
    # entry.py imports the groups once the old names are rewritten (see main)
    LATE_IMPORTS.append(("fanqc_gui/cli/entry.py", f"from fanqc_gui.cli import {', '.join(sorted(order))}\n"))


LATE_IMPORTS: list[tuple[str, str]] = []


# ---- imports that the splits made necessary --------------------------------------------------------------
def bound_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                names.add((a.asname or a.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            pass
    return names


def used_names(tree: ast.AST) -> set[str]:
    out = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    # names in string annotations (from __future__ import annotations keeps them as code anyway)
    return out


def add_sibling_imports(repo: Path, files: list[str]) -> None:
    defined: dict[str, list[str]] = defaultdict(list)
    for f in files:
        tree = ast.parse(read(repo / f))
        for node in tree.body:
            for n in top_level_names(node):
                if n != "__main__":
                    defined[n].append(module_of(f))
    for f in files:
        text = read(repo / f)
        tree = ast.parse(text)
        own = module_of(f)
        free = used_names(tree) - bound_names(tree) - set(dir(builtins))
        need: dict[str, list[str]] = defaultdict(list)
        for n in sorted(free):
            homes = [m for m in defined.get(n, []) if m != own]
            if len(homes) == 1:
                need[homes[0]].append(n)
            elif len(homes) > 1:
                warn(f"{f}: {n} is defined in several of {homes}; import it by hand")
        if need:
            block = "".join(f"from {m} import {', '.join(ns)}\n" for m, ns in sorted(need.items()))
            write(repo / f, insert_after_imports(text, block))


def drop_self_imports(repo: Path, path: str) -> None:
    """`from <this module> import x` inside this module (left where a definition came home) goes."""
    text = read(repo / path)
    own = module_of(path)
    tree = ast.parse(text)
    src = Source(text)
    repl = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == own:
            a, b = node.lineno, node.end_lineno
            start, end = src.starts[a - 1], src.starts[b]
            # and one blank line after a function-local import
            if node.col_offset and b < len(src.lines) and not src.lines[b].strip():
                end = src.starts[b + 1]
            repl.append((start, end, ""))
    if repl:
        write(repo / path, apply_replacements(text, repl))


def hoist_imports(repo: Path, path: str, prefix: str) -> None:
    """Function-local `from <prefix>... import x` go to the module's imports."""
    text = read(repo / path)
    tree = ast.parse(text)
    src = Source(text)
    repl, hoisted = [], []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(prefix):
                a, b = node.lineno, node.end_lineno
                start, end = src.starts[a - 1], src.starts[b]
                if b < len(src.lines) and not src.lines[b].strip():
                    end = src.starts[b + 1]
                repl.append((start, end, ""))
                hoisted.append(f"from {node.module} import " + ", ".join(
                    a.name + (f" as {a.asname}" if a.asname else "") for a in node.names))
    if not repl:
        return
    repl = list({r[0]: r for r in repl}.values())
    text = apply_replacements(text, repl)
    have = set(import_block(text))
    block = "".join(h + "\n" for h in dict.fromkeys(hoisted) if h not in have)
    write(repo / path, insert_after_imports(text, block) if block else text)


# =========================================================================================================
# The run
# =========================================================================================================
def inventory(repo: Path) -> list[str]:
    files = []
    for top in (PKG, "tests"):
        for p in sorted((repo / top).rglob("*")):
            rel = p.relative_to(repo).as_posix()
            if p.is_dir() or "__pycache__" in p.parts or rel.startswith(f"{PKG}/resources/") \
                    or p.suffix in (".pyc",) or ".hypothesis" in p.parts:
                continue
            files.append(rel)
    return files


def plan(repo: Path) -> dict[str, str]:
    files = inventory(repo)
    core_modules = {f: f for f in files if f.startswith(f"{PKG}/core/")}
    mapping, unplaced, by_rule = {}, [], []
    for f in files:
        if not f.endswith(".py"):
            unplaced.append(f"{f} (not a Python file)")
            continue
        new, how = place(f, core_modules)
        if new is None:
            unplaced.append(f"{f} ({how})")
        else:
            mapping[f] = new
            if how.startswith(("rule", "follows")) or " (as " in how:
                by_rule.append(f"{f} -> {new}   [{how}]")
    if unplaced:
        fail("these files have no place in the new tree (add them to EXACT or STAY, or widen a rule)", unplaced)
    targets = defaultdict(list)
    for old, new in mapping.items():
        targets[new].append(old)
    clashes = [f"{new} <- {olds}" for new, olds in targets.items() if len(olds) > 1]
    clashes += [f"{new} exists already (from {olds[0]})" for new, olds in targets.items()
                if (repo / new).exists() and new not in mapping]
    if clashes:
        fail("two files would land on one path", clashes)
    # prepend import mode: test module basenames must be unique
    base = defaultdict(list)
    for new in mapping.values():
        if new.startswith("tests/") and Path(new).name.startswith("test_"):
            base[Path(new).name].append(new)
    dup = [f"{b}: {paths}" for b, paths in base.items() if len(paths) > 1]
    if dup:
        fail("test modules with the same file name (pytest's default import mode needs unique names)", dup)
    for line in by_rule:
        say(f"  placed by rule: {line}")
    return mapping


def precheck(repo: Path, mapping: dict[str, str]) -> None:
    problems = []
    for path, old, _new in TEXT_EDITS:
        f = repo / path
        n = read(f).count(old) if f.exists() else -1
        if n != 1:
            problems.append(f"{path}: expected once, found {n if n >= 0 else 'no file'}: {old.strip()[:90]!r}")
    # definitions to carry / delete, looked up in today's files
    back = {new: old for old, new in mapping.items()}
    defs_by_file: dict[str, set[str]] = {}

    def defs(path_new: str) -> set[str] | None:
        old = back.get(path_new)
        if old is None:
            return None
        if old not in defs_by_file:
            tree = ast.parse(read(repo / old))
            defs_by_file[old] = {n for node in tree.body for n in top_level_names(node)}
        return defs_by_file[old]

    carried_in: dict[str, set[str]] = defaultdict(set)
    for s in SPLITS:
        have = defs(s.src)
        have = (have or set()) | carried_in[s.src]
        miss = [n for n in s.names if n not in have]
        if miss:
            problems.append(f"{s.src} (today {back.get(s.src)}): missing {miss} to carry to {s.dst}")
        carried_in[s.dst] |= set(s.names)
    for path, name, _ in DELETE_DEFS:
        have = defs(path) or set()
        if name not in have:
            problems.append(f"{path} (today {back.get(path)}): missing {name} to delete")
    # every sub-command has a group
    cli = repo / f"{PKG}/cli.py"
    cmds = re.findall(r'sub\.add_parser\("([\w-]+)"', read(cli)) if cli.exists() else []
    unknown = [c for c in cmds if c not in CLI_GROUPS]
    if unknown:
        problems.append(f"`fanqc` sub-commands without a group in CLI_GROUPS: {unknown}")
    if problems:
        fail("the tree is not what this script expects", problems)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", default=".", help="the FanQC checkout (default: the current folder)")
    ap.add_argument("--check", action="store_true", help="plan and check only; change nothing")
    ap.add_argument("--allow-dirty", action="store_true", help="run although git shows uncommitted changes")
    ap.add_argument("--no-verify", action="store_true", help="skip the final checks")
    args = ap.parse_args()
    repo = Path(args.repo).resolve()
    os.chdir(repo)
    global REPO
    REPO = repo
    if (repo / f"{PKG}/app/entry.py").exists() or (repo / f"{PKG}/core/models").exists():
        fail("this tree is rearranged already (fanqc_gui/app/ or core/models/ exists); run it on the tree before")
    if not (repo / f"{PKG}/app.py").exists():
        fail(f"{repo} does not look like the FanQC checkout (no fanqc_gui/app.py)")
    say("== plan")
    mapping = plan(repo)
    precheck(repo, mapping)
    moved = {o: n for o, n in mapping.items() if o != n}
    say(f"  {len(mapping)} files: {len(moved)} move, {len(mapping) - len(moved)} stay")
    if args.check:
        for o, n in sorted(mapping.items()):
            say(f"  {o:55} -> {n}" if o != n else f"  {o:55}    (stays)")
        say("check passed: every file has a place, every text edit and definition is where it is expected")
        return 0
    if not args.allow_dirty:
        dirty = git(repo, "status", "--porcelain", "--untracked-files=no").stdout.strip()
        if dirty:
            fail("uncommitted changes (commit first so that `git reset --hard` can undo a failed run, or pass "
                 "--allow-dirty)", dirty.splitlines()[:20])

    # -- names: old module -> new module ----------------------------------------------------------------------
    old_modules = set()
    modmap = {}
    for o, n in mapping.items():
        mo, mn = module_of(o), module_of(n)
        if mo:
            old_modules.add(mo)
            # a package (__init__) maps to its package
            modmap[mo] = mn if mn else mo
    # packages that exist today (fanqc_gui, fanqc_gui.core, fanqc_gui.ui, ...) keep their names
    old_modules |= {PKG, f"{PKG}.core", f"{PKG}.ui", f"{PKG}.workers"}
    symmap: dict[tuple[str, str], str] = {}
    back = {n: o for o, n in mapping.items()}
    origin_of: dict[str, str] = {}  # new path -> today's module whose names it now holds
    for s in SPLITS:
        src_old = module_of(back.get(s.src, "")) or origin_of.get(s.src)
        for n in s.names + s.optional:
            symmap[(src_old, n)] = module_of(s.dst)
        origin_of.setdefault(s.dst, src_old)
    for path, name, target in DELETE_DEFS:
        symmap[(module_of(back[path]), name)] = target
    nm = NameMap(modmap, symmap, old_modules)
    pathmap = dict(mapping)

    # -- 1. exact text edits on today's files ----------------------------------------------------------------
    say("== text edits")
    for path, old, new in TEXT_EDITS:
        f = repo / path
        write(f, read(f).replace(old, new, 1))
        say(f"  {path}")

    readme = read(repo / "README.md")
    m = re.search(r"^Code layout:.*?`fanqc_gui/cli\.py`\.", readme, re.S | re.M)
    if m:
        write(repo / "README.md", readme[:m.start()] + README_LAYOUT + readme[m.end():])
        say("  README.md: code layout")
    else:
        warn("README.md: the 'Code layout:' sentence was not found; describe the new tree by hand")

    # -- 2. relative imports made absolute (today's names) -----------------------------------------------------
    say("== relative imports -> absolute")
    for o in mapping:
        if o.startswith(PKG + "/") and o.endswith(".py"):
            text = read(repo / o)
            new = absolutize(text, module_of(o), o.endswith("__init__.py"))
            if new != text:
                write(repo / o, new)

    # -- 3. git mv ---------------------------------------------------------------------------------------------
    say("== moves")
    tracked = set(git(repo, "ls-files").stdout.splitlines())
    for o, n in sorted(moved.items()):
        (repo / n).parent.mkdir(parents=True, exist_ok=True)
        if o in tracked:
            git(repo, "mv", o, n)
        else:
            os.rename(repo / o, repo / n)
            warn(f"{o} is not tracked by git: moved without git mv")
    for o, n in sorted(moved.items()):
        if n.endswith(".py"):
            text = read(repo / n)
            fixed = fix_file_parents(text, o, n)
            if fixed != text:
                write(repo / n, fixed)
                say(f"  {n}: a path from __file__ follows the move")
    for d in sorted({(repo / o).parent for o in moved}, key=lambda p: len(p.parts), reverse=True):
        if d.exists() and not any(x for x in d.iterdir() if x.name != "__pycache__"):
            shutil.rmtree(d)

    # -- 4. definitions carried ----------------------------------------------------------------------------------
    say("== splits")
    created: set[str] = set()
    touched: set[str] = set()
    for s in SPLITS:
        names = carry(repo, s, created)
        touched |= {s.src, s.dst}
        say(f"  {s.src} -> {s.dst}: {', '.join(names)}")
    for path, name, _ in DELETE_DEFS:
        delete_def(repo, path, name)
        touched.add(path)
        say(f"  deleted {path}:{name}")
    for path, doc in NEW_DOCSTRINGS.items():
        replace_docstring(repo, path, doc)
    cli_files = sorted(str(p.relative_to(repo)) for p in (repo / f"{PKG}/cli").glob("*.py"))
    for f in cli_files:
        write(repo / f, rename_names(read(repo / f), CLI_RENAMES))
    split_cli_parser(repo)
    touched |= set(cli_files)
    leftovers = {s.src for s in SPLITS}
    for f in sorted(leftovers):
        tree = ast.parse(read(repo / f))
        names = [n for node in tree.body for n in top_level_names(node)]
        say(f"  {f} keeps: {', '.join(names) or '(nothing but imports)'}")

    # -- 5. every import, dotted name and path: old -> new ---------------------------------------------------------
    say("== imports and references")
    mapper = TextMapper(nm, pathmap)
    py_files = sorted({str(p.relative_to(repo)) for top in (PKG, "tests", "bench", "tools", "packaging")
                       for p in (repo / top).rglob("*.py") if "__pycache__" not in p.parts}
                      | {"packaging/fanqc.spec"})
    for f in py_files:
        text = read(repo / f)
        new = rewrite_imports(text, nm)
        new = map_strings_and_comments(new, mapper)
        if new != text:
            write(repo / f, new)
    for f in ("Makefile", "README.md", "packaging/README.md", "pyproject.toml", ".ci/run", "models/README.md",
              "resources/README.md"):
        if (repo / f).exists():
            text = read(repo / f)
            new = mapper(text)
            if new != text:
                write(repo / f, new)

    # -- 6. imports the splits need, self-imports, hoisting ---------------------------------------------------------
    say("== imports between split modules")
    families = [sorted(touched)]
    for fam in families:
        add_sibling_imports(repo, [f for f in fam if (repo / f).exists()])
    for path, line in LATE_IMPORTS:
        write(repo / path, insert_after_imports(read(repo / path), line))
    for f in sorted(touched):
        drop_self_imports(repo, f)
    for where, prefix in HOIST:
        targets = [f for f in py_files + sorted(created) if f.startswith(where) and (repo / f).exists()]
        for f in set(targets):
            hoist_imports(repo, f, prefix)
            drop_self_imports(repo, f)

    # -- 7. new files -------------------------------------------------------------------------------------------------
    say("== new files")
    for path, content in NEW_FILES.items():
        if not (repo / path).exists():
            write(repo / path, content)
            say(f"  {path}")
    fixtures = ast.parse(read(repo / "tests/window_fixtures.py"))
    fixture_names = [n.name for n in fixtures.body if isinstance(n, ast.FunctionDef)
                     and not n.name.startswith("_")]
    for folder, what in (("tests/ui", "UI"), ("tests/app", "App")):
        write(repo / folder / "conftest.py",
              f'"""{what} tests run the real window: its fixtures (autouse: garbage collected on the GUI thread, '
              f'no QThread left\nrunning) come from tests/window_fixtures.py."""\n'
              f"from window_fixtures import {', '.join(fixture_names)}  # noqa: F401\n")
    # pytest: tools/ importable (the camera screenshot test), as from the repository root
    # -- 8. pyproject, Makefile, README, .ci -----------------------------------------------------------------------
    say("== pyproject.toml, README.md, .ci/run")
    pp = read(repo / "pyproject.toml")
    start = pp.index("[tool.importlinter]")
    nxt = re.search(r"^\[(?!\[?tool\.importlinter)", pp[start + 1:], re.M)
    end = start + 1 + nxt.start() if nxt else len(pp)
    pp = pp[:start] + PYPROJECT_CONTRACTS + ("\n" + pp[end:] if nxt else "")
    if "[tool.ruff" not in pp:
        pp = pp.rstrip("\n") + "\n\n" + PYPROJECT_RUFF
    if "pythonpath" not in pp:
        pp = pp.replace('testpaths = ["tests"]\n', 'testpaths = ["tests"]\npythonpath = ["."]  # tools/ (the camera '
                        'screenshot test)\n', 1)
    write(repo / "pyproject.toml", pp)
    ci = read(repo / ".ci/run")
    if "ruff" not in ci:
        ci = ci.replace(".venv/bin/lint-imports\n", ".venv/bin/lint-imports\n.venv/bin/ruff check .\n", 1)
        write(repo / ".ci/run", ci)
    mk = read(repo / "Makefile")
    if "ruff" not in mk:
        mk = mk.replace("lint:\n\t.venv/bin/lint-imports\n",
                        "lint:\n\t.venv/bin/lint-imports\n\t.venv/bin/ruff check .\n", 1)
        write(repo / "Makefile", mk)

    # -- 9. post edits -----------------------------------------------------------------------------------------
    say("== post edits")
    for path, old, new in POST_EDITS:
        text = read(repo / path)
        if text.count(old) != 1:
            fail(f"{path}: post edit expected once, found {text.count(old)}: {old!r}")
        write(repo / path, text.replace(old, new, 1))
        say(f"  {path}")

    say("== lint edits (skipped where the text has changed)")
    for path, old, new in LINT_EDITS:
        f = repo / path
        if f.exists() and read(f).count(old) == 1:
            write(f, read(f).replace(old, new, 1))
            say(f"  {path}")
        else:
            say(f"  not found (fine if ruff passes): {path}: {old.strip()[:70]!r}")

    # -- 10. ruff: unused imports in split modules, import order everywhere ------------------------------------------
    say("== ruff --fix (F401 in split modules, I001 everywhere)")
    ruff = Path(sys.executable).parent / "ruff"
    ruff = str(ruff) if ruff.exists() else shutil.which("ruff")
    if ruff:
        split_files = sorted(f for f in touched | created if (repo / f).exists() and f.endswith(".py"))
        subprocess.run([ruff, "check", "--fix", "--select", "F401", "--quiet", *split_files], cwd=repo)
        subprocess.run([ruff, "check", "--fix", "--select", "I001", "--quiet", "."], cwd=repo)
    else:
        warn("ruff not found: run `ruff check --fix --select F401,I001` by hand")

    # what the script wrote or moved without git mv is staged too, so `git status` shows one change set
    new_paths = sorted({*created, *NEW_FILES, "tests/ui/conftest.py", "tests/app/conftest.py",
                        *(n for o, n in moved.items() if o not in tracked)})
    git(repo, "add", "--", *[p for p in new_paths if (repo / p).exists()], check=False)

    if not args.no_verify:
        verify(repo, ruff)
    say("\n== done")
    if WARNINGS:
        say("warnings:\n" + "\n".join(f"  - {w}" for w in WARNINGS))
    return 0


def find_cycles(repo: Path) -> list[list[str]]:
    """Strongly connected components (more than one module) of the package's import graph."""
    mods = {module_of(p.relative_to(repo).as_posix()): p for p in (repo / PKG).rglob("*.py")
            if "__pycache__" not in p.parts}
    graph: dict[str, set[str]] = {}
    for m, p in mods.items():
        out = set()
        for node in ast.walk(ast.parse(read(p))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    if f"{node.module}.{a.name}" in mods:
                        out.add(f"{node.module}.{a.name}")
                    elif node.module in mods:
                        out.add(node.module)
            elif isinstance(node, ast.Import):
                out |= {a.name for a in node.names if a.name in mods}
        out.discard(m)
        graph[m] = out
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def verify(repo: Path, ruff: str | None) -> None:
    say("== verify: import every module")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = textwrap.dedent("""
        import importlib, pkgutil, sys, traceback
        import fanqc_gui, tools
        bad = []
        names = [m.name for p in (fanqc_gui, tools) for m in pkgutil.walk_packages(p.__path__, p.__name__ + ".")
                 if not m.name.endswith(".__main__")]
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:
                bad.append(name + ": " + traceback.format_exc().strip().splitlines()[-1])
        print(f"{len(names)} modules imported, {len(bad)} failed")
        print("\\n".join(bad))
        sys.exit(1 if bad else 0)
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True)
    say(textwrap.indent((r.stdout + r.stderr[-3000:]).strip(), "  "))
    if r.returncode:
        warn("some modules do not import (see above)")
    if ruff:
        say("== verify: ruff check")
        r = subprocess.run([ruff, "check", "--output-format", "concise", "."], cwd=repo, capture_output=True,
                           text=True)
        say(textwrap.indent((r.stdout + r.stderr).strip()[-4000:], "  "))
        if r.returncode:
            warn("ruff check reports problems (see above)")
    say("== verify: import cycles between modules (function-local imports included)")
    cycles = find_cycles(repo)
    say("  none" if not cycles else "\n".join("  cycle: " + " <-> ".join(c) for c in cycles))
    if cycles:
        warn(f"{len(cycles)} import cycle(s) remain (see above)")
    li = Path(sys.executable).parent / "lint-imports"
    if li.exists():
        say("== verify: lint-imports")
        r = subprocess.run([str(li), "--no-cache"], cwd=repo, env=env, capture_output=True, text=True)
        out = r.stdout + r.stderr
        keep = [line for line in out.splitlines()
                if "KEPT" in line or "BROKEN" in line or "Contracts:" in line or "->" in line]
        say(textwrap.indent("\n".join(keep)[-4000:], "  "))
        if r.returncode:
            warn("lint-imports: a contract is broken (see above)")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as exc:
        print(exc.code, file=sys.stderr)
        sys.exit(1)
