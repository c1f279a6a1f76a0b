#!/usr/bin/python3
"""Write malformed ONNX models for lscc's loader robustness tests.

usage: make_malformed.py OUTDIR

Writes OUTDIR/<case>.onnx for every case and OUTDIR/malformed.list with one
line per case:  <case> TAB <expected category>, where the category is
  invalid      not a well-formed / consistent ONNX model
  unsupported  well-formed, but uses something lscc cannot handle
The models are built with onnx.helper and never passed through the checker
(most of them would not pass it).
"""
import os
import warnings
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 14
rng = np.random.default_rng(1234)


def weight(name, shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def image(dims):
    return helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)


def output(dims=("N", "C", "H", "W")):
    return helper.make_tensor_value_info("output", TensorProto.FLOAT, list(dims))


def conv(name, x, w, y, k=3, pad=1, **attrs):
    return helper.make_node("Conv", [x, w], [y], name=name, kernel_shape=[k, k],
                            pads=[pad] * 4, strides=[1, 1], **attrs)


def model(nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, "malformed", inputs, outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                             producer_name="lscc-tests")


def conv_net(dims=("N", 3, "H", "W")):
    """A small valid net: Conv 3->8, Relu, Conv 8->4."""
    nodes = [conv("conv1", "image", "w1", "c1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             conv("conv2", "r1", "w2", "output")]
    inits = [weight("w1", (8, 3, 3, 3)), weight("w2", (4, 8, 3, 3))]
    return model(nodes, [image(list(dims))], [output()], inits)


def cases():
    """Yields (case, category, bytes)."""
    valid = conv_net()
    onnx.checker.check_model(valid)     # the base really is valid
    raw = valid.SerializeToString()
    yield "truncated", "invalid", raw[: len(raw) * 6 // 10]
    yield "not_onnx", "invalid", b"this is a text file, not an ONNX model\n" * 4
    yield "empty", "invalid", b""

    # Relu a reads b, Relu b reads a: a cycle, so no topological order.
    nodes = [conv("conv1", "image", "w1", "c1"),
             helper.make_node("Relu", ["loop_b"], ["loop_a"], name="relu_a"),
             helper.make_node("Relu", ["loop_a"], ["loop_b"], name="relu_b"),
             helper.make_node("Add", ["c1", "loop_a"], ["output"], name="add")]
    yield "cyclic", "invalid", model(nodes, [image(["N", 3, "H", "W"])], [output()],
                                     [weight("w1", (8, 3, 3, 3))]).SerializeToString()

    # Unknown op type in the default domain (twice, both should be reported).
    nodes = [conv("conv1", "image", "w1", "c1"),
             helper.make_node("FooBar", ["c1"], ["f1"], name="foo_1"),
             helper.make_node("Relu", ["f1"], ["r1"], name="relu1"),
             helper.make_node("FooBar", ["r1"], ["f2"], name="foo_2"),
             conv("conv2", "f2", "w2", "output")]
    inits = [weight("w1", (8, 3, 3, 3)), weight("w2", (4, 8, 3, 3))]
    yield "unknown_op", "unsupported", model(nodes, [image(["N", 3, "H", "W"])], [output()],
                                             inits).SerializeToString()

    yield "negative_dim", "invalid", conv_net((1, 3, -5, 32)).SerializeToString()
    # 2**62 is a legal int64 dim, but 3 * 2**62 elements overflow int64.
    yield "absurd_dim", "unsupported", conv_net((1, 3, 2 ** 62, 32)).SerializeToString()
    # A zero-sized dim is legal ONNX, but there is nothing to stream.
    yield "zero_dim", "unsupported", conv_net((1, 3, 0, 32)).SerializeToString()

    # kernel_shape [0, -3] disagrees with the 8x3x3x3 weight.
    nodes = [helper.make_node("Conv", ["image", "w1"], ["output"], name="bad_conv",
                              kernel_shape=[0, -3], pads=[1, 1, 1, 1], strides=[1, 1])]
    yield "bad_kernel", "invalid", model(nodes, [image(["N", 3, "H", "W"])], [output()],
                                         [weight("w1", (8, 3, 3, 3))]).SerializeToString()

    # relu1 reads "ghost", which no node, input or initializer produces.
    nodes = [conv("conv1", "image", "w1", "c1"),
             helper.make_node("Add", ["c1", "ghost"], ["a1"], name="add_ghost"),
             helper.make_node("Relu", ["a1"], ["output"], name="relu1")]
    yield "missing_input", "invalid", model(nodes, [image(["N", 3, "H", "W"])], [output()],
                                            [weight("w1", (8, 3, 3, 3))]).SerializeToString()

    # Rank-40 input through a Relu: legal ONNX, not an image.
    nodes = [helper.make_node("Relu", ["image"], ["output"], name="relu1")]
    yield "huge_rank", "unsupported", model(nodes, [image([1] * 40)], [output([1] * 40)],
                                            []).SerializeToString()

    # Two nodes write "c1": breaks ONNX's single-assignment rule.
    nodes = [conv("conv1", "image", "w1", "c1"),
             conv("conv1_again", "image", "w2", "c1"),
             helper.make_node("Relu", ["c1"], ["output"], name="relu1")]
    inits = [weight("w1", (8, 3, 3, 3)), weight("w2", (8, 3, 3, 3))]
    yield "dup_output", "invalid", model(nodes, [image(["N", 3, "H", "W"])], [output()],
                                         inits).SerializeToString()

    # Sizes (issue 7): products of dims that overflow int64 / size_t, sizes
    # that are each legal but absurd together, and empty tensors.
    nchw = [image(["N", 3, "H", "W"])]
    yield "overflow_image", "unsupported", conv_net((2 ** 40, 3, 2 ** 40, 2 ** 40)).SerializeToString()
    yield "zero_batch", "unsupported", conv_net((0, 3, 64, 64)).SerializeToString()
    yield "zero_channels", "unsupported", conv_net(("N", 0, "H", "W")).SerializeToString()
    # Conv with 0 output channels: every later tensor would be empty.
    nodes = [conv("conv1", "image", "w1", "output")]
    yield "zero_weight", "unsupported", model(nodes, nchw, [output()],
                                              [weight("w1", (0, 3, 3, 3))]).SerializeToString()
    # A weight of 2^62 x 4 x 2^62 x 3 elements (the product overflows)
    # holding 16 bytes.
    w = onnx.TensorProto(name="w1", data_type=TensorProto.FLOAT, dims=[2 ** 62, 4, 2 ** 62, 3],
                         raw_data=bytes(16))
    yield "overflow_weight", "invalid", model(nodes, nchw, [output()], [w]).SerializeToString()
    # A weight of 2^33 x 2^33 x 3 x 3 elements (the product wraps to 0 in
    # 64 bits) with no data: used by the Conv, then unused beside a good one.
    w = onnx.TensorProto(name="w1", data_type=TensorProto.FLOAT, dims=[2 ** 33, 2 ** 33, 3, 3])
    yield "huge_weight_no_data", "invalid", model(nodes, nchw, [output()], [w]).SerializeToString()
    w.name = "unused"
    yield "wrapping_count", "invalid", model(nodes, nchw, [output()],
                                             [weight("w1", (8, 3, 3, 3)), w]).SerializeToString()
    # Reshape of 1 x 8 x 32 x 32 to (2^31)^4: each dim legal, 2^124 elements.
    shp = helper.make_tensor("shp", TensorProto.INT64, [4], [2 ** 31] * 4)
    nodes = [conv("conv1", "image", "w1", "c1"),
             helper.make_node("Reshape", ["c1", "shp"], ["output"], name="r")]
    yield "huge_reshape", "unsupported", model(nodes, [image([1, 3, 32, 32])], [output()],
                                               [weight("w1", (8, 3, 3, 3)), shp]).SerializeToString()
    # Pads, strides, dilations, kernels and groups near int64's limit.
    huge = 2 ** 62
    for case, attrs in (("huge_pads", dict(kernel_shape=[3, 3], pads=[huge] * 4)),
                        ("huge_stride", dict(kernel_shape=[3, 3], strides=[huge] * 2, dilations=[huge] * 2)),
                        ("huge_group", dict(kernel_shape=[3, 3], pads=[1] * 4, group=2 ** 40))):
        nodes = [helper.make_node("Conv", ["image", "w1"], ["output"], name="c", **attrs)]
        yield case, "invalid", model(nodes, nchw, [output()], [weight("w1", (8, 3, 3, 3))]).SerializeToString()
    nodes = [helper.make_node("MaxPool", ["image"], ["output"], name="p", kernel_shape=[2 ** 40, 2 ** 40])]
    yield "huge_pool", "invalid", model(nodes, nchw, [output()], []).SerializeToString()

def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    lines = []
    for case, category, data in cases():
        with open(os.path.join(outdir, case + ".onnx"), "wb") as f:
            f.write(data)
        lines.append(f"{case}\t{category}\n")
        # For information only: what the ONNX library itself says.
        try:
            with warnings.catch_warnings():     # protobuf warns on garbage
                warnings.simplefilter("ignore")
                onnx.checker.check_model(onnx.load_from_string(data))
            verdict = "passes onnx.checker"
        except Exception as e:   # parse errors and checker errors alike
            verdict = f"{type(e).__name__}: {str(e).splitlines()[0][:90]}"
        print(f"{case:14s} {category:12s} {len(data):6d} bytes  {verdict}")
    with open(os.path.join(outdir, "malformed.list"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main(sys.argv)
