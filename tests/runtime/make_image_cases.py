#!/usr/bin/env python3
"""Writes the cases of tests/runtime/test_image.c (image sources) into DIR.

For each case NAME: NAME.npy (the image, n x c x h x w, planar), NAME_nhwc.npy
(the same samples channels-last), raw files NAME.nchw.raw and NAME.nhwc.raw
(the samples behind a header of `offset` bytes of junk, an odd number so that
float samples are unaligned), and NAME_norm_f32.npy / NAME_norm_f64.npy:
((x.astype(float64) * scale - mean[c]) / std[c]) cast to the type, computed
by NumPy, the values every source must give bit for bit. norm.npy holds
[scale, 0...], mean[16], std[16] as a 3 x 16 float64 array. cases.txt lists
NAME DTYPE N C H W OFFSET. The TIFF files are written by the C test through
libtiff from these arrays (Python here has no TIFF writer), so the expected
pixel values still come from NumPy. big_tail.npy and big_tiles.npy hold the
random data that the > 4 GiB sparse files carry."""
import os
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261123)

scale = 1.0 / 255.0
mean = rng.uniform(-0.5, 1.0, 16)
mean[:3] = [0.485, 0.456, 0.406]
std = rng.uniform(0.1, 2.0, 16)
std[:3] = [0.229, 0.224, 0.225]
norm = np.zeros((3, 16))
norm[0, 0] = scale
norm[1] = mean
norm[2] = std
np.save(os.path.join(out, "norm.npy"), norm)

cases = [
    # name, dtype, n, c, h, w
    ("u8c1", np.uint8, 1, 1, 77, 93),
    ("u8c3", np.uint8, 1, 3, 61, 130),
    ("u8c4", np.uint8, 1, 4, 45, 51),
    ("u8n2", np.uint8, 2, 3, 37, 29),
    ("f32c1", np.float32, 1, 1, 50, 41),
    ("f32c3", np.float32, 1, 3, 33, 70),
    ("f64c2", np.float64, 1, 2, 29, 35),
    ("u8c5", np.uint8, 1, 5, 19, 23),
]
lines = []
for k, (name, dt, n, c, h, w) in enumerate(cases):
    if dt == np.uint8:
        x = rng.integers(0, 256, (n, c, h, w), dtype=np.uint8)
    else:
        x = (rng.standard_normal((n, c, h, w)) * 100).astype(dt)
        x.flat[0] = 0.0
        x.flat[1] = -0.0
        x.flat[2] = 1e-30 if dt == np.float32 else 1e-300
    np.save(os.path.join(out, name + ".npy"), x)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    np.save(os.path.join(out, name + "_nhwc.npy"), nhwc)
    offset = 13 + 2 * k
    junk = rng.integers(0, 256, offset, dtype=np.uint8).tobytes()
    for lay, arr in (("nchw", x), ("nhwc", nhwc)):
        with open(os.path.join(out, "%s.%s.raw" % (name, lay)), "wb") as f:
            f.write(junk)
            f.write(arr.tobytes())
    m = mean[:c].reshape(1, c, 1, 1)
    s = std[:c].reshape(1, c, 1, 1)
    y = (x.astype(np.float64) * scale - m) / s
    np.save(os.path.join(out, name + "_norm_f64.npy"), y)
    np.save(os.path.join(out, name + "_norm_f32.npy"), y.astype(np.float32))
    lines.append("%s %s %d %d %d %d %d" % (name, np.dtype(dt).name, n, c, h, w, offset))

# A raw file one sample short of u8c3 (truncated).
x = np.load(os.path.join(out, "u8c3.npy"))
with open(os.path.join(out, "short.raw"), "wb") as f:
    f.write(x.tobytes()[:-1])
with open(os.path.join(out, "not_a_tiff.tif"), "wb") as f:
    f.write(b"This is not a TIFF file, just text.\n" * 10)

np.save(os.path.join(out, "big_tail.npy"), rng.integers(0, 256, (4, 40000, 3), dtype=np.uint8))
np.save(os.path.join(out, "big_tiles.npy"), rng.integers(0, 256, (512, 512), dtype=np.uint8))

with open(os.path.join(out, "cases.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
