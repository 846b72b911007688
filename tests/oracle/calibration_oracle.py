#!/usr/bin/python3
"""Independent NumPy oracle for the thresholds of TPU-MLIR's run_calibration (no tuning).

It recomputes a calibration table from tensors dumped per calibration batch, with TPU-MLIR's
statistics (kld_calibrator.py / cali_math.py / calibration_math.cpp as of 2026, restated in
/work/shared/reference/tpu-mlir-facts.md sections 1.1, 2.3-2.6 and 8.6), so mixq's C++ can be
checked against it. It computes what TPU-MLIR writes to `<cali>.1`: the table before tuning.

    calibration_oracle.py --samples DIR --ops ops.txt
        --method kl|mse|max|percentile9999|aciq_gauss|aciq_laplace
        [--bins 2048] [--int4] [--kurtosis out.txt] -o table.txt

DIR holds sample_0.npz, sample_1.npz, ... (consecutive, one per calibration batch, keys = tensor
names: what `model_runner --dump_all_tensors` writes). Every tensor is taken as float32, as
TPU-MLIR's interpreter hands every tensor to the calibrator (integer and bool tensors included).

ops.txt lists one cali-table row per line, in the table's order (topological):

    <tensor name> <op mnemonic> <producers> [<op index> [multi]]

  tensor name  the row's name: the result's loc name (one row per result of a multi-result op)
  op mnemonic  e.g. top.Conv; the last-5 rule stops at top.Conv / top.MatMul
  producers    how many of the op's operands come from other ops (top.Weight and top.None
               operands do not count); 0 for top.Input. Rows with 0 are the "no predecessor"
               ops whose mse/aciq threshold is the abs-max.
  op index     0-based position of the producing op in TPU-MLIR's op list (every op of the
               function body except top.None, top.Weight and the return; top.Input included; a
               multi-result op counts once). The percentile level of percentile9999 depends on
               it. Default: the row's own 0-based position.
  multi        the literal word `multi` when the row is a result of a multi-result op: TPU-MLIR's
               parser names such an op `fused["a", "b"]`, so its rows never match the
               "no predecessor" rule nor stop the last-5 walk.

and optionally one line

    @ops <N>

giving the length of that op list (the denominator of the percentile level). Default: the number
of rows. Blank lines and lines starting with '#' are ignored.

Which rows exist is TPU-MLIR's choice, not the oracle's: every result of every op above, except
that for a multi-result op whose results include one with a consumer, the results without a
consumer are left out (a consumer that is itself a multi-result op does not count, as read).

Output: one line `name threshold min max` per row in ops.txt order, each value printed with
%.10e; with --int4 a blank line, `#int4_th`, and the 4-bit rows `name th -th*8/7 th`.
--kurtosis writes TPU-MLIR's kurtosis_analysis file (`# op_name   kurtosis   op_type`, rows
`name  %.7f  type` sorted by kurtosis, descending, LayerNorm and Softmax left out).

Where TPU-MLIR's code, as read, would crash, the oracle does what the code evidently means:
  - a tensor that is all zeros in the first batch and not later: TPU-MLIR divides by a zero bin
    step (OverflowError); the oracle restarts the histogram from the batch that is not all zeros.
  - --int4 with mse/aciq: TPU-MLIR's per-batch 4-bit lists are never created (KeyError); the
    oracle keeps them like the 8-bit ones.
  - --kurtosis: cali_math's get_kurtosis lacks `self` (TypeError when called on the instance);
    the oracle computes the kurtosis the function describes.
Kept as TPU-MLIR does them (they are observable): the 4-bit percentile9999 threshold is never set
(0 in #int4_th); a NaN per-batch mse/aciq value (e.g. a batch that is all zeros) makes the average
NaN, and a NaN threshold is written as 1e-5.
"""

import argparse
import math
import os
import re
import sys
import warnings

import numpy as np

FOLD_ABOVE_BINS = 64 * 2048  # the KL search halves longer histograms
RESET_ABOVE_BINS = 8000000  # a histogram that would grow past this restarts
METHODS = ('kl', 'mse', 'max', 'percentile9999', 'aciq_gauss', 'aciq_laplace')
ACIQ_GAUSS_ALPHA = {8: 3.92403337, 4: 2.55913642}
ACIQ_LAPLACE_BETA = {8: 9.89675982, 4: 5.02864014}


