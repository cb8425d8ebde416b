"""Optimizers against a NumPy transcription of PyTorch's published update rules
(and against torch.optim itself when it is installed): hypothesis draws the
hyperparameters and the gradient sequences. Also: resuming from a state dict
gives the identical trajectory, and bad input changes nothing."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn, optim


# ----- the oracle: torch.optim's documented pseudo-code, in float64 --------------------------
def sgd_reference(theta, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """torch.optim.SGD, line by line. ``grads``: one array per step, or None (no step)."""
    theta, b, t, trajectory = theta.copy(), None, 0, []
    for g in grads:
        if g is not None:
            t += 1
            if weight_decay != 0:
                g = g + weight_decay * theta
            if momentum != 0:
                if t > 1:
                    b = momentum * b + (1 - dampening) * g
                else:
                    b = g
                if nesterov:
                    g = g + momentum * b
                else:
                    g = b
            theta = theta - lr * g
        trajectory.append(theta)
    return trajectory


def adam_reference(theta, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """torch.optim.Adam, line by line (amsgrad=False, maximize=False)."""
    beta1, beta2 = betas
    theta, m, v, t, trajectory = theta.copy(), 0.0, 0.0, 0, []
    for g in grads:
        if g is not None:
            t += 1
            if weight_decay != 0:
                g = g + weight_decay * theta
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g**2
            m_hat = m / (1 - beta1**t)
            v_hat = v / (1 - beta2**t)
            theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        trajectory.append(theta)
    return trajectory


# ----- strategies ------------------------------------------------------------------------
@st.composite
def sgd_hyperparameters(draw):
    nesterov = draw(st.booleans())
    if nesterov:
        momentum, dampening = draw(st.floats(0.01, 0.99)), 0.0
    else:
        momentum = draw(st.sampled_from([0.0, 0.5]) | st.floats(0.0, 0.99))
        dampening = draw(st.sampled_from([0.0]) | st.floats(0.0, 1.0))
    return dict(
        lr=draw(st.floats(0.0, 1.0)),
        momentum=momentum,
        dampening=dampening,
        weight_decay=draw(st.sampled_from([0.0]) | st.floats(0.0, 0.1)),
        nesterov=nesterov,
    )


@st.composite
def adam_hyperparameters(draw):
    return dict(
        lr=draw(st.floats(1e-4, 1.0)),
        betas=(draw(st.floats(0.0, 0.99)), draw(st.floats(0.0, 0.9999))),
        eps=draw(st.sampled_from([1e-8, 1e-3]) | st.floats(1e-8, 1e-1)),
        weight_decay=draw(st.sampled_from([0.0]) | st.floats(0.0, 0.1)),
    )


values = st.floats(-10, 10, allow_nan=False, allow_subnormal=False)


@st.composite
def problems(draw, n_params=2):
    """Initial values of a few parameters and, per parameter, a gradient
    sequence in which some steps have no gradient (None)."""
    steps = draw(st.integers(1, 6))
    out = []
    for _ in range(n_params):
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
        theta = draw(hnp.arrays(np.float64, shape, elements=values))
        grads = [
            draw(st.none() | hnp.arrays(np.float64, shape, elements=values)) if step else
            draw(hnp.arrays(np.float64, shape, elements=values))  # the first step always has one
            for step in range(steps)
        ]
        out.append((theta, grads))
    return out


def run(make_optimizer, problem, dtype=np.float64):
    """Our optimizer on ``problem``; returns each parameter's trajectory."""
    params = [Tensor(theta.astype(dtype), requires_grad=True) for theta, _ in problem]
    opt = make_optimizer(params)
    trajectories = [[] for _ in params]
    for step in range(len(problem[0][1])):
        for p, (_, grads), traj in zip(params, problem, trajectories):
            g = grads[step]
            p.grad = None if g is None else tc.tensor(g.astype(dtype))
        opt.step()
        for p, traj in zip(params, trajectories):
            assert p.dtype == dtype
            traj.append(p.numpy().copy())
    return trajectories


