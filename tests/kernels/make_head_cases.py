#!/usr/bin/python3
"""Reference cases for the head and layout CPU kernels (tests/kernels/test_head.c).

usage: make_head_cases.py OUTDIR

For each case writes OUTDIR/NAME.{x,b,c,y,dy,dx,db,dc} (raw little-endian
float64; only the arrays the op has) and one line of OUTDIR/index:

    OP NAME P0 P1 ...

with the op's parameters, all numbers:

    gap      n c h w                          x [n,c,h,w] -> y [n,c]: mean over (2, 3)
    gemm     m k n trans_a trans_b cm cn alpha beta
             x = A ([m,k] or [k,m]), b = B ([k,n] or [n,k]), c = C [cm, cn]
             (cm = cn = 0: no C); y = alpha * A' @ B' + beta * C (torch.addmm,
             or F.linear for the Linear cases)
    matmul   batch m k n                      x [batch,m,k] @ b [batch,k,n] (torch.matmul)
    softmax  outer len                        torch.softmax over the last axis
    concat   n h w parts (c sh sw y0 x0)*parts
             x holds the parts one after the other, part i [n, c, sh, sw];
             y = torch.cat of the parts cut to rows [y0, y0 + h), cols [x0, x0 + w)
    slice    n src_c sh sw c0 c y0 x0 h w      y = x[:, c0:c0+c, y0:y0+h, x0:x0+w]
    pad      n c h w pt pb pl pr fill          y = F.pad(x, (pl, pr, pt, pb), value=fill)

dy is a random gradient of y and dx, db, dc are PyTorch's float64 autograd
gradients of sum(y * dy) (C's summed over its broadcast dimensions). Every
input and dy is a float32 value, so that the float32 kernels are checked on
exactly the reference's inputs (large softmax logits would otherwise move by
their own rounding).
"""
import os
import sys

import torch
import torch.nn.functional as F

# m, k, n, trans_a, trans_b, C dims (None: no C), alpha, beta
GEMM = [
    ("gemm_linear", 4, 17, 6, 0, 1, "linear", 1.0, 1.0),
    ("gemm_linear_nobias", 3, 9, 5, 0, 1, None, 1.0, 1.0),
    ("gemm_c_scalar", 5, 7, 3, 0, 0, (1, 1), 0.75, -1.25),
    ("gemm_c_row", 4, 6, 5, 1, 0, (1, 5), 1.5, 0.5),
    ("gemm_c_col", 4, 6, 5, 0, 1, (4, 1), -0.5, 2.0),
    ("gemm_c_full_tt", 3, 8, 7, 1, 1, (3, 7), 1.25, 0.25),
    ("gemm_c_full", 6, 2, 4, 0, 0, (6, 4), 1.0, 1.0),
    ("gemm_k1", 5, 1, 3, 1, 0, (1, 3), 2.0, -1.0),
    ("gemm_m1_wide", 1, 64, 40, 0, 1, (1, 40), 1.0, 1.0),
    ("gemm_square_ta", 5, 5, 5, 1, 0, None, 0.3, 0.0),
]
MATMUL = [("matmul_2d", 1, 4, 7, 3), ("matmul_batched", 3, 5, 4, 6), ("matmul_vec", 2, 1, 9, 1)]
SOFTMAX = [("softmax_rows", (2, 3, 10), 1.0), ("softmax_wide", (4, 1000), 3.0), ("softmax_len1", (5, 1), 1.0),
           ("softmax_large", (3, 8), 2.0)]
GAP = [("gap", (2, 5, 7, 9)), ("gap_1x1", (3, 4, 1, 1)), ("gap_big", (1, 3, 64, 48))]
# n, h, w, parts (c, sh, sw, y0, x0)
CONCAT = [
    ("concat_same", 2, 5, 6, [(3, 5, 6, 0, 0), (2, 5, 6, 0, 0), (4, 5, 6, 0, 0)]),
    ("concat_cut", 2, 4, 5, [(2, 6, 9, 1, 3), (3, 4, 5, 0, 0), (1, 7, 6, 3, 1)]),
]
# n, src_c, sh, sw, c0, c, y0, x0, h, w
SLICE = [("slice_channels", 2, 8, 4, 5, 3, 4, 0, 0, 4, 5), ("slice_region", 1, 6, 9, 7, 1, 2, 3, 2, 4, 3),
         ("slice_all", 2, 3, 3, 3, 0, 3, 0, 0, 3, 3)]
# n, c, h, w, pt, pb, pl, pr, fill
PAD = [("pad_zero", 2, 3, 4, 5, 1, 1, 1, 1, 0.0), ("pad_asym", 1, 4, 5, 3, 2, 0, 3, 1, -1.5),
       ("pad_none", 2, 2, 3, 3, 0, 0, 0, 0, 7.0), ("pad_top_only", 1, 2, 2, 6, 3, 0, 0, 0, 2.25)]


def save(out, name, **arrays):
    for ext, t in arrays.items():
        t.detach().contiguous().to(torch.float64).numpy().astype("<f8").tofile(os.path.join(out, f"{name}.{ext}"))


