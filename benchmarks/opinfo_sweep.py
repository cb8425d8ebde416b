"""Run PyTorch's own OpInfo sample inputs through torch and through tinygrad_conv.

A tool, not part of the test suite. For each op of the CNN op set below, every float32/float64
CPU sample of `torch.testing._internal.common_methods_invocations.op_db` is run through both
libraries (tensors converted with the same values and requires_grad) and classified:

  match       same outputs (allclose, NaN positions equal, same dtype) and same gradients
              (grads_ok counts the matches whose gradients were compared too)
  value       an output differs (value, shape, dtype or count)
  grad        outputs agree but a gradient of sum(output * fixed cotangent) differs
  refused     tinygrad_conv raised (the type and first line are recorded)
  torch_no    torch itself refuses the sample (not compared)

  PYTHONPATH=$PWD python benchmarks/opinfo_sweep.py [--ops conv2d,sum] [--verbose]
"""
import argparse
import sys
import types
import unittest
from collections import Counter, defaultdict

import numpy as np

# op_db imports `expecttest`, a test-only package we do not depend on: a stub is enough.
_stub = types.ModuleType("expecttest")
_stub.TestCase = unittest.TestCase
sys.modules.setdefault("expecttest", _stub)

import torch  # noqa: E402
import tinygrad_conv as tc  # noqa: E402

CNN_OPS = """
nn.functional.conv1d nn.functional.conv2d nn.functional.conv3d
nn.functional.conv_transpose1d nn.functional.conv_transpose2d nn.functional.conv_transpose3d
nn.functional.max_pool1d nn.functional.max_pool2d nn.functional.max_pool3d
nn.functional.avg_pool1d nn.functional.avg_pool2d nn.functional.avg_pool3d
nn.functional.adaptive_avg_pool1d nn.functional.adaptive_avg_pool2d nn.functional.adaptive_avg_pool3d
nn.functional.adaptive_max_pool1d nn.functional.adaptive_max_pool2d nn.functional.adaptive_max_pool3d
nn.functional.max_unpool1d nn.functional.max_unpool2d nn.functional.max_unpool3d
nn.functional.pad nn.functional.interpolate
nn.functional.batch_norm nn.functional.group_norm nn.functional.layer_norm nn.functional.instance_norm
nn.functional.embedding nn.functional.pixel_shuffle nn.functional.pixel_unshuffle nn.functional.unfold
nn.functional.relu nn.functional.relu6 nn.functional.leaky_relu nn.functional.elu nn.functional.selu
nn.functional.celu nn.functional.gelu nn.functional.silu nn.functional.mish nn.functional.softplus
nn.functional.hardtanh nn.functional.hardswish nn.functional.hardsigmoid nn.functional.logsigmoid
nn.functional.softsign nn.functional.prelu nn.functional.glu nn.functional.threshold
nn.functional.hardshrink nn.functional.softshrink nn.functional.tanhshrink nn.functional.softmin
nn.functional.cross_entropy nn.functional.nll_loss nn.functional.binary_cross_entropy
nn.functional.binary_cross_entropy_with_logits nn.functional.kl_div nn.functional.huber_loss
nn.functional.smooth_l1_loss nn.functional.mse_loss nn.functional.l1_loss
nn.functional.cosine_similarity nn.functional.normalize nn.functional.linear nn.functional.dropout
softmax log_softmax
sum mean var std prod cumsum logsumexp amax amin max min argmax argmin clamp pow add sub mul div
sin cos exp log sqrt abs tanh sigmoid where cat stack einsum matmul reshape view permute transpose
flatten squeeze unsqueeze expand repeat gather masked_fill chunk split
""".split()

NO_VALUE_COMPARE = {"nn.functional.dropout"}  # random masks: only run it, compare shapes/dtypes
METHOD_ONLY = {"expand", "view", "repeat"}  # OpInfo wraps these as lambdas over the method
TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-7, atol=1e-9)}
GRAD_TOL = {torch.float32: dict(rtol=1e-3, atol=1e-4), torch.float64: dict(rtol=1e-6, atol=1e-8)}


