"""Modules (registration, names, sharing, train/eval, Sequential, repr),
initialisers, checkpoints (state dicts, tc.save/tc.load, refusing pickles),
and the data helpers."""
import math
import os

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn
from tinygrad_conv.data import batches, make_lines


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, np.float32))
        self.features = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        self.offset = nn.Parameter(np.zeros(2, np.float32))
        self.not_a_parameter = Tensor([1.0])  # a plain Tensor is not registered
        self.name = "block"

    def forward(self, x):
        return self.features(x * self.scale) + self.offset


# ----- registration and names -------------------------------------------------------------
def test_registration_order_and_dotted_names():
    block = Block()
    names = [name for name, _ in block.named_parameters()]
    assert names == [
        "scale",
        "offset",
        "features.0.weight",
        "features.0.bias",
        "features.2.weight",
        "features.2.bias",
    ]
    assert [n for n, _ in block.named_children()] == ["features"]
    assert [type(m).__name__ for m in block.modules()] == ["Block", "Sequential", "Linear", "ReLU", "Linear"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in block.parameters())
    assert block.features[0].weight.dtype == np.float32
    out = block(Tensor(np.ones((5, 3), np.float32)))
    assert out.shape == (5, 2)


def test_nested_module_names():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 2)), nn.Linear(2, 1, bias=False))
    assert [n for n, _ in model.named_parameters()] == ["0.0.weight", "0.0.bias", "1.weight"]


def test_reassigning_and_deleting_attributes():
    block = Block()
    block.offset = None  # a registered parameter may be cleared ...
    assert "offset" not in dict(block.named_parameters())
    with pytest.raises(TypeError, match="parameter 'scale'"):
        block.scale = Tensor([1.0, 2.0, 3.0])  # ... but not replaced by a plain Tensor
    with pytest.raises(TypeError, match="child module 'features'"):
        block.features = "not a module"
    block.extra = nn.Linear(1, 1)
    assert [n for n, _ in block.named_children()] == ["features", "extra"]
    del block.extra
    assert [n for n, _ in block.named_children()] == ["features"]
    assert not hasattr(block, "extra")


def test_assigning_before_init_is_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Forgot()


def test_shared_parameters_and_modules_are_listed_once():
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight  # tied weights
    model = nn.Sequential(a, b, a)  # and a module used twice
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.bias"]
    assert len(list(model.parameters())) == 3
    # v3: a state dict lists every name a tensor is reachable under, as PyTorch's
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    x = Tensor(np.ones((2, 3), np.float32))
    model(x).sum().backward()
    assert a.weight.grad is not None and b.bias.grad is not None
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_and_eval_recurse():
    block = Block()
    assert all(m.training for m in block.modules())
    assert block.eval() is block
    assert not any(m.training for m in block.modules())
    block.train()
    assert all(m.training for m in block.modules())
    with pytest.raises(TypeError):
        block.train("no")


def test_forward_must_be_written():
    class NoForward(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="NoForward"):
        NoForward()(Tensor([1.0]))


def test_parameter():
    p = nn.Parameter([[1, 2], [3, 4]])
    assert isinstance(p, Tensor) and p.requires_grad and p.dtype == np.float32
    assert nn.Parameter(np.zeros(2)).dtype == np.float64  # Tensor's dtype rules
    assert repr(p).startswith("Parameter([[1., 2.],")
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad, 2 * p.data)


