"""`python -m tools.build_demo_model`: train the demo model on generated parts (seed 1) and write the
files shipped in fanqc_gui/resources/demo_model (needs TensorFlow, about a minute)."""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from fanqc_gui.core.atomic_io import write_json_atomic
from fanqc_gui.core.models.demo_model import DEMO_IMAGE_SIZE, DEMO_MODEL_ID, DEMO_TRAINING_SEED
from fanqc_gui.core.models.fast_model import FAST_TFLITE_FILE
from fanqc_gui.core.models.model_store import KERAS_FILE, METADATA_FILE, TFLITE_FILE, ModelStore


def build_demo_model(out_dir: Path, epochs: int = 15) -> dict:
    """Train the demo model on generated parts and write the three shipped files into out_dir."""
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.tf_runtime import import_keras
    from fanqc_gui.core.training.trainer import TrainOptions, train

    keras = import_keras()
    with tempfile.TemporaryDirectory(prefix="fanqc-demo-model-") as tmp:
        root = Path(tmp) / "workspace"
        generate_demo_workspace(root, seed=DEMO_TRAINING_SEED, inbox=0)
        store = ModelStore(Path(tmp) / "models")
        options = TrainOptions(preset="reference", image_size=DEMO_IMAGE_SIZE, epochs=epochs, early_stopping=False)
        result = train(open_workspace(root), store, options, name="Demo model (synthetic fans, 48 px)",
                       use_disk_cache=False)
        info = result.model
        out_dir.mkdir(parents=True, exist_ok=True)
        # Without the optimizer's state the Keras file is a third of the size; nothing resumes training.
        model = keras.saving.load_model(info.keras_path, safe_mode=True, compile=False)
        model.save(out_dir / KERAS_FILE)
        shutil.copyfile(info.tflite_path, out_dir / TFLITE_FILE)
        shutil.copyfile(info.folder / FAST_TFLITE_FILE, out_dir / FAST_TFLITE_FILE)
        metadata = {**info.metadata, "id": DEMO_MODEL_ID, "source": "demo",
                    # The training images were generated in a temp folder that no longer exists; the demo
                    # workspace's files have the same names but are other parts, so none are listed.
                    "dataset": {**info.metadata["dataset"],
                                "root": f"generated demo parts (fanqc demo-data --seed {DEMO_TRAINING_SEED})"},
                    "validation_files": []}
        write_json_atomic(out_dir / METADATA_FILE, metadata)
        return metadata


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "fanqc_gui" / "resources" / "demo_model"
    meta = build_demo_model(target)
    print(f"wrote {target}: validation accuracy {meta['validation']['accuracy']:.4f}, "
          f"threshold {meta['threshold']:.4f}", file=sys.stderr)
