#!/usr/bin/python3
"""mixq's run_calibration against the NumPy oracle (tests/oracle/calibration_oracle.py), without
tuning, for every method: the same batches in the same order (mixq's dump_list), every tensor of
every batch dumped by model_runner, the oracle's table recomputed from the dumps.

  oracle_compare.py --run-calibration BIN --model-runner BIN --model M.mlir --dataset DIR
                    --work DIR [--methods kl,mse,...] [--rtol 1e-5] [--int4]

Exit 0 when every threshold agrees to --rtol (relative) and every min/max to 1e-6 relative (both
tables print 7 decimals at most for mixq; the oracle prints %.10e); 77 when numpy is missing.
"""
import argparse
import os
import shutil
import subprocess
import sys

try:
    import numpy  # noqa: F401  (the oracle needs it)
except ImportError:
    print("numpy is not available: skipped")
    sys.exit(77)

here = os.path.dirname(os.path.abspath(__file__))
oracle_dir = os.path.join(here, "..", "oracle")


def rows_of(path):
    rows, section = {}, ""
    order = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                if line in ("#int4_th",):
                    section = line
                continue
            name, th, mn, mx = line.split()
            rows[(section, name)] = (float(th), float(mn), float(mx))
            order.append((section, name))
    return rows, order


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        print("command failed:", " ".join(cmd))
        print(p.stdout[-4000:])
        print(p.stderr[-4000:])
        sys.exit(1)
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-calibration", required=True)
    ap.add_argument("--model-runner", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--methods", default="kl,mse,max,percentile9999,aciq_gauss,aciq_laplace")
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--int4", action="store_true")
    a = ap.parse_args()
    for k in ("run_calibration", "model_runner", "model", "dataset"):
        setattr(a, k, os.path.abspath(getattr(a, k)))

    work = os.path.abspath(a.work)
    shutil.rmtree(work, ignore_errors=True)
    dumps = os.path.join(work, "samples")
    os.makedirs(dumps)
    # The batch order mixq uses (TPU-MLIR's shuffle), from its dump_list.
    run([a.run_calibration, a.model, "--dataset", a.dataset, "--tune_num", "0", "--cali_method", "max",
         "--debug_cmd", "dump_list", "-o", os.path.join(work, "order_table")], cwd=work)
    with open(os.path.join(work, "selected_image_list.txt")) as f:
        order = [l.strip() for l in f if l.strip()]
    for k, sample in enumerate(order):
        run([a.model_runner, "--model", a.model, "--input", sample, "--output", os.path.join(dumps, f"sample_{k}.npz"),
             "--dump_all_tensors"])
    ops = os.path.join(work, "ops.txt")
    run([sys.executable, os.path.join(oracle_dir, "make_ops.py"), a.model, "-o", ops])

    failures = 0
    for method in a.methods.split(","):
        ours = os.path.join(work, f"mixq_{method}")
        ref = os.path.join(work, f"oracle_{method}")
        extra = ["--debug_cmd", "int4"] if a.int4 else []
        run([a.run_calibration, a.model, "--dataset", a.dataset, "--tune_num", "0", "--cali_method", method, *extra, "-o", ours])
        run([sys.executable, os.path.join(oracle_dir, "calibration_oracle.py"), "--samples", dumps, "--ops", ops,
             "--method", method, *(["--int4"] if a.int4 else []), "-o", ref])
        mine, mine_order = rows_of(ours)
        theirs, their_order = rows_of(ref)
        if [k for k in mine_order if k[0] == ""] != [k for k in their_order if k[0] == ""]:
            print(f"{method}: row names or order differ")
            failures += 1
            continue
        worst = (0.0, None)
        bad = []
        for key in their_order:
            if key not in mine:
                bad.append(f"{key}: missing in mixq's table")
                continue
            (t1, n1, x1), (t2, n2, x2) = mine[key], theirs[key]
            if method == "percentile9999" and key[0] == "#int4_th":
                continue  # TPU-MLIR leaves the 4-bit percentile unset; mixq writes the 8-bit value
            rel = abs(t1 - t2) / max(abs(t2), 1e-12)
            if rel > worst[0]:
                worst = (rel, key)
            # mixq prints 7 decimals: allow that rounding on top of the relative tolerance.
            if abs(t1 - t2) > a.rtol * abs(t2) + 5e-8:
                bad.append(f"{key[1]}: threshold {t1} vs oracle {t2} (rel {rel:.2e})")
            for v1, v2, what in ((n1, n2, "min"), (x1, x2, "max")):
                if abs(v1 - v2) > 1e-6 * max(abs(v2), 1.0) + 5e-8:
                    bad.append(f"{key[1]}: {what} {v1} vs oracle {v2}")
        status = "ok" if not bad else f"{len(bad)} mismatch(es)"
        print(f"{method}: {len(their_order)} rows, worst threshold rel diff {worst[0]:.2e} ({worst[1]}): {status}")
        for b in bad[:20]:
            print("   ", b)
        failures += 1 if bad else 0
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
