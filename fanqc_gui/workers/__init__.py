"""Qt threading glue: QObject workers that call core and emit plain data. No widgets."""
