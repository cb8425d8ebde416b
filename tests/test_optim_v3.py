"""Every optimizer against torch.optim step for step (float32 and float64, with
weight decay, maximize, amsgrad, parameter groups, groups added mid-training),
state dicts with PyTorch's layout that load both ways (ours into torch's
optimizer and back) and resume the identical trajectory, add_param_group,
zero_grad(set_to_none=False), PyTorch's implementation switches, and bad
input refused before anything changes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor, optim

# (optimizer, keyword arguments): defaults first, then every option that changes the rule.
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.9, centered=True, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-6,
                     maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-4, weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=0.01, maximize=True)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, maximize=True)),  # rho_t > 5 from step 6
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
]
NAMES = sorted({name for name, _ in CASES})
RICH = {}  # each optimizer's first case with options
for _name, _hp in CASES:
    if _hp:
        RICH.setdefault(_name, _hp)
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def case_id(case):
    name, hp = case
    return name + "".join(f"-{k}" for k in hp)


def as_checkpoint(sd):
    """What a checkpoint of an optimizer's ``sd`` holds: its structure, each Tensor as a NumPy array."""
    return {"state": {i: {k: v.numpy().copy() for k, v in s.items()} for i, s in sd["state"].items()},
            "param_groups": [dict(g) for g in sd["param_groups"]]}


def twins(torch, name, hp, dtype, groups=True, seed=0):
    """Our optimizer and torch's on equal parameters: two groups, the second with its own lr."""
    rng = np.random.default_rng(seed)
    thetas = [rng.standard_normal(s).astype(dtype) for s in ((3, 4), (5,), (2, 1, 2))]
    ours = [Tensor(t, requires_grad=True) for t in thetas]
    theirs = [torch.tensor(t, requires_grad=True) for t in thetas]
    lr2 = hp.get("lr", 1e-3) * 0.5

    def make(module, ps):
        spec = [{"params": ps[:2]}, {"params": ps[2:], "lr": lr2}] if groups else ps
        return getattr(module, name)(spec, **hp)

    return ours, theirs, make(optim, ours), make(torch.optim, theirs)


def give_grads(torch, ours, theirs, rng, skip=None):
    """The same random gradients to both sides; parameter ``skip`` gets none this step."""
    for i, (p, tp) in enumerate(zip(ours, theirs)):
        if i == skip:
            p.grad, tp.grad = None, None
        else:
            g = rng.standard_normal(p.shape).astype(p.dtype)
            p.grad, tp.grad = tc.tensor(g), torch.tensor(g)


def assert_same(ours, theirs, dtype):
    for p, tp in zip(ours, theirs):
        assert p.dtype == dtype
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), **TOL[dtype])


# ----- the update rules ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_optimizer_matches_torch_step_for_step(case, dtype):
    torch = pytest.importorskip("torch")
    name, hp = case
    ours, theirs, opt, topt = twins(torch, name, hp, dtype)
    rng = np.random.default_rng(1)
    for step in range(10):
        give_grads(torch, ours, theirs, rng, skip=1 if step in (2, 3) else None)
        opt.step()
        topt.step()
        assert_same(ours, theirs, dtype)
    for state, p in zip(opt.state, ours):
        for value in state.values():
            if hasattr(value, "shape") and value.shape == p.shape:
                assert value.dtype == dtype  # state in the parameter's dtype


@settings(max_examples=12)
@given(st.sampled_from(["Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam"]), st.floats(1e-4, 0.5),
       st.floats(0.0, 0.2), st.floats(0.0, 0.95), st.floats(0.5, 0.999), st.booleans(), st.integers(0, 1000))
