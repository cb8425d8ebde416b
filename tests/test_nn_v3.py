"""Version 3 of nn, against PyTorch: the functional path, ``nn.init`` (formulas, fans, gains,
statistics), default initialisations, state dicts that interchange with PyTorch's,
``load_state_dict(strict=)``, Module methods, containers, ``inplace=`` and ``padding="same"``.

Models are defined once, as functions of the ``nn`` module, and built with both
``torch.nn`` and ``tinygrad_conv.nn``: the program PyTorch users write, with only
the import changed.
"""
import math
import warnings

import numpy as np
import pytest

import tinygrad_conv as tc
import tinygrad_conv.nn.functional as F
from tinygrad_conv import Tensor, nn

torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach())


# ----- models written once, for either library -----------------------------------------------------
def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding="same", bias=False), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Flatten(), nn.Linear(6 * 4 * 4, 10), nn.Dropout(0.5, inplace=True), nn.Linear(10, 3),
    )


def nested(nn):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(nn.init.ones_(torch_or_tc(nn).empty(3)))
            self.body = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.1, inplace=True))
            self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Linear(4, 1, bias=False)})
            self.extra = nn.ParameterList([nn.Parameter(torch_or_tc(nn).zeros(2))])
            self.table = nn.ParameterDict({"w": nn.Parameter(torch_or_tc(nn).ones(1))})
            self.norm = nn.BatchNorm1d(4)
            self.register_buffer("steps", torch_or_tc(nn).zeros(1))

        def forward(self, x):
            h = self.norm(self.body(x * self.scale))
            return self.heads["a"](h) + self.heads["b"](h) + self.extra[0] + self.table["w"]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = Block()
            self.blocks = nn.ModuleList([Block(), Block()])
            self.out = nn.Linear(2, 2)

        def forward(self, x):
            h = self.first(x)
            return self.out(h)

    return Model()


def torch_or_tc(nn_module):
    return torch if nn_module is torch.nn else tc


def torch_state_as_numpy(model):
    return {k: v.numpy() for k, v in model.state_dict().items()}  # the README's conversion recipe


# ----- the functional path ------------------------------------------------------------------------
def test_nn_functional_is_the_functional_module():
    import tinygrad_conv.functional
    from tinygrad_conv.nn import functional as G

    assert F is tinygrad_conv.functional is G is nn.functional


@pytest.mark.parametrize("values, num_classes", [([0, 2, 1, 2], -1), ([[1], [0]], 4), ([3], 4), ([], 3)])
def test_one_hot_matches_torch(values, num_classes):
    ours = F.one_hot(tc.tensor(values, dtype=tc.int64), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(values, dtype=torch.int64), num_classes)
    assert ours.dtype == tc.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: F.one_hot(tc.tensor([0.0, 1.0])), TypeError),
        (lambda: F.one_hot(tc.tensor([0, 3]), 3), ValueError),
        (lambda: F.one_hot(tc.tensor([-1, 0])), ValueError),
        (lambda: F.one_hot(tc.tensor([], dtype=tc.int64)), ValueError),
    ],
)
def test_one_hot_errors(call, error):
    with pytest.raises(error):
        call()


# ----- nn.init: gains, fans, formulas -------------------------------------------------------------
@pytest.mark.parametrize(
    "nonlinearity, param",
    [("linear", None), ("conv2d", None), ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None),
     ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)],
)
def test_calculate_gain_is_pytorchs_table(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="swish"):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        nn.init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3, 3), (4, 6, 5), (2, 3, 1, 2, 2)])
def test_fans_are_pytorchs(shape):
    ours = nn.init._calculate_fan_in_and_fan_out(tc.empty(shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert ours == theirs


SHAPE = (256, 128, 3, 3)  # 294912 values: fan_in = 1152, fan_out = 2304

INITS = [
    ("uniform_", dict(a=-0.3, b=0.7)),
    ("normal_", dict(mean=0.5, std=0.2)),
    ("xavier_uniform_", {}),
    ("xavier_uniform_", dict(gain=2.0)),
    ("xavier_normal_", {}),
    ("xavier_normal_", dict(gain=0.5)),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", dict(a=math.sqrt(5))),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu")),
    ("kaiming_normal_", {}),
    ("kaiming_normal_", dict(a=0.2, mode="fan_out")),
    ("kaiming_normal_", dict(nonlinearity="tanh")),
    ("trunc_normal_", {}),
    ("trunc_normal_", dict(mean=0.1, std=0.02, a=0.08, b=0.15)),
]