def call(lib, name, inp, args, kwargs):
    """Call op `name` of `lib` (torch or tinygrad_conv) the way the OpInfo's own `op` does."""
    if name.startswith("nn.functional."):
        fn = getattr(lib.nn.functional, name[len("nn.functional."):])
        if name == "nn.functional.embedding":  # OpInfo passes (weight, idx)
            return fn(args[0], inp, *args[1:], **kwargs)
        return fn(inp, *args, **kwargs)
    if name == "einsum":  # OpInfo passes (tensors, equation)
        return lib.einsum(args[0], inp)
    if name == "where":  # OpInfo passes (self, condition, other)
        return lib.where(args[0], inp, args[1], **kwargs)
    if name in METHOD_ONLY or not hasattr(lib, name):
        return getattr(inp, name)(*args, **kwargs)
    return getattr(lib, name)(inp, *args, **kwargs)


def to_ours(x, pairs):
    """Convert a torch value (recursively) to tinygrad_conv; record (torch, ours) grad leaves."""
    if isinstance(x, torch.Tensor):
        ours = tc.tensor(x.detach().numpy().copy(), requires_grad=x.requires_grad)
        if x.requires_grad:
            pairs.append((x, ours))
        return ours
    if isinstance(x, torch.dtype):
        return getattr(tc, str(x).split(".")[1])
    if isinstance(x, torch.Size):
        return tuple(x)
    if isinstance(x, torch.memory_format):
        return getattr(tc, str(x).split(".")[1])
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(to_ours(v, pairs) for v in x)
    if isinstance(x, dict):
        return {k: to_ours(v, pairs) for k, v in x.items()}
    return x


def flat_outputs(out):
    if isinstance(out, (list, tuple)):
        return [o for item in out for o in flat_outputs(item)]
    return [out]


def as_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    if isinstance(x, tc.Tensor):
        return np.asarray(x.numpy())
    return np.asarray(x)


def close(a, b, tol):
    """'' when numpy arrays a (torch) and b (ours) agree, else why not."""
    if a.shape != b.shape:
        return f"shape {b.shape} vs torch {a.shape}"
    if a.dtype != b.dtype:
        return f"dtype {b.dtype} vs torch {a.dtype}"
    if a.dtype.kind in "fc":
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return "NaN positions differ"
        if not np.allclose(a, b, equal_nan=True, **tol):
            return f"max abs diff {np.nanmax(np.abs(a.astype(float) - b.astype(float))):.3g}"
        return ""
    return "" if np.array_equal(a, b) else "integer values differ"


def first_line(e):
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:100] if text else ''}"


def run_sample(name, s, dtype):
    """Classify one sample: (kind, detail)."""
    try:
        t_out = call(torch, name, s.input, s.args, s.kwargs)
    except Exception as e:  # torch refuses the sample: nothing to compare
        return "torch_no", first_line(e)
    pairs = []
    inp, args, kwargs = to_ours(s.input, pairs), to_ours(s.args, pairs), to_ours(s.kwargs, pairs)
    try:
        o_out = call(tc, name, inp, args, kwargs)
    except Exception as e:
        return "refused", first_line(e)
    t_flat, o_flat = flat_outputs(t_out), flat_outputs(o_out)
    if len(t_flat) != len(o_flat):
        return "value", f"{len(o_flat)} outputs vs torch {len(t_flat)}"
    for i, (a, b) in enumerate(zip(t_flat, o_flat)):
        a, b = as_numpy(a), as_numpy(b)
        if name in NO_VALUE_COMPARE:
            why = "" if (a.shape, a.dtype) == (b.shape, b.dtype) else f"{b.shape}/{b.dtype} vs {a.shape}/{a.dtype}"
        else:
            why = close(a, b, TOL[dtype])
        if why:
            return "value", f"output {i}: {why}"
    if name in NO_VALUE_COMPARE or not pairs:
        return "match", "values only"
    # gradients of sum(output_i * cotangent_i) over the float outputs that carry grad
    rng = np.random.default_rng(0)
    t_loss, o_loss = 0, 0
    for a, b in zip(t_flat, o_flat):
        if isinstance(a, torch.Tensor) and a.requires_grad and a.is_floating_point():
            ct = rng.standard_normal(a.shape).astype(as_numpy(a).dtype)
            t_loss = t_loss + (a * torch.from_numpy(ct)).sum()
            o_loss = o_loss + (b * tc.tensor(ct)).sum()
    if not isinstance(t_loss, torch.Tensor):
        return "match", "values only"
    leaves = [t for t, _ in pairs]
    try:
        t_grads = torch.autograd.grad(t_loss, leaves, allow_unused=True)
    except Exception:
        return "match", "values only"  # torch has no gradient here either
    try:
        o_loss.backward()
    except Exception as e:
        return "refused", f"backward: {first_line(e)}"
    for i, ((_, ours), tg) in enumerate(zip(pairs, t_grads)):
        og = ours.grad
        if tg is None:
            if og is not None and np.any(as_numpy(og) != 0):
                return "grad", f"leaf {i}: grad where torch has none"
            continue
        if og is None:
            if np.any(tg.numpy() != 0):
                return "grad", f"leaf {i}: no grad, torch has one"
            continue
        why = close(tg.numpy(), as_numpy(og), GRAD_TOL[dtype])
        if why:
            return "grad", f"leaf {i}: {why}"
    return "match", ""


