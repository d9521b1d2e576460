"""Reads PyTorch/detectron2 checkpoints without PyTorch: numpy arrays only.

Two formats (what detectron2's `DetectionCheckpointer` loads):

- `.pkl`: a plain pickle of `{"model": {name: numpy array}, "__author__": ...}` (detectron2's model
  zoo format; a pickle without "model" is taken as the state dict itself);
- `.pth`: `torch.save`'s zip archive (PyTorch ≥ 1.6): `<prefix>/data.pkl` pickles the object,
  whose tensors refer through persistent ids `("storage", StorageClass, key, location, numel)`
  to the raw little-endian bytes in `<prefix>/data/<key>`; tensors are rebuilt by
  `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.

Unpickling runs arbitrary code when any global may be loaded, so both readers use an Unpickler
whose `find_class` answers only the handful of names these files need (containers, numpy's array
reconstruction, tensor rebuilding, storage classes) with functions of our own or numpy's array
constructors; anything else is refused by name.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from typing import Dict, Tuple

import numpy as np

from .errors import ConversionError

ZIP_MAGIC = b"PK\x03\x04"
# torch.save's legacy (pre-1.6) format starts with this pickled magic number.
LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C

# torch storage class -> numpy dtype ("BFloat16" has none: read as uint16 and widened).
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name]).newbyteorder("<")


class _Storage:
    def __init__(self, array: np.ndarray, bfloat16: bool):
        self.array = array
        self.bfloat16 = bfloat16


def _bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused) -> np.ndarray:
    """torch._utils._rebuild_tensor_v2 on our storages: a strided view, copied."""
    if not isinstance(storage, _Storage):
        raise ConversionError("a tensor refers to something that is not a storage")
    try:
        size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(storage_offset)
    except (TypeError, ValueError):
        raise ConversionError("a tensor has a malformed size or stride") from None
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ConversionError(f"a tensor has a malformed layout (size {size}, stride {stride})")
    data = storage.array
    if 0 in size:
        out = np.zeros(size, data.dtype)
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= data.size:
            raise ConversionError(f"a tensor of size {list(size)} reads past its storage "
                                  f"({data.size} elements): truncated or corrupt checkpoint")
        item = data.itemsize
        out = np.lib.stride_tricks.as_strided(data[offset:], size, [s * item for s in stride]).copy()
    return _bfloat16_to_float32(out) if storage.bfloat16 else out


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *unused):
    return data


def _rebuild_from_type(func, new_type, args, state=None):
    """torch._tensor._rebuild_from_type_v2 (a tensor saved with its Python type): the type is a
    marker here; the data is what `func` rebuilds."""
    return func(*args)


class _TypeMarker:
    """Stands for torch.Tensor / nn.Parameter when a pickle names the type: never called."""


def _numpy_core():
    return getattr(np, "_core", None) or np.core


class _RestrictedUnpickler(pickle.Unpickler):
    """Answers only the globals a checkpoint needs; `storages` resolves torch's persistent ids."""

    def __init__(self, file, archive=None, prefix: str = ""):
        super().__init__(file, encoding="latin1")
        self.archive = archive
        self.prefix = prefix
        self.storages: Dict[str, _Storage] = {}

    def find_class(self, module: str, name: str):
        import collections
        allowed = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
            ("builtins", "slice"): slice, ("__builtin__", "set"): set,
            ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
            ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
            ("torch", "Tensor"): _TypeMarker, ("torch.nn.parameter", "Parameter"): _TypeMarker,
            ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
        }
        for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
            allowed[(core, "_reconstruct")] = _numpy_core().multiarray._reconstruct
            allowed[(core, "scalar")] = _numpy_core().multiarray.scalar
        if (module, name) in allowed:
            return allowed[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"the checkpoint's pickle asks for the global '{module}.{name}', "
                                     f"which a weights file does not need; refused")

    def persistent_load(self, pid):
        if self.archive is None:
            raise pickle.UnpicklingError("a persistent id outside a torch zip archive")
        if (not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage"
                or not isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unknown persistent id {str(pid)[:80]}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if key not in self.storages:
            entry = f"{self.prefix}data/{key}"
            try:
                raw = _read_member(self.archive, entry)
            except KeyError:
                raise ConversionError(f"the archive lacks the storage '{entry}'") from None
            dtype = storage_type.dtype
            if len(raw) % dtype.itemsize:
                raise ConversionError(f"storage '{entry}' has {len(raw)} bytes, not a multiple of "
                                      f"{dtype.itemsize}: truncated or corrupt checkpoint")
            array = np.frombuffer(raw, dtype)
            if isinstance(numel, int) and array.size < numel:
                raise ConversionError(f"storage '{entry}' holds {array.size} of its {numel} "
                                      f"elements: truncated or corrupt checkpoint")
            self.storages[key] = _Storage(array, storage_type.name == "BFloat16Storage")
        return self.storages[key]


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """torch.save stores its members uncompressed; a member that claims to expand far beyond the
    archive's own size (a zip bomb) is refused before it is inflated."""
    info = archive.getinfo(name)
    limit = 16 * max(sum(i.compress_size for i in archive.infolist()), 1 << 20)
    if info.file_size > limit:
        raise ConversionError(f"the archive member '{name}' claims {info.file_size} bytes, far more "
                              f"than the archive holds: refused")
    return archive.read(name)


def _load_pickle(data: bytes, what: str, archive=None, prefix: str = ""):
    try:
        return _RestrictedUnpickler(io.BytesIO(data), archive, prefix).load()
    except ConversionError:
        raise
    except pickle.UnpicklingError as error:
        raise ConversionError(f"{what}: {error}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            UnicodeDecodeError, zipfile.BadZipFile, MemoryError, OverflowError) as error:
        raise ConversionError(f"{what}: truncated or corrupt pickle ({type(error).__name__}: "
                              f"{' '.join(str(error).split())[:120]})") from None


def _read_torch_zip(data: bytes, path: str):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise ConversionError(f"{path}: not a readable torch zip archive ({error})") from None
    pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise ConversionError(f"{path}: a zip archive without one '<name>/data.pkl': not a "
                              f"torch.save checkpoint")
    prefix = pickles[0][: -len("data.pkl")]
    byteorder = prefix + "byteorder"
    try:
        if byteorder in names and archive.read(byteorder).strip() not in (b"", b"little"):
            raise ConversionError(f"{path}: a big-endian torch archive is not supported")
        return _load_pickle(_read_member(archive, pickles[0]), path, archive, prefix)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        # zlib/CRC errors of a damaged member surface here, not at open time
        raise ConversionError(f"{path}: corrupt torch zip archive ({error})") from None


def read_checkpoint(path: str) -> Tuple[Dict[str, np.ndarray], str]:
    """Returns the model's state dict as {name: numpy array} and the format read."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise ConversionError(f"cannot read '{path}': {error.strerror}") from None
    if data[:4] == ZIP_MAGIC:
        obj, kind = _read_torch_zip(data, path), "torch zip (.pth)"
    elif data[:1] == b"\x80" or data[:1] in (b"(", b"}"):
        obj, kind = _load_pickle(data, path), "pickle (.pkl)"
        if isinstance(obj, int) and obj == LEGACY_TORCH_MAGIC:
            raise ConversionError(f"{path}: torch.save's legacy (pre-1.6) format is not supported; "
                                  f"re-save it with torch.save(..., _use_new_zipfile_serialization=True)")
    else:
        raise ConversionError(f"{path}: neither a pickle (.pkl) nor a torch zip archive (.pth)")
    if not isinstance(obj, dict):
        raise ConversionError(f"{path}: the checkpoint holds a {type(obj).__name__}, not a dict")
    state = obj["model"] if "model" in obj else obj
    if not isinstance(state, dict):
        raise ConversionError(f"{path}: 'model' is a {type(state).__name__}, not a dict of tensors")
    weights: Dict[str, np.ndarray] = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise ConversionError(f"{path}: a state dict key {name!r} is not a string")
        if isinstance(value, np.generic):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray):
            raise ConversionError(f"{path}: '{name}' is a {type(value).__name__}, not a tensor")
        weights[name] = value
    return weights, kind
