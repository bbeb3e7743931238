"""Export to TFLite for the LiteRT backend, and import of old Keras .h5 models."""
from __future__ import annotations

from pathlib import Path

from fanqc_gui import __version__
from fanqc_gui.core.dataset.workspace import ClassMapping
from fanqc_gui.core.imaging import PreprocessSpec
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore, ModelStoreError, now_iso
from fanqc_gui.core.tf_runtime import import_keras, import_tf, quiet_native_output


def keras_to_tflite(model) -> bytes:
    """A one-input, one-output Keras model as float32 TFLite. The model's graph is frozen here and converted
    directly: 1.1 s instead of 3.5 s for EfficientNet-Lite0 at 224 px (from_keras_model writes a SavedModel
    to disk and reads it back), the same bytes' worth of model, outputs identical. Should that path fail
    (a TensorFlow that dropped it), the SavedModel route converts."""
    tf = import_tf()
    with quiet_native_output():
        if len(model.inputs) == 1 and len(model.outputs) == 1:
            try:
                return _frozen_converter(tf, model).convert()
            except Exception:  # noqa: BLE001 - the standard route below converts or says why
                pass
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        return converter.convert()


def _frozen_converter(tf, model):
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec(model.inputs[0].shape, model.inputs[0].dtype, name="image")
    function = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    # Without the model as trackable_obj: passing it sends the converter through a SavedModel again.
    return tf.lite.TFLiteConverter.from_concrete_functions(
        [convert_variables_to_constants_v2(function.get_concrete_function())])


def export_tflite(store: ModelStore, info: ModelInfo) -> ModelInfo:
    model = store.load_keras(info)
    store.write_tflite(info.id if info.folder.parent == store.root.resolve() else info.folder,
                       keras_to_tflite(model))
    return store.get(info.folder)


# The reference script's pipeline: ImageDataGenerator(rescale=1/255) + flow_from_directory, which loads
# through PIL and resizes with PIL's NEAREST (= OpenCV's INTER_NEAREST_EXACT), and labels folders in
# alphabetical order, so the sigmoid is P(the folder that sorts last).
REFERENCE_INTERPOLATION = "nearest_exact"


def import_h5(store: ModelStore, h5_path: str | Path, mapping: ClassMapping | None = None,
              name: str | None = None, threshold: float = 0.5) -> ModelInfo:
    """Bring a Keras binary classifier (one sigmoid output) into the store, recording the reference
    script's preprocessing and label order so it predicts exactly as it did there."""
    keras = import_keras()
    h5_path = Path(h5_path)
    mapping = mapping or ClassMapping()
    if not h5_path.is_file():
        raise ModelStoreError(f"model file not found: {h5_path}")
    try:
        model = keras.saving.load_model(h5_path, safe_mode=True, compile=False)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelStoreError(f"cannot load {h5_path.name} as a Keras model: {first}") from None
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelStoreError(f"{h5_path.name} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                              f"a binary classifier has one of each")
    in_shape = tuple(model.inputs[0].shape)
    out_shape = tuple(model.outputs[0].shape)
    if len(in_shape) != 4 or in_shape[3] != 3 or in_shape[1] is None or in_shape[2] is None:
        raise ModelStoreError(f"{h5_path.name} takes input {in_shape}; expected (None, height, width, 3)")
    if out_shape[1:] != (1,):
        raise ModelStoreError(f"{h5_path.name} outputs {out_shape}; expected one sigmoid value")
    last_activation = getattr(model.layers[-1], "activation", None)
    if getattr(last_activation, "__name__", "") != "sigmoid":
        raise ModelStoreError(f"{h5_path.name} does not end in a sigmoid; cannot read its output as a probability")
    height, width = int(in_shape[1]), int(in_shape[2])
    # Alphabetical order decides which folder is 1: if NG's folder sorts first, the output is P(GO).
    invert = sorted([mapping.go_folder, mapping.ng_folder])[1] != mapping.ng_folder
    spec = PreprocessSpec(width=width, height=height, interpolation=REFERENCE_INTERPOLATION)
    tf = import_tf()
    metadata = {
        "name": name or h5_path.stem, "created": now_iso(), "source": "imported",
        "imported_from": str(h5_path.resolve()), "app_version": __version__,
        "tensorflow_version": tf.__version__, "keras_version": keras.__version__,
        "architecture": "imported", "class_mapping": mapping.to_dict(),
        "label_order": "alphabetical folder names (Keras flow_from_directory)",
        "invert_output": invert,
        "preprocessing": spec.to_dict(), "input_size": [height, width, 3],
        "threshold": float(threshold), "threshold_rule": {"source": "default 0.5 (import)"},
        "training": {}, "dataset": {}, "history": [], "validation": {},
    }
    return store.save(model, metadata, keras_to_tflite(model))
