#!/usr/bin/python3
"""The same model with hostile names, for lscc's name-escaping tests (issue 7).

usage: make_hostile.py MODEL.onnx OUTDIR
       make_hostile.py --check OUTDIR RUNNER_OUT

The first form writes OUTDIR/hostile.onnx: MODEL.onnx (its graph, weights
and shapes unchanged) with every tensor, initializer, node, input and output
name, the graph name and the doc strings replaced by names that break naive
C emitters: quotes, comment ends, backslashes, newlines, #define lines, C
keywords and the generated API's own identifiers, printf formats, trigraphs,
non-ASCII, two 10 000-character names that differ only in their last
character, and groups of names that sanitize to the same identifier
("conv-w", "conv.w", "conv/w", "conv w"). OUTDIR/names.json maps each
original initializer name to its hostile one; OUTDIR/ort_output.npy is
onnxruntime's forward output of hostile.onnx on OUTDIR/../x.npy when given.

The second form checks the runner's output directory RUNNER_OUT of the code
generated from hostile.onnx: every parameter it reports carries its hostile
ONNX name byte for byte, and its output matches onnxruntime's on the hostile
model (float32 reference: 1e-5 relative to max |output|). Exit status 1 when
a check fails.
"""
import json
import os
import sys

import numpy as np
import onnx

LONG = "a" * 9999
BASE = [
    '"quoted"', "ends */ comment /* opens", "back\\slash\\", "new\nline\r\n", "#define x 1",
    "#include <stdlib.h>", "int", "return", "_Bool", "main", "__reserved", "_Upper", "9starts_digit",
    "caf\u00e9 \u65e5\u672c", "??=trigraph??/", "...", "\t", LONG + "1", LONG + "2",
    "conv-w", "conv.w", "conv/w", "conv w", "conv_w", "net_create", "hostile_create", "hostile_ctx",
    "lscc_rt_init", "NULL", "EOF", "%s%n%x", "x", "X", "x_", "_x", "'single'", "a\\\"b*/c//d",
    "\u00e9\u0301 combining", "emoji \U0001F600", "}; int evil(void) { return 1; } //",
]


def hostile_names(count):
    """count distinct hostile strings."""
    out = []
    k = 0
    while len(out) < count:
        base = BASE[k % len(BASE)]
        out.append(base if k < len(BASE) else f"{base}\n#{k // len(BASE)} */")
        k += 1
    return out


def make(src, outdir):
    m = onnx.load(src)
    g = m.graph
    names = []
    for t in list(g.input) + list(g.initializer) + list(g.output):
        names.append(t.name)
    for n in g.node:
        names += [x for x in list(n.input) + list(n.output) if x]
    order = list(dict.fromkeys(names))
    new = dict(zip(order, hostile_names(len(order) + len(g.node))))
    node_names = hostile_names(len(order) + len(g.node))[len(order):]
    ren = lambda s: new.get(s, s) if s else s
    for t in list(g.input) + list(g.output) + list(g.value_info):
        t.name = ren(t.name)
        t.doc_string = "*/ #error doc"
    for t in g.initializer:
        t.name = ren(t.name)
    for i, n in enumerate(g.node):
        n.input[:] = [ren(x) for x in n.input]
        n.output[:] = [ren(x) for x in n.output]
        n.name = node_names[i]
        n.doc_string = "doc */ \\ \"\n"
    g.name = '*/ #define lscc 1 /* "graph"'
    m.doc_string = "model \\\" */"
    m.producer_name = "producer */ \"\\"
    os.makedirs(outdir, exist_ok=True)
    onnx.save(m, os.path.join(outdir, "hostile.onnx"))
    init = {t: new[t] for t in order if t in {i.name for i in onnx.load(src).graph.initializer}}
    with open(os.path.join(outdir, "names.json"), "w") as f:
        json.dump(init, f)
    x_path = os.path.join(os.path.dirname(os.path.abspath(src)), "x.npy")
    if os.path.exists(x_path):
        import onnxruntime as ort
        s = ort.InferenceSession(os.path.join(outdir, "hostile.onnx"), providers=["CPUExecutionProvider"])
        x = np.load(x_path).astype(np.float32)
        y = s.run(None, {s.get_inputs()[0].name: x})[0]
        np.save(os.path.join(outdir, "ort_output.npy"), y.astype(np.float64))
    print(f"hostile.onnx: {len(order)} tensors and {len(g.node)} nodes renamed")


def check(outdir, run_out):
    want = set(json.load(open(os.path.join(outdir, "names.json"))).values())
    got = json.load(open(os.path.join(run_out, "params.json")))
    got = {v["name"] if isinstance(v, dict) else v for v in got.values()}
    bad = [n for n in got if n not in want]
    if bad or not got:
        print("parameters with names that are not the model's:", [n[:40] for n in bad], "of", len(got))
        return 1
    y = np.load(os.path.join(run_out, "output.npy"))
    ref = np.load(os.path.join(outdir, "ort_output.npy"))
    err = float(np.max(np.abs(y - ref)) / max(np.max(np.abs(ref)), 1e-30))
    print(f"hostile names: {len(got)} parameters named byte for byte; output vs onnxruntime: {err:.2e}")
    return 0 if err < 1e-5 else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    make(sys.argv[1], sys.argv[2])
