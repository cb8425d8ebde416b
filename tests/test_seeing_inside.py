"""Per-thread grad mode, anomaly mode, hooks, the graph picture and the model summary."""
import threading

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor

# NaN on purpose (anomaly mode): NumPy's warnings about it are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ----- grad mode is per thread --------------------------------------------------------------
def test_no_grad_in_one_thread_leaves_another_recording():
    inside, go_on, seen = threading.Event(), threading.Event(), {}

    def other():
        inside.wait()  # the main thread is inside no_grad now
        x = Tensor([1.0, 2.0], requires_grad=True)
        seen["enabled"] = tc.is_grad_enabled()
        seen["records"] = (x * 2).requires_grad
        go_on.set()

    t = threading.Thread(target=other)
    t.start()
    with tc.no_grad():
        inside.set()
        assert go_on.wait(10)
        assert not tc.is_grad_enabled()
        assert not (Tensor([1.0], requires_grad=True) * 2).requires_grad
    t.join()
    assert seen == {"enabled": True, "records": True}


def test_no_grad_decorator_used_by_two_threads_at_once_restores_each():
    barrier = threading.Barrier(2)
    results = []

    @tc.no_grad()
    def f():
        barrier.wait()  # both threads inside the same decorated function
        return tc.is_grad_enabled()

    def run():
        results.append((f(), tc.is_grad_enabled()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(False, True), (False, True)]
    assert tc.is_grad_enabled()


# ----- anomaly mode -----------------------------------------------------------------------------
def _line_of(marker):
    """The line number of this file's line that contains ``marker`` (once)."""
    lines = [i + 1 for i, line in enumerate(open(__file__)) if marker in line and "_line_of" not in line]
    assert len(lines) == 1
    return lines[0]


def test_anomaly_forward_names_op_shapes_and_user_line():
    x = Tensor(np.array([1.0, -1.0, 2.0]), requires_grad=True)
    with pytest.raises(tc.AnomalyError) as err:
        with tc.detect_anomaly():
            y = x * 2
            y.log()  # MARK-forward
    msg = str(err.value)
    assert isinstance(err.value, FloatingPointError)
    assert "'log'" in msg and "forward" in msg and "(3,)" in msg
    assert f"{__file__}:{_line_of('MARK-forward')}" in msg


def test_anomaly_backward_points_at_the_forward_call():
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with tc.detect_anomaly():
        s = x**0.5  # MARK-sqrt
        loss = (s * 0.0).sum()  # forward finite; backward: 0 * d sqrt(x)/dx at 0 = 0 * inf = NaN
        with pytest.raises(tc.AnomalyError) as err:
            loss.backward()
    msg = str(err.value)
    assert "'pow'" in msg and "backward" in msg and "input 0" in msg and "(2,)" in msg
    assert f"{__file__}:{_line_of('MARK-sqrt')}" in msg


def test_anomaly_through_modules_and_functional_reports_the_users_line():
    layer = tc.nn.Linear(2, 2)
    layer.weight.data[0, 0] = np.nan
    with tc.detect_anomaly(), pytest.raises(tc.AnomalyError) as err:
        layer(Tensor(np.ones((4, 2), np.float32)))  # MARK-module
    msg = str(err.value)
    assert "'linear'" in msg and "(4, 2)" in msg and "(2, 2)" in msg
    assert f"{__file__}:{_line_of('MARK-module')}" in msg


def test_outside_anomaly_mode_nan_passes_silently_and_mode_is_restored():
    x = Tensor(np.array([-1.0]), requires_grad=True)
    with pytest.raises(tc.AnomalyError):
        with tc.detect_anomaly():
            x.log()
    y = x.log()
    assert y.isnan().all()
    y.sum().backward()  # no error outside
    assert not tc.anomaly.enabled


# ----- hooks -------------------------------------------------------------------------------------
def test_forward_hook_sees_module_inputs_output_and_can_replace_it():
    tc.manual_seed(0)
    model = tc.nn.Sequential(tc.nn.Linear(3, 4), tc.nn.ReLU(), tc.nn.Linear(4, 2))
    x = Tensor(np.ones((5, 3), np.float32))
    seen = []
    handle = model[0].register_forward_hook(lambda m, inputs, out: seen.append((m, inputs, out.shape)))
    model(x)
    assert len(seen) == 1 and seen[0][0] is model[0] and seen[0][1][0] is x and seen[0][2] == (5, 4)
    double = model[2].register_forward_hook(lambda m, inputs, out: out * 2)
    plain = model[2].forward(model[1](model[0](x)))
    np.testing.assert_allclose(model(x).data, 2 * plain.data)
    handle.remove()
    double.remove()
    model(x)
    assert len(seen) == 3  # two calls of model(x) above plus the explicit model[0](x), none after remove
    np.testing.assert_allclose(model(x).data, plain.data)


def test_tensor_hook_on_leaf_and_intermediate_sees_the_complete_gradient_and_replaces_it():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x * 3
    seen = {}
    y.register_hook(lambda g: seen.setdefault("y", g.clone()))
    hx = x.register_hook(lambda g: seen.setdefault("x", g.clone()))
    (y * 2 + y).sum().backward()  # y used twice: its hook sees the sum 2 + 1 = 3
    assert isinstance(seen["y"], Tensor) and isinstance(seen["x"], Tensor)  # hooks receive Tensors
    np.testing.assert_array_equal(seen["y"], [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(seen["x"], [9.0, 9.0, 9.0])
    np.testing.assert_array_equal(x.grad, [9.0, 9.0, 9.0])
    hx.remove()

    x.grad = None
    y = x * 3
    y.register_hook(lambda g: g * np.array([1.0, 0.0, -1.0]))  # replaces what flows on to x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, -3.0])


def test_hook_errors():
    with pytest.raises(tc.GraphError, match="does not require grad"):
        Tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="callable"):
        Tensor([1.0], requires_grad=True).register_hook(3)
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g[:1])
    with pytest.raises(tc.GradError, match=r"shape \(1,\), but the tensor has shape \(2,\)"):
        (x * 1).sum().backward()


# ----- the graph picture -------------------------------------------------------------------------
def _line_model():
    tc.manual_seed(0)
    nn = tc.nn
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.GlobalAvgPool2d(), nn.Linear(4, 2)
    )


