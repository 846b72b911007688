#!/usr/bin/python3
"""Writes the end-to-end model fixtures of mixq's integration tests.

For each model NAME, next to this script:
  NAME.mlir                     TPU-MLIR TOP dialect, the layout model_transform writes (generic op
                                form, `loc(#locN)` aliases at the end, fused locs for multi-result ops)
  NAME_top_f32_all_weight.npz   weights keyed by top.Weight loc name (float32)
  NAME_in_f32.npz               inputs keyed by input name
  NAME_expected.npz             the function's results keyed by output name, in return order
  NAME_all_expected.npz         every tensor of the graph (inputs and op results; not weights)
Plus errors/ (broken models for the error-path tests) and npz_tool/ (small npz files).

The expected values come from the plain float64 numpy code below, written from the op definitions
(TopOps.td), not from mixq: it is the independent oracle. Run with /usr/bin/python3 (numpy only);
seeds are fixed and zip timestamps pinned, so re-running reproduces the same bytes.
"""
import contextlib
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------------------------
# MLIR text
# ----------------------------------------------------------------------------------------------

class I64:
    def __init__(self, v): self.v = int(v)
    def text(self): return f"{self.v} : i64"


class SI32:
    def __init__(self, v): self.v = int(v)
    def text(self): return f"{self.v} : si32"


def f64_text(v):
    """MLIR prints a float with 6 digits when that round-trips, else in full."""
    v = float(v)
    short = "%.6e" % v
    return short if float(short) == v else repr(v)


class F64:
    def __init__(self, v): self.v = float(v)
    def text(self): return f"{f64_text(self.v)} : f64"


class I64s:
    def __init__(self, v): self.v = [int(x) for x in v]
    def text(self): return "[" + ", ".join(str(x) for x in self.v) + "]"


class F64s:
    def __init__(self, v): self.v = [float(x) for x in v]
    def text(self): return "[" + ", ".join(f64_text(x) for x in self.v) + "]"


def attr_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v + '"'
    return v.text()


def type_text(shape, dtype):
    if dtype == "none":
        return "none"
    return "tensor<" + "".join(f"{d}x" for d in shape) + dtype + ">"


class Value:
    def __init__(self, ref, name, shape, dtype):
        self.ref, self.name, self.shape, self.dtype = ref, name, tuple(shape), dtype

    @property
    def type(self):
        return type_text(self.shape, self.dtype)