@pytest.mark.parametrize("name, kwargs", INITS)
@pytest.mark.parametrize("dtype", [tc.float32, tc.float64])
def test_init_distributions_match_torch(name, kwargs, dtype):
    """Same formulas, fans and gains: on a large tensor the moments and the range agree with
    PyTorch's draws (different generators, so statistically, not value for value)."""
    tc.manual_seed(0)
    torch.manual_seed(0)
    ours = tc.full(SHAPE, 7.0, dtype=dtype)
    array = ours.array
    assert getattr(nn.init, name)(ours, **kwargs) is ours
    assert ours.array is array and ours.dtype == dtype  # in place, dtype kept
    theirs = getattr(torch.nn.init, name)(torch.full(SHAPE, 7.0, dtype=torch.float64), **kwargs).numpy()
    a = ours.numpy().astype(np.float64)
    spread = theirs.std()
    assert a.std() == pytest.approx(spread, rel=0.01)
    assert abs(a.mean() - theirs.mean()) < 0.01 * spread
    # uniform draws reach their bound; normal ones have the same tails (1st/99th percentiles)
    q = [0, 1, 99, 100] if "uniform" in name else [1, 99]
    np.testing.assert_allclose(np.percentile(a, q) / spread, np.percentile(theirs, q) / spread, atol=0.03)


def test_uniform_and_trunc_normal_stay_in_their_bounds():
    tc.manual_seed(1)
    bound = math.sqrt(6 / (128 * 9 + 256 * 9))
    t = nn.init.xavier_uniform_(tc.empty(SHAPE))
    assert t.numpy().max() <= bound and t.numpy().min() >= -bound
    t = nn.init.trunc_normal_(tc.empty(SHAPE), mean=0.0, std=1.0, a=-0.5, b=1.5)
    assert t.numpy().min() >= -0.5 and t.numpy().max() <= 1.5 and t.numpy().min() < -0.49


def test_constant_ones_zeros_eye_dirac_equal_torch():
    for name, args in [("constant_", (0.3,)), ("ones_", ()), ("zeros_", ())]:
        np.testing.assert_array_equal(getattr(nn.init, name)(tc.empty(3, 4), *args).numpy(),
                                      getattr(torch.nn.init, name)(torch.empty(3, 4), *args).numpy())
    for shape in [(3, 5), (5, 3), (4, 4)]:
        np.testing.assert_array_equal(nn.init.eye_(tc.empty(shape)).numpy(), torch.nn.init.eye_(torch.empty(shape)).numpy())
    for shape, groups in [((4, 3, 3, 3), 1), ((6, 2, 3, 5), 2), ((2, 4, 3), 1), ((4, 2, 3, 3, 3), 2)]:
        np.testing.assert_array_equal(nn.init.dirac_(tc.empty(shape), groups).numpy(),
                                      torch.nn.init.dirac_(torch.empty(shape), groups).numpy())


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 2, 3, 3), (3, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    tc.manual_seed(2)
    w = nn.init.orthogonal_(tc.empty(shape), gain=2.0).numpy().astype(np.float64).reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-5)
    theirs = torch.nn.init.orthogonal_(torch.empty(shape), gain=2.0).numpy().reshape(shape[0], -1)
    np.testing.assert_allclose(np.abs(w).sum(), np.abs(theirs).sum(), rtol=0.5)  # same scale