# ----- Sequential ----------------------------------------------------------------------------
def test_sequential_indexing_len_iteration():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1), nn.Sigmoid()]
    model = nn.Sequential(*layers)
    assert len(model) == 4 and list(model) == layers
    assert model[0] is layers[0] and model[-1] is layers[3] and model[-4] is layers[0]
    head = model[1:3]
    assert isinstance(head, nn.Sequential) and list(head) == layers[1:3]
    assert [n for n, _ in head.named_parameters()] == ["2.weight", "2.bias"]  # original names, as PyTorch
    assert len(model[::-1]) == 4 and len(model[10:]) == 0
    with pytest.raises(IndexError):
        model[4]
    with pytest.raises(IndexError):
        model[-5]
    with pytest.raises(TypeError):
        model["0"]
    with pytest.raises(TypeError):
        nn.Sequential(nn.ReLU(), lambda x: x)
    x = Tensor(np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32))
    expected = layers[3](layers[2](layers[1](layers[0](x))))
    np.testing.assert_array_equal(model(x).data, expected.data)
    model.append(nn.Tanh())
    assert len(model) == 5 and isinstance(model[-1], nn.Tanh)


def test_repr_is_nested_like_pytorch():
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Sequential(nn.GlobalAvgPool2d(), nn.Linear(16, 2)),
    )
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (1): ReLU()\n"
        "  (2): MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))\n"
        "  (3): Sequential(\n"
        "    (0): GlobalAvgPool2d()\n"
        "    (1): Linear(in_features=16, out_features=2, bias=True)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Conv2d(4, 8, (3, 5), stride=2, dilation=2, groups=4, bias=False)) == (
        "Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 2), dilation=(2, 2), groups=4, bias=False)"
    )
    assert repr(nn.MSELoss()) == "MSELoss()" and repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


# ----- layer arguments -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels=3 must be divisible by groups=2"),
        (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, "out_channels=6"),
        (lambda: nn.Conv2d(0, 4, 3), ValueError, "in_channels"),
        (lambda: nn.Conv2d(1, 4, 0), ValueError, "kernel_size"),
        (lambda: nn.Conv2d(1, 4, 3, stride=0), ValueError, "stride"),
        (lambda: nn.Conv2d(1, 4, 3, padding=-1), ValueError, "padding"),
        (lambda: nn.Conv2d(1, 4, 3, dilation=0), ValueError, "dilation"),
        (lambda: nn.Conv2d(1, 4, 2.5), TypeError, "kernel_size"),
        (lambda: nn.Conv2d(1, 4, (3, 3, 3)), ValueError, "kernel_size"),
        (lambda: nn.Conv2d(1, 4, 3, bias=1), TypeError, "bias"),
        (lambda: nn.Linear(0, 2), ValueError, "in_features"),
        (lambda: nn.Linear(2, 2.0), TypeError, "out_features"),
        (lambda: nn.MaxPool2d(0), ValueError, "kernel_size"),
        (lambda: nn.AvgPool2d(2, stride=0), ValueError, "stride"),
        (lambda: nn.AvgPool2d(2, padding=-1), ValueError, "padding"),
        (lambda: nn.MSELoss("avg"), ValueError, "reduction"),
        (lambda: nn.Flatten(1.0), TypeError, "start_dim"),
    ],
)
def test_layers_check_their_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_layer_shapes():
    conv = nn.Conv2d(4, 8, (3, 5), groups=2)
    assert conv.weight.shape == (8, 2, 3, 5) and conv.bias.shape == (8,)
    assert conv.weight.dtype == conv.bias.dtype == np.float32
    assert conv.stride == (1, 1) and conv.padding == (0, 0)
    assert nn.MaxPool2d(3).stride == (3, 3) and nn.AvgPool2d(3, stride=1).stride == (1, 1)
    lin = nn.Linear(5, 7, bias=False)
    assert lin.weight.shape == (7, 5) and lin.bias is None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]


