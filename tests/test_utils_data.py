"""tinygrad_conv.utils.data against torch.utils.data: batches, dtypes, order, lengths and errors."""
import collections
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_conv as tc
import tinygrad_conv.utils  # noqa: F401  (tc.utils.data)
from tinygrad_conv.utils import data
from tinygrad_conv.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset,
                                      SequentialSampler, Subset, TensorDataset, default_collate, random_split)


# ----- helpers -----------------------------------------------------------------------------------
def _torch():
    return pytest.importorskip("torch")


def assert_same(ours, theirs):
    """``ours`` (Tensors in containers) equals ``theirs`` (torch's): same structure,
    container types, shapes, dtypes and values."""
    torch = _torch()
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tc.Tensor), f"expected a Tensor, got {type(ours).__name__}"
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), (ours.dtype, theirs.dtype)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for key in theirs:
            assert_same(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs), (type(ours), type(theirs))
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b)
    else:
        assert type(ours) is type(theirs) and ours == theirs


def both_loaders(n, shape=(2, 3), **kwargs):
    """Equal TensorDataset DataLoaders in tinygrad_conv and torch over float32 X and int64 y."""
    torch = _torch()
    X = np.random.default_rng(n).standard_normal((n, *shape)).astype(np.float32)
    y = np.arange(n, dtype=np.int64) % 3
    ours = DataLoader(TensorDataset(tc.tensor(X), tc.tensor(y)), **kwargs)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), **kwargs)
    return ours, theirs


def labels(loader):
    """Each batch's labels (a TensorDataset's last tensor is arange(n)) as a list of lists."""
    return [batch[-1].numpy().tolist() for batch in loader]