def test_inits_work_on_parameters_outside_any_graph_and_take_a_generator():
    p = nn.Parameter(np.zeros((30, 40), np.float32))
    for name in ("uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
                 "trunc_normal_", "orthogonal_", "eye_", "ones_", "zeros_"):
        assert getattr(nn.init, name)(p) is p  # a leaf that requires grad: fine, as under no_grad
        assert p.requires_grad and p.grad_fn is None and p.grad is None
    draws = [nn.init.kaiming_normal_(tc.empty(30, 40), generator=np.random.default_rng(5)).numpy() for _ in range(2)]
    np.testing.assert_array_equal(*draws)
    with pytest.raises(TypeError, match="generator"):
        nn.init.normal_(tc.empty(3), generator=5)
    with pytest.raises(ValueError, match="at least 2 dims"):
        nn.init.xavier_uniform_(tc.empty(5))
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.init.eye_(tc.empty(2, 2, 2))
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_uniform_(tc.empty(2, 2), mode="fan_avg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert nn.init.kaiming_uniform_(tc.empty(0, 3)).shape == (0, 3)


# ----- default initialisations ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda nn: nn.Conv2d(64, 128, 3, groups=2),
        lambda nn: nn.Conv2d(16, 32, (3, 5), bias=True),
        lambda nn: nn.ConvTranspose2d(64, 128, 3, groups=2),
        lambda nn: nn.ConvTranspose2d(8, 16, 4, stride=2),
        lambda nn: nn.Linear(400, 300),
    ],
)
def test_default_init_bounds_are_pytorchs(make):
    tc.manual_seed(3)
    torch.manual_seed(3)
    ours, theirs = make(nn), make(torch.nn)
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(theirs.weight)
    bound = 1 / math.sqrt(fan_in)
    for name in ("weight", "bias"):
        a, t = getattr(ours, name).numpy(), _np(getattr(theirs, name))
        assert a.shape == t.shape and a.dtype == np.float32
        assert np.abs(a).max() <= bound and np.abs(t).max() <= bound
        if a.size > 1000:
            assert np.abs(a).max() > 0.99 * bound
            assert a.std() == pytest.approx(t.std(), rel=0.02)


def test_batch_norm_defaults_are_pytorchs():
    ours, theirs = nn.BatchNorm2d(5), torch.nn.BatchNorm2d(5)
    for (k, a), (k2, t) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert k == k2 and a.dtype == t.numpy().dtype
        np.testing.assert_array_equal(a.numpy(), t.numpy())


