"""Lazy TensorFlow/Keras import. TF takes seconds to import and holds the GIL, so nothing imports it at
module level: the GUI shows its window first and the station may run without TensorFlow at all."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
import threading

from fanqc_gui.core.errors import FanQCError

# C++ start-up chatter that TF prints through absl before TF_CPP_MIN_LOG_LEVEL applies.
_NOISE = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on",
          "Saved artifact at", "Endpoint 'serve'", "TensorSpec(", "Output Type:", "Captures:", "args_0",
          "Created TensorFlow Lite XNNPACK delegate", "cpu_feature_guard", "This TensorFlow binary is optimized",
          "To enable the following instructions", "WARNING: All log messages",
          "Please consider providing the trackable_obj")

_tf = None


class TensorFlowMissing(FanQCError, RuntimeError):
    pass


INSTALL_HINT = 'pip install "fanqc-gui[train]"'


def install_advice() -> str:
    """How to get TensorFlow here. A frozen build (PyInstaller) has no pip: its station variant points to the
    full build instead."""
    return "the full FanQC build has it" if getattr(sys, "frozen", False) else f"{INSTALL_HINT} adds it"


def tensorflow_available() -> bool:
    """True when TensorFlow can be imported (checked without importing it). Pages that need it ask here
    once, so a station installed without the `train` extra shows why a feature is off."""
    return importlib.util.find_spec("tensorflow") is not None


def missing_reason(feature: str) -> str | None:
    """None with TensorFlow installed, else one line saying that `feature` needs it and how to add it."""
    if tensorflow_available():
        return None
    return f"{feature}: not available, this installation has no TensorFlow ({install_advice()})."


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None in a windowed Windows build
            stream.flush()


# fds 1 and 2 are process-wide: two threads redirecting at once would restore each other's sinks.
_redirect_lock = threading.RLock()


def ensure_standard_fds() -> None:
    """Give a process started without stdin/stdout/stderr (a windowed build, `>&-`) /dev/null there, so the
    next file it opens does not become fd 1 or 2 and receive native libraries' messages."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


@contextlib.contextmanager
def quiet_native_output():
    """Capture what C++ and Python print to stdout/stderr; replay only lines that are not known noise.
    Without standard streams (a windowed build, `>&-`) there is nothing to keep clean: it just runs."""
    with _redirect_lock:
        _flush_standard_streams()
        saved: list[int] = []
        try:
            for fd in (1, 2):
                saved.append(os.dup(fd))
        except OSError:
            for fd in saved:
                os.close(fd)
            yield
            return
        with tempfile.TemporaryFile(mode="w+b") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                if sys.stderr is not None:
                    with contextlib.redirect_stdout(sys.stderr):
                        yield
                else:
                    yield
            finally:
                _flush_standard_streams()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                for fd in saved:
                    os.close(fd)
                sink.seek(0)
                text = sink.read().decode("utf-8", "replace")
                kept = [line for line in text.splitlines() if line.strip() and not any(n in line for n in _NOISE)]
                if kept and sys.stderr is not None:
                    print("\n".join(kept), file=sys.stderr)


# One import at a time: two threads importing TensorFlow at once (training's background import and a page
# that loads a model) meet in its circular imports, and Python hands one of them a half-initialised module
# ("partially initialized module ... data_structures"). After such a failure TF cannot be imported again in
# this process (its registries already hold the first half's entries), so the first error is kept and
# repeated instead of retried.
_import_lock = threading.Lock()
_tf_failure: str | None = None


class TensorFlowBroken(FanQCError, RuntimeError):
    pass


def import_tf():
    global _tf, _tf_failure
    if _tf is not None:
        return _tf
    with _import_lock:
        if _tf is not None:
            return _tf
        if _tf_failure is not None:
            raise TensorFlowBroken(_tf_failure)
        # TF_CPP_MIN_LOG_LEVEL=3 silences most of the import's C++ chatter. The import is NOT wrapped in
        # quiet_native_output: training imports TF on a background thread, and redirecting the process's
        # stdout/stderr from there swallowed whatever the main thread printed meanwhile (`fanqc train`'s own
        # error, its --json document) when it failed during the import. The CLI filters stderr instead.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            with _import_noise_filtered():
                import keras  # noqa: F401
                import tensorflow as tf
        except ImportError as exc:
            if importlib.util.find_spec("tensorflow") is None:
                advice = ("this is the station build; train with the full FanQC build"
                          if getattr(sys, "frozen", False) else f"install the training extra: {INSTALL_HINT}")
                raise TensorFlowMissing(f"TensorFlow is not installed; {advice}") from exc
            _tf_failure = _broken_message(exc)
            raise TensorFlowBroken(_tf_failure) from exc
        except Exception as exc:
            _tf_failure = _broken_message(exc)
            raise TensorFlowBroken(_tf_failure) from exc
        tf.get_logger().setLevel("ERROR")
        _tf = tf
        return tf


_filter_import_noise = False


def filter_import_noise(on: bool = True) -> None:
    """The CLI asks for it: while TensorFlow loads, the lines its C++ start-up writes to stderr whatever
    TF_CPP_MIN_LOG_LEVEL says ("WARNING: All log messages before absl::InitializeLog() ...", "oneDNN custom
    operations are on ...") are dropped, so `fanqc train` shows its own progress and messages only."""
    global _filter_import_noise
    _filter_import_noise = on


@contextlib.contextmanager
def _import_noise_filtered():
    """fd 2 through a pipe for the import: a thread forwards everything to the real stderr at once (the main
    thread's progress bars and errors) except known noise lines. Nothing is held back: when the import ends,
    fd 2 is restored and the thread has written the last bytes before this returns."""
    if not _filter_import_noise or os.name != "posix":
        yield
        return
    with _redirect_lock:  # never interleaved with quiet_native_output's own swap of fd 2
        _flush_standard_streams()
        try:
            original = os.dup(2)
            read_end, write_end = os.pipe()
        except OSError:
            yield
            return
        forwarder = threading.Thread(target=_forward_stderr, args=(read_end, original), name="tf-import-stderr",
                                     daemon=True)
        forwarder.start()
        os.dup2(write_end, 2)
        os.close(write_end)
        try:
            yield
        finally:
            _flush_standard_streams()
            os.dup2(original, 2)  # the pipe's last write end closes: the forwarder reads to the end and stops
            forwarder.join()
            os.close(original)


def _is_noise(line: bytes) -> bool:
    text = line.decode("utf-8", "replace")
    return any(n in text for n in _NOISE)


def _forward_stderr(read_end: int, out: int) -> None:
    pending = b""
    try:
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not _is_noise(line))
            if pending and not _is_noise(pending):  # a progress bar redrawn with \r, no newline: at once
                kept, pending = kept + pending, b""
            _write_all(out, kept)
        if pending and not _is_noise(pending):
            _write_all(out, pending)
    except OSError:
        pass
    finally:
        os.close(read_end)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _broken_message(exc: BaseException) -> str:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (f"TensorFlow failed to import ({type(exc).__name__}: {first}); "
            f"restart FanQC, and reinstall it if this repeats")


def release_freed_memory() -> None:
    """Hand back to the system what a TFLite conversion freed: its copies of the model's constants stay in
    glibc's per-thread heaps otherwise (~150 MB of the anomaly fit's 2 GB peak at 320x320). Elsewhere a no-op."""
    import gc

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl)
            pass


def import_keras():
    import_tf()
    import keras

    return keras
