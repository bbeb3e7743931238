"""The inspection station: frame sources, the capture thread, the pipeline (ROI -> model -> verdict),
captures, the inspection log, per-station settings, the headless runner."""
