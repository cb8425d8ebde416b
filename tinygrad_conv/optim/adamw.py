"""``AdamW``: Adam with decoupled weight decay, as ``torch.optim.AdamW``."""
from .adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``::

        p = p * (1 - lr * weight_decay)               (the weights decay, not the gradient)
        then Adam's update with g = grad (see ``Adam``)
    """

    l2_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _decay(self, p, group):
        if group["weight_decay"]:
            p.array *= 1.0 - group["lr"] * group["weight_decay"]
