#!/usr/bin/python3
"""Cases for the training helpers (runtime/optim.c, runtime/loss.c,
tests/runtime/test_train.c), with PyTorch's results.

usage: make_train_cases.py OUTDIR

OUTDIR/index has one line per case; DT is f32 or f64 (the arrays' dtype):

  optim NAME KIND DT STEPS LR LRSTEP LR2 BADSTEP BADKIND BADPARAM BADELEM
        WD MOMENTUM DAMPENING NESTEROV BETA1 BETA2 EPS AMSGRAD NP SHAPE...
      KIND sgd or adamw (torch.optim.SGD / torch.optim.AdamW with these
      hyper-parameters). NAME.grads.npy (STEPS x total, DT) holds the gradient
      of every step, the parameters flattened in order and concatenated;
      NAME.params.npy ((STEPS + 1) x total, DT) the parameters before the
      first step and after each, from torch. Before step LRSTEP (-1: never)
      the learning rate becomes LR2. Before step BADSTEP (-1: never) the C
      test makes one failed step with element BADELEM of parameter BADPARAM's
      gradient set to BADKIND (nan, inf, -inf); torch makes no such step.
      SHAPE is d0xd1x... of each of the NP parameters.
  ce NAME DT N C       cross_entropy: NAME.x (N x C, DT), NAME.labels (f8)
  bce NAME DT COUNT    binary_cross_entropy_with_logits: NAME.x, NAME.t (DT)
  mse NAME DT COUNT    mse_loss: NAME.x, NAME.t (DT)
      The loss cases have torch's loss NAME.loss (f8, one value) and
      gradient NAME.grad (DT, autograd) computed in DT, and the same in
      float64 from the same inputs: NAME.loss64, NAME.grad64 (f8).
  defaults adamw LR BETA1 BETA2 EPS WD AMSGRAD
  defaults sgd MOMENTUM DAMPENING WD NESTEROV
      torch's default hyper-parameters (SGD's learning rate has none in
      torch 1.13).
  argmax NAME DT N C   NAME.x (N x C, DT), NAME.labels (f8); torch.argmax of
      each row in NAME.argmax (f8) and the count equal to the label in
      NAME.correct (f8, one value).
"""
import os
import sys

import numpy as np
import torch

DT = {"f32": (np.float32, torch.float32), "f64": (np.float64, torch.float64)}


def shape_str(s):
    return "x".join(str(d) for d in s)


def optim_case(out, idx, rng, name, kind, dt, hp, shapes, steps=6, lrstep=-1, lr2=0.0, bad=(-1, "nan", 0, 0)):
    npt, tt = DT[dt]
    init = [torch.tensor(rng.standard_normal(s).astype(npt), dtype=tt) for s in shapes]
    params = [p.clone().requires_grad_(True) for p in init]
    if kind == "sgd":
        opt = torch.optim.SGD(params, lr=hp["lr"], momentum=hp["momentum"], dampening=hp["dampening"],
                              weight_decay=hp["wd"], nesterov=bool(hp["nesterov"]))
    else:
        opt = torch.optim.AdamW(params, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                                weight_decay=hp["wd"], amsgrad=bool(hp["amsgrad"]))
    total = sum(int(np.prod(s)) for s in shapes)
    grads = np.zeros((steps, total), npt)
    hist = np.zeros((steps + 1, total), npt)
    hist[0] = np.concatenate([p.detach().numpy().ravel() for p in params])
    for s in range(steps):
        if s == lrstep:
            for g in opt.param_groups:
                g["lr"] = lr2
        off = 0
        for p, sh in zip(params, shapes):
            n = int(np.prod(sh))
            # gradients of varied scales per parameter, some exact zeros
            g = rng.standard_normal(sh) * 10.0 ** rng.uniform(-3, 1)
            g[rng.random(sh) < 0.05] = 0.0
            p.grad = torch.tensor(g.astype(npt), dtype=tt)
            grads[s, off:off + n] = p.grad.numpy().ravel()
            off += n
        opt.step()
        hist[s + 1] = np.concatenate([p.detach().numpy().ravel() for p in params])
    np.save(os.path.join(out, name + ".grads.npy"), grads)
    np.save(os.path.join(out, name + ".params.npy"), hist)
    idx.append("optim %s %s %s %d %.17g %d %.17g %d %s %d %d %.17g %.17g %.17g %d %.17g %.17g %.17g %d %d %s" % (
        name, kind, dt, steps, hp["lr"], lrstep, lr2, bad[0], bad[1], bad[2], bad[3], hp["wd"],
        hp.get("momentum", 0.0), hp.get("dampening", 0.0), hp.get("nesterov", 0), hp.get("beta1", 0.9),
        hp.get("beta2", 0.999), hp.get("eps", 1e-8), hp.get("amsgrad", 0), len(shapes),
        " ".join(shape_str(s) for s in shapes)))


def save(out, name, what, a):
    np.save(os.path.join(out, "%s.%s.npy" % (name, what)), a)