def test_activation_pool_flatten_and_loss_layers_call_functional():
    from tinygrad_conv import functional as F

    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((2, 3, 4, 4)).astype(np.float32))
    pairs = [(nn.ReLU(), F.relu), (nn.Sigmoid(), F.sigmoid), (nn.Tanh(), F.tanh), (nn.GlobalAvgPool2d(), F.global_avg_pool2d)]
    for layer, fn in pairs:
        np.testing.assert_array_equal(layer(x).data, fn(x).data)
    assert nn.Flatten()(x).shape == (2, 48) and nn.Flatten(2)(x).shape == (2, 3, 16)
    target = Tensor(rng.standard_normal((2, 48)).astype(np.float32))
    flat = nn.Flatten()(x)
    assert nn.MSELoss()(flat, target).item() == pytest.approx(F.mse_loss(flat, target).item())
    assert nn.MSELoss("sum")(flat, target).item() == pytest.approx(F.mse_loss(flat, target, "sum").item(), rel=1e-6)
    logits, labels = Tensor(rng.standard_normal((4, 3)).astype(np.float32)), np.array([0, 2, 1, 2])
    assert nn.CrossEntropyLoss()(logits, labels).item() == F.cross_entropy(logits, labels).item()


# ----- initialisation ---------------------------------------------------------------------
SHAPE = (256, 128, 3, 3)  # fan_in = 1152, fan_out = 2304
FAN_IN, FAN_OUT = 128 * 9, 256 * 9


@pytest.mark.parametrize(
    "fill, std",
    [
        (lambda t: nn.init.xavier_normal_(t), math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (lambda t: nn.init.xavier_normal_(t, gain=2.0), 2 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (lambda t: nn.init.xavier_uniform_(t), math.sqrt(6 / (FAN_IN + FAN_OUT)) / math.sqrt(3)),
        (lambda t: nn.init.kaiming_normal_(t), math.sqrt(2) / math.sqrt(FAN_IN)),
        (lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / FAN_OUT)),
        (lambda t: nn.init.kaiming_normal_(t, a=1.0), 1 / math.sqrt(FAN_IN)),
        (lambda t: nn.init.kaiming_uniform_(t), math.sqrt(2) / math.sqrt(FAN_IN)),
        (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="tanh"), 5 / 3 / math.sqrt(FAN_IN)),
        (lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(3 * FAN_IN)),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_statistics(fill, std, dtype):
    tc.manual_seed(0)
    t = Tensor(np.full(SHAPE, 7.0, dtype))
    array = t.numpy()
    assert fill(t) is t
    assert t.numpy() is array and t.dtype == dtype  # in place (same array), dtype kept
    assert abs(t.data.mean()) < 0.01 * std * 10
    assert t.data.std() == pytest.approx(std, rel=0.01)


def test_uniform_inits_respect_their_bound_and_zeros():
    tc.manual_seed(0)
    t = nn.init.xavier_uniform_(Tensor(np.empty(SHAPE, np.float32)))
    bound = math.sqrt(6 / (FAN_IN + FAN_OUT))
    assert t.data.max() <= bound and t.data.min() >= -bound and t.data.max() > 0.99 * bound
    assert not nn.init.zeros_(t).data.any()


def test_init_errors():
    with pytest.raises(ValueError, match="at least 2 dims"):
        nn.init.xavier_normal_(Tensor(np.zeros(5)))
    with pytest.raises(ValueError, match="at least 2 dims"):
        nn.init.kaiming_uniform_(Tensor(np.zeros(5)))
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_normal_(Tensor(np.zeros((2, 2))), mode="fan_avg")
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.init.kaiming_normal_(Tensor(np.zeros((2, 2))), nonlinearity="swish")
    with pytest.raises(TypeError):
        nn.init.zeros_(np.zeros(3))


def test_layer_inits_follow_their_formulas_and_the_seed():
    tc.manual_seed(0)
    conv = nn.Conv2d(64, 128, 3, groups=2)
    # v3: PyTorch's default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = 32*9 (weight and bias)
    bound = 1 / math.sqrt(32 * 9)
    for p in (conv.weight, conv.bias):
        assert p.data.max() <= bound and p.data.min() >= -bound
    assert conv.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        assert p.data.max() <= bound and p.data.min() >= -bound
    assert lin.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    tc.manual_seed(0)
    again = nn.Conv2d(64, 128, 3, groups=2)
    assert np.array_equal(conv.weight.data, again.weight.data)


# ----- state dicts and checkpoints --------------------------------------------------------
def _model():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))


