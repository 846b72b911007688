#!/usr/bin/python3
"""Scalar reference of TPU-MLIR's INT8 lowering arithmetic (docs/lowering_spec.md).

Everything here restates the rules of the spec in plain Python so the spec's worked examples
can be recomputed and the C++ lowering/evaluator can be checked against an independent
implementation. Integer arithmetic uses Python ints (exact, arithmetic right shift); the places
where TPU-MLIR narrows to IEEE single precision are narrowed with numpy.float32 on purpose (the
spec marks each of them). Run with Debian's /usr/bin/python3:

    lowering_oracle.py --examples      # prints every worked example of the spec
"""

import math
import sys

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

HALF_AWAY_FROM_ZERO, HALF_UP, HALF_DOWN, HALF_TO_EVEN, TOWARDS_ZERO, UP, DOWN = (
    'HalfAwayFromZero', 'HalfUp', 'HalfDown', 'HalfToEven', 'TowardsZero', 'Up', 'Down')


def f32(x):
    """IEEE single rounding (round to nearest even), returned as a Python float."""
    return float(np.float32(x))


def round_half_away(x):
    """C's round() on a double: ties away from zero; exact for every finite double."""
    t = math.trunc(x)
    frac = x - t  # exact: both are doubles of the same binade or smaller
    if frac >= 0.5:
        t += 1
    elif frac <= -0.5:
        t -= 1
    return int(t)


def to_int(v, mode):
    """MathUtils to_int: a real value to an integer with one of TPU-MLIR's rounding modes."""
    if mode == HALF_AWAY_FROM_ZERO:
        return round_half_away(v)
    if mode == UP:
        return math.ceil(v)
    if mode == DOWN:
        return math.floor(v)
    if mode == HALF_UP:
        return math.floor(v + 0.5)
    if mode == HALF_DOWN:
        return math.ceil(v - 0.5)
    if mode == TOWARDS_ZERO:
        return math.trunc(v)
    if mode == HALF_TO_EVEN:
        # TPU-MLIR narrows |v| to float before splitting it, whatever v's type.
        a = np.float32(abs(v))
        frac, whole = math.modf(float(a))
        r = int(whole)
        if frac > 0.5 or (frac == 0.5 and r & 1):
            r += 1
        return -r if v < 0 else r
    raise ValueError(mode)


def clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def saturate(v, signed=True, bits=8):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return clamp(int(v), lo, hi)


def right_shift_round(src, shift, mode):
    """MathUtils RightShiftRound on a 64-bit integer (negative shift = left shift)."""
    if shift == 0:
        return src
    if shift < 0:
        return src << -shift
    shift = min(shift, 63)
    val = src >> shift  # arithmetic shift (floor)
    mant = src & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    if mode == HALF_TO_EVEN:
        return val + (val & 1) if mant == half else val + 1 if mant > half else val
    if mode == HALF_AWAY_FROM_ZERO:
        return val + 1 if (src >= 0 and mant >= half) or (src < 0 and mant > half) else val
    if mode == TOWARDS_ZERO:
        return val + (1 if src < 0 and mant != 0 else 0)
    if mode == DOWN:
        return val
    if mode == UP:
        return val + (1 if mant != 0 else 0)
    if mode == HALF_UP:
        return val + 1 if mant >= half else val
    if mode == HALF_DOWN:
        return val + 1 if mant > half else val
    raise ValueError(mode)


def multiply_by_quantized_multiplier(x, multiplier, shift, rmode):
    """TFLite-style: left shift if shift > 0, high-mul by a Q31 multiplier rounding half up,
    clamp to int32, then a rounding right shift by -shift with rmode."""
    value = x << shift if shift > 0 else x
    value = right_shift_round(value * multiplier, 31, HALF_UP)
    value = clamp(value, INT32_MIN, INT32_MAX)
    if shift < 0:
        value = right_shift_round(value, -shift, rmode)
    return value


def requant_multiplier_shift(v, multiplier, rshift, rmode=HALF_UP, cv18xx=False):
    """applyMultiplierAndRShift, MultiplierShift mode."""
    if cv18xx:
        # CV18xx: (float)v * multiplier / (1 << rshift) in single precision, then to_int.
        prod = np.float32(np.float32(v) * np.float32(multiplier))
        return to_int(float(np.float32(prod / np.float32(1 << rshift))), rmode)
    return right_shift_round(v * multiplier, rshift, rmode)


