"""Qt-free inspection engine: datasets, the one preprocessing, models, training, evaluation, inference.

Nothing in this package imports Qt; TensorFlow is imported lazily inside the functions that need it.
"""
