"""The pretrained preset's model.tflite without a second conversion per run.

Converting the classifier (build_classifier) to TFLite takes 8-12 s on 2 cores, and every run of a preset
with the same input size and orientation views converts the same network: only the head's 720 weights and
its bias differ. So the network is converted once with a template head (`template_model`, kept in the workspace's
cache like the backbone's TFLite), and each run writes its own head into a copy (`with_head`): the weights of
the last FULLY_CONNECTED operator are plain float32 bytes in the flatbuffer (times 1/V with V views: the
converter folds the views' mean into them). The copy is then checked against
the trained head on real images by the caller; a copy that disagrees is replaced by a full conversion.

With one view the classifier is the feature network plus the head, and the feature network's TFLite is
already there (it computed the features): `append_head` adds the template head's two operators to it, so
even a run's first model.tflite costs no conversion (3.5 s of a 33 s casting run).
"""
from __future__ import annotations

import numpy as np

from fanqc_gui.core.models.backbone.classifier import build_classifier, feature_dim


class HeadNotFound(ValueError):
    """The template's last fully connected layer is not the head it was built with."""


def template_kernel() -> np.ndarray:
    """Distinct, recognisable weights: the template's head is found by them, not by a layer name."""
    return (np.arange(feature_dim(), dtype=np.float32) + 1.0) * np.float32(1.0 / 1024.0)


TEMPLATE_BIAS = np.float32(0.8125)


def template_model(feature_model, variants: int):
    """The classifier with the template head: the Keras model to convert once."""
    return build_classifier(feature_model, template_kernel(), float(TEMPLATE_BIAS), variants)


def with_head(template_tflite: bytes, kernel: np.ndarray, bias: float) -> bytes:
    """A copy of the template with the head's kernel (feature_dim(),) and bias written in. Raises HeadNotFound
    when the template's last fully connected operator does not hold the template head's exact weights."""
    from tensorflow.lite.python import schema_py_generated as schema  # training only: TensorFlow is loaded

    data = bytearray(template_tflite)
    model = schema.Model.GetRootAs(data, 0)
    graph = model.Subgraphs(0)
    fully_connected = [graph.Operators(i) for i in range(graph.OperatorsLength())
                       if model.OperatorCodes(graph.Operators(i).OpcodeIndex()).BuiltinCode()
                       == schema.BuiltinOperator.FULLY_CONNECTED]
    if not fully_connected or fully_connected[-1].InputsLength() != 3:
        raise HeadNotFound("the template has no fully connected head with a bias")
    inputs = fully_connected[-1].InputsAsNumpy()
    (k_at, k_len), (b_at, b_len) = [_buffer_span(model, graph.Tensors(int(i)).Buffer()) or (0, 0)
                                    for i in inputs[1:]]
    template_k = template_kernel()
    if k_len != template_k.nbytes or b_len != 4 or bytes(data[b_at:b_at + 4]) != TEMPLATE_BIAS.tobytes():
        raise HeadNotFound("the template's head is not where it was written")
    # The converter folds a constant scale in front of the head into its weights (the mean over V orientation
    # views: kernel / V), so the weights found are the template's times one number, which this head gets too.
    stored = np.frombuffer(bytes(data[k_at:k_at + k_len]), np.float32)
    scale = stored[0] / template_k[0]
    if not np.allclose(stored, template_k * scale, rtol=1e-6, atol=0.0):
        raise HeadNotFound("the template's head weights are not the ones it was built with")
    kernel = np.asarray(kernel, np.float32).reshape(-1)
    if kernel.nbytes != k_len:
        raise HeadNotFound(f"the head has {kernel.size} weights, the template {template_k.size}")
    data[k_at:k_at + k_len] = (kernel * np.float32(scale)).astype(np.float32).tobytes()
    data[b_at:b_at + 4] = np.float32(bias).tobytes()
    return bytes(data)


def append_head(features_tflite: bytes) -> bytes:
    """The one-view template from the feature network's TFLite (one output: the pooled features, N x D):
    FULLY_CONNECTED with the template head, then LOGISTIC, the classifier's output (N x 1, P(NG))."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(features_tflite), 0)
    graph = model.subgraphs[0]
    if len(model.subgraphs) != 1 or len(graph.outputs) != 1:
        raise HeadNotFound("the feature network's TFLite does not have one graph with one output")
    features = int(graph.outputs[0])
    depth = int(graph.tensors[features].shape[-1])
    if depth != feature_dim():
        raise HeadNotFound(f"the feature network gives {depth} features, the head takes {feature_dim()}")

    def buffer(values: np.ndarray) -> int:
        entry = schema.BufferT()
        entry.data = np.frombuffer(np.ascontiguousarray(values).tobytes(), np.uint8)
        model.buffers.append(entry)
        return len(model.buffers) - 1

    def tensor(name: str, shape: list[int], data: int = 0) -> int:
        entry = schema.TensorT()
        entry.name, entry.type, entry.buffer = name.encode(), schema.TensorType.FLOAT32, data
        entry.shape = np.array([1 if n < 0 else n for n in shape], np.int32)
        entry.shapeSignature = np.array(shape, np.int32)
        graph.tensors.append(entry)
        return len(graph.tensors) - 1

    def operator(code: int, inputs: list[int], outputs: list[int], options=None, kind: int = 0):
        codes = [c.builtinCode for c in model.operatorCodes]
        if code not in codes:
            entry = schema.OperatorCodeT()
            entry.builtinCode, entry.deprecatedBuiltinCode, entry.version = code, min(code, 127), 1
            model.operatorCodes.append(entry)
            codes.append(code)
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = codes.index(code), inputs, outputs
        op.builtinOptionsType, op.builtinOptions = kind, options
        graph.operators.append(op)

    weights = tensor("p_ng/kernel", [1, depth], buffer(template_kernel().reshape(1, depth)))
    bias = tensor("p_ng/bias", [1], buffer(np.array([TEMPLATE_BIAS], np.float32)))
    logit, p_ng = tensor("p_ng/logit", [-1, 1]), tensor("p_ng", [-1, 1])
    operator(schema.BuiltinOperator.FULLY_CONNECTED, [features, weights, bias], [logit],
             schema.FullyConnectedOptionsT(), schema.BuiltinOptions.FullyConnectedOptions)
    operator(schema.BuiltinOperator.LOGISTIC, [logit], [p_ng])
    graph.outputs = [p_ng]
    for signature in model.signatureDefs or []:
        for output in signature.outputs or []:
            if output.tensorIndex == features:
                output.tensorIndex = p_ng
    builder = flatbuffers.Builder(len(features_tflite) + 65536)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _buffer_span(model, index: int) -> tuple[int, int] | None:
    """(offset, length) of a buffer's bytes inside the flatbuffer; None when kept outside it (> 2 GB models)."""
    table = model.Buffers(index)._tab
    field = table.Offset(4)  # Buffer.data
    if not field:
        return None
    return table.Vector(field), table.VectorLen(field)