# ----- state dicts interchange with PyTorch's ----------------------------------------------------------
@pytest.mark.parametrize("build", [lenet, nested])
def test_state_dict_keys_and_order_are_pytorchs(build):
    ours, theirs = build(nn), build(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    for (k, a), t in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert a.shape == tuple(t.shape), k


def test_state_dict_holds_detached_tensors_sharing_memory():
    model = lenet(nn)
    sd = model.state_dict()
    assert all(type(v) is Tensor and not v.requires_grad for v in sd.values())
    assert sd["0.weight"].array is model[0].weight.array
    assert sd["1.running_mean"].array is model[1].running_mean.array
    assert model.state_dict(keep_vars=True)["0.weight"] is model[0].weight
    assert list(model.state_dict(prefix="net.")) == ["net." + k for k in sd]


def test_a_torch_state_dict_loads_and_gives_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    theirs = lenet(torch.nn)
    x = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype(np.float32)
    theirs.train()
    theirs(torch.tensor(x))  # move the running statistics off their defaults
    theirs.eval()
    ours = lenet(nn).eval()
    result = ours.load_state_dict(torch_state_as_numpy(theirs))
    assert result.missing_keys == [] and result.unexpected_keys == [] and repr(result) == "<All keys matched successfully>"
    with torch.no_grad(), tc.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
        np.testing.assert_allclose(ours(Tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)
    # through a checkpoint file: tc.save of the converted dict, tc.load, load_state_dict
    tc.save(torch_state_as_numpy(theirs), tmp_path / "lenet.npz")
    again = lenet(nn).eval()
    again.load_state_dict(tc.load(tmp_path / "lenet.npz"))
    with tc.no_grad():
        np.testing.assert_allclose(again(Tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert again[1].num_batches_tracked.dtype == tc.int64 and int(again[1].num_batches_tracked) == 1
    # and ours back into torch
    back = lenet(torch.nn).eval()
    back.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in again.state_dict().items()})
    with torch.no_grad():
        np.testing.assert_allclose(back(torch.tensor(x)).numpy(), expected, rtol=1e-6)


def test_load_state_dict_copies_into_each_parameters_dtype():
    ours = lenet(nn).double()
    sd = {k: v.numpy() for k, v in lenet(torch.nn).state_dict().items()}  # float32 values
    ours.load_state_dict(sd)
    assert ours[0].weight.dtype == tc.float64 and ours[1].num_batches_tracked.dtype == tc.int64
    np.testing.assert_array_equal(ours[0].weight.numpy(), sd["0.weight"].astype(np.float64))
    other = lenet(nn)
    other.load_state_dict(ours.state_dict())  # Tensors load too
    assert other[0].weight.dtype == tc.float32


def test_load_state_dict_strict_false_matches_torch():
    torch_sd = torch_state_as_numpy(lenet(torch.nn))
    partial = {k: v for k, v in torch_sd.items() if not k.startswith("8.")}
    partial["head.weight"] = np.zeros(3, np.float32)
    ours, theirs = lenet(nn), lenet(torch.nn)
    before = ours[8].weight.numpy().copy()
    result = ours.load_state_dict(partial, strict=False)
    expected = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in partial.items()}, strict=False)
    assert result == (expected.missing_keys, expected.unexpected_keys)
    assert result.missing_keys == ["8.weight", "8.bias"] and result.unexpected_keys == ["head.weight"]
    np.testing.assert_array_equal(ours[0].weight.numpy(), torch_sd["0.weight"])  # what matched was loaded
    np.testing.assert_array_equal(ours[8].weight.numpy(), before)  # the rest kept
    with pytest.raises(RuntimeError, match="missing keys"):
        ours.load_state_dict(partial)  # strict: PyTorch's RuntimeError (also a KeyError)
    with pytest.raises(KeyError, match="unexpected keys \\['head.weight'\\]"):
        ours.load_state_dict(partial)


def test_a_shape_mismatch_is_an_error_even_when_not_strict_and_changes_nothing():
    ours = lenet(nn)
    before = {k: v.numpy().copy() for k, v in ours.state_dict().items()}
    sd = {k: v + 1 for k, v in torch_state_as_numpy(lenet(torch.nn)).items()}
    sd["10.weight"] = np.zeros((4, 10), np.float32)
    with pytest.raises(RuntimeError, match="size mismatch: '10.weight' has shape \\(4, 10\\)"):
        ours.load_state_dict(sd, strict=False)
    with pytest.raises(ValueError):  # also this library's ValueError
        ours.load_state_dict(sd)
    with pytest.raises(RuntimeError):
        lenet(torch.nn).load_state_dict({k: torch.as_tensor(v) for k, v in sd.items()}, strict=False)
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    with pytest.raises(TypeError, match="'0.bias'"):
        ours.load_state_dict({**sd, "10.weight": np.zeros((3, 10)), "0.bias": "abc"})
    with pytest.raises(TypeError, match="dict"):
        ours.load_state_dict([1, 2])


