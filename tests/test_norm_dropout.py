"""Batch norm against torch and a NumPy transcription, buffers in state dicts,
dropout masks, gradient clipping."""
import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn
from tinygrad_conv import functional as F


def numpy_batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps):
    """torch.nn.functional.batch_norm written out (float64); updates the running arrays."""
    axes = (0,) + tuple(range(2, x.ndim))
    view = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        n = x.size / x.shape[1]
        running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        running_var[...] = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    else:
        mean, var = running_mean, running_var
    return (x - mean.reshape(view)) / np.sqrt(var.reshape(view) + eps) * weight.reshape(view) + bias.reshape(view)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (4, 3, 5, 6)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_the_written_out_rule(shape, training):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 1
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    rm2, rv2 = rm.copy(), rv.copy()
    want = numpy_batch_norm(x, rm2, rv2, w, b, training, 0.2, 1e-4)
    got = F.batch_norm(Tensor(x), rm, rv, Tensor(w), Tensor(b), training=training, momentum=0.2, eps=1e-4)
    np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rm, rm2, rtol=1e-14)
    np.testing.assert_allclose(rv, rv2, rtol=1e-14)


@pytest.mark.parametrize("offset", [1e3, 1e6])
def test_batch_norm_statistics_stay_accurate_when_the_mean_dwarfs_the_spread(offset):
    x = np.random.default_rng(5).standard_normal((16, 2, 8, 8)) + offset
    rv = np.ones(2, np.float32)
    out = F.batch_norm(Tensor(x.astype(np.float32)), np.zeros(2, np.float32), rv, training=True, momentum=1.0)
    xs = x.astype(np.float32).astype(np.float64)  # what float32 can hold
    np.testing.assert_allclose(rv, xs.var(axis=(0, 2, 3), ddof=1), rtol=1e-3)
    np.testing.assert_allclose(out.data.std(axis=(0, 2, 3)), 1.0, rtol=1e-3)
    g = np.random.default_rng(6).standard_normal(x.shape)
    grads = []
    for dtype in (np.float32, np.float64):  # float64 takes the one-pass route, float32 the two-pass one
        for training in (True, False):
            t, w = Tensor(xs.astype(dtype), requires_grad=True), Tensor(np.array([1.5, 0.5], dtype), requires_grad=True)
            rm = xs.mean(axis=(0, 2, 3)).astype(np.float32).astype(dtype)  # the same values in both
            F.batch_norm(t, rm, np.full(2, 0.9, dtype), w, Tensor(np.zeros(2, dtype)), training=training).backward(g.astype(dtype))
            grads.append((t.grad, w.grad))
    for (a, b), (c, d) in ((grads[0], grads[2]), (grads[1], grads[3])):
        np.testing.assert_allclose(a, c, rtol=1e-2, atol=1e-3)
        np.testing.assert_allclose(b, d, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("kind, shape", [("2d", (4, 3, 5, 5)), ("1d", (6, 3)), ("1d", (4, 3, 7))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_modules_match_torch_over_train_and_eval_steps(kind, shape, momentum):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, f"BatchNorm{kind}")(3, momentum=momentum)
    theirs = getattr(torch.nn, f"BatchNorm{kind}")(3, momentum=momentum)
    rng = np.random.default_rng(1)
    for step in range(4):
        ours.train(step < 3)
        theirs.train(step < 3)
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        tx, ttx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, tout = ours(tx), theirs(ttx)
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-4, atol=1e-5)
        g = rng.standard_normal(shape).astype(np.float32)
        out.backward(g)
        tout.backward(torch.tensor(g))
        np.testing.assert_allclose(tx.grad, ttx.grad.numpy(), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-5)
        ours.zero_grad()
        theirs.zero_grad()
        assert out.dtype == np.float32 and tx.grad.dtype == np.float32
    theirs_sd = theirs.state_dict()
    ours_sd = ours.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key in ours_sd:
        np.testing.assert_allclose(ours_sd[key], theirs_sd[key].numpy(), rtol=1e-5)
    assert ours_sd["num_batches_tracked"].dtype == np.int64 and int(ours_sd["num_batches_tracked"]) == 3


def test_buffers_are_registered_saved_loaded_and_moved(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
    assert [name for name, _ in model.named_buffers()] == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert len(list(model.buffers())) == 3
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                        "1.running_var", "1.num_batches_tracked"]
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    model(Tensor(np.random.default_rng(0).standard_normal((4, 1, 5, 5)) * 3 + 2, dtype=np.float32))
    tc.save(model.state_dict(), tmp_path / "m.npz")
    fresh = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
    fresh.load_state_dict(tc.load(tmp_path / "m.npz"))
    for (k, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    bn = fresh[1]
    assert bn.running_mean is dict(fresh.named_buffers())["1.running_mean"]
    assert fresh.to("cpu") is fresh and bn.running_var.dtype == np.float32
    sd = model.state_dict()
    sd["1.running_var"] = np.zeros(3, np.float32)
    before = fresh.state_dict()
    with pytest.raises(ValueError, match="running_var"):
        fresh.load_state_dict(sd)
    del sd["1.running_var"]
    with pytest.raises(KeyError, match="running_var"):
        fresh.load_state_dict(sd)
    assert all(np.array_equal(before[k], v) for k, v in fresh.state_dict().items())


def test_register_buffer_rules():
    m = nn.Module()
    m.register_buffer("count", np.zeros(2))
    m.count = np.ones(2)  # assigning replaces the buffer
    assert m.state_dict()["count"].tolist() == [1, 1]
    m.register_buffer("empty", None)  # allowed, left out of state_dict
    assert list(m.state_dict()) == ["count"]
    with pytest.raises(KeyError):
        m.register_buffer("training", np.zeros(1))
    with pytest.raises(TypeError):
        m.register_buffer("a.b", np.zeros(1))
    with pytest.raises(TypeError):
        m.count = [1, 2]
    off = nn.BatchNorm2d(2, affine=False, track_running_stats=False)
    assert list(off.state_dict()) == [] and list(off.parameters()) == []
    x = np.random.default_rng(0).standard_normal((3, 2, 2, 2))
    off.eval()  # no running statistics: batch statistics even in eval, as in PyTorch
    np.testing.assert_allclose(off(Tensor(x)).data.mean(axis=(0, 2, 3)), 0, atol=1e-12)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: nn.BatchNorm2d(4)(Tensor(np.zeros((2, 3, 4, 4)))), ValueError, "3 channels .* expects 4"),
        (lambda: nn.BatchNorm2d(3)(Tensor(np.zeros((2, 3)))), ValueError, "N, C, H, W"),
        (lambda: nn.BatchNorm1d(3)(Tensor(np.zeros((1, 3)))), ValueError, "more than 1 value"),
        (lambda: nn.BatchNorm1d(0), ValueError, "num_features"),
        (lambda: F.batch_norm(Tensor(np.zeros((2, 3))), np.zeros(4), np.ones(4)), ValueError, "3 channels"),
        (lambda: F.batch_norm(Tensor(np.zeros((2, 3))), None, None), ValueError, "not training"),
        (lambda: F.batch_norm(Tensor(np.zeros((2, 3))), None, None, training=True, momentum=-1), ValueError, "momentum"),
        (lambda: F.dropout(Tensor(np.zeros(3)), p=1.5), ValueError, r"\[0, 1\]"),
        (lambda: F.dropout(Tensor(np.zeros(3)), p=-0.1), ValueError, r"\[0, 1\]"),
        (lambda: nn.Dropout(2.0), ValueError, r"\[0, 1\]"),
        (lambda: F.dropout2d(Tensor(np.zeros((2, 3)))), ValueError, "N, C, H, W"),
        (lambda: F.dropout(np.zeros(3)), TypeError, "Tensor"),
    ],
)
def test_bad_input_raises(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_running_stats_unchanged_by_a_refused_call():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError):
        bn(Tensor(np.ones((2, 4, 3, 3))))
    with pytest.raises(ValueError):
        bn(Tensor(np.ones((1, 3, 1, 1))))  # one value per channel
    assert int(bn.num_batches_tracked) == 0 and bn.running_mean.tolist() == [0, 0, 0]


