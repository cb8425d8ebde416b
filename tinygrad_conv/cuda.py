"""``tc.cuda``: is a GPU usable, and small helpers around it (see ``backend.py``)."""
from . import backend
from .backend import CudaUnavailableError as UnavailableError  # noqa: F401  (examples catch it)


def is_available():
    """True when CuPy imports and sees a GPU, so ``device="cuda"`` works."""
    return backend.is_available()


def device_count():
    """How many GPUs CuPy sees (0 without CuPy or a GPU)."""
    return backend.cupy().cuda.runtime.getDeviceCount() if backend.is_available() else 0


def synchronize():
    """Wait until the GPU has finished all queued work (for timing)."""
    backend.synchronize()
