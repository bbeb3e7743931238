#!/bin/sh
# Smoke test of a BUILT FanQC folder (not the source tree): `sh packaging/smoke-test.sh dist/FanQC`.
#
# Always: fanqc-gui --self-test (or --version where the build has no --self-test yet), fanqc --version/--help,
# fanqc demo-data. With SMOKE_FULL=1 also: a 1-epoch `fanqc train` (TensorFlow in the frozen app; skipped for
# a build without TensorFlow), `fanqc predict` and `fanqc evaluate` with that model (LiteRT). Everything it
# writes (settings, model store, demo data) goes to a temporary folder.
set -eu

APP=${1:-dist/FanQC}
APP=$(cd "$APP" && pwd -P)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fanqc-smoke.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
export QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=3
export FANQC_DATA_DIR="$TMP/data" FANQC_CONFIG_DIR="$TMP/config" FANQC_MODELS="$TMP/models"
cd "$TMP"  # nothing may come from the current directory

step() { printf 'smoke: %s\n' "$*"; }
fail() { printf 'smoke: FAILED: %s\n' "$*" >&2; exit 1; }

for exe in fanqc-gui fanqc; do [ -x "$APP/$exe" ] || fail "$APP/$exe missing"; done

if "$APP/fanqc-gui" --help 2>/dev/null | grep -q -- --self-test; then
    step "fanqc-gui --self-test"
    "$APP/fanqc-gui" --self-test || fail "fanqc-gui --self-test exited $?"
else
    step "fanqc-gui --version (this build has no --self-test)"
    "$APP/fanqc-gui" --version || fail "fanqc-gui --version"
fi

step "fanqc --version / --help"
"$APP/fanqc" --version || fail "fanqc --version"
"$APP/fanqc" --help >/dev/null || fail "fanqc --help"

step "fanqc demo-data"
"$APP/fanqc" demo-data "$TMP/demo" --per-class 40 --json --quiet > "$TMP/demo.json" || fail "fanqc demo-data"
[ -d "$TMP/demo" ] || fail "fanqc demo-data made no folder"

if [ "${SMOKE_FULL:-0}" = 1 ]; then
    if [ -d "$APP/_internal/tensorflow" ]; then
        step "fanqc train (the default preset: the ImageNet backbone's weights in the frozen app)"
        "$APP/fanqc" train "$TMP/demo" --json --quiet --models "$TMP/pretrained" > "$TMP/pretrained.json" \
            || fail "fanqc train (default preset)"
        step "fanqc train --preset reference (3 epochs; TensorFlow in the frozen app)"
        "$APP/fanqc" train "$TMP/demo" --preset reference --epochs 3 --json --quiet --activate > "$TMP/train.json" \
            || fail "fanqc train"
        MODEL=$(ls -d "$FANQC_MODELS"/*/ | head -n 1)
        [ -f "$MODEL/model.tflite" ] || fail "the trained model has no model.tflite ($MODEL)"
        step "fanqc predict / evaluate (LiteRT) with the new model"
        "$APP/fanqc" predict "$MODEL" "$TMP/demo" --backend litert --json --quiet > "$TMP/predict.json" \
            || fail "fanqc predict"
        "$APP/fanqc" evaluate "$MODEL" "$TMP/demo" --backend litert --json --quiet > "$TMP/evaluate.json" \
            || fail "fanqc evaluate --backend litert"
    else
        step "no TensorFlow in this build: train/predict skipped (the station build predicts from model.tflite)"
    fi
fi
step "OK ($APP)"