# ----- against the transcription ---------------------------------------------------------
@given(sgd_hyperparameters(), problems())
def test_sgd_matches_the_published_rule(hp, problem):
    ours = run(lambda ps: optim.SGD(ps, **hp), problem)
    for (theta, grads), traj in zip(problem, ours):
        np.testing.assert_allclose(traj, sgd_reference(theta, grads, **hp), rtol=1e-10, atol=1e-12)


@given(adam_hyperparameters(), problems())
def test_adam_matches_the_published_rule(hp, problem):
    ours = run(lambda ps: optim.Adam(ps, **hp), problem)
    for (theta, grads), traj in zip(problem, ours):
        np.testing.assert_allclose(traj, adam_reference(theta, grads, **hp), rtol=1e-9, atol=1e-10)


@settings(max_examples=10)
@given(sgd_hyperparameters(), adam_hyperparameters(), problems(n_params=1))
def test_float32_parameters_stay_float32(sgd_hp, adam_hp, problem):
    (theta, grads), = problem
    for make, reference in (
        (lambda ps: optim.SGD(ps, **sgd_hp), sgd_reference(theta, grads, **sgd_hp)),
        (lambda ps: optim.Adam(ps, **adam_hp), adam_reference(theta, grads, **adam_hp)),
    ):
        ours = run(make, problem, dtype=np.float32)[0]  # asserts the dtype every step
        scale = max(1.0, float(np.abs(reference).max()))
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4 * scale)


def test_state_buffers_keep_the_parameter_dtype():
    p = nn.Parameter(np.ones(3, np.float32))
    p.grad = tc.full((3,), 0.5, dtype=tc.float32)
    sgd, adam = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), optim.Adam([p], weight_decay=0.1)
    sgd.step(), adam.step()
    assert sgd.state[0]["momentum_buffer"].dtype == np.float32
    assert adam.state[0]["exp_avg"].dtype == adam.state[0]["exp_avg_sq"].dtype == np.float32
    assert p.dtype == np.float32 and p.grad.dtype == np.float32


def test_a_parameter_without_grad_is_skipped_and_zero_grad_clears():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = tc.tensor([1.0, -1.0])
    opt.step()
    assert b.data.tolist() == [3.0] and opt.state[1] == {} and opt.state[0]["step"] == 1
    np.testing.assert_allclose(a.data, [0.9, 2.1], rtol=1e-6)
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_grad_assignment_takes_a_matching_tensor_as_in_pytorch():
    p = nn.Parameter(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="Tensor or None"):  # an array is no longer a gradient
        p.grad = np.ones(3, np.float32)
    for bad in (tc.ones(4), tc.ones(3, dtype=tc.float64)):  # shape, dtype
        with pytest.raises(tc.GradError) as info:
            p.grad = bad
        assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)
    assert p.grad is None  # nothing was assigned
    g = tc.ones(3)
    p.grad = g
    assert p.grad is g
    p.grad = None
    assert p.grad is None


def test_accepts_a_generator_of_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert len(opt.params) == 4


# ----- resuming ---------------------------------------------------------------------------
@settings(max_examples=15)
@given(
    st.sampled_from(["sgd", "adam"]),
    sgd_hyperparameters(),
    adam_hyperparameters(),
    problems(),
    st.integers(0, 6),
)
def test_resuming_from_a_state_dict_gives_the_identical_trajectory(kind, sgd_hp, adam_hp, problem, split):
    make = (lambda ps: optim.SGD(ps, **sgd_hp)) if kind == "sgd" else (lambda ps: optim.Adam(ps, **adam_hp))
    steps = len(problem[0][1])
    split = min(split, steps)
    params = [Tensor(theta.astype(np.float32), requires_grad=True) for theta, _ in problem]
    opt = make(params)

    def step(params, opt, i):
        for p, (_, grads) in zip(params, problem):
            p.grad = None if grads[i] is None else tc.tensor(grads[i].astype(np.float32))
        opt.step()

    for i in range(split):
        step(params, opt, i)
    # Resume from a checkpoint (the state dict with every Tensor as a NumPy array)
    # into a fresh optimizer whose hyperparameters differ (loading must restore them).
    params2 = [Tensor(p.numpy().copy(), requires_grad=True) for p in params]
    opt2 = optim.SGD(params2, lr=123.0) if kind == "sgd" else optim.Adam(params2, lr=123.0, betas=(0.5, 0.5))
    opt2.load_state_dict(as_checkpoint(opt.state_dict()))
    for i in range(split, steps):
        step(params, opt, i)
        step(params2, opt2, i)
        for p, p2 in zip(params, params2):
            assert np.array_equal(p.numpy(), p2.numpy())
    sd, sd2 = opt.state_dict(), opt2.state_dict()
    assert sd["param_groups"] == sd2["param_groups"] and sd["state"].keys() == sd2["state"].keys()
    for i, state in sd["state"].items():
        assert state.keys() == sd2["state"][i].keys()
        for name, value in state.items():
            other = sd2["state"][i][name]
            assert np.array_equal(value.numpy(), other.numpy()) and value.dtype == other.dtype, (i, name)


