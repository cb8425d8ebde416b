"""Every learning-rate scheduler against ``torch.optim.lr_scheduler``, step for step.

Each schedule is built by one function for both libraries (the APIs are the
same), on an optimizer with three parameter groups, and run long enough to
cover its restarts and cycles: the rates (and the momenta that ``CyclicLR`` and
``OneCycleLR`` cycle) must equal PyTorch's. Then: resuming with
``last_epoch=k``, ``state_dict`` round trips through ``tc.save``, the keys
shared with PyTorch's state dict holding the same values, ``step(epoch)``, and
bad input refused before anything changes.
"""
import math
import warnings
from collections import Counter

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor, optim
from tinygrad_conv.optim import lr_scheduler

torch = pytest.importorskip("torch")
# torch's own SequentialLR steps a ChainedScheduler's schedulers on construction, and says so
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")

LRS = (0.1, 0.05, 0.2)  # the three groups' rates


def _groups(make_param):
    return [{"params": [make_param()]}, {"params": [make_param()], "lr": LRS[1]}, {"params": [make_param()], "lr": LRS[2]}]


def _optimizer(lib, kind):
    """SGD with momentum or Adam, three groups, in ``lib`` ("tc" or "torch")."""
    if lib == "tc":
        module, param = optim, lambda: Tensor([1.0], requires_grad=True)
    else:
        module, param = torch.optim, lambda: torch.zeros(1, requires_grad=True)
    if kind == "SGD":
        return module.SGD(_groups(param), lr=LRS[0], momentum=0.9)
    return module.Adam(_groups(param), lr=LRS[0])


def _module(lib):
    return lr_scheduler if lib == "tc" else torch.optim.lr_scheduler


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


# name -> (build(S, opt, **kw) with S the scheduler module, steps); kw is last_epoch= when resuming
CASES = {
    "lambda": (lambda S, o, **kw: S.LambdaLR(o, [lambda e: 0.95**e, lambda e: 1 / (1 + e), lambda e: (e // 3 + 1) * 0.5],
                                             **kw), 20),
    "lambda_one": (lambda S, o, **kw: S.LambdaLR(o, lambda e: 0.9**e, **kw), 12),
    "multiplicative": (lambda S, o, **kw: S.MultiplicativeLR(o, lambda e: 0.9 if e % 2 else 0.99, **kw), 15),
    "step": (lambda S, o, **kw: S.StepLR(o, 4, gamma=0.5, **kw), 20),
    "multistep": (lambda S, o, **kw: S.MultiStepLR(o, [3, 7, 7, 12], gamma=0.3, **kw), 16),
    "constant": (lambda S, o, **kw: S.ConstantLR(o, factor=0.5, total_iters=4, **kw), 10),
    "constant_default": (lambda S, o, **kw: S.ConstantLR(o, **kw), 10),
    "linear": (lambda S, o, **kw: S.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6, **kw), 12),
    "exponential": (lambda S, o, **kw: S.ExponentialLR(o, 0.93, **kw), 15),
    "polynomial": (lambda S, o, **kw: S.PolynomialLR(o, total_iters=8, power=2.0, **kw), 12),
    "polynomial_default": (lambda S, o, **kw: S.PolynomialLR(o, **kw), 8),
    "cosine": (lambda S, o, **kw: S.CosineAnnealingLR(o, 6, eta_min=0.001, **kw), 25),
    "warm_restarts": (lambda S, o, **kw: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01, **kw), 30),
    "warm_restarts_1": (lambda S, o, **kw: S.CosineAnnealingWarmRestarts(o, 4, **kw), 14),
    "cyclic": (lambda S, o, **kw: S.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2, 0.3], step_size_up=3, step_size_down=5,
                                             **kw), 30),
    "cyclic_triangular2": (lambda S, o, **kw: S.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="triangular2",
                                                         base_momentum=[0.7, 0.8, 0.85], **kw), 30),
    "cyclic_exp_range": (lambda S, o, **kw: S.CyclicLR(o, [0.01, 0.02, 0.03], 0.1, step_size_up=2, mode="exp_range",
                                                       gamma=0.9, **kw), 20),
    "cyclic_scale_fn": (lambda S, o, **kw: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, scale_fn=lambda x: 1 / (1 + x),
                                                      scale_mode="iterations", cycle_momentum=False, **kw), 20),
    "onecycle": (lambda S, o, **kw: S.OneCycleLR(o, max_lr=[0.5, 0.2, 0.3], total_steps=30, **kw), 30),
    "onecycle_3_linear": (lambda S, o, **kw: S.OneCycleLR(o, 0.4, epochs=4, steps_per_epoch=5, anneal_strategy="linear",
                                                          three_phase=True, pct_start=0.25, **kw), 20),
    "sequential": (lambda S, o, **kw: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=4), S.ExponentialLR(o, 0.9),
                                                         S.CosineAnnealingLR(o, 5)], milestones=[5, 12], **kw), 25),
    "sequential_lambda": (lambda S, o, **kw: S.SequentialLR(o, [S.ConstantLR(o, 0.25, total_iters=3),
                                                                S.MultiplicativeLR(o, lambda e: 0.8)], [3], **kw), 10),
    "sequential_chained": (lambda S, o, **kw: S.SequentialLR(
        o, [S.ChainedScheduler([S.LinearLR(o, 0.5, total_iters=3), S.ExponentialLR(o, 0.95)]), S.StepLR(o, 2)], [6],
        **kw), 14),
    "chained": (lambda S, o: S.ChainedScheduler([S.ConstantLR(o, 0.5, total_iters=4), S.ExponentialLR(o, 0.9),
                                                 S.MultiStepLR(o, [6, 9])]), 14),
    "chained_optimizer": (lambda S, o: S.ChainedScheduler([S.LinearLR(o, 0.3, total_iters=5),
                                                           S.CosineAnnealingWarmRestarts(o, 4)], optimizer=o), 14),
}
RESUMABLE = sorted(name for name in CASES if not name.startswith("chained"))


