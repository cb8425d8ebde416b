"""AdamW, RMSprop, parameter groups and learning-rate schedulers: against
PyTorch's documented rules written out in NumPy, and against torch itself
when it is importable."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor, optim
from tinygrad_conv.optim import lr_scheduler


# ----- the oracles: torch.optim's pseudo-code, float64 --------------------------------------
def adamw_reference(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    beta1, beta2 = betas
    theta, m, v, trajectory = theta.copy(), 0.0, 0.0, []
    for t, g in enumerate(grads, 1):
        theta = theta * (1 - lr * weight_decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        theta = theta - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        trajectory.append(theta)
    return trajectory


def rmsprop_reference(theta, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    theta, v, a, b, trajectory = theta.copy(), 0.0, 0.0, 0.0, []
    for g in grads:
        if weight_decay:
            g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g**2
        if centered:
            a = alpha * a + (1 - alpha) * g
            denom = np.sqrt(v - a**2) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0:
            b = momentum * b + g / denom
            theta = theta - lr * b
        else:
            theta = theta - lr * g / denom
        trajectory.append(theta)
    return trajectory


def as_checkpoint(sd):
    """What a checkpoint of an optimizer's ``sd`` holds: its structure, each Tensor as a NumPy array."""
    return {"state": {i: {k: v.numpy().copy() for k, v in s.items()} for i, s in sd["state"].items()},
            "param_groups": [dict(g) for g in sd["param_groups"]]}


def run(make, theta, grads, dtype=np.float64):
    p = Tensor(theta.astype(dtype), requires_grad=True)
    opt = make([p])
    out = []
    for g in grads:
        p.grad = tc.tensor(g.astype(dtype))
        opt.step()
        out.append(p.numpy().copy())
    return out


problem = st.integers(0, 10**6).map(lambda seed: (
    np.random.default_rng(seed).standard_normal(5),
    [np.random.default_rng(seed + k).standard_normal(5) for k in range(1, 7)],
))


