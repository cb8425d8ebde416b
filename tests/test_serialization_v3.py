"""tc.load on PyTorch checkpoints: real files from torch.save (zip and legacy pickle) are
refused with ValueError that says how to convert them, before anything is unpickled."""
import io
import zipfile

import numpy as np
import pytest

import tinygrad_conv as tc


class _Payload:
    """Unpickling this creates a file: proof of whether a load unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _torch_state(torch):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)).state_dict()


@pytest.fixture(params=[True, False], ids=["zip", "legacy"])
def new_zipfile(request):
    return request.param


def _check_message(err, legacy):
    msg = str(err.value)
    assert "PyTorch" in msg and ("pickle" in msg if legacy else "torch.save" in msg)
    assert "torch.load(path" in msg and "{k: v.numpy() for k, v in sd.items()}" in msg
    assert "tinygrad_conv.save" in msg and "numpy.savez" in msg


def test_pytorch_checkpoint_is_refused_with_the_recipe(tmp_path, new_zipfile):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(_torch_state(torch), path, _use_new_zipfile_serialization=new_zipfile)
    if new_zipfile:  # what the detection relies on
        names = zipfile.ZipFile(path).namelist()
        assert any(n.endswith("data.pkl") for n in names) and any("/data/" in n for n in names)
    else:
        assert path.read_bytes()[:1] == b"\x80"
    with pytest.raises(ValueError) as err:
        tc.load(path)
    _check_message(err, legacy=not new_zipfile)
    with pytest.raises(ValueError) as err:  # str path and file object too
        tc.load(str(path))
    _check_message(err, legacy=not new_zipfile)
    with open(path, "rb") as f, pytest.raises(ValueError) as err:
        tc.load(f)
    _check_message(err, legacy=not new_zipfile)


def test_the_recipe_in_the_message_works(tmp_path):
    torch = pytest.importorskip("torch")
    sd = _torch_state(torch)
    torch.save(sd, tmp_path / "model.pt")
    sd = torch.load(tmp_path / "model.pt", map_location="cpu")
    tc_compatible = {k: v.numpy() for k, v in sd.items()}
    tc.save(tc_compatible, tmp_path / "model.npz")
    np.savez(tmp_path / "np_model.npz", **tc_compatible)
    for name in ("model.npz", "np_model.npz"):
        loaded = tc.load(tmp_path / name)
        assert loaded.keys() == sd.keys()
        for k, v in sd.items():
            np.testing.assert_array_equal(loaded[k], v.numpy())


def test_nothing_is_unpickled(tmp_path, new_zipfile):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(3), "payload": _Payload(marker)}, path,
               _use_new_zipfile_serialization=new_zipfile)
    with pytest.raises(ValueError, match="PyTorch"):
        tc.load(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is live: unpickling runs it
    assert marker.exists()


def test_a_pickle_without_torch_is_refused_too(tmp_path):
    import pickle

    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"w": np.zeros(2)}, protocol=2))
    with pytest.raises(ValueError, match="pickle file.*v.numpy"):
        tc.load(path)


def test_a_pkl_member_in_a_zip_is_refused_before_reading_it(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("archive/version", b"3\n")
    buf.seek(0)
    with pytest.raises(ValueError, match="PyTorch checkpoint"):
        tc.load(buf)


def test_our_own_keys_named_like_torch_members_still_load(tmp_path):
    arrays = {"data/0": np.arange(3.0), "archive/data/1": np.ones(2, np.float32), "x.pkl": np.zeros(1)}
    tc.save(arrays, tmp_path / "ok.npz")
    loaded = tc.load(tmp_path / "ok.npz")
    assert loaded.keys() == arrays.keys()
    for k, v in arrays.items():
        np.testing.assert_array_equal(loaded[k], v)
