#!/usr/bin/env python3
"""Runs one command and checks what it did; the exit status of this script is the test result.

  run_check.py [checks...] -- command [args...]

Checks (repeatable where it makes sense):
  --exit N               the command must exit with status N (default 0)
  --fail                 the command must fail cleanly: non-zero status, not killed by a signal
  --stdout S / --stderr S    the stream must contain S (case-sensitive)
  --stdout-line S        some line of stdout must be exactly S (trailing blanks ignored)
  --no-stdout S          stdout must not contain S
  --remove PATH          delete PATH before running, so a stale file cannot pass a check
  --absent PATH          PATH must not exist afterwards
  --exists PATH          PATH must exist afterwards
  --npz-names-superset OUT REF   every array name of REF must also be in OUT

Standard library only: CTest runs it with any python3.
"""
import argparse
import os
import subprocess
import sys
import zipfile


def npz_names(path):
    with zipfile.ZipFile(path) as z:
        return [n[:-4] if n.endswith(".npy") else n for n in z.namelist()]


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("run_check.py: missing '--' before the command")
    split = argv.index("--")
    p = argparse.ArgumentParser(prog="run_check.py")
    p.add_argument("--exit", type=int, default=None)
    p.add_argument("--fail", action="store_true")
    p.add_argument("--stdout", action="append", default=[])
    p.add_argument("--stderr", action="append", default=[])
    p.add_argument("--stdout-line", action="append", default=[])
    p.add_argument("--no-stdout", action="append", default=[])
    p.add_argument("--remove", action="append", default=[])
    p.add_argument("--absent", action="append", default=[])
    p.add_argument("--exists", action="append", default=[])
    p.add_argument("--npz-names-superset", nargs=2, action="append", default=[], metavar=("OUT", "REF"))
    opt = p.parse_args(argv[:split])
    cmd = argv[split + 1:]
    if not cmd:
        sys.exit("run_check.py: no command given")

    for path in opt.remove:
        if os.path.isfile(path):
            os.remove(path)

    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    problems = []
    if proc.returncode < 0:
        problems.append(f"killed by signal {-proc.returncode} (a crash, not a clean error)")
    elif opt.fail:
        if proc.returncode == 0:
            problems.append("exited with 0, expected a failure")
    else:
        want = 0 if opt.exit is None else opt.exit
        if proc.returncode != want:
            problems.append(f"exit status {proc.returncode}, expected {want}")
    for s in opt.stdout:
        if s not in proc.stdout:
            problems.append(f"stdout lacks {s!r}")
    lines = [l.rstrip() for l in proc.stdout.splitlines()]
    for s in opt.stdout_line:
        if s not in lines:
            problems.append(f"no stdout line is exactly {s!r}")
    for s in opt.no_stdout:
        if s in proc.stdout:
            problems.append(f"stdout contains {s!r}")
    for s in opt.stderr:
        if s not in proc.stderr:
            problems.append(f"stderr lacks {s!r}")
    for path in opt.absent:
        if os.path.exists(path):
            problems.append(f"{path} exists but must not")
    for path in opt.exists:
        if not os.path.exists(path):
            problems.append(f"{path} was not written")
    for out, ref in opt.npz_names_superset:
        if not os.path.exists(out):
            problems.append(f"{out} was not written")
            continue
        have = set(npz_names(out))
        missing = [n for n in npz_names(ref) if n not in have]
        if missing:
            problems.append(f"{out} lacks {len(missing)} tensor(s): {', '.join(missing)}")

    print("command:", " ".join(cmd))
    print(f"exit status: {proc.returncode}")
    print("--- stdout ---\n" + proc.stdout + "--- stderr ---\n" + proc.stderr + "--------------")
    if problems:
        for pr in problems:
            print("CHECK FAILED:", pr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
