#!/usr/bin/python3
"""PyTorch reference for lscc's equivalence tests (training step, whole image).

usage: equiv_ref.py NAME OUTDIR [--batch N] [--height H] [--width W] [--seed S]
                    [--input-dtype float64|float32|uint8]

Builds zoo model NAME (tests/python/zoo.py) with random weights drawn from
seed S, fuses BatchNorm into the preceding Conv in PyTorch, exports it to ONNX
and computes, in float64, the forward pass, the backbone output and the
gradients of L = sum(g * model(x)) for a random image x and cotangent g.

Writes
  OUTDIR/model.onnx            opset 14, input "image" (N, H, W dynamic), output
                               "output"; float32 initializers named exactly as
                               the PyTorch parameters ("layer1.0.conv1.weight")
  OUTDIR/x.npy                 N x 3 x H x W input, in --input-dtype (uint8:
                               integers 0..255, fed to the model as their values)
  OUTDIR/g.npy                 float64 cotangent, shape of the model's output
  OUTDIR/ref/output.npy        model(x), float64
  OUTDIR/ref/backbone.npy      the zoo backbone's output (the split tensor), float64;
                               absent for models without a backbone (efficientnet_b0,
                               syn_se_late: lscc must reject them)
  OUTDIR/ref/input_grad.npy    dL/dx, float64
  OUTDIR/ref/grad/<param>.npy  dL/dparam for every parameter, float64
  OUTDIR/ref/params.json       {param: {"shape": [...], "kind": "bn"|"other"}};
                               "bn" marks the affine weight/bias of a BatchNorm that
                               could not be fused (lscc freezes those by default)
  OUTDIR/ref/meta.json         the run's settings, shapes and check results

The weights, hence model.onnx, depend only on NAME and S (not on N, H, W or
the input dtype).  The float64 reference uses exactly the float32 values the
ONNX file holds (float attributes too: LeakyReLU slope, BatchNorm and
LayerNorm epsilons), so it is the exact result for that file.

Weights: the zoo's builder run under torch.manual_seed(S); every BatchNorm
gets a random affine transform and running statistics measured on random
images (BNs in train mode, 4 x 3 x 160 x 160, then perturbed), so that folding
is non-trivial while activations stay well scaled; ConvNeXt layer scales are
set to U(0.1, 0.5) (the 1e-6 default would silence every block); every
parameter is then perturbed slightly so that no two tensors are equal (the
exporter would otherwise alias equal initializers through Identity nodes).

Fusion: a BatchNorm2d whose input is the output of a Conv2d used by nothing
else (found on the autograd graph of a probe forward pass, so it works for
models fx cannot trace, e.g. densenet) is folded into that Conv in float64 and
replaced by nn.Identity, in the model and in the backbone alike.  Other
BatchNorms (densenet's BN -> ReLU -> Conv) stay BatchNorm in eval mode.

Checks (exit status 1, or an exception, when one fails): every parameter is an
initializer of model.onnx under its own name, with the same float32 value, and
no Identity node aliases one; model(x) in float32 agrees with float64 to 1e-4
relative to max |output| (and so does the backbone); onnxruntime, when it can
be imported, runs model.onnx and must agree as well; the backbone is 4-D.
One summary line goes to stdout.

Speed: the float64 convolutions go through the BLAS torch is linked with;
Debian's default reference BLAS (libblas3) is 4-5x slower than OpenBLAS
(package libopenblas0-pthread, picked up through update-alternatives).
"""
import argparse
import json
import os
import sys
import time
import warnings
import zlib

# OpenMP threads that spin while waiting make torch up to 20x slower when the
# cores are shared (CI running tests in parallel); must be set before torch
# loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn.utils.fusion import fuse_conv_bn_weights  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import zoo  # noqa: E402

OPSET = 14
PROBE_SHAPE = (2, 3, 64, 64)      # fusion probe / backbone tap check / export
CALIB_SHAPE = (4, 3, 160, 160)    # BatchNorm statistics
F32_TOL = 1e-4                    # float32 vs float64 output, relative to max |out|


def _gen(seed, tag):
    """A torch.Generator for one purpose, derived from the user's seed."""
    return torch.Generator().manual_seed(zlib.crc32(f"{seed}:{tag}".encode()) & 0x7FFFFFFF)


# --------------------------------------------------------------------------
# model construction and randomization
# --------------------------------------------------------------------------

