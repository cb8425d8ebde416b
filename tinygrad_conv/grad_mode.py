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


class switch(contextlib.ContextDecorator):
    """Set ``mode.<attr>`` to ``value`` in this thread for the body, then restore it.

    Used as a decorator it makes a fresh context per call, so two threads
    running the same decorated function never share the saved value.
    """

    attr, value = None, None  # set by subclasses

    def _recreate_cm(self):
        return type(self)()

    def __enter__(self):
        self._previous = getattr(mode, self.attr)
        setattr(mode, self.attr, self.value)
        return self

    def __exit__(self, *exc):
        setattr(mode, self.attr, self._previous)
        return False


class no_grad(switch):
    """Context manager and decorator: no graph is recorded inside it (in this thread).

    >>> with tc.no_grad():
    ...     y = model(x)          # y.requires_grad is False
    """

    attr, value = "grad", False


def is_grad_enabled():
    """True when ops record the graph in this thread (outside every ``no_grad``)."""
    return mode.grad
