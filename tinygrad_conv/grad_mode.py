"""Gradient recording on or off, per thread: ``tc.no_grad()``.

``mode`` holds the switches every op call reads. It is a ``threading.local``,
so ``no_grad`` in one thread leaves every other thread recording (as in
PyTorch); the defaults are class attributes, so a new thread starts with them
and reading one is a single attribute lookup.
"""
import contextlib
import threading


class _Mode(threading.local):
    grad = True  # ops record the graph
    anomaly = False  # ops check their results for NaN (anomaly.py)


mode = _Mode()


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: no graph is recorded inside it (in this thread).

    >>> with tc.no_grad():
    ...     y = model(x)          # y.requires_grad is False
    """

    def _recreate_cm(self):  # as a decorator: a fresh one per call, so threads never share state
        return type(self)()

    def __enter__(self):
        self._previous = mode.grad
        mode.grad = False
        return self

    def __exit__(self, *exc):
        mode.grad = self._previous
        return False


def is_grad_enabled():
    """True when ops record the graph in this thread (outside every ``no_grad``)."""
    return mode.grad
