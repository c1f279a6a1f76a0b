#!/usr/bin/python3
"""CPU benchmark: lscc's generated code against PyTorch, on the same images.

For each model (torchvision resnet18 / resnet50, random weights, exported to
ONNX in eval mode with BatchNorm folded, as scripts/run.sh does) and image
side S (S x S RGB, batch 1), each in a process of its own so that its peak
RSS is its own:

  torch train  PyTorch 1.13, conventional training step on the whole image:
               forward, softmax cross-entropy against class 0, backward,
               SGD update; the same network lscc compiles (the zoo model with
               BatchNorm folded into the convolutions by torch.fx's fuse, the
               same random weights).
  lscc train   the C code lscc generated for the same ONNX file
               (bench/stream_bench.c): streamed forward + head, the same
               loss, head backward + streamed backward (every tile
               recomputed), SGD update. Tile --train-tile: each of a list
               (default 1280, a lean square tile, and 1427x2451, strips
               whose 2 tiles cover a 2048^2 image, 8 a 4096^2 one).
  lscc infer   streamed forward + head only. Tile --infer-tile.
  torch infer  (--torch-infer) PyTorch's forward under no_grad.

Both sides read the same synthetic uint8 image (a smooth field plus hashed
noise, made from pixel coordinates: synth_image() here, bench_pixel() in
stream_bench.c), normalized with ImageNet's mean and std. PyTorch holds it
as a float32 tensor made before the timed step; lscc never holds it: its
image callback makes each tile's pixels as the tile is read (inside the
timed step). Times are wall clock of the step (model construction, weight
loading and image synthesis excluded); "forward" is the forward pass through
the head (PyTorch's includes the loss), "backward" the rest: loss gradient,
backward, SGD update. Peak memory is the process's peak RSS (VmHWM; for
PyTorch it includes the Python/torch runtime and the float32 image).

PyTorch runs only where it fits: its peak RSS grows linearly with the
pixels, so it is predicted from the measured smaller sizes (a 512 x 512
calibration run is made when no smaller size was measured) and a size whose
prediction exceeds --mem-fraction (0.85) of MemAvailable is reported as
"does not fit" without running. Every child is also killed if the machine's
MemAvailable drops under a safety margin.

usage: bench/cpu_bench.py [--models resnet18,resnet50] [--sizes 1024,2048,4096,8192]
                          [--out bench/results] [--quick] [--skip-torch] [--torch-infer]
                          [--train-tile 1280,1427x2451] [--infer-tile 4500] [--threads 2] [--repeat 1]
                          [--lscc PATH] [--report-only]
Writes OUT/results.csv, OUT/summary.txt, OUT/bench.png (with matplotlib) and
OUT/logs/ (each child's stderr: lscc's per-tile progress, PyTorch warnings).
"""
import argparse
import csv
import datetime
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
MEAN = (0.485, 0.456, 0.406)
SD = (0.229, 0.224, 0.225)
CALIBRATION_SIZE = 512


# --------------------------------------------------------------------------
# the synthetic image (keep in step with bench_pixel in stream_bench.c)
# --------------------------------------------------------------------------

def _mix32(h):
    import numpy as np
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x7FEB352D)
    h = h ^ (h >> np.uint32(15))
    h = h * np.uint32(0x846CA68B)
    return h ^ (h >> np.uint32(16))