def line(op, name, *params):
    return f"{op} {name} " + " ".join(repr(float(p)) for p in params) + "\n"


def randn(g, *shape):
    """Random normal values that float32 holds exactly, so that the float32
    kernels see the same inputs as the float64 reference."""
    return torch.randn(*shape, dtype=torch.float64, generator=g).float().double()


def leaf(t):
    return t.detach().float().double().requires_grad_(True)


def backward(y, g):
    dy = randn(g, *y.shape)
    (y * dy).sum().backward()
    return dy


def gemm_case(out, g, name, m, k, n, ta, tb, cdims, alpha, beta):
    a = leaf(randn(g, *((k, m) if ta else (m, k))))
    b = leaf(randn(g, *((n, k) if tb else (k, n))))
    ap, bp = (a.t() if ta else a), (b.t() if tb else b)
    if cdims == "linear":  # exported nn.Linear: Gemm(x, W, bias, transB=1)
        c = leaf(randn(g, n))
        y = F.linear(a, b, c)
        cm, cn = 1, n
    elif cdims is None:
        c = None
        y = alpha * (ap @ bp) if name != "gemm_linear_nobias" else F.linear(a, b)
        cm = cn = 0
    else:
        cm, cn = cdims
        c = leaf(randn(g, cm, cn))
        y = torch.addmm(c, ap, bp, beta=beta, alpha=alpha)
    dy = backward(y, g)
    arrays = dict(x=a, b=b, y=y, dy=dy, dx=a.grad, db=b.grad)
    if c is not None:
        arrays.update(c=c, dc=c.grad)
    save(out, name, **arrays)
    return line("gemm", name, m, k, n, ta, tb, cm, cn, alpha, beta)


def matmul_case(out, g, name, batch, m, k, n):
    a, b = leaf(randn(g, batch, m, k)), leaf(randn(g, batch, k, n))
    y = torch.matmul(a[0], b[0])[None] if batch == 1 else torch.matmul(a, b)
    dy = backward(y, g)
    save(out, name, x=a, b=b, y=y, dy=dy, dx=a.grad, db=b.grad)
    return line("matmul", name, batch, m, k, n)


def softmax_case(out, g, name, shape, scale):
    x = randn(g, *shape) * scale
    if name == "softmax_large":
        x[0] += 1000.0  # exp would overflow without the row maximum subtracted
        x[1] -= 1000.0
    x = leaf(x)
    y = torch.softmax(x, dim=-1)
    dy = backward(y, g)
    save(out, name, x=x, y=y, dy=dy, dx=x.grad)
    return line("softmax", name, x.numel() // shape[-1], shape[-1])


def gap_case(out, g, name, shape):
    x = leaf(randn(g, *shape) + 0.5)
    y = x.mean(dim=(2, 3))
    dy = backward(y, g)
    save(out, name, x=x, y=y, dy=dy, dx=x.grad)
    return line("gap", name, *shape)


def concat_case(out, g, name, n, h, w, parts):
    xs = [leaf(randn(g, n, c, sh, sw)) for c, sh, sw, _, _ in parts]
    y = torch.cat([x[:, :, y0 : y0 + h, x0 : x0 + w] for x, (_, _, _, y0, x0) in zip(xs, parts)], dim=1)
    dy = backward(y, g)
    flat = lambda ts: torch.cat([t.reshape(-1) for t in ts])
    save(out, name, x=flat(xs), y=y, dy=dy, dx=flat([x.grad for x in xs]))
    return line("concat", name, n, h, w, len(parts), *[v for p in parts for v in p])


def slice_case(out, g, name, n, src_c, sh, sw, c0, c, y0, x0, h, w):
    x = leaf(randn(g, n, src_c, sh, sw))
    y = x[:, c0 : c0 + c, y0 : y0 + h, x0 : x0 + w]
    dy = backward(y, g)
    save(out, name, x=x, y=y, dy=dy, dx=x.grad)
    return line("slice", name, n, src_c, sh, sw, c0, c, y0, x0, h, w)


def pad_case(out, g, name, n, c, h, w, pt, pb, pl, pr, fill):
    x = leaf(randn(g, n, c, h, w))
    y = F.pad(x, (pl, pr, pt, pb), mode="constant", value=fill)
    dy = backward(y, g)
    save(out, name, x=x, y=y, dy=dy, dx=x.grad)
    return line("pad", name, n, c, h, w, pt, pb, pl, pr, fill)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    g = torch.Generator().manual_seed(20240614)
    lines = [gemm_case(out, g, *k) for k in GEMM]
    lines += [matmul_case(out, g, *k) for k in MATMUL]
    lines += [softmax_case(out, g, *k) for k in SOFTMAX]
    lines += [gap_case(out, g, *k) for k in GAP]
    lines += [concat_case(out, g, *k) for k in CONCAT]
    lines += [slice_case(out, g, *k) for k in SLICE]
    lines += [pad_case(out, g, *k) for k in PAD]
    with open(os.path.join(out, "index"), "w") as f:
        f.writelines(lines)
    print(f"{len(lines)} head kernel cases in {out}")


if __name__ == "__main__":
    main()