def as_checkpoint(sd):
    """What a checkpoint of ``sd`` holds: the same structure, each Tensor as a NumPy array."""
    return {"state": {i: {k: v.numpy().copy() for k, v in s.items()} for i, s in sd["state"].items()},
            "param_groups": [dict(g) for g in sd["param_groups"]]}


def test_state_dict_has_pytorchs_layout_and_is_a_copy():
    p = Tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p])
    p.grad = tc.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"} and set(sd["state"]) == {0}
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert all(isinstance(v, Tensor) for v in sd["state"][0].values())
    assert sd["state"][0]["step"].item() == 1.0 and sd["param_groups"][0]["params"] == [0]
    sd["state"][0]["exp_avg"].numpy()[...] = 99
    assert not np.any(opt.state[0]["exp_avg"] == 99)


# ----- bad input: an error, and nothing changed ---------------------------------------------
def _params():
    p = nn.Parameter(np.arange(4, dtype=np.float32))
    p.grad = tc.ones(4)
    return [p]


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda ps: optim.SGD(ps, lr=float("nan")), ValueError),
        (lambda ps: optim.SGD(ps, lr=float("inf")), ValueError),
        (lambda ps: optim.SGD(ps, lr=-0.1), ValueError),
        (lambda ps: optim.SGD(ps, lr="0.1"), TypeError),
        (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), ValueError),
        (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1e-4), ValueError),
        (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), ValueError),  # needs momentum
        (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError),
        (lambda ps: optim.SGD(ps, lr=0.1, nesterov="yes"), TypeError),
        (lambda ps: optim.Adam(ps, lr=float("nan")), ValueError),
        (lambda ps: optim.Adam(ps, lr=-1.0), ValueError),
        (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), ValueError),
        (lambda ps: optim.Adam(ps, betas=(0.9, 1.0)), ValueError),
        (lambda ps: optim.Adam(ps, betas=(-0.1, 0.999)), ValueError),
        (lambda ps: optim.Adam(ps, betas=(0.9,)), TypeError),
        (lambda ps: optim.Adam(ps, eps=-1e-8), ValueError),
        (lambda ps: optim.Adam(ps, weight_decay=-0.1), ValueError),
        (lambda ps: optim.SGD([], lr=0.1), ValueError),
        (lambda ps: optim.SGD(ps + ps, lr=0.1), ValueError),
        (lambda ps: optim.SGD(ps + [np.zeros(3)], lr=0.1), TypeError),
        (lambda ps: optim.SGD(ps[0], lr=0.1), TypeError),  # one Tensor, not a list
        (lambda ps: optim.SGD(ps + [ps[0] * 2], lr=0.1), ValueError),  # not a leaf
        (lambda ps: optim.Adam(iter([])), ValueError),
    ],
)
def test_bad_construction_raises_and_changes_nothing(make, error):
    params = _params()
    with pytest.raises(error):
        make(params)
    assert params[0].data.tolist() == [0, 1, 2, 3] and params[0].grad.tolist() == [1, 1, 1, 1]


