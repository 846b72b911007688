#!/usr/bin/python3
"""Helpers of the weight-only and --quant_input/--quant_output deploy tests (numpy; Debian's python3).

  deploy_modes.py make-mlp DIR             writes DIR/mlp.mlir (TOP dialect), its weight npz, mlp_in_f32.npz and
                                           mlp_expected.npz (float64 numpy forward pass) : x[4,256] -> MatMul 256x128
                                           + bias, relu -> MatMul 128x64 + bias
  deploy_modes.py cosine A B NA NB MIN     cosine of array NA of A and NB of B must exceed MIN; prints it
  deploy_modes.py quantize MLIR IN OUT     IN's float inputs in the types of MLIR's arguments: int8/uint8
                                           (!quant.uniform scale/zero point, round half away from zero) or float16
  deploy_modes.py dtype NPZ NAME DTYPE     array NAME of NPZ must have dtype DTYPE
"""
import re
import sys

import numpy as np


def make_mlp(out):
    rng = np.random.default_rng(2026)
    K1, N1, N2 = 256, 128, 64
    w1 = (rng.standard_normal((K1, N1)) / np.sqrt(K1)).astype(np.float32)
    b1 = (0.1 * rng.standard_normal(N1)).astype(np.float32)
    w2 = (rng.standard_normal((N1, N2)) / np.sqrt(N1)).astype(np.float32)
    b2 = (0.1 * rng.standard_normal(N2)).astype(np.float32)
    x = rng.standard_normal((4, K1)).astype(np.float32)
    h = np.maximum(x.astype(np.float64) @ w1 + b1, 0)
    y = h @ w2 + b2
    np.savez(f"{out}/mlp_top_f32_all_weight.npz", w1=w1, b1=b1, w2=w2, b2=b2)
    np.savez(f"{out}/mlp_in_f32.npz", x=x)
    np.savez(f"{out}/mlp_expected.npz", fc2=y.astype(np.float32))
    mm = ('{do_relu = %s, hdim_is_batch = false, keep_dims = true, left_transpose = false, output_transpose = false, '
          'relu_limit = -1.000000e+00 : f64, right_transpose = false}')
    text = f"""#loc = loc(unknown)
module @mlp attributes {{module.chip = "ALL", module.platform = "ONNX", module.state = "TOP_F32", module.top_run_mode = "STATIC", module.weight_file = "mlp_top_f32_all_weight.npz"}} {{
  func.func @main(%arg0: tensor<4x{K1}xf32> loc(unknown)) -> tensor<4x{N2}xf32> {{
    %0 = "top.None"() : () -> none loc(#loc)
    %1 = "top.Input"(%arg0) : (tensor<4x{K1}xf32>) -> tensor<4x{K1}xf32> loc(#loc1)
    %2 = "top.Weight"() : () -> tensor<{K1}x{N1}xf32> loc(#loc2)
    %3 = "top.Weight"() : () -> tensor<{N1}xf32> loc(#loc3)
    %4 = "top.MatMul"(%1, %2, %3) {mm % 'true'} : (tensor<4x{K1}xf32>, tensor<{K1}x{N1}xf32>, tensor<{N1}xf32>) -> tensor<4x{N1}xf32> loc(#loc4)
    %5 = "top.Weight"() : () -> tensor<{N1}x{N2}xf32> loc(#loc5)
    %6 = "top.Weight"() : () -> tensor<{N2}xf32> loc(#loc6)
    %7 = "top.MatMul"(%4, %5, %6) {mm % 'false'} : (tensor<4x{N1}xf32>, tensor<{N1}x{N2}xf32>, tensor<{N2}xf32>) -> tensor<4x{N2}xf32> loc(#loc7)
    return %7 : tensor<4x{N2}xf32> loc(#loc)
  }} loc(#loc)
}} loc(#loc)
#loc1 = loc("x")
#loc2 = loc("w1")
#loc3 = loc("b1")
#loc4 = loc("fc1")
#loc5 = loc("w2")
#loc6 = loc("b2")
#loc7 = loc("fc2")
"""
    with open(f"{out}/mlp.mlir", "w") as f:
        f.write(text)


def cosine(a, b, name, name_b, minimum):
    x = np.load(a)[name].astype(np.float64).ravel()
    y = np.load(b)[name_b].astype(np.float64).ravel()
    c = float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
    print(f"cosine {name} {c:.6f}")
    return 0 if c > float(minimum) else 1


def quantize(mlir, src, dst):
    text = open(mlir).read()
    sig = re.search(r"func\.func @main\((.*?)\) ->", text).group(1)
    args = re.findall(r"%arg\d+: tensor<([^>]*(?:>[^>]*)?)>", sig)
    names = re.findall(r'"top\.Input"\(%arg(\d+)\)[^\n]*loc\((#loc\d+)\)', text)
    locs = dict(re.findall(r'^(#loc\d+) = loc\("([^"]*)"\)', text, re.M))
    z = np.load(src)
    out = {}
    for idx, loc in names:
        name = locs[loc]
        t = args[int(idx)]
        x = z[name]
        u = re.search(r"!quant\.uniform<([iu]8):f32, ([-0-9.e+]+)(?::(-?\d+))?>", t)
        if u:
            scale, zp = float(u.group(2)), int(u.group(3) or 0)
            v = x.astype(np.float64) / scale
            q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zp
            lo, hi, dt = (-128, 127, np.int8) if u.group(1) == "i8" else (0, 255, np.uint8)
            out[name] = np.clip(q, lo, hi).astype(dt)
        elif "xf16" in t:
            out[name] = x.astype(np.float16)
        else:
            out[name] = x
    np.savez(dst, **out)
    print({k: str(v.dtype) for k, v in out.items()})
    return 0


def dtype(npz, name, want):
    got = str(np.load(npz)[name].dtype)
    print(f"{name}: {got}")
    return 0 if got == want else 1


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make-mlp":
        make_mlp(*args)
        sys.exit(0)
    sys.exit({"cosine": cosine, "quantize": quantize, "dtype": dtype}[cmd](*args))