def requant_qdm(v, multiplier, rshift, rmode=HALF_AWAY_FROM_ZERO, cv18xx=True):
    """applyMultiplierAndRShift, QDM/TFLite modes. CV18xx stores the right shift positive."""
    shift = -rshift if cv18xx else rshift
    return multiply_by_quantized_multiplier(int(v), multiplier, shift, rmode)


# ---------------------------------------------------------------- multiplier/shift derivation

def _c_int(x):
    """(int) of a double that may not fit: x86 gives INT32_MIN for out-of-range values."""
    r = round_half_away(x)
    return r if INT32_MIN <= r <= INT32_MAX else INT32_MIN


def _c_abs(i):
    return i if i == INT32_MIN else abs(i)  # abs(INT_MIN) stays INT_MIN on x86


def get_scale_and_shift(scale_f, bitwidth=32, n_from=-32, n_to=31):
    """get_scale_and_shift (n in [-32, 30]) / _positive (n in [0, 30]).
    scale_f is narrowed to float; the error of each candidate is narrowed to float and only a
    strictly smaller error replaces the best, so the first exact shift wins."""
    s = f32(scale_f)
    limit = INT32_MAX if bitwidth == 32 else 127
    min_err = float(np.finfo(np.float32).max)
    shift = 0
    for n in range(n_from, n_to):
        m = _c_int(s * 2.0 ** n)
        err = f32(abs(m / 2.0 ** n - s))
        if err < min_err and _c_abs(m) < limit:
            min_err, shift = err, n
    return _c_int(s * 2.0 ** shift), shift


def get_scale_and_shift_positive(scale_f, bitwidth=32):
    return get_scale_and_shift(scale_f, bitwidth, 0, 31)


def quantize_multiplier(d):
    """QuantizeMultiplier: d = q_fixed * 2^(shift-31), q_fixed in [2^30, 2^31)."""
    if d == 0.0:
        return 0, 0
    q, shift = math.frexp(d)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return q_fixed, shift


def rshift_and_multiplier_from_qscale(qscale, qdm, max_multiplier=127):
    """getRShiftAndMultiplierFromQScale -> (multiplier, rshift)."""
    if qdm:
        if qscale >= 1:
            qscale = 0.999999
        m, shift = quantize_multiplier(qscale)
        return m, -shift
    if qscale > max_multiplier:
        return max_multiplier, 0
    for rshift in range(63):
        if qscale * (1 << (rshift + 1)) >= max_multiplier:
            return int(qscale * (1 << rshift)), rshift  # truncation
    return 0, 0


def cal_right_shift_num(fmax, th_bottom, th_top, bits=8):
    """calRightShiftNum (BM1684 conv/fc): doublings of fmax*bottom/top until >= 2^(bits-1)-1,
    minus one."""
    t = fmax * th_bottom / th_top
    if t <= 0:
        return 0
    m = 0
    while t < (1 << (bits - 1)) - 1:
        t *= 2
        m += 1
    return 31 if m > 32 else m - 1


def cal_right_shift_num_use_cblas(fmax, th_bottom, th_top, bits=8):
    """calRightShiftNumUseCblas (BM1684 eltwise): floor(log2(127 / (|fmax|*bottom/top)))."""
    fmax = abs(f32(fmax))
    t = ((1 << (bits - 1)) - 1) / (fmax * th_bottom / th_top)
    return min(math.floor(math.log(t) / math.log(2.0)), 31)


def quantize_to_int8(values, scale, mode=HALF_AWAY_FROM_ZERO):
    """quantizeToInt8: float product value*scale, then to_int8."""
    s = np.float32(scale)
    return [saturate(to_int(float(np.float32(np.float32(v) * s)), mode)) for v in values]


def quantize_to_int16(values, scale):
    """quantizeToInt16 with rshift 0 -> (values, overflow ratio)."""
    s = np.float32(scale)
    out, over = [], 0
    for v in values:
        t = round_half_away(float(np.float32(np.float32(v) * s)))
        over += t > 32767 or t < -32768
        out.append(clamp(t, -32768, 32767))
    return out, over / len(values)


# ---------------------------------------------------------------- scales from calibration

