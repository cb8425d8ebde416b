"""Embedding (a lookup table of trainable rows) and the pixel-shuffle reshapes."""
import numpy as np

from .. import backend, checks
from .. import functional as F
from ..tensor import Tensor
from . import init
from .module import Module, Parameter
from .norm import _dtype


class Embedding(Module):
    """``F.embedding`` with a trainable ``weight (num_embeddings, embedding_dim)``, drawn from
    N(0, 1) with the ``padding_idx`` row zero, as ``torch.nn.Embedding`` (same arguments)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        where = "Embedding"
        self.num_embeddings = checks.positive_int(num_embeddings, "num_embeddings", where)
        self.embedding_dim = checks.positive_int(embedding_dim, "embedding_dim", where)
        if padding_idx is not None:
            padding_idx = checks.integer(padding_idx, "padding_idx", where)
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"{where}: padding_idx must be in [-{num_embeddings}, {num_embeddings}), got {padding_idx}")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.max_norm = None if max_norm is None else checks.finite_number(max_norm, "max_norm", where, minimum=0)
        self.norm_type = checks.finite_number(norm_type, "norm_type", where)
        self.scale_grad_by_freq = checks.boolean(scale_grad_by_freq, "scale_grad_by_freq", where)
        self.sparse = checks.boolean(sparse, "sparse", where)
        requires_grad = not checks.boolean(_freeze, "_freeze", where)
        if _weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), _dtype(dtype, where)), requires_grad)
            self.reset_parameters()
        else:
            checks.optional_array(_weight, "_weight", where)
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"{where}: _weight has shape {tuple(_weight.shape)}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(_weight, requires_grad, dtype=dtype)
        if device is not None:
            self.to(backend.device(device))

    def reset_parameters(self):
        """N(0, 1) draws, then the padding row zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is a copy of ``embeddings`` (2-D), frozen unless ``freeze=False``."""
        if not isinstance(embeddings, Tensor):
            raise TypeError(f"Embedding.from_pretrained: embeddings must be a Tensor, got {type(embeddings).__name__}")
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {embeddings.shape}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=checks.boolean(freeze, "freeze", "Embedding.from_pretrained"))

    def forward(self, x):
        return F.embedding(x, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        for name, default in (("padding_idx", None), ("max_norm", None), ("norm_type", 2.0),
                              ("scale_grad_by_freq", False), ("sparse", False)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


class PixelShuffle(Module):
    """``F.pixel_shuffle``: ``(*, C * r * r, H, W) -> (*, C, H * r, W * r)``."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = checks.positive_int(upscale_factor, "upscale_factor", "PixelShuffle")

    def forward(self, x):
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``F.pixel_unshuffle``: ``(*, C, H * r, W * r) -> (*, C * r * r, H, W)``."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = checks.positive_int(downscale_factor, "downscale_factor", "PixelUnshuffle")

    def forward(self, x):
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
