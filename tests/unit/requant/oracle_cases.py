#!/usr/bin/python3
"""Random cases for mixq::quant (include/mixq/quant/requant.hpp) computed by the lowering oracle
(tests/oracle/lowering/lowering_oracle.py), one per line:

    <function> <arguments...> <expected results...>

Reals are written with float.hex() so the C++ side reads back the exact double. The stored
fixture tests/data/requant/oracle_cases.txt is `oracle_cases.py --seed 1`; the unit test also
runs this script live with Catch's random seed when /usr/bin/python3 has numpy.
Exit code 77 when numpy is missing."""

import argparse
import math
import os
import random
import sys

try:
    import numpy as np
except ImportError:  # pragma: no cover
    print('numpy is not available: skipped', file=sys.stderr)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'oracle', 'lowering'))
import lowering_oracle as lo  # noqa: E402

MODES = [lo.HALF_AWAY_FROM_ZERO, lo.HALF_UP, lo.HALF_DOWN, lo.HALF_TO_EVEN, lo.TOWARDS_ZERO, lo.UP, lo.DOWN]


def f32(x):
    return float(np.float32(x))


def hexf(x):
    return float(x).hex()


def log_uniform(rng, lo_exp, hi_exp):
    return 2.0 ** rng.uniform(lo_exp, hi_exp)


def reals(rng):
    """Values that land on ties, near ties and in between, of both signs."""
    kind = rng.randrange(4)
    if kind == 0:
        v = rng.randrange(-1000, 1000) + 0.5
    elif kind == 1:
        v = rng.randrange(-1 << 20, 1 << 20) / 8.0
    elif kind == 2:
        v = rng.uniform(-300.0, 300.0)
    else:
        v = f32(rng.uniform(-3e7, 3e7)) + 0.5  # above 2^24: HalfToEven's float narrowing shows
    return v


