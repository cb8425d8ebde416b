"""Bad argument values, as a user's worst day gives them (issue 20): each row is what a
probe of every public function against PyTorch found, or a deliberate departure.

A row runs one call on a namespace ``m`` holding either library (``m.lib``, ``m.F``,
``m.nn``, ``m.optim``, ``m.sched``, ``m.data``, ``m.t`` to make a tensor from a NumPy array):

- ``Raises(TypeError|ValueError, match)``: ours raises that type, its message matching
  ``match`` (the argument's name); PyTorch raises too (any type: its own are uneven).
- ``Same(reference)``: both accept the value and compute ``reference`` (NumPy), so the
  torch-free part checks the value as well.
- ``Departs(...)``: PyTorch accepts the value but we raise, on purpose (see the README's
  "bad arguments" note); the row checks that PyTorch still accepts it.

The torch-free part runs every row on our library alone; PyTorch comes from a fixture.
"""
import math
import types

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import functional as F, nn, optim
from tinygrad_conv.optim import lr_scheduler
from tinygrad_conv.utils import data

X = np.linspace(-1.5, 2.0, 24, dtype=np.float32).reshape(2, 3, 4)
P = np.linspace(0.1, 0.9, 6, dtype=np.float32).reshape(2, 3)
INTS = np.array([[[-3, -2, 5, 7, 1]]])  # int64: PyTorch averages by integer division, toward zero
INF = math.inf


class Raises(tuple):
    def __new__(cls, error, match):
        return super().__new__(cls, (error, match))


class Same(tuple):
    def __new__(cls, reference):
        return super().__new__(cls, (reference,))


class Departs(Raises):
    pass


def ours():
    return types.SimpleNamespace(lib=tc, F=F, nn=nn, optim=optim, sched=lr_scheduler, data=data,
                                 t=lambda a: tc.tensor(np.array(a)))


@pytest.fixture(scope="module")
def theirs():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    import torch.utils.data as TD

    return types.SimpleNamespace(lib=torch, F=TF, nn=torch.nn, optim=torch.optim, sched=torch.optim.lr_scheduler,
                                 data=TD, t=lambda a: torch.tensor(np.array(a)))


def one_cycle(m, **kw):
    opt = m.optim.SGD([m.nn.Parameter(m.t(P))], lr=0.1, momentum=0.9)
    return m.sched.OneCycleLR(opt, 0.5, total_steps=10, **kw)


def loader(m, **kw):
    ds = m.data.TensorDataset(m.t(X), m.t(np.arange(2)))
    return list(m.data.DataLoader(ds, **kw))


def clipped(m, **kw):
    p = m.nn.Parameter(m.t(np.ones(3, np.float32)))
    p.grad = m.t(np.array([3.0, -4.0, 1.0], np.float32))
    m.nn.utils.clip_grad_norm_([p], 1.0, **kw)
    return p.grad