class Module:
    """Builds one TOP-dialect module in TPU-MLIR's printed layout, SSA numbers in order."""

    def __init__(self, name, weight_file=None):
        self.name = name
        self.weight_file = weight_file or f"{name}_top_f32_all_weight.npz"
        self.args = []
        self.body = []
        self.locs = []          # alias texts; #loc1 is locs[0]
        self.fused = []         # fused aliases, printed after the leaf names
        self.next_ssa = 0
        self.weights = {}       # name -> array as stored in the npz
        self.tensors = {}       # every non-weight tensor: name -> float64/int array (filled by callers)
        self.none = None

    def _loc(self, name):
        self.locs.append(f'loc("{name}")')
        return f"#loc{len(self.locs)}"

    def _ssa(self):
        ref = f"%{self.next_ssa}"
        self.next_ssa += 1
        return ref

    def none_op(self):
        ref = self._ssa()
        self.body.append(f'{ref} = "top.None"() : () -> none loc(#loc)')
        self.none = Value(ref, "", (), "none")
        return self.none

    def input(self, name, shape, dtype="f32", attrs=None):
        arg = Value(f"%arg{len(self.args)}", "", shape, dtype)
        self.args.append(arg)
        ref = self._ssa()
        out = Value(ref, name, shape, dtype)
        a = self._attrs(attrs or {})
        self.body.append(f'{ref} = "top.Input"({arg.ref}){a} : ({arg.type}) -> {out.type} loc({self._loc(name)})')
        return out

    def weight(self, name, array, stored_shape=None):
        array = np.asarray(array, dtype=np.float32)
        ref = self._ssa()
        out = Value(ref, name, array.shape, "f32")
        self.weights[name] = array.reshape(stored_shape) if stored_shape is not None else array
        self.body.append(f'{ref} = "top.Weight"() : () -> {out.type} loc({self._loc(name)})')
        return out

    @staticmethod
    def _attrs(attrs):
        if not attrs:
            return ""
        # MLIR keeps an attribute dictionary sorted by name.
        return " {" + ", ".join(f"{k} = {attr_text(attrs[k])}" for k in sorted(attrs)) + "}"

    def op(self, mnemonic, operands, attrs, results, inline_fused_loc=False):
        """results: list of (name, shape[, dtype]); returns one Value or a list for several results."""
        results = [(r[0], tuple(r[1]), r[2] if len(r) > 2 else "f32") for r in results]
        ref = self._ssa()
        ops_text = ", ".join(o.ref for o in operands)
        in_types = ", ".join(o.type for o in operands)
        if len(results) == 1:
            name, shape, dt = results[0]
            outs = [Value(ref, name, shape, dt)]
            lhs, out_types, loc = ref, outs[0].type, self._loc(name)
        else:
            outs = [Value(f"{ref}#{i}", n, s, d) for i, (n, s, d) in enumerate(results)]
            lhs = f"{ref}:{len(results)}"
            out_types = "(" + ", ".join(o.type for o in outs) + ")"
            leaves = ", ".join(self._loc(n) for n, _, _ in results)
            if inline_fused_loc:
                loc = f"fused[{leaves}]"
            else:
                self.fused.append(f"loc(fused[{leaves}])")
                loc = f"#fused{len(self.fused)}"
        self.body.append(f'{lhs} = "{mnemonic}"({ops_text}){self._attrs(attrs)} : ({in_types}) -> {out_types} loc({loc})')
        return outs[0] if len(outs) == 1 else outs

    def ret(self, values):
        self.outputs = list(values)

    def text(self):
        n_leaf = len(self.locs)
        body = []
        for line in self.body:
            # fused aliases are numbered after every leaf name, as MLIR orders them
            for i in range(len(self.fused), 0, -1):
                line = line.replace(f"#fused{i})", f"#loc{n_leaf + i})")
            body.append(line)
        args = ", ".join(f"{a.ref}: {a.type} loc(unknown)" for a in self.args)
        res_types = [v.type for v in self.outputs]
        res_sig = res_types[0] if len(res_types) == 1 else "(" + ", ".join(res_types) + ")"
        lines = ["#loc = loc(unknown)",
                 f'module @{self.name} attributes {{module.chip = "ALL", module.platform = "ONNX", '
                 f'module.state = "TOP_F32", module.top_run_mode = "STATIC", module.weight_file = "{self.weight_file}"}} {{',
                 f"  func.func @main({args}) -> {res_sig} {{"]
        lines += ["    " + b for b in body]
        lines.append("    return " + ", ".join(v.ref for v in self.outputs) + " : " + ", ".join(res_types) + " loc(#loc)")
        lines.append("  } loc(#loc)")
        lines.append("} loc(#loc)")
        for i, l in enumerate(self.locs + self.fused, start=1):
            lines.append(f"#loc{i} = {l}")
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# The oracle: float64, loops written from the op definitions
# ----------------------------------------------------------------------------------------------

def conv2d(x, w, b, strides, pads, group=1, dilations=(1, 1), relu=False):
    """pads = [top, left, bottom, right]; w = [oc, ic/group, kh, kw]."""
    n, c, h, wd = x.shape
    oc, icg, kh, kw = w.shape
    sh, sw = strides
    dh, dw = dilations
    pt, pl, pb, pr = pads
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, oc, oh, ow))
    ocg = oc // group
    for o in range(oc):
        g = o // ocg
        for i in range(icg):
            for ky in range(kh):
                for kx in range(kw):
                    y0, x0 = ky * dh, kx * dw
                    patch = xp[:, g * icg + i, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw]
                    out[:, o] += w[o, i, ky, kx] * patch
        if b is not None:
            out[:, o] += b[o]
    return np.maximum(out, 0) if relu else out