def test_state_dict_saves_with_tc_save(tmp_path):
    torch.manual_seed(1)
    model = nested(nn)
    tc.save(model.state_dict(), tmp_path / "m.npz")
    loaded = tc.load(tmp_path / "m.npz")
    assert list(loaded) == list(model.state_dict())
    other = nested(nn)
    other.load_state_dict(loaded)
    for (k, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


# ----- buffers -----------------------------------------------------------------------------------------
def test_buffers_are_tensors_updated_in_place_by_batch_norm():
    bn = nn.BatchNorm2d(3)
    assert all(type(b) is Tensor for b in bn.buffers())
    mean, count = bn.running_mean, bn.num_batches_tracked
    array = mean.array
    theirs = torch.nn.BatchNorm2d(3)
    x = np.random.default_rng(1).standard_normal((4, 3, 5, 5)).astype(np.float32) * 2 + 1
    bn(Tensor(x))
    theirs(torch.tensor(x))
    assert bn.running_mean is mean and mean.array is array and bn.num_batches_tracked is count
    np.testing.assert_allclose(mean.numpy(), theirs.running_mean.numpy(), rtol=1e-5)
    assert int(count) == 1
    m = nn.Module()
    m.register_buffer("plain", tc.zeros(2))
    m.register_buffer("scratch", tc.ones(2), persistent=False)
    assert [n for n, _ in m.named_buffers()] == ["plain", "scratch"] and list(m.state_dict()) == ["plain"]


# ----- Module methods ----------------------------------------------------------------------------------
def test_tree_walking_methods_match_torch():
    ours, theirs = nested(nn), nested(torch.nn)
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert len(list(ours.children())) == len(list(theirs.children()))
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]
    assert [n for n, _ in ours.named_modules(prefix="m")] == [n for n, _ in theirs.named_modules(prefix="m")]
    assert [n for n, _ in ours.named_parameters(recurse=False)] == [n for n, _ in theirs.named_parameters(recurse=False)]
    assert ours.get_submodule("blocks.1.heads.a") is ours.blocks[1].heads["a"]
    assert ours.get_submodule("") is ours
    assert ours.get_parameter("blocks.0.extra.0") is ours.blocks[0].extra[0]
    assert ours.get_buffer("first.norm.running_var") is ours.first.norm.running_var
    with pytest.raises(AttributeError, match="nope"):
        ours.get_submodule("blocks.nope")
    with pytest.raises(AttributeError, match="bias"):
        ours.get_parameter("blocks.0.heads.b.bias")


def test_apply_requires_grad_add_module():
    model = lenet(nn)
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    theirs = []
    lenet(torch.nn).apply(lambda m: theirs.append(type(m).__name__))
    assert seen == theirs and seen[-1] == "Sequential"  # children first

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    model.apply(init_weights)
    assert not model[8].weight.numpy().any()

    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())

    m = nn.Module()
    m.add_module("conv", nn.Conv2d(1, 1, 1))
    m.register_module("act", nn.ReLU())
    m.add_module("empty", None)
    assert [n for n, _ in m.named_children()] == ["conv", "act"] and m.empty is None
    with pytest.raises(KeyError, match="already exists"):
        m.add_module("training", nn.ReLU())
    with pytest.raises(KeyError):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError):
        m.add_module("x", "not a module")
    m.register_parameter("gain", nn.Parameter(np.ones(1, np.float32)))
    assert [n for n, _ in m.named_parameters()] == ["gain", "conv.weight", "conv.bias"]


def test_float_double_to_and_zero_grad():
    model = lenet(nn)
    grads = []
    for p in model.parameters():
        p.grad = tc.ones_like(p)
        grads.append(p.grad)
    params = list(model.parameters())
    assert model.double() is model
    assert list(model.parameters()) == params  # the same objects
    assert all(p.dtype == tc.float64 and p.grad.dtype == tc.float64 for p in params)
    assert model[1].running_mean.dtype == tc.float64 and model[1].num_batches_tracked.dtype == tc.int64
    assert model.float()[0].weight.dtype == tc.float32
    assert model.to(tc.float64)[0].weight.dtype == tc.float64
    assert model.to("cpu", tc.float32)[0].weight.dtype == tc.float32
    assert model.to(device="cpu", dtype=tc.float64)[0].bias.dtype == tc.float64
    assert model.to(tc.zeros(1, dtype=tc.float32))[0].bias.dtype == tc.float32
    with pytest.raises(TypeError, match="floating point"):
        model.to(tc.int64)
    with pytest.raises(NotImplementedError, match="float16"):
        model.half()
    grads = [p.grad for p in model.parameters()]
    model.zero_grad(set_to_none=False)
    assert all(p.grad is g and not g.numpy().any() for p, g in zip(model.parameters(), grads))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_mode_and_eval():
    model = lenet(nn)
    assert model.train(False) is model and not any(m.training for m in model.modules())
    assert model.train(mode=True) is model and all(m.training for m in model.modules())
    assert model.eval() is model and not model[1].training


