"""``tc.load`` on corrupt or hostile files: only ValueError (or TypeError), never an
allocation beyond a bounded multiple of the file's size, never unpickling, numeric
arrays only. The files are crafted by hand (``npy`` below) or by flipping bytes of a
valid checkpoint (hypothesis)."""
import ast
import io
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv.serialization import _CHUNK as CHUNK, EXPANSION_BUDGET as BUDGET


def npy(header, data=b"", version=1):
    """An ``.npy`` member with this header dict text (padded as NumPy pads it) and data."""
    text = header.encode("latin1") if isinstance(header, str) else header
    text += b" " * ((-(len(text) + 11)) % 64) + b"\n"
    size = len(text).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + size + text + data


def archive(members, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buffer.getvalue()


def load_bytes(raw):
    return tc.load(io.BytesIO(raw))


def valid_checkpoint():
    buffer = io.BytesIO()
    tc.save({"weight": np.arange(6, dtype=np.float32).reshape(2, 3), "step": 3,
             "nested": {"lr": 0.1, "ids": [np.arange(3)]}}, buffer)
    return buffer.getvalue()


def test_a_valid_crafted_member_loads():
    """The crafting is right: the same bytes with a sound header load."""
    out = load_bytes(archive({"a.npy": npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                           np.array([1.5, 2.5]).tobytes())}))
    np.testing.assert_array_equal(out["a"], [1.5, 2.5])


def test_fortran_order_members_load_as_numpy_wrote_them():
    a = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, a)
    np.testing.assert_array_equal(load_bytes(archive({"a.npy": buffer.getvalue()}))["a"], a)


@pytest.mark.parametrize("header", [
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), ",       # unterminated: was tokenize.TokenError
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)) }",
    "{'descr': '<f8', 'fortran_order': False}",                        # a key missing
    "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2.5,), }",
    "{'descr': 'zz', 'fortran_order': False, 'shape': (2,), }",
    "[1, 2, 3]",
    "\xff\xfe garbage",
])
def test_a_corrupt_header_is_a_value_error(header):
    with pytest.raises(ValueError, match="load: the file is not a valid .npz checkpoint"):
        load_bytes(archive({"a.npy": npy(header, b"\0" * 16)}))


def test_a_huge_shape_claim_is_refused_before_allocating():
    """A 250-byte member claiming shape (10**12,) asked NumPy for 8 TB (MemoryError)."""
    raw = archive({"a.npy": npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", b"\0" * 8)})
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"claims shape \(1000000000000,\)"):
            load_bytes(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_a_header_over_numpys_limit_is_not_called_pickled_data():
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), " + " " * 20000 + "}"
    with pytest.raises(ValueError, match="header longer than") as info:
        load_bytes(archive({"a.npy": npy(header, b"\0" * 8, version=2)}))
    assert "pickle" not in str(info.value)


@pytest.mark.parametrize("dtype", ["<U3", "|S4", [("a", "<f8"), ("b", "<i4")], "<M8[s]", "|V8"])
def test_only_numeric_dtypes_come_out(dtype):
    a = np.zeros(2, dtype)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, a)
    with pytest.raises(ValueError, match="numeric arrays only"):
        load_bytes(archive({"a.npy": buffer.getvalue()}))


def test_object_arrays_are_never_unpickled():
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="never loaded"):
        load_bytes(archive({"a.npy": buffer.getvalue()}))


def test_a_member_that_is_not_npy_is_refused():
    with pytest.raises(ValueError, match="not a NumPy array"):
        load_bytes(archive({"readme.txt": b"hello"}))


def test_a_deflated_member_claiming_more_than_deflate_can_give_is_refused():
    raw = bytearray(archive({"a.npy": npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
                                          b"\0" * 32)}, zipfile.ZIP_DEFLATED))
    np.testing.assert_array_equal(load_bytes(bytes(raw))["a"], np.zeros(4))
    # rewrite the uncompressed size in both the local header and the central directory to 2**31
    info = zipfile.ZipFile(io.BytesIO(bytes(raw))).infolist()[0]
    for offset in (info.header_offset + 22, bytes(raw).rindex(b"PK\x01\x02") + 24):
        raw[offset:offset + 4] = (1 << 31).to_bytes(4, "little")
    with pytest.raises(ValueError, match="claims"):
        load_bytes(bytes(raw))


@pytest.mark.parametrize("cut", [5, 30, 100, -60, -22, -1])
def test_a_truncated_checkpoint_is_a_value_error(cut):
    with pytest.raises(ValueError):
        load_bytes(valid_checkpoint()[:cut])


@settings(max_examples=30)
@given(st.binary(min_size=0, max_size=400))
def test_random_bytes_are_a_value_error(raw):
    with pytest.raises(ValueError):
        load_bytes(b"PK\x03\x04" + raw)


