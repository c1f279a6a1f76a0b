#!/usr/bin/python3
"""Exports torchvision's ResNet-18 with a 2-class head (or CLASSES), random
initial weights (seeded), to ONNX for examples/train (and, with 1000
classes, for the main job, scripts/run.sh).

usage: export_resnet18.py OUT.onnx [SEED] [CLASSES]

Eval mode: BatchNorm's running statistics (mean 0, variance 1 at
initialization) are frozen and folded into the convolutions by lscc, which
then trains the folded weights and biases. The BatchNormalization nodes are
kept in the file (TrainingMode.PRESERVE, no constant folding): PyTorch's own
folding at export gives all convolutions of one width the same bias tensor
(equal values are deduplicated into Identity aliases of one initializer),
which lscc would then train as one shared parameter. Input "image" with
dynamic N, H and W.
"""
import sys
import warnings

import torch
import torchvision

out = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
classes = int(sys.argv[3]) if len(sys.argv) > 3 else 2
torch.manual_seed(seed)
model = torchvision.models.resnet18(num_classes=classes).eval()
x = torch.zeros(1, 3, 224, 224)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(model, x, out, opset_version=14, input_names=["image"], output_names=["output"],
                      dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}, "output": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
print(f"wrote {out}: resnet18, {classes} classes, random init (seed {seed})")
