#!/usr/bin/python3
"""Makes tests/data/observer/torch_observer.npz with torch 1.13 (run: /usr/bin/python3 make_fixtures.py).

For each case cNN: `cNN_name` (ASCII bytes), `cNN_bins`, the batches `cNN_b0`, `cNN_b1`, ... in
observation order, and torch's results `cNN_scale`, `cNN_zero_point`, `cNN_min`, `cNN_max`,
`cNN_clip_min`, `cNN_clip_max`, `cNN_hist`, `cNN_threshold` (see torch_observe.py).
`sNN_in` / `sNN_out`: float32 vectors and torch.sum of each (the cascade order of the float sums).
"""
import os
import time

import numpy as np
import torch

from torch_observe import observe

HERE = os.path.dirname(os.path.abspath(__file__))


def edge_values(lo, hi, bins, ulps=2):
    """float32 values on and a few ulps around histc's bin edges for [lo, hi]: where the order of
    histc's float32 multiply and divide decides the bin (hi - lo must not be a power of two)."""
    f = np.float32
    base = (f(lo) + f(hi - lo) * np.arange(bins + 1, dtype=f) / f(bins)).astype(f)
    out = [base]
    for direction in (np.inf, -np.inf):
        x = base
        for _ in range(ulps):
            x = np.nextafter(x, f(direction)).astype(f)
            out.append(x)
    return np.concatenate(out)


def cases():
    rng = np.random.default_rng(20240601)
    normal, laplace, uniform = rng.standard_normal, rng.laplace, rng.uniform
    return [
        ("normal", 2048, [normal(8192)]),
        ("laplace", 2048, [laplace(0.0, 2.0, 8192)]),
        ("uniform", 2048, [uniform(-3.0, 5.0, 8192)]),
        ("relu, 3 batches", 2048, [np.maximum(normal(4096) * 4, 0) for _ in range(3)]),
        ("heavy outliers", 2048, [np.concatenate([normal(8000), [50.0, -80.0, 300.0]])]),
        ("all zero, 2 batches", 2048, [np.zeros(1000), np.zeros(500)]),
        ("constant, 2 batches", 2048, [np.full(300, 2.5), np.full(200, 2.5)]),
        ("constant then normal", 2048, [np.full(300, 0.75), normal(3000)]),
        ("tiny magnitude 1e-7", 2048, [normal(4096) * 1e-7, normal(4096) * 1.5e-7]),
        # int(min)..int(max) = [-1, 0]: histc drops everything below -1 and above 0
        ("range truncated by int()", 2048, [uniform(-1.6, 0.7, 6000)]),
        ("growing range, 5 batches", 2048, [normal(3000) * s + o for s, o in
                                            [(1, 0), (1.5, 0.3), (2.5, -1), (4, 0.5), (7, 2)]]),
        # the double cumsum of the combine is inexact here (tiny negative bins appear)
        ("10 batches, drifting", 2048, [normal(1500) * (1 + 0.3 * i) + 0.1 * i for i in range(10)]),
        ("range grows 40x", 2048, [normal(2000) * 0.05, normal(2000) * 2]),
        ("shrinking then growing, 128 bins", 128, [normal(3000) * 5, normal(3000), normal(3000) * 8]),
        ("laplace, 128 bins", 128, [laplace(0.5, 1.0, 5000)]),
        ("3 bins, 3 batches", 3, [normal(2000) * s for s in (1, 0.5, 3)]),
        ("tiny magnitude, 3 bins", 3, [normal(2000) * 1e-7]),
        # int() range [-3, 4]; -3.2 and 4.6 set min and max
        ("values on bin edges, 1000 bins", 1000, [np.concatenate([edge_values(-3, 4, 1000), [-3.2, 4.6]])]),
        ("1000 bins, 4 batches", 1000, [uniform(-1, 1, 2000) * s for s in (1, 2, 2, 3.5)]),
    ]


def main():
    arrays = {}
    for i, (name, bins, batches) in enumerate(cases()):
        key = f"c{i:02d}"
        batches = [np.asarray(b, dtype=np.float32) for b in batches]
        t0 = time.time()
        result = observe(batches, bins)
        print(f"{key} {name}: threshold {result['threshold']!r} ({time.time() - t0:.1f}s)")
        arrays[f"{key}_name"] = np.frombuffer(name.encode("ascii"), dtype=np.uint8)
        arrays[f"{key}_bins"] = np.int64(bins)
        for k, b in enumerate(batches):
            arrays[f"{key}_b{k}"] = b
        for k, v in result.items():
            arrays[f"{key}_{k}"] = np.asarray(v)
    rng = np.random.default_rng(7)
    for j, n in enumerate([1, 3, 7, 8, 9, 31, 100, 128, 515, 2048, 4100]):
        v = (rng.standard_normal(n) * 10.0 ** rng.uniform(-4, 4, n)).astype(np.float32)
        arrays[f"s{j:02d}_in"] = v
        arrays[f"s{j:02d}_out"] = np.float32(torch.from_numpy(v).sum().item())
    path = os.path.join(HERE, "torch_observer.npz")
    np.savez_compressed(path, **arrays)
    print(f"{path}: {os.path.getsize(path)} bytes, torch {torch.__version__}")


if __name__ == "__main__":
    main()
