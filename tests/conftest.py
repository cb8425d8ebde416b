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