def test_state_dict_shares_memory_and_round_trips_through_a_file(tmp_path):
    tc.manual_seed(1)
    model = _model()
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    # v3: detached Tensors sharing memory with the parameters, as PyTorch's
    assert all(type(v) is Tensor and v.dtype == np.float32 and not v.requires_grad for v in sd.values())
    with tc.no_grad():
        sd["0.bias"].fill_(5)
    assert (model[0].bias.data == 5).all()
    tc.manual_seed(1)
    model = _model()

    path = tmp_path / "model.npz"
    tc.save(model.state_dict(), path)
    loaded = tc.load(path)
    other = _model()
    arrays = [p.numpy() for p in other.parameters()]
    other.load_state_dict(loaded)
    for (name, p), q in zip(model.named_parameters(), other.parameters()):
        assert np.array_equal(p.data, q.data), name
    assert all(p.numpy() is a for p, a in zip(other.parameters(), arrays))  # copied in place

    # float64 values go into float32 parameters without changing their dtype
    other.load_state_dict({k: v.astype(np.float64) for k, v in loaded.items()})
    assert all(p.dtype == np.float32 for p in other.parameters())


@pytest.mark.parametrize(
    "corrupt, error, match",
    [
        (lambda sd: sd.pop("3.bias"), KeyError, "missing keys \\['3.bias'\\]"),
        (lambda sd: sd.update({"4.weight": np.zeros(1)}), KeyError, "unexpected keys \\['4.weight'\\]"),
        (
            lambda sd: sd.update({"3.weight": np.zeros((8, 3), np.float32)}),
            ValueError,
            "'3.weight' has shape \\(8, 3\\).*\\(3, 8\\)",
        ),
        (lambda sd: sd.update({"0.bias": [0.0, 0.0]}), TypeError, "'0.bias'"),
        (lambda sd: sd.update({"0.bias": np.array(["a", "b"])}), TypeError, "'0.bias'"),
    ],
)
def test_load_state_dict_refuses_bad_dicts_and_changes_nothing(corrupt, error, match):
    tc.manual_seed(2)
    model = _model()
    before = model.state_dict()
    sd = {k: v + 1 for k, v in before.items()}  # valid new values, applied only if all is well
    corrupt(sd)
    with pytest.raises(error, match=match):
        model.load_state_dict(sd)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_save_and_load_paths_and_errors(tmp_path):
    arrays = {"file": np.arange(3), "allow_pickle": np.ones((2, 2), np.float32), "a.b": np.array(2.5)}
    path = tmp_path / "checkpoint"  # no suffix added
    tc.save(arrays, path)
    assert os.listdir(tmp_path) == ["checkpoint"]
    loaded = tc.load(str(path))
    assert loaded.keys() == arrays.keys()
    for key in arrays:
        assert np.array_equal(loaded[key], arrays[key]) and loaded[key].dtype == arrays[key].dtype
    assert np.load(path)["a.b"] == 2.5  # a plain npz for NumPy too

    # nested checkpoints (an optimizer's state_dict) keep their structure, pickle-free
    nested = {"x": [1, 2.5, None, "adam", (np.arange(2), {0: np.ones(1)})]}
    tc.save(nested, tmp_path / "nested.npz")
    back = tc.load(tmp_path / "nested.npz")
    assert back["x"][:4] == [1, 2.5, None, "adam"] and isinstance(back["x"][4], tuple)
    assert np.array_equal(back["x"][4][0], np.arange(2)) and np.array_equal(back["x"][4][1][0], np.ones(1))

    with pytest.raises(TypeError, match="'x'"):
        tc.save({"x": object()}, tmp_path / "bad.npz")
    with pytest.raises(TypeError, match="'x'"):
        tc.save({"x": np.array([object()])}, tmp_path / "bad.npz")
    with pytest.raises(TypeError):
        tc.save({(1, 2): np.zeros(1)}, tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()

    (tmp_path / "text.npz").write_text("just some text")
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "truncated.npz").write_bytes(path.read_bytes()[:60])
    for name in ("text.npz", "single.npy", "truncated.npz"):
        with pytest.raises(ValueError, match="not .*npz"):
            tc.load(tmp_path / name)


