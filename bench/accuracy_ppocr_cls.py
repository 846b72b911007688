#!/usr/bin/python3
"""PP-OCR text-line orientation classifier: FP32 vs deployed models, end to end with mixq's drivers.

  /usr/bin/python3 bench/accuracy_ppocr_cls.py --bin BUILD/examples --work DIR [--shared ../shared]
        [--methods kl,mse,max,percentile9999,aciq_gauss,aciq_laplace] [--input_num 100]

1. model_transform the shared ch_ppocr_mobile_v2.0_cls_infer.onnx at 1x3x48x192 with the top.Input
   preprocessing (mean 127.5, scale 1/127.5, rgb, stretched) for calibration, and at batch 50 for
   evaluation (same tensor names);
2. run_calibration on ocr_lines images, once per method;
3. model_deploy INT8 (bm1684x sym and asym, cv183x) per method, and F16 / BF16 (bm1684x);
4. feed the 600 lines of ocr_lines (label 0) + ocr_lines_rot (label 1), prepared the PaddleOCR way
   (RGB, height 48 keeping the aspect ratio up to width 192, (x/255 - 0.5)/0.5, zero pad on the
   right), to every model with model_runner; report orientation accuracy and outputs_cos (mean over
   samples of 0.5 + 0.5 cos against FP32, TPU-MLIR's metric).
Prints a markdown table; writes it to DIR/accuracy.md.
"""
import argparse
import math
import os
import subprocess
import sys

import cv2
import numpy as np

BATCH = 50


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def paddle_cls_input(path):
    img = cv2.imread(path)[:, :, ::-1]  # RGB, as PaddleOCR's cls preprocessing
    h, w = img.shape[:2]
    ratio = w / float(h)
    rw = min(192, int(math.ceil(48 * ratio)))
    resized = cv2.resize(img, (rw, 48)).astype(np.float32)
    x = (resized.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    out = np.zeros((3, 48, 192), np.float32)
    out[:, :, :rw] = x
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap.add_argument("--methods", default="kl,mse,max,percentile9999,aciq_gauss,aciq_laplace")
    ap.add_argument("--input_num", type=int, default=100)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    w = os.path.abspath(a.work)
    b = lambda tool: os.path.join(os.path.abspath(a.bin), tool)
    onnx_model = os.path.join(a.shared, "models", "ch_ppocr_mobile_v2.0_cls_infer.onnx")
    pre = ["--mean", "127.5,127.5,127.5", "--scale", "0.0078431,0.0078431,0.0078431", "--pixel_format", "rgb"]
    run([b("model_transform"), "--model_name", "cls", "--model_def", onnx_model, "--input_shapes", "[[1,3,48,192]]", *pre,
         "--mlir", f"{w}/cls.mlir"])
    run([b("model_transform"), "--model_name", "cls50", "--model_def", onnx_model, "--input_shapes", f"[[{BATCH},3,48,192]]", *pre,
         "--mlir", f"{w}/cls50.mlir"])

    # The 600 evaluation inputs, in batches of 50.
    samples = []
    for folder, label in (("ocr_lines", 0), ("ocr_lines_rot", 1)):
        d = os.path.join(a.shared, "datasets", folder)
        for f in sorted(os.listdir(d)):
            if f.endswith(".png"):
                samples.append((os.path.join(d, f), label))
    xs = np.stack([paddle_cls_input(p) for p, _ in samples])
    labels = np.array([l for _, l in samples])
    batches = []
    for k in range(0, len(xs), BATCH):
        chunk = xs[k:k + BATCH]
        if len(chunk) < BATCH:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], BATCH - len(chunk), axis=0)])
        path = f"{w}/eval_{k // BATCH}.npz"
        np.savez(path, x=chunk)
        batches.append(path)

    def predict(model):
        probs = []
        for k, path in enumerate(batches):
            out = f"{w}/out_{k}.npz"
            run([b("model_runner"), "--model", model, "--input", path, "--output", out])
            with np.load(out) as z:
                probs.append(z[z.files[0]].reshape(BATCH, -1))
        return np.concatenate(probs)[: len(samples)]

    fp32 = predict(f"{w}/cls50.mlir")
    rows = [("FP32 (TOP)", "-", float((fp32.argmax(1) == labels).mean()), 1.0)]

    def outputs_cos(p):
        sims = []
        for u, v in zip(fp32, p):
            c = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-30))
            sims.append(0.5 + 0.5 * c)
        return float(np.mean(sims))

    for mode, chip in (("F16", "bm1684x"), ("BF16", "bm1684x"), ("BF16", "cv183x")):
        model = f"{w}/cls50_{chip}_{mode.lower()}_tpu.mlir"
        run([b("model_deploy"), "--mlir", f"{w}/cls50.mlir", "--quantize", mode, "--processor", chip, "--model", model])
        p = predict(model)
        rows.append((f"{mode} {chip}", "-", float((p.argmax(1) == labels).mean()), outputs_cos(p)))
    for method in a.methods.split(","):
        table = f"{w}/cls_cali_table_{method}"
        run([b("run_calibration"), f"{w}/cls.mlir", "--dataset", os.path.join(a.shared, "datasets", "ocr_lines"), "--input_num",
             str(a.input_num), "--cali_method", method, "-o", table])
        for chip, asym in (("bm1684x", False), ("bm1684x", True), ("cv183x", False)):
            tag = f"{chip}_int8_{'asym' if asym else 'sym'}_{method}"
            model = f"{w}/cls50_{tag}_tpu.mlir"
            run([b("model_deploy"), "--mlir", f"{w}/cls50.mlir", "--quantize", "INT8", "--processor", chip, "--calibration_table", table,
                 *(["--asymmetric"] if asym else []), "--model", model])
            p = predict(model)
            rows.append((f"INT8 {chip} {'asym' if asym else 'sym'}", method, float((p.argmax(1) == labels).mean()), outputs_cos(p)))

    lines = ["| model | cali method | orientation accuracy (600 lines) | outputs_cos vs FP32 |", "|---|---|---|---|"]
    for name, method, acc, cos in rows:
        lines.append(f"| {name} | {method} | {acc * 100:.2f}% | {cos:.6f} |")
    text = "\n".join(lines) + "\n"
    with open(f"{w}/accuracy.md", "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
