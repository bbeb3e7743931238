"""`fanqc` run as a user runs it, and how its output names a file: helpers of the bad-input corpus tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

TIMEOUT_S = 180  # a hang fails the test instead of the suite


@dataclass
class Run:
    args: tuple
    returncode: int
    stdout: str
    stderr: str

    @property
    def document(self):
        return json.loads(self.stdout)

    def assert_clean(self, *codes: int) -> None:
        """Exit status among codes, and never a traceback."""
        assert "Traceback" not in self.stderr, f"fanqc {self.args[0]} printed a traceback:\n{self.stderr[-3000:]}"
        assert self.returncode in codes, f"exit {self.returncode}\n{self.stderr[-3000:]}"


def fanqc(*args, timeout: float = TIMEOUT_S, cwd=None) -> Run:
    """`fanqc ARGS` in a new process. Output is read as the bytes a terminal gets (surrogateescape for names
    that are not UTF-8). Its stdout is strict UTF-8, as in a user's en_US.UTF-8 terminal, so a file name that is
    not UTF-8 printed raw would fail as it does for them."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONIOENCODING": "utf-8:strict", "PYTHONUTF8": "0"}
    proc = subprocess.run([sys.executable, "-m", "fanqc_gui.cli", *map(os.fspath, args)], capture_output=True,
                          timeout=timeout, env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    decode = lambda b: b.decode("utf-8", "surrogateescape")  # noqa: E731
    return Run(tuple(map(os.fspath, args)), proc.returncode, decode(proc.stdout), decode(proc.stderr))


def shown_forms(path) -> set[str]:
    """How a path may appear in fanqc's text output: as is, or with undecodable bytes escaped."""
    text = os.fspath(path)
    return {text, text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace"),
            repr(text)[1:-1]}


def names_with_reason(output: str, path, words: str) -> bool:
    """The output names path with a reason containing words on the same line (before or after the name)."""
    low = output.lower()
    for form in shown_forms(path):
        start = output.find(form)
        while start != -1:
            line_start = low.rfind("\n", 0, start) + 1
            line_end = low.find("\n", start + len(form))
            if words in low[line_start:start] or words in low[start + len(form):line_end if line_end != -1 else None]:
                return True
            start = output.find(form, start + 1)
    return False