def test_the_new_optimizers_match_torch_on_drawn_hyperparameters(name, lr, wd, beta1, beta2, maximize, seed):
    torch = pytest.importorskip("torch")
    hp = dict(lr=lr, weight_decay=wd, maximize=maximize)
    if name == "Adadelta":
        hp["rho"] = beta2
    elif name != "Adagrad":
        hp["betas"] = (beta1, beta2)
    ours, theirs, opt, topt = twins(torch, name, hp, np.float64, groups=False, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(8):
        give_grads(torch, ours, theirs, rng)
        opt.step()
        topt.step()
    assert_same(ours, theirs, np.float64)


def test_defaults_equal_torchs():
    torch = pytest.importorskip("torch")
    for name in NAMES:
        ours = getattr(optim, name)([Tensor([1.0], requires_grad=True)])
        theirs = getattr(torch.optim, name)([torch.ones(1, requires_grad=True)])
        assert ours.defaults == theirs.defaults, name


def test_step_takes_a_closure_and_returns_its_loss():
    torch = pytest.importorskip("torch")
    ours, theirs, opt, topt = twins(torch, "Adam", dict(lr=0.1), np.float64, groups=False)

    def closure(ps):
        def f():
            for p in ps:
                p.grad = None
            loss = sum((p * p).sum() for p in ps)
            loss.backward()
            return loss
        return f

    for _ in range(3):
        loss, tloss = opt.step(closure(ours)), topt.step(closure(theirs))
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    assert_same(ours, theirs, np.float64)


# ----- state dicts ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_state_dict_has_torchs_layout(case):
    torch = pytest.importorskip("torch")
    name, hp = case
    ours, theirs, opt, topt = twins(torch, name, hp, np.float32)
    rng = np.random.default_rng(2)
    for skip in (None, 1):  # parameter 1 has a grad on the first step only
        give_grads(torch, ours, theirs, rng, skip=skip)
        opt.step()
        topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd.keys() == tsd.keys() == {"state", "param_groups"}
    assert sd["state"].keys() == tsd["state"].keys()
    for i, tstate in tsd["state"].items():
        assert list(sd["state"][i]) == list(tstate), (i, list(sd["state"][i]), list(tstate))
        for key, tvalue in tstate.items():
            value = sd["state"][i][key]
            assert isinstance(value, Tensor) and value.shape == tuple(tvalue.shape), key
            assert str(value.dtype) == str(tvalue.dtype).replace("torch.", ""), key
            np.testing.assert_allclose(value.numpy(), tvalue.numpy(), rtol=2e-5, atol=2e-6)
    for group, tgroup in zip(sd["param_groups"], tsd["param_groups"], strict=True):
        assert list(group) == list(tgroup)
        assert group == tgroup


def test_adagrad_has_state_before_the_first_step_as_in_torch():
    torch = pytest.importorskip("torch")
    ours, theirs, opt, topt = twins(torch, "Adagrad", dict(initial_accumulator_value=0.25), np.float32)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["state"].keys() == tsd["state"].keys() == {0, 1, 2}
    for i in range(3):
        assert sd["state"][i]["step"].item() == 0.0
        np.testing.assert_array_equal(sd["state"][i]["sum"].numpy(), tsd["state"][i]["sum"].numpy())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_resuming_from_a_checkpoint_gives_the_identical_trajectory(case):
    torch = pytest.importorskip("torch")
    name, hp = case
    ours, _, opt, _ = twins(torch, name, hp, np.float32)
    rng = np.random.default_rng(3)
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in ours] for _ in range(6)]

    def run(params, o, steps):
        for gs in steps:
            for p, g in zip(params, gs):
                p.grad = tc.tensor(g)
            o.step()

    run(ours, opt, grads[:3])
    checkpoint = as_checkpoint(opt.state_dict())
    copies = [Tensor(p.numpy().copy(), requires_grad=True) for p in ours]
    other_hp = dict(hp, lr=123.0)
    fresh = getattr(optim, name)([{"params": copies[:2]}, {"params": copies[2:], "lr": 7.0}], **other_hp)
    fresh.load_state_dict(checkpoint)
    assert fresh.param_groups[1]["lr"] == opt.param_groups[1]["lr"]
    run(ours, opt, grads[3:])
    run(copies, fresh, grads[3:])
    for p, q in zip(ours, copies):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    again = fresh.state_dict()  # Tensors load as well as arrays
    fresh.load_state_dict(opt.state_dict())
    assert fresh.state_dict()["param_groups"] == again["param_groups"]