@given(problem, st.floats(1e-4, 0.1), st.floats(0.0, 0.5), st.sampled_from([(0.9, 0.999), (0.5, 0.9)]))
def test_adamw_matches_the_published_rule(prob, lr, wd, betas):
    theta, grads = prob
    ours = run(lambda ps: optim.AdamW(ps, lr=lr, betas=betas, weight_decay=wd), theta, grads)
    for a, b in zip(ours, adamw_reference(theta, grads, lr, betas, 1e-8, wd)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@given(problem, st.floats(1e-4, 0.1), st.floats(0.5, 0.99), st.floats(0.0, 0.1), st.sampled_from([0.0, 0.9]), st.booleans())
def test_rmsprop_matches_the_published_rule(prob, lr, alpha, wd, momentum, centered):
    theta, grads = prob
    hp = dict(lr=lr, alpha=alpha, weight_decay=wd, momentum=momentum, centered=centered)
    ours = run(lambda ps: optim.RMSprop(ps, **hp), theta, grads)
    for a, b in zip(ours, rmsprop_reference(theta, grads, eps=1e-8, **hp)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_float32_stays_float32():
    theta, grads = np.ones(3), [np.full(3, 0.5)] * 3
    for make in (lambda ps: optim.AdamW(ps), lambda ps: optim.RMSprop(ps, momentum=0.9, centered=True)):
        out = run(make, theta, grads, np.float32)
        assert out[-1].dtype == np.float32


@pytest.mark.parametrize("name, hp", [
    ("AdamW", dict(lr=0.01, weight_decay=0.1)), ("AdamW", dict(lr=0.003, betas=(0.8, 0.99))),
    ("RMSprop", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), ("Adam", dict(lr=0.01, weight_decay=0.1)),
])
def test_matches_torch_optim_with_parameter_groups(name, hp):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    thetas = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    ours = [Tensor(t, requires_grad=True) for t in thetas]
    theirs = [torch.tensor(t, requires_grad=True) for t in thetas]
    opt = getattr(optim, name)([{"params": [ours[0]]}, {"params": [ours[1]], "lr": hp["lr"] * 3}], **hp)
    topt = getattr(torch.optim, name)([{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": hp["lr"] * 3}], **hp)
    for _ in range(5):
        for p, tp in zip(ours, theirs):
            g = rng.standard_normal(p.shape)
            p.grad, tp.grad = tc.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_param_groups_hold_every_hyperparameter_and_attributes_read_and_write_them():
    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    opt = optim.SGD([{"params": [a], "lr": 0.5}, {"params": [b], "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0] == {"params": [a], "lr": 0.5, "momentum": 0.0, "dampening": 0.0,
                                   "weight_decay": 0.0, "nesterov": False, "maximize": False, "foreach": None,
                                   "differentiable": False, "fused": None}
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.lr == 0.5 and opt.defaults["lr"] == 0.1
    a.grad = b.grad = tc.ones(1)
    opt.step()
    assert a.data.tolist() == [0.5] and b.data[0].item() == pytest.approx(1.9)
    opt.lr = 0.01
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.01]
    single = optim.Adam([a])
    assert len(single.param_groups) == 1 and single.param_groups[0]["params"] == [a]
    from_generator = optim.SGD(({"params": [p]} for p in (a, b)), lr=0.1)
    assert [g["params"] for g in from_generator.param_groups] == [[a], [b]]


@pytest.mark.parametrize("change, error", [
    (lambda opt: opt.param_groups[1].update(lr=-1.0), ValueError),
    (lambda opt: opt.param_groups[1].update(lr=float("nan")), ValueError),
    (lambda opt: setattr(opt, "betas", (0.9, 1.5)), ValueError),
    (lambda opt: opt.param_groups[0].update(eps="small"), TypeError),
])
def test_a_bad_value_assigned_after_construction_fails_the_next_step_before_anything_moves(change, error):
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0], requires_grad=True)
    opt = optim.AdamW([{"params": [a]}, {"params": [b]}], lr=0.1)
    a.grad, b.grad = tc.ones(2), tc.ones(1)
    change(opt)
    with pytest.raises(error):
        opt.step()
    assert a.data.tolist() == [1.0, 2.0] and b.data.tolist() == [3.0] and opt.state == [{}, {}]


@pytest.mark.parametrize("groups, error", [
    ([{"params": []}], ValueError),
    ([{"lr": 0.1}], KeyError),
    ([{"params": [None]}], TypeError),
    ([{"params": "P"}, {"params": "P"}], ValueError),  # the same tensor in two groups
    ([{"params": "P", "lr": -1}], ValueError),
    ([{"params": "P", "momentum": 0.9}], ValueError),  # not an Adam hyperparameter
])
def test_bad_groups_raise(groups, error):
    p = Tensor([1.0], requires_grad=True)
    groups = [{k: ([p] if v == "P" else v) for k, v in g.items()} for g in groups]
    with pytest.raises(error):
        optim.Adam(groups)


@pytest.mark.parametrize("make", [
    lambda g: optim.AdamW(g, lr=0.1), lambda g: optim.RMSprop(g, momentum=0.5, centered=True),
    lambda g: optim.SGD(g, lr=0.1, momentum=0.9),
])
def test_state_dict_with_groups_round_trips_through_a_checkpoint(make):
    rng = np.random.default_rng(1)

    def build():
        ps = [Tensor(np.arange(3.0), requires_grad=True), Tensor(np.ones(2), requires_grad=True),
              Tensor(np.zeros(1), requires_grad=True)]
        return ps, make([{"params": ps[:2], "lr": 0.05}, {"params": ps[2:]}])

    grads = [[rng.standard_normal(3), rng.standard_normal(2), rng.standard_normal(1)] for _ in range(6)]
    ps, opt = build()
    for gs in grads[:3]:
        for p, g in zip(ps, gs):
            p.grad = tc.tensor(g)
        opt.step()
    ps2, opt2 = build()
    for p, p2 in zip(ps, ps2):
        p2.data[...] = p.data
    opt2.param_groups[0]["lr"] = 9.0  # loading restores it
    opt2.load_state_dict(as_checkpoint(opt.state_dict()))
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for gs in grads[3:]:
        for pp, o in ((ps, opt), (ps2, opt2)):
            for p, g in zip(pp, gs):
                p.grad = tc.tensor(g)
            o.step()
        for p, p2 in zip(ps, ps2):
            np.testing.assert_array_equal(p.numpy(), p2.numpy())
    sd = opt.state_dict()
    assert sd["param_groups"][1]["lr"] == opt.param_groups[1]["lr"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    single = optim.AdamW([ps[0]])
    with pytest.raises(ValueError, match="2 parameter groups"):
        single.load_state_dict(sd)
    regrouped, _ = build()
    other = make([{"params": regrouped[:1]}, {"params": regrouped[1:]}])
    with pytest.raises(ValueError, match="group 0"):
        other.load_state_dict(sd)


# ----- schedulers ---------------------------------------------------------------------------
SCHEDULES = {
    "step": (lambda o: lr_scheduler.StepLR(o, 3, gamma=0.5), lambda t: t.StepLR, dict(step_size=3, gamma=0.5)),
    "multistep": (lambda o: lr_scheduler.MultiStepLR(o, [2, 5, 5, 9], gamma=0.3), lambda t: t.MultiStepLR,
                  dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    "exponential": (lambda o: lr_scheduler.ExponentialLR(o, 0.9), lambda t: t.ExponentialLR, dict(gamma=0.9)),
    "cosine": (lambda o: lr_scheduler.CosineAnnealingLR(o, 7, eta_min=0.001), lambda t: t.CosineAnnealingLR,
               dict(T_max=7, eta_min=0.001)),
    "linear": (lambda o: lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=6), lambda t: t.LinearLR,
               dict(start_factor=0.25, total_iters=6)),
    "onecycle": (lambda o: lr_scheduler.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=25), lambda t: t.OneCycleLR,
                 dict(max_lr=[0.5, 0.2], total_steps=25)),
    "onecycle_linear_3": (lambda o: lr_scheduler.OneCycleLR(o, 0.4, epochs=4, steps_per_epoch=5, anneal_strategy="linear",
                                                           three_phase=True, pct_start=0.25),
                          lambda t: t.OneCycleLR, dict(max_lr=0.4, epochs=4, steps_per_epoch=5, anneal_strategy="linear",
                                                       three_phase=True, pct_start=0.25)),
}


def _closed_form(name, base, t):
    """The documented closed forms, for the schedules that have a simple one."""
    if name == "step":
        return base * 0.5 ** (t // 3)
    if name == "exponential":
        return base * 0.9**t
    if name == "cosine":
        return 0.001 + (base - 0.001) * (1 + math.cos(math.pi * t / 7)) / 2
    if name == "linear":
        return base * (0.25 + (1 - 0.25) * min(t, 6) / 6)
    return None


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("opt_name", ["SGD", "AdamW"])
def test_schedules_match_closed_forms_and_torch_step_for_step(name, opt_name):
    make, _, _ = SCHEDULES[name]
    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    kwargs = dict(momentum=0.9) if opt_name == "SGD" else {}
    opt = getattr(optim, opt_name)([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, **kwargs)
    sched = make(opt)
    steps = 20
    ours = [sched.get_last_lr()]
    momenta = [[g["momentum"] if opt_name == "SGD" else g["betas"][0] for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        sched.step()
        ours.append(sched.get_last_lr())
        momenta.append([g["momentum"] if opt_name == "SGD" else g["betas"][0] for g in opt.param_groups])
    assert ours[-1] == [g["lr"] for g in opt.param_groups]
    for t, lrs in enumerate(ours):
        for base, lr in zip((0.1, 0.05), lrs):
            want = _closed_form(name, base, t)
            if want is not None:
                assert lr == pytest.approx(want, rel=1e-12, abs=1e-15)
    torch = pytest.importorskip("torch")
    ta, tb = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    topt = getattr(torch.optim, opt_name)([{"params": [ta]}, {"params": [tb], "lr": 0.05}], lr=0.1, **kwargs)
    _, torch_cls, torch_kwargs = SCHEDULES[name]
    tsched = torch_cls(torch.optim.lr_scheduler)(topt, **torch_kwargs)
    theirs = [tsched.get_last_lr()]
    their_momenta = [[g["momentum"] if opt_name == "SGD" else g["betas"][0] for g in topt.param_groups]]
    for _ in range(steps):
        topt.step()
        tsched.step()
        theirs.append(tsched.get_last_lr())
        their_momenta.append([g["momentum"] if opt_name == "SGD" else g["betas"][0] for g in topt.param_groups])
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-13, atol=0)
    np.testing.assert_allclose(np.array(momenta), np.array(their_momenta), rtol=1e-13, atol=0)


def test_onecycle_defaults_and_its_end():
    p = Tensor([1.0], requires_grad=True)
    opt = optim.AdamW([p], lr=1.0)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=10)
    assert sched.get_last_lr() == [pytest.approx(0.01 / 25)] and opt.betas[0] == pytest.approx(0.95)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(9):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert max(lrs) == pytest.approx(0.01) and lrs.index(max(lrs)) == 2  # pct_start 0.3 of 10 steps
    assert lrs[-1] == pytest.approx(0.01 / 25 / 1e4)
    assert opt.betas[0] == pytest.approx(0.95)
    sched.step()  # step 10 == total_steps is allowed, as in PyTorch
    with pytest.raises(ValueError, match="total_steps"):
        sched.step()


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_scheduler_state_dict_resumes_the_same_rates(tmp_path, name):
    make = SCHEDULES[name][0]

    def build():
        ps = [Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)]
        opt = optim.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.05}], lr=0.1, momentum=0.9)
        return opt, make(opt)

    opt, sched = build()
    for _ in range(8):
        sched.step()
    tc.save(sched.state_dict(), tmp_path / "s.npz")
    opt2, sched2 = build()
    sched2.load_state_dict(tc.load(tmp_path / "s.npz"))
    opt2.load_state_dict(as_checkpoint(opt.state_dict()))
    assert sched2.get_last_lr() == sched.get_last_lr() and sched2.last_epoch == 8
    for _ in range(10):
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
    sd = sched.state_dict()
    del sd["last_epoch"]
    with pytest.raises(KeyError):
        sched2.load_state_dict(sd)


@pytest.mark.parametrize("make, error", [
    (lambda o: lr_scheduler.StepLR(o, 0), ValueError),
    (lambda o: lr_scheduler.StepLR(o, 2.5), TypeError),
    (lambda o: lr_scheduler.StepLR("opt", 2), TypeError),
    (lambda o: lr_scheduler.MultiStepLR(o, 3), TypeError),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, 0), ValueError),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), ValueError),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), ValueError),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1), ValueError),  # no length
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), ValueError),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"), ValueError),
    (lambda o: lr_scheduler.OneCycleLR(o, [0.1, 0.2], total_steps=10), ValueError),
])
def test_bad_scheduler_arguments_raise(make, error):
    opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(error):
        make(opt)
    assert opt.param_groups[0]["lr"] == 0.1