def _run(lib, kind, name, steps=None, resume_at=None):
    """The rates, momenta and ``get_last_lr()`` after construction and each step; with
    ``resume_at=k``, a second scheduler built with ``last_epoch=k`` after k steps takes over."""
    build, n = CASES[name]
    steps = n if steps is None else steps
    opt = _optimizer(lib, kind)
    sched = build(_module(lib), opt)
    records = [(sched.get_last_lr(), [g["lr"] for g in opt.param_groups], _momenta(opt))]
    for t in range(steps):
        if lib == "torch":
            opt.step()  # a no-op (no grads), so that torch does not warn about the order
        if t == resume_at:
            sched = build(_module(lib), opt, last_epoch=sched.last_epoch)
        else:
            sched.step()
        records.append((sched.get_last_lr(), [g["lr"] for g in opt.param_groups], _momenta(opt)))
    return np.array(records, dtype=np.float64), opt, sched


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_rates_and_momenta_equal_torch_step_for_step(name, kind):
    ours, opt, _ = _run("tc", kind, name)
    theirs, _, _ = _run("torch", kind, name)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)
    assert len({tuple(r) for r in ours[:, 1].tolist()}) >= 2  # the schedule moves
    assert "initial_lr" in opt.param_groups[0]


@pytest.mark.parametrize("name", RESUMABLE)
def test_last_epoch_resumes_as_torch(name):
    k = CASES[name][1] // 2
    ours, _, sched = _run("tc", "SGD", name, resume_at=k)
    theirs, _, tsched = _run("torch", "SGD", name, resume_at=k)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)
    assert sched.last_epoch == tsched.last_epoch


def _torch_value(value):
    if isinstance(value, Counter):
        return sorted(value.elements())
    return value


