"""Real PyTorch programs (tests/programs/) run with only their imports changed, and compute the same.

Each program is run twice from the same source: as written (importing tinygrad_conv under
PyTorch's names) and with its import lines swapped for PyTorch's. Both runs start from the same
weights (drawn here, copied across) on the same data in the same order, so their loss curves
and metrics must agree to float32 rounding. Lines that still need an edit carry ``# EDIT: why``;
``EDITS`` counts them, so a new one cannot slip in unlisted (the README lists them too).
"""
import os
import types

import numpy as np
import pytest

import tinygrad_conv as tc

PROGRAMS = os.path.join(os.path.dirname(__file__), "programs")
EDITS = {"resnet": 0, "cifar10_tutorial": 2, "unet": 4, "d2l_batchnorm_lenet": 0}


def source_of(name):
    with open(os.path.join(PROGRAMS, f"{name}.py")) as f:
        return f.read()


def on_torch(source):
    """``source`` with each ``import tinygrad_conv...`` line made PyTorch's, nothing else."""
    lines = []
    for line in source.splitlines():
        if line.startswith(("import tinygrad_conv", "from tinygrad_conv")):
            line = line.replace("import tinygrad_conv as torch", "import torch").replace("tinygrad_conv", "torch")
        else:
            assert "tinygrad_conv" not in line, f"tinygrad_conv named outside the imports: {line!r}"
        lines.append(line)
    return "\n".join(lines)


def load(name, library):
    """The program's namespace, run against ``library`` ("tinygrad_conv" or "torch")."""
    source = source_of(name)
    if library == "torch":
        source = on_torch(source)
    namespace = {"__name__": f"{name}_on_{library}"}
    exec(compile(source, f"{name}.py ({library})", "exec"), namespace)
    assert namespace["torch"].__name__ == library
    return namespace