def build(name, seed):
    """zoo model NAME with its default random init drawn under seed `seed`."""
    builders = getattr(zoo, "_BUILDERS", None)
    torch.manual_seed(seed)
    if builders is not None and name in builders:
        model, backbone = builders[name]()
    else:                               # zoo without _BUILDERS: its own seed
        model, backbone = zoo.MODELS[name]()
    model.eval()
    if backbone is not None:
        backbone.eval()
    return model, backbone


def randomize(model, seed):
    gen = _gen(seed, "weights")
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for bn in bns:
            c = bn.num_features
            bn.weight.copy_(torch.rand(c, generator=gen) + 0.5)
            bn.bias.copy_(0.2 * torch.randn(c, generator=gen))
        for name, p in model.named_parameters():
            if name.endswith("layer_scale"):          # ConvNeXt CNBlock
                p.copy_(0.1 + 0.4 * torch.rand(p.shape, generator=gen))
        if bns:
            # running statistics measured on random images (cumulative average)
            saved = [(bn.momentum, bn.training) for bn in bns]
            for bn in bns:
                bn.reset_running_stats()
                bn.momentum = None
            for bn in bns:                   # only the BNs in training mode
                bn.train()
            model(torch.randn(*CALIB_SHAPE, generator=gen))
            model.eval()
            for bn, (mom, _) in zip(bns, saved):
                bn.momentum = mom
                c = bn.num_features
                sd = bn.running_var.sqrt()
                bn.running_mean.add_(0.1 * sd * torch.randn(c, generator=gen))
                bn.running_var.mul_(torch.rand(c, generator=gen) * 0.6 + 0.7)
        # make every tensor distinct: constant tensors (zero biases, LayerNorm
        # ones) get noise, everything a slight multiplicative perturbation
        for p in model.parameters():
            if p.numel() > 0 and bool(p.max() == p.min()):
                c = float(p.reshape(-1)[0])
                p.add_(max(0.1 * abs(c), 0.02) * torch.randn(p.shape, generator=gen))
            p.mul_(1 + 0.01 * torch.randn(p.shape, generator=gen))
    model.eval()


class GeluAsExported(nn.Module):
    """nn.GELU as torch.onnx exports it, x * (erf(x / sqrt2) + 1) * 0.5, with
    sqrt2 rounded to float32 as the ONNX constant holds it (in float64 the
    exact constant differs by 1.7e-8 relative)."""
    SQRT2 = float(np.float32(np.sqrt(2.0)))

    def forward(self, x):
        return x * (torch.erf(x / self.SQRT2) + 1) * 0.5


def round_float_attributes(model):
    """ONNX holds float attributes and constants in float32: use those values
    in PyTorch too."""
    f32 = lambda v: float(np.float32(v))  # noqa: E731
    for parent in list(model.modules()):
        for cname, child in list(parent.named_children()):
            if isinstance(child, nn.GELU) and child.approximate == "none":
                setattr(parent, cname, GeluAsExported())
    for m in model.modules():
        if isinstance(m, nn.LeakyReLU):
            m.negative_slope = f32(m.negative_slope)
        elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)):
            m.eps = f32(m.eps)


# --------------------------------------------------------------------------
# Conv + BN fusion
# --------------------------------------------------------------------------

def fusible_pairs(model):
    """[(conv, bn)] where bn's input is the output of conv and that output has
    no other user.  Decided on the autograd graph of a probe forward pass."""
    conv_of, bn_input, calls = {}, {}, {}
    hooks = []

    def count(mod):
        calls[mod] = calls.get(mod, 0) + 1

    def conv_hook(mod, inp, out):
        count(mod)
        if out.grad_fn is not None:
            conv_of[out.grad_fn] = mod

    def bn_hook(mod, inp, out):
        count(mod)
        bn_input[mod] = inp[0].grad_fn

    for m in model.modules():
        if type(m) is nn.Conv2d:
            hooks.append(m.register_forward_hook(conv_hook))
        elif type(m) is nn.BatchNorm2d:
            hooks.append(m.register_forward_hook(bn_hook))
    x = torch.randn(*PROBE_SHAPE, requires_grad=True)
    try:
        out = model(x)
    finally:
        for h in hooks:
            h.remove()
    # number of uses of every autograd node (edges into it)
    uses = {}
    roots = [t.grad_fn for t in (out if isinstance(out, (tuple, list)) else [out])]
    todo, seen = [r for r in roots if r is not None], set()
    for r in todo:
        uses[r] = uses.get(r, 0) + 1            # a graph output is a use
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for nxt, _ in node.next_functions:
            if nxt is not None:
                uses[nxt] = uses.get(nxt, 0) + 1
                todo.append(nxt)
    pairs = []
    for bn, src in bn_input.items():
        conv = conv_of.get(src)
        if conv is None or calls[bn] != 1 or calls[conv] != 1 or uses.get(src, 0) != 1:
            continue
        pairs.append((conv, bn))
    return pairs


