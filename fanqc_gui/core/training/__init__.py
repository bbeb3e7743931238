"""Training a model: the recipe and its loop, the engine process that runs it beside the GUI, and the
comparison of a new model with the active one."""