def _compare_with_torch_state(ours, theirs, prefix=""):
    """Our keys that PyTorch's state dict also has hold the same values; returns how many."""
    shared = 0
    for key, value in theirs.items():
        if key == "_schedulers":
            for i, child in enumerate(value):
                shared += _compare_with_torch_state(ours, child, f"{prefix}_schedulers.{i}.")
            continue
        if prefix + key not in ours or isinstance(value, str):
            continue
        np.testing.assert_allclose(ours[prefix + key], np.asarray(_torch_value(value), dtype=np.float64),
                                   rtol=1e-14, err_msg=prefix + key)
        shared += 1
    return shared


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_round_trip_resumes_the_same_rates(tmp_path, name):
    build, n = CASES[name]
    opt = _optimizer("tc", "SGD")
    sched = build(lr_scheduler, opt)
    topt = _optimizer("torch", "SGD")
    tsched = build(torch.optim.lr_scheduler, topt)
    for _ in range(n // 2):
        topt.step()
        sched.step()
        tsched.step()
    sd = sched.state_dict()
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    assert _compare_with_torch_state(sd, tsched.state_dict()) >= 1
    tc.save(sd, tmp_path / "sched.npz")
    opt2 = _optimizer("tc", "SGD")
    sched2 = build(lr_scheduler, opt2)
    sched2.load_state_dict(tc.load(tmp_path / "sched.npz"))
    for g2, g in zip(opt2.param_groups, opt.param_groups):  # what the optimizer's own state_dict restores
        g2.update({k: v for k, v in g.items() if k != "params"})
    assert sched2.get_last_lr() == sched.get_last_lr()
    for _ in range(n - n // 2):  # to the end (OneCycleLR stops there)
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert _momenta(opt2) == _momenta(opt)
    assert set(sched2.state_dict()) == set(sd)


# ----- ReduceLROnPlateau ----------------------------------------------------------------------
METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.89995, 0.7, 0.71, 0.72, 0.73, 0.69, 0.7, 0.7, 0.7, 0.7, 0.5, 0.6,
           0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, float("nan"), 0.6, 0.4, 0.45]


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(patience=2),
    dict(mode="max", patience=1, factor=0.5),
    dict(mode="min", patience=1, threshold=0.05, threshold_mode="abs", cooldown=2),
    dict(mode="max", patience=0, threshold=0.01, threshold_mode="abs", factor=0.3, min_lr=[0.001, 0.002, 0.0]),
    dict(mode="min", patience=0, threshold=0.0, cooldown=1, min_lr=0.02, eps=0.005),
], ids=str)
def test_reduce_lr_on_plateau_equals_torch(tmp_path, kwargs):
    opt, topt = _optimizer("tc", "SGD"), _optimizer("torch", "SGD")
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    metrics = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    for t, m in enumerate(metrics):
        sched.step(m if t % 2 else tc.tensor(m, dtype=tc.float64))  # a number or a one-element Tensor
        tsched.step(m)
        assert sched.get_last_lr() == tsched.get_last_lr() == [g["lr"] for g in opt.param_groups]
        assert (sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch) == \
            (tsched.num_bad_epochs, tsched.cooldown_counter, tsched.last_epoch)
        assert sched.best == tsched.best
        if t == 12:
            tc.save(sched.state_dict(), tmp_path / "p.npz")
            opt2 = _optimizer("tc", "SGD")
            for g2, g in zip(opt2.param_groups, opt.param_groups):
                g2["lr"] = g["lr"]
            sched2 = lr_scheduler.ReduceLROnPlateau(opt2, **kwargs)
            sched2.load_state_dict(tc.load(tmp_path / "p.npz"))
        if t > 12:
            sched2.step(m)
            assert sched2.get_last_lr() == sched.get_last_lr()
    assert min(sched.get_last_lr()) < min(LRS) or "patience" not in kwargs
    assert _compare_with_torch_state(sched.state_dict(), tsched.state_dict()) >= 9


# ----- step(epoch), a user's subclass ------------------------------------------------------------
@pytest.mark.parametrize("name", ["step", "multistep", "constant", "linear", "exponential", "polynomial", "cosine",
                                  "lambda", "cyclic"])
def test_step_with_an_epoch_uses_the_closed_form_as_torch(name):
    build = CASES[name][0]
    opt, topt = _optimizer("tc", "SGD"), _optimizer("torch", "SGD")
    sched, tsched = build(lr_scheduler, opt), build(torch.optim.lr_scheduler, topt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (3, 4, 9, 1, 7, 7, 15):
            topt.step()
            with pytest.warns(UserWarning, match="deprecated"):
                sched.step(epoch)
            tsched.step(epoch)
            np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-14, atol=0)
            assert sched.last_epoch == tsched.last_epoch


def test_warm_restarts_with_fractional_epochs_equal_torch():
    opt, topt = _optimizer("tc", "Adam"), _optimizer("torch", "Adam")
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=3, eta_min=0.001)
    tsched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=2, T_mult=3, eta_min=0.001)
    iters = 4
    for epoch in range(12):
        for i in range(iters):
            topt.step()
            sched.step(epoch + i / iters)
            tsched.step(epoch + i / iters)
            np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-14, atol=0)
            assert (sched.T_cur, sched.T_i, sched.last_epoch) == (tsched.T_cur, tsched.T_i, tsched.last_epoch)
    with pytest.raises(ValueError, match="epoch"):
        sched.step(-1)


def test_a_subclass_written_for_torch_runs():
    class Warmup(lr_scheduler._LRScheduler):
        def __init__(self, optimizer, warmup, last_epoch=-1):
            self.warmup = warmup
            super().__init__(optimizer, last_epoch)

        def get_lr(self):
            return [base * min(1.0, (self.last_epoch + 1) / self.warmup) for base in self.base_lrs]

    opt = _optimizer("tc", "SGD")
    sched = Warmup(opt, 4)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(5):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
    assert isinstance(sched, lr_scheduler.LRScheduler) and sched.state_dict()["last_epoch"] == 5