def _replace_buffers(sd, value):
    sd["state"][0].update({k: value for k in sd["state"][0] if k != "step"})


def _trained(kind):
    params = _params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9) if kind == "sgd" else optim.Adam(params, lr=0.1)
    opt.step()
    return params, opt


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize(
    "corrupt, error",
    [
        (lambda sd: sd["param_groups"][0].pop("lr"), KeyError),
        (lambda sd: sd.update(extra=np.zeros(1)), KeyError),
        (lambda sd: sd.pop("state"), KeyError),
        (lambda sd: sd["state"].update({7: {"momentum_buffer": np.zeros(4), "exp_avg": np.zeros(4)}}), KeyError),
        (lambda sd: sd["state"][0].update(bogus=np.zeros(4)), KeyError),
        (lambda sd: sd["param_groups"][0].update(lr=np.array(-1.0)), ValueError),
        (lambda sd: sd["param_groups"][0].update(lr=np.inf), ValueError),
        (lambda sd: sd["param_groups"][0].update(lr="0.5"), TypeError),
        (lambda sd: sd["param_groups"][0].update(params=[0, 1]), ValueError),
        (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), ValueError),
        (lambda sd: _replace_buffers(sd, np.zeros(5, np.float32)), ValueError),
        (lambda sd: _replace_buffers(sd, np.array(["a"] * 4)), TypeError),
        (lambda sd: _replace_buffers(sd, [0.0] * 4), TypeError),
    ],
)
def test_bad_optimizer_state_dict_raises_and_changes_nothing(kind, corrupt, error):
    params, opt = _trained(kind)
    twin_params, twin = _trained(kind)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.5  # a valid change that must NOT be applied when the rest is bad
    corrupt(sd)
    with pytest.raises(error):
        opt.load_state_dict(sd)
    for o in (opt, twin):
        for p in params + twin_params:
            p.grad = tc.ones(4)
        o.step()
    assert np.array_equal(params[0].numpy(), twin_params[0].numpy())
    assert opt.lr == 0.1


def test_adam_state_dict_with_a_bad_step_count_or_partial_state_is_refused():
    params, opt = _trained("adam")
    before = opt.state_dict()

    def set_step(sd, value):
        sd["param_groups"][0]["lr"] = 0.5
        sd["state"][0]["step"] = value

    for corrupt, error in (
        (lambda sd: set_step(sd, np.array(-1.0)), ValueError),
        (lambda sd: set_step(sd, np.array(1.5)), ValueError),
        (lambda sd: set_step(sd, np.ones(2)), ValueError),
        (lambda sd: set_step(sd, None), TypeError),
        (lambda sd: sd["param_groups"][0].update(lr=0.5) or sd["state"][0].pop("exp_avg_sq"), KeyError),
    ):
        sd = opt.state_dict()
        corrupt(sd)
        with pytest.raises(error):
            opt.load_state_dict(sd)
    after = opt.state_dict()
    assert before["param_groups"] == after["param_groups"]
    assert all(np.array_equal(before["state"][0][k].numpy(), after["state"][0][k].numpy()) for k in before["state"][0])


# ----- against torch.optim itself ---------------------------------------------------------
@settings(max_examples=15)
@given(sgd_hyperparameters(), adam_hyperparameters(), problems(n_params=1))
def test_matches_torch_optim(sgd_hp, adam_hp, problem):
    torch = pytest.importorskip("torch")
    (theta, grads), = problem
    for ours_cls, torch_cls, hp in ((optim.SGD, torch.optim.SGD, sgd_hp), (optim.Adam, torch.optim.Adam, adam_hp)):
        ours = run(lambda ps: ours_cls(ps, **hp), problem)[0]
        tp = torch.tensor(theta, requires_grad=True)
        topt = torch_cls([tp], **hp)
        for g, mine in zip(grads, ours):
            tp.grad = None if g is None else torch.tensor(g)
            topt.step()
            np.testing.assert_allclose(mine, tp.detach().numpy(), rtol=1e-9, atol=1e-10)
