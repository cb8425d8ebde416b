"""Every op in ``tc.ops.registry`` is differentiated twice: ``tc.gradgradcheck`` on the
same hypothesis-drawn inputs as the first-order walk (test_registry_gradcheck.py).

An op whose backward cannot yet be differentiated is listed in ``NOT_YET``: its
test must raise ``NotImplementedError`` naming the op (strict xfail), so the list
can only shrink: an op that starts passing fails the run until it is removed.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from test_registry_gradcheck import BUILTIN, SPECS, two_broadcast_shapes
from tinygrad_conv import ops, testing


def _distinct_pair(op):
    """Both operands from one pool of distinct values: no ties, where the first derivative jumps."""
    def spec(data):
        sa, sb = two_broadcast_shapes(data)
        na, nb = int(np.prod(sa)), int(np.prod(sb))
        pool = data.draw(testing.distinct_arrays((na + nb,)))
        return op.apply, [pool[:na].reshape(sa), pool[na:].reshape(sb)]

    return spec


# the first derivative must be smooth where it is checked: kinks that first-order specs may
# sit on (a tie in maximum) need inputs away from them
SECOND_ORDER = {**SPECS, "maximum": _distinct_pair(ops.Maximum), "minimum": _distinct_pair(ops.Minimum)}

NOT_YET = set()


def _case(name):
    if name in NOT_YET:
        return pytest.param(name, marks=pytest.mark.xfail(raises=NotImplementedError, strict=True,
                                                          reason="double backward not written yet"))
    return name


@pytest.mark.parametrize("name", [_case(n) for n in BUILTIN])
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_op_gradgradchecks(name, data):
    fn, arrays = SECOND_ORDER[name](data)
    inputs = [tc.Tensor(a, requires_grad=True) for a in arrays]
    assert tc.gradgradcheck(fn, inputs)


def test_not_yet_names_real_ops():
    assert NOT_YET <= set(BUILTIN)
