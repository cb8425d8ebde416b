"""Every example runs end to end with tiny settings, writes its figures, and learns."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_conv as tc

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
EXAMPLES = os.path.join(ROOT, "examples")


def load_example(name):
    """Import ``examples/<name>.py`` as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_pngs(paths):
    assert paths
    for path in paths:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
        assert os.path.getsize(path) > 1000, f"{path} is nearly empty"


@pytest.fixture
def plotting():
    pytest.importorskip("matplotlib")
    pytest.importorskip("tqdm")


def test_train_lines(plotting, tmp_path):
    result = load_example("train_lines").main(model="both", epochs=4, n_train=96, n_test=64, out=str(tmp_path))
    assert_pngs(result["figures"])
    cnn, seed = result["cnn"], result["seed"]
    assert len(cnn["losses"]) == 4 and cnn["losses"][-1] < cnn["losses"][0], cnn["losses"]
    # The seed model can barely learn (see its docstring): its MSE stays near 0.25,
    # the loss of always answering 0.5, so only check that it trained and stayed sane.
    assert len(seed["losses"]) == 4 and all(0.1 < loss < 0.4 for loss in seed["losses"]), seed["losses"]
    assert 0.0 <= seed["accuracy"] <= 1.0 and 0.0 <= cnn["accuracy"] <= 1.0
    assert result["seed"]["filters"].shape == (2, 3, 3)
    assert result["cnn"]["filters"].shape == (8, 3, 3)


def test_edge_detection(plotting, tmp_path):
    result = load_example("edge_detection").main(out=str(tmp_path))
    assert_pngs(result["figures"])
    img, (sobel_x, sobel_y, laplacian, sharpen) = result["image"], result["output"]
    # Sobel X is cross-correlation: bright to the right of a pixel gives a positive response.
    assert sobel_x[2, 7] == 4 and sobel_x[2, 16] == -4  # the two sides of the vertical band (cols 8..15)
    assert sobel_y[16, 2] == -2  # bottom edge of the horizontal band (rows 8..15, value 0.5)
    np.testing.assert_allclose(laplacian[3:5, 3:5], 0)  # flat background
    np.testing.assert_allclose(sharpen[10:13, 10:13], img[10:13, 10:13])  # inside a flat region


def test_train_digits(plotting, tmp_path):
    pytest.importorskip("sklearn")
    result = load_example("train_digits").main(epochs=2, out=str(tmp_path))
    assert_pngs(result["figures"])
    assert result["losses"][-1] < result["losses"][0]
    assert result["confusion"].sum() == 450  # 25% of the 1797 digits
    assert result["accuracy"] > 0.5


def test_custom_op():
    losses = load_example("custom_op").main(steps=20)
    assert losses[-1] < losses[0]


def test_inspect_cnn(plotting, tmp_path):
    result = load_example("inspect_cnn").main(epochs=2, n_train=64, out=str(tmp_path))
    assert_pngs(result["figures"])
    assert "total parameters: 1,282 (trainable 1,282)" in result["summary"]
    assert "Conv2d" in result["summary"] and "(1, 16, 8, 8)" in result["summary"]
    graph = open(result["graph"]).read()  # an SVG with Graphviz installed, else the DOT source
    assert "conv2d" in graph and "0.weight" in graph and "cross_entropy" in graph
    maps1, maps2 = result["feature_maps"]
    assert maps1.shape == (8, 16, 16) and maps2.shape == (16, 8, 8)
    for layer, norms in result["grad_norms"].items():
        assert len(norms) == 2 * 2 and all(np.isfinite(n) and n > 0 for n in norms), layer  # 2 epochs x 2 batches
def test_resnet_digits(plotting, tmp_path):
    pytest.importorskip("sklearn")
    result = load_example("resnet_digits").main(epochs=3, n_train=192, out=str(tmp_path))
    assert_pngs(result["figures"])
    history = result["history"]
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0], history["loss"]
    assert len(history["lr"]) == 3 * 3  # one-cycle: rises to max_lr, then anneals far below it
    peak = int(np.argmax(history["lr"]))
    assert 0 < peak < 8 and history["lr"][-1] < history["lr"][0] < history["lr"][peak]
    assert 0.0 <= result["accuracy"] <= 1.0  # (batch norm's running statistics lag this early on)
    buffers = dict(result["model"].named_buffers())
    assert int(buffers["stem.1.num_batches_tracked"]) == 9
    assert not np.allclose(buffers["stem.1.running_var"], 1.0)  # the running statistics were updated