def describe(s):
    def d(x):
        if isinstance(x, torch.Tensor):
            return f"T{tuple(x.shape)}{'' if x.is_floating_point() else str(x.dtype)[6:]}"
        if isinstance(x, (list, tuple)):
            return "[" + ",".join(d(v) for v in x) + "]"
        return repr(x)
    return f"input={d(s.input)} args={d(s.args)} kwargs={ {k: d(v) for k, v in s.kwargs.items()} }"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", help="comma-separated op names (suffix match: conv2d, sum)")
    ap.add_argument("--verbose", action="store_true", help="print every failing sample")
    opts = ap.parse_args()
    from torch.testing._internal.common_methods_invocations import op_db

    wanted = CNN_OPS
    if opts.ops:
        sel = opts.ops.split(",")
        wanted = [n for n in CNN_OPS if n in sel or n.split(".")[-1] in sel]
    infos = [o for o in op_db if o.name in wanted]
    torch.manual_seed(0)
    table = {}
    reasons = defaultdict(Counter)
    for info in infos:
        label = info.name.replace("nn.functional.", "F.") + (f".{info.variant_test_name}" if info.variant_test_name else "")
        counts = Counter()
        for dtype in (torch.float32, torch.float64):
            if dtype not in info.supported_dtypes("cpu"):
                continue
            try:
                samples = list(info.sample_inputs("cpu", dtype, requires_grad=info.supports_autograd))
            except Exception as e:
                print(f"{label}: cannot make samples: {first_line(e)}")
                continue
            for s in samples:
                try:
                    kind, detail = run_sample(info.name, s, dtype)
                except Exception as e:  # a failure of the harness itself
                    kind, detail = "refused", f"harness: {first_line(e)}"
                counts[kind] += 1
                counts["grads_ok"] += kind == "match" and not detail
                if kind not in ("match", "torch_no"):
                    reasons[label][f"{kind}: {detail}"] += 1
                    if opts.verbose:
                        print(f"  {label} {str(dtype)[6:]} {kind}: {detail}\n      {describe(s)}")
        table[label] = counts
    kinds = ["match", "grads_ok", "value", "grad", "refused", "torch_no"]
    print(f"\n{'op':44s} {'samples':>7s} " + " ".join(f"{k:>8s}" for k in kinds))
    total = Counter()
    for label, c in table.items():
        total.update(c)
        print(f"{label:44s} {sum(c.values()) - c['grads_ok']:7d} " + " ".join(f"{c[k]:8d}" for k in kinds))
    print(f"{'TOTAL':44s} {sum(total.values()) - total['grads_ok']:7d} " + " ".join(f"{total[k]:8d}" for k in kinds))
    if reasons:
        print("\nreasons (op: count x kind: detail)")
        for label, rs in reasons.items():
            for r, n in rs.most_common():
                print(f"  {label}: {n} x {r}")


if __name__ == "__main__":
    main()
