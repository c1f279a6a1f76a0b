#!/usr/bin/env python3
"""GPU benchmark: lscc's generated CUDA code against PyTorch on the same GPU.

For each model (torchvision resnet50 by default, resnet18 optional; random
weights, exported to ONNX in eval mode with BatchNorm folded, as
cpu_bench.py and scripts/run.sh do) and image side S (S x S RGB, batch 1),
the wall time of a training step (the fastest of --repeat) and the GPU
memory, every measurement in a process of its own:

  torch train  PyTorch, conventional training step on the whole image on the
               GPU: forward, softmax cross-entropy against class 0, backward,
               SGD update; the network lscc compiles (the zoo model with
               BatchNorm folded by torch.fx's fuse, the same random weights).
               float32 with TF32 off for cuDNN convolutions and cuBLAS
               products (true float32, like lscc's FMA-math cuDNN calls);
               cudnn.benchmark off (cuDNN's heuristics choose the algorithms,
               as lscc's cudnnGet*_v7 calls do; --cudnn-benchmark turns it
               on). A CUDA out-of-memory error is reported as "out of memory".
  lscc train   the CUDA code lscc generated for the same ONNX file
               (lscc --target cuda --tile T, default 4096; bench/stream_bench.c
               built with -DLSCC_BENCH_CUDA=ON): streamed forward + head, the
               same loss, head backward + streamed backward (tiles
               recomputed). The SGD update is a fetch / modify / upload round
               trip through the host, timed apart (sgd_s, not in the step time).

Both sides use the same synthetic uint8 image (cpu_bench.synth_image /
stream_bench.c's bench_pixel), normalized with ImageNet's mean and std:
PyTorch holds it on the GPU as one float32 tensor made before the timed step
(its memory counts in PyTorch's peak); lscc never holds it, its image
callback makes each tile's pixels on the host inside the timed step. Times
are wall clock of the step with the GPU synchronized (torch.cuda.synchronize;
lscc's calls return after the device is done); "forward" is through the loss.

GPU memory:
  torch peak   torch.cuda.max_memory_allocated over the step (after
               reset_peak_memory_stats): the caching allocator's peak of live
               tensors (image, weights, activations, gradients, workspaces).
  torch dev    device memory in use after the step minus before the model was
               built (torch.cuda.mem_get_info, CUDA context excluded): what
               PyTorch holds from the device, its cache included.
  lscc dev     the same device-level measure for lscc (cudaMemGetInfo, CUDA
               context excluded): peak of samples at every tile and after the
               step (gpu_peak_mb; gpu_mem_mb is after the step).
  mem l/t      lscc dev / torch dev.

usage: bench/gpu_bench.py [--models resnet50[,resnet18]] [--sizes 4096,8192,16384] [--tile 4096]
                          [--repeat 3] [--out bench/results_gpu] [--append] [--quick]
                          [--skip-torch | --skip-lscc] [--lscc PATH] [--budget S] [--timeout S]
                          [--report-only]
Writes OUT/results.csv (rewritten after every measurement), OUT/summary.txt
and OUT/logs/ (build.log; each child's stderr: lscc's per-tile progress).

Steps: --repeat R (default 3) steps in one process, the fastest reported
(first_total_s in the CSV: the first, cold one: cuDNN heuristics, lazy kernel
loading). A float32 ResNet-50 training step costs about 0.5 TFLOP per
megapixel (lscc ~4/3 of that: tiles are recomputed in backward), about a
second at 4096^2 on an H100 (67 TFLOP/s FP32); a measurement's wall time is
mostly process start, CUDA/cuDNN initialization and (PyTorch) making the
image. --budget S skips a measurement whose wall time, predicted from the
last size measured (linear in pixels), exceeds what is left of S seconds;
--timeout kills one that runs too long.

The device's PyTorch may be >= 2.9, whose torch.onnx.export defaults to the
dynamo exporter; tests/python/export_models.py is written for the TorchScript
exporter (opset 14, dynamic_axes), so the export runs with dynamo=False
there (install_torch_compat below; LSCC_ONNX_DYNAMO=1 leaves the default).
"""
import argparse
import csv
import datetime
import functools
import importlib.abc
import inspect
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable or "python3"
MB = 1048576.0