def symmetric_scale(th, signed):
    return th / (127.0 if signed else 255.0)


def asymmetric_scale_zp(rmin, rmax):
    """Module.cpp getScaleAndZeroPoint (8 bits)."""
    qmin, qmax = (-128, 127) if rmin < 0 else (0, 255)
    scale = (rmax - rmin) / (qmax - qmin)
    zp_real = qmin - rmin / scale
    zp = round_half_away(zp_real)
    if zp_real < qmin:
        zp, scale = qmin, rmax / (qmax - qmin)
    elif zp_real > qmax:
        zp, scale = qmax, rmin / (qmin - qmax)
    return scale, zp


# ---------------------------------------------------------------- per-chip op lowering

def bm1684x_conv(filters, biases, in_scale, in_zp, out_scale):
    """filters: per output channel, flat lists; biases: list or None.
    Returns dict(fsign, w_q, b_q, multiplier, rshift) as TPU-MLIR's BM1684X ConvLowering."""
    flat = [w for ch in filters for w in ch]
    fsign = min(flat) < 0 or biases is not None
    fqmax = 127.0 if fsign else 255.0
    times = None
    for i in range(7):  # to_all_int8: all weights integers once scaled by 2^i?
        s = 2.0 ** i
        ok = True
        for w in flat:
            d = f32(np.float32(w) * np.float32(s))
            lo, hi = (-128, 127) if fsign else (0, 255)
            if d != int(d) or not lo <= d <= hi:
                ok = False
                break
        if ok:
            times = s
            break
    res = {'fsign': fsign, 'w_q': [], 'b_q': [], 'multiplier': [], 'rshift': []}
    for c, ch in enumerate(filters):
        if times is not None:
            scale_w = 1.0 / times
        else:
            w_max = max(abs(np.float32(w)) for w in ch)
            scale_w = f32(max(np.float32(w_max) / np.float32(fqmax), np.float32(1e-5)))
        m, r = get_scale_and_shift(scale_w * in_scale / out_scale, 32)
        res['multiplier'].append(m)
        res['rshift'].append(r)
        wq = [saturate(round_half_away(f32(w) / scale_w), fsign) for w in ch]
        res['w_q'].append(wq)
        corr = sum(q * in_zp for q in wq) if fsign else 0  # TPU-MLIR reads the i8 buffer
        if biases is not None:
            res['b_q'].append(round_half_away(f32(biases[c]) / (scale_w * in_scale) - corr))
        elif in_zp:
            res['b_q'].append(round_half_away(-corr))
    return res


def bm1684x_conv_output(acc, bias, multiplier, rshift, out_zp=0, do_relu=False, out_signed=True):
    """Conv2D requant on BM1684X (MultiplierShift, round half up)."""
    v = requant_multiplier_shift(acc + bias, multiplier, rshift, HALF_UP) + out_zp
    if do_relu and v < out_zp:
        v = out_zp
    return saturate(v, out_signed)


def bm1684x_add(in_scales, coeffs, out_scale):
    """(multiplier, rshift) per activation input of BM1684X AddLowering."""
    return [get_scale_and_shift_positive(c * s / out_scale, 8) for s, c in zip(in_scales, coeffs)]


def bm1684x_add_output(xs, params, zps=None, out_zp=0, do_relu=False, out_signed=True):
    zps = zps or [0] * len(xs)
    total = sum(requant_multiplier_shift(x - z, m, r, HALF_UP) for x, z, (m, r) in zip(xs, zps, params))
    if do_relu and total < 0:
        total = 0
    return saturate(total + out_zp, out_signed)


def bm1684x_avgpool(in_scale, out_scale, kh, kw):
    return get_scale_and_shift(in_scale / (out_scale * kh * kw), 8)


def avgpool_output(window, counted, kh, kw, multiplier, rshift, cv18xx=False, out_signed=True):
    """window: the integers under the kernel that the average counts (count = counted)."""
    avg = np.float32(np.float32(sum(window)) / np.float32(counted))
    v = float(np.float32(np.float32(avg * np.float32(kh)) * np.float32(kw)))
    v = to_int(v, HALF_UP if cv18xx else HALF_AWAY_FROM_ZERO)
    return saturate(requant_multiplier_shift(v, multiplier, rshift, HALF_UP, cv18xx), out_signed)