def synth_image(n, size):
    """n x 3 x size x size float32, normalized; made in row blocks so the
    temporaries stay small."""
    import numpy as np
    out = np.empty((n, 3, size, size), np.float32)
    xs = np.arange(size, dtype=np.uint32)[None, :]
    rows = max(1, (1 << 20) // size)
    with np.errstate(over="ignore"):
        for p in range(n * 3):
            c = p % 3
            pk = np.uint32((p * 0xC2B2AE3D) & 0xFFFFFFFF)
            for y0 in range(0, size, rows):
                y1 = min(size, y0 + rows)
                ys = np.arange(y0, y1, dtype=np.uint32)[:, None]
                field = ((xs * np.uint32(7 + c) + ys * np.uint32(3 + 2 * c)) >> np.uint32(6)) & np.uint32(127)
                noise = _mix32((xs * np.uint32(0x9E3779B1)) ^ (ys * np.uint32(0x85EBCA77)) ^ pk) >> np.uint32(25)
                v = (field + noise).astype(np.float64)
                out[p // 3, c, y0:y1] = ((v / 255.0 - MEAN[c]) / SD[c]).astype(np.float32)
    return out


# --------------------------------------------------------------------------
# the PyTorch child: one measurement per process
# --------------------------------------------------------------------------

def peak_rss_mb():
    """Peak RSS of this process image in MB: VmHWM (ru_maxrss is carried
    across execve on Linux, so a child would report the driver's RSS at fork
    time when that is higher)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def torch_child(model_name, size, mode, batch, threads, lr, repeat):
    import torch
    import torch.nn.functional as F
    from torch.fx.experimental.optimization import fuse
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    import zoo
    torch.set_num_threads(threads)
    model, _ = zoo.MODELS[model_name]()       # eval mode, the seeded weights export_models.py exports
    model = fuse(model)                       # BatchNorm folded into the convolutions, as lscc runs it
    print(f"torch {torch.__version__}\nthreads {torch.get_num_threads()}", flush=True)
    print(f"rss_base_mb {peak_rss_mb():.1f}", flush=True)
    x = torch.from_numpy(synth_image(batch, size))
    print(f"rss_ready_mb {peak_rss_mb():.1f}", flush=True)
    best, first, loss0, sum0 = None, None, None, None
    for it in range(repeat):
        t0 = time.perf_counter()
        if mode == "train":
            out = model(x)
            loss = F.cross_entropy(out, torch.zeros(batch, dtype=torch.long))
            t1 = time.perf_counter()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
                    p.grad = None
            t2 = time.perf_counter()
        else:
            with torch.no_grad():
                out = model(x)
            t1 = t2 = time.perf_counter()
        if it == 0:
            first = t2 - t0
            loss0 = loss.item() if mode == "train" else None
            sum0 = out.detach().double().sum().item()
        if best is None or t2 - t0 < best[2]:
            best = (t1 - t0, t2 - t1, t2 - t0)
        del out
        if repeat > 1:
            print(f"  step {it + 1} of {repeat}: {t2 - t0:.3f} s", file=sys.stderr, flush=True)
    print(f"repeat {repeat}\nforward_s {best[0]:.3f}\nbackward_s {best[1]:.3f}\ntotal_s {best[2]:.3f}")
    print(f"first_total_s {first:.3f}")
    if loss0 is not None:
        print(f"loss {loss0:.6f}")
    print(f"out_sum {sum0:.6g}")
    print(f"peak_rss_mb {peak_rss_mb():.1f}", flush=True)


# --------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------

def meminfo_mb(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def has_avx2():
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:
        return False


BUILD_LOG = None   # OUT/logs/build.log: output of the build, export and lscc commands


def sh(cmd, who="cpu_bench", **kw):
    """Runs a setup command, its output appended to BUILD_LOG; exits with the
    log's tail when it fails. who names the calling benchmark in the message."""
    with open(BUILD_LOG, "a") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        r = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, **kw)
    if r.returncode != 0:
        with open(BUILD_LOG) as log:
            tail = log.readlines()[-40:]
        sys.exit("".join(tail) + f"{who}: command failed ({r.returncode}): {' '.join(cmd)}\n"
                 f"(full output in {BUILD_LOG})")
    return r


def run_child(cmd, env, log_path, timeout, guard_mb):
    """Runs cmd, stderr to log_path; kills it when MemAvailable drops below
    guard_mb or after timeout seconds. Returns (status, {key: value},
    ru_maxrss MB of the child as its parent sees it)."""
    with open(log_path, "w") as log:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
        t0, status, why = time.monotonic(), None, None
        while True:
            pid, st, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                p.returncode = os.waitstatus_to_exitcode(st)
                break
            if why is None:
                if meminfo_mb("MemAvailable") < guard_mb:
                    why = f"killed: MemAvailable under {guard_mb:.0f} MB"
                    p.kill()
                elif timeout and time.monotonic() - t0 > timeout:
                    why = f"killed: over --timeout {timeout} s"
                    p.kill()
            time.sleep(0.05)
        text = p.stdout.read()
        p.stdout.close()
    vals = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        vals[k] = v.strip()
    if why:
        status = why
    elif p.returncode != 0:
        status = f"failed (exit {p.returncode}, see {nice_path(log_path)})"
    else:
        status = "ok"
    return status, vals, ru.ru_maxrss / 1024.0


def nice_path(p):
    """p relative to the working directory when it is inside it."""
    rel = os.path.relpath(p)
    return p if rel.startswith("..") else rel


def fnum(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def plan_summary(plan_txt):
    """The tile, halo and per-tile memory lines of lscc's plan.txt."""
    keep = []
    with open(plan_txt) as f:
        for line in f:
            s = line.strip()
            if s.startswith(("tile:", "halo overhead", "per tile", "receptive field")):
                keep.append(s)
    return keep


def build_lscc(args):
    if args.lscc:
        return os.path.abspath(args.lscc)
    build = os.path.join(ROOT, "build")
    sh(["bash", os.path.join(ROOT, "scripts", "setup.sh")])
    sh(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DLSCC_TESTS=OFF"])
    sh(["cmake", "--build", build, "-j", str(os.cpu_count() or 2)])
    return os.path.join(build, "compiler", "lscc")


def build_model(args, lscc, onnx_path, model, tile):
    """lscc --tile TILE, then bench/CMakeLists.txt against the generated code.
    Returns (stream_bench path, plan summary lines)."""
    base = os.path.join(args.work, f"{model}_t{tile}")
    gen, bld = os.path.join(base, "gen"), os.path.join(base, "build")
    os.makedirs(base, exist_ok=True)
    sh([lscc, onnx_path, "--tile", str(tile), "--name", model, "-o", gen])
    sh(["cmake", "-S", HERE, "-B", bld, "-DCMAKE_BUILD_TYPE=Release", f"-DLSCC_GEN_DIR={gen}",
        f"-DLSCC_MODEL={model}"])
    sh(["cmake", "--build", bld, "-j", str(os.cpu_count() or 2)])
    return os.path.join(bld, "stream_bench"), plan_summary(os.path.join(gen, "plan.txt"))


def predict_peak(points, pixels):
    """Linear fit of peak RSS (MB) in pixels through the two largest measured
    points, or through one point and the process's base RSS."""
    if not points:
        return None
    pts = sorted(points)
    if len(pts) >= 2:
        (n0, m0, _), (n1, m1, _) = pts[-2], pts[-1]
        slope = (m1 - m0) / (n1 - n0) if n1 != n0 else 0
        if slope > 0:
            return m1 + slope * (pixels - n1)
    n1, m1, base = pts[-1]
    return base + (m1 - base) * pixels / n1


FIELDS = ["model", "side", "pixels", "method", "status", "tile", "tiles", "forward_s", "backward_s", "total_s",
          "peak_rss_mb", "rss_ready_mb", "arena_mb", "predicted_peak_mb", "loss", "total_s_per_mpix",
          "forward_s_per_mpix", "threads"]


class Results:
    """The results table, rewritten to path after every row (a long sweep keeps
    what it has); a row for the same (model, side, method, tile) replaces the old one.
    bench/gpu_bench.py uses it too, with its own fields."""

    def __init__(self, path, fields=FIELDS, keep=(), fmt=".4g", sort=False):
        self.path, self.fields, self.fmt, self.sort = path, fields, fmt, sort
        self.rows = list(keep)

    def add(self, row):
        row = {k: row.get(k, "") for k in self.fields}
        def key(r):
            return r["model"], r["side"], r["method"], str(r.get("tile", ""))
        self.rows = [r for r in self.rows if key(r) != key(row)] + [row]
        if self.sort:
            self.rows.sort(key=lambda r: (r["model"], r["side"], r["method"]))
        with open(self.path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields)
            w.writeheader()
            for r in self.rows:
                w.writerow({k: (f"{v:{self.fmt}}" if isinstance(v, float) else v) for k, v in r.items()})
        return row

    def get(self, model, side, method, tile=None):
        for r in self.rows:
            if r["model"] == model and r["side"] == side and r["method"] == method and \
                    (tile is None or str(r["tile"]) == str(tile)):
                return r
        return None


class Bench(Results):
    def __init__(self, args):
        super().__init__(os.path.join(args.out, "results.csv"))
        self.args = args
        self.csv_path = self.path

def measure(args, env, cmd, label, log_path):
    print(f"  {label:<44}", end="", flush=True)
    t0 = time.monotonic()
    status, vals, ru_mb = run_child(cmd, env, log_path, args.timeout, args.guard_mb)
    peak = fnum(vals.get("peak_rss_mb")) or ru_mb
    if status == "ok":
        extra = f"  fwd {fnum(vals.get('forward_s')):.1f} s" if vals.get("backward_s") not in (None, "0.000") else ""
        print(f"{fnum(vals.get('total_s')):9.1f} s{extra}, peak RSS {peak:7.0f} MB   "
              f"({time.monotonic() - t0:.0f} s in all)")
    else:
        print(f"  {status}")
    return status, vals, peak


def row_from(model, side, method, status, vals, peak, tile="", threads=""):
    pix = side * side
    total, fwd = fnum(vals.get("total_s")), fnum(vals.get("forward_s"))
    ok = status == "ok"
    return {"model": model, "side": side, "pixels": pix, "method": method, "status": status, "tile": tile,
            "tiles": vals.get("tiles", ""), "forward_s": fwd if ok else "",
            "backward_s": fnum(vals.get("backward_s")) if ok else "", "total_s": total if ok else "",
            "peak_rss_mb": peak if ok else "", "rss_ready_mb": fnum(vals.get("rss_ready_mb")) or "",
            "arena_mb": fnum(vals.get("arena_mb")) or "", "loss": vals.get("loss", ""),
            "total_s_per_mpix": total / (pix / 1e6) if ok and total else "",
            "forward_s_per_mpix": fwd / (pix / 1e6) if ok and fwd else "", "threads": threads,
            "_base": fnum(vals.get("rss_base_mb"))}


def run_torch(args, env, bench, model, side, mode, points):
    method = f"torch_{mode}"
    label = f"{model} {side}^2 PyTorch {mode}"
    avail = meminfo_mb("MemAvailable")
    pred = predict_peak(points, side * side)
    oom = [r for r in bench.rows if r["model"] == model and r["method"] == method and r["side"] < side
           and r["status"].startswith("killed: MemAvailable")]
    if oom:
        status = f"does not fit ({oom[0]['side']}^2 was killed for memory)"
        print(f"  {label:<44}  {status}")
        bench.add(row_from(model, side, method, status, {}, None, threads=args.threads))
        return
    if pred is None and side > CALIBRATION_SIZE:
        # nothing measured yet: calibrate at a small size, not reported
        st, vals, peak = measure(args, env, torch_cmd(args, model, CALIBRATION_SIZE, mode),
                                 f"{model} {CALIBRATION_SIZE}^2 PyTorch {mode} (calibration)",
                                 os.path.join(args.out, "logs", f"{model}_{CALIBRATION_SIZE}_{method}.log"))
        if st == "ok":
            points.append((CALIBRATION_SIZE ** 2, peak, fnum(vals.get("rss_base_mb")) or 0.0))
        pred = predict_peak(points, side * side)
    if pred is not None and pred > args.mem_fraction * avail:
        status = (f"does not fit (predicted {pred / 1024:.1f} GiB > {args.mem_fraction:.2f} x "
                  f"MemAvailable {avail / 1024:.1f} GiB)")
        print(f"  {label:<44}  {status}")
        r = row_from(model, side, method, status, {}, None, threads=args.threads)
        r["predicted_peak_mb"] = pred
        bench.add(r)
        return
    st, vals, peak = measure(args, env, torch_cmd(args, model, side, mode), label,
                             os.path.join(args.out, "logs", f"{model}_{side}_{method}.log"))
    r = row_from(model, side, method, st, vals, peak, threads=args.threads)
    r["predicted_peak_mb"] = pred if pred is not None else ""
    if st == "ok":
        points.append((side * side, peak, r["_base"] or 0.0))
    bench.add(r)


def torch_cmd(args, model, side, mode):
    return [PY, os.path.abspath(__file__), "--torch-child", model, str(side), mode, str(args.batch),
            str(args.threads), str(args.lr), str(args.repeat)]


def run_lscc(args, env, bench, model, side, mode, exe, tile):
    cmd = [exe, "--size", str(side), "--mode", mode, "--batch", str(args.batch), "--repeat", str(args.repeat),
           "--lr", str(args.lr), "--progress"]
    st, vals, peak = measure(args, env, cmd, f"{model} {side}^2 lscc {mode} (tile {tile})",
                             os.path.join(args.out, "logs", f"{model}_{side}_lscc_{mode}_t{tile}.log"))
    bench.add(row_from(model, side, f"lscc_{mode}", st, vals, peak, tile=tile, threads=args.threads))


# ---- reporting ------------------------------------------------------------

def fmt(v, spec, width):
    return f"{v:{width}{spec}}" if isinstance(v, (int, float)) and v != "" else f"{'-':>{width}}"


def ratio(a, b):
    return a / b if isinstance(a, float) and isinstance(b, float) and b > 0 else ""


def short_status(r):
    if r is None:
        return "not run"
    s = r["status"]
    if s.startswith("does not fit"):
        pred = r["predicted_peak_mb"]
        return f"does not fit: ~{pred / 1024:.1f} GiB" if isinstance(pred, float) else "does not fit"
    return s.split(" (")[0]


def report(args, bench, header_lines):
    out = []
    p = out.append
    p("")
    p("== training step: PyTorch (whole image) vs lscc (streamed); seconds, peak RSS in MB")
    p(f"{'model':<9} {'side':>5} | {'torch s':>8} {'fwd s':>7} {'peak MB':>8} | {'lscc tile':>9} {'lscc s':>7} "
      f"{'fwd s':>6} {'bwd s':>6} {'peak MB':>8} {'tiles':>5} | {'time l/t':>8} {'mem l/t':>7} | {'loss t':>9} "
      f"{'loss l':>9}")
    for model in args.models:
        for side in args.sizes:
            t = bench.get(model, side, "torch_train")
            for tile in args.train_tiles:
                lt = bench.get(model, side, "lscc_train", tile)
                line = f"{model:<9} {side:>5} | "
                if t is not None and t["status"] == "ok":
                    line += (f"{fmt(t['total_s'], '.1f', 8)} {fmt(t['forward_s'], '.1f', 7)} "
                             f"{fmt(t['peak_rss_mb'], '.0f', 8)} | ")
                else:
                    line += f"{short_status(t) if not args.skip_torch else 'skipped':>25.25} | "
                line += f"{tile:>9} "
                if lt is not None and lt["status"] == "ok":
                    line += (f"{fmt(lt['total_s'], '.1f', 7)} {fmt(lt['forward_s'], '.1f', 6)} "
                             f"{fmt(lt['backward_s'], '.1f', 6)} {fmt(lt['peak_rss_mb'], '.0f', 8)} {lt['tiles']:>5} | ")
                else:
                    line += f"{short_status(lt):>35.35} | "
                ok = t is not None and t["status"] == "ok" and lt is not None and lt["status"] == "ok"
                line += (f"{fmt(ratio(lt['total_s'], t['total_s']) if ok else '', '.2f', 8)} "
                         f"{fmt(ratio(lt['peak_rss_mb'], t['peak_rss_mb']) if ok else '', '.2f', 7)} | ")
                line += f"{(t or {}).get('loss', '') or '-':>9} {(lt or {}).get('loss', '') or '-':>9}"
                p(line)
    p("")
    p("== inference (lscc streamed forward + head) vs the forward part of lscc's training step; seconds per megapixel")
    head = (f"{'model':<9} {'side':>5} | {'infer s':>8} {'peak MB':>8} {'s/MP':>7} | {'train fwd s/MP':>14} "
            f"{'speedup':>7}")
    if args.torch_infer:
        head += f" | {'torch inf s':>11} {'peak MB':>8} {'time l/t':>8} {'mem l/t':>7}"
    p(head)
    for model in args.models:
        for side in args.sizes:
            li, lt = bench.get(model, side, "lscc_infer"), bench.get(model, side, "lscc_train", args.train_tiles[0])
            line = f"{model:<9} {side:>5} | "
            if li is not None and li["status"] == "ok":
                line += (f"{fmt(li['total_s'], '.1f', 8)} {fmt(li['peak_rss_mb'], '.0f', 8)} "
                         f"{fmt(li['total_s_per_mpix'], '.3f', 7)} | ")
            else:
                line += f"{short_status(li):>25.25} | "
            tf = lt["forward_s_per_mpix"] if lt is not None and lt["status"] == "ok" else ""
            sp = ratio(tf, li["total_s_per_mpix"]) if li is not None and li["status"] == "ok" else ""
            line += f"{fmt(tf, '.3f', 14)} {fmt(sp, '.2f', 6)}x"
            if args.torch_infer:
                ti = bench.get(model, side, "torch_infer")
                if ti is not None and ti["status"] == "ok":
                    okl = li is not None and li["status"] == "ok"
                    line += (f" | {fmt(ti['total_s'], '.1f', 11)} {fmt(ti['peak_rss_mb'], '.0f', 8)} "
                             f"{fmt(ratio(li['total_s'], ti['total_s']) if okl else '', '.2f', 8)} "
                             f"{fmt(ratio(li['peak_rss_mb'], ti['peak_rss_mb']) if okl else '', '.2f', 7)}")
                else:
                    line += f" | {short_status(ti):>37.37}"
            p(line)
    big = max(args.sizes)
    for model in args.models:
        li, lt = bench.get(model, big, "lscc_infer"), bench.get(model, big, "lscc_train", args.train_tiles[0])
        if li and lt and li["status"] == "ok" and lt["status"] == "ok":
            sp = lt["forward_s_per_mpix"] / li["total_s_per_mpix"]
            p(f"{model} at {big}^2: inference {sp:.2f}x faster per pixel than the training step's forward "
              f"(goal at 8192^2: >= 1.5x){'' if big == 8192 else ' [not the 8192^2 goal size]'}")
    p("")
    p("time l/t, mem l/t: lscc / PyTorch (wall time of the step, peak RSS); speedup: train fwd s/MP / infer s/MP")
    p(f"(the forward of the training step with the first lscc tile, {args.train_tiles[0]}). lscc tile: --tile of the "
      "generated code, N (N x N) or HxW.")
    p("loss t / loss l: PyTorch's and lscc's loss on the same image and weights (they should agree to ~1e-4).")
    text = "\n".join(out)
    print(text)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write("\n".join(header_lines) + "\n" + text + "\n")


def ensure_matplotlib():
    """Debian's python3-matplotlib, installed as the other dependencies are
    (scripts/setup.sh installs with apt-get as root) when it is missing."""
    try:
        import matplotlib  # noqa: F401
        return
    except ImportError:
        pass
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("cpu_bench: installing python3-matplotlib for the plot")
        subprocess.run(["apt-get", "install", "-y", "-q", "python3-matplotlib"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)


def plot(args, bench):
    ensure_matplotlib()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("cpu_bench: matplotlib is not installed: wrote only the CSV (apt-get install python3-matplotlib, "
              "or pip install matplotlib, for the plot)")
        return
    styles = {"torch_train": ("PyTorch train", "tab:red", "o"), "lscc_train": ("lscc train", "tab:blue", "s"),
              "lscc_infer": ("lscc inference", "tab:green", "^"), "torch_infer": ("PyTorch inference", "tab:orange", "v")}
    dashes = ["-", "--", ":", "-."]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 5))
    for mi, model in enumerate(args.models):
        series = [(m, st, None) for m, st in styles.items() if m != "lscc_train"]
        tile_colors = ["tab:blue", "tab:purple", "tab:cyan", "tab:brown"]
        for k, tile in enumerate(args.train_tiles):
            series.append(("lscc_train", (f"lscc train (tile {tile})", tile_colors[k % 4], "sDPX"[k % 4]), tile))
        for method, (name, color, marker), tile in series:
            rows = [r for r in bench.rows if r["model"] == model and r["method"] == method and
                    (tile is None or str(r["tile"]) == str(tile))]
            ok = [r for r in rows if r["status"] == "ok"]
            if ok:
                xs = [r["side"] for r in ok]
                ax_t.plot(xs, [r["total_s"] for r in ok], dashes[mi % 4], color=color, marker=marker,
                          label=f"{model} {name}")
                ax_m.plot(xs, [r["peak_rss_mb"] / 1024 for r in ok], dashes[mi % 4], color=color, marker=marker,
                          label=f"{model} {name}")
            est = [r for r in rows if r["status"].startswith("does not fit") and isinstance(r["predicted_peak_mb"], float)]
            if est:
                ax_m.plot([r["side"] for r in est], [r["predicted_peak_mb"] / 1024 for r in est], linestyle="none",
                          color=color, marker=marker, markerfacecolor="none",
                          label=f"{model} {name}: does not fit (predicted)")
    total = meminfo_mb("MemTotal") / 1024
    ax_m.axhline(total, color="gray", linewidth=1)
    ax_m.text(min(args.sizes), total, f" machine memory {total:.0f} GiB", va="bottom", fontsize=8, color="gray")
    from matplotlib.ticker import FuncFormatter
    for ax, title, unit in ((ax_t, "wall time of one step", "seconds"), (ax_m, "peak RSS", "GiB")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_xticks(args.sizes)
        ax.set_xticklabels([str(s) for s in args.sizes])
        ax.set_xlabel("image side (pixels, square RGB image, batch %d)" % args.batch)
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    handles = {}
    for ax in (ax_t, ax_m):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"lscc vs PyTorch on CPU ({args.threads} threads, train tile {','.join(args.train_tiles)}, "
                 f"inference tile {args.infer_tile})")
    rows_legend = math.ceil(len(handles) / 4)
    fig.set_size_inches(12, 4.6 + 0.2 * rows_legend)
    fig.tight_layout(rect=(0, 0.01 + 0.04 * rows_legend, 1, 1))
    path = os.path.join(args.out, "bench.png")
    fig.savefig(path, dpi=110)
    print(f"cpu_bench: wrote {nice_path(path)}")


def load_csv(args):
    """--report-only: the rows of OUT/results.csv, numbers as numbers."""
    bench = Bench(args)
    with open(bench.csv_path, newline="") as f:
        for r in csv.DictReader(f):
            for k in FIELDS:
                v = r.get(k, "")
                if k in ("side", "pixels"):
                    r[k] = int(v)
                elif k not in ("model", "method", "status", "loss", "tiles", "tile", "threads") and v != "":
                    r[k] = float(v)
            bench.rows.append(r)
    args.models = list(dict.fromkeys(r["model"] for r in bench.rows))
    args.sizes = sorted({r["side"] for r in bench.rows})
    args.torch_infer = any(r["method"] == "torch_infer" for r in bench.rows)
    args.skip_torch = not any(r["method"] == "torch_train" for r in bench.rows)
    for mode in ("train", "infer"):
        tiles = list(dict.fromkeys(str(r["tile"]) for r in bench.rows if r["method"] == f"lscc_{mode}" and r["tile"]))
        if tiles:
            setattr(args, f"{mode}_tile", ",".join(tiles))
    args.train_tiles = [t for t in str(args.train_tile).split(",") if t]
    threads = {r["threads"] for r in bench.rows if r["threads"]}
    if threads:
        args.threads = ",".join(sorted(threads))
    return bench


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet18,resnet50")
    ap.add_argument("--sizes", default="1024,2048,4096,8192", help="image sides, comma-separated")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--quick", action="store_true", help="smoke test: resnet18 at 512 and 1024 only")
    ap.add_argument("--skip-torch", action="store_true", help="measure only lscc")
    ap.add_argument("--torch-infer", action="store_true", help="also PyTorch's inference (forward under no_grad)")
    ap.add_argument("--train-tile", default="1280,1427x2451",
                    help="lscc --tile for the training step: N or HxW, or several, comma-separated (each is "
                         "measured; the first is the one the inference comparison uses)")
    ap.add_argument("--infer-tile", default="4500", help="lscc --tile for inference (N or HxW)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads and OMP_NUM_THREADS")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--repeat", type=int, default=1,
                    help="steps per measurement, in one process; the fastest is reported (default 1: one cold step)")
    ap.add_argument("--lscc", help="an lscc binary (default: build ./build in Release)")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench"),
                    help="where generated code and its builds go (default build/bench)")
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "build", "models"),
                    help="where the ONNX exports go (default build/models, shared with scripts/run.sh)")
    ap.add_argument("--mem-fraction", type=float, default=0.85,
                    help="run PyTorch only where its predicted peak is under this fraction of MemAvailable")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds per measurement (0: none)")
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: print the tables and redraw the plot from OUT/results.csv")
    ap.add_argument("--torch-child", nargs=7, metavar=("MODEL", "SIZE", "MODE", "BATCH", "THREADS", "LR", "REPEAT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_child:
        m, s, mode, b, t, lr, rep = args.torch_child
        torch_child(m, int(s), mode, int(b), int(t), float(lr), int(rep))
        return
    if args.report_only:
        args.out = os.path.abspath(args.out)
        bench = load_csv(args)
        report(args, bench, [f"cpu_bench --report-only: {nice_path(bench.csv_path)}"])
        plot(args, bench)
        return
    if args.quick:
        args.models, args.sizes = "resnet18", "512,1024"
    args.models = [m for m in args.models.split(",") if m]
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s})
    args.train_tiles = [t for t in args.train_tile.split(",") if t]
    for t in args.train_tiles + [args.infer_tile]:
        if not all(x.isdigit() and int(x) > 0 for x in t.split("x")) or t.count("x") > 1:
            ap.error(f"a tile is N or HxW, not '{t}'")
    args.out = os.path.abspath(args.out)
    os.makedirs(os.path.join(args.out, "logs"), exist_ok=True)
    global BUILD_LOG
    BUILD_LOG = os.path.join(args.out, "logs", "build.log")
    open(BUILD_LOG, "w").close()
    total_mb = meminfo_mb("MemTotal")
    args.guard_mb = max(1536.0, 0.07 * total_mb)   # kill a child when MemAvailable drops under this

    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(args.threads)
    if not env.get("OPENBLAS_CORETYPE") and has_avx2():
        env["OPENBLAS_CORETYPE"] = "Haswell"   # as scripts/test.sh: OpenBLAS 0.3.21 misdetects recent Xeons
    os.environ.update({k: env[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE") if k in env})

    lscc = build_lscc(args)
    os.makedirs(args.models_dir, exist_ok=True)
    sh([PY, os.path.join(ROOT, "tests", "python", "export_models.py"), args.models_dir] + args.models)
    version = subprocess.run([lscc, "--version"], capture_output=True, text=True).stdout.strip()
    # the driver itself stays small (no torch import): its children are forked from it
    tv = subprocess.run([PY, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    header = [f"cpu_bench {datetime.datetime.now().isoformat(timespec='seconds')}",
              f"  cpu: {cpu_name()}, {os.cpu_count()} cores, MemTotal {total_mb / 1024:.1f} GiB, "
              f"MemAvailable {meminfo_mb('MemAvailable') / 1024:.1f} GiB",
              f"  threads {args.threads} (OMP_NUM_THREADS={env['OMP_NUM_THREADS']}, "
              f"OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '')}), batch {args.batch}",
              f"  {version or lscc}; PyTorch {tv.stdout.strip() or 'not found'}",
              f"  lscc tiles: training --tile {args.train_tile}, inference --tile {args.infer_tile}"]
    exes = {}
    for model in args.models:
        onnx_path = os.path.join(args.models_dir, model + ".onnx")
        for mode, tile in [("train", t) for t in args.train_tiles] + [("infer", args.infer_tile)]:
            exe, plan = build_model(args, lscc, onnx_path, model, tile)
            exes[model, mode, tile] = exe
            header.append(f"  {model} {mode}: " + "; ".join(plan))
    print("\n".join(header))
    print(f"  results in {nice_path(args.out)}; each child's stderr in {nice_path(args.out)}/logs")

    bench = Bench(args)
    t_start = time.monotonic()
    for model in args.models:
        points = {"train": [], "infer": []}
        for side in args.sizes:
            if not args.skip_torch:
                run_torch(args, env, bench, model, side, "train", points["train"])
                if args.torch_infer:
                    run_torch(args, env, bench, model, side, "infer", points["infer"])
            for mode, tile in [("train", t) for t in args.train_tiles] + [("infer", args.infer_tile)]:
                run_lscc(args, env, bench, model, side, mode, exes[model, mode, tile], tile)
    print(f"cpu_bench: {time.monotonic() - t_start:.0f} s of measurements; wrote {nice_path(bench.csv_path)}")
    report(args, bench, header)
    plot(args, bench)


if __name__ == "__main__":
    main()