@pytest.mark.parametrize("name", NAMES)
def test_state_dicts_move_between_torch_and_us(name):
    """torch's state dict (as NumPy) loads into ours and ours (as torch tensors) into torch's:
    training then continues on the same trajectory on both sides."""
    torch = pytest.importorskip("torch")
    hp = RICH[name]
    ours, theirs, opt, topt = twins(torch, name, hp, np.float64)
    rng = np.random.default_rng(4)
    for _ in range(3):
        give_grads(torch, ours, theirs, rng)
        opt.step()
        topt.step()
    tsd = topt.state_dict()
    from_torch = {"state": {i: {k: v.numpy().copy() for k, v in s.items()} for i, s in tsd["state"].items()},
                  "param_groups": [dict(g) for g in tsd["param_groups"]]}
    from_us = {"state": {i: {k: torch.tensor(v.numpy()) for k, v in s.items()} for i, s in opt.state_dict()["state"].items()},
               "param_groups": [dict(g) for g in opt.state_dict()["param_groups"]]}
    opt.load_state_dict(from_torch)
    topt.load_state_dict(from_us)
    for _ in range(4):
        give_grads(torch, ours, theirs, rng)
        opt.step()
        topt.step()
        assert_same(ours, theirs, np.float64)


def test_state_dict_keeps_scheduler_keys_and_loads_groups_missing_newer_flags():
    p = Tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    optim.lr_scheduler.StepLR(opt, step_size=2)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["initial_lr"] == 0.1
    old = {"state": {}, "param_groups": [{k: v for k, v in sd["param_groups"][0].items()
                                          if k not in ("foreach", "fused", "capturable", "differentiable",
                                                       "decoupled_weight_decay", "maximize", "amsgrad")}]}
    fresh = optim.Adam([Tensor([1.0, 2.0], requires_grad=True)], lr=0.5)
    fresh.load_state_dict(old)  # a checkpoint from an older PyTorch: those flags take their defaults
    assert fresh.lr == 0.1 and fresh.param_groups[0]["amsgrad"] is False and fresh.param_groups[0]["initial_lr"] == 0.1


# ----- add_param_group, zero_grad, PyTorch's keyword arguments -------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_add_param_group_mid_training_matches_torch(name):
    torch = pytest.importorskip("torch")
    if name == "Adagrad" and tuple(int(v) for v in torch.__version__.split(".")[:2]) < (2, 13):
        pytest.skip("PyTorch 2.11's Adagrad.add_param_group leaves the new group's state empty (KeyError 'sum')")
    hp = dict(lr=0.05) if name == "SGD" else {}
    ours, theirs, opt, topt = twins(torch, name, hp, np.float64, groups=False)
    # start with the first parameter only, add the others later with their own lr
    opt, topt = getattr(optim, name)(ours[:1], **hp), getattr(torch.optim, name)(theirs[:1], **hp)
    rng = np.random.default_rng(5)
    for step in range(6):
        if step == 2:
            opt.add_param_group({"params": ours[1:], "lr": 0.02})
            topt.add_param_group({"params": theirs[1:], "lr": 0.02})
        give_grads(torch, ours, theirs, rng)
        opt.step()
        topt.step()
        assert_same(ours, theirs, np.float64)
    assert len(opt.params) == 3 and len(opt.state) == 3
    assert [list(g) for g in opt.state_dict()["param_groups"]] == [list(g) for g in topt.state_dict()["param_groups"]]


@pytest.mark.parametrize("bad, error", [
    ([1.0], TypeError),  # not a dict
    ({"lr": 0.1}, KeyError),  # no params
    ({"params": "OLD"}, ValueError),  # already optimized
    ({"params": "NEW", "lr": -1.0}, ValueError),
    ({"params": "NEW", "lr": "fast"}, TypeError),
    ({"params": "NEW", "momentum": 0.9}, ValueError),  # not an Adam hyperparameter
    ({"params": "NEWSET"}, TypeError),  # a set has no order
    ({"params": []}, ValueError),
    ({"params": "NEW", "fused": True}, ValueError),
])
def test_add_param_group_refuses_bad_groups_and_changes_nothing(bad, error):
    old, new = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    opt = optim.Adam([old], lr=0.1)
    if isinstance(bad, dict):
        swap = {"OLD": [old], "NEW": [new], "NEWSET": {new}}
        bad = {k: swap.get(v, v) if isinstance(v, str) and k == "params" else v for k, v in bad.items()}
    with pytest.raises(error):
        opt.add_param_group(bad)
    assert len(opt.param_groups) == 1 and opt.params == [old] and opt.state == [{}]