@settings(max_examples=300)
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4))
def test_byte_flips_of_a_valid_checkpoint_load_or_raise_value_error(flips):
    raw = bytearray(valid_checkpoint())
    for position, xor in flips:
        raw[position % len(raw)] ^= xor
    tracemalloc.start()
    try:
        try:
            out = load_bytes(bytes(raw))
        except (ValueError, TypeError):
            out = None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < BUDGET * len(raw) + 3 * CHUNK  # the expansion budget at most, plus a constant
    if out is not None:  # what loads holds numbers only
        arrays = []

        def walk(obj):
            if isinstance(obj, dict):
                obj = list(obj.values())
            if isinstance(obj, (list, tuple)):
                for v in obj:
                    walk(v)
            elif isinstance(obj, np.ndarray):
                arrays.append(obj)

        walk(out)
        assert all(a.dtype.kind in "biufc" and a.dtype.fields is None for a in arrays)


def test_crafting_helper_pads_like_numpy():
    header = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }")
    assert len(header) % 64 == 0
    assert ast.literal_eval(header[10:].decode("latin1"))["shape"] == (1,)


# ----- deflated members: streamed into their arrays, all members within BUDGET x the file's size ----
def peak_of(fn):
    """``fn()``'s result (or the ValueError it raised) and the peak bytes allocated meanwhile."""
    tracemalloc.start()
    try:
        try:
            result = fn()
        except ValueError as e:
            result = e
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def compressed(**arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def test_ordinary_compressed_weights_load_without_a_second_copy():
    rng = np.random.default_rng(0)
    weights = {"w": rng.standard_normal((2048, 1024)).astype(np.float32), "b": np.zeros(1024, np.float32)}
    raw = compressed(**weights)
    out, peak = peak_of(lambda: load_bytes(raw))
    for k, v in weights.items():
        np.testing.assert_array_equal(out[k], v)
    # the arrays themselves plus a few chunks (zipfile holds one compressed and one decompressed),
    # not the arrays twice (a whole-member read makes a full-size bytes object first)
    assert peak < sum(v.nbytes for v in weights.values()) + 8 * CHUNK


def test_a_zip_bomb_with_an_honest_header_is_refused_before_allocating():
    """Zeros deflate about 1000:1: 200 MB of them is a 200 KB file; refused, allocating nothing like it."""
    raw = compressed(big=np.zeros(25_000_000))
    assert 200_000_000 > BUDGET * len(raw)
    error, peak = peak_of(lambda: load_bytes(raw))
    assert isinstance(error, ValueError)
    assert "'big.npy' declares 200000000 bytes" in str(error) and f"{BUDGET}x" in str(error)
    assert "numpy.load" in str(error) and "tc.save" in str(error)  # what to do with a trusted file
    assert peak < 3 * len(raw) + 3 * CHUNK


def test_the_budget_counts_all_members_together():
    """Each member alone fits the budget; together they do not (the 'better zip bomb' shape)."""
    members = {f"m{i}": np.zeros(2_000_000, np.uint8) for i in range(40)}
    raw = compressed(**members)
    assert 2_000_000 < BUDGET * len(raw) < 40 * 2_000_000
    error, peak = peak_of(lambda: load_bytes(raw))
    assert isinstance(error, ValueError) and "are left" in str(error)
    assert peak < BUDGET * len(raw) + 3 * CHUNK


def test_a_compressed_file_of_zeros_past_the_budget_says_how_to_load_it():
    raw = compressed(weight=np.zeros((256, 1024), np.float32))  # 1 MB of zeros, a ~1 KB file
    with pytest.raises(ValueError, match=r"load it with numpy.load yourself and re-save it with tc.save"):
        load_bytes(raw)
    buffer = io.BytesIO()  # what the message says to do: the stored file is 1x and loads
    tc.save(dict(np.load(io.BytesIO(raw))), buffer)
    np.testing.assert_array_equal(load_bytes(buffer.getvalue())["weight"], np.zeros((256, 1024)))


@pytest.mark.parametrize("claim", [4_000, 10**8])
def test_a_lying_header_is_refused_within_the_budget(claim):
    """The .npy header and the zip's sizes agree on ``claim`` float64s; the deflated stream holds 4
    of them. A claim past the budget is refused unallocated; one within it fails when the
    stream runs dry, having allocated at most the budget."""
    raw = bytearray(archive({"a.npy": npy(f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({claim},), }}",
                                          b"\0" * 32)}, zipfile.ZIP_DEFLATED))
    info = zipfile.ZipFile(io.BytesIO(bytes(raw))).infolist()[0]
    declared = 128 + 8 * claim  # the header (128 bytes) and the claimed data
    for offset in (info.header_offset + 22, bytes(raw).rindex(b"PK\x01\x02") + 24):
        raw[offset:offset + 4] = declared.to_bytes(4, "little")
    error, peak = peak_of(lambda: load_bytes(bytes(raw)))
    assert isinstance(error, ValueError) and "'a.npy'" in str(error)
    assert peak < min(8 * claim, BUDGET * len(raw)) + 3 * CHUNK
