#!/usr/bin/python3
"""Builds the small ONNX files the reader tests use, with python3-onnx, and a text summary of
what python3-onnx itself reads from each (the oracle the C++ reader is compared with).
Run with Debian's /usr/bin/python3 (python3-onnx, python3-numpy)."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)


def summarise(model_path):
    """One line per fact, numbers as %.17g: the C++ test prints the same lines from its reader."""
    m = onnx.load(model_path)  # loads external data too
    g = m.graph
    num = lambda v: "%.17g" % float(v)
    lines = ["ir_version %d" % m.ir_version,
             "opset %d" % [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]]

    def vi(kind, v):
        t = v.type.tensor_type
        dims = ",".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim)
        lines.append("%s %s elem=%d shape=%s dims=%s" % (kind, v.name, t.elem_type, int(t.HasField("shape")), dims))

    for v in g.input:
        vi("input", v)
    for v in g.output:
        vi("output", v)
    for i, n in enumerate(g.node):
        lines.append("node %d %s name=%s in=%s out=%s" % (i, n.op_type, n.name, ",".join(n.input), ",".join(n.output)))
        for a in n.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                text = "s " + v.decode()
            elif isinstance(v, onnx.TensorProto):
                text = "t %d %s" % (v.data_type, " ".join(num(x) for x in numpy_helper.to_array(v).ravel()))
            elif isinstance(v, float):
                text = "f " + num(v)
            elif isinstance(v, int):
                text = "i %d" % v
            elif all(isinstance(x, bytes) for x in v):
                text = "strings " + " ".join(x.decode() for x in v)
            elif all(isinstance(x, int) for x in v):
                text = "ints " + " ".join(str(x) for x in v)
            else:
                text = "floats " + " ".join(num(x) for x in v)
            lines.append("attr %d %s %s" % (i, a.name, text))
    for t in g.initializer:
        arr = numpy_helper.to_array(t)
        lines.append("init %s type=%d dims=%s values=%s" % (t.name, t.data_type, ",".join(str(d) for d in t.dims),
                                                              " ".join(num(x) for x in arr.ravel())))
    return "\n".join(lines) + "\n"


def tiny():
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    shape = np.array([1, -1], dtype=np.int64)
    inits = [
        numpy_helper.from_array(w, "conv.w"),  # raw_data
        helper.make_tensor("conv.b", TensorProto.FLOAT, [4], b.tolist()),  # float_data
        helper.make_tensor("shape", TensorProto.INT64, [2], shape.tolist()),  # int64_data
        helper.make_tensor("half", TensorProto.FLOAT16, [2], [1.5, -2.25]),
        helper.make_tensor("flag", TensorProto.BOOL, [3], [True, False, True]),
        helper.make_tensor("i8", TensorProto.INT8, [2], [-7, 5]),
        helper.make_tensor("dbl", TensorProto.DOUBLE, [2], [0.25, -1e300]),
        helper.make_tensor("scalar", TensorProto.FLOAT, [], [3.0]),
        helper.make_tensor("empty", TensorProto.FLOAT, [0, 3], []),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv.w", "conv.b"], ["c"], name="conv0", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[1, 1], dilations=[1, 1], group=1),
        helper.make_node("LeakyRelu", ["c"], ["r"], alpha=0.125),
        helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.array([2.0, 4.0], np.float32))),
        helper.make_node("Reshape", ["r", "shape"], ["y"]),
        helper.make_node("Pad", ["x", "", ""], ["p"], mode="reflect"),
        helper.make_node("Split", ["r"], ["s0", "s1"], axis=1, split=[1, 3]),
        helper.make_node("Identity", ["s0"], ["z"], name=""),
    ]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 5, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None]),
                               helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], inits)
    graph.node[6].attribute.extend([helper.make_attribute("names", ["a", "bc"]), helper.make_attribute("fs", [0.5, 1.5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="mixq-fixture")
    model.ir_version = 6
    onnx.save(model, os.path.join(HERE, "tiny.onnx"))


def external():
    w = rng.standard_normal((8, 16)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "ext",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 16])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, os.path.join(HERE, "external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="external.onnx.data", size_threshold=0)


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--summary":
        main_summary(sys.argv[2])
        sys.exit(0)
    tiny()
    external()
    for name in ("tiny", "external"):
        with open(os.path.join(HERE, name + ".summary"), "w") as f:
            f.write(summarise(os.path.join(HERE, name + ".onnx")))


def main_summary(path):
    """`make_fixtures.py --summary model.onnx`: print the summary of any model (used by the
    integration test that checks the reader on real models)."""
    print(summarise(path), end="")
