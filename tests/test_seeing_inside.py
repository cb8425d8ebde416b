"""Per-thread grad mode, anomaly mode, hooks, the graph picture and the model summary."""
import threading

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor


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