def vector_norm(a, p, axis, keepdims=False):
    a = np.abs(a)
    if p == INF or p == -INF:
        return (a.max if p > 0 else a.min)(axis=axis, keepdims=keepdims)
    if p == 0:
        return (a != 0).sum(axis=axis, keepdims=keepdims).astype(np.float32)
    return (a ** p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


ROWS = {
    # ----- reductions: keepdim is a bool, dims are ints, an empty dim list means every axis
    "sum keepdim='foo'": (lambda m: m.t(X).sum(1, keepdim="foo"), Raises(TypeError, "keepdim")),
    "amax keepdim=2.5": (lambda m: m.t(X).amax(1, keepdim=2.5), Raises(TypeError, "keepdim")),
    "argmax keepdim='foo'": (lambda m: m.t(X).argmax(1, keepdim="foo"), Raises(TypeError, "keepdim")),
    "max keepdim=[]": (lambda m: m.t(X).max(1, keepdim=[]), Raises(TypeError, "keepdim")),
    "logsumexp keepdim=None": (lambda m: m.t(X).logsumexp(1, keepdim=None), Raises(TypeError, "keepdim")),
    "all dim=10": (lambda m: (m.t(X) > 0).all(dim=10), Raises(ValueError, "out of range")),
    "any dim=2.5": (lambda m: (m.t(X) > 0).any(dim=2.5), Raises(TypeError, "axis")),
    "std correction='foo'": (lambda m: m.t(X).std(1, correction="foo"), Raises(TypeError, "correction")),
    "var unbiased='foo'": (lambda m: m.t(X).var(1, unbiased="foo"), Raises(TypeError, "unbiased")),
    "sum dim=[]": (lambda m: m.t(X).sum(dim=[]), Same(X.sum())),
    "mean dim=[] keepdim": (lambda m: m.t(X).mean(dim=[], keepdim=True), Same(X.mean(keepdims=True))),
    "amax dim=[]": (lambda m: m.t(X).amax(dim=[]), Same(X.max())),
    "std dim=[]": (lambda m: m.t(X).std(dim=[]), Same(X.std(ddof=1))),
    "norm p=-inf": (lambda m: m.t(X).norm(p=-INF), Same(vector_norm(X, -INF, None))),
    "norm p=0 dim=1": (lambda m: m.t(X).norm(p=0, dim=1), Same(vector_norm(X, 0, 1))),
    "norm p=None": (lambda m: m.t(X).norm(p=None), Same(vector_norm(X, 2, None))),
    "normalize p=-inf": (lambda m: m.F.normalize(m.t(X), p=-INF),
                         Same(X / np.maximum(vector_norm(X, -INF, 1, True), 1e-12))),
    # ----- dtype, shape and number arguments of Tensor methods and factories
    "softmax dtype=0": (lambda m: m.t(X).softmax(1, dtype=0), Raises(TypeError, "dtype|softmax")),
    "F.log_softmax dtype=10": (lambda m: m.F.log_softmax(m.t(X), 1, dtype=10), Raises(TypeError, "dtype|log_softmax")),
    "reshape(-7, 4)": (lambda m: m.t(X).reshape(-7, 4), Raises(ValueError, "reshape")),
    "unflatten sizes=2.5": (lambda m: m.t(X).unflatten(1, 2.5), Raises(TypeError, "sizes")),
    "allclose rtol='foo'": (lambda m: m.t(X).allclose(m.t(X), rtol="foo"), Raises(TypeError, "rtol")),
    "allclose atol=-1": (lambda m: m.t(X).allclose(m.t(X), atol=-1), Raises(ValueError, "atol")),
    "allclose equal_nan='foo'": (lambda m: m.t(X).allclose(m.t(X), equal_nan="foo"), Raises(TypeError, "equal_nan")),
    "uniform_(2.5, 1.0)": (lambda m: m.t(X).uniform_(2.5, 1.0), Raises(ValueError, "uniform_")),
    "normal_ std=-1": (lambda m: m.t(X).normal_(0.0, -1.0), Raises(ValueError, "std")),
    "normal_ std=nan": (lambda m: m.t(X).normal_(0.0, math.nan), Raises(ValueError, "std")),
    "requires_grad_('foo')": (lambda m: m.t(X).requires_grad_("foo"), Raises(TypeError, "requires_grad")),
    "fill_((2,))": (lambda m: m.t(X).fill_((2,)), Raises(TypeError, "fill_")),
    "linspace steps=(2,)": (lambda m: m.lib.linspace(0, 1, (2,)), Raises(TypeError, "steps")),
    "randperm n=(2,)": (lambda m: m.lib.randperm((2,)), Raises(TypeError, "randperm")),
    "x[[]]": (lambda m: m.t(X)[[]], Same(np.zeros((0, 3, 4)))),
    "manual_seed(-1)": (lambda m: [m.lib.manual_seed(-1), 0][1], Same(0)),
    "manual_seed(2**64)": (lambda m: m.lib.manual_seed(2 ** 64), Raises(ValueError, "seed")),
    "step closure='foo'": (lambda m: m.optim.SGD([m.nn.Parameter(m.t(P))], lr=0.1).step("foo"), Raises(TypeError, "closure")),
    "equal(x, 'foo')": (lambda m: m.lib.equal(m.t(X), "foo"), Raises(TypeError, "other")),
    "eq(x, 'foo')": (lambda m: m.lib.eq(m.t(X), "foo"), Raises(TypeError, "other")),
    "x.eq(None)": (lambda m: m.t(X).eq(None), Raises(TypeError, "other")),
    "x.eq([1.0, 2.0])": (lambda m: m.t(X).eq(m.t(np.ones(2, np.float32))), Raises(ValueError, "eq: shapes")),
    "type_as('foo')": (lambda m: m.t(X).type_as("foo"), Raises(TypeError, "other")),
    "expand_as(3)": (lambda m: m.t(P[:1]).expand_as(3), Raises(TypeError, "other")),
    "view_as(None)": (lambda m: m.t(X).view_as(None), Raises(TypeError, "other")),
    "backward retain_graph='foo'": (lambda m: (m.t(P).requires_grad_() * 2).sum().backward(retain_graph="foo"),
                                    Raises(TypeError, "retain_graph")),
    "backward inputs=2.5": (lambda m: (m.t(P).requires_grad_() * 2).sum().backward(inputs=2.5), Raises(TypeError, "inputs")),
    "backward retain_graph=0": (lambda m: [(m.t(P).requires_grad_() * 2).sum().backward(retain_graph=0), 0][1], Same(0)),
    "to(copy='foo')": (lambda m: m.t(X).to(m.lib.float64, copy="foo"), Raises(TypeError, "copy")),
    "clone(memory_format=contiguous_format)": (lambda m: m.t(X).clone(memory_format=m.lib.contiguous_format), Same(X)),
    # ----- functional
    "linear bias='foo'": (lambda m: m.F.linear(m.t(X), m.t(np.ones((2, 4), np.float32)), "foo"),
                          Raises(TypeError, "bias")),
    "cross_entropy ignore_index=2.5": (lambda m: m.F.cross_entropy(m.t(P), m.t(np.array([0, 2])), ignore_index=2.5),
                                       Raises(TypeError, "ignore_index")),
    "cross_entropy ignore_index='foo'": (lambda m: m.F.cross_entropy(m.t(P), m.t(np.array([0, 2])), ignore_index="foo"),
                                         Raises(TypeError, "ignore_index")),
    "nll_loss ignore_index=None": (lambda m: m.F.nll_loss(m.t(P), m.t(np.array([0, 2])), ignore_index=None),
                                   Raises(TypeError, "ignore_index")),
    "binary_cross_entropy weight=2.5": (lambda m: m.F.binary_cross_entropy(m.t(P), m.t(P), weight=2.5),
                                        Raises(TypeError, "weight")),
    "bce_with_logits pos_weight=1.5": (lambda m: m.F.binary_cross_entropy_with_logits(m.t(P), m.t(P), pos_weight=1.5),
                                       Raises(TypeError, "pos_weight")),
    "layer_norm normalized_shape=[]": (lambda m: m.F.layer_norm(m.t(X), []), Raises(ValueError, "normalized_shape")),
    "cosine_similarity dim=None": (lambda m: m.F.cosine_similarity(m.t(X), m.t(X), dim=None), Raises(TypeError, "axis")),
    "cosine_similarity dim=[]": (lambda m: m.F.cosine_similarity(m.t(X), m.t(X), dim=[]), Raises(TypeError, "axis")),
    "threshold value=None": (lambda m: m.F.threshold(m.t(X), 0.1, None), Raises(TypeError, "value")),
    "batch_norm eps=0 training": (lambda m: m.F.batch_norm(m.t(X), None, None, training=True, eps=0.0),
                                  Raises(ValueError, "eps")),
    "hardtanh min_val=-inf": (lambda m: m.F.hardtanh(m.t(X), min_val=-INF, max_val=0.5), Same(np.minimum(X, 0.5))),
    "hardtanh max_val=inf": (lambda m: m.F.hardtanh(m.t(X), max_val=INF), Same(np.maximum(X, -1.0))),
    "softplus threshold=inf": (lambda m: m.F.softplus(m.t(X), threshold=INF), Same(np.log1p(np.exp(X)))),
    "threshold threshold=-inf": (lambda m: m.F.threshold(m.t(X), -INF, 2.0), Same(X)),
    "avg_pool1d int64": (lambda m: m.F.avg_pool1d(m.t(INTS), 2), Same([[[-2, 6]]])),
    "avg_pool1d int64 padded": (lambda m: m.F.avg_pool1d(m.t(INTS), 3, 1, 1), Same([[[-1, 0, 3, 4, 2]]])),
    "avg_pool1d int64 count_include_pad=False": (lambda m: m.F.avg_pool1d(m.t(INTS), 3, 1, 1, count_include_pad=False),
                                                 Same([[[-2, 0, 3, 4, 4]]])),
    "avg_pool2d int64 divisor_override": (
        lambda m: m.F.avg_pool2d(m.t(np.arange(-8, 8).reshape(1, 1, 4, 4)), 3, 1, 1, divisor_override=4),
        Same([[[[-5, -7, -6, -3], [-5, -6, -4, -2], [0, 2, 4, 3], [2, 4, 6, 4]]]])),
    "adaptive_avg_pool2d int64": (lambda m: m.F.adaptive_avg_pool2d(m.t(np.ones((1, 2, 4, 4), np.int64)), 2),
                                  Raises(TypeError, "floating point")),
    "batch_norm int64": (lambda m: m.F.batch_norm(m.t(np.ones((2, 4), np.int64)), None, None, training=True),
                         Raises(TypeError, "floating point")),
    "batch_norm empty batch": (lambda m: m.F.batch_norm(m.t(np.zeros((0, 4, 3), np.float32)), m.t(np.zeros(4, np.float32)),
                                                        m.t(np.ones(4, np.float32))), Same(np.zeros((0, 4, 3)))),
    # integer input where PyTorch has no integer kernel (its relu/hardtanh/threshold do compute on ints)
    "leaky_relu int64": (lambda m: m.F.leaky_relu(m.t(INTS)), Raises(TypeError, "leaky_relu: expected a floating")),
    "gelu int64": (lambda m: m.F.gelu(m.t(INTS)), Raises(TypeError, "gelu: expected a floating")),
    "softmax int64": (lambda m: m.F.softmax(m.t(INTS), 2), Raises(TypeError, "softmax: expected a floating")),
    "cross_entropy int64 logits": (lambda m: m.F.cross_entropy(m.t(INTS[0]), m.t(np.array([1]))),
                                   Raises(TypeError, "cross_entropy: expected a floating")),
    "dropout int64 training": (lambda m: m.F.dropout(m.t(INTS), 0.5), Raises(TypeError, "dropout: expected a floating")),
    "prelu float64 weight": (lambda m: m.F.prelu(m.t(P), m.t(np.ones(3))), Raises(TypeError, "prelu")),
    "relu int64": (lambda m: m.F.relu(m.t(INTS)), Same([[[0, 0, 5, 7, 1]]])),
    "hardshrink ndarray": (lambda m: m.F.hardshrink(X), Raises(TypeError, "hardshrink")),
    "tanhshrink list": (lambda m: m.F.tanhshrink([1.0, 2.0]), Raises(TypeError, "tanhshrink")),
    "max_unpool2d indices=None": (lambda m: m.F.max_unpool2d(m.t(np.ones((1, 1, 2, 2), np.float32)), None, 2),
                                  Raises(TypeError, "indices")),
    # ----- modules
    "BCELoss weight=2.5": (lambda m: m.nn.BCELoss(weight=2.5), Raises(TypeError, "weight")),
    "BCEWithLogitsLoss pos_weight=[1.0]": (lambda m: m.nn.BCEWithLogitsLoss(pos_weight=[1.0]),
                                           Raises(TypeError, "pos_weight")),
    "Embedding _weight='foo'": (lambda m: m.nn.Embedding(5, 3, _weight="foo"), Raises(TypeError, "_weight")),
    "LayerNorm([])": (lambda m: m.nn.LayerNorm([])(m.t(X)), Raises(ValueError, "normalized_shape")),
    "clip_grad_norm_ norm_type='inf'": (lambda m: clipped(m, norm_type="inf"), Same(np.array([0.75, -1.0, 0.25]))),
    # ----- schedulers and data
    "OneCycleLR final_div_factor=0": (lambda m: one_cycle(m, final_div_factor=0), Raises(ValueError, "final_div_factor")),
    "OneCycleLR div_factor=0": (lambda m: one_cycle(m, div_factor=0), Raises(ValueError, "div_factor")),
    "DataLoader sampler='foo'": (lambda m: loader(m, sampler="foo"), Raises(TypeError, "sampler")),
    "DataLoader sampler=3": (lambda m: loader(m, sampler=3), Raises(TypeError, "sampler")),
    "DataLoader collate_fn='foo'": (lambda m: loader(m, collate_fn="foo"), Raises(TypeError, "collate_fn")),
    "random_split lengths=3": (lambda m: m.data.random_split(list(range(10)), 3), Raises(TypeError, "lengths")),
    "random_split lengths=['a', 'b']": (lambda m: m.data.random_split(list(range(10)), ["a", "b"]),
                                        Raises(TypeError, "lengths")),
    # ----- deliberate departures: PyTorch takes these, we refuse them with a clear error
    "relu inplace='foo'": (lambda m: m.F.relu(m.t(X), inplace="foo"), Departs(TypeError, "inplace")),
    "leaky_relu negative_slope=nan": (lambda m: m.F.leaky_relu(m.t(X), math.nan), Departs(ValueError, "negative_slope")),
    "dropout p=True": (lambda m: m.F.dropout(m.t(X), p=True), Departs(TypeError, "p must")),
    "OneCycleLR max_lr=-1": (lambda m: m.sched.OneCycleLR(m.optim.SGD([m.nn.Parameter(m.t(P))], lr=0.1, momentum=0.9),
                                                          -1.0, total_steps=10), Departs(ValueError, "max_lr")),
    "StepLR step_size=2.5": (lambda m: m.sched.StepLR(m.optim.SGD([m.nn.Parameter(m.t(P))], lr=0.1), 2.5),
                             Departs(TypeError, "step_size")),
}


def as_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach()
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ROWS)
def test_ours(name):
    """Our library alone: the error the table names, or the reference value."""
    call, expect = ROWS[name]
    if isinstance(expect, Raises):
        with pytest.raises(expect[0], match=expect[1]):
            call(ours())
    else:
        value = as_numpy(call(ours()))
        np.testing.assert_allclose(value, expect[0], rtol=1e-5, atol=1e-6)
        if np.asarray(expect[0]).dtype.kind == "i":  # integer in, integer out
            assert value.dtype == np.int64


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ROWS)
def test_pytorch_agrees(name, theirs):
    """PyTorch raises where we do, computes the same value where we accept, and still
    accepts the values we refuse on purpose."""
    call, expect = ROWS[name]
    if isinstance(expect, Departs):
        call(theirs)
    elif isinstance(expect, Raises):
        with pytest.raises(Exception):
            call(theirs)
    else:
        np.testing.assert_allclose(as_numpy(call(theirs)), expect[0], rtol=1e-5, atol=1e-6)