# --------------------------------------------------------------------------
# torch / onnx version shims (also loaded by scripts/gpu_check.sh's
# sitecustomize.py for the test suite's Python): nothing here imports torch
# --------------------------------------------------------------------------

def _patch_torch_onnx(mod):
    """torch >= 2.9: torch.onnx.export(..., dynamo=True) by default. The
    project's exports (export_models.py, equiv_ref.py) pass TorchScript
    exporter arguments (opset 14, dynamic_axes, training, constant folding)
    and expect its graphs: default them to dynamo=False."""
    exp = getattr(mod, "export", None)
    if exp is None or getattr(exp, "_lscc_legacy", False) or os.environ.get("LSCC_ONNX_DYNAMO"):
        return
    try:
        p = inspect.signature(exp).parameters.get("dynamo")
    except (TypeError, ValueError):
        return
    if p is None or p.default is not True:
        return

    @functools.wraps(exp)
    def export(*a, **kw):
        kw.setdefault("dynamo", False)
        return exp(*a, **kw)
    export._lscc_legacy = True
    mod.export = export


def _patch_onnx(mod):
    """onnx.mapping (TENSOR_TYPE_TO_NP_TYPE, used by export_models.py) was
    removed from newer onnx releases: rebuilt from onnx.helper."""
    if hasattr(mod, "mapping"):
        return
    try:
        import types
        from onnx import helper, TensorProto
        table = {}
        for v in TensorProto.DataType.values():
            try:
                table[v] = helper.tensor_dtype_to_np_dtype(v)
            except Exception:   # noqa: BLE001 (types without a NumPy twin)
                pass
        m = types.ModuleType("onnx.mapping")
        m.TENSOR_TYPE_TO_NP_TYPE = table
        m.NP_TYPE_TO_TENSOR_TYPE = {dt: k for k, dt in table.items()}
        mod.mapping = m
        sys.modules["onnx.mapping"] = m
    except Exception:   # noqa: BLE001 (a shim: never break the import)
        pass


_PATCHES = {"torch.onnx": _patch_torch_onnx, "onnx": _patch_onnx}


class _ImportHook(importlib.abc.MetaPathFinder):
    """Applies _PATCHES right after the module is first executed. Marked
    _lscc_hook: a second copy of this module (sitecustomize's and the
    script's) finds the first and neither asks the other."""
    _lscc_hook = True

    def find_spec(self, name, path, target=None):
        if name not in _PATCHES:
            return None
        for finder in sys.meta_path:
            if getattr(finder, "_lscc_hook", False) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        orig = loader.exec_module

        def exec_module(module):
            orig(module)
            try:
                _PATCHES[name](module)
            except Exception:   # noqa: BLE001
                pass
        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):
            pass
        return spec


def install_torch_compat():
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    if not any(getattr(f, "_lscc_hook", False) for f in sys.meta_path):
        sys.meta_path.insert(0, _ImportHook())


def export_child(outdir, names):
    """tests/python/export_models.py (the same export as the CPU bench and the
    tests) under install_torch_compat."""
    install_torch_compat()
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    import export_models
    import torch
    print(f"torch {torch.__version__}; torch.onnx.export dynamo default "
          f"{'off (TorchScript exporter)' if getattr(torch.onnx.export, '_lscc_legacy', False) else 'as installed'}",
          flush=True)
    export_models.main(["export_models.py", outdir] + list(names))


# --------------------------------------------------------------------------
# the PyTorch child: one measurement per process
# --------------------------------------------------------------------------