def test_dropout_masks_scale_and_reproduce():
    x = Tensor(np.ones((200, 50), np.float32), requires_grad=True)
    tc.manual_seed(3)
    out = F.dropout(x, p=0.3)
    kept = out.data != 0  # a bool Tensor
    assert kept.dtype == tc.bool
    assert abs(kept.float().mean().item() - 0.7) < 0.02 and np.allclose(out.data[kept].numpy(), 1 / 0.7)
    assert out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # the mask is the derivative
    tc.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, p=0.3).data, out.data)
    assert F.dropout(x, p=0.3, training=False) is x and F.dropout(x, p=0.0) is x
    assert not F.dropout(x, p=1.0).data.any()
    y = Tensor(np.ones((8, 16, 3, 3)))
    planes = F.dropout2d(y, 0.5).numpy()
    assert np.all(planes.min(axis=(2, 3)) == planes.max(axis=(2, 3)))  # whole channels
    assert set(np.unique(planes)) <= {0.0, 2.0}
    layer = nn.Dropout2d(0.5)
    assert layer.eval()(y) is y and (layer.train()(y).data == 0).any()
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"


def test_clip_grad_norm_and_value_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    grads = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]
    for norm_type in (2.0, 1.0, 3.5, float("inf")):
        for max_norm in (0.5, 100.0):
            ours = [Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
            theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
            for p, tp, g in zip(ours, theirs, grads):
                p.grad, tp.grad = tc.tensor(g.copy()), torch.tensor(g)
            total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
            ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
            assert isinstance(total, float)
            np.testing.assert_allclose(total, float(ttotal), rtol=1e-5)
            for p, tp in zip(ours, theirs):
                np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-5)
                assert p.grad.dtype == np.float32
    p = Tensor(np.zeros(4), requires_grad=True)
    p.grad = tc.tensor([-3.0, -0.5, 0.5, 3.0], dtype=tc.float64)
    nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1, -0.5, 0.5, 1]
    assert nn.utils.clip_grad_norm_([Tensor([1.0])], 1.0) == 0.0  # no gradients: nothing to clip
    with pytest.raises(ValueError):
        nn.utils.clip_grad_norm_([p], -1.0)
    with pytest.raises(TypeError):
        nn.utils.clip_grad_value_(3, 1.0)