class Samples(Dataset):
    """A map-style data set of Python/NumPy samples, as a custom Dataset returns them."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        image = np.full((2, 2), i, dtype=np.float32)
        return image, i, float(i) / 2, i % 2 == 0, f"s{i}", {"id": np.int32(i), "w": [i, -i]}


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


# ----- batches against torch ---------------------------------------------------------------------------
@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), drop_last=st.booleans())
def test_tensor_batches_match_torch(n, batch_size, drop_last):
    ours, theirs = both_loaders(n, batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    got = list(ours)
    want = list(theirs)
    assert len(got) == len(want) == len(ours)
    for a, b in zip(got, want):
        assert_same(a, b)


@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_collate_of_python_and_numpy_samples_matches_torch(batch_size):
    torch = _torch()
    dataset = Samples(7)
    ours = list(DataLoader(dataset, batch_size=batch_size))
    theirs = list(torch.utils.data.DataLoader(dataset, batch_size=batch_size))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert_same(a, b)


def test_default_collate_dtypes_follow_torch():
    torch = _torch()
    Point = collections.namedtuple("Point", "x y")
    cases = [
        [1.5, 2.0],  # Python floats: float64, as torch's default_collate
        [1, 2],  # ints: int64
        [True, False],  # bools: bool
        [np.float32(1), np.float32(2)], [np.int32(1), np.int32(2)], [np.float64(1), np.float64(2)],
        [np.zeros((2, 3), np.float64), np.ones((2, 3), np.float64)],
        [np.arange(3, dtype=np.uint8), np.arange(3, dtype=np.uint8)],
        ["a", "b"], [b"a", b"b"],
        [Point(1, 2.0), Point(3, 4.0)],
        [[1, 2], [3, 4]],
        [(1, "x"), (2, "y")],
        [{"a": 1, "b": [1.0, np.int64(2)]}, {"a": 3, "b": [4.0, np.int64(5)]}],
    ]
    for batch in cases:
        assert_same(default_collate(batch), torch.utils.data.default_collate(batch))


def test_default_collate_stacks_tensors_and_refuses_other_things():
    out = default_collate([tc.ones(2, 3), tc.zeros(2, 3)])
    assert out.shape == (2, 2, 3) and out.dtype == tc.float32
    np.testing.assert_array_equal(out.numpy()[0], 1)
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])


def test_explicit_sampler_and_batch_sampler_match_torch():
    torch = _torch()
    order = [5, 0, 3, 3, 9, 1, 2]
    ours, theirs = both_loaders(10, batch_size=3, sampler=order)
    assert labels(ours) == [b[-1].tolist() for b in theirs]
    batches = [[4, 1], [0], [7, 8, 9]]
    ours, theirs = both_loaders(10, batch_sampler=batches)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):
        assert_same(a, b)
    ours = DataLoader(TensorDataset(tc.arange(10)), batch_sampler=BatchSampler(SequentialSampler(range(10)), 4, True))
    assert labels(ours) == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(ours) == 2
    assert isinstance(torch.utils.data.DataLoader, type)


@pytest.mark.parametrize("batch_size,drop_last", [(3, False), (3, True), (None, False)])
def test_iterable_dataset_matches_torch(batch_size, drop_last):
    torch = _torch()

    class TorchStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(8))

        def __len__(self):
            return 8

    ours = DataLoader(Stream(8), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(TorchStream(), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    got, want = list(ours), list(theirs)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert_same(a, b)


def test_fast_tensor_path_equals_per_sample_collation():
    # The TensorDataset shortcut (one gather per tensor) must equal indexing sample by sample and stacking.
    X = tc.randn(11, 2, generator=np.random.default_rng(0), requires_grad=True)
    dataset = Subset(TensorDataset(X, tc.arange(11)), [10, 3, 3, 0, 7, 5])
    fast = list(DataLoader(dataset, batch_size=4))
    slow = list(DataLoader(dataset, batch_size=4, collate_fn=lambda b: default_collate(b)))
    for a, b in zip(fast, slow):
        assert_same_tc(a, b)
    fast[0][0].sum().backward()  # the batch stays on X's graph, as torch.stack's would
    np.testing.assert_array_equal(X.grad.numpy()[:, 0], [1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1])


def assert_same_tc(a, b):
    assert type(a) is type(b) and len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())


# ----- shuffling ---------------------------------------------------------------------------------------
def epochs(loader, k=3):
    return [sum(labels(loader), []) for _ in range(k)]


@given(n=st.integers(2, 50), batch_size=st.integers(1, 9), seed=st.integers(0, 2**31))
def test_shuffle_is_a_fresh_permutation_each_epoch_reproducible_by_manual_seed(n, batch_size, seed):
    loader = DataLoader(TensorDataset(tc.arange(n)), batch_size=batch_size, shuffle=True)
    tc.manual_seed(seed)
    first = epochs(loader)
    tc.manual_seed(seed)
    assert epochs(loader) == first
    for order in first:
        assert sorted(order) == list(range(n))  # every sample exactly once per epoch
    expected = np.random.default_rng(seed)  # the library's generator, one permutation per epoch
    assert first == [expected.permutation(n).tolist() for _ in range(3)]


def test_shuffle_with_a_generator_ignores_the_library_generator():
    dataset = TensorDataset(tc.arange(30))
    runs = []
    for library_seed in (1, 2):
        tc.manual_seed(library_seed)
        runs.append(epochs(DataLoader(dataset, batch_size=7, shuffle=True, generator=np.random.default_rng(5))))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[0][1]  # a new order each epoch
    assert all(sorted(order) == list(range(30)) for order in runs[0])
    with pytest.raises(TypeError, match="generator"):
        DataLoader(dataset, shuffle=True, generator=5)


def test_shuffle_draws_when_iterated_so_a_later_manual_seed_counts():
    loader = DataLoader(TensorDataset(tc.arange(20)), batch_size=20, shuffle=True)
    tc.manual_seed(7)
    a = labels(loader)
    tc.manual_seed(7)
    assert labels(loader) == a


# ----- lengths --------------------------------------------------------------------------------------------
@given(n=st.integers(0, 30), batch_size=st.integers(1, 8), drop_last=st.booleans())
def test_len_is_the_number_of_batches(n, batch_size, drop_last):
    loader = DataLoader(TensorDataset(tc.zeros(n, 1)), batch_size=batch_size, drop_last=drop_last)
    expected = n // batch_size if drop_last else -(-n // batch_size)
    assert len(loader) == expected == len(list(loader))
    sizes = [len(b[0]) for b in loader]
    assert all(s == batch_size for s in sizes[:-1])
    if drop_last:
        assert all(s == batch_size for s in sizes)
    assert len(DataLoader(TensorDataset(tc.zeros(n, 1)), batch_size=None)) == n


# ----- random_split, Subset, ConcatDataset ---------------------------------------------------------------------
@given(n=st.integers(0, 60), cuts=st.lists(st.integers(0, 60), min_size=0, max_size=3), seed=st.integers(0, 99))
def test_random_split_with_lengths_is_a_partition(n, cuts, seed):
    edges = sorted(min(c, n) for c in cuts)
    lengths = np.diff([0, *edges, n]).tolist()
    splits = random_split(TensorDataset(tc.arange(n)), lengths, generator=np.random.default_rng(seed))
    assert [len(s) for s in splits] == lengths
    values = [s[i][0].item() for s in splits for i in range(len(s))]
    assert sorted(values) == list(range(n))  # disjoint and covering


@given(n=st.integers(1, 60), weights=st.lists(st.integers(1, 9), min_size=1, max_size=4))
def test_random_split_with_fractions_has_torchs_lengths(n, weights):
    torch = _torch()
    fractions = [w / sum(weights) for w in weights]
    if not (abs(sum(fractions) - 1) < 1e-9 and sum(fractions) <= 1):
        fractions[-1] = 1 - sum(fractions[:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty splits warn, in both libraries
        ours = random_split(TensorDataset(tc.arange(n)), fractions)
        theirs = torch.utils.data.random_split(torch.utils.data.TensorDataset(torch.arange(n)), fractions)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s.indices) == list(range(n))


def test_random_split_reproducible_and_checked():
    dataset = TensorDataset(tc.arange(10))
    tc.manual_seed(3)
    a = [s.indices for s in random_split(dataset, [0.5, 0.5])]
    tc.manual_seed(3)
    assert [s.indices for s in random_split(dataset, [5, 5])] == a
    with pytest.raises(ValueError, match=r"sum of input lengths \(9.*\(10\)"):
        random_split(dataset, [4, 5])
    with pytest.raises(ValueError, match="fraction at index 1"):
        random_split(dataset, [0.5, 1.5, -1.0])
    with pytest.warns(UserWarning, match="index 1 is 0"):
        random_split(TensorDataset(tc.arange(1)), [0.5, 0.5])


def test_subset_and_concat_indexing():
    a = TensorDataset(tc.arange(5))
    b = TensorDataset(tc.arange(10, 13))
    sub = Subset(a, [4, 0, 2])
    assert len(sub) == 3 and sub[0][0].item() == 4 and sub[-1][0].item() == 2
    both = ConcatDataset([a, b])
    assert len(both) == 8 and both.cumulative_sizes == [5, 8]
    assert [both[i][0].item() for i in range(8)] == [0, 1, 2, 3, 4, 10, 11, 12]
    assert both[-1][0].item() == 12 and both[-8][0].item() == 0
    assert [x[0].item() for x in (sub + b)] == [4, 0, 2, 10, 11, 12]  # Dataset.__add__, old iteration protocol
    with pytest.raises(ValueError, match="should not exceed"):
        both[-9]
    with pytest.raises(IndexError):
        both[8]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    loader = DataLoader(both, batch_size=3)
    assert labels(loader) == [[0, 1, 2], [3, 4, 10], [11, 12]]


# ----- errors ------------------------------------------------------------------------------------------
def test_tensor_dataset_refuses_unequal_lengths():
    with pytest.raises(ValueError, match=r"size mismatch.*\[4, 3\]"):
        TensorDataset(tc.zeros(4, 2), tc.zeros(3))
    with pytest.raises(TypeError, match="must be a Tensor"):
        TensorDataset(np.zeros(3))
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(tc.tensor(1.0))


def test_worker_processes_are_refused_with_the_fix():
    dataset = TensorDataset(tc.zeros(4))
    with pytest.raises(ValueError, match=r"worker processes are not supported; use num_workers=0"):
        DataLoader(dataset, batch_size=2, num_workers=2)
    with pytest.raises(ValueError, match="non-negative"):
        DataLoader(dataset, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(dataset, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(dataset, prefetch_factor=2)
    loader = DataLoader(dataset, batch_size=2, pin_memory=True, worker_init_fn=print)  # accepted, no effect
    assert len(list(loader)) == 2 and data.get_worker_info() is None


def test_conflicting_options_are_refused_as_in_torch():
    dataset = TensorDataset(tc.zeros(4))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(dataset, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(dataset, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="drop_last"):
        DataLoader(dataset, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="positive integer"):
        DataLoader(dataset, batch_size=0)
    with pytest.raises(ValueError, match="expected unspecified shuffle"):
        DataLoader(Stream(3), shuffle=True)
    loader = DataLoader(dataset)
    with pytest.raises(ValueError, match="should not be set after"):
        loader.batch_size = 3
    with pytest.raises(NotImplementedError):
        Dataset()[0]


def test_utils_is_reachable_as_in_torch():
    assert tc.utils.data is data
    assert "DataLoader" in repr(DataLoader(TensorDataset(tc.zeros(2))))