def test_add_param_group_takes_a_single_tensor_and_the_constructors_values():
    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})  # a bare Tensor, as PyTorch allows here
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["lr"] == 0.5 and opt.state_dict()["param_groups"][1]["params"] == [1]


def test_zero_grad_sets_none_or_zeroes_in_place_as_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    theta = rng.standard_normal((3, 2))
    p, tp, untouched = Tensor(theta, requires_grad=True), torch.tensor(theta, requires_grad=True), Tensor([1.0], requires_grad=True)
    opt, topt = optim.SGD([p, untouched], lr=0.1, momentum=0.9), torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    for _ in range(3):
        (p * p * p).sum().backward()
        (tp * tp * tp).sum().backward()
        grad = p.grad
        opt.step()
        topt.step()
        opt.zero_grad(set_to_none=False)
        topt.zero_grad(set_to_none=False)
        assert p.grad is grad and not np.any(grad.numpy()) and untouched.grad is None
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12)
    opt.zero_grad()
    assert p.grad is None
    p.grad = tc.ones(2, dtype=tc.float64).expand(3, 2)  # a broadcast view: written, or replaced by zeros
    opt.zero_grad(set_to_none=False)
    assert p.grad.shape == (3, 2) and not np.any(p.grad.numpy())
    with pytest.raises(TypeError):
        opt.zero_grad(set_to_none="no")


@pytest.mark.parametrize("name", NAMES)
def test_implementation_switches_are_accepted_when_they_change_nothing(name):
    torch = pytest.importorskip("torch")
    import inspect

    switches = [k for k in ("foreach", "fused", "capturable", "differentiable")
                if k in inspect.signature(getattr(torch.optim, name)).parameters]
    assert switches == [k for k in ("foreach", "fused", "capturable", "differentiable")
                        if k in inspect.signature(getattr(optim, name)).parameters]
    p = Tensor([1.0, -2.0], requires_grad=True)
    for switch in switches:
        for value in (None, False):
            getattr(optim, name)([p], **{switch: value})
        if switch == "foreach":  # the same update, batched across parameters in PyTorch
            assert getattr(optim, name)([p], foreach=True).param_groups[0]["foreach"] is True
        else:
            with pytest.raises(ValueError, match=f"{switch}=True is not supported"):
                getattr(optim, name)([p], **{switch: True})
        with pytest.raises(TypeError):
            getattr(optim, name)([p], **{switch: "yes"})
    with pytest.raises(TypeError):
        getattr(optim, name)([p], maximize="yes")
    with pytest.raises(TypeError):
        getattr(optim, name)([p], not_a_keyword=1)


def test_switching_a_group_to_an_unsupported_implementation_fails_the_next_step_before_anything_moves():
    a = Tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([a], lr=0.1, amsgrad=True)
    a.grad = tc.ones(2)
    opt.param_groups[0]["fused"] = True
    with pytest.raises(ValueError, match="fused"):
        opt.step()
    assert a.data.tolist() == [1.0, 2.0] and opt.state == [{}]


@pytest.mark.parametrize("make, error", [
    (lambda ps: optim.Adagrad(ps, lr=-0.1), ValueError),
    (lambda ps: optim.Adagrad(ps, lr_decay=-1.0), ValueError),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1.0), ValueError),
    (lambda ps: optim.Adagrad(ps, eps=float("nan")), ValueError),
    (lambda ps: optim.Adadelta(ps, rho=1.5), ValueError),
    (lambda ps: optim.Adadelta(ps, lr="1"), TypeError),
    (lambda ps: optim.Adamax(ps, betas=(1.0, 0.999)), ValueError),
    (lambda ps: optim.Adamax(ps, betas=0.9), TypeError),
    (lambda ps: optim.NAdam(ps, momentum_decay=-0.1), ValueError),
    (lambda ps: optim.NAdam(ps, decoupled_weight_decay=1), TypeError),
    (lambda ps: optim.RAdam(ps, eps=-1e-8), ValueError),
    (lambda ps: optim.RAdam(ps, weight_decay=float("inf")), ValueError),
    (lambda ps: optim.Adam(ps, amsgrad="yes"), TypeError),
    (lambda ps: optim.AdamW(ps, decoupled_weight_decay=False), TypeError),  # not AdamW's keyword, as in torch
    (lambda ps: optim.RMSprop(ps, centered=1), TypeError),
    (lambda ps: optim.SGD(set(ps)), TypeError),
])
def test_bad_construction_of_the_new_options_raises_and_changes_nothing(make, error):
    p = Tensor(np.arange(4.0, dtype=np.float32), requires_grad=True)
    p.grad = tc.ones(4)
    with pytest.raises(error):
        make([p])
    assert p.data.tolist() == [0, 1, 2, 3] and p.grad.tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("name", ["NAdam", "Adagrad", "Adam"])