def fuse(model, backbone, pairs):
    """Fold each bn into its conv (in float64, rounded to float32) and replace
    every reference to bn, in the model and the backbone, by nn.Identity."""
    parents = {id(m): m for m in model.modules()}
    if backbone is not None:
        parents.update({id(m): m for m in backbone.modules()})
    for conv, bn in pairs:
        b = conv.bias.double() if conv.bias is not None else None
        w, b = fuse_conv_bn_weights(conv.weight.double(), b, bn.running_mean.double(),
                                    bn.running_var.double(), bn.eps,
                                    bn.weight.double(), bn.bias.double())
        conv.weight = nn.Parameter(w.detach().float())
        conv.bias = nn.Parameter(b.detach().float())
        ident = nn.Identity()
        for parent in parents.values():
            for k, child in list(parent._modules.items()):
                if child is bn:
                    parent._modules[k] = ident


# --------------------------------------------------------------------------
# backbone output from the model's own forward pass
# --------------------------------------------------------------------------

class BackboneTap:
    """Captures the backbone's output during model(x).  Tries, in order: the
    backbone module itself being called by the model; for an nn.Sequential
    backbone, the last of its children that the model calls (the remaining
    children, e.g. densenet's final ReLU, are applied to the captured tensor).
    `validate` checks the tap against backbone(x) on a probe input; when no tap
    works, value() returns None and the caller runs the backbone itself."""

    def __init__(self, model, backbone):
        self.model, self.backbone = model, backbone
        self.cands = []
        if backbone is not None and backbone is not model:
            self.cands.append((backbone, []))
            if isinstance(backbone, nn.Sequential):
                kids = list(backbone)
                for i in reversed(range(len(kids))):
                    self.cands.append((kids[i], kids[i + 1:]))
        self.choice = None

    def __enter__(self):
        self.calls, self.outs, self.hooks = {}, {}, []
        for mod, _ in self.cands:
            if id(mod) in self.calls:
                continue
            self.calls[id(mod)] = 0

            def hook(m, inp, out):
                self.calls[id(m)] += 1
                self.outs[id(m)] = out
            self.hooks.append(mod.register_forward_hook(hook))
        return self

    def __exit__(self, *exc):
        for h in self.hooks:
            h.remove()

    def _apply(self, idx):
        mod, rest = self.cands[idx]
        y = self.outs[id(mod)].detach()
        with torch.no_grad():
            for r in rest:
                y = r(y)
        return y

    def validate(self, x):
        if self.backbone is None or self.backbone is self.model:
            return
        with torch.no_grad():
            with self:
                self.model(x)
            want = self.backbone(x)
        for idx, (mod, _) in enumerate(self.cands):
            if self.calls[id(mod)] != 1:
                continue
            y = self._apply(idx)
            if y.shape == want.shape and torch.allclose(y, want, rtol=1e-6, atol=1e-6):
                self.choice = idx
                return

    def value(self, out):
        if self.backbone is None:
            return None
        if self.backbone is self.model:
            return out.detach()
        if self.choice is None or self.calls[id(self.cands[self.choice][0])] != 1:
            return None
        return self._apply(self.choice)


# --------------------------------------------------------------------------
# ONNX export and checks
# --------------------------------------------------------------------------

def export(model, path, keep_bn=False):
    """Traced on a fixed small image, so that the file depends on the weights
    only (N, H and W are dynamic)."""
    dummy = torch.randn(*PROBE_SHAPE, generator=_gen(0, "dummy"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), dummy, path, opset_version=OPSET,
                          do_constant_folding=False,
                          training=(torch.onnx.TrainingMode.PRESERVE if keep_bn
                                    else torch.onnx.TrainingMode.EVAL),
                          input_names=["image"], output_names=["output"],
                          dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}})


