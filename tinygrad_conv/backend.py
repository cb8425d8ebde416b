"""The array library behind a tensor: NumPy on the CPU, CuPy on a CUDA GPU.

This is the ONE module that knows CuPy exists. Ops never import NumPy's
functions for array work, nor CuPy: they ask ``xp(array)`` for the module
that owns an array and call ``xp.exp``, ``xp.zeros``, ... on it, so the same
op runs on either device. CuPy is imported the first time CUDA is asked for,
never by ``import tinygrad_conv``.

Devices are named as in PyTorch: ``"cpu"`` and ``"cuda:N"`` (``"cuda"`` means
the current GPU, ``"cuda:0"`` unless CuPy was told otherwise).
"""
import numpy as np

CPU = "cpu"
INSTALL_HINT = (
    'install CuPy for your CUDA version: pip install "tinygrad_conv[cuda12]" '
    '(or [cuda13]), i.e. cupy-cuda12x / cupy-cuda13x'
)

_cupy = None  # the CuPy module, once CUDA has been asked for and works
_cupy_error = None  # why CuPy could not be used (an exception), once known


def _load_cupy():
    """CuPy, imported on first use; None (with the reason in ``_cupy_error``) when it cannot run."""
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() < 1:
                raise RuntimeError("CuPy sees no GPU")
            _cupy = cupy
        except Exception as e:  # ImportError, CUDARuntimeError (no driver), ...
            _cupy_error = e
    return _cupy


def is_available():
    """True when CuPy imports and sees at least one GPU."""
    return _load_cupy() is not None


def cupy():
    """The CuPy module, or ``RuntimeError`` saying how to install it."""
    cp = _load_cupy()
    if cp is None:
        raise RuntimeError(f"CUDA was asked for but is not available ({_cupy_error}); {INSTALL_HINT}")
    return cp


def _foreign_cupy(obj):
    """True for a CuPy array made before CUDA was asked for here (CuPy not loaded yet)."""
    return _cupy is None and type(obj).__module__.startswith("cupy")


def xp(array):
    """The array module (``numpy`` or ``cupy``) that owns ``array``."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def is_cuda(array):
    """True for a CuPy array."""
    return _cupy is not None and isinstance(array, _cupy.ndarray)


def device_of(array):
    """``"cpu"`` or ``"cuda:N"``: where ``array`` lives."""
    if _foreign_cupy(array):
        cupy()
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return f"cuda:{array.device.id}"
    return CPU


def device(name):
    """A device name, normalised: ``"cpu"`` or ``"cuda:N"``.

    ``TypeError`` for a non-string, ``ValueError`` for an unknown name,
    ``RuntimeError`` (with the install command) for CUDA without CuPy or a GPU.
    """
    if not isinstance(name, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda:0', got {type(name).__name__} {name!r}")
    kind, _, index = name.strip().lower().partition(":")
    if kind == CPU and not index:
        return CPU
    if kind != "cuda" or (index and not index.isdigit()):
        raise ValueError(f"unknown device {name!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    cp = cupy()
    n = int(index) if index else cp.cuda.runtime.getDevice()
    count = cp.cuda.runtime.getDeviceCount()
    if n >= count:
        raise ValueError(f"device {name!r} does not exist: CuPy sees {count} GPU(s), cuda:0 to cuda:{count - 1}")
    return f"cuda:{n}"


def to_device(array, name):
    """``array`` on device ``name`` (a normalised name): itself if already there, else a copy."""
    if name == CPU:
        return to_numpy(array)
    cp = cupy()
    with cp.cuda.Device(int(name.partition(":")[2])):
        return cp.asarray(array)  # a copy across devices, the array itself when already there


def to_numpy(array, copy=False):
    """A NumPy array with ``array``'s values (a host copy of a GPU array; ``copy`` forces one on the CPU)."""
    if is_cuda(array):
        return array.get()
    return np.array(array, copy=True) if copy else np.asarray(array)


def like(array, reference):
    """``array`` (NumPy, CuPy or a list) moved to the device of ``reference``."""
    return to_device(array, device_of(reference))


def check_same_device(arrays, op):
    """Raise ``ValueError`` naming both devices if ``arrays`` live on different devices.

    NumPy scalars (numbers wrapped by arithmetic) go with any device. Cheap in
    the common case: all plain NumPy arrays.
    """
    first = type(arrays[0])
    if first is np.ndarray and all(type(a) is first for a in arrays):
        return
    seen = None
    for a in arrays:
        if isinstance(a, np.generic):
            continue
        d = device_of(a)
        if seen is None:
            seen = d
        elif d != seen:
            raise ValueError(f"{op}: expected all tensors on one device, got tensors on {seen} and {d}")


def synchronize():
    """Wait for the GPU to finish queued work (a no-op without CUDA); for timing."""
    if _cupy is not None:
        _cupy.cuda.get_current_stream().synchronize()


_kernels = {}


def elementwise_kernel(in_params, out_params, body, name, **kwargs):
    """A compiled (and cached) ``cupy.ElementwiseKernel``: the GPU half of an op that a
    chain of NumPy-style calls would run as many launches (im2col, a fused optimizer step)."""
    key = (in_params, out_params, body, name)
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = cupy().ElementwiseKernel(in_params, out_params, body, name, **kwargs)
    return kernel
