"""Second derivatives compared with PyTorch's: the one helper the double-backward tests share.

For ``out = fn(*xs)`` and an upstream gradient ``v`` (requiring grad), the first
derivatives are ``gs = grad(out, xs, v, create_graph=True)``; the second ones are
``grad(sum(g * r for g, r in zip(gs, rs)), xs + [v])`` for fixed random directions ``r``:
every block of the Hessian of ``v . out`` (mixed ones included where an op has two
differentiable inputs) and the derivative in ``v``.
"""
import numpy as np

import tinygrad_conv as tc


def first_and_second(lib, fn, arrays, v, rs, differentiable):
    """(out, first derivatives, second derivatives w.r.t. the inputs and v) as NumPy arrays,
    with ``lib`` tinygrad_conv or torch; zeros stand for unused inputs."""
    ours = lib is tc
    make, grad = (tc.Tensor, tc.autograd.grad) if ours else (lib.tensor, lib.autograd.grad)
    xs = [make(a, requires_grad=d) for a, d in zip(arrays, differentiable)]
    vt = make(v, requires_grad=True)
    wrt = [x for x, d in zip(xs, differentiable) if d]
    out = fn(*xs)
    gs = grad(out, wrt, vt, create_graph=True, allow_unused=True)
    total = None
    for g, r in zip(gs, rs):
        if g is not None:
            term = (g * make(r)).sum()
            total = term if total is None else total + term
    second = grad(total, wrt + [vt], allow_unused=True)
    shapes = [a.shape for a, d in zip(arrays, differentiable) if d] + [v.shape]

    def as_numpy(gs):  # torch may answer a ZeroTensor: force=True reads it
        return [np.zeros(s) if g is None else g.detach().numpy(**({} if ours else {"force": True}))
                for g, s in zip(gs, shapes)]

    return out.detach().numpy(), as_numpy(gs), as_numpy(second)


def compare(tc_fn, torch_fn, torch, arrays, seed, differentiable=None, rtol=1e-9, atol=1e-11):
    """``tc_fn`` and ``torch_fn`` agree in value, first and second derivatives (mixed ones
    too), drawing ``v`` and the directions ``rs`` from ``seed``; returns both answers."""
    differentiable = differentiable or [True] * len(arrays)
    rng = np.random.default_rng(seed)
    with tc.no_grad():
        out_shape = tc_fn(*[tc.Tensor(a) for a in arrays]).shape
    v = rng.standard_normal(out_shape)
    rs = [rng.standard_normal(a.shape) for a, d in zip(arrays, differentiable) if d]
    got = first_and_second(tc, tc_fn, arrays, v, rs, differentiable)
    want = first_and_second(torch, torch_fn, arrays, v, rs, differentiable)
    assert got[0].shape == want[0].shape, f"value shape {got[0].shape} vs torch {want[0].shape}"
    np.testing.assert_allclose(got[0], want[0], rtol=rtol, atol=atol, err_msg="value")
    for kind, a, b in zip(("first", "second"), got[1:], want[1:]):
        for i, (x, y) in enumerate(zip(a, b)):
            assert x.shape == y.shape, f"{kind} derivative {i}: shape {x.shape} vs torch {y.shape}"
            what = "v" if kind == "second" and i == len(a) - 1 else f"input {i}"
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"{kind} derivative, {what}")
    return got, want