def test_segment_lines(plotting, tmp_path):
    result = load_example("segment_lines").main(epochs=3, n_train=256, n_test=64, out=str(tmp_path))
    assert_pngs(result["figures"])
    losses = result["losses"]
    assert len(losses) == 3 and losses[-1] < 0.7 * losses[0], losses
    assert 0.3 < result["iou"] <= 1.0, result["iou"]  # always answering "background" scores 0


def test_gradient_penalty(plotting, tmp_path):
    pytest.importorskip("sklearn")
    module = load_example("gradient_penalty")
    result = module.main(epochs=3, n_train=320, noise_levels=(0.0, 0.3), n_draws=1, out=str(tmp_path))
    assert_pngs(result["figures"])
    plain, penalised = result["results"].values()
    for r in (plain, penalised):
        assert len(r["losses"]) == 3 and r["losses"][-1] < r["losses"][0], r["losses"]
        assert 0.5 < r["accuracy"] <= 1.0 and r["noisy_accuracy"][0] == r["accuracy"]
        assert r["grad_norms"].shape == (450,) and np.isfinite(r["grad_norms"]).all() and r["grad_norm"] > 0
    assert penalised["grad_norm"] < plain["grad_norm"]  # the penalty flattens the loss in the inputs
    # the CNN's penalty differentiates conv2d and max pooling twice
    cnn = module.main(epochs=1, model="cnn", n_train=128, noise_levels=(0.0,), n_draws=1, out=str(tmp_path))
    assert all(np.isfinite(r["losses"]).all() for r in cnn["results"].values())


@pytest.mark.skipif(tc.cuda.is_available(), reason="checks the exit where CUDA is missing")
def test_device_cuda_without_a_gpu_ends_with_the_reason_alone(plotting):
    """``--device cuda`` on a machine without a GPU: exit status 1 and the library's message on
    stderr, alone (no traceback), as the examples' command lines catch tc.cuda.UnavailableError."""
    with pytest.raises(tc.cuda.UnavailableError) as info:
        tc.zeros(1, device="cuda")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    run = subprocess.run([sys.executable, os.path.join(EXAMPLES, "train_lines.py"), "--device", "cuda", "--epochs", "1"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1 and run.stdout == "", (run.returncode, run.stdout)
    assert run.stderr == str(info.value) + "\n", run.stderr


TORCH_IMPORTS = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset
"""


def test_from_pytorch(tmp_path):
    pytest.importorskip("sklearn")
    module = load_example("from_pytorch")
    accuracy = module.main(epochs=2, out=str(tmp_path))
    assert 0.6 < accuracy <= 1.0, accuracy  # chance is 0.1
    model = module.Net()
    missing, unexpected = model.load_state_dict(module.torch.load(str(tmp_path / "digits_cnn.pt")))
    assert not missing and not unexpected


def test_from_pytorch_runs_unchanged_on_pytorch(tmp_path):
    """The same source, its import block swapped for PyTorch's and nothing else, trains on PyTorch."""
    pytest.importorskip("sklearn")
    pytest.importorskip("torch")
    with open(os.path.join(EXAMPLES, "from_pytorch.py")) as f:
        source = f.read()
    ours = TORCH_IMPORTS.replace("torch", "tinygrad_conv").replace("import tinygrad_conv\n", "import tinygrad_conv as torch\n")
    assert source.count(ours) == 1, "the example's import block changed"
    rest = source.replace(ours, "")
    assert "tinygrad_conv" not in "\n".join(l for l in rest.splitlines() if not l.lstrip().startswith("#")), \
        "tinygrad_conv is named outside the import block"
    namespace = {"__name__": "from_pytorch_on_torch"}
    exec(compile(source.replace(ours, TORCH_IMPORTS), "from_pytorch.py (torch imports)", "exec"), namespace)
    assert namespace["torch"].__name__ == "torch" and namespace["nn"].__name__ == "torch.nn"
    accuracy = namespace["main"](epochs=2, out=str(tmp_path))
    assert 0.6 < accuracy <= 1.0, accuracy
    state = namespace["torch"].load(str(tmp_path / "digits_cnn.pt"))
    assert set(state) == set(namespace["Net"]().state_dict())