# ----- bad input: a clear error, nothing changed ------------------------------------------------------
BAD = [
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0] * 2), ValueError),
    (lambda o: lr_scheduler.LambdaLR(o, lambda e: "fast"), TypeError),
    (lambda o: lr_scheduler.MultiplicativeLR(o, [None, None, None]), TypeError),
    (lambda o: lr_scheduler.StepLR(o, 3, last_epoch=-2), ValueError),
    (lambda o: lr_scheduler.StepLR(o, 3, last_epoch=2.0), TypeError),
    (lambda o: lr_scheduler.ExponentialLR(o, 0.9, last_epoch=3), KeyError),  # resuming needs "initial_lr"
    (lambda o: lr_scheduler.ConstantLR(o, factor=1.5), ValueError),
    (lambda o: lr_scheduler.ConstantLR(o, factor=0.0), ValueError),
    (lambda o: lr_scheduler.PolynomialLR(o, total_iters=0), ValueError),
    (lambda o: lr_scheduler.PolynomialLR(o, power="2"), TypeError),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0), ValueError),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=1.5), TypeError),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, mode="sine"), ValueError),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, [0.1, 0.2]), ValueError),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=0), ValueError),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, scale_mode="epochs"), ValueError),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, base_momentum=[0.8, 0.8]), ValueError),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, last_epoch=4), KeyError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="lowest"), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="relative"), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.0, 0.1]), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau("opt"), TypeError),
    (lambda o: lr_scheduler.SequentialLR(o, [], []), ValueError),
    (lambda o: lr_scheduler.SequentialLR(o, ["StepLR"], []), TypeError),
    (lambda o: lr_scheduler.ChainedScheduler([]), ValueError),
]


@pytest.mark.parametrize("make, error", BAD)
def test_bad_arguments_raise_before_anything_changes(make, error):
    opt = _optimizer("tc", "SGD")
    before = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    with pytest.raises(error, match=r"\w+: "):
        make(opt)
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == before


def test_composites_check_their_schedulers():
    opt, other = _optimizer("tc", "SGD"), _optimizer("tc", "SGD")
    plateau = lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(opt, 2), plateau])
    with pytest.raises(ValueError, match="another optimizer"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(other, 2)], [3])
    with pytest.raises(ValueError, match="milestones"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(opt, 2)], [3, 5])
    with pytest.raises(TypeError, match="metrics"):
        plateau.step("low")
    assert plateau.last_epoch == 0 and plateau.num_bad_epochs == 0


def test_a_failing_step_changes_nothing():
    opt = _optimizer("tc", "SGD")
    sched = lr_scheduler.LambdaLR(opt, lambda e: 1.0 if e < 3 else None)
    sched.step()
    sched.step()
    with pytest.raises(TypeError, match=r"lr_lambda\(3\)"):
        sched.step()
    assert sched.last_epoch == 2 and sched._step_count == 3 and sched.get_last_lr() == list(LRS)


@pytest.mark.parametrize("name, key, value, error", [
    ("step", "step_size", np.array(0), ValueError),
    ("step", "gamma", np.array("x"), TypeError),
    ("step", "base_lrs", np.array([0.1, 0.2]), ValueError),
    ("multistep", "milestones", np.array([2.5]), TypeError),
    ("warm_restarts", "T_cur", np.array(np.nan), ValueError),
    ("cyclic", "max_momentums", np.array([0.9, -0.9, 0.9]), ValueError),
    ("sequential", "_schedulers.1.gamma", np.array(-1.0), ValueError),
    ("sequential", "_milestones", np.array([12, 5]), ValueError),
    ("chained", "_schedulers.2.milestones", np.array([[1.5]]), TypeError),
])
def test_a_bad_state_dict_value_changes_nothing(name, key, value, error):
    build, n = CASES[name]
    opt = _optimizer("tc", "SGD")
    sched = build(lr_scheduler, opt)
    for _ in range(n // 2):
        sched.step()
    sd = sched.state_dict()
    if "last_epoch" in sd:
        sd["last_epoch"] = np.array(0)  # would move last_epoch if it were applied first
    sd[key] = value
    before = {k: v.tolist() for k, v in sched.state_dict().items()}
    with pytest.raises(error, match="load_state_dict"):
        sched.load_state_dict(sd)
    assert {k: v.tolist() for k, v in sched.state_dict().items()} == before
    del sd[key]
    with pytest.raises(KeyError, match=key.replace(".", r"\.")):
        sched.load_state_dict(sd)
    sd[key], sd["unknown"] = before[key], np.array(1.0)
    with pytest.raises(KeyError, match="unknown"):
        sched.load_state_dict(sd)


def test_plateau_load_state_dict_checks_mode():
    opt = _optimizer("tc", "SGD")
    sched = lr_scheduler.ReduceLROnPlateau(opt, mode="max")
    sd = sched.state_dict()
    assert sd["mode"] == 1 and sd["best"] == -math.inf
    sd["mode"] = np.array(2)
    with pytest.raises(ValueError, match="mode"):
        sched.load_state_dict(sd)
    assert sched.mode == "max"