class OracleError(Exception):
    pass


# ---- statistics of one batch --------------------------------------------------------------------


def abs_histogram(x, abs_max, bins):
    """Counts of round(|x| / width) over `bins` bins covering [0, abs_max], exact zeros left out.

    Returns (int32 counts, width) with width = abs_max / (bins - 1). The division happens in
    float32 (the array's type), as numpy does it for TPU-MLIR."""
    mags = np.abs(x.reshape(-1))
    mags = mags[mags != 0]
    width = abs_max / (bins - 1)
    if mags.size == 0:
        return np.zeros(bins, dtype=np.int32), width
    index = np.floor(mags / width + 0.5)
    counts, _ = np.histogram(index, bins=bins, range=(0, bins - 1))
    return counts.astype(np.int32), width


class HistogramState:
    """The running histogram of one tensor across batches (TPU-MLIR's combine_histogram)."""

    def __init__(self, bins):
        self.bins = bins
        self.counts = None
        self.width = None
        self.top = None  # the abs value the bins were laid out for
        self.resets = 0

    def add(self, x, running_abs_max):
        if self.counts is None or (self.top == 0 and running_abs_max > 0):
            self.counts, self.width = abs_histogram(x, running_abs_max, self.bins)
            self.top = running_abs_max
            return
        if running_abs_max <= self.top:
            more, _ = abs_histogram(x, self.top, len(self.counts))
            self.counts = self.counts + more
            return
        # Grow by whole bins of the old step (top / n, not top / (n - 1)) instead of re-binning.
        n_old = len(self.counts)
        step = self.top / n_old
        extra = int((running_abs_max - self.top) // step + 1)
        n_new = n_old + extra
        if n_new > RESET_ABOVE_BINS:
            self.resets += 1
            self.counts, self.width = abs_histogram(x, running_abs_max, self.bins)
            self.top = running_abs_max
            return
        new_top = extra * step + self.top
        counts, width = abs_histogram(x, new_top, n_new)
        counts[0:n_old] += self.counts
        self.counts, self.width, self.top = counts, width, new_top


def pad_and_fold(counts, width, multiple):
    """Zero-pads to a multiple of `multiple` bins, then halves (pairwise sums, width doubled)
    while longer than 64*2048 bins, padding again after each halving."""

    def pad(c):
        short = (-len(c)) % multiple
        return np.concatenate((c, np.zeros(short, dtype=c.dtype))) if short else c

    counts = pad(counts)
    while len(counts) > FOLD_ABOVE_BINS:
        counts = pad(counts[0::2] + counts[1::2])
        width = width * 2.0
    return counts, width


def _f32(v):
    return float(np.float32(v))


def _sequential_f32_sum(values_f32):
    """A float accumulated left to right in single precision, as a C loop `float s += v` does."""
    if len(values_f32) == 0:
        return np.float32(0)
    return np.cumsum(values_f32, dtype=np.float32)[-1]


def kl_divergences(counts, target_bins):
    """TPU-MLIR's KL value for every candidate cut i = target, 2*target, ..., len(counts), with
    the C code's single-precision arithmetic: P keeps the first i bins with everything beyond
    folded into bin i-1, normalised by the total; Q spreads each of the `target` groups of i/target
    bins evenly over its non-empty bins, normalised by the count below i; KL uses log10."""
    n = len(counts)
    h = counts.astype(np.int64)
    hf = h.astype(np.float32)
    total = np.float32(int(h.sum()))
    out = []
    for i in range(target_bins, n + 1, target_bins):
        p = hf[:i].copy()
        p[i - 1] = _sequential_f32_sum(hf[i - 1:])
        with np.errstate(divide='ignore', invalid='ignore'):
            p = p / total
        below = _sequential_f32_sum(hf[:i])
        group = i // target_bins
        grouped = hf[:i].reshape(target_bins, group)
        group_sum = np.cumsum(grouped, axis=1, dtype=np.float32)[:, -1]
        nonempty = (h[:i].reshape(target_bins, group) > 0).sum(axis=1).astype(np.float32)
        nonempty[nonempty == 0] = np.float32(1)
        with np.errstate(divide='ignore', invalid='ignore'):
            level = (group_sum / nonempty) / below
        q = np.where(h[:i] > 0, np.repeat(level, group), np.float32(0)).astype(np.float32)
        acc = 0.0
        used = np.nonzero(p != 0)[0]  # a zero P term adds exactly 0
        for pv, qv in zip(p[used].tolist(), q[used].tolist()):
            acc = _f32(acc + pv * (math.log10(pv + 1e-30) - math.log10(qv + 1e-30)))
        out.append(acc)
    return out


def kl_threshold(counts, width, target_bins):
    """The KL threshold: width * (first candidate with the smallest KL), in float32."""
    kls = kl_divergences(counts, target_bins)
    best = 0
    for j in range(1, len(kls)):
        if kls[best] > kls[j]:  # NaN never wins, and a NaN first value keeps index 0
            best = j
    w = np.float32(width)
    return float(np.float32(np.float32(w * np.float32(best + 1)) * np.float32(target_bins)))


def octav_threshold(x, bits):
    """TPU-MLIR's 'mse' threshold of one batch (OCTAV's fixed point for `bits` bits):
    s <- sum(|x| > s) / (4^-bits / 3 / u * #(|x| <= s) + #(|x| > s)), from the mean of the
    non-zero |x|, at most 20 steps, stopping (at the previous s) when a step moves < 1e-6.
    u = 4 for a tensor whose minimum is ~0 (unsigned), else 1."""
    mags = np.abs(x.reshape(-1))
    u = 4 if np.abs(np.min(x) - 0) < 1e-6 else 1
    with np.errstate(divide='ignore', invalid='ignore'):
        s = mags.sum() / mags[mags > 0].size
        for _ in range(20):
            above = mags > s
            n_above = mags[above].size
            n_below = mags[mags <= s].size
            nxt = mags[above].sum() / (1 / (4 ** bits) / 3 / u * n_below + n_above)
            if np.abs(nxt - s) < 1e-6:
                break
            s = nxt
    return s


def aciq_gauss_threshold(x, bits):
    """alpha * sigma, sigma estimated from the range: (max - min) * 0.175 * (1 + sqrt(pi ln 4))
    / sqrt(2 ln N)."""
    spread = np.max(x) - np.min(x)
    const = (0.5 * 0.35) * (1 + (math.pi * math.log(4)) ** 0.5)
    with np.errstate(divide='ignore', invalid='ignore'):
        sigma = (spread * const) / ((2 * math.log(x.size)) ** 0.5)
    return ACIQ_GAUSS_ALPHA[bits] * sigma


def aciq_laplace_threshold(x, bits):
    """beta * b, b = mean |x - mean(x)|."""
    b = np.mean(np.abs(x - np.mean(x)))
    return ACIQ_LAPLACE_BETA[bits] * b


def kurtosis(x):
    """E[z^4] (not excess) with z = (x - mean) / (std + 1e-8), in float32; inf when std is 0."""
    flat = x.reshape(-1)
    mean = np.mean(flat)
    std = np.std(flat)
    if std == 0:
        return float('inf')
    z = (flat - mean) / (std + 1e-8)
    return np.mean(z ** 4).item()


def percentile_level(op_index, n_ops):
    """percentile9999's level for the op at `op_index`: 99.99 + i * (99.999999 - 99.99) / #ops."""
    return 99.99 + op_index * ((99.999999 - 99.99) / n_ops)


def outermost(x, k):
    """The k smallest and the k largest values of one batch (they overlap when 2k > size)."""
    ordered = np.sort(x)
    return np.concatenate((ordered[:k].copy(), ordered[-k:].copy()))


def interpolate_extreme(ordered_values, k, level, total_count):
    """The percentile value TPU-MLIR takes from the k outermost values: the k-th one from the end
    plus frac(level/100 * (n - 1)) of the step to the (k-1)-th one (`ordered_values` runs from
    the k-th outermost value outwards)."""
    inter = total_count - 1
    pos = (level / 100) * inter
    ratio = pos - int(pos)
    if k == 1:
        return ordered_values[0]
    return ordered_values[0] + ratio * (ordered_values[1] - ordered_values[0])


# ---- ops.txt ------------------------------------------------------------------------------------


class Row:
    def __init__(self, name, op_type, producers, op_index, multi):
        self.name = name
        self.op_type = op_type
        self.producers = producers
        self.op_index = op_index
        self.multi = multi


def read_ops(path):
    rows, n_ops = [], None
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.startswith('#'):
                continue
            fields = text.split()
            where = '%s:%d' % (path, line_no)
            if fields[0] == '@ops':
                if len(fields) != 2 or not fields[1].isdigit() or int(fields[1]) == 0:
                    raise OracleError(where + ': expected "@ops <number of ops>"')
                n_ops = int(fields[1])
                continue
            if len(fields) < 3 or len(fields) > 5 or not fields[2].isdigit():
                raise OracleError(where + ': expected "<tensor> <op mnemonic> <producers> [<op index> [multi]]"')
            index = len(rows)
            if len(fields) >= 4:
                if not fields[3].isdigit():
                    raise OracleError(where + ': the op index must be a number')
                index = int(fields[3])
            multi = len(fields) == 5
            if multi and fields[4] != 'multi':
                raise OracleError(where + ': the fifth field can only be "multi"')
            rows.append(Row(fields[0], fields[1], int(fields[2]), index, multi))
    if not rows:
        raise OracleError(path + ': no row')
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise OracleError(path + ': a tensor is listed twice')
    return rows, (n_ops if n_ops is not None else len(rows))


def sample_files(directory):
    found = {}
    for name in os.listdir(directory):
        m = re.fullmatch(r'sample_(\d+)\.npz', name)
        if m:
            found[int(m.group(1))] = os.path.join(directory, name)
    if not found:
        raise OracleError(directory + ': no sample_<k>.npz file')
    if sorted(found) != list(range(len(found))):
        raise OracleError(directory + ': the sample files are not numbered 0, 1, 2, ... without gaps')
    return [found[k] for k in range(len(found))]


# ---- the calibration ----------------------------------------------------------------------------


class Result:
    """One tensor's values, as TPU-MLIR's calibration_result holds them."""

    def __init__(self, lo, hi, abs_max):
        self.min_val, self.max_val, self.abs_max = lo, hi, abs_max
        self.mse = self.kl = self.p99 = self.aciq_g = self.aciq_l = 0.0
        self.p99_min, self.p99_max = -1.0, 1.0

    def clamp(self):
        if self.abs_max > max(abs(self.min_val), abs(self.max_val)):
            self.abs_max = max(abs(self.min_val), abs(self.max_val))
        if self.p99_min < self.min_val:
            self.p99_min = self.min_val
        if self.p99_max > self.max_val:
            self.p99_max = self.max_val
        for field in ('p99', 'mse', 'kl', 'aciq_g', 'aciq_l'):
            if getattr(self, field) > self.abs_max:
                setattr(self, field, self.abs_max)

    def threshold(self, method):
        return {'max': self.abs_max, 'mse': self.mse, 'kl': self.kl, 'percentile9999': self.p99,
                'aciq_gauss': self.aciq_g, 'aciq_laplace': self.aciq_l}[method]


class TensorStats:
    def __init__(self, bins):
        self.lo = float('inf')
        self.hi = float('-inf')
        self.hist = HistogramState(bins)
        self.per_batch = {8: [], 4: []}
        self.kurt = []
        self.extremes = []
        self.size = 0
        self.k = 1


class Calibrator:
    def __init__(self, rows, n_ops, n_batches, method, bins=2048, int4=False, kurtosis_wanted=False):
        if method not in METHODS:
            raise OracleError('unknown method ' + method)
        self.rows, self.n_ops, self.n_batches = rows, n_ops, n_batches
        self.method, self.bins, self.int4, self.kurtosis_wanted = method, bins, int4, kurtosis_wanted
        self.bits = [8, 4] if int4 else [8]
        # The last five rows, last first: the ones the last-5 rule may visit.
        self.last_five = [r.name for r in rows[-5:]][::-1]
        self.stats = {r.name: TensorStats(bins) for r in rows}

    def observe(self, tensors, source='sample'):
        """One calibration batch: a mapping tensor name -> array."""
        for row in self.rows:
            if row.name not in tensors:
                raise OracleError('%s has no tensor %r' % (source, row.name))
            x = np.asarray(tensors[row.name]).astype(np.float32).reshape(-1)
            if x.size == 0:
                raise OracleError('%s: tensor %r is empty' % (source, row.name))
            st = self.stats[row.name]
            level = percentile_level(row.op_index, self.n_ops)
            st.size = x.size
            st.k = int(self.n_batches * st.size * (1 - level / 100)) + 1
            st.lo = min(np.min(x), st.lo)
            st.hi = max(np.max(x), st.hi)
            running_abs = max(abs(st.lo), abs(st.hi))
            if self.kurtosis_wanted:
                st.kurt.append(kurtosis(x))
            if row.name in self.last_five or self.method == 'percentile9999':
                st.extremes = np.concatenate((st.extremes, outermost(x, st.k)))
            for bits in self.bits:
                if self.method == 'mse':
                    st.per_batch[bits].append(octav_threshold(x, bits))
                elif self.method == 'aciq_gauss':
                    st.per_batch[bits].append(aciq_gauss_threshold(x, bits))
                elif self.method == 'aciq_laplace':
                    st.per_batch[bits].append(aciq_laplace_threshold(x, bits))
            st.hist.add(x, running_abs)

    def finish(self):
        """Returns (rows8, rows4, kurtosis): rows as (name, threshold, min, max) in table order."""
        m = self.method
        results, last_five_th = {}, {}
        for row in self.rows:
            st = self.stats[row.name]
            level = percentile_level(row.op_index, self.n_ops)
            lo, hi = st.lo, st.hi
            abs_value = max(abs(lo), abs(hi))
            r8, r4 = Result(lo, hi, abs_value), Result(lo, hi, abs_value)
            total = self.n_batches * st.size
            if m == 'percentile9999':
                ordered = np.sort(st.extremes)
                v_max = interpolate_extreme(ordered[-st.k:], st.k, level, total)
                v_min = interpolate_extreme(ordered[:st.k][::-1], st.k, level, total)
                lo, hi = v_min, v_max  # TPU-MLIR overwrites its running min/max here
                r8.p99, r8.p99_min, r8.p99_max = max(abs(v_max), abs(v_min)), v_min, v_max
            if m in ('mse', 'aciq_gauss', 'aciq_laplace'):
                if row.name in self.last_five:
                    top = np.sort(np.abs(st.extremes))[-st.k:]
                    last_five_th[row.name] = interpolate_extreme(top, st.k, level, total)
                for bits, res in ((8, r8), (4, r4)):
                    if bits not in self.bits:
                        continue
                    values = st.per_batch[bits]
                    mean = sum(values) / len(values)
                    if m == 'mse':
                        res.mse = min(mean, abs_value)
                    else:
                        if mean > abs_value:
                            mean = abs_value
                        setattr(res, 'aciq_g' if m == 'aciq_gauss' else 'aciq_l', mean)
            if abs_value <= 1e-5:
                lo = -1e-5 if lo < 0 else 0
                for res in (r8, r4):
                    res.min_val, res.max_val, res.abs_max = lo, 1e-5, 1e-5
            results[row.name] = (r8, r4)

        kept = set()
        if m in ('mse', 'aciq_gauss', 'aciq_laplace'):
            kinds = {r.name: r for r in self.rows}
            for name in self.last_five:
                r8 = results[name][0]
                if last_five_th[name] != max(abs(r8.min_val), abs(r8.max_val)):
                    break
                kept.add(name)
                row = kinds[name]
                if not row.multi and row.op_type in ('top.MatMul', 'top.Conv'):
                    break

        if m == 'kl':
            for row in self.rows:
                st = self.stats[row.name]
                counts, width = pad_and_fold(st.hist.counts, st.hist.width, 128)
                results[row.name][0].kl = kl_threshold(counts, width, 128)
                if self.int4:
                    results[row.name][1].kl = kl_threshold(counts, width, 8)

        field = {'mse': 'mse', 'aciq_gauss': 'aciq_g', 'aciq_laplace': 'aciq_l'}.get(m)
        for row in self.rows:
            r8, r4 = results[row.name]
            r8.clamp()
            r4.clamp()
            if field is None:
                continue
            if row.name in kept:
                setattr(r8, field, last_five_th[row.name])
                setattr(r4, field, last_five_th[row.name])
            elif row.producers == 0 and not row.multi:
                setattr(r8, field, max(abs(r8.min_val), abs(r8.max_val)))
                setattr(r4, field, max(abs(r8.min_val), abs(r8.max_val)))

        rows8, rows4 = [], []
        for row in self.rows:
            r8, r4 = results[row.name]
            th = r8.threshold(m)
            if th <= 1e-5 or np.isnan(th):
                th = 1e-5
            if m == 'percentile9999':
                rows8.append((row.name, th, r8.p99_min, r8.p99_max))
            else:
                rows8.append((row.name, th, r8.min_val, r8.max_val))
            if self.int4:
                th4 = r4.threshold(m)
                rows4.append((row.name, th4, -th4 * 8.0 / 7.0, th4))
        kurt = [(row.name, sum(self.stats[row.name].kurt) / len(self.stats[row.name].kurt),
                 'None' if row.multi else row.op_type)
                for row in self.rows] if self.kurtosis_wanted else []
        return rows8, rows4, kurt


def format_table(rows8, rows4):
    lines = ['%s %.10e %.10e %.10e' % (n, float(t), float(lo), float(hi)) for n, t, lo, hi in rows8]
    if rows4:
        lines += ['', '#int4_th'] + ['%s %.10e %.10e %.10e' % (n, float(t), float(lo), float(hi)) for n, t, lo, hi in rows4]
    return '\n'.join(lines) + '\n'


def format_kurtosis(kurt):
    ordered = sorted(kurt, key=lambda item: item[1], reverse=True)
    lines = ['# op_name   kurtosis   op_type']
    lines += ['%s  %.7f  %s' % (n, k, t) for n, k, t in ordered if t not in ('top.LayerNorm', 'top.Softmax')]
    return '\n'.join(lines) + '\n'


def run(samples_dir, ops_path, method, bins=2048, int4=False, kurtosis_wanted=False):
    rows, n_ops = read_ops(ops_path)
    files = sample_files(samples_dir)
    cal = Calibrator(rows, n_ops, len(files), method, bins, int4, kurtosis_wanted)
    for path in files:
        with np.load(path) as npz:
            cal.observe(npz, path)
    return cal.finish()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--samples', required=True, help='folder with sample_0.npz, sample_1.npz, ...')
    ap.add_argument('--ops', required=True, help='the rows: "<tensor> <op> <producers> [<op index> [multi]]"')
    ap.add_argument('--method', required=True, choices=METHODS)
    ap.add_argument('--bins', type=int, default=2048, help='histogram bins (run_calibration --histogram_bin_num)')
    ap.add_argument('--int4', action='store_true', help='also the #int4_th rows (debug_cmd int4)')
    ap.add_argument('--kurtosis', help='write a kurtosis_analysis file here')
    ap.add_argument('-o', '--output', required=True)
    args = ap.parse_args(argv)
    if args.bins < 2:
        ap.error('--bins must be at least 2')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            rows8, rows4, kurt = run(args.samples, args.ops, args.method, args.bins, args.int4, args.kurtosis is not None)
    except (OracleError, OSError, KeyError, ValueError) as e:
        print('calibration_oracle.py: error: %s' % e, file=sys.stderr)
        return 1
    with open(args.output, 'w') as f:
        f.write(format_table(rows8, rows4))
    if args.kurtosis:
        with open(args.kurtosis, 'w') as f:
            f.write(format_kurtosis(kurt))
    return 0


if __name__ == '__main__':
    sys.exit(main())