@pytest.fixture
def both(monkeypatch):
    """``both(name)``: the program on tinygrad_conv and on PyTorch, plus a converter of a state
    dict of NumPy arrays into PyTorch tensors. Programs that pick a GPU run on it on both sides:
    there cuDNN's convolutions must not round through TF32 (CuPy's products don't)."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    return lambda name: (load(name, "tinygrad_conv"), load(name, "torch"),
                         lambda state: {k: torch.from_numpy(v.copy()) for k, v in state.items()})


def numpy_state(model):
    return {k: v.numpy() for k, v in model.state_dict().items()}


def assert_close_curves(ours, theirs, rtol, atol=1e-6):
    np.testing.assert_allclose(np.asarray(ours, np.float64), np.asarray(theirs, np.float64), rtol=rtol, atol=atol)


def assert_same_forward_and_backward(ours, theirs, model, reference, shape):
    """``model`` (ours) and ``reference`` (PyTorch's) in float64 with ``model``'s weights: the same
    output for one random input of ``shape``, and the same gradients."""
    model.double()
    reference.double().load_state_dict({k: theirs["torch"].from_numpy(v) for k, v in numpy_state(model).items()})
    x = np.random.default_rng(0).normal(size=shape)
    out, ref = model(ours["torch"].from_numpy(x)), reference(theirs["torch"].from_numpy(x))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-9)
    (out ** 2).sum().backward()
    (ref ** 2).sum().backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        scale = np.abs(q.grad.numpy()).max()
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, atol=1e-9 * scale, err_msg=name)


def test_programs_differ_from_pytorch_only_in_imports_and_listed_edits():
    for name, count in EDITS.items():
        source = source_of(name)
        on_torch(source)  # asserts tinygrad_conv appears in import lines only
        edits = [line for line in source.splitlines() if "# EDIT:" in line]
        assert len(edits) == count, f"{name}.py: {len(edits)} lines marked # EDIT, expected {count}: {edits}"


def stage(namespace, block, inplanes, blocks):
    """A stage of ``blocks`` blocks of width 128, stride 2 (resnet18's or resnet50's layer2), built
    by ``ResNet._make_layer`` on the attributes it reads, without the rest of the network."""
    resnet = types.SimpleNamespace(inplanes=inplanes, dilation=1, groups=1, base_width=64,
                                   _norm_layer=namespace["nn"].BatchNorm2d)
    return namespace["ResNet"]._make_layer(resnet, namespace[block], 128, blocks, stride=2)


def test_torchvision_resnet(both):
    ours, theirs, to_torch = both("resnet")
    tc.manual_seed(0)
    start = numpy_state(ours["resnet18"](num_classes=4, zero_init_residual=True))
    assert not start["layer1.0.bn2.weight"].any() and start["layer1.0.bn1.weight"].all()
    # resnet18's and resnet50's layer2 as _make_layer builds them: forward and backward agree in
    # training mode to float64 rounding
    for block, inplanes in [("BasicBlock", 64), ("Bottleneck", 256)]:
        assert_same_forward_and_backward(ours, theirs, stage(ours, block, inplanes, 2),
                                         stage(theirs, block, inplanes, 2), (2, inplanes, 8, 8))
    # resnet18 with zero_init_residual trains the same few SGD steps from the same weights (in
    # float32; the 1x1 maps of its last stage make batch norm amplify rounding, hence 1e-4)
    a, b = ours["main"](state_dict=start), theirs["main"](state_dict=to_torch(start))
    assert_close_curves(a["losses"], b["losses"], rtol=1e-4)  # (seen: 1e-6)
    assert a["losses"][-1] < a["losses"][0] and a["accuracy"] == b["accuracy"]


def test_cifar10_tutorial(both, tmp_path):
    ours, theirs, to_torch = both("cifar10_tutorial")
    tc.manual_seed(0)
    start = numpy_state(ours["Net"]())
    sizes = dict(n_train=200, n_test=100, print_every=20, shuffle=False, out=str(tmp_path))
    a = ours["main"](state_dict=start, **sizes)
    b = theirs["main"](state_dict=to_torch(start), **sizes)
    assert len(a["losses"]) == 4 and a["losses"][-1] < a["losses"][0]
    assert_close_curves(a["losses"], b["losses"], rtol=1e-5)  # (seen: 1e-7)
    assert abs(a["accuracy"] - b["accuracy"]) <= 0.02  # at most 2 of the 100 test images differ
    assert a["class_accuracy"].keys() == b["class_accuracy"].keys()


def test_milesial_unet(both):
    ours, theirs, to_torch = both("unet")
    # the bilinear variant (Upsample with align_corners=True, F.pad to odd sizes): the same forward
    tc.manual_seed(0)
    assert_same_forward_and_backward(ours, theirs, ours["UNet"](3, 2, bilinear=True),
                                     theirs["UNet"](3, 2, bilinear=True), (2, 3, 36, 36))
    # training with ConvTranspose2d upsampling, RMSprop, cross-entropy + Dice loss, gradient clipping.
    # RMSprop's first steps are about lr * 10 * sign(grad) (its average of squares starts at 0), so
    # float32 rounding flips the steps of near-zero gradients: the curves drift apart by ~0.5%, and
    # the Dice score of this barely trained net by up to ~0.05 (run in float64, both agree to 1e-9).
    start = numpy_state(ours["UNet"](3, 2, bilinear=False))
    a, b = ours["main"](state_dict=start), theirs["main"](state_dict=to_torch(start))
    assert_close_curves(a["losses"], b["losses"], rtol=2e-2)
    assert a["losses"][-1] < a["losses"][0]
    assert 0 < a["dice"] < 1 and abs(a["dice"] - b["dice"]) < 0.1


@pytest.mark.parametrize("model", ["concise", "scratch"])
def test_d2l_batch_norm_lenet(both, model):
    pytest.importorskip("sklearn")
    ours, theirs, to_torch = both("d2l_batchnorm_lenet")
    tc.manual_seed(0)
    net = ours["concise_lenet" if model == "concise" else "scratch_lenet"]()
    for m in net.modules():  # d2l's init_weights
        if type(m) in (ours["nn"].Linear, ours["nn"].Conv2d):
            ours["nn"].init.xavier_uniform_(m.weight)
    start = numpy_state(net)
    a = ours["main"](model, shuffle=False, state_dict=start)["history"]
    b = theirs["main"](model, shuffle=False, state_dict=to_torch(start))["history"]
    assert_close_curves(a, b, rtol=1e-5)  # (train loss, train accuracy, test accuracy) per epoch; seen: 1e-6
    assert a[-1][0] < a[0][0] and a[-1][1] > 0.5


def test_the_small_pieces_these_programs_needed():
    """``t.type(dtype)`` (d2l), ``memory_format=`` (milesial's ``channels_last``), as in PyTorch."""
    torch = pytest.importorskip("torch")
    values = [[1.7, -2.2], [0.0, 3.9]]
    t, r = tc.tensor(values), torch.tensor(values)
    for ours, theirs in [(tc.int64, torch.int64), (tc.bool, torch.bool), (tc.float64, torch.float64)]:
        assert t.type(ours).tolist() == r.type(theirs).tolist() and t.type(ours).dtype == ours
    assert t.type() == "float32" and t.type(tc.float32) is t
    with pytest.raises(TypeError, match="type"):
        t.type("complex")
    x = tc.randn(2, 3, 4, 5)
    assert x.to(memory_format=tc.channels_last) is x and x.contiguous(memory_format=tc.channels_last) is x
    layer = tc.nn.Conv2d(3, 2, 1)
    assert layer.to(memory_format=tc.channels_last) is layer
    for bad in (lambda: x.to(memory_format="nhwc"), lambda: x.contiguous(memory_format="nhwc"),
                lambda: layer.to("cpu", memory_format="nhwc")):
        with pytest.raises(ValueError, match="memory_format must be one of"):
            bad()
