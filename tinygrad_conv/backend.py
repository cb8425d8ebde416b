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
_one_gpu = False  # True when CuPy sees exactly one GPU: every CuPy array is on cuda:0
cuda_loaded = False  # True once CuPy is in use: until then every array is a NumPy one


class Device(str):
    """``tc.device``: a device name that is also a string (``"cpu"``, ``"cuda"``, ``"cuda:1"``),
    with PyTorch's ``.type`` and ``.index``. ``tc.device("cuda", 1) == "cuda:1"``.
    Making one checks only the spelling, as ``torch.device`` does, not that the GPU exists."""

    _cache = {}

    def __new__(cls, type, index=None):
        key = (type, index)
        cached = cls._cache.get(key)
        if cached is not None:
            return cached
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {type.__class__.__name__} {type!r}")
        kind, _, number = type.strip().lower().partition(":")
        if index is not None:
            if number:
                raise ValueError(f"device: {type!r} already names an index; do not also pass index={index!r}")
            number = str(index)
        if kind not in (CPU, "cuda") or (number and not number.isdigit()) or (kind == CPU and number not in ("", "0")):
            raise ValueError(f"unknown device {type!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        name = CPU if kind == CPU else f"cuda:{number}" if number else "cuda"
        self = cls._cache[key] = super().__new__(cls, name)
        return self

    @property
    def type(self):
        return str.__str__(self).partition(":")[0]  # a plain str (partition may return self)

    @property
    def index(self):
        number = str.__str__(self).partition(":")[2]
        return int(number) if number else None

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"


def _load_cupy():
    """CuPy, imported on first use; None (with the reason in ``_cupy_error``) when it cannot run."""
    global _cupy, _cupy_error, _one_gpu, cuda_loaded
    if _cupy is None and _cupy_error is None:
        try:
            import cupy

            count = cupy.cuda.runtime.getDeviceCount()
            if count < 1:
                raise RuntimeError("CuPy sees no GPU")
            _cupy, _one_gpu, cuda_loaded = cupy, count == 1, True
        except Exception as e:  # ImportError, CUDARuntimeError (no driver), ...
            _cupy_error = e
    return _cupy


def is_available():
    """True when CuPy imports and sees at least one GPU."""
    return _load_cupy() is not None


class CudaUnavailableError(RuntimeError):
    """``device="cuda"`` was asked for but cannot be used (``tc.cuda.UnavailableError``);
    the message says why: CuPy missing, or CuPy present without a usable GPU or driver."""


def cupy():
    """The CuPy module, or ``CudaUnavailableError`` saying what is wrong and what to do."""
    cp = _load_cupy()
    if cp is None:
        raise CudaUnavailableError(_why_unavailable(_cupy_error))
    return cp


def _why_unavailable(error):
    """The message for CuPy's failure ``error``: not installed, or installed but unusable."""
    if isinstance(error, ImportError) and error.name == "cupy":
        return f"CUDA was asked for but CuPy is not installed; {INSTALL_HINT}"
    if isinstance(error, ImportError):  # cupy itself is there; a library it loads is not
        return (f"CUDA was asked for; CuPy is installed but does not import: {error}. Check that the "
                f"CuPy package matches the machine's CUDA version (cupy-cuda12x or cupy-cuda13x)")
    return (f"CUDA was asked for; CuPy is installed but cannot use a GPU: {error}. Check that this "
            f"machine has an NVIDIA GPU and a working driver (nvidia-smi lists it)")


def _foreign_cupy(obj):
    """True for a CuPy array made before CUDA was asked for here (CuPy not loaded yet)."""
    return _cupy is None and type(obj).__module__.startswith("cupy")


# Set by the engine the first time a backward runs with create_graph=True: then a
# Tensor handed to xp() (a backward rule differentiated itself) gets graph_xp.py,
# the NumPy interface on Tensors. Until then xp() pays nothing for it.
tensor_xp = None  # (Tensor class, graph_xp module)


def xp(array):
    """The array module (``numpy`` or ``cupy``) that owns ``array`` (for a Tensor under
    ``create_graph``, ``graph_xp``: the same functions on Tensors)."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    if tensor_xp is not None and isinstance(array, tensor_xp[0]):
        return tensor_xp[1]
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
    if isinstance(name, int) and not isinstance(name, bool):  # a GPU's index, as torch.device(0)
        name = f"cuda:{name}"
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


def zeros(shape, dtype, like):
    """Zeros of ``shape`` on ``like``'s device (a Tensor of zeros when ``like`` is one)."""
    if tensor_xp is not None and isinstance(like, tensor_xp[0]):
        return tensor_xp[1].zeros(shape, dtype=dtype, device=like.device)
    return xp(like).zeros(shape, dtype)


def cast(array, dtype):
    """``array`` as ``dtype``: itself when it already is (CuPy's ``astype(copy=False)``
    still costs a few microseconds of Python per call, which adds up per op)."""
    return array if array.dtype == dtype else array.astype(dtype)


def where(condition, a, b):
    """``xp.where(condition, a, b)`` in the module of a, b and condition (CuPy's or graph_xp's
    if any of them is a CuPy array or a Tensor, else NumPy's).

    NumPy's ``where`` branches on every element: on a random condition it costs ~3.5 ns a
    value here (930 us at 2**18 float32 values, 6x a multiply), and ~0.55 ns on a constant
    one. For a large bool condition and float operands of its shape (or numbers), the same
    bits are picked without branches instead: ``b ^ ((a ^ b) & mask)`` on the floats' bits,
    the mask -1 where the condition holds (2**18 values: 111 us; 62 us against a number 0).
    """
    module = np
    for v in (a, b, condition):
        if type(v) is not np.ndarray and hasattr(v, "shape"):
            module = xp(v)
            if module is not np:
                break
    if module is np and type(condition) is np.ndarray and condition.size >= _SELECT_MIN:
        picked = _select_bits(condition, a, b)
        if picked is not None:
            return picked
    return module.where(condition, a, b)


_SELECT_MIN = 4096  # below, np.where's one call is as fast
_BITS = {2: np.int16, 4: np.int32, 8: np.int64}  # float16/32/64 viewed as integers


def _select_bits(condition, a, b):
    """``where(condition, a, b)`` by bits for a bool NumPy condition and float arrays of its shape
    or numbers; None when the operands are not of that kind."""
    if condition.dtype != np.bool_:
        return None
    shape, dtype = condition.shape, np.result_type(a, b)
    if dtype.kind != "f" or dtype.itemsize not in _BITS:
        return None
    bits, operands = _BITS[dtype.itemsize], []
    for v in (a, b):
        if type(v) is np.ndarray and v.shape == shape and v.dtype == dtype:
            operands.append(v.view(bits))
        elif (isinstance(v, (int, float, np.number)) and not isinstance(v, bool)) or (
                type(v) is np.ndarray and v.ndim == 0):
            operands.append(np.asarray(v).astype(dtype).view(bits))  # (a 0-d array)
        else:
            return None
    x, y = operands
    mask = np.empty(shape, bits)
    out = np.empty(shape, bits)
    if not y.any() and y.ndim == 0:  # where(c, a, 0): a & mask
        np.negative(condition.view(np.int8), out=mask, casting="unsafe")
        return np.bitwise_and(x, mask, out=out).view(dtype)
    if not x.any() and x.ndim == 0:  # where(c, 0, b): b & ~mask, ~mask = c - 1
        np.subtract(condition.view(np.int8), 1, out=mask, casting="unsafe")
        return np.bitwise_and(y, mask, out=out).view(dtype)
    np.negative(condition.view(np.int8), out=mask, casting="unsafe")
    np.bitwise_xor(x, y, out=out)
    out &= mask
    out ^= y
    return out.view(dtype)


def check_same_device(arrays, op):
    """Raise ``ValueError`` naming both devices if ``arrays`` live on different devices.

    NumPy scalars (numbers wrapped by arithmetic) go with any device. Free until
    CUDA is asked for, and cheap for arrays of one kind on the only GPU.
    """
    if _cupy is None:  # CUDA never asked for: every array is a NumPy one
        return
    first = type(arrays[0])
    if _one_gpu and all(type(a) is first for a in arrays):
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


def matmul(a, b, out=None):
    """``a @ b`` for matrices or stacks of them (``np.matmul`` semantics).

    On the GPU, float operands that are contiguous or transposed views of
    contiguous arrays go straight to cuBLAS's GEMM: ``cupy.matmul`` spends
    30-50 us of Python per call, more than the GEMM itself at small sizes.
    """
    if _cupy is None or not isinstance(a, _cupy.ndarray) or not _cublas_ready():
        return xp(a).matmul(a, b, out=out)
    return _cublas_matmul(a, b, out)


_cublas = None


def _cublas_ready():
    global _cublas
    if _cublas is None:
        try:
            from cupy_backends.cuda.libs import cublas

            _cublas = cublas
        except ImportError:  # another CuPy layout: use cupy.matmul
            _cublas = False
    return bool(_cublas)


def _gemm_operand(m):
    """(transpose flag, leading dimension) of matrix stack ``m`` for column-major cuBLAS,
    or None when its last two axes are neither contiguous nor a transposed contiguous block."""
    item = m.itemsize
    rows, cols = m.shape[-2:]
    if m.strides[-1] == item and (m.strides[-2] == cols * item or rows == 1):
        return _cublas.CUBLAS_OP_N, max(cols, 1)
    if m.strides[-2] == item and (m.strides[-1] == rows * item or cols == 1):
        return _cublas.CUBLAS_OP_T, max(rows, 1)
    return None


# alpha = 1 and beta = 0 for cuBLAS, as host pointers made once (``.ctypes`` costs microseconds)
_HOST_SCALARS = [np.ones((), t) for t in (np.float32, np.float64)] + [np.zeros((), t) for t in (np.float32, np.float64)]
_ONE_ZERO = {a.dtype: (a.ctypes.data, z.ctypes.data) for a, z in zip(_HOST_SCALARS[:2], _HOST_SCALARS[2:])}


def _cublas_matmul(a, b, out):
    ops = (_gemm_operand(a), _gemm_operand(b)) if a.ndim == b.ndim and a.ndim in (2, 3) else (None,)
    if (a.dtype != b.dtype or a.dtype not in _ONE_ZERO or None in ops or 0 in a.shape or 0 in b.shape
            or a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]):
        return _cupy.matmul(a, b, out=out)
    (op_a, lda), (op_b, ldb) = ops
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    shape = a.shape[:-2] + (m, n)
    if out is None:
        out = _cupy.ndarray(shape, a.dtype)
    elif out.shape != shape or out.dtype != a.dtype or not out.flags.c_contiguous:
        return _cupy.matmul(a, b, out=out)
    one, zero = _ONE_ZERO[a.dtype]
    handle = _cupy.cuda.device.get_cublas_handle()
    _cublas.setStream(handle, _cupy.cuda.get_current_stream().ptr)
    # Row-major out = a @ b is column-major out^T = b^T a^T: cuBLAS gets b first.
    single = a.dtype == np.float32
    if a.ndim == 2 or a.shape[0] == 1:  # a batch of one is a plain GEMM
        gemm = _cublas.sgemm if single else _cublas.dgemm
        gemm(handle, op_b, op_a, n, m, k, one, b.data.ptr, ldb, a.data.ptr, lda, zero, out.data.ptr, n)
    else:
        gemm = _cublas.sgemmStridedBatched if single else _cublas.dgemmStridedBatched
        item = a.itemsize
        gemm(handle, op_b, op_a, n, m, k, one, b.data.ptr, ldb, b.strides[0] // item,
             a.data.ptr, lda, a.strides[0] // item, zero, out.data.ptr, n, m * n, a.shape[0])
    return out


_ones = {}


def sum_rows(m):
    """Sums along the last axis of a matrix ``(r, c) -> (r,)`` (a transposed view sums columns),
    as a matrix-vector product: ~4x faster than ``.sum(axis=1)`` in NumPy, and on the GPU
    one cuBLAS call instead of a reduction kernel costing tens of microseconds of Python."""
    cpu = type(m) is np.ndarray
    if tensor_xp is not None and isinstance(m, tensor_xp[0]):  # a backward differentiated again
        return m.sum(axis=1)
    if cpu and m.size <= 4096:  # NumPy's own sum is quicker to call on a few numbers
        return m.sum(axis=1)
    key = (m.shape[1], m.dtype, CPU if cpu else device_of(m))
    ones = _ones.get(key)
    if ones is None:
        if len(_ones) > 64:  # a few shapes per network: forget old ones rather than grow
            _ones.clear()
        ones = _ones[key] = xp(m).ones(m.shape[1] if cpu else (m.shape[1], 1), m.dtype)
    if cpu:
        return m @ ones  # a vector: NumPy calls BLAS's gemv
    return matmul(m, ones).reshape(-1)


def synchronize():
    """Wait for the GPU to finish queued work (a no-op without CUDA); for timing."""
    if _cupy is not None:
        _cupy.cuda.get_current_stream().synchronize()


_kernels = {}  # compiled CUDA kernels by source


def raw_kernel(source, name):
    """A compiled (and cached) ``cupy.RawKernel`` from CUDA C ``source``: for the GPU halves
    of ops whose sizes are baked into the source as constants (cheap index maths)."""
    kernel = _kernels.get(source)
    if kernel is None:
        kernel = _kernels[source] = cupy().RawKernel(source, name)
    return kernel


def launch(kernel, n, *args, threads=256):
    """Run ``kernel`` on ``n`` threads (in blocks of ``threads``) with ``args``."""
    kernel(((n + threads - 1) // threads,), (threads,), args)


_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


def c_type(dtype):
    """The CUDA C name of a float dtype (``float``/``double``)."""
    name = _CTYPES.get(np.dtype(dtype))
    if name is None:
        raise TypeError(f"the CUDA kernels take float32 or float64 arrays, got {np.dtype(dtype)}")
    return name


def fused(expression, *arrays):
    """On the GPU, ``expression`` (CUDA C over ``a``, ``b``, ``c``: the elements of ``arrays``,
    all of one shape and dtype) evaluated in ONE launch: what a chain of CuPy calls would
    run as one kernel each, ~10 us of Python per call."""
    names = ", ".join(f"const T* {n}_" for n in "abc"[: len(arrays)])
    loads = "".join(f"const T {n} = {n}_[i]; " for n in "abc"[: len(arrays)])
    source = (f"typedef {c_type(arrays[0].dtype)} T;\n"
              f'extern "C" __global__ void fused({names}, T* out, long long n) {{\n'
              f"const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;\n"
              f"if (i >= n) return;\n{loads}\nout[i] = {expression};\n}}\n")
    cp = _cupy
    out = cp.empty(arrays[0].shape, arrays[0].dtype)
    launch(raw_kernel(source, "fused"), out.size, *[cp.ascontiguousarray(a) for a in arrays], out, np.int64(out.size))
    return out
