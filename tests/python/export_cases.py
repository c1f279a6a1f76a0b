#!/usr/bin/python3
"""Models and onnxruntime checks for `lscc export` (tests/test_export.c).

usage: export_cases.py make  CASE DIR
       export_cases.py check CASE DIR BN_LEFT

make writes
  DIR/model.onnx          the case's model, opset 14, input "image" (N, H, W dynamic),
                          output "output"; BatchNorm kept as nodes (training=PRESERVE,
                          eval mode) so that lscc folds them (or trains them)
  DIR/resaved.onnx        the same model with another doc_string: same layout, other
                          model checksum (lscc export refuses it without --force)
  DIR/external.onnx       (case shared) the resaved model with its initializers in
                          DIR/external.data
  DIR/x.npy               training input (float32 values)
  DIR/g.npy               dL/d(output) for the training step, float64
  DIR/x2.npy              evaluation input (float32 values, another draw)

check compares, on x2,
  onnxruntime(DIR/exported.onnx)  with the generated code's output with the trained
                                  weights (DIR/out_trained/output.npy),
  onnxruntime(DIR/untrained.onnx) with its output with the weights lscc wrote
                                  (DIR/out_untrained/output.npy) and with
                                  onnxruntime(DIR/model.onnx),
each as max|a - b| / max|b| <= 1e-5, and DIR/from_external.onnx (when there: the
export of external.onnx, with its data inlined) with exported.onnx (equal). It also checks that training changed the
outputs (>= 1e-3 relative: the comparison above can fail) and some initializers,
that every initializer keeps its data type, and the graph's form: BN_LEFT
BatchNormalization nodes left in the exports ("all": as many as the model had,
with --train-bn-affine; a number: those lscc could not fold, the others are
folded into their Conv; "none": the model has none).
One summary line goes to stdout; a failed check exits 1.

Cases
  resnet18  torchvision resnet18 (10 classes), random BatchNorm statistics and affine
            parameters (folding is not trivial), Linear head (Gemm, transB).
  shared    a small net at PyTorch's default initialization: equal BatchNorm
            parameters and zero-initialized conv biases are deduplicated by the exporter
            into one initializer read through Identity nodes (also shared with a
            BatchNorm's running mean), a Conv without bias before a BatchNorm (folding
            adds a bias), a BatchNorm after a conv with a shared bias (not folded, frozen),
            and a Linear head.
  layernorm the zoo's syn_layernorm (channels-last LayerNorm and Linear layers in the
            backbone) exported without constant folding: Linear weights are read through
            Transpose(W) nodes, and lscc trains W itself.
"""
import os
import sys
import warnings

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

TOL = 1e-5
SIZES = {"resnet18": (1, 96, 128), "shared": (2, 61, 75), "layernorm": (1, 67, 53)}


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv3 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.bn3 = nn.BatchNorm2d(8)
        self.conv4 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16, 5)
        nn.init.zeros_(self.conv2.bias)
        nn.init.zeros_(self.conv3.bias)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.conv2(x))
        x = F.relu(self.bn3(self.conv3(x)))
        x = self.conv4(x)
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.fc(torch.flatten(x, 1))


def build(case):
    torch.manual_seed(5)
    if case == "shared":
        return Shared().eval()
    if case == "layernorm":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import zoo
        return zoo.MODELS["syn_layernorm"]()[0].eval()
    import torchvision.models as tvm
    m = tvm.resnet18(weights=None, num_classes=10)
    g = torch.Generator().manual_seed(7)
    for bn in (x for x in m.modules() if isinstance(x, nn.BatchNorm2d)):
        c = bn.num_features
        with torch.no_grad():
            bn.weight.copy_(torch.rand(c, generator=g) + 0.5)
            bn.bias.copy_(0.1 * torch.randn(c, generator=g))
            bn.running_mean.copy_(0.1 * torch.randn(c, generator=g))
            bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
    return m.eval()


