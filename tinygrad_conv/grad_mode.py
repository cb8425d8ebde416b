"""Gradient recording on or off: ``tc.no_grad()``."""
import contextlib

# One module-level switch, read by every op call. A plain global is the
# cheapest thing to read in the hot path (ops check it on every call).
enabled = True


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: no graph is recorded inside it.

    >>> with tc.no_grad():
    ...     y = model(x)          # y.requires_grad is False
    """

    def __enter__(self):
        global enabled
        self._previous = enabled
        enabled = False
        return self

    def __exit__(self, *exc):
        global enabled
        enabled = self._previous
        return False


def is_grad_enabled():
    """True when ops record the graph (outside every ``no_grad``)."""
    return enabled