# ----- nothing changes before the error --------------------------------------------------------
def _groups(opt):
    return repr(opt.param_groups)


@pytest.mark.parametrize("kw", [dict(final_div_factor=0), dict(div_factor=0), dict(div_factor=-1.0),
                                dict(max_momentum="foo")])
def test_a_refused_one_cycle_leaves_the_optimizer_unchanged(kw):
    """final_div_factor=0 wrote initial_lr/max_lr into the groups, then raised ZeroDivisionError."""
    opt = optim.SGD([nn.Parameter(tc.tensor(P))], lr=0.1, momentum=0.9)
    before = _groups(opt)
    with pytest.raises((TypeError, ValueError)):
        lr_scheduler.OneCycleLR(opt, 0.5, total_steps=10, **kw)
    assert _groups(opt) == before


@pytest.mark.parametrize("act", [lambda t: t.fill_((2,)), lambda t: t.uniform_(2.0, 1.0),
                                 lambda t: t.normal_(0.0, -1.0), lambda t: t.requires_grad_("yes")],
                         ids=["fill_", "uniform_", "normal_", "requires_grad_"])
def test_a_refused_in_place_call_leaves_the_tensor_unchanged(act):
    t = tc.tensor(X.copy())
    with pytest.raises((TypeError, ValueError)):
        act(t)
    np.testing.assert_array_equal(t.numpy(), X)
    assert not t.requires_grad
