"""Trained models: the network and its pretrained backbone, the model store and metadata, inference
backends, export, the station's int8 variant, metrics and the threshold, the shipped demo model."""