def test_to_dot_names_ops_leaves_and_parameters_and_touches_nothing():
    model = _line_model()
    x = Tensor(np.ones((2, 1, 8, 8), np.float32))
    loss = tc.functional.cross_entropy(model(x), np.array([0, 1])) * 2
    dot = tc.viz.to_dot(loss, params=dict(model.named_parameters()))
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for text in ("conv2d", "relu", "max_pool2d", "linear", "cross_entropy", "mul",
                 "0.weight\\n(4, 1, 3, 3) float32", "4.bias\\n(2,) float32", "(2, 1, 8, 8) float32", 'label="2"'):
        assert text in dot, text
    assert dot.count("->") == 12  # conv2d 3 inputs, relu, pool, mean, linear 3, cross_entropy, mul 2
    assert dot == tc.viz.to_dot(loss, params=dict(model.named_parameters()))  # deterministic
    assert all(p.grad is None for p in model.parameters())
    loss.backward()  # the graph is intact after drawing
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(tc.GraphError, match="released"):
        tc.viz.to_dot(loss)


def test_to_dot_handles_deep_graphs_and_rejects_non_tensors():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    assert tc.viz.to_dot(y).count("mul") == 5000
    with pytest.raises(TypeError, match="Tensor"):
        tc.viz.to_dot(np.ones(3))


def test_draw_graph_renders_with_dot_or_writes_the_source_and_says_how(tmp_path, monkeypatch, capsys):
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = (x * 2).sum()
    if tc.viz.shutil.which("dot"):
        path = tc.viz.draw_graph(y, tmp_path / "g.svg")
        assert path == str(tmp_path / "g.svg") and "<svg" in open(path).read()
    monkeypatch.setattr(tc.viz.shutil, "which", lambda name: None)
    path = tc.viz.draw_graph(y, tmp_path / "h.png")
    assert path == str(tmp_path / "h.dot") and open(path).read() == tc.viz.to_dot(y)
    message = capsys.readouterr().out
    assert "not found" in message and f"dot -Tpng {path} -o {tmp_path / 'h.png'}" in message


# ----- summary ----------------------------------------------------------------------------------
def test_summary_lists_every_layer_with_output_shapes_and_parameter_counts():
    model = _line_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}  # (state dicts share memory)
    text = tc.summary(model, (3, 1, 8, 8))
    lines = text.splitlines()
    row = {line.split()[0]: line.split() for line in lines if line.startswith("  ")}
    assert row["0"][1] == "Conv2d" and "(3, 4, 8, 8)" in " ".join(row["0"]) and row["0"][-1] == "40"
    assert row["2"][1] == "MaxPool2d" and "(3, 4, 4, 4)" in " ".join(row["2"])
    assert row["4"][1] == "Linear" and "(3, 2)" in " ".join(row["4"]) and row["4"][-1] == "10"
    assert lines[-1] == "total parameters: 50 (trainable 50)"
    # nothing changed: parameters, gradients, modes, hooks
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert all(m.training for m in model.modules())
    assert not any(m._forward_hooks for m in model.modules())


def test_summary_marks_modules_called_twice_and_rejects_non_modules():
    class Twice(tc.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = tc.nn.Linear(3, 3)

        def forward(self, x):
            return self.layer(self.layer(x))

    model = Twice().eval()
    assert "(x2 calls)" in tc.summary(model, (1, 3), dtype=np.float32)
    assert not model.training
    with pytest.raises(TypeError, match="float64.*float32"):  # a float64 input to float32 layers, as in PyTorch
        tc.summary(model, (1, 3), dtype=np.float64)
    assert not model.training
    with pytest.raises(TypeError, match="nn.Module"):
        tc.summary(lambda x: x, (1, 3))
