#!/usr/bin/env python3
"""Writes the run_calibration fixtures of tests/data/calibration (run with /usr/bin/python3):

  conv_net_samples/   12 npz samples for tests/data/models/conv_net.mlir (input "input",
                      1x3x16x16), normal noise whose scale changes per sample, so the histograms
                      grow across batches
  bad/                broken datasets: corrupt and truncated npz, NaN input, wrong shape, mixed kinds,
                      an empty folder marker
"""
import os
import shutil
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))


def savez(path, **arrays):
    np.savez(path, **arrays)


def main():
    rng = np.random.default_rng(1684)
    samples = os.path.join(here, "conv_net_samples")
    shutil.rmtree(samples, ignore_errors=True)
    os.makedirs(samples)
    for i in range(12):
        scale = 0.5 + 0.25 * (i % 5)
        x = (rng.standard_normal((1, 3, 16, 16)) * scale).astype(np.float32)
        savez(os.path.join(samples, f"sample_{i:02d}.npz"), input=x)
    # Files that --dataset must ignore.
    with open(os.path.join(samples, "README.txt"), "w") as f:
        f.write("calibration samples for conv_net\n")

    bad = os.path.join(here, "bad")
    shutil.rmtree(bad, ignore_errors=True)
    for d in ["corrupt", "truncated", "nan", "wrong_shape", "mixed", "no_samples"]:
        os.makedirs(os.path.join(bad, d))
    good = (rng.standard_normal((1, 3, 16, 16))).astype(np.float32)
    savez(os.path.join(bad, "corrupt", "a.npz"), input=good)
    with open(os.path.join(bad, "corrupt", "b.npz"), "wb") as f:
        f.write(b"PK\x03\x04 this is not a zip archive at all" * 4)
    savez(os.path.join(bad, "truncated", "a.npz"), input=good)
    with open(os.path.join(bad, "truncated", "a.npz"), "rb") as f:
        data = f.read()
    with open(os.path.join(bad, "truncated", "b.npz"), "wb") as f:
        f.write(data[: len(data) // 2])
    nan = good.copy()
    nan[0, 1, 2, 3] = np.nan
    savez(os.path.join(bad, "nan", "a.npz"), input=nan)
    savez(os.path.join(bad, "wrong_shape", "a.npz"), input=np.zeros((1, 3, 8, 8), np.float32))
    savez(os.path.join(bad, "mixed", "a.npz"), input=good)
    np.save(os.path.join(bad, "mixed", "b.npy"), good)
    with open(os.path.join(bad, "no_samples", "notes.txt"), "w") as f:
        f.write("no calibration sample here\n")


if __name__ == "__main__":
    main()