def check_onnx(path, model):
    import onnx
    import onnx.numpy_helper
    m = onnx.load(path)
    onnx.checker.check_model(m)
    inits = {t.name for t in m.graph.initializer}
    params = [n for n, p in model.named_parameters() if p.requires_grad]
    missing = [n for n in params if n not in inits]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} parameters are not initializers under their "
                         f"PyTorch names:\n  " + "\n  ".join(missing))
    values = {t.name: t for t in m.graph.initializer}
    differ = [n for n, p in model.named_parameters() if not np.array_equal(
        onnx.numpy_helper.to_array(values[n]), p.detach().numpy())]
    if differ:
        raise SystemExit(f"{path}: initializers differ from the PyTorch parameters: {differ}")
    pset = set(params)
    aliases = [f"{nd.name}: {list(nd.input)} -> {list(nd.output)}" for nd in m.graph.node
               if nd.op_type == "Identity"
               and (any(i in inits or i in pset for i in nd.input)
                    or any(o in pset for o in nd.output))]
    if aliases:
        raise SystemExit(f"{path}: Identity nodes alias parameters:\n  " + "\n  ".join(aliases))
    return m


def run_onnx(path, x32):
    """model.onnx on x32 with onnxruntime; None when onnxruntime is missing."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sess.run(["output"], {"image": x32})[0]


def check_unique(model):
    """No two parameter/buffer tensors of the same shape hold equal values."""
    seen = {}
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if not t.is_floating_point():
            continue
        key = (tuple(t.shape), t.detach().float().contiguous().numpy().tobytes())
        if key in seen:
            raise SystemExit(f"parameters {seen[key]} and {name} are equal: the ONNX "
                             f"exporter would alias them")
        seen[key] = name


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("name", choices=sorted(zoo.MODELS))
    ap.add_argument("outdir")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--height", type=int, default=224)
    ap.add_argument("--width", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--input-dtype", choices=("float64", "float32", "uint8"), default="float64")
    ap.add_argument("--f32-ref", action="store_true",
                    help="also write PyTorch's own float32 gradients to OUTDIR/ref32/ (how far float32 "
                         "arithmetic itself lands from the float64 reference)")
    ap.add_argument("--keep-bn", action="store_true",
                    help="no Conv+BN fusion: BatchNorm stays (exported with TrainingMode.PRESERVE) and its "
                         "weight and bias count as trainable (lscc --train-bn-affine)")
    ap.add_argument("--export-only", action="store_true",
                    help="write model.onnx and x.npy only (code generation and build checks without a GPU)")
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    times = {}

    def lap(what, since=[t0]):  # noqa: B006
        now = time.perf_counter()
        times[what] = round(now - since[0], 3)
        since[0] = now

    out_dir, ref_dir = a.outdir, os.path.join(a.outdir, "ref")
    os.makedirs(os.path.join(ref_dir, "grad"), exist_ok=True)

    # 1-2. model, random weights, Conv+BN fusion ---------------------------
    model, backbone = build(a.name, a.seed)
    randomize(model, a.seed)
    pairs = [] if a.keep_bn else fusible_pairs(model)
    fused_names = [[_name_of(model, cv), _name_of(model, bn)] for cv, bn in pairs]
    fuse(model, backbone, pairs)
    model.float().eval()          # 3. float32 parameters and buffers
    round_float_attributes(model)
    check_unique(model)
    bn_params = set()
    for mname, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            for pn, _ in m.named_parameters(recurse=False):
                bn_params.add(f"{mname}.{pn}" if mname else pn)
    tap = BackboneTap(model, backbone)
    tap.validate(torch.randn(*PROBE_SHAPE, generator=_gen(a.seed, "probe")))
    lap("build")

    # 3. ONNX export -------------------------------------------------------
    onnx_path = os.path.join(out_dir, "model.onnx")
    export(model, onnx_path, a.keep_bn)
    check_onnx(onnx_path, model)
    lap("export")

    # 4. input and cotangent -----------------------------------------------
    n, c, h, w = a.batch, 3, a.height, a.width
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            c = mod.in_channels
            break
    gx = _gen(a.seed, "x")
    if a.input_dtype == "uint8":
        x_in = torch.randint(0, 256, (n, c, h, w), generator=gx, dtype=torch.uint8)
    else:
        x_in = torch.randn(n, c, h, w, generator=gx, dtype=getattr(torch, a.input_dtype))
    np.save(os.path.join(out_dir, "x.npy"), x_in.numpy())
    if a.export_only:
        print(f"{a.name}: exported {onnx_path} and x.npy (--export-only)", flush=True)
        return

    # 6a. float32 forward (and the exported ONNX, with onnxruntime if present)
    x32 = x_in.float()
    with torch.no_grad(), tap:
        out32 = model(x32)
        y32 = tap.value(out32)
    out32 = out32.numpy()
    onnx_out = run_onnx(onnx_path, x32.numpy())
    lap("float32")

    gg = _gen(a.seed, "g")
    g = torch.randn(out32.shape, generator=gg, dtype=torch.float64)
    np.save(os.path.join(out_dir, "g.npy"), g.numpy())

    # 5. float64 reference -------------------------------------------------
    model.double()
    x = x_in.double().requires_grad_(True)
    with tap:
        out = model(x)
    y = tap.value(out)
    backbone_from = "model forward (hook)" if y is not None else None
    if y is None and backbone is not None:     # no tap: run the backbone itself
        with torch.no_grad():
            y = backbone(x.detach())
        backbone_from = "separate backbone forward"
    loss = (g * out).sum()
    loss.backward()
    lap("float64")

    out64 = out.detach().numpy()
    np.save(os.path.join(ref_dir, "output.npy"), out64)
    if y is not None:
        np.save(os.path.join(ref_dir, "backbone.npy"), y.numpy())
    np.save(os.path.join(ref_dir, "input_grad.npy"), x.grad.numpy())
    params = {}
    for pn, p in model.named_parameters():
        grad = p.grad if p.grad is not None else torch.zeros_like(p)
        np.save(os.path.join(ref_dir, "grad", pn + ".npy"), grad.numpy())
        params[pn] = {"shape": list(p.shape), "kind": "bn" if pn in bn_params and not a.keep_bn else "other"}
    with open(os.path.join(ref_dir, "params.json"), "w") as f:
        json.dump(params, f, indent=1)

    # 5b. PyTorch in float32 on the same inputs: the float32 error floor ---
    if a.f32_ref:
        os.makedirs(os.path.join(out_dir, "ref32", "grad"), exist_ok=True)
        model.zero_grad(set_to_none=True)
        model.float()
        xf = x_in.float().requires_grad_(True)
        outf = model(xf)
        (g.float() * outf).sum().backward()
        np.save(os.path.join(out_dir, "ref32", "input_grad.npy"), xf.grad.numpy())
        for pn, p in model.named_parameters():
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            np.save(os.path.join(out_dir, "ref32", "grad", pn + ".npy"), grad.numpy())
        lap("float32 grads")

    # 6b. checks -----------------------------------------------------------
    errs = []
    e32 = rel_err(out32, out64)
    if not e32 <= F32_TOL:
        errs.append(f"float32 output differs from float64 by {e32:.3g} (relative)")
    if y is not None:
        if y.dim() != 4:
            errs.append(f"backbone output has {y.dim()} dims: {list(y.shape)}")
        if y32 is not None and not rel_err(y32.numpy(), y.numpy()) <= F32_TOL:
            errs.append(f"float32 backbone differs from float64 by "
                        f"{rel_err(y32.numpy(), y.numpy()):.3g}")
    eonnx = None
    if onnx_out is not None:
        eonnx = rel_err(onnx_out, out64)
        if not eonnx <= F32_TOL:
            errs.append(f"onnxruntime output differs from float64 by {eonnx:.3g}")
    lap("save")
    meta = {
        "model": a.name, "batch": n, "height": h, "width": w, "seed": a.seed,
        "input_dtype": a.input_dtype, "input_shape": [n, c, h, w],
        "output_shape": list(out64.shape),
        "backbone_shape": list(y.shape) if y is not None else None,
        "backbone_from": backbone_from,
        "fused_conv_bn": fused_names,
        "bn_params": sorted(bn_params),
        "f32_rel_err": e32, "onnxruntime_rel_err": eonnx, "times_s": times,
        "torch": torch.__version__,
    }
    with open(os.path.join(ref_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)

    total = time.perf_counter() - t0
    onnx_msg = "skipped(no onnxruntime)" if eonnx is None else f"{eonnx:.1e}"
    print(f"{a.name} N={n} {h}x{w} {a.input_dtype} seed={a.seed}: "
          f"output={list(out64.shape)} "
          f"backbone={list(y.shape) if y is not None else 'none'} "
          f"params={len(params)} bn_params={len(bn_params)} fused={len(pairs)} "
          f"f32_err={e32:.1e} onnxrt={onnx_msg} "
          f"time={total:.1f}s ({' '.join(f'{k}={v:.1f}' for k, v in times.items())})"
          + (" FAIL: " + "; ".join(errs) if errs else " ok"), flush=True)
    if errs:
        sys.exit(1)


def _name_of(model, mod):
    for k, m in model.named_modules():
        if m is mod:
            return k
    return None


if __name__ == "__main__":
    main()
