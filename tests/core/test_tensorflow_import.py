"""TensorFlow's lazy import: threads that import it at once all get it, and a process whose import broke says
so in one line every time instead of retrying into a half-imported TensorFlow."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    paths = [str(extra_path)] if extra_path else []
    env["PYTHONPATH"] = os.pathsep.join(paths + [str(ROOT)])
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_threads_importing_tensorflow_at_once_all_get_it():
    done = run_python("""
        import threading
        from fanqc_gui.core.tf_runtime import import_keras
        got, errors = [], []
        def load():
            try:
                got.append(import_keras().__name__)
            except Exception as exc:
                errors.append(repr(exc))
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(sorted(set(got)), errors)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['keras'] []"


def test_a_broken_import_is_reported_once_and_never_retried(tmp_path):
    fake = tmp_path / "keras"
    fake.mkdir()
    counter = tmp_path / "attempts"
    (fake / "__init__.py").write_text(
        f"open({str(counter)!r}, 'a').write('x')\n"
        "raise AttributeError(\"partially initialized module 'tensorflow.python.trackable.data_structures'\")\n")
    done = run_python("""
        from fanqc_gui.core.tf_runtime import import_keras
        for _ in range(3):
            try:
                import_keras()
            except Exception as exc:
                print(type(exc).__name__, "|", exc)
    """, extra_path=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3 and len(set(lines)) == 1, lines
    kind, message = lines[0].split(" | ")
    assert kind == "TensorFlowBroken"
    assert "TensorFlow failed to import" in message and "partially initialized" in message
    assert "restart FanQC" in message
    assert counter.read_text() == "x"  # imported once, not three times
