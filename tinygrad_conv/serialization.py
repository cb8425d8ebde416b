"""Checkpoints as plain ``.npz`` files: ``tc.save(model.state_dict(), path)``, ``tc.load(path)``.

Only numeric arrays go in and come out. Loading never unpickles, so a
downloaded checkpoint cannot run code: a file holding Python objects is
refused with ``ValueError``.
"""
import numbers
import os
import zipfile

import numpy as np

from .tensor import Tensor

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members / an empty zip


def save(state_dict, path):
    """Write ``state_dict`` (``{name: Tensor, np.ndarray or number}``) to ``path`` as an ``.npz``
    archive (Tensors are written as their arrays, numbers as 0-d arrays).

    The file is written at exactly ``path``, replacing any file there (unlike
    ``np.savez``, no ``.npz`` is appended; name it ``*.npz`` by convention).
    ``path`` may also be a binary file object opened for writing. Keys are
    the names (dotted names are fine); values must be numeric NumPy arrays,
    anything else is a ``TypeError``.
    """
    if not hasattr(state_dict, "items"):
        raise TypeError(f"save: expected a dict of arrays, got {type(state_dict).__name__}")
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"save: keys must be strings, got {type(key).__name__} {key!r}")
        if isinstance(value, Tensor):
            value = value.numpy()
        elif isinstance(value, numbers.Number) and not isinstance(value, complex):
            value = np.asarray(value)  # read back as a 0-d array
        if not isinstance(value, np.ndarray):
            raise TypeError(f"save: {key!r} must be a Tensor, an np.ndarray or a number, got {type(value).__name__}")
        if value.dtype.kind not in "biufc":
            raise TypeError(f"save: {key!r} must hold numbers, got dtype {value.dtype} (it would need pickle)")
        arrays[key] = value
    # What np.savez does, written out: np.savez(file, **arrays) would take a key
    # named "file" or "allow_pickle" as its own argument, and append ".npz" to
    # a path without it. Arrays are written with pickling disabled.
    with zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, value in arrays.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)


def load(path, map_location=None, weights_only=True):
    """Read an ``.npz`` archive written by ``save`` (or ``np.savez``) into ``{name: np.ndarray}``.

    Raises ``ValueError`` for a file that is not an ``.npz`` archive or that
    holds Python objects (those are never unpickled). PyTorch's keywords are
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
        if magic not in _ZIP_MAGIC:
            raise ValueError(f"load: {_name(path)} is not an .npz archive (it does not start with a zip header)")
        try:
            with np.load(f, allow_pickle=False) as npz:
                out = {key: npz[key] for key in npz.files}
        except ValueError as e:
            if "pickle" in str(e):  # numpy: "Object arrays cannot be loaded when allow_pickle=False"
                raise ValueError(
                    f"load: {_name(path)} holds Python objects (pickled data), which are never loaded "
                    "because unpickling can run arbitrary code; a checkpoint must hold numeric arrays only"
                ) from None
            raise ValueError(f"load: {_name(path)} is not a valid .npz archive: {e}") from None
        except (zipfile.BadZipFile, EOFError) as e:
            raise ValueError(f"load: {_name(path)} is not a valid .npz archive: {e}") from None
    finally:
        if opened:
            f.close()
    for key, value in out.items():
        if not isinstance(value, np.ndarray):  # NpzFile returns a non-.npy member as raw bytes
            raise ValueError(f"load: member {key!r} of {_name(path)} is not a NumPy array (.npy)")
    return out


def _name(path):
    return repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else "the file"
