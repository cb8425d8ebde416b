"""Freed arrays are reused instead of re-faulted from the OS (see allocator.py)."""
import resource
import sys

import numpy as np
import pytest

import tinygrad_conv as tc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt only")
def test_a_training_like_loop_stops_page_faulting_after_warm_up():
    if not tc.allocator.keep_freed_memory():
        pytest.skip("not glibc")
    x = tc.Tensor(np.ones((256, 1024), np.float32), requires_grad=True)  # 1 MB

    def step():
        loss = ((x * 2 + 1).relu() * x).sum()
        loss.backward()
        x.grad = None

    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # ~10 fresh 1 MB arrays a step would be ~50,000 faults over 20 steps without reuse
    assert faults < 2000