def true_fp32(torch):
    """TF32 off for cuDNN convolutions and cuBLAS products. torch >= 2.9 has
    fp32_precision flags and refuses a mix of them with the old allow_tf32
    flags, so only one API is used. Returns a description."""
    b = torch.backends
    conv = getattr(getattr(b.cudnn, "conv", None), "fp32_precision", None)
    if conv is not None and hasattr(b.cuda.matmul, "fp32_precision"):
        try:
            if hasattr(b, "fp32_precision"):
                b.fp32_precision = "ieee"
            b.cuda.matmul.fp32_precision = "ieee"
            if hasattr(b.cudnn, "fp32_precision"):
                b.cudnn.fp32_precision = "ieee"
            b.cudnn.conv.fp32_precision = "ieee"
            if hasattr(getattr(b.cudnn, "rnn", None), "fp32_precision"):
                b.cudnn.rnn.fp32_precision = "ieee"
            return (f"off (fp32_precision: matmul {b.cuda.matmul.fp32_precision}, "
                    f"cudnn conv {b.cudnn.conv.fp32_precision})")
        except Exception as e:   # noqa: BLE001
            print(f"note: fp32_precision flags failed ({e}); using allow_tf32", file=sys.stderr)
    b.cuda.matmul.allow_tf32 = False
    b.cudnn.allow_tf32 = False
    return (f"off (allow_tf32: matmul {b.cuda.matmul.allow_tf32}, cudnn {b.cudnn.allow_tf32})")


def torch_child(model_name, size, batch, lr, repeat, cudnn_benchmark):
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    from cpu_bench import synth_image, peak_rss_mb
    import torch
    import torch.nn.functional as F
    import zoo

    def out(k, v):
        print(f"{k} {v}", flush=True)

    out("torch", torch.__version__)
    if not torch.cuda.is_available():
        out("status", "failed: no CUDA device (torch.cuda.is_available() is False)")
        return
    dev = torch.device("cuda")
    out("cuda", torch.version.cuda)
    out("cudnn", torch.backends.cudnn.version())
    out("gpu", torch.cuda.get_device_name(0))
    out("tf32", true_fp32(torch))
    torch.backends.cudnn.benchmark = bool(cudnn_benchmark)
    out("cudnn_benchmark", "on" if cudnn_benchmark else "off")
    torch.cuda.init()
    torch.zeros(1, device=dev)                 # the CUDA context, before the baseline
    free0, total = torch.cuda.mem_get_info()
    base = total - free0
    out("gpu_total_mb", f"{total / MB:.1f}")
    out("gpu_base_mb", f"{base / MB:.1f}")

    def mem_lines():
        out("gpu_peak_mb", f"{torch.cuda.max_memory_allocated() / MB:.1f}")
        out("gpu_reserved_mb", f"{torch.cuda.max_memory_reserved() / MB:.1f}")
        fr, _ = torch.cuda.mem_get_info()
        out("gpu_mem_mb", f"{(total - fr - base) / MB:.1f}")

    def oom(e):
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        out("status", "out of memory")
        out("error", msg[:300])
        mem_lines()
        out("peak_rss_mb", f"{peak_rss_mb():.1f}")

    try:
        model, _ = zoo.MODELS[model_name]()   # eval mode, the seeded weights export_models.py exports
        try:
            from torch.fx.experimental.optimization import fuse
            model = fuse(model)               # BatchNorm folded into the convolutions, as lscc runs it
            out("bn", "folded (torch.fx fuse)")
        except Exception as e:   # noqa: BLE001 (eval-mode BatchNorm: the same function, unfused)
            out("bn", f"eval mode, not folded ({type(e).__name__})")
        model = model.to(dev)
        t = time.perf_counter()
        x = torch.from_numpy(synth_image(batch, size)).to(dev)
        out("image_s", f"{time.perf_counter() - t:.1f}")
        out("image_mb", f"{x.numel() * x.element_size() / MB:.1f}")
        target = torch.zeros(batch, dtype=torch.long, device=dev)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        out("gpu_ready_mb", f"{torch.cuda.memory_allocated() / MB:.1f}")
        best, first, loss0, sum0 = None, None, None, None
        for it in range(repeat):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            y = model(x)
            loss = F.cross_entropy(y, target)
            lv = loss.item()                  # waits for the forward
            t1 = time.perf_counter()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
                    p.grad = None
            torch.cuda.synchronize()
            t2 = time.perf_counter()
            if it == 0:
                first, loss0 = t2 - t0, lv
                sum0 = y.detach().double().sum().item()
            if best is None or t2 - t0 < best[2]:
                best = (t1 - t0, t2 - t1, t2 - t0)
            del y, loss
            if repeat > 1:
                print(f"  step {it + 1} of {repeat}: {t2 - t0:.3f} s", file=sys.stderr, flush=True)
    except torch.cuda.OutOfMemoryError as e:
        oom(e)
        return
    except RuntimeError as e:
        s = str(e)
        first = (s.strip().splitlines() or ["RuntimeError"])[0][:300]
        if "out of memory" in s.lower() or "ALLOC_FAILED" in s:
            oom(e)
        elif any(w in s for w in ("32-bit", "32 bit", "32BitIndex", "INT_MAX", "too large", "too big",
                                  "NOT_SUPPORTED")):
            # a tensor beyond what cuDNN / PyTorch's kernels index (2^31 elements): a result, not a bug
            out("status", "does not run: " + first)
            mem_lines()
        else:
            out("status", "failed: " + first)
            mem_lines()
        return
    out("repeat", repeat)
    out("forward_s", f"{best[0]:.3f}")
    out("backward_s", f"{best[1]:.3f}")
    out("total_s", f"{best[2]:.3f}")
    out("first_total_s", f"{first:.3f}")
    out("loss", f"{loss0:.6f}")
    out("out_sum", f"{sum0:.6g}")
    mem_lines()
    out("peak_rss_mb", f"{peak_rss_mb():.1f}")
    out("status", "ok")


