"""Issue 19's activations, losses and tensor ops, forward + backward, float32, against PyTorch CPU
(side_by_side.compare: interleaved, alternating order, median of repeats).

Run: python benchmarks/bench_ops_v3.py [repeats]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from side_by_side import compare  # noqa: E402

import torch  # noqa: E402

rng = np.random.default_rng(0)
ACT = (64, 32, 16, 16)  # a CNN feature map: 524k elements
LOSS = (256, 1000)


def arrays(*shapes, low=-4.0, high=4.0):
    return [rng.uniform(low, high, s).astype(np.float32) for s in shapes]


def step(lib, fn, inputs, needs=None):
    """fwd + bwd of ``fn`` on fresh leaf tensors of ``lib`` (tc or torch)."""
    needs = needs or [True] * len(inputs)
    ts = [lib.tensor(a, requires_grad=n) for a, n in zip(inputs, needs)]

    def run():
        for t in ts:
            t.grad = None
        out = fn(*ts)
        out.backward(lib.ones_like(out) if out.ndim else None)

    return run


def case(label, ours, theirs, inputs, needs=None):
    return label, step(tc, ours, inputs, needs), step(torch, theirs, inputs, needs)


TF = torch.nn.functional
x = arrays(ACT)
CASES = [case(name, getattr(F, name), getattr(TF, name), x) for name in
         ("hardtanh", "relu6", "softplus", "hardswish", "hardsigmoid", "mish", "selu", "celu", "logsigmoid", "softsign")]
p, y = arrays(LOSS, LOSS, low=0.01, high=0.99)
lp = np.log(p)
CASES += [
    case("binary_cross_entropy", F.binary_cross_entropy, TF.binary_cross_entropy, [p, y], [True, False]),
    case("kl_div batchmean", lambda a, b: F.kl_div(a, b, "batchmean"), lambda a, b: TF.kl_div(a, b, reduction="batchmean"),
         [lp, y], [True, False]),
    case("huber_loss", F.huber_loss, TF.huber_loss, [p * 4, y], [True, False]),
    case("cosine_similarity", F.cosine_similarity, TF.cosine_similarity, arrays(LOSS, LOSS)),
    case("normalize", F.normalize, TF.normalize, arrays(LOSS)),
    case("sin", tc.sin, torch.sin, x),
    case("clamp tensor bounds", lambda a, lo, hi: a.clamp(lo, hi), lambda a, lo, hi: a.clamp(lo, hi),
         arrays(ACT, ACT[1:], ACT[1:])),
    case("pow tensor exponent", lambda a, b: a**b, lambda a, b: a**b, [p, y]),
    case("einsum bij,bjk->bik", lambda a, b: tc.einsum("bij,bjk->bik", a, b),
         lambda a, b: torch.einsum("bij,bjk->bik", a, b), arrays((32, 64, 128), (32, 128, 64))),
    case("einsum attention", lambda q, k: tc.einsum("bhqd,bhkd->bhqk", q, k),
         lambda q, k: torch.einsum("bhqd,bhkd->bhqk", q, k), arrays((8, 4, 64, 32), (8, 4, 64, 32))),
]

if __name__ == "__main__":
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    compare(CASES, repeats, f"issue 19 ops, fwd+bwd float32 (activations on {ACT}, losses on {LOSS}), "
                            f"torch {torch.__version__} with {torch.get_num_threads()} threads")
