#!/usr/bin/python3
"""Runs torch's HistogramObserver the way TPU-MLIR's run_calibration does for
`--debug_cmd use_torch_observer_for_cali` (torch 1.13 from /usr/bin/python3).

As a script:  torch_observe.py IN.npz OUT.npz [IN.npz OUT.npz ...]
  each IN.npz holds `bins` (an integer) and the batches `b0`, `b1`, ... (float32, observed in
  order); its OUT.npz gets the results observe() returns, under the same names.
  Exit status 77: torch cannot be imported.
"""
import sys

import numpy as np

try:
    import torch
    from torch.ao.quantization.observer import HistogramObserver
except ImportError:
    if __name__ == "__main__":
        sys.exit(77)  # tells the C++ test that torch is missing (not that it disagrees)
    raise


def observe(batches, bins):
    obs = HistogramObserver(bins=int(bins), dtype=torch.qint8, qscheme=torch.per_tensor_affine)
    for b in batches:
        obs(torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)))
    # calculate_qparams() runs this search itself; it is called here too to record its range.
    clip_min, clip_max = obs._non_linear_param_search()
    scale, zp = obs.calculate_qparams()
    qmin, qmax = -128, 127  # TPU-MLIR's threshold from the qparams, in its own words
    threshold = float(scale * max(-(qmin - zp), (qmax - zp)))
    threshold = 1e-5 if (threshold <= 1e-5) else threshold
    return {
        "scale": np.float32(scale.item()),
        "zero_point": np.int32(zp.item()),
        "min": np.float32(obs.min_val.item()),
        "max": np.float32(obs.max_val.item()),
        "clip_min": np.float32(clip_min.item()),
        "clip_max": np.float32(clip_max.item()),
        "hist": obs.histogram.numpy().astype(np.float32),
        "threshold": np.float64(threshold),
    }


def main(argv):
    if len(argv) < 3 or len(argv) % 2 != 1:
        sys.exit("usage: torch_observe.py IN.npz OUT.npz [IN.npz OUT.npz ...]")
    for in_path, out_path in zip(argv[1::2], argv[2::2]):
        src = np.load(in_path)
        batches, k = [], 0
        while f"b{k}" in src:
            batches.append(src[f"b{k}"])
            k += 1
        out = observe(batches, int(src["bins"]))
        np.savez(out_path, **{name: np.asarray(v) for name, v in out.items()})


if __name__ == "__main__":
    main(sys.argv)
