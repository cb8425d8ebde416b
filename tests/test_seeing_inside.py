"""Per-thread grad mode, anomaly mode, hooks, the graph picture and the model summary."""
import threading

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor

# NaN on purpose (anomaly mode): NumPy's warnings about it are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ----- grad mode is per thread --------------------------------------------------------------
def test_no_grad_in_one_thread_leaves_another_recording():
    inside, go_on, seen = threading.Event(), threading.Event(), {}

    def other():
        inside.wait()  # the main thread is inside no_grad now
        x = Tensor([1.0, 2.0], requires_grad=True)
        seen["enabled"] = tc.is_grad_enabled()
        seen["records"] = (x * 2).requires_grad
        go_on.set()

    t = threading.Thread(target=other)
    t.start()
    with tc.no_grad():
        inside.set()
        assert go_on.wait(10)
        assert not tc.is_grad_enabled()
        assert not (Tensor([1.0], requires_grad=True) * 2).requires_grad
    t.join()
    assert seen == {"enabled": True, "records": True}


def test_no_grad_decorator_used_by_two_threads_at_once_restores_each():
    barrier = threading.Barrier(2)
    results = []

    @tc.no_grad()
    def f():
        barrier.wait()  # both threads inside the same decorated function
        return tc.is_grad_enabled()

    def run():
        results.append((f(), tc.is_grad_enabled()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(False, True), (False, True)]
    assert tc.is_grad_enabled()


# ----- anomaly mode -----------------------------------------------------------------------------
def _line_of(marker):
    """The line number of this file's line that contains ``marker`` (once)."""
    lines = [i + 1 for i, line in enumerate(open(__file__)) if marker in line and "_line_of" not in line]
    assert len(lines) == 1
    return lines[0]


def test_anomaly_forward_names_op_shapes_and_user_line():
    x = Tensor(np.array([1.0, -1.0, 2.0]), requires_grad=True)
    with pytest.raises(tc.AnomalyError) as err:
        with tc.detect_anomaly():
            y = x * 2
            y.log()  # MARK-forward
    msg = str(err.value)
    assert isinstance(err.value, FloatingPointError)
    assert "'log'" in msg and "forward" in msg and "(3,)" in msg
    assert f"{__file__}:{_line_of('MARK-forward')}" in msg


def test_anomaly_backward_points_at_the_forward_call():
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with tc.detect_anomaly():
        s = x**0.5  # MARK-sqrt
        loss = (s * 0.0).sum()  # forward finite; backward: 0 * d sqrt(x)/dx at 0 = 0 * inf = NaN
        with pytest.raises(tc.AnomalyError) as err:
            loss.backward()
    msg = str(err.value)
    assert "'pow'" in msg and "backward" in msg and "input 0" in msg and "(2,)" in msg
    assert f"{__file__}:{_line_of('MARK-sqrt')}" in msg


def test_anomaly_through_modules_and_functional_reports_the_users_line():
    layer = tc.nn.Linear(2, 2)
    layer.weight.data[0, 0] = np.nan
    with tc.detect_anomaly(), pytest.raises(tc.AnomalyError) as err:
        layer(Tensor(np.ones((4, 2), np.float32)))  # MARK-module
    msg = str(err.value)
    assert "'linear'" in msg and "(4, 2)" in msg and "(2, 2)" in msg
    assert f"{__file__}:{_line_of('MARK-module')}" in msg


def test_outside_anomaly_mode_nan_passes_silently_and_mode_is_restored():
    x = Tensor(np.array([-1.0]), requires_grad=True)
    with pytest.raises(tc.AnomalyError):
        with tc.detect_anomaly():
            x.log()
    y = x.log()
    assert np.isnan(y.data).all()
    y.sum().backward()  # no error outside
    assert not tc.grad_mode.mode.anomaly
