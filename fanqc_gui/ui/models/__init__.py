"""The stored models as the Training and Insight pages show them: the model list and the chooser."""
