#!/usr/bin/python3
"""blazeface: outputs_cos of every deployed model against FP32, per calibration method, with mixq's drivers.

  /usr/bin/python3 bench/accuracy_blazeface.py --bin BUILD/examples --work DIR [--shared ../shared]
        [--methods kl,mse,max,percentile9999,aciq_gauss,aciq_laplace] [--input_num 100] [--eval_num 80]

1. model_transform the shared blazeface.onnx at 1x3x128x128 with the top.Input preprocessing of the
   TPU-MLIR example (mean 1,1,1, scale 0.0078, rgb) for calibration, and at batch 20 for evaluation;
2. run_calibration on 100 WIDER images, once per method;
3. model_deploy INT8 (bm1684x sym and asym, cv183x) per method, and F16 / BF16 (bm1684x), BF16 (cv183x);
4. run every model with model_runner on the last --eval_num WIDER images (sorted names), prepared as
   the top.Input attributes say (cv2 resize to 128x128, RGB, (x - 1) * 0.0078); outputs_cos is TPU-MLIR's
   0.5 + 0.5 cos against FP32, averaged over samples and over both outputs (boxes, scores).
Prints a markdown table; writes it to DIR/accuracy_blazeface.md.
"""
import argparse
import os
import subprocess
import sys

import cv2
import numpy as np

BATCH = 20


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def prepare(path):
    img = cv2.resize(cv2.imread(path), (128, 128), interpolation=cv2.INTER_LINEAR)[:, :, ::-1].astype(np.float32)
    return ((img - 1.0) * 0.0078).transpose(2, 0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap.add_argument("--methods", default="kl,mse,max,percentile9999,aciq_gauss,aciq_laplace")
    ap.add_argument("--input_num", type=int, default=100)
    ap.add_argument("--eval_num", type=int, default=80)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    w = os.path.abspath(a.work)
    b = lambda tool: os.path.join(os.path.abspath(a.bin), tool)
    onnx_model = os.path.join(a.shared, "models", "blazeface.onnx")
    wider = os.path.join(a.shared, "datasets", "WIDER")
    pre = ["--mean", "1,1,1", "--scale", "0.0078,0.0078,0.0078", "--pixel_format", "rgb"]
    run([b("model_transform"), "--model_name", "bf", "--model_def", onnx_model, "--input_shapes", "[[1,3,128,128]]", *pre,
         "--mlir", f"{w}/bf.mlir"])
    run([b("model_transform"), "--model_name", "bfb", "--model_def", onnx_model, "--input_shapes", f"[[{BATCH},3,128,128]]",
         *pre, "--mlir", f"{w}/bfb.mlir"])
    images = sorted(f for f in os.listdir(wider) if f.lower().endswith((".jpg", ".jpeg", ".png")))[-a.eval_num:]
    xs = np.stack([prepare(os.path.join(wider, f)) for f in images])
    batches = []
    for k in range(0, len(xs), BATCH):
        chunk = xs[k:k + BATCH]
        if len(chunk) < BATCH:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], BATCH - len(chunk), axis=0)])
        path = f"{w}/eval_{k // BATCH}.npz"
        np.savez(path, **{"x.1": chunk})  # the ONNX input name
        batches.append(path)

    def outputs(model):
        got = None
        for k, path in enumerate(batches):
            out = f"{w}/out_{k}.npz"
            run([b("model_runner"), "--model", model, "--input", path, "--output", out])
            with np.load(out) as z:
                arrays = [z[f].reshape(BATCH, -1).astype(np.float64) for f in z.files]
            got = arrays if got is None else [np.concatenate([g, x]) for g, x in zip(got, arrays)]
        return [g[: len(images)] for g in got]

    fp32 = outputs(f"{w}/bfb.mlir")

    def outputs_cos(o):
        sims = []
        for ref, q in zip(fp32, o):
            for u, v in zip(ref, q):
                sims.append(0.5 + 0.5 * float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-30)))
        return float(np.mean(sims)), float(np.min(sims))

    rows = []
    for mode, chip in (("F16", "bm1684x"), ("BF16", "bm1684x"), ("BF16", "cv183x")):
        model = f"{w}/bfb_{chip}_{mode.lower()}_tpu.mlir"
        run([b("model_deploy"), "--mlir", f"{w}/bfb.mlir", "--quantize", mode, "--processor", chip, "--model", model])
        rows.append((f"{mode} {chip}", "-", *outputs_cos(outputs(model))))
    for method in a.methods.split(","):
        table = f"{w}/bf_cali_table_{method}"
        run([b("run_calibration"), f"{w}/bf.mlir", "--dataset", wider, "--input_num", str(a.input_num), "--cali_method", method,
             "-o", table])
        for chip, asym in (("bm1684x", False), ("bm1684x", True), ("cv183x", False)):
            tag = f"{chip}_int8_{'asym' if asym else 'sym'}_{method}"
            model = f"{w}/bfb_{tag}_tpu.mlir"
            run([b("model_deploy"), "--mlir", f"{w}/bfb.mlir", "--quantize", "INT8", "--processor", chip, "--calibration_table",
                 table, *(["--asymmetric"] if asym else []), "--model", model])
            rows.append((f"INT8 {chip} {'asym' if asym else 'sym'}", method, *outputs_cos(outputs(model))))
    lines = [f"| model | cali method | outputs_cos vs FP32 (mean over {len(images)} images x 2 outputs) | worst sample |",
             "|---|---|---|---|"]
    for name, method, mean, worst in rows:
        lines.append(f"| {name} | {method} | {mean:.6f} | {worst:.6f} |")
    text = "\n".join(lines) + "\n"
    with open(f"{w}/accuracy_blazeface.md", "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
