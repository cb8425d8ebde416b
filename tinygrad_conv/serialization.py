"""Checkpoints as plain ``.npz`` files: ``tc.save(model.state_dict(), path)``, ``tc.load(path)``.

Only numeric arrays go in and come out. Loading never unpickles, so a
downloaded checkpoint cannot run code: a file holding Python objects is
refused with ``ValueError``.
"""
import json
import math
import numbers
import os
import zipfile

import numpy as np

from .tensor import Tensor

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members / an empty zip


_PICKLE_PROTO = 0x80  # the first byte of a pickle (protocol 2+): PyTorch's legacy torch.save format

_PYTORCH_HOWTO = (
    "PyTorch checkpoints are pickles, which are never loaded here (unpickling can run arbitrary code). "
    "Convert it once, in PyTorch: `sd = torch.load(path, map_location=\"cpu\"); "
    "tc_compatible = {k: v.numpy() for k, v in sd.items()}`, then save `tc_compatible` with "
    "`tinygrad_conv.save(tc_compatible, \"model.npz\")` (from a process where both are installed) "
    "or `numpy.savez(\"model.npz\", **tc_compatible)`, and load that file"
)


def _is_pytorch_zip(names):
    """A ``torch.save`` zip: an ``archive/data.pkl`` member, or tensor storages under ``archive/data/``."""
    for name in names:
        parts = name.split("/")
        if name.endswith(".pkl") or ("data" in parts[:-1] and not name.endswith(".npy")):
            return True
    return False


_STRUCTURE = "__structure__"  # the member that describes a nested checkpoint (JSON text as uint8)


def _leaf_array(value, where):
    """A Tensor, array or number as a numeric NumPy array; anything else is a ``TypeError``."""
    if isinstance(value, Tensor):
        value = value.numpy()
    elif isinstance(value, numbers.Number) and not isinstance(value, complex):
        value = np.asarray(value)  # read back as a 0-d array
    if not isinstance(value, np.ndarray):
        raise TypeError(f"save: {where} must be a Tensor, an np.ndarray or a number, got {type(value).__name__}")
    if value.dtype.kind not in "biufc":
        raise TypeError(f"save: {where} must hold numbers, got dtype {value.dtype} (it would need pickle)")
    return value