# --------------------------------------------------------------------------
# the driver (imports no torch: the children own the GPU)
# --------------------------------------------------------------------------

def sh(cmd, **kw):
    """A setup command through cpu_bench.sh (output in the build log)."""
    import cpu_bench
    return cpu_bench.sh(cmd, who="gpu_bench", **kw)


def gpu_info():
    """(name, total MiB, driver) from nvidia-smi, or Nones."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None, None, None
    r = subprocess.run([smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
                       capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        return None, None, None
    f = [s.strip() for s in r.stdout.strip().splitlines()[0].split(",")]
    try:
        return f[0], float(f[1]), f[2]
    except (IndexError, ValueError):
        return f[0] if f else None, None, None


def build_lscc(args):
    if args.lscc:
        return os.path.abspath(args.lscc)
    build = os.path.abspath(args.build_dir)
    sh(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DLSCC_CUDA=ON", "-DLSCC_TESTS=OFF"]
       + args.cmake_arg)
    sh(["cmake", "--build", build, "-j", str(os.cpu_count() or 2)])
    return os.path.join(build, "compiler", "lscc")


def build_model(args, lscc, onnx_path, model):
    """lscc --target cuda, then bench/CMakeLists.txt with LSCC_BENCH_CUDA=ON.
    Returns (stream_bench path, plan summary lines)."""
    from cpu_bench import plan_summary
    base = os.path.join(args.work, f"{model}_cuda_t{args.tile}")
    gen, bld = os.path.join(base, "gen"), os.path.join(base, "build")
    os.makedirs(base, exist_ok=True)
    sh([lscc, onnx_path, "--tile", str(args.tile), "--target", "cuda", "--name", model, "-o", gen])
    sh(["cmake", "-S", HERE, "-B", bld, "-DCMAKE_BUILD_TYPE=Release", f"-DLSCC_GEN_DIR={gen}",
        f"-DLSCC_MODEL={model}", "-DLSCC_BENCH_CUDA=ON"] + args.cmake_arg)
    sh(["cmake", "--build", bld, "-j", str(os.cpu_count() or 2), "--target", "stream_bench"])
    return os.path.join(bld, "stream_bench"), plan_summary(os.path.join(gen, "plan.txt"))


FIELDS = ["model", "side", "pixels", "method", "status", "tile", "tiles", "forward_s", "backward_s", "total_s",
          "first_total_s", "sgd_s", "gpu_peak_mb", "gpu_mem_mb", "gpu_reserved_mb", "image_mb", "arena_mb",
          "peak_rss_mb", "loss", "mpix_per_s", "wall_s", "gpu", "when"]
NUMERIC = {"forward_s", "backward_s", "total_s", "first_total_s", "sgd_s", "gpu_peak_mb", "gpu_mem_mb",
           "gpu_reserved_mb", "image_mb", "arena_mb", "peak_rss_mb", "mpix_per_s", "wall_s"}


def fnum(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def Results(path, keep=()):
    """cpu_bench's results table, with this benchmark's fields, rows sorted."""
    from cpu_bench import Results as Table
    return Table(path, FIELDS, keep, ".6g", sort=True)


def load_csv(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            r = {k: r.get(k, "") for k in FIELDS}
            r["side"], r["pixels"] = int(r["side"]), int(r["pixels"] or 0)
            for k in NUMERIC:
                if r[k] != "":
                    r[k] = float(r[k])
            rows.append(r)
    return rows


def last_error(log_path):
    try:
        with open(log_path, errors="replace") as f:
            lines = [s.strip() for s in f if s.strip()]
    except OSError:
        return ""
    errs = [s for s in lines if s.startswith("error:")]
    return (errs[-1] if errs else (lines[-1] if lines else ""))[:300]


class Runner:
    def __init__(self, args, results):
        self.args, self.results = args, results
        self.t_start = time.monotonic()
        self.when0 = datetime.datetime.now().isoformat(timespec="seconds")
        # (model, method) -> (pixels, wall seconds) of the largest ok measurement,
        # from earlier runs too (--append): the time of the next size is predicted from it
        self.done = {}
        for r in results.rows:
            if r["status"] == "ok" and isinstance(r["wall_s"], float) and r["pixels"]:
                k = (r["model"], r["method"])
                if k not in self.done or r["pixels"] > self.done[k][0]:
                    self.done[k] = (r["pixels"], r["wall_s"])

    def budget_left(self):
        return self.args.budget - (time.monotonic() - self.t_start) if self.args.budget > 0 else None

    def predicted(self, model, method, pixels):
        d = self.done.get((model, method))
        return d[1] * pixels / d[0] if d else None

    def skip_reason(self, model, method, pixels, will_oom=False):
        pred = self.predicted(model, method, pixels)
        if pred is None or will_oom:
            return None
        left = self.budget_left()
        if left is not None and pred > left:
            return f"skipped: predicted ~{pred:.0f} s > budget left {max(left, 0):.0f} s"
        if self.args.timeout and pred > self.args.timeout:
            return f"skipped: predicted ~{pred:.0f} s > --timeout {self.args.timeout:.0f} s"
        return None

    def measure(self, model, side, method, cmd, label, tile=""):
        from cpu_bench import run_child
        a = self.args
        log = os.path.join(a.out, "logs", f"{model}_{side}_{method}.log")
        print(f"  {label:<46}", end="", flush=True)
        t0 = time.monotonic()
        timeout = a.timeout
        left = self.budget_left()
        if left is not None:
            timeout = min(timeout, max(left, 60)) if timeout else max(left, 60)
        status, vals, _ = run_child(cmd, os.environ.copy(), log, timeout, a.guard_mb)
        wall = time.monotonic() - t0
        if status == "ok":
            status = vals.get("status", "ok")
            if method == "lscc_train" and status == "ok" and "total_s" not in vals:
                status = f"failed (no result, see {os.path.relpath(log)})"
        elif status.startswith("failed (exit"):
            err = last_error(log)
            code = status.split("exit ")[1].split(",")[0]
            if code == "6" or "out of memory" in err.lower():
                status = "out of memory" + (f" ({err[6:].strip()[:160]})" if err.startswith("error:") else "")
            else:
                status = f"{status[:-1]}: {err[:160]})" if err else status
        pix = side * side
        total = fnum(vals.get("total_s"))
        ok = status == "ok"
        if ok:
            self.done[model, method] = (pix, wall)
            print(f"{total or 0:9.1f} s  fwd {fnum(vals.get('forward_s')) or 0:.1f} s  GPU peak "
                  f"{(fnum(vals.get('gpu_peak_mb')) or 0) / 1024:6.2f} GiB  ({wall:.0f} s in all)")
        else:
            print(f"  {status}  ({wall:.0f} s)")
        row = {"model": model, "side": side, "pixels": pix, "method": method, "status": status, "tile": tile,
               "tiles": vals.get("tiles", ""), "loss": vals.get("loss", ""), "gpu": vals.get("gpu", ""),
               "wall_s": wall, "when": datetime.datetime.now().isoformat(timespec="seconds")}
        for k in NUMERIC - {"mpix_per_s", "wall_s"}:
            v = fnum(vals.get(k))
            if v is not None and (ok or k.startswith("gpu_") or k in ("image_mb", "arena_mb", "peak_rss_mb")):
                row[k] = v
        if ok and total:
            row["mpix_per_s"] = pix / 1e6 / total
        return self.results.add(row)

    def skipped(self, model, side, method, status, label, tile=""):
        print(f"  {label:<46}  {status}")
        self.results.add({"model": model, "side": side, "pixels": side * side, "method": method,
                          "status": status, "tile": tile,
                          "when": datetime.datetime.now().isoformat(timespec="seconds")})

    def torch(self, model, side):
        a = self.args
        method, label = "torch_train", f"{model} {side}^2 PyTorch train"
        smaller_oom = [r for r in self.results.rows if r["model"] == model and r["method"] == method
                       and r["side"] < side and r["status"].startswith("out of memory")]
        if smaller_oom:
            return self.skipped(model, side, method, f"out of memory (already at {smaller_oom[0]['side']}^2)",
                                label)
        # a size predicted not to fit still runs (it fails early, in the forward)
        will_oom = False
        prev = [r for r in self.results.rows if r["model"] == model and r["method"] == method
                and r["status"] == "ok" and r["side"] < side]
        if prev and a.gpu_total_mb and isinstance(prev[-1]["gpu_mem_mb"], float):
            r = prev[-1]
            will_oom = r["gpu_mem_mb"] * side * side / r["pixels"] > a.gpu_total_mb
        why = self.skip_reason(model, method, side * side, will_oom)
        if why:
            return self.skipped(model, side, method, why, label)
        cmd = [PY, os.path.abspath(__file__), "--torch-child", model, str(side), str(a.batch), str(a.lr),
               str(a.repeat), "1" if a.cudnn_benchmark else "0"]
        self.measure(model, side, method, cmd, label)

    def lscc(self, model, side, exe):
        a = self.args
        method, label = "lscc_train", f"{model} {side}^2 lscc train (tile {a.tile})"
        why = self.skip_reason(model, method, side * side)
        if why:
            return self.skipped(model, side, method, why, label, tile=a.tile)
        cmd = [exe, "--size", str(side), "--mode", "train", "--batch", str(a.batch), "--repeat", str(a.repeat),
               "--lr", str(a.lr), "--progress"] + (["--no-sgd"] if a.no_sgd else [])
        self.measure(model, side, method, cmd, label, tile=a.tile)


# ---- reporting ------------------------------------------------------------

def fmt(v, spec, width):
    return f"{v:{width}{spec}}" if isinstance(v, (int, float)) and v != "" else f"{'-':>{width}}"


def ratio(a, b):
    return a / b if isinstance(a, float) and isinstance(b, float) and b > 0 else ""


def gib(v):
    return v / 1024 if isinstance(v, float) else ""


def short(r, width):
    if r is None:
        return f"{'not run':>{width}}"
    return f"{r['status'][:width]:>{width}}"


def report(args, results, header):
    out = []
    p = out.append
    p("")
    p("== one training step on the GPU, float32 (TF32 off): PyTorch (whole image) vs lscc (streamed tiles)")
    p(f"{'model':<9} {'side':>5} | {'torch s':>8} {'fwd s':>7} {'peak GiB':>8} {'dev GiB':>7} | "
      f"{'lscc s':>8} {'fwd s':>7} {'bwd s':>7} {'dev GiB':>7} {'tiles':>5} | {'time l/t':>8} {'mem l/t':>7} | "
      f"{'loss t':>9} {'loss l':>9}")
    models = list(dict.fromkeys(r["model"] for r in results.rows))
    for model in models:
        for side in sorted({r["side"] for r in results.rows if r["model"] == model}):
            t, lt = results.get(model, side, "torch_train"), results.get(model, side, "lscc_train")
            line = f"{model:<9} {side:>5} | "
            tok = t is not None and t["status"] == "ok"
            lok = lt is not None and lt["status"] == "ok"
            if tok:
                line += (f"{fmt(t['total_s'], '.1f', 8)} {fmt(t['forward_s'], '.1f', 7)} "
                         f"{fmt(gib(t['gpu_peak_mb']), '.2f', 8)} {fmt(gib(t['gpu_mem_mb']), '.2f', 7)} | ")
            else:
                line += short(t, 33) + " | "
            if lok:
                line += (f"{fmt(lt['total_s'], '.1f', 8)} {fmt(lt['forward_s'], '.1f', 7)} "
                         f"{fmt(lt['backward_s'], '.1f', 7)} {fmt(gib(lt['gpu_peak_mb']), '.2f', 7)} "
                         f"{lt['tiles']:>5} | ")
            else:
                line += short(lt, 38) + " | "
            both = tok and lok
            line += (f"{fmt(ratio(lt['total_s'], t['total_s']) if both else '', '.2f', 8)} "
                     f"{fmt(ratio(lt['gpu_peak_mb'], t['gpu_mem_mb']) if both else '', '.2f', 7)} | ")
            line += f"{(t or {}).get('loss', '') or '-':>9} {(lt or {}).get('loss', '') or '-':>9}"
            p(line)
    p("")
    p("torch peak: torch.cuda.max_memory_allocated; dev: device memory in use after the step (lscc: highest sample")
    p("at any tile) minus before the model was built, CUDA context excluded (cudaMemGetInfo / mem_get_info).")
    p("time l/t, mem l/t: lscc / PyTorch (step wall time; dev memory). lscc's SGD round trip through the host is")
    p("not in its step time (sgd_s in the CSV). loss t / loss l: the two losses on the same image and weights.")
    failed = [r for r in results.rows if r["status"] not in ("ok",) and not r["status"].startswith(
        ("out of memory", "skipped"))]
    for r in failed:
        p(f"{r['model']} {r['side']}^2 {r['method']}: {r['status']}")
    text = "\n".join(out)
    print(text)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write("\n".join(header) + "\n" + text + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split(
                                     "\n\n", 1)[1])
    ap.add_argument("--models", default="resnet50", help="comma-separated zoo models (resnet50, resnet18)")
    ap.add_argument("--sizes", default="4096,8192,16384", help="image sides, comma-separated")
    ap.add_argument("--tile", type=int, default=4096, help="lscc --tile (default 4096)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="steps per measurement, in one process; the fastest is reported, the first (cold) one "
                         "in the CSV's first_total_s (default 3)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--out", default=os.path.join(HERE, "results_gpu"))
    ap.add_argument("--append", action="store_true",
                    help="keep the rows of OUT/results.csv that this run does not measure again")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: resnet18 at 1024 and 2048, tile 1024, 2 steps each")
    ap.add_argument("--skip-torch", action="store_true", help="measure only lscc")
    ap.add_argument("--skip-lscc", action="store_true", help="measure only PyTorch")
    ap.add_argument("--cudnn-benchmark", action="store_true",
                    help="torch.backends.cudnn.benchmark = True (default off: heuristics, as lscc)")
    ap.add_argument("--no-sgd", action="store_true", help="lscc: skip the (untimed) SGD round trip")
    ap.add_argument("--lscc", help="a CUDA-enabled lscc binary (default: build --build-dir)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-cuda"),
                    help="lscc build with LSCC_CUDA=ON, Release (default build-cuda)")
    ap.add_argument("--cmake-arg", action="append", default=[],
                    help="extra argument for the cmake configure steps (e.g. -DCUDNN_LIB=...); repeatable")
    ap.add_argument("--work", default=None, help="generated code and its builds (default BUILD_DIR/bench_gpu)")
    ap.add_argument("--models-dir", default=None, help="ONNX exports (default BUILD_DIR/models)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per measurement (0: none)")
    ap.add_argument("--budget", type=float, default=0,
                    help="seconds for all measurements: skip one predicted not to finish in what is left (0: none)")
    ap.add_argument("--report-only", action="store_true", help="print the table from OUT/results.csv")
    ap.add_argument("--torch-child", nargs=6, metavar=("MODEL", "SIZE", "BATCH", "LR", "REPEAT", "BENCHMARK"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--export-child", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_child:
        m, s, b, lr, rep, bm = args.torch_child
        torch_child(m, int(s), int(b), float(lr), int(rep), bm == "1")
        return
    if args.export_child:
        export_child(args.export_child[0], args.export_child[1:])
        return
    sys.path.insert(0, HERE)
    from cpu_bench import meminfo_mb, cpu_name
    args.out = os.path.abspath(args.out)
    csv_path = os.path.join(args.out, "results.csv")
    if args.report_only:
        report(args, Results(csv_path, load_csv(csv_path)), [f"gpu_bench --report-only: {csv_path}"])
        return
    if args.quick:
        args.models, args.sizes, args.tile, args.repeat = "resnet18", "1024,2048", 1024, max(args.repeat, 2)
    args.models = [m for m in args.models.split(",") if m]
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s})
    args.build_dir = os.path.abspath(args.build_dir)
    args.work = os.path.abspath(args.work or os.path.join(args.build_dir, "bench_gpu"))
    args.models_dir = os.path.abspath(args.models_dir or os.path.join(args.build_dir, "models"))
    os.makedirs(os.path.join(args.out, "logs"), exist_ok=True)
    import cpu_bench
    cpu_bench.BUILD_LOG = os.path.join(args.out, "logs", "build.log")
    open(cpu_bench.BUILD_LOG, "w").close()
    args.guard_mb = max(1536.0, 0.05 * meminfo_mb("MemTotal"))
    gpu, args.gpu_total_mb, driver = gpu_info()

    t_setup = time.monotonic()
    exes, plans = {}, {}
    lscc = version = None
    if not args.skip_lscc:
        lscc = build_lscc(args)
        version = subprocess.run([lscc, "--version"], capture_output=True, text=True).stdout.strip()
    os.makedirs(args.models_dir, exist_ok=True)
    sh([PY, os.path.abspath(__file__), "--export-child", args.models_dir] + args.models)
    if not args.skip_lscc:
        for model in args.models:
            exes[model], plans[model] = build_model(args, lscc, os.path.join(args.models_dir, model + ".onnx"), model)
    tv = subprocess.run([PY, "-c", "import torch; print(torch.__version__, 'CUDA', torch.version.cuda, 'cuDNN', "
                         "torch.backends.cudnn.version())"], capture_output=True, text=True)
    header = [f"gpu_bench {datetime.datetime.now().isoformat(timespec='seconds')}",
              f"  gpu: {gpu or 'unknown (no nvidia-smi)'}, {(args.gpu_total_mb or 0) / 1024:.1f} GiB, driver {driver}",
              f"  cpu: {cpu_name()}, {os.cpu_count()} cores, MemTotal {meminfo_mb('MemTotal') / 1024:.1f} GiB",
              f"  {version or lscc or 'lscc not measured'}; PyTorch {tv.stdout.strip() or 'not found'}",
              f"  float32, TF32 off; torch cudnn.benchmark {'on' if args.cudnn_benchmark else 'off'}; "
              f"batch {args.batch}; {args.repeat} step(s) per measurement (fastest reported)",
              f"  lscc --tile {args.tile} --target cuda; SGD "
              f"{'skipped' if args.no_sgd else 'fetch/modify/upload through the host, not timed'}"]
    for model, plan in plans.items():
        header.append(f"  {model}: " + "; ".join(plan))
    print("\n".join(header))
    print(f"  setup (build, export, code generation) {time.monotonic() - t_setup:.0f} s; results in {args.out}; "
          f"each child's stderr in {args.out}/logs")

    keep = []
    if args.append and os.path.exists(csv_path):
        keep = load_csv(csv_path)
    results = Results(csv_path, keep)
    run = Runner(args, results)
    for model in args.models:
        for side in args.sizes:
            if not args.skip_torch:
                run.torch(model, side)
            if not args.skip_lscc:
                run.lscc(model, side, exes[model])
    print(f"gpu_bench: {time.monotonic() - run.t_start:.0f} s of measurements; wrote {csv_path}")
    report(args, results, header)
    # exit 1 when a measurement of this run failed (out of memory and skips are results)
    bad = [r for r in results.rows if r["when"] >= run.when0 and r["status"].startswith(("failed", "killed"))]
    if bad:
        sys.exit(f"gpu_bench: {len(bad)} measurement(s) failed")


if __name__ == "__main__":
    main()
