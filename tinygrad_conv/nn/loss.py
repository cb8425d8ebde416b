"""Loss modules of issue 19 (each calls one functional loss) and the argument helpers
the loss modules share."""
from .. import checks
from .. import functional as F
from ..ops.losses import REDUCTIONS
from .module import Module


def legacy_reduction(size_average, reduce, reduction, where, options=REDUCTIONS):
    """``reduction``, or PyTorch's deprecated ``size_average``/``reduce`` pair turned into one:
    ``reduce=False`` gives "none", else ``size_average=False`` gives "sum", else "mean"."""
    if size_average is not None or reduce is not None:
        if reduce is not None and not reduce:
            return "none"
        return "sum" if size_average is not None and not size_average else "mean"
    return checks.one_of(reduction, options, "reduction", where)


def constant_array(a, name="weight", where="loss"):
    """A weight given to a loss module: kept as an array (a buffer, not a parameter), or None;
    a number or a list is a ``TypeError`` here, at construction, as in PyTorch."""
    checks.optional_array(a, name, where)
    return None if a is None else (a.array if hasattr(a, "array") else a)


class _Loss(Module):
    def extra_repr(self):
        return ""


class BCELoss(_Loss):
    """``F.binary_cross_entropy(input, target, weight, reduction)`` on probabilities."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.weight = constant_array(weight, "weight", "BCELoss")
        self.reduction = legacy_reduction(size_average, reduce, reduction, "BCELoss")

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class KLDivLoss(_Loss):
    """``F.kl_div(input, target, reduction, log_target)``; ``input`` holds log-probabilities."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__()
        self.reduction = legacy_reduction(size_average, reduce, reduction, "KLDivLoss", REDUCTIONS + ("batchmean",))
        self.log_target = checks.boolean(log_target, "log_target", "KLDivLoss")

    def forward(self, input, target):
        return F.kl_div(input, target, self.reduction, self.log_target)


class HuberLoss(_Loss):
    """``F.huber_loss(input, target, reduction, delta)``."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__()
        self.reduction = checks.one_of(reduction, REDUCTIONS, "reduction", "HuberLoss")
        self.delta = checks.finite_number(delta, "delta", "HuberLoss")
        if self.delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)


class CosineSimilarity(Module):
    """``F.cosine_similarity(x1, x2, dim, eps)``."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = checks.integer(dim, "dim", "CosineSimilarity")
        self.eps = checks.finite_number(eps, "eps", "CosineSimilarity", minimum=0)

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