def _describe(obj, arrays, where):
    """``obj`` (nested dicts, lists and tuples of arrays, Tensors, numbers, strings, None) as
    JSON-ready data; arrays and Tensors go into ``arrays`` under generated names."""
    if isinstance(obj, (Tensor, np.ndarray)):
        name = f"{len(arrays)}"
        arrays[name] = _leaf_array(obj, where)
        return {"array": name}
    if obj is None or isinstance(obj, (bool, str)):
        return {"value": obj}
    if isinstance(obj, numbers.Integral):
        return {"value": int(obj)}
    if isinstance(obj, numbers.Real):
        return {"value": float(obj)}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: keys in {where} must be strings or ints, got {type(k).__name__} {k!r}")
        return {"dict": [[k, _describe(v, arrays, f"{where}[{k!r}]")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_describe(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    raise TypeError(f"save: {where} is a {type(obj).__name__}; checkpoints hold arrays, Tensors, numbers, strings, "
                    "None and dicts/lists/tuples of them (nothing that would need pickle)")


def _rebuild(desc, arrays):
    (kind, body), = desc.items()
    if kind == "array":
        return arrays[body]
    if kind == "value":
        return body
    if kind == "dict":
        return {k: _rebuild(v, arrays) for k, v in body}
    items = [_rebuild(v, arrays) for v in body]
    return items if kind == "list" else tuple(items)


def save(obj, f):
    """Write ``obj`` to ``f`` (a path or a binary file object) as an ``.npz`` archive.

    A flat ``{name: Tensor, np.ndarray or number}`` (a model's ``state_dict()``) is one
    ``.npy`` member per name, readable by ``np.load`` too. Anything nested (an
    optimizer's ``state_dict()``, a checkpoint dict of both, lists, strings, None)
    is stored as its arrays plus a JSON description of the structure, never a
    pickle. The file is written at exactly ``f``, replacing any file there (unlike
    ``np.savez``, no ``.npz`` is appended). Anything else is a ``TypeError``.
    """
    if not hasattr(obj, "items"):
        raise TypeError(f"save: expected a dict (e.g. a state_dict), got {type(obj).__name__}")
    flat = all(isinstance(k, str) and k != _STRUCTURE for k in obj) and all(
        isinstance(v, (Tensor, np.ndarray)) or (isinstance(v, numbers.Number) and not isinstance(v, complex))
        for v in obj.values())
    if flat:
        arrays = {key: _leaf_array(value, repr(key)) for key, value in obj.items()}
    else:
        arrays = {}
        structure = json.dumps(_describe(obj, arrays, "the object"))
        arrays[_STRUCTURE] = np.frombuffer(structure.encode(), dtype=np.uint8)
    # What np.savez does, written out: np.savez(file, **arrays) would take a key
    # named "file" or "allow_pickle" as its own argument, and append ".npz" to
    # a path without it. Arrays are written with pickling disabled.
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, value in arrays.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)


def load(path, map_location=None, weights_only=True):
    """Read an ``.npz`` archive written by ``save`` (or ``np.savez``) into ``{name: np.ndarray}``.

    Raises ``ValueError`` for a file that is not an ``.npz`` archive or that
    holds Python objects (those are never unpickled); for a PyTorch checkpoint
    (a ``torch.save`` zip or legacy pickle) the message says how to convert it. All members
    together may hold at most ``EXPANSION_BUDGET`` (64) times the file's size, so a compressed
    file cannot make loading allocate ~1000x its size. PyTorch's keywords are
    accepted: ``map_location`` (the arrays are host arrays either way;
    ``load_state_dict`` puts them on each parameter's device) and
    ``weights_only=True``; ``weights_only=False`` is refused, since nothing is unpickled.
    """
    if weights_only is not True:
        raise ValueError("load: weights_only=False is not supported: checkpoints here hold arrays only and "
                         "are never unpickled (unpickling can run arbitrary code)")
    opened = isinstance(path, (str, os.PathLike))
    f = open(path, "rb") if opened else path
    try:
        start = f.tell()
        magic = f.read(4)
        f.seek(start)
        if magic[:1] == bytes([_PICKLE_PROTO]):
            raise ValueError(f"load: {_name(path)} is a pickle file, such as a PyTorch checkpoint written by "
                             f"torch.save(..., _use_new_zipfile_serialization=False). {_PYTORCH_HOWTO}")
        if magic not in _ZIP_MAGIC:
            raise ValueError(f"load: {_name(path)} is not an .npz archive (it does not start with a zip header)")
        try:  # only the zip's directory is read: nothing is unpickled
            with zipfile.ZipFile(f) as archive:
                names = archive.namelist()
        except Exception:  # noqa: BLE001  (a corrupt zip: _read_members says what is wrong)
            names = []
        finally:
            f.seek(start)
        if _is_pytorch_zip(names):
            raise ValueError(f"load: {_name(path)} is a PyTorch checkpoint (written by torch.save). {_PYTORCH_HOWTO}")
        out = _read_members(f, start, _name(path))
    finally:
        if opened:
            f.close()
    if _STRUCTURE in out:  # a nested checkpoint: rebuild it from its JSON description
        try:
            return _rebuild(json.loads(out.pop(_STRUCTURE).tobytes().decode()), out)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
            raise ValueError(f"load: {_name(path)} has a malformed structure description: {e}") from None
    return out


# All members of one file together may expand to at most this multiple of the file's size.
# tc.save stores members uncompressed (1x), so only deflated members (np.savez_compressed
# files) can come near it. Deflate alone allows about 1032:1, so a 1 MB file could make
# loading allocate 1 GB; ordinary weights compress about 1.1:1 (even mostly-zero ones stay
# well under 64:1), and 64x keeps the worst file a bounded, predictable cost.
EXPANSION_BUDGET = 64
_CHUNK = 1 << 18  # members are decompressed this many bytes at a time, straight into their array


def _read_members(f, start, name):
    """Every ``.npy`` member of the zip archive in ``f`` as ``{key: array}``, read by hand
    rather than by ``np.load``, so a hostile file meets these checks before any allocation:
    stored sizes within the file, a well-formed ``.npy`` header, a numeric dtype, a shape
    whose size is exactly the bytes the member declares, all members together within
    ``EXPANSION_BUDGET`` times the file's size, and data that yields exactly those bytes.
    Whatever is wrong with the file is a ``ValueError``; nothing is unpickled."""
    size = f.seek(0, os.SEEK_END) - start
    f.seek(start)
    out = {}
    budget = left = EXPANSION_BUDGET * size
    try:
        with zipfile.ZipFile(f) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"member {info.filename!r} is not a NumPy array (.npy)")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) \
                        or info.compress_size > size:
                    raise ValueError(f"member {info.filename!r} claims {info.compress_size} bytes stored "
                                     f"({info.compress_type=}) in a {size}-byte file")
                with archive.open(info) as member:
                    array, nbytes = _read_npy(member, info.file_size, info.filename, left, budget, size)
                out[info.filename[:-4]] = array
                left -= nbytes
    except ValueError as e:
        raise ValueError(f"load: {name} is not a valid .npz checkpoint: {e}") from None
    except Exception as e:  # noqa: BLE001  (any failure parsing untrusted bytes: zip, CRC, header)
        raise ValueError(f"load: {name} is not a valid .npz checkpoint ({type(e).__name__}: {e})") from None
    return out


def _read_npy(member, stored, filename, left, budget, size):
    """One ``.npy`` member (``stored`` bytes, header included) as ``(array, its bytes)``,
    checked first; ``left`` bytes of the file's expansion ``budget`` remain."""
    version = np.lib.format.read_magic(member)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"member {filename!r} has an unknown .npy version {version}")
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, fortran, dtype = header(member)  # literal_eval of a header of at most 10,000 bytes
    except ValueError as e:
        if "pickle" in str(e) or "max_header_size" in str(e):  # NumPy's hint would mislead here
            raise ValueError(f"member {filename!r} has a header longer than NumPy's limit") from None
        raise
    if dtype.hasobject:
        raise ValueError(f"member {filename!r} holds Python objects (pickled data), which are never loaded "
                         "because unpickling can run arbitrary code; a checkpoint must hold numeric arrays only")
    if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"member {filename!r} has dtype {dtype}; a checkpoint holds numeric arrays only")
    if any(n < 0 for n in shape):
        raise ValueError(f"member {filename!r} has a negative size in its shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    remaining = stored - member.tell()
    if nbytes != remaining:  # checked before allocating: a huge claim is refused here
        raise ValueError(f"member {filename!r} claims shape {shape} of {dtype} ({nbytes} bytes) "
                         f"but holds {remaining} bytes of data")
    if nbytes > left:
        raise ValueError(
            f"member {filename!r} declares {nbytes} bytes, but only {left} of the file's budget of {budget} bytes "
            f"({EXPANSION_BUDGET}x its {size} bytes, for all members together) are left: tc.load refuses files "
            f"that expand that much (a compressed file can claim ~1000x its size). If you trust the file, load "
            f"it with numpy.load yourself and re-save it with tc.save (which stores members uncompressed)")
    array = np.empty(shape[::-1] if fortran else shape, dtype)
    raw, done = array.reshape(-1).view(np.uint8), 0
    while done < nbytes:  # bounded chunks: no second full-size buffer (a deflated stream never balloons)
        chunk = member.read(min(_CHUNK, nbytes - done))
        if not chunk:
            break
        raw[done : done + len(chunk)] = np.frombuffer(chunk, np.uint8)
        done += len(chunk)
    if done != nbytes or member.read(1):
        raise ValueError(f"member {filename!r} declares {nbytes} bytes of data but its stream yields "
                         f"{'fewer' if done < nbytes else 'more'}")
    return (array.T if fortran else array), nbytes


def _name(path):
    return repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else "the file"
