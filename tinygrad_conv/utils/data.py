"""Datasets, samplers and the DataLoader, with ``torch.utils.data``'s names and semantics.

A program written for PyTorch runs with its import changed only::

    from tinygrad_conv.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)
    for xb, yb in loader:  # Tensors of shapes (64, ...) and (64,)
        ...

How a batch is made, as in PyTorch: a *sampler* yields indices (in order, or a
fresh random permutation each epoch), a ``BatchSampler`` groups them into lists
of ``batch_size``, the dataset is indexed at each, and ``collate_fn``
(``default_collate`` unless given) joins the samples into one batch.

Shuffling draws from the library's generator (``tc.manual_seed`` makes it
reproducible) or from ``generator=``, an ``np.random.Generator``. Everything
runs in the calling process: ``num_workers > 0`` is refused, and
``pin_memory`` is accepted and ignored (NumPy memory needs no pinning).
"""
import bisect
import collections.abc
import copy
import math
import numbers
import re
import warnings
from typing import Generic, TypeVar

import numpy as np

from .. import backend, checks, dtypes, factories
from ..combine import stack
from ..tensor import Tensor

__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
    "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset",
    "WeightedRandomSampler", "default_collate", "default_convert", "get_worker_info", "random_split",
]

T_co = TypeVar("T_co", covariant=True)


def _generator(generator, where):
    """``generator`` checked: None (the library's generator, looked up at each draw so
    that a later ``tc.manual_seed`` counts) or an ``np.random.Generator``."""
    factories._generator(generator, where)  # raises TypeError for anything else
    return generator


def _draws(generator):
    """The generator to draw from now: ``generator``, or the library's when None."""
    return factories._generator(generator, "")


# ----- datasets ------------------------------------------------------------------------------
class Dataset(Generic[T_co]):
    """A map-style data set: ``dataset[i]`` is sample ``i``; subclasses define
    ``__getitem__`` and usually ``__len__``. ``a + b`` chains two data sets."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset should implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])

    def __repr__(self):
        try:
            return f"{type(self).__name__}({len(self)} samples)"
        except TypeError:
            return f"{type(self).__name__}()"


class IterableDataset(Dataset[T_co]):
    """A data set read as a stream: subclasses define ``__iter__``. A DataLoader
    batches it in the order it yields (no sampler, no shuffle)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of IterableDataset should implement __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])

    def __repr__(self):
        return f"{type(self).__name__}()"


class TensorDataset(Dataset):
    """Sample ``i`` is ``(t[i] for t in tensors)``: Tensors sharing their first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor, got none")
        for k, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {k} must be a Tensor, got {type(t).__name__}")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {k} is a 0-d tensor; every tensor needs a first "
                                 "dimension indexing the samples")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) > 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes} "
                             f"(shapes {shapes}) must be equal")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def __repr__(self):
        shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
        return f"TensorDataset({len(self)} samples; shapes {shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``subset[i] == dataset[indices[i]]``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices):
        # Batched fetch, as PyTorch's: the wrapped data set's own __getitems__ when it has one.
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self):
        return len(self.indices)

    def __repr__(self):
        return f"Subset({len(self)} of {self.dataset!r})"


class ConcatDataset(Dataset):
    """``datasets`` one after another: index ``i`` falls in the first data set whose
    cumulative size exceeds it (negative indices count from the end)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for k, d in enumerate(self.datasets):
            if isinstance(d, IterableDataset):
                raise TypeError(f"ConcatDataset: does not support IterableDataset (dataset {k} is "
                                f"{type(d).__name__}); use ChainDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            if -index > n:
                raise ValueError(f"ConcatDataset: absolute value of index {index} should not exceed "
                                 f"dataset length {n}")
            index += n
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]

    def __repr__(self):
        return f"ConcatDataset({len(self)} samples from {len(self.datasets)} datasets)"


