"""dtypes as PyTorch names them, and PyTorch's rules for inferring and promoting them.

The dtypes are NumPy's (``tc.float32 is np.dtype("float32")``), so a tensor's
array never needs converting. Floats are differentiable; integers and bools are
data (labels, indices, masks) and never require grad.
"""
import builtins
import numbers

import numpy as np

# The names shadow Python's float/int/bool inside this module, as torch.float does;
# the module uses `builtins.` where it means Python's.
float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int64 = long = np.dtype(np.int64)
int32 = int = np.dtype(np.int32)
int16 = short = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool = np.dtype(np.bool_)  # noqa: A001  (torch.bool)

FLOATS = (float16, float32, float64)
SUPPORTED = FLOATS + (int64, int32, int16, int8, uint8, bool)
DEFAULT_FLOAT = float32  # torch.get_default_dtype()


def dtype(value, where="dtype"):
    """``value`` (a dtype, NumPy type, or name such as ``"float32"``) as a supported np.dtype."""
    try:
        dt = np.dtype(value)
    except TypeError:
        raise TypeError(f"{where}: {value!r} is not a dtype (expected e.g. tc.float32, tc.int64, tc.bool)") from None
    if dt not in SUPPORTED:
        raise TypeError(f"{where}: dtype {dt} is not supported; use float32, float64, int64, int32, uint8 or bool")
    return dt


def infer(data, arr):
    """The dtype ``torch.tensor(data)`` gives: arrays keep theirs; Python floats give
    float32, ints int64, bools bool (the widest kind wins inside a nested list)."""
    if isinstance(data, (np.ndarray, np.generic)) or not isinstance(arr, np.ndarray):  # NumPy or CuPy data
        return arr.dtype
    kind = arr.dtype.kind
    return {"b": bool, "i": int64, "u": int64, "f": float32}[kind]


def category(dt):
    """0 for bool, 1 for integers, 2 for floats: PyTorch promotes by the highest category."""
    return 2 if dt.kind == "f" else 0 if dt.kind == "b" else 1


def _number_category(x):
    return 0 if isinstance(x, (builtins.bool, np.bool_)) else 1 if isinstance(x, numbers.Integral) else 2


def result_type(*arrays, number=None):
    """PyTorch's result dtype for an elementwise op on tensors holding ``arrays`` (NumPy or
    CuPy arrays or scalars) and, optionally, a Python ``number``.

    Tensors with dimensions decide, unless a 0-d tensor or the number is of a higher
    category (bool < int < float): then 0-d tensors decide, then the number, which
    gives the default dtype of its category (float32 or int64). So a float32
    tensor times 2.5 stays float32, an int64 tensor times 2.5 becomes float32.
    """
    best, result = -1, None
    for level in (True, False):  # dimensioned tensors first, then 0-d ones
        dts = [a.dtype for a in arrays if (a.ndim > 0) == level]
        if dts:
            top = max(category(d) for d in dts)
            if top > best:
                same = [d for d in dts if category(d) == top]
                result = same[0]
                for d in same[1:]:
                    result = np.promote_types(result, d)
                best = top
    if number is not None and _number_category(number) > best:
        result = (bool, int64, DEFAULT_FLOAT)[_number_category(number)]
    return result
