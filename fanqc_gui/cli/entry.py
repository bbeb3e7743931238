"""`fanqc`: the inspection engine from a terminal or a script.

With --json, stdout carries exactly one JSON document; progress and logs go to stderr. User errors print
one line (`fanqc: error: ...`) and exit 2; nothing prints a traceback for bad input.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from fanqc_gui import __version__
from fanqc_gui.cli import dataset, models, predict, station, training
from fanqc_gui.cli.errors import EXIT_USER_ERROR, UserError, describe_error
from fanqc_gui.core.tf_runtime import ensure_standard_fds, filter_import_noise


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line instead of usage + error
        raise UserError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fanqc", description="FanQC inspection engine: train, evaluate, predict, manage models.")
    parser.add_argument("--version", action="version", version=f"fanqc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    for group in (training, predict, models, dataset, station):
        group.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ensure_standard_fds()
    _escape_undecodable_output()
    filter_import_noise(True)
    args = None
    try:
        args = build_parser().parse_args(argv)
        result = args.func(args)
    except KeyboardInterrupt:
        print("fanqc: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every user-facing failure becomes one line
        message, is_user_error = describe_error(exc)
        if not is_user_error:
            raise
        wants_json = getattr(args, "json", False) if args is not None else "--json" in (argv or sys.argv[1:])
        if wants_json:
            print(json.dumps({"error": message}))
        print(f"fanqc: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=_json_default))
    return 0


def _escape_undecodable_output() -> None:
    """A file name that is not valid in the terminal's encoding (Linux names are bytes) prints with its odd
    bytes escaped instead of failing the whole command after its work is done."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            try:
                reconfigure(errors="backslashreplace")
            except (OSError, ValueError):  # a replaced or closed stream: leave it as it is
                pass


def _json_default(obj):
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


if __name__ == "__main__":
    sys.exit(main())
