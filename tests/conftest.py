"""Test settings: hypothesis runs derandomized so every failure reproduces."""
import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))  # tests/reference.py, tests/strategies.py

settings.register_profile(
    "default",
    derandomize=True,  # same examples on every run and machine
    deadline=None,  # the machine is shared; timing is not what these tests check
    max_examples=30,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# ----- devices ------------------------------------------------------------------------
# Device-sensitive tests take the `device` fixture: they run on the CPU always and on
# CUDA when CuPy sees a GPU, so `pytest` alone covers both on a GPU machine.
import pytest  # noqa: E402

import tinygrad_conv as tc  # noqa: E402

CUDA = tc.cuda.is_available()
NO_CUDA = "needs CuPy and a GPU (tc.cuda.is_available() is False)"
requires_cuda = pytest.mark.skipif(not CUDA, reason=NO_CUDA)
DEVICES = ["cpu", pytest.param("cuda", marks=requires_cuda)]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param
