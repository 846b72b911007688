#!/usr/bin/python3
"""One torch-exported model end to end: export (cached), model_transform, the accuracy bar, mlir-opt.

  torch_model_check.py --model M --export-script scripts/export_models.py --models-dir DIR
                       --work-dir DIR --model-transform BIN [--torch-python PY] [--mlir-opt BIN]
                       [--cali-table T]

1. Runs the export script for M with --torch-python (default: this interpreter; it skips models
   already exported with the same version); exit 77 (CTest: skipped) when that interpreter is
   missing or has no torch/torchvision.
2. Runs model_transform on M_b1.onnx with --test_input / --test_reference (torch's outputs).
3. Checks every reference output against the converted model's tensor of the same ONNX name
   (TPU-MLIR names it `<ONNX output>_<OpType>`): cosine >= 0.99999 and
   max |got - ref| <= 1e-4 * max |ref|, the issue's bar.
4. With --mlir-opt, the generated .mlir must pass `mlir-opt --allow-unregistered-dialect`.
5. With --cali-table, every tensor a TPU-MLIR calibration table names must exist in the
   converted model (the naming rules reproduce TPU-MLIR's).
Prints the measured times and metrics; the exit status is the test result.
"""
import argparse
import os
import subprocess
import sys
import time

SKIP = 77
COSINE_MIN = 0.99999
MAX_ABS_RATIO = 1e-4


def run(cmd):
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    return proc, time.time() - t0


def cali_table_names(path):
    names = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#"):
                # the optional sections after the thresholds list op names, not tensors
                if line.split()[0] in ("#int4_th", "#asym_op", "#int4_op", "#weight_scale", "#weight_scale_fp8"):
                    break
                continue
            if line:
                names.append(line.split()[0])
    return names


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--export-script", required=True)
    p.add_argument("--models-dir", required=True)
    p.add_argument("--work-dir", required=True)
    p.add_argument("--model-transform", required=True)
    p.add_argument("--mlir-opt", default="")
    p.add_argument("--cali-table", default="")
    p.add_argument("--torch-python", default=sys.executable)
    a = p.parse_args()

    if not os.path.exists(a.torch_python):
        print(f"skipped: {a.torch_python} does not exist (Debian's python3 with python3-torch is needed)")
        return SKIP
    proc, t_export = run([a.torch_python, a.export_script, a.models_dir, "--models", a.model])
    if proc.returncode == SKIP:
        print(f"skipped: {proc.stderr.strip()}")
        return SKIP
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr)
        print(f"FAILED: export_models.py exited with {proc.returncode}")
        return 1
    print(f"export: {proc.stdout.strip()} ({t_export:.1f} s)")
    try:
        import numpy as np
    except ImportError:
        print("skipped: numpy is missing")
        return SKIP

    stem = os.path.join(a.models_dir, f"{a.model}_b1")
    os.makedirs(a.work_dir, exist_ok=True)
    mlir = os.path.join(a.work_dir, f"{a.model}.mlir")
    result = os.path.join(a.work_dir, f"{a.model}_top_outputs.npz")
    for path in (mlir, result):
        if os.path.exists(path):
            os.remove(path)  # a stale file must not pass
    cmd = [a.model_transform, "--model_name", a.model, "--model_def", stem + ".onnx",
           "--test_input", stem + "_in_f32.npz", "--test_result", result,
           "--test_reference", stem + "_torch_outputs.npz", "--tolerance", "0.99999,0.999", "--mlir", mlir]
    proc, t_convert = run(cmd)
    sys.stdout.write(proc.stdout)
    sys.stdout.write(proc.stderr)
    print(f"model_transform: {t_convert:.2f} s wall (conversion, run and comparison)")
    problems = []
    if proc.returncode != 0:
        problems.append(f"model_transform exited with {proc.returncode}")
    if not os.path.exists(result):
        problems.append(f"{result} was not written")
        print("FAILED: " + "; ".join(problems))
        return 1

    got = np.load(result)
    ref = np.load(stem + "_torch_outputs.npz")
    for name in ref.files:
        keys = [k for k in got.files if k == name or k.rsplit("_", 1)[0] == name]
        if len(keys) != 1:
            problems.append(f"output {name!r}: {len(keys)} tensors of the converted model carry its name ({keys})")
            continue
        x = got[keys[0]].astype(np.float64).ravel()
        y = ref[name].astype(np.float64).ravel()
        if x.size != y.size:
            problems.append(f"output {name!r}: {x.size} values, the reference has {y.size}")
            continue
        denom = np.linalg.norm(x) * np.linalg.norm(y)
        cos = float(np.dot(x, y) / denom) if denom > 0 else (1.0 if not x.any() and not y.any() else 0.0)
        max_abs = float(np.max(np.abs(x - y))) if x.size else 0.0
        max_ref = float(np.max(np.abs(y))) if y.size else 0.0
        ratio = max_abs / max_ref if max_ref > 0 else (0.0 if max_abs == 0 else float("inf"))
        ok = cos >= COSINE_MIN and max_abs <= MAX_ABS_RATIO * max_ref
        print(f"{name} ({keys[0]}, {list(ref[name].shape)}): cosine {cos:.9f}, max |diff| {max_abs:.3g}, "
              f"max |ref| {max_ref:.3g}, ratio {ratio:.3g} -> {'ok' if ok else 'FAILED'}")
        if not ok:
            problems.append(f"output {name!r} misses the bar (cosine >= {COSINE_MIN}, max |diff| <= "
                            f"{MAX_ABS_RATIO} x max |ref|)")

    if a.mlir_opt:
        proc, t_opt = run([a.mlir_opt, "--allow-unregistered-dialect", mlir, "-o", os.devnull])
        if proc.returncode != 0:
            problems.append(f"mlir-opt rejects {mlir}: {proc.stderr.strip()[:2000]}")
        else:
            print(f"mlir-opt accepts {os.path.basename(mlir)} ({t_opt:.2f} s)")

    if a.cali_table:
        if not os.path.exists(a.cali_table):
            print(f"naming check skipped: {a.cali_table} is not available")
        else:
            names = set(got.files)
            table = cali_table_names(a.cali_table)
            missing = [n for n in table if n not in names]
            print(f"naming: {len(table) - len(missing)} of the {len(table)} tensors of "
                  f"{os.path.basename(a.cali_table)} exist in the converted model")
            if missing:
                problems.append(f"{len(missing)} tensor name(s) of the calibration table are missing, e.g. "
                                + ", ".join(missing[:8]))

    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
