"""The Training page: what will be trained on, options, the network, live progress and curves, and
the comparison with the active model after a run."""