def bm1684_reciprocal(k):
    """BM1684 AvgPool multiplier/rshift for a kernel of k elements (k <= 225): the nearest
    m / 2^e to 1/k with the largest e that keeps m <= 255, reduced while m is even."""
    best = (1, 0)
    for e in range(40):
        m = math.floor(2.0 ** e / k + 0.5)
        if m <= 255:
            best = (m, e)
    m, e = best
    while m % 2 == 0 and m > 0:
        m //= 2
        e -= 1
    return m, e


def bm1684_conv(filters, biases, in_scale, out_scale):
    """BM1684 ConvLowering (per-tensor, OnlyShift). Returns None when it falls back to F32."""
    flat = [w for ch in filters for w in ch]
    rshift = cal_right_shift_num(max(abs(f32(w)) for w in flat), in_scale, out_scale)
    if rshift < 0:
        return None
    b_q = None
    if biases is not None:
        b_q, over = quantize_to_int16(biases, (1 << rshift) / out_scale)
        while over > 0.03 and rshift > 0:
            rshift -= 1
            b_q, over = quantize_to_int16(biases, (1 << rshift) / out_scale)
    scale = (1 << rshift) * in_scale / out_scale
    return {'rshift': rshift, 'b_q': b_q, 'w_q': [quantize_to_int8(ch, scale) for ch in filters]}


def bm1684_add(in_scales, coeffs, out_scale):
    params = []
    for s, c in zip(in_scales, coeffs):
        r = max(cal_right_shift_num_use_cblas(c, s, out_scale), 0)
        m = quantize_to_int8([c], (1 << r) * s / out_scale)[0]
        if m < 0:
            return None  # F32 fallback
        params.append((m, r))
    return params


def cv18xx_conv(filters, biases, in_th, out_th):
    res = {'w_q': [], 'b_q': [], 'multiplier': [], 'rshift': []}
    for c, ch in enumerate(filters):
        w_max = np.float32(max(abs(np.float32(w)) for w in ch))
        qscale = float(np.float32(w_max * np.float32(in_th)) / np.float32(127.0 * np.float32(out_th)))
        if qscale >= 1:
            qscale = 0.999999
        if biases is not None:
            qb = abs(f32(biases[c])) * 127.0 / (0x7fffffff * 0.998 * f32(out_th))
            if qscale < qb < 1:
                qscale = qb
        m, r = rshift_and_multiplier_from_qscale(qscale, True)
        res['multiplier'].append(m)
        res['rshift'].append(r)
        ratio = float(np.float32(np.float32(in_th) / np.float32(out_th)))
        factor = ratio * (1 << (r + 31)) / m if m else 0.0
        res['w_q'].append(quantize_to_int8(ch, factor, HALF_TO_EVEN))
        if biases is not None:
            bf = float(np.float32(127.0) / np.float32(out_th)) * (1 << (r + 31)) / m if m else 0.0
            v = to_int(float(np.float32(np.float32(biases[c]) * np.float32(bf))), HALF_TO_EVEN)
            res['b_q'].append(clamp(v, INT32_MIN, INT32_MAX))
    return res


def cv18xx_conv_output(acc, bias, multiplier, rshift, do_relu=False):
    v = requant_qdm(acc + bias, multiplier, rshift, HALF_AWAY_FROM_ZERO, True)
    if do_relu and v < 0:
        v = 0
    return saturate(v)


def cv18xx_add(in_ths, coeffs, out_th):
    qs = [f32(c * t / out_th) for t, c in zip(in_ths, coeffs)]
    m, r = rshift_and_multiplier_from_qscale(max(abs(q) for q in qs), False, 127)
    return [int(q * (1 << r)) for q in qs], r


def cv18xx_add_output(xs, multipliers, rshift, do_relu=False):
    total = float(np.float32(sum(np.float32(x) * np.float32(m) for x, m in zip(xs, multipliers))))
    if do_relu and total < 0:
        total = 0.0
    return saturate(requant_multiplier_shift(int(total), 1, rshift, HALF_UP, True))


def cv18xx_avgpool(in_th, out_th, kh, kw):
    return rshift_and_multiplier_from_qscale(in_th / (out_th * kh * kw), False, 127)