def cases(seed, count):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        v = reals(rng)
        mode = rng.choice(MODES)
        out.append(f'to_int {mode} {hexf(v)} {lo.to_int(v, mode)}')
    for _ in range(count):
        n = rng.choice([1, 2, 7, 8, 15, 31, 32, 40, 62, 63, 70, rng.randrange(1, 64)])
        if rng.random() < 0.4:  # an exact tie
            x = (rng.randrange(-1 << 30, 1 << 30) * 2 + 1) << (min(n, 63) - 1)
            x = max(min(x, (1 << 63) - 1), -(1 << 63))
        else:
            x = rng.randrange(-(1 << 63), 1 << 63)
        mode = rng.choice(MODES)
        out.append(f'right_shift_round {x} {n} {mode} {lo.right_shift_round(x, n, mode)}')
    for _ in range(count // 4):  # left shifts that stay inside int64
        n = -rng.randrange(1, 20)
        x = rng.randrange(-(1 << 40), 1 << 40)
        out.append(f'right_shift_round {x} {n} {lo.HALF_UP} {lo.right_shift_round(x, n, lo.HALF_UP)}')
    for _ in range(count):
        x = rng.randrange(-(1 << 31), 1 << 31)
        m = rng.randrange(1 << 30, 1 << 31) if rng.random() < 0.8 else rng.randrange(-(1 << 31), 1 << 31)
        shift = rng.randrange(-20, 1) if rng.random() < 0.8 else rng.randrange(1, 8)
        if shift > 0:  # the oracle's Python shift does not wrap at 32 bits: keep x << shift in int32
            x >>= shift + 1
        mode = rng.choice([lo.HALF_AWAY_FROM_ZERO, lo.HALF_UP, lo.HALF_TO_EVEN, lo.DOWN])
        out.append(f'multiply_by_quantized_multiplier {x} {m} {shift} {mode} '
                   f'{lo.multiply_by_quantized_multiplier(x, m, shift, mode)}')
    for _ in range(count):
        v = rng.randrange(-(1 << 31), 1 << 31)
        m = rng.randrange(1, 1 << 31)
        r = rng.randrange(0, 63)
        out.append(f'apply_multiplier_shift_bm168x {v} {m} {r} {lo.HALF_UP} {lo.requant_multiplier_shift(v, m, r, lo.HALF_UP)}')
    for _ in range(count):
        v = rng.randrange(-(1 << 20), 1 << 20)
        m = rng.randrange(1, 128)
        r = rng.randrange(0, 20)
        mode = rng.choice([lo.HALF_UP, lo.HALF_AWAY_FROM_ZERO, lo.HALF_TO_EVEN])
        out.append(f'apply_multiplier_shift_cv18xx {v} {m} {r} {mode} '
                   f'{lo.requant_multiplier_shift(v, m, r, mode, cv18xx=True)}')
    for _ in range(count):
        v = rng.randrange(-(1 << 31), 1 << 31)
        m = rng.randrange(1 << 30, 1 << 31)
        r = rng.randrange(0, 20)
        out.append(f'apply_qdm_cv18xx {v} {m} {r} {lo.HALF_AWAY_FROM_ZERO} {lo.requant_qdm(v, m, r)}')
    for _ in range(count):
        kind = rng.randrange(3)
        if kind == 0:
            f = f32(log_uniform(rng, -20, 8))
        elif kind == 1:
            f = f32(rng.randrange(1, 200) / 2 ** rng.randrange(0, 14))  # dyadic: the first exact shift wins
        else:
            f = f32(1.0 / rng.randrange(1, 300))
        bits = rng.choice([8, 32])
        for name, fn in (('get_scale_and_shift', lo.get_scale_and_shift),
                         ('get_scale_and_shift_positive', lo.get_scale_and_shift_positive)):
            m, s = fn(f, bits)
            # INT32_MIN for a positive factor is x86's result of an out-of-range (int): undefined
            # behaviour in TPU-MLIR, an error in mixq
            out.append(f'{name} {hexf(f)} {bits} ' + ('error' if m == -(1 << 31) else f'{m} {s}'))
    for _ in range(count):
        d = log_uniform(rng, -40, 40) * rng.choice([1, -1] if rng.random() < 0.1 else [1])
        m, s = lo.quantize_multiplier(d)
        out.append(f'quantize_multiplier {hexf(d)} {m} {s}')
    for _ in range(count):
        q = log_uniform(rng, -30, 8)
        qdm = rng.random() < 0.5
        mx = rng.choice([127, 255])
        m, s = lo.rshift_and_multiplier_from_qscale(q, qdm, mx)
        out.append(f'rshift_and_multiplier_from_qscale {hexf(q)} {int(qdm)} {mx} {m} {s}')
    for _ in range(count):
        fmax = f32(log_uniform(rng, -8, 4))
        bottom, top = log_uniform(rng, -6, 6), log_uniform(rng, -6, 6)
        out.append(f'cal_right_shift_num {hexf(fmax)} {hexf(bottom)} {hexf(top)} {lo.cal_right_shift_num(fmax, bottom, top)}')
        out.append(f'cal_right_shift_num_use_cblas {hexf(fmax)} {hexf(bottom)} {hexf(top)} '
                   f'{lo.cal_right_shift_num_use_cblas(fmax, bottom, top)}')
    for k in range(1, 226):
        m, e = lo.bm1684_reciprocal(k)
        out.append(f'avgpool_reciprocal_bm1684 {k} {m} {e}')
    for _ in range(count):
        scale = log_uniform(rng, -10, 2)
        if rng.random() < 0.3:  # a tie of the float product
            x = f32((rng.randrange(-300, 300) + 0.5) * f32(scale))
        else:
            x = f32(rng.uniform(-200, 200) * scale)
        signed = rng.random() < 0.6
        zp = rng.randrange(-128, 128) if signed else rng.randrange(0, 256)
        out.append(f'quantize_bm168x {hexf(x)} {hexf(scale)} {zp} {int(signed)} {lo.quantize_input_bm1684x(x, scale, zp, signed)}')
        out.append(f'quantize_cv18xx_input {hexf(x)} {hexf(scale)} {lo.quantize_input_cv18xx(x, scale)}')
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--count', type=int, default=400, help='cases per function')
    args = ap.parse_args(argv)
    sys.stdout.write(''.join(line + '\n' for line in cases(args.seed, args.count)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