class ChainDataset(IterableDataset):
    """Iterable data sets read one after another."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: only supports IterableDataset, got {type(d).__name__}")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def random_split(dataset, lengths, generator=None):
    """``dataset`` split into non-overlapping Subsets of ``lengths`` at random.

    ``lengths`` are ints summing to ``len(dataset)``, or fractions summing to 1: then
    each split gets ``floor(len(dataset) * fraction)`` samples and the remainder is
    handed out one by one from the first split on, as in PyTorch. The permutation is
    drawn from ``generator`` (an ``np.random.Generator``) or the library's generator.
    """
    generator = _generator(generator, "random_split")
    if isinstance(lengths, str) or not hasattr(lengths, "__iter__"):
        raise TypeError(f"random_split: lengths must be a list of ints or fractions, got {type(lengths).__name__} {lengths!r}")
    lengths = list(lengths)
    for i, length in enumerate(lengths):
        checks.number(length, f"lengths[{i}]", "random_split")  # the type; the values are checked below
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {fraction}")
        counts = [math.floor(n * fraction) for fraction in lengths]
        for i in range(n - sum(counts)):  # the remainder, round-robin
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0. "
                              "This might result in an empty dataset.", stacklevel=2)
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}, from {lengths}) does not equal "
                         f"the length of the input dataset ({n})")
    for i, length in enumerate(lengths):
        checks.integer(length, f"lengths[{i}]", "random_split", minimum=0)
    order = _draws(generator).permutation(n).tolist()
    ends = np.cumsum(lengths).tolist()
    return [Subset(dataset, order[end - length : end]) for end, length in zip(ends, lengths)]


# ----- samplers: which indices, in which order ------------------------------------------------------
class Sampler(Generic[T_co]):
    """Yields the indices (or, for a batch sampler, lists of indices) a DataLoader fetches."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Sampler should implement __iter__")

    def __repr__(self):
        try:
            return f"{type(self).__name__}({len(self)} indices)"
        except TypeError:
            return f"{type(self).__name__}()"


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random order each time it is iterated: a permutation of the indices
    (repeated whole, then cut, when ``num_samples`` exceeds them), or with
    ``replacement`` ``num_samples`` uniform draws."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = checks.boolean(replacement, "replacement", "RandomSampler")
        self._num_samples = num_samples
        self.generator = _generator(generator, "RandomSampler")
        if num_samples is not None:
            checks.positive_int(num_samples, "num_samples", "RandomSampler")

    @property
    def num_samples(self):
        # Read at each iteration, as PyTorch's: the data set may change size.
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, k = len(self.data_source), self.num_samples
        rng = _draws(self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, size=k).tolist())
        orders = [rng.permutation(n) for _ in range(k // n)]
        if k % n:
            orders.append(rng.permutation(n)[: k % n])
        return iter(np.concatenate(orders).tolist() if orders else [])

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a fresh random order each time it is iterated."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = _generator(generator, "SubsetRandomSampler")

    def __iter__(self):
        return iter([self.indices[i] for i in _draws(self.generator).permutation(len(self.indices)).tolist()])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        weights = np.asarray(weights.array if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1-D sequence, got shape {weights.shape}")
        if not (np.isfinite(weights).all() and (weights >= 0).all() and weights.sum() > 0):
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        self.weights = weights
        self.num_samples = checks.positive_int(num_samples, "num_samples", "WeightedRandomSampler")
        self.replacement = checks.boolean(replacement, "replacement", "WeightedRandomSampler")
        if not self.replacement and self.num_samples > np.count_nonzero(weights):
            raise ValueError(f"WeightedRandomSampler: cannot draw {self.num_samples} samples without replacement "
                             f"from {np.count_nonzero(weights)} non-zero weights")
        self.generator = _generator(generator, "WeightedRandomSampler")

    def __iter__(self):
        p = self.weights / self.weights.sum()
        draws = _draws(self.generator).choice(len(p), size=self.num_samples, replace=self.replacement, p=p)
        return iter(draws.tolist())

    def __len__(self):
        return self.num_samples


def _check_batch_size(batch_size, where):
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
        raise ValueError(f"{where}: batch_size should be a positive integer value, but got batch_size={batch_size!r}")
    return int(batch_size)


class BatchSampler(Sampler):
    """``sampler``'s indices in lists of ``batch_size``; the last list is shorter, or
    dropped with ``drop_last``."""

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler = sampler
        self.batch_size = _check_batch_size(batch_size, "BatchSampler")
        if not isinstance(drop_last, (bool, np.bool_)):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.drop_last = bool(drop_last)

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ----- collation: samples -> one batch -------------------------------------------------------------
_STRING_OR_OBJECT = re.compile(r"[SaUO]")  # NumPy dtype codes default_collate cannot turn into numbers

_COLLATE_ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_array(x):
    return isinstance(x, np.ndarray) or backend.is_cuda(x)


def default_collate(batch):
    """Join a list of samples into one batch, as ``torch.utils.data.default_collate``.

    Tensors are stacked along a new first dimension; NumPy arrays become Tensors
    and are stacked; NumPy scalars keep their dtype; Python ints give int64, bools
    bool and floats float64 (as PyTorch's); strings and bytes stay as they are;
    tuples, lists, named tuples and dicts are collated field by field (a tuple
    sample gives a list of fields, as in PyTorch).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if _is_array(elem):
        if _STRING_OR_OBJECT.search(elem.dtype.str) is not None:
            raise TypeError(_COLLATE_ERROR.format(elem.dtype))
        return default_collate([factories.as_tensor(b) for b in batch])
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return factories.as_tensor(np.asarray(batch))
    if isinstance(elem, float):
        return factories.tensor(batch, dtype=dtypes.float64)
    if isinstance(elem, int):  # also bool: a bool tensor, as torch.tensor([True, ...])
        return factories.tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        return _like_container(elem, fields)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple keeps its type
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size, got "
                               f"sizes {[len(sample) for sample in batch]}")
        fields = [default_collate(samples) for samples in zip(*batch)]
        return fields if isinstance(elem, tuple) else _like_container(elem, fields)
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


def _like_container(elem, items):
    """``items`` (a dict or list) in ``elem``'s container type where it can be built, as PyTorch."""
    try:
        if isinstance(elem, (collections.abc.MutableMapping, collections.abc.MutableSequence)):
            clone = copy.copy(elem)
            if isinstance(elem, collections.abc.MutableMapping):
                clone.update(items)
            else:
                for i, item in enumerate(items):
                    clone[i] = item
            return clone
        return type(elem)(items)
    except TypeError:
        return items


def default_convert(data):
    """One sample with its NumPy arrays and scalars made Tensors (the collate_fn when
    ``batch_size=None``): Python numbers and strings stay as they are; tuples become
    lists, other containers keep their type."""
    if isinstance(data, Tensor):
        return data
    if _is_array(data):
        return data if _STRING_OR_OBJECT.search(data.dtype.str) else factories.as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return factories.as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _like_container(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _like_container(data, [default_convert(d) for d in data])
    return data


def get_worker_info():
    """None: data is always loaded in the calling process (there are no workers)."""
    return None


def _tensor_rows(dataset, indices):
    """A default-collated batch of a TensorDataset (possibly inside Subsets) at ``indices``,
    gathered with one indexing per tensor instead of one per sample and a stack: the
    same values, dtype and gradient path. None when the data set is anything else."""
    while type(dataset) is Subset:
        indices = [dataset.indices[i] for i in indices]
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset or len(indices) == 0:
        return None
    try:
        rows = np.asarray(indices)
    except (TypeError, ValueError):
        return None
    if rows.ndim != 1 or rows.dtype.kind not in "iu":
        return None
    return [t[rows] for t in dataset.tensors]


# ----- the loader ------------------------------------------------------------------------------
class DataLoader:
    """Iterates over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    Each pass draws its order afresh: ``shuffle=True`` gives a new random permutation
    per epoch from ``generator`` (an ``np.random.Generator``) or the library's
    generator (``tc.manual_seed``). ``sampler`` (indices) or ``batch_sampler`` (lists
    of indices) replace the default order. ``batch_size=None`` yields single samples
    passed through ``default_convert``. ``len(loader)`` is the number of batches.

    Data loads in the calling process: ``num_workers`` must be 0 (with ``timeout=0``,
    ``prefetch_factor=None`` and ``persistent_workers=False``, which only workers use);
    ``pin_memory`` and ``worker_init_fn`` are accepted and have no effect.
    """

    _FIXED = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device="", in_order=True):
        where = "DataLoader"
        num_workers = checks.integer(num_workers, "num_workers", where)
        if num_workers < 0:
            raise ValueError(f"{where}: num_workers option should be non-negative, got {num_workers}; "
                             "use num_workers=0")
        if num_workers > 0:
            raise ValueError(f"{where}: worker processes are not supported; use num_workers=0 "
                             f"(got num_workers={num_workers}). Data loads in the calling process.")
        if timeout != 0:
            raise ValueError(f"{where}: timeout applies to worker processes, which are not supported; "
                             f"use timeout=0 (got timeout={timeout!r})")
        if prefetch_factor is not None:
            raise ValueError(f"{where}: prefetch_factor option could only be specified with worker processes, "
                             f"which are not supported; set prefetch_factor to None (got {prefetch_factor!r})")
        if persistent_workers:
            raise ValueError(f"{where}: persistent_workers option needs num_workers > 0, and worker processes "
                             "are not supported; use persistent_workers=False")
        generator = _generator(generator, where)
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None and (isinstance(value, str) or not hasattr(value, "__iter__")):
                raise TypeError(f"{where}: {name} must be a Sampler or an iterable of indices, "
                                f"got {type(value).__name__} {value!r}")
        checks.callable_(collate_fn, "collate_fn", where)
        checks.callable_(worker_init_fn, "worker_init_fn", where)

        if isinstance(dataset, IterableDataset):
            if shuffle not in (False, None):
                raise ValueError(f"{where} with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"{where} with IterableDataset: expected unspecified sampler option, "
                                 f"but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"{where} with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError(f"{where}: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(f"{where}: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError(f"{where}: batch_size=None option disables auto-batching and is mutually "
                                 "exclusive with drop_last")
        else:
            batch_size = _check_batch_size(batch_size, where)
        if not isinstance(drop_last, (bool, np.bool_)):
            raise ValueError(f"{where}: drop_last should be a boolean value, but got drop_last={drop_last!r}")
        drop_last = bool(drop_last)

        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.num_workers = num_workers
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._initialized = True

    def __setattr__(self, name, value):
        if getattr(self, "_initialized", False) and name in self._FIXED:
            raise ValueError(f"DataLoader: {name} attribute should not be set after DataLoader is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (isinstance(self.dataset, IterableDataset)
                                                  and self.batch_size is not None)

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            return _IterableBatches(self)
        return _MapBatches(self)

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __repr__(self):
        order = "shuffled" if isinstance(self.sampler, RandomSampler) else type(self.sampler).__name__
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"drop_last={self.drop_last}, order={order})")


class _MapBatches:
    """One pass over a map-style data set: the batch sampler's order is drawn when
    the first batch is asked for."""

    def __init__(self, loader):
        self._loader = loader
        self._indices = iter(loader.batch_sampler if loader.batch_sampler is not None else loader.sampler)
        self._len = len(loader)

    def __iter__(self):
        return self

    def __len__(self):
        return self._len

    def __next__(self):
        loader = self._loader
        index = next(self._indices)
        if loader.batch_sampler is None:  # batch_size=None: one sample at a time
            return loader.collate_fn(loader.dataset[index])
        if loader.collate_fn is default_collate:
            batch = _tensor_rows(loader.dataset, index)
            if batch is not None:
                return batch
        if callable(getattr(loader.dataset, "__getitems__", None)):
            samples = loader.dataset.__getitems__(index)
        else:
            samples = [loader.dataset[i] for i in index]
        return loader.collate_fn(samples)


class _IterableBatches:
    """One pass over an IterableDataset: ``batch_size`` samples at a time in stream order."""

    def __init__(self, loader):
        self._loader = loader
        self._samples = iter(loader.dataset)
        self._ended = False

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def __next__(self):
        loader = self._loader
        if loader.batch_size is None:
            return loader.collate_fn(next(self._samples))
        if self._ended:
            raise StopIteration
        samples = []
        for _ in range(loader.batch_size):
            try:
                samples.append(next(self._samples))
            except StopIteration:
                self._ended = True
                break
        if not samples or (loader.drop_last and len(samples) < loader.batch_size):
            raise StopIteration
        return loader.collate_fn(samples)