def quantize_input_bm1684x(x, scale, zp=0, signed=True):
    """tpu.Cast f32 -> int8 on BM168x: round(x * float(1/scale)) half away, + zp, saturate."""
    inv = np.float32(1.0 / scale)
    return saturate(round_half_away(float(np.float32(np.float32(x) * inv))) + zp, signed)


def quantize_input_cv18xx(x, scale):
    """GenericCpu 'quant' on CV18xx inputs: x * float(1/scale), round half away, saturate."""
    return quantize_to_int8([x], float(np.float32(1.0 / scale)))[0]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


# ---------------------------------------------------------------- worked examples

def examples():
    """The spec's worked examples, as (name, value) pairs."""
    out = []
    s_in, s_out = symmetric_scale(127 / 64, True), symmetric_scale(127 / 32, True)  # 1/64, 1/32
    W = [[0.9921875, -0.5, 0.25, 0.125], [-0.9921875, 0.5, 0.0, 0.0]]
    b = [0.25, -0.08203125]
    x_q = [32, 16, -48, 64]
    conv = bm1684x_conv(W, b, s_in, 0, s_out)
    out.append(('bm1684x conv', conv))
    for c in range(2):
        acc = dot(conv['w_q'][c], x_q)
        out.append((f'bm1684x conv ch{c} acc', acc))
        out.append((f'bm1684x conv ch{c} out', bm1684x_conv_output(acc, conv['b_q'][c], conv['multiplier'][c], conv['rshift'][c])))
        out.append((f'bm1684x conv ch{c} out relu', bm1684x_conv_output(acc, conv['b_q'][c], conv['multiplier'][c], conv['rshift'][c], do_relu=True)))
    # a filter whose values are all integers after x2^i (i < 7) keeps scale 1/2^i (to_all_int8)
    conv_i = bm1684x_conv([[1.0, -1.0]], [0.5], s_in, 0, s_out)
    out.append(('bm1684x integer filter conv', conv_i))
    # asymmetric: input range [-1, 3] -> scale 4/255, zp -64; output [-2, 6] -> 8/255, zp -64
    a_in, z_in = asymmetric_scale_zp(-1.0, 3.0)
    a_out, z_out = asymmetric_scale_zp(-2.0, 6.0)
    conv_a = bm1684x_conv([[0.7, -0.2]], [0.5], a_in, z_in, a_out)
    out.append(('bm1684x asym scales', (a_in, z_in, a_out, z_out)))
    out.append(('bm1684x asym conv', conv_a))
    xa = [0, -32]  # real [(0+64)*4/255, (-32+64)*4/255]
    acc = dot(conv_a['w_q'][0], xa)
    out.append(('bm1684x asym conv acc', acc))
    out.append(('bm1684x asym conv out', bm1684x_conv_output(acc, conv_a['b_q'][0], conv_a['multiplier'][0], conv_a['rshift'][0], z_out)))
    # MatMul: x [1,3] @ W [3,2], per-tensor weight scale max|W|/127
    Wm = [[0.9921875, -0.25], [0.5, 0.125], [-0.75, 0.0]]
    w_scale = max(abs(f32(v)) for row in Wm for v in row) / 127.0
    m, r = get_scale_and_shift(s_in * w_scale / s_out, 32)
    Wq = [[saturate(round_half_away(f32(v) / w_scale)) for v in row] for row in Wm]
    bq = [round_half_away(f32(v) / (w_scale * s_in)) for v in (0.125, -0.0625)]
    xm = [40, -24, 8]
    accs = [sum(xm[k] * Wq[k][n] for k in range(3)) for n in range(2)]
    out.append(('bm1684x matmul', {'w_scale': w_scale, 'multiplier': m, 'rshift': r, 'w_q': Wq, 'b_q': bq, 'acc': accs}))
    out.append(('bm1684x matmul out', [saturate(requant_multiplier_shift(a + bb, m, r, HALF_UP)) for a, bb in zip(accs, bq)]))
    # Add: inputs at 1/64 and 1/32, output 1/32
    p = bm1684x_add([s_in, s_out], [1.0, 1.0], s_out)
    out.append(('bm1684x add params', p))
    out.append(('bm1684x add (37, 5)', bm1684x_add_output([37, 5], p)))
    out.append(('bm1684x add (-37, 5)', bm1684x_add_output([-37, 5], p)))
    p2 = bm1684x_add([s_in, s_in], [1.0, 1.0], s_out)
    out.append(('bm1684x add two 1/64 inputs params', p2))
    out.append(('bm1684x add (1, 1)', bm1684x_add_output([1, 1], p2)))
    # AvgPool
    ap = bm1684x_avgpool(s_in, s_in, 2, 2)
    out.append(('bm1684x avgpool 2x2 params', ap))
    for win in ([10, 11, 12, 14], [10, 11, 12, 13], [-10, -11, -12, -13]):
        out.append((f'bm1684x avgpool {win}', avgpool_output(win, 4, 2, 2, *ap)))
    ap3 = bm1684x_avgpool(s_in, s_in, 3, 3)
    out.append(('bm1684x avgpool 3x3 params', ap3))
    out.append(('bm1684x avgpool 3x3 sum 1143', avgpool_output([127] * 9, 9, 3, 3, *ap3)))
    out.append(('bm1684x avgpool 3x3 corner (4 of 9 counted) [40,41,42,43]',
                avgpool_output([40, 41, 42, 43], 4, 3, 3, *ap3)))
    # BM1684
    c84 = bm1684_conv(W, b, s_in, s_out)
    out.append(('bm1684 conv', c84))
    for c in range(2):
        acc = dot(c84['w_q'][c], x_q)
        out.append((f'bm1684 conv ch{c} acc', acc))
        out.append((f'bm1684 conv ch{c} out', saturate(right_shift_round(acc + c84['b_q'][c], c84['rshift'], HALF_UP))))
    a84 = bm1684_add([s_in, s_out], [1.0, 1.0], s_out)
    out.append(('bm1684 add params', a84))
    out.append(('bm1684 add (-37, 5)', bm1684x_add_output([-37, 5], a84)))
    out.append(('bm1684 avgpool reciprocal k=4,9,49', [bm1684_reciprocal(k) for k in (4, 9, 49)]))
    m9, e9 = bm1684_reciprocal(9)
    out.append(('bm1684 avgpool 3x3 sum 1143', avgpool_output([127] * 9, 9, 3, 3, m9, e9)))
    # CV18xx
    t_in, t_out = 127 / 64, 127 / 32
    cv = cv18xx_conv(W, b, t_in, t_out)
    out.append(('cv18xx conv', cv))
    for c in range(2):
        acc = dot(cv['w_q'][c], x_q)
        out.append((f'cv18xx conv ch{c} out', cv18xx_conv_output(acc, cv['b_q'][c], cv['multiplier'][c], cv['rshift'][c])))
    ma, ra = cv18xx_add([t_in, t_out], [1.0, 1.0], t_out)
    out.append(('cv18xx add params', (ma, ra)))
    out.append(('cv18xx add (-37, 5)', cv18xx_add_output([-37, 5], ma, ra)))
    mb, rb = cv18xx_add([t_in, t_in], [1.0, 1.0], t_out)
    out.append(('cv18xx add two 1/64 inputs params', (mb, rb)))
    out.append(('cv18xx add (1, 1)', cv18xx_add_output([1, 1], mb, rb)))
    ap_cv = cv18xx_avgpool(t_in, t_in, 2, 2)
    out.append(('cv18xx avgpool 2x2 params', ap_cv))
    out.append(('cv18xx avgpool [10,11,12,13]', avgpool_output([10, 11, 12, 13], 4, 2, 2, *ap_cv, cv18xx=True)))
    out.append(('cv18xx avgpool [-10,-11,-12,-13]', avgpool_output([-10, -11, -12, -13], 4, 2, 2, *ap_cv, cv18xx=True)))
    ap_cv3 = cv18xx_avgpool(t_in, t_in, 3, 3)
    out.append(('cv18xx avgpool 3x3 params', ap_cv3))
    out.append(('cv18xx avgpool 3x3 sum 1143', avgpool_output([127] * 9, 9, 3, 3, *ap_cv3, cv18xx=True)))
    # Input quantization
    out.append(('quantize 0.5078125 at 1/64 (bm1684x)', quantize_input_bm1684x(0.5078125, s_in)))
    out.append(('quantize -0.5078125 at 1/64 (bm1684x)', quantize_input_bm1684x(-0.5078125, s_in)))
    return out


def main(argv):
    if '--examples' in argv:
        for name, value in examples():
            print(f'{name}: {value}')
        return 0
    print(__doc__)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