class _Payload:
    """Unpickling this creates ``path`` (a stand-in for arbitrary code)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickled_checkpoint_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.npz"
    np.savez(evil, weight=np.zeros(3), payload=np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects"):
        tc.load(evil)
    assert not marker.exists()
    # The payload is live: loading with pickle allowed would have run it.
    with np.load(evil, allow_pickle=True) as npz:
        npz["payload"][0].close()
    assert marker.exists()


# ----- data ------------------------------------------------------------------------------------
def test_make_lines_shapes_labels_and_geometry():
    X, y = make_lines(200, size=12, noise=0.0, seed=3)
    assert X.shape == (200, 1, 12, 12) and X.dtype == np.float32
    assert y.shape == (200,) and y.dtype == np.int64 and set(y.tolist()) == {0, 1}
    assert 60 < y.sum() < 140
    for img, label in zip(X[:, 0], y):
        assert set(np.unique(img).tolist()) == {0.0, 1.0}
        lines = img.T if label == 1 else img  # a vertical line is whole columns
        on = np.flatnonzero(lines.all(axis=1))
        assert img.sum() == 3 * 12 and len(on) == 3 and on[2] - on[0] == 2
        assert 2 <= on[1] < 12 - 2  # the centre, as in the seed notebook


def test_make_lines_noise_and_seeds():
    X, y = make_lines(500, noise=0.3, seed=0)
    X2, y2 = make_lines(500, noise=0.3, seed=0)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(make_lines(500, noise=0.3, seed=1)[0], X)
    ones, _ = make_lines(500, noise=0.0, seed=0)
    background = X[ones == 0]
    assert background.std() == pytest.approx(0.3, rel=0.02) and abs(background.mean()) < 0.01
    tc.manual_seed(7)
    a = make_lines(10)
    tc.manual_seed(7)
    b = make_lines(10)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(n=0), ValueError),
        (dict(n=2.0), TypeError),
        (dict(n=4, size=4), ValueError),
        (dict(n=4, noise=-0.1), ValueError),
        (dict(n=4, noise=float("nan")), ValueError),
        (dict(n=4, seed=-1), ValueError),
        (dict(n=4, seed="a"), TypeError),
    ],
)
def test_make_lines_checks_arguments(kwargs, error):
    with pytest.raises(error):
        make_lines(**kwargs)


@pytest.mark.parametrize("n, batch_size", [(10, 3), (10, 10), (10, 1), (7, 20)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_batches_cover_every_sample_once(n, batch_size, shuffle):
    X = np.arange(n * 2).reshape(n, 2)
    y = np.arange(n)
    pairs = list(batches(X, y, batch_size, shuffle=shuffle, seed=0))
    assert [len(b) for _, b in pairs] == [min(batch_size, n - i) for i in range(0, n, batch_size)]
    seen = np.concatenate([b for _, b in pairs])
    assert sorted(seen.tolist()) == list(range(n))
    for xb, yb in pairs:
        assert np.array_equal(xb[:, 0], 2 * yb)  # X and y stay aligned
    if not shuffle:
        assert seen.tolist() == list(range(n))


def test_batches_seeds_and_errors():
    X, y = np.zeros((50, 3)), np.arange(50)
    order = lambda **kw: np.concatenate([b for _, b in batches(X, y, 8, **kw)]).tolist()
    assert order(seed=1) == order(seed=1) != order(seed=2)
    tc.manual_seed(5)
    first = order()
    tc.manual_seed(5)
    assert order() == first
    with pytest.raises(ValueError, match="50 samples but y has 49"):
        batches(X, y[:-1], 8)  # raised at the call, not at the first next()
    with pytest.raises(ValueError):
        batches(X, y, 0)
    with pytest.raises(TypeError):
        batches(X, y, 8, shuffle=1)