@pytest.mark.parametrize("corrupt, error", [
    (lambda sd: sd["state"][0].update(step=np.array(-2.0)), ValueError),
    (lambda sd: sd["state"].update({"x": {}}), KeyError),
    (lambda sd: sd["param_groups"][0].update(betas=(0.9, 1.5), lr_decay=-1.0), ValueError),
    (lambda sd: sd["param_groups"][0].update(capturable=True, foreach=True, fused=True), ValueError),
    (lambda sd: sd["param_groups"][0].update(params=[0, 0]), ValueError),
    (lambda sd: sd.update(param_groups={}), TypeError),
    (lambda sd: sd.update(state=[]), TypeError),
])
def test_bad_state_dicts_of_every_kind_change_nothing(name, corrupt, error):
    ps = [Tensor(np.arange(4.0, dtype=np.float32), requires_grad=True), Tensor(np.ones(2, np.float32), requires_grad=True)]
    opt = getattr(optim, name)(ps, lr=0.1)
    for p in ps:
        p.grad = tc.ones(p.shape)
    opt.step()
    before = as_checkpoint(opt.state_dict())
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.7  # valid, and must not be applied when the rest is bad
    sd["state"][0]["step"] = np.float32(9)
    corrupt(sd)
    with pytest.raises(error):
        opt.load_state_dict(sd)
    after = as_checkpoint(opt.state_dict())
    assert after["param_groups"] == before["param_groups"]
    for i, state in before["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(after["state"][i][key], value)


def test_state_of_another_optimizer_or_a_non_scalar_count_is_refused():
    ps = [Tensor(np.arange(4.0, dtype=np.float32), requires_grad=True)]
    nadam, adam = optim.NAdam(ps), optim.Adam(ps)
    ps[0].grad = tc.ones(4)
    nadam.step()
    adam.step()
    with pytest.raises(KeyError, match="mu_product"):
        adam.load_state_dict(nadam.state_dict())
    sd = nadam.state_dict()
    sd["state"][0]["mu_product"] = np.ones(2)
    with pytest.raises(ValueError, match="scalar"):
        nadam.load_state_dict(sd)
    assert adam.state[0]["step"] == nadam.state[0]["step"] == 1


# ----- devices ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_state_lives_on_the_parameters_device_and_loads_onto_it(name, device):
    hp = RICH[name]
    rng = np.random.default_rng(7)
    theta = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(4)]
    runs = {}
    for where in ("cpu", device):
        p = Tensor(theta, requires_grad=True, device=where)
        opt = getattr(optim, name)([p], **hp)
        for g in grads[:2]:
            p.grad = Tensor(g, device=where)
            opt.step()
        sd = as_checkpoint(opt.state_dict())
        q = Tensor(p.numpy(), requires_grad=True, device=where)
        resumed = getattr(optim, name)([q], **hp)
        resumed.load_state_dict(sd)
        for state in resumed.state:
            for value in state.values():
                if hasattr(value, "shape") and value.shape == q.shape:
                    assert tc.backend.device_of(value) == q.device
        for g in grads[2:]:
            q.grad = Tensor(g, device=where)
            resumed.step()
        runs[where] = q.numpy()
    np.testing.assert_allclose(runs[device], runs["cpu"], rtol=1e-5, atol=1e-6)