def pool2d(x, kernel, strides, pads, mode):
    """Max or average (padding excluded from the count) over windows."""
    n, c, h, w = x.shape
    kh, kw = kernel
    pt, pl, pb, pr = pads
    oh = (h + pt + pb - kh) // strides[0] + 1
    ow = (w + pl + pr - kw) // strides[1] + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * strides[0] - pt, j * strides[1] - pl
            win = x[:, :, max(y0, 0):min(y0 + kh, h), max(x0, 0):min(x0 + kw, w)]
            out[:, :, i, j] = win.max(axis=(2, 3)) if mode == "max" else win.mean(axis=(2, 3))
    return out


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm(x, w, b, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def matmul(a, b, bias=None, right_transpose=False):
    if right_transpose:
        b = np.swapaxes(b, -1, -2)
    out = np.matmul(a, b)
    return out + bias if bias is not None else out


def f64(a):
    return np.asarray(a, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------

def add_relu():
    """The smallest model (Input, Weight, Add, Relu): the error fixtures are variants of it."""
    rng = np.random.default_rng(100)
    m = Module("add_relu")
    m.none_op()
    x = m.input("x", (2, 4))
    w = m.weight("w", rng.normal(size=4))
    y = m.op("top.Add", [x, w], {"do_relu": False, "relu_limit": F64(-1.0)}, [("y_Add", (2, 4))])
    z = m.op("top.Relu", [y], {"relu_limit": F64(-1.0)}, [("z_Relu", (2, 4))])
    m.ret([z])
    inputs = {"x": rng.normal(size=(2, 4)).astype(np.float32)}
    t = {"x": f64(inputs["x"])}
    t["y_Add"] = t["x"] + f64(m.weights["w"])
    t["z_Relu"] = np.maximum(t["y_Add"], 0)
    return m, inputs, t


def conv_net():
    rng = np.random.default_rng(1)
    m = Module("conv_net")
    none = m.none_op()
    x = m.input("input", (1, 3, 16, 16))
    conv_attrs = lambda k, s, p, g=1, relu=False: {
        "dilations": I64s([1, 1]), "do_relu": relu, "group": I64(g), "kernel_shape": I64s(k), "pads": I64s(p),
        "relu_limit": F64(-1.0), "strides": I64s(s)}
    w1 = m.weight("conv1.weight", rng.normal(0, 0.3, (8, 3, 3, 3)))
    # Stored with another shape than its type (same count), as real weight files may be.
    b1 = m.weight("conv1.bias", rng.normal(0, 0.1, 8), stored_shape=(1, 8, 1, 1))
    c1 = m.op("top.Conv", [x, w1, b1], conv_attrs([3, 3], [1, 1], [1, 1, 1, 1], relu=True), [("conv1_Conv", (1, 8, 16, 16))])
    w2 = m.weight("conv2.weight", rng.normal(0, 0.3, (8, 4, 3, 3)))
    b2 = m.weight("conv2.bias", rng.normal(0, 0.1, 8))
    # Asymmetric pads [top, left, bottom, right] = [1, 0, 0, 1] tell the pad order apart.
    c2 = m.op("top.Conv", [c1, w2, b2], conv_attrs([3, 3], [2, 2], [1, 0, 0, 1], g=2), [("conv2_Conv", (1, 8, 8, 8))])
    wd = m.weight("dw.weight", rng.normal(0, 0.3, (8, 1, 3, 3)))
    dw = m.op("top.Conv", [c2, wd, none], conv_attrs([3, 3], [1, 1], [1, 1, 1, 1], g=8), [("dw_Conv", (1, 8, 8, 8))])
    wp = m.weight("pw.weight", rng.normal(0, 0.3, (8, 8, 1, 1)))
    bp = m.weight("pw.bias", rng.normal(0, 0.1, 8))
    pw = m.op("top.Conv", [dw, wp, bp], conv_attrs([1, 1], [1, 1], [0, 0, 0, 0]), [("pw_Conv", (1, 8, 8, 8))])
    add = m.op("top.Add", [c2, pw], {"do_relu": False, "relu_limit": F64(-1.0)}, [("add_Add", (1, 8, 8, 8))])
    cat = m.op("top.Concat", [add, c2], {"axis": SI32(1), "do_relu": False, "relu_limit": F64(-1.0)},
               [("cat_Concat", (1, 16, 8, 8))])
    pool_attrs = lambda k, s: {"count_include_pad": False, "do_relu": False, "keepdims": True, "kernel_shape": I64s(k),
                               "pad_value": I64(0), "pads": I64s([0, 0, 0, 0]), "relu_limit": F64(-1.0), "strides": I64s(s)}
    mp = m.op("top.MaxPool", [cat], pool_attrs([2, 2], [2, 2]), [("pool_MaxPool", (1, 16, 4, 4))])
    gap = m.op("top.AvgPool", [mp], pool_attrs([4, 4], [1, 1]), [("gap_AvgPool", (1, 16, 1, 1))])
    flat = m.op("top.Reshape", [gap], {"shape": I64s([1, 16])}, [("flat_Reshape", (1, 16))])
    wf = m.weight("fc.weight", rng.normal(0, 0.3, (16, 10)))
    bf = m.weight("fc.bias", rng.normal(0, 0.1, 10))
    fc = m.op("top.MatMul", [flat, wf, bf], {"do_relu": False, "hdim_is_batch": False, "keep_dims": True,
                                             "left_transpose": False, "output_transpose": False,
                                             "relu_limit": F64(-1.0), "right_transpose": False},
              [("fc_MatMul", (1, 10))])
    prob = m.op("top.Softmax", [fc], {"axis": SI32(1), "beta": F64(1.0), "log": False}, [("prob_Softmax", (1, 10))])
    m.ret([prob])

    inputs = {"input": rng.normal(size=(1, 3, 16, 16)).astype(np.float32)}
    W = {k: f64(v) for k, v in m.weights.items()}
    t = {"input": f64(inputs["input"])}
    t["conv1_Conv"] = conv2d(t["input"], W["conv1.weight"], W["conv1.bias"].reshape(8), (1, 1), (1, 1, 1, 1), relu=True)
    t["conv2_Conv"] = conv2d(t["conv1_Conv"], W["conv2.weight"], W["conv2.bias"], (2, 2), (1, 0, 0, 1), group=2)
    t["dw_Conv"] = conv2d(t["conv2_Conv"], W["dw.weight"], None, (1, 1), (1, 1, 1, 1), group=8)
    t["pw_Conv"] = conv2d(t["dw_Conv"], W["pw.weight"], W["pw.bias"], (1, 1), (0, 0, 0, 0))
    t["add_Add"] = t["conv2_Conv"] + t["pw_Conv"]
    t["cat_Concat"] = np.concatenate([t["add_Add"], t["conv2_Conv"]], axis=1)
    t["pool_MaxPool"] = pool2d(t["cat_Concat"], (2, 2), (2, 2), (0, 0, 0, 0), "max")
    t["gap_AvgPool"] = pool2d(t["pool_MaxPool"], (4, 4), (1, 1), (0, 0, 0, 0), "avg")
    t["flat_Reshape"] = t["gap_AvgPool"].reshape(1, 16)
    t["fc_MatMul"] = matmul(t["flat_Reshape"], W["fc.weight"], W["fc.bias"])
    t["prob_Softmax"] = softmax(t["fc_MatMul"], 1)
    return m, inputs, t


def transformer_block():
    rng = np.random.default_rng(2)
    T, D, H, F = 8, 16, 2, 32
    hd = D // H
    m = Module("transformer_block")
    none = m.none_op()
    x = m.input("x", (1, T, D))
    mm = lambda rt=False: {"do_relu": False, "hdim_is_batch": False, "keep_dims": True, "left_transpose": False,
                           "output_transpose": False, "relu_limit": F64(-1.0), "right_transpose": rt}
    ln = lambda: {"axis": SI32(2), "eps": F64(1e-5), "normalized_shape": I64s([D])}
    g1 = m.weight("ln1.weight", 1 + rng.normal(0, 0.1, D))
    be1 = m.weight("ln1.bias", rng.normal(0, 0.1, D))
    ln1 = m.op("top.LayerNorm", [x, g1, be1], ln(), [("/ln1/LayerNormalization_output_0_LayerNorm", (1, T, D))])
    wq = m.weight("onnx::MatMul_101", rng.normal(0, 0.3, (D, D)))
    bq = m.weight("attn.q.bias", rng.normal(0, 0.1, D))
    q = m.op("top.MatMul", [ln1, wq, bq], mm(), [("q_MatMul", (1, T, D))])
    wk = m.weight("onnx::MatMul_102", rng.normal(0, 0.3, (D, D)))
    k = m.op("top.MatMul", [ln1, wk, none], mm(), [("k_MatMul", (1, T, D))])
    wv = m.weight("onnx::MatMul_103", rng.normal(0, 0.3, (D, D)))
    bv = m.weight("attn.v.bias", rng.normal(0, 0.1, D))
    v = m.op("top.MatMul", [ln1, wv, bv], mm(), [("v_MatMul", (1, T, D))])
    heads = {}
    for nm, val in (("q", q), ("k", k), ("v", v)):
        r = m.op("top.Reshape", [val], {}, [(f"{nm}_Reshape", (1, T, H, hd))])  # shape attr dropped, as after shape-infer
        heads[nm] = m.op("top.Permute", [r], {"order": I64s([0, 2, 1, 3])}, [(f"{nm}_Permute", (1, H, T, hd))])
    qk = m.op("top.MatMul", [heads["q"], heads["k"], none], mm(rt=True), [("qk_MatMul", (1, H, T, T))])
    scale = 1.0 / math.sqrt(hd)
    sc = m.op("top.MulConst", [qk], {"const_val": F64(scale), "do_relu": False, "relu_limit": F64(-1.0)},
              [("scale_MulConst", (1, H, T, T))])
    att = m.op("top.Softmax", [sc], {"axis": SI32(3), "beta": F64(1.0), "log": False}, [("attn_Softmax", (1, H, T, T))])
    av = m.op("top.MatMul", [att, heads["v"], none], mm(), [("av_MatMul", (1, H, T, hd))])
    avp = m.op("top.Permute", [av], {"order": I64s([0, 2, 1, 3])}, [("av_Permute", (1, T, H, hd))])
    avr = m.op("top.Reshape", [avp], {"flatten_start_dim": I64(-1), "shape": I64s([1, T, D])}, [("av_Reshape", (1, T, D))])
    wo = m.weight("attn.proj.weight", rng.normal(0, 0.3, (D, D)))
    bo = m.weight("attn.proj.bias", rng.normal(0, 0.1, D))
    proj = m.op("top.MatMul", [avr, wo, bo], mm(), [("/attn/proj/MatMul_output_0_MatMul", (1, T, D))])
    res1 = m.op("top.Add", [x, proj], {"do_relu": False, "relu_limit": F64(-1.0)}, [("res1_Add", (1, T, D))])
    g2 = m.weight("ln2.weight", 1 + rng.normal(0, 0.1, D))
    be2 = m.weight("ln2.bias", rng.normal(0, 0.1, D))
    ln2 = m.op("top.LayerNorm", [res1, g2, be2], ln(), [("ln2_LayerNorm", (1, T, D))])
    w1 = m.weight("mlp.fc1.weight", rng.normal(0, 0.3, (D, F)))
    b1 = m.weight("mlp.fc1.bias", rng.normal(0, 0.1, F))
    fc1 = m.op("top.MatMul", [ln2, w1, b1], mm(), [("fc1_MatMul", (1, T, F))])
    ge = m.op("top.GELU", [fc1], {"approx_mode": "normal"}, [("gelu_GELU", (1, T, F))])
    w2 = m.weight("mlp.fc2.weight", rng.normal(0, 0.3, (F, D)))
    b2 = m.weight("mlp.fc2.bias", rng.normal(0, 0.1, D))
    fc2 = m.op("top.MatMul", [ge, w2, b2], mm(), [("fc2_MatMul", (1, T, D))])
    out = m.op("top.Add", [res1, fc2], {"do_relu": False, "relu_limit": F64(-1.0)}, [("out_Add", (1, T, D))])
    m.ret([out])

    inputs = {"x": rng.normal(size=(1, T, D)).astype(np.float32)}
    W = {k: f64(v) for k, v in m.weights.items()}
    t = {"x": f64(inputs["x"])}
    t["/ln1/LayerNormalization_output_0_LayerNorm"] = l1 = layer_norm(t["x"], W["ln1.weight"], W["ln1.bias"], 1e-5)
    t["q_MatMul"] = matmul(l1, W["onnx::MatMul_101"], W["attn.q.bias"])
    t["k_MatMul"] = matmul(l1, W["onnx::MatMul_102"])
    t["v_MatMul"] = matmul(l1, W["onnx::MatMul_103"], W["attn.v.bias"])
    for nm in ("q", "k", "v"):
        t[f"{nm}_Reshape"] = t[f"{nm}_MatMul"].reshape(1, T, H, hd)
        t[f"{nm}_Permute"] = t[f"{nm}_Reshape"].transpose(0, 2, 1, 3)
    t["qk_MatMul"] = matmul(t["q_Permute"], t["k_Permute"], right_transpose=True)
    t["scale_MulConst"] = t["qk_MatMul"] * scale
    t["attn_Softmax"] = softmax(t["scale_MulConst"], 3)
    t["av_MatMul"] = matmul(t["attn_Softmax"], t["v_Permute"])
    t["av_Permute"] = t["av_MatMul"].transpose(0, 2, 1, 3)
    t["av_Reshape"] = t["av_Permute"].reshape(1, T, D)
    t["/attn/proj/MatMul_output_0_MatMul"] = matmul(t["av_Reshape"], W["attn.proj.weight"], W["attn.proj.bias"])
    t["res1_Add"] = t["x"] + t["/attn/proj/MatMul_output_0_MatMul"]
    t["ln2_LayerNorm"] = layer_norm(t["res1_Add"], W["ln2.weight"], W["ln2.bias"], 1e-5)
    t["fc1_MatMul"] = matmul(t["ln2_LayerNorm"], W["mlp.fc1.weight"], W["mlp.fc1.bias"])
    t["gelu_GELU"] = gelu(t["fc1_MatMul"])
    t["fc2_MatMul"] = matmul(t["gelu_GELU"], W["mlp.fc2.weight"], W["mlp.fc2.bias"])
    t["out_Add"] = t["res1_Add"] + t["fc2_MatMul"]
    return m, inputs, t


def multi_result():
    rng = np.random.default_rng(3)
    m = Module("multi_result")
    m.none_op()
    x = m.input("x", (1, 12, 4, 4))
    # Uneven split_size, results named by a fused loc alias.
    s0, s1, s2 = m.op("top.Split", [x], {"axis": SI32(1), "num": I64(3), "split_size": I64s([2, 4, 6])},
                      [("s0", (1, 2, 4, 4)), ("s1", (1, 4, 4, 4)), ("s2", (1, 6, 4, 4))])
    a = m.op("top.Sigmoid", [s0], {"bias": F64(0.0), "log": False, "scale": F64(1.0)}, [("s0_Sigmoid", (1, 2, 4, 4))])
    b = m.op("top.Relu", [s1], {"relu_limit": F64(-1.0)}, [("s1_Relu", (1, 4, 4, 4))])
    c = m.op("top.Tanh", [s2], {}, [("s2_Tanh", (1, 6, 4, 4))])
    cat = m.op("top.Concat", [a, b, c], {"axis": SI32(1), "do_relu": False, "relu_limit": F64(-1.0)},
               [("cat_Concat", (1, 12, 4, 4))])
    # A second Split along H, its fused loc written inline on the op.
    h0, h1 = m.op("top.Split", [cat], {"axis": SI32(2), "num": I64(2)}, [("h0", (1, 12, 2, 4)), ("h1", (1, 12, 2, 4))],
                  inline_fused_loc=True)
    s = m.op("top.Add", [h0, h1], {"do_relu": False, "relu_limit": F64(-1.0)}, [("sum_Add", (1, 12, 2, 4))])
    m.ret([s, s2])

    inputs = {"x": rng.normal(0, 1.5, size=(1, 12, 4, 4)).astype(np.float32)}
    t = {"x": f64(inputs["x"])}
    t["s0"], t["s1"], t["s2"] = t["x"][:, 0:2], t["x"][:, 2:6], t["x"][:, 6:12]
    t["s0_Sigmoid"] = sigmoid(t["s0"])
    t["s1_Relu"] = np.maximum(t["s1"], 0)
    t["s2_Tanh"] = np.tanh(t["s2"])
    t["cat_Concat"] = np.concatenate([t["s0_Sigmoid"], t["s1_Relu"], t["s2_Tanh"]], axis=1)
    t["h0"], t["h1"] = t["cat_Concat"][:, :, 0:2], t["cat_Concat"][:, :, 2:4]
    t["sum_Add"] = t["h0"] + t["h1"]
    return m, inputs, t


def int_flow():
    rng = np.random.default_rng(4)
    V, T, D = 20, 6, 16
    m = Module("int_flow")
    none = m.none_op()
    ids = m.input("ids", (1, T), dtype="i32")
    mask = m.input("mask", (1, T, 1))
    emb = m.weight("embed.weight", rng.normal(size=(V, D)))
    tok = m.op("top.Gather", [emb, ids], {"axis": SI32(0), "is_scalar": False, "keepdims": True}, [("tok_Gather", (1, T, D))])
    pos = m.weight("pos.weight", rng.normal(0, 0.1, (1, T, D)))
    e = m.op("top.Add", [tok, pos], {"do_relu": False, "relu_limit": F64(-1.0)}, [("emb_Add", (1, T, D))])
    # TPU-MLIR keeps compare results float (0/1); Where broadcasts the 1x6x1 condition over D.
    keep = m.op("top.CompareConst", [mask], {"const_val": F64(0.5), "inversed": False, "is_scalar": False, "mode": "Greater"},
                [("keep_CompareConst", (1, T, 1))])
    out = m.op("top.Where", [keep, e, none], {"x_const_val": F64(0.0), "x_is_const": False, "y_const_val": F64(0.0),
                                              "y_is_const": True}, [("masked_Where", (1, T, D))])
    m.ret([out, tok])

    inputs = {"ids": np.array([[3, 0, 19, 7, 7, 12]], dtype=np.int32),
              "mask": np.array([1, 1, 0, 1, 0, 1], dtype=np.float32).reshape(1, T, 1)}
    W = {k: f64(v) for k, v in m.weights.items()}
    t = {"ids": inputs["ids"].astype(np.float64), "mask": f64(inputs["mask"])}
    t["tok_Gather"] = np.stack([W["embed.weight"][i] for i in inputs["ids"][0]])[None]
    t["emb_Add"] = t["tok_Gather"] + W["pos.weight"]
    t["keep_CompareConst"] = (t["mask"] > 0.5).astype(np.float64)
    t["masked_Where"] = np.where(t["keep_CompareConst"] != 0, t["emb_Add"], 0.0)
    return m, inputs, t


MODELS = [add_relu, conv_net, transformer_block, multi_result, int_flow]


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def pinned_zip_time():
    """np.savez stamps each member with the current time; pin it so the bytes are reproducible."""
    saved_tz, saved_time = os.environ.get("TZ"), time.time
    os.environ["TZ"] = "UTC"
    time.tzset()
    time.time = lambda: 1577836800.0  # 2020-01-01
    try:
        yield
    finally:
        time.time = saved_time
        if saved_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved_tz
        time.tzset()


def savez(path, arrays):
    with pinned_zip_time():
        np.savez(path, **arrays)


def cast_like(name, value, dtype):
    return value.astype(np.int32) if dtype == "i32" else value.astype(np.float32)


def write_model(m, inputs, tensors, out_dir):
    (out_dir / f"{m.name}.mlir").write_text(m.text())
    savez(out_dir / m.weight_file, m.weights)
    savez(out_dir / f"{m.name}_in_f32.npz", inputs)
    dtypes = {a.name: a.dtype for a in m.outputs}
    savez(out_dir / f"{m.name}_expected.npz",
          {v.name: cast_like(v.name, tensors[v.name], dtypes[v.name]) for v in m.outputs})
    # Every tensor in graph order: inputs keep their own dtype, op results are float32 here.
    in_dtypes = {k: v.dtype for k, v in inputs.items()}
    all_t = {k: (inputs[k] if k in inputs else v.astype(np.float32)) for k, v in tensors.items()}
    assert all(all_t[k].dtype == in_dtypes[k] for k in inputs)
    savez(out_dir / f"{m.name}_all_expected.npz", all_t)


def write_errors(out_dir):
    """Broken variants of add_relu, one problem each."""
    out_dir.mkdir(exist_ok=True)
    for old in out_dir.iterdir():
        old.unlink()

    def variant(name, mutate_text=None, weights="same"):
        m, inputs, _ = add_relu()
        m.name = name
        m.weight_file = f"{name}_top_f32_all_weight.npz"
        text = m.text()
        if mutate_text:
            text = mutate_text(text)
        (out_dir / f"{name}.mlir").write_text(text)
        if weights == "same":
            savez(out_dir / m.weight_file, m.weights)
        elif weights is not None:
            savez(out_dir / m.weight_file, weights)
        return m, inputs

    m, inputs = variant("valid")
    savez(out_dir / "valid_in_f32.npz", inputs)
    savez(out_dir / "wrong_shape_in_f32.npz", {"x": np.zeros((2, 5), np.float32)})
    savez(out_dir / "wrong_name_in_f32.npz", {"not_x": inputs["x"]})
    # Cut inside the function body: no closing braces, no loc aliases.
    variant("truncated", lambda s: s[: s.index('"top.Add"') + 20])
    variant("missing_weight_file", weights=None)
    variant("missing_weight_key", weights={"w_renamed": m.weights["w"]})
    variant("wrong_weight_count", weights={"w": np.zeros(5, np.float32)})
    variant("unknown_op", lambda s: s.replace('"top.Relu"', '"top.NoSuchOp"'))


def similarity(a, b):
    """npz_tool's cosine and euclidean similarity (facts doc §11.5), to place the tolerances."""
    a, b = f64(a).ravel(), f64(b).ravel()
    cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    euc = 1 - np.linalg.norm(a - b) / (np.linalg.norm((a + b) / 2) + 1e-7)
    return cos, euc


def write_npz_tool(out_dir):
    out_dir.mkdir(exist_ok=True)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 8)).astype(np.float32)
    y = rng.normal(size=3).astype(np.float32)
    ids = np.arange(5, dtype=np.int32)
    savez(out_dir / "a.npz", {"x": x, "y": y, "ids": ids})
    x_noisy = (x + 0.02 * rng.normal(size=x.shape)).astype(np.float32)
    cos, euc = similarity(x, x_noisy)
    # The tests pass with "0.99,0.9" and fail with "0.99999,0.999": keep clear margins.
    assert 0.999 < cos < 0.99999 and 0.95 < euc < 0.999, (cos, euc)
    savez(out_dir / "noisy.npz", {"x": x_noisy, "y": y, "ids": ids})
    # Within rtol 1e-4 (allclose) of a: CLOSE.
    savez(out_dir / "close.npz", {"x": (x * (1 + 2e-6)).astype(np.float32), "y": y, "ids": ids})
    savez(out_dir / "other_names.npz", {"p": x, "q": y})


def main():
    total = 0
    for make in MODELS:
        m, inputs, tensors = make()
        write_model(m, inputs, tensors, HERE)
    write_errors(HERE / "errors")
    write_npz_tool(HERE / "npz_tool")
    for p in sorted(HERE.rglob("*")):
        if p.is_file() and p.suffix in (".mlir", ".npz"):
            total += p.stat().st_size
    print(f"fixtures written to {HERE}: {total} bytes")
    assert total < 1_500_000


if __name__ == "__main__":
    main()