def test_layer_device_and_dtype_arguments():
    for layer in (nn.Conv2d(2, 3, 3, dtype=tc.float64, device="cpu"), nn.Linear(2, 3, dtype=tc.float64),
                  nn.ConvTranspose2d(2, 3, 3, dtype=tc.float64), nn.BatchNorm2d(3, dtype=tc.float64)):
        assert all(p.dtype == tc.float64 and p.device == "cpu" for p in layer.parameters())
    bn = nn.BatchNorm1d(3, dtype=tc.float64, device=tc.device("cpu"))
    assert bn.running_var.dtype == tc.float64 and bn.num_batches_tracked.dtype == tc.int64
    with pytest.raises(TypeError, match="floating point"):
        nn.Linear(2, 3, dtype=tc.int64)
    with pytest.raises(NotImplementedError, match="float16"):
        nn.Conv2d(2, 3, 3, dtype=tc.float16)
    with pytest.raises(ValueError, match="unknown device"):
        nn.Linear(2, 3, device="tpu")
    x = tc.randn(4, 2, dtype=tc.float64)
    assert nn.Linear(2, 3, dtype=tc.float64)(x).dtype == tc.float64


# ----- containers and small layers ---------------------------------------------------------------------
def test_module_dict():
    d = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3), "act": nn.ReLU()})
    d["lin"] = nn.Linear(2, 2)
    assert list(d) == ["conv", "act", "lin"] and len(d) == 3 and "act" in d
    assert list(d.keys()) == ["conv", "act", "lin"] and isinstance(d["lin"], nn.Linear)
    assert [n for n, _ in d.named_parameters()] == ["conv.weight", "conv.bias", "lin.weight", "lin.bias"]
    assert isinstance(d.pop("act"), nn.ReLU) and "act" not in d
    d.update([("act", nn.Tanh())])
    assert [k for k, _ in d.items()] == ["conv", "lin", "act"]
    with pytest.raises(KeyError):
        d["missing"]
    with pytest.raises(TypeError):
        d["x"] = 3
    d.clear()
    assert len(d) == 0 and list(d.parameters()) == []


def test_parameter_list_and_dict():
    pl = nn.ParameterList([nn.Parameter(np.ones(2, np.float32)), tc.zeros(3)])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) and p.requires_grad for p in pl)
    pl.append(tc.ones(1))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"] and pl[-1].shape == (1,)
    assert "Parameter containing: [float32 of size 3]" in repr(pl)
    pd = nn.ParameterDict({"a": tc.ones(2)})
    pd["b"] = nn.Parameter(np.zeros(1, np.float32))
    assert list(pd) == ["a", "b"] and isinstance(pd["a"], nn.Parameter) and "b" in pd
    assert [n for n, _ in pd.named_parameters()] == ["a", "b"]
    with pytest.raises(TypeError):
        pd["c"] = 3.0
    del pd["a"]
    assert list(pd.keys()) == ["b"]


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda nn: nn.Softmax(dim=1), (2, 5, 3)),
        (lambda nn: nn.Softmax(-1), (4, 6)),
        (lambda nn: nn.LogSoftmax(dim=1), (4, 6)),
        (lambda nn: nn.Flatten(), (2, 3, 4, 5)),
        (lambda nn: nn.Flatten(0, 2), (2, 3, 4, 5)),
        (lambda nn: nn.Unflatten(1, (3, 4)), (2, 12, 5)),
        (lambda nn: nn.Unflatten(-1, (2, -1)), (3, 8)),
    ],
)
def test_small_layers_match_torch(make, shape):
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    ours, theirs = make(nn), make(torch.nn)
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    assert repr(ours) == repr(theirs)


def test_sequential_from_an_ordered_dict_is_named_like_torch():
    from collections import OrderedDict

    build = lambda nn: nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("relu", nn.ReLU())]))
    assert list(build(nn).state_dict()) == list(build(torch.nn).state_dict()) == ["conv.weight", "conv.bias"]


