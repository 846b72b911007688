#!/usr/bin/env python3
"""Checks a cali_table written by run_calibration, with a parser of its own (not mixq's).

  check_cali_table.py TABLE [--rows N] [--same-rows-as OTHER] [--equal-values OTHER]
                      [--close-values OTHER --rtol R] [--section FLAG]... [--no-section FLAG]...
                      [--header TEXT]... [--within-range] [--threshold-is-absmax]

--same-rows-as   the same tensor names in the same order as OTHER
--equal-values   every value equal to OTHER's (7 decimals as written)
--close-values   thresholds within R relative of OTHER's (min/max equal)
--within-range   every threshold <= max(|min|, |max|) (the clamp every method but the observer applies)
--threshold-is-absmax   threshold == max(|min|, |max|) on every row (the max method)
Standard library only.
"""
import argparse
import math
import sys


def parse(path):
    header, blocks, current = [], {"": []}, ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            if line.startswith("#"):
                flag = line.strip()
                if flag in ("#int4_th", "#asym_op", "#int4_op", "#weight_scale", "#weight_scale_fp8"):
                    current = flag
                    blocks[current] = []
                elif not blocks[""] and current == "":
                    header.append(line)
                continue
            fields = line.split()
            if current in ("", "#int4_th"):
                if len(fields) != 4:
                    sys.exit(f"{path}: row with {len(fields)} fields: {line!r}")
                blocks[current].append((fields[0], *map(float, fields[1:])))
            else:
                blocks[current].append(tuple(fields))
    return header, blocks


def main():
    p = argparse.ArgumentParser()
    p.add_argument("table")
    p.add_argument("--rows", type=int)
    p.add_argument("--same-rows-as")
    p.add_argument("--equal-values")
    p.add_argument("--close-values")
    p.add_argument("--rtol", type=float, default=1e-5)
    p.add_argument("--section", action="append", default=[])
    p.add_argument("--no-section", action="append", default=[])
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--within-range", action="store_true")
    p.add_argument("--threshold-is-absmax", action="store_true")
    a = p.parse_args()
    header, blocks = parse(a.table)
    rows = blocks[""]
    problems = []
    if not rows:
        problems.append("no threshold row")
    if a.rows is not None and len(rows) != a.rows:
        problems.append(f"{len(rows)} rows, expected {a.rows}")
    for name, th, mn, mx in rows:
        if not all(math.isfinite(v) for v in (th, mn, mx)):
            problems.append(f"{name}: non-finite value")
        if th < 1e-5 - 1e-12:
            problems.append(f"{name}: threshold {th} below 1e-5")
        if mn > mx:
            problems.append(f"{name}: min {mn} > max {mx}")
        if a.within_range and th > max(abs(mn), abs(mx)) + 1e-6 * max(1.0, abs(th)) and th > 1e-5:
            problems.append(f"{name}: threshold {th} above max(|min|, |max|) = {max(abs(mn), abs(mx))}")
        if a.threshold_is_absmax and abs(th - max(abs(mn), abs(mx))) > 1e-7 * max(1.0, th):
            problems.append(f"{name}: threshold {th} is not max(|min|, |max|) = {max(abs(mn), abs(mx))}")
    for s in a.section:
        if s not in blocks or not blocks[s]:
            problems.append(f"no {s} section")
        elif s == "#int4_th":
            for name, th, mn, _ in blocks[s]:
                if abs(mn + th * 8 / 7) > 1e-6 * max(1.0, th):
                    problems.append(f"#int4_th {name}: min {mn} is not -th*8/7")
    for s in a.no_section:
        if s in blocks:
            problems.append(f"unexpected {s} section")
    text = "\n".join(header)
    for h in a.header:
        if h not in text:
            problems.append(f"header lacks {h!r}")
    for other, mode in ((a.same_rows_as, "names"), (a.equal_values, "equal"), (a.close_values, "close")):
        if not other:
            continue
        orows = parse(other)[1][""]
        if [r[0] for r in rows] != [r[0] for r in orows]:
            problems.append(f"row names differ from {other}")
            continue
        if mode == "equal":
            for r, o in zip(rows, orows):
                if r != o:
                    problems.append(f"{r[0]}: {r[1:]} vs {o[1:]} in {other}")
        if mode == "close":
            for r, o in zip(rows, orows):
                if abs(r[1] - o[1]) > a.rtol * max(abs(o[1]), 1e-12) or r[2:] != o[2:]:
                    problems.append(f"{r[0]}: {r[1:]} vs {o[1:]} in {other}")
    if problems:
        print(f"{a.table}: {len(problems)} problem(s)")
        for x in problems[:40]:
            print("  " + x)
        sys.exit(1)
    print(f"{a.table}: {len(rows)} rows ok")


if __name__ == "__main__":
    main()