def make(case, d):
    os.makedirs(d, exist_ok=True)
    model = build(case)
    n, h, w = SIZES[case]
    path = os.path.join(d, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.randn(1, 3, 64, 64), path, opset_version=14,
                          input_names=["image"], output_names=["output"],
                          dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}, "output": {0: "N"}},
                          do_constant_folding=case != "layernorm",
                          training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    m.doc_string = "the same model, saved again"
    onnx.save(m, os.path.join(d, "resaved.onnx"))
    if case == "shared":
        onnx.save_model(m, os.path.join(d, "external.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="external.data", size_threshold=0)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((n, 3, h, w)).astype(np.float32)
    x2 = rng.standard_normal((n, 3, h, w)).astype(np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x))
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "x2.npy"), x2)
    np.save(os.path.join(d, "g.npy"), rng.standard_normal(tuple(y.shape)))
    if case == "shared" and not any(nd.op_type == "Identity" for nd in m.graph.node):
        raise SystemExit("shared: the exporter made no Identity aliases (the case tests nothing)")
    if case == "layernorm" and not any(nd.op_type == "Transpose" and nd.input[0].endswith(".weight")
                                       for nd in m.graph.node):
        raise SystemExit("layernorm: no Linear weight is read through Transpose (the case tests nothing)")
    print(f"{case}: exported, output {tuple(y.shape)}, "
          f"{sum(nd.op_type == 'Identity' for nd in m.graph.node)} Identity nodes")


def ort(path, x):
    import onnxruntime as rt
    so = rt.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = rt.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = rt.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0].astype(np.float64)


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def inits(m):
    return {t.name: t for t in m.graph.initializer}


def check(case, d, form):
    x2 = np.load(os.path.join(d, "x2.npy"))
    orig = onnx.load(os.path.join(d, "model.onnx"))
    exp = onnx.load(os.path.join(d, "exported.onnx"))
    unt = onnx.load(os.path.join(d, "untrained.onnx"))
    for m in (exp, unt):
        onnx.checker.check_model(m)
    y_tr = np.load(os.path.join(d, "out_trained", "output.npy"))
    y_un = np.load(os.path.join(d, "out_untrained", "output.npy"))
    e_tr = rel(ort(os.path.join(d, "exported.onnx"), x2), y_tr)
    e_un = rel(ort(os.path.join(d, "untrained.onnx"), x2), y_un)
    e_orig = rel(ort(os.path.join(d, "untrained.onnx"), x2), ort(os.path.join(d, "model.onnx"), x2))
    moved = rel(y_tr, y_un)
    fails = []
    ext = os.path.join(d, "from_external.onnx")
    if os.path.exists(ext):
        e_ext = rel(ort(ext, x2), ort(os.path.join(d, "exported.onnx"), x2))
        if e_ext != 0:
            fails.append(f"the export of external.onnx differs from exported.onnx by {e_ext:.3g}")
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in onnx.load(ext).graph.initializer):
            fails.append("the export of external.onnx still refers to external data")
    for what, e in (("exported vs generated code (trained)", e_tr),
                    ("untrained export vs generated code", e_un),
                    ("untrained export vs the original model", e_orig)):
        if not e <= TOL:
            fails.append(f"{what}: {e:.3g} > {TOL}")
    if not moved >= 1e-3:
        fails.append(f"training moved the output by only {moved:.3g}")
    ie, iu, io = inits(exp), inits(unt), inits(orig)
    changed = sum(1 for k, t in ie.items() if k in iu and not np.array_equal(
        onnx.numpy_helper.to_array(t), onnx.numpy_helper.to_array(iu[k])))
    if changed == 0:
        fails.append("no initializer differs between the trained and the untrained export")
    for k, t in ie.items():
        if k in io and t.data_type != io[k].data_type:
            fails.append(f"initializer {k} changed its data type")
    nbn = [sum(nd.op_type == "BatchNormalization" for nd in m.graph.node) for m in (orig, exp, unt)]
    want = nbn[0] if form == "all" else 0 if form == "none" else int(form)
    if (nbn[0] == 0) != (form == "none") or (form not in ("all", "none") and nbn[0] <= want) or \
            nbn[1] != want or nbn[2] != want:
        fails.append(f"BatchNormalization nodes: model {nbn[0]}, exports {nbn[1]}, {nbn[2]} (want {want} left)")
    print(f"{case} (BatchNorm left: {form}): max|a-b|/max|b| on the output: trained export vs generated code {e_tr:.2e}, "
          f"untrained export vs generated code {e_un:.2e}, vs the original model {e_orig:.2e}; "
          f"training moved the output by {moved:.2e}; {changed} initializers trained; "
          f"BatchNormalization nodes {nbn[0]} -> {nbn[1]}; initializers {len(io)} -> {len(ie)}")
    for f in fails:
        print("FAIL:", f)
    return 1 if fails else 0


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in ("make", "check") or sys.argv[2] not in SIZES:
        print(__doc__)
        sys.exit(2)
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "0"))