def loss_case(out, idx, rng, kind, name, dt, shape, scale):
    npt, tt = DT[dt]
    x = (rng.standard_normal(shape) * scale).astype(npt)
    if kind == "ce":
        # some rows at the +-80 extremes: one dominant logit, or all large
        x[0] = rng.uniform(-80, 80, shape[1]).astype(npt)
        if shape[0] > 2:
            x[1] = -80
            x[1, rng.integers(shape[1])] = 80
        t = rng.integers(0, shape[1], shape[0]).astype(np.float64)
        if shape[0] > 2:
            t[1] = float(np.argmax(x[1]))
    elif kind == "bce":
        flat = x.reshape(-1)
        flat[: flat.size // 4] = rng.choice([-80.0, 80.0, -30.0, 30.0], flat.size // 4).astype(npt)
        t = rng.random(shape).astype(npt)
        t.reshape(-1)[::3] = np.round(t.reshape(-1)[::3])
    else:
        t = (rng.standard_normal(shape) * scale).astype(npt)
    save(out, name, "x", x)
    save(out, name, "labels" if kind == "ce" else "t", t)
    for suffix, ttype in (("", tt), ("64", torch.float64)):
        xv = torch.tensor(x, dtype=ttype, requires_grad=True)
        if kind == "ce":
            loss = torch.nn.functional.cross_entropy(xv, torch.tensor(t, dtype=torch.int64))
        elif kind == "bce":
            loss = torch.nn.functional.binary_cross_entropy_with_logits(xv, torch.tensor(t, dtype=ttype))
        else:
            loss = torch.nn.functional.mse_loss(xv, torch.tensor(t, dtype=ttype))
        loss.backward()
        save(out, name, "loss" + suffix, np.array([loss.item()], np.float64))
        g = xv.grad.numpy()
        save(out, name, "grad" + suffix, g.astype(np.float64) if suffix else g)
    if kind == "ce":
        idx.append("ce %s %s %d %d" % (name, dt, shape[0], shape[1]))
    else:
        idx.append("%s %s %s %d" % (kind, name, dt, x.size))


def argmax_case(out, idx, rng, name, dt, n, c):
    npt, tt = DT[dt]
    x = rng.standard_normal((n, c)).astype(npt)
    x[0] = 1.0                     # all tied: the first
    x[1, 3] = x[1, 7] = 50.0       # a tie for the maximum
    x[2, 5] = np.nan               # NaN wins
    x[3] = -np.inf
    x[3, c - 1] = np.inf
    labels = rng.integers(0, c, n).astype(np.float64)
    am = torch.argmax(torch.tensor(x, dtype=tt), dim=1).numpy()
    labels[4:n // 2] = am[4:n // 2]  # about half right
    save(out, name, "x", x)
    save(out, name, "labels", labels)
    save(out, name, "argmax", am.astype(np.float64))
    save(out, name, "correct", np.array([float((am == labels).sum())]))
    idx.append("argmax %s %s %d %d" % (name, dt, n, c))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(20261123)
    idx = []
    shapes = [(8, 3, 3, 3), (8,), (16, 8, 1, 1), (10, 16), (10,)]
    big = [(300, 400), (7,), (64, 64, 3, 3)]  # > 2 chunks: runs on several threads
    for dt in ("f64", "f32"):
        sgd = dict(lr=0.05, momentum=0.9, dampening=0.0, nesterov=0, wd=0.0)
        optim_case(out, idx, rng, "sgd_momentum_" + dt, "sgd", dt, sgd, shapes, lrstep=3, lr2=0.02,
                   bad=(2, "nan", 2, 5))
        sgd = dict(lr=0.03, momentum=0.9, dampening=0.0, nesterov=1, wd=0.05)
        optim_case(out, idx, rng, "sgd_nesterov_wd_" + dt, "sgd", dt, sgd, shapes, bad=(0, "inf", 0, 0))
        sgd = dict(lr=0.1, momentum=0.7, dampening=0.3, nesterov=0, wd=0.01)
        optim_case(out, idx, rng, "sgd_dampening_" + dt, "sgd", dt, sgd, shapes, lrstep=1, lr2=0.2,
                   bad=(4, "-inf", 4, 9))
        sgd = dict(lr=0.1, momentum=0.0, dampening=0.0, nesterov=0, wd=0.1)
        optim_case(out, idx, rng, "sgd_plain_" + dt, "sgd", dt, sgd, shapes)
        adam = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, wd=0.05, amsgrad=0)
        optim_case(out, idx, rng, "adamw_" + dt, "adamw", dt, adam, shapes, lrstep=4, lr2=0.003,
                   bad=(3, "nan", 3, 159))
        adam = dict(lr=0.02, beta1=0.8, beta2=0.99, eps=1e-6, wd=0.1, amsgrad=1)
        optim_case(out, idx, rng, "adamw_amsgrad_" + dt, "adamw", dt, adam, shapes, bad=(0, "-inf", 1, 7))
        adam = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, wd=0.01, amsgrad=0)
        optim_case(out, idx, rng, "adamw_big_" + dt, "adamw", dt, adam, big, steps=3, bad=(1, "inf", 2, 36863))
        sgd = dict(lr=0.05, momentum=0.9, dampening=0.0, nesterov=1, wd=0.01)
        optim_case(out, idx, rng, "sgd_big_" + dt, "sgd", dt, sgd, big, steps=3, bad=(2, "nan", 0, 119999))
        for kind, shape in (("ce", (33, 10)), ("ce", (4, 1000)), ("ce", (2, 1)), ("bce", (17, 5)),
                            ("bce", (3, 2, 4, 4)), ("mse", (9, 7)), ("mse", (1,))):
            loss_case(out, idx, rng, kind, "%s_%s_%s" % (kind, shape_str(shape), dt), dt, shape, 5.0)
        argmax_case(out, idx, rng, "argmax_" + dt, dt, 40, 12)
    d = torch.optim.AdamW([torch.zeros(1, requires_grad=True)]).defaults
    idx.append("defaults adamw %.17g %.17g %.17g %.17g %.17g %d" % (
        d["lr"], d["betas"][0], d["betas"][1], d["eps"], d["weight_decay"], d["amsgrad"]))
    d = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).defaults
    idx.append("defaults sgd %.17g %.17g %.17g %d" % (d["momentum"], d["dampening"], d["weight_decay"],
                                                     d["nesterov"]))
    with open(os.path.join(out, "index"), "w") as f:
        f.write("\n".join(idx) + "\n")


if __name__ == "__main__":
    main()
