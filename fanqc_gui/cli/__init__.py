"""The `fanqc` command: one module per command group (dataset, training, predict, models, station), each
registering its sub-commands with set_defaults(func=...); entry.py builds the parser and runs the command."""
from fanqc_gui.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
