"""``AdamW``: Adam with decoupled weight decay, as ``torch.optim.AdamW``."""
from .adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``::

        p = p * (1 - lr * weight_decay)               (the weights decay, not the gradient)
        then Adam's update with g = grad (see ``Adam``)

    It is ``Adam(..., decoupled_weight_decay=True)`` with PyTorch's default ``weight_decay=1e-2``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