# ----- inplace= -----------------------------------------------------------------------------------------
ACTIVATIONS = [
    lambda nn, inplace: nn.ReLU(inplace=inplace),
    lambda nn, inplace: nn.LeakyReLU(0.2, inplace=inplace),
    lambda nn, inplace: nn.ELU(alpha=0.7, inplace=inplace),
    lambda nn, inplace: nn.SiLU(inplace=inplace),
    lambda nn, inplace: nn.Dropout(0.3, inplace=inplace),
    lambda nn, inplace: nn.Dropout2d(0.3, inplace=inplace),
]


@pytest.mark.parametrize("make", ACTIVATIONS)
def test_inplace_gives_the_same_values_and_gradients(make):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 3, 1, 1)).astype(np.float32)
    results = []
    for inplace in (False, True):
        tc.manual_seed(4)  # the same dropout masks
        inp, weight = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
        h = F.conv2d(inp, weight)  # an intermediate tensor: in place is allowed on it
        out = make(nn, inplace)(h)
        assert (out is h) == inplace
        (out * out).sum().backward()
        results.append((out.numpy().copy(), inp.grad.numpy(), weight.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", ACTIVATIONS[:4])
def test_inplace_activations_match_torch_and_overwrite_the_input(make):
    x = np.random.default_rng(5).standard_normal((3, 7)).astype(np.float32)
    ours, theirs = Tensor(x), torch.tensor(x)
    out, tout = make(nn, True)(ours), make(torch.nn, True)(theirs)
    assert out is ours and tout is theirs  # (both return their input)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)
    assert repr(make(nn, True)) == repr(make(torch.nn, True))
    with pytest.raises(RuntimeError, match="leaf"):
        make(nn, True)(Tensor(x, requires_grad=True))  # as PyTorch


def test_inplace_dropout_in_eval_is_the_identity():
    x = tc.randn(3, 4)
    assert nn.Dropout(inplace=True).eval()(x) is x


# ----- padding="same", "valid" and padding modes ---------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=3, padding="same"),
        dict(kernel_size=4, padding="same"),  # even: the extra row and column go right and bottom
        dict(kernel_size=(2, 5), padding="same", dilation=(3, 1)),
        dict(kernel_size=3, padding="valid", stride=2),
        dict(kernel_size=3, padding=1, padding_mode="reflect"),
        dict(kernel_size=3, padding=(2, 1), padding_mode="replicate"),
        dict(kernel_size=3, padding=2, padding_mode="circular"),
        dict(kernel_size=4, padding="same", padding_mode="circular"),
        dict(kernel_size=3, padding="same", padding_mode="reflect", groups=2),
    ],
)
def test_conv2d_padding_options_match_torch(kwargs):
    torch.manual_seed(6)
    theirs = torch.nn.Conv2d(4, 6, **kwargs)
    ours = nn.Conv2d(4, 6, **kwargs)
    ours.load_state_dict(torch_state_as_numpy(theirs))
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(6).standard_normal((2, 4, 9, 8)).astype(np.float32)
    tx, ox = torch.tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
    out, tout = ours(ox), theirs(tx)
    np.testing.assert_allclose(out.numpy(), _np(tout), rtol=1e-4, atol=1e-5)
    g = np.random.default_rng(7).standard_normal(out.shape).astype(np.float32)
    out.backward(Tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: nn.Conv2d(1, 1, 3, stride=2, padding="same"), ValueError, "strided"),
        (lambda: nn.Conv2d(1, 1, 3, padding="full"), ValueError, "padding string"),
        (lambda: nn.Conv2d(1, 1, 3, padding_mode="wrap"), ValueError, "padding_mode"),
        (lambda: nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect"), ValueError, "zeros"),
        (lambda: nn.ReLU(inplace=1), TypeError, "inplace"),
        (lambda: nn.Dropout(0.1, inplace="yes"), TypeError, "inplace"),
    ],
)
def test_bad_constructor_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()
