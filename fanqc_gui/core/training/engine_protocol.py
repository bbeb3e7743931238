"""What the GUI and the engine process say to each other: the jobs it runs and the events it sends back.

str-valued enums, so a message stays a plain picklable tuple and reads well in a log; convert at the boundary
(`Job(kind)`, `Event(name)`), which also refuses a misspelt name at once. Whether a stop still abandons a
run is an explicit event (COMMITTED), never read from the wording of a stage shown to the user.
"""
from __future__ import annotations

from enum import Enum


class Job(str, Enum):
    TRAIN = "train"  # workspace, store_root, options, name, compare -> TrainResult or None (stopped early)
    # workspace, store_root, AnomalyOptions, name, compare -> TrainResult (model None when stopped) or None
    TRAIN_ANOMALY = "train_anomaly"
    IMPORT_H5 = "import_h5"  # store_root, path, mapping, name -> ModelInfo
    EXPORT_TFLITE = "export_tflite"  # store_root, info -> ModelInfo


class Event(str, Enum):
    STAGE = "stage"  # str: what the run is doing, for the user
    DECODE = "decode"  # (done, total) images read
    BATCH = "batch"  # BatchProgress (rate-limited; each epoch's last always)
    EPOCH = "epoch"  # EpochMetrics
    WEIGHTS = "weights"  # numpy (kh, kw, in, out): the first convolution's kernel after an epoch
    COMMITTED = "committed"  # None: the run passed its point of no return; from here on it saves
    COMPARISON = "comparison"  # Comparison of the new model with the active one
    COMPARISON_FAILED = "comparison_failed"  # str: why there is no comparison (the model is saved)
