"""Reads a PyTorch state dict saved in the legacy (non-zip, torch < 1.6) format into numpy arrays, without
torch and without running code from the file.

The legacy format is a sequence of pickles: a magic number, the protocol version (1001), system info, the
state dict itself (tensors refer to storages through persistent ids), the list of storage keys, and then
each storage's raw bytes in that order, each preceded by its element count (int64, little-endian).

A pickle can name any Python callable and make the unpickler call it (`os.system` included). This
unpickler resolves only the few names a state dict needs (OrderedDict, the tensor rebuild function and
the storage types) to harmless stand-ins, and refuses every other name.
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fanqc_gui.core.errors import FanQCError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
MAX_ELEMENTS = 1 << 31  # a storage larger than this is a damaged header, not weights


class LegacyTorchError(FanQCError, ValueError):
    """The file is not a legacy torch state dict this reader accepts; the message says why."""


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self):
        return np.dtype(STORAGE_DTYPES[self.name])


@dataclass
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None  # filled in after the state dict's pickle


@dataclass
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple
    stride: tuple

    def to_numpy(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise LegacyTorchError(f"storage {self.storage.key} has no data")
        if not self.size:
            return data[self.offset:self.offset + 1].reshape(()).copy()
        extent = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if self.offset < 0 or any(s < 0 for s in self.stride) or extent > len(data):
            raise LegacyTorchError(f"a tensor of shape {self.size} reaches past its storage {self.storage.key}")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size,
                                               strides=tuple(s * item for s in self.stride), writeable=False)
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, _StorageRef):
        raise LegacyTorchError("a tensor refers to something that is not a storage")
    return _TensorRef(storage, int(storage_offset), tuple(int(v) for v in size), tuple(int(v) for v in stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, fh, storages: dict[str, _StorageRef]):
        super().__init__(fh, encoding="utf-8")
        self._storages = storages

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise LegacyTorchError(f"the file asks to load {module}.{name}, which a weights file never needs: "
                                   f"refused") from None

    def persistent_load(self, pid):
        # ("storage", type, key, location, element count, view metadata: None except in very old files)
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage" and pid[5] is None):
            raise LegacyTorchError(f"unexpected storage reference {pid!r:.80}")
        _, storage_type, key, _location, numel, _view = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(numel, int) or not 0 <= numel < MAX_ELEMENTS:
            raise LegacyTorchError("damaged storage reference")
        key = str(key)
        if key not in self._storages:
            self._storages[key] = _StorageRef(key, storage_type.dtype, numel)
        return self._storages[key]


def _plain_load(fh):
    """One of the small header pickles: plain data only, no names at all."""
    return _RestrictedUnpickler(fh, {}).load()


def read_legacy_state_dict(source: str | Path | bytes) -> dict[str, np.ndarray]:
    """{name: array} from a legacy torch state dict file (or its bytes). Raises LegacyTorchError."""
    data = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    if data[:2] == b"PK":
        raise LegacyTorchError("this is a zip-format torch file; only the legacy format is read")
    fh = io.BytesIO(data)
    storages: dict[str, _StorageRef] = {}
    try:
        if _plain_load(fh) != MAGIC_NUMBER:
            raise LegacyTorchError("not a torch file (wrong magic number)")
        if _plain_load(fh) != PROTOCOL_VERSION:
            raise LegacyTorchError("unsupported torch file protocol")
        info = _plain_load(fh)
        if not isinstance(info, dict) or not info.get("little_endian", False):
            raise LegacyTorchError("only little-endian torch files are read")
        state = _RestrictedUnpickler(fh, storages).load()
        keys = _plain_load(fh)
    except LegacyTorchError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated or garbled pickle data: EOFError, UnpicklingError...
        raise LegacyTorchError(f"damaged torch file ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        raise LegacyTorchError("damaged torch file (storage list does not match the tensors)")
    for key in keys:
        ref = storages[str(key)]
        head = fh.read(8)
        if len(head) != 8:
            raise LegacyTorchError("damaged torch file (ends before its weights do)")
        (count,) = struct.unpack("<q", head)
        if count != ref.numel:
            raise LegacyTorchError(f"damaged torch file (storage {key} holds {count} values, expected {ref.numel})")
        raw = fh.read(count * ref.dtype.itemsize)
        if len(raw) != count * ref.dtype.itemsize:
            raise LegacyTorchError("damaged torch file (ends before its weights do)")
        ref.data = np.frombuffer(raw, dtype=ref.dtype.newbyteorder("<"))
    if not isinstance(state, dict):
        raise LegacyTorchError("the file does not hold a state dict")
    out: dict[str, np.ndarray] = {}
    for name, value in state.items():
        if isinstance(value, _TensorRef):
            out[str(name)] = value.to_numpy()
    return out
