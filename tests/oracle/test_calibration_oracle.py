#!/usr/bin/python3
"""Self-tests of calibration_oracle.py: cases whose answer is derived by hand (or by a direct
formula) rather than by running the oracle's own code path. Exit code 77 when numpy is missing
(CTest reports the test as skipped)."""

import math
import os
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
except ImportError:  # pragma: no cover
    print('numpy is not available: skipped')
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibration_oracle as oracle  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE = os.path.join(HERE, 'calibration_oracle.py')
MAKE_OPS = os.path.join(HERE, 'make_ops.py')
MODELS = os.path.join(HERE, '..', 'data', 'models')


def f32(values):
    return np.asarray(values, dtype=np.float32)


def calibrate(rows, batches, method, n_ops=None, bins=2048, int4=False):
    """rows: (name, op, producers[, op index[, multi]]); batches: list of {name: array}."""
    parsed = []
    for k, r in enumerate(rows):
        index = r[3] if len(r) > 3 else k
        parsed.append(oracle.Row(r[0], r[1], r[2], index, len(r) > 4))
    cal = oracle.Calibrator(parsed, n_ops or len(parsed), len(batches), method, bins, int4)
    for b in batches:
        cal.observe(b)
    rows8, rows4, _ = cal.finish()
    return {r[0]: r[1:] for r in rows8}, {r[0]: r[1:] for r in rows4}


class HistogramTest(unittest.TestCase):
    def test_bins_round_to_nearest_and_skip_exact_zeros(self):
        counts, width = oracle.abs_histogram(f32([0, 0.1, -0.26, 0.5, 1.0]), np.float32(1.0), 5)
        self.assertEqual(width, 0.25)
        # |x|/0.25 + 0.5 = 0.9, 1.54, 2.5, 4.5 -> bins 0, 1, 2, 4; the exact zero is not counted.
        self.assertEqual(counts.tolist(), [1, 1, 1, 0, 1])
        self.assertEqual(counts.dtype, np.int32)

    def test_the_bin_index_is_computed_in_float32(self):
        # width = 1/7 becomes float32 0.14285715: 0.5 / width = 3.4999998, so 0.5 lands in bin 3, not 4.
        counts, _ = oracle.abs_histogram(f32([0.5]), np.float32(1.0), 8)
        self.assertEqual(counts.tolist(), [0, 0, 0, 1, 0, 0, 0, 0])

    def test_a_larger_batch_grows_the_histogram_by_whole_old_steps(self):
        h = oracle.HistogramState(8)
        h.add(f32([1.0, 0.6]), np.float32(1.0))  # width 1/7: bins 7 and round(4.2) = 4
        self.assertEqual(h.counts.tolist(), [0, 0, 0, 0, 1, 0, 0, 1])
        h.add(f32([2.0]), np.float32(2.0))
        # step = 1/8 (top / n, not top / (n - 1)); 9 bins added = floor((2 - 1) / (1/8)) + 1;
        # new top = 1 + 9/8 = 2.125 over 17 bins, width 2.125/16; 2.0 / 0.1328125 = 15.06 -> bin 15.
        self.assertEqual(len(h.counts), 17)
        self.assertAlmostEqual(h.top, 2.125, places=12)
        self.assertAlmostEqual(h.width, 2.125 / 16, places=12)
        expected = [0] * 17
        expected[4] = expected[7] = expected[15] = 1
        self.assertEqual(h.counts.tolist(), expected)

    def test_a_smaller_batch_is_binned_on_the_current_bins(self):
        h = oracle.HistogramState(8)
        h.add(f32([1.0]), np.float32(1.0))
        h.add(f32([0.3]), np.float32(1.0))  # running abs-max unchanged: 0.3 * 7 = 2.1 -> bin 2
        self.assertEqual(h.counts.tolist(), [0, 0, 1, 0, 0, 0, 0, 1])
        self.assertEqual(h.width, 1.0 / 7)

    def test_growing_past_8M_bins_restarts_from_the_current_batch(self):
        h = oracle.HistogramState(2048)
        h.add(f32([1e-3]), np.float32(1e-3))
        h.add(f32([10.0, 5.0]), np.float32(10.0))  # (10 - 1e-3) / (1e-3/2048) = 2e7 bins > 8e6
        self.assertEqual(h.resets, 1)
        self.assertEqual(len(h.counts), 2048)
        self.assertEqual(int(h.counts.sum()), 2)  # the first batch is gone
        self.assertEqual(h.top, np.float32(10.0))

    def test_an_all_zero_first_batch_does_not_poison_later_ones(self):
        h = oracle.HistogramState(4)
        h.add(f32([0, 0]), np.float32(0))
        self.assertEqual(h.counts.tolist(), [0, 0, 0, 0])
        h.add(f32([3.0]), np.float32(3.0))
        self.assertEqual(h.counts.tolist(), [0, 0, 0, 1])
        self.assertEqual(h.top, np.float32(3.0))

    def test_kl_input_is_padded_to_the_target_and_halved_above_131072_bins(self):
        counts = np.arange(140000, dtype=np.int32) % 3
        padded, width = oracle.pad_and_fold(counts, 0.5, 128)
        full = np.concatenate((counts, np.zeros(140032 - 140000, np.int32)))
        self.assertEqual(len(padded), 70016)  # 140032 / 2, already a multiple of 128
        self.assertEqual(padded.tolist(), (full[0::2] + full[1::2]).tolist())
        self.assertEqual(width, 1.0)
        small, w = oracle.pad_and_fold(np.ones(2050, np.int32), 0.25, 128)
        self.assertEqual(len(small), 2176)
        self.assertEqual(int(small.sum()), 2050)
        self.assertEqual(w, 0.25)


def kl_by_formula(h, i, target):
    """The KL of candidate i in plain float64, written from the definition."""
    h = [float(v) for v in h]
    total = sum(h)
    p = h[:i]
    p[i - 1] = sum(h[i - 1:])
    p = [v / total for v in p]
    below = sum(h[:i])
    g = i // target
    q = []
    for start in range(0, i, g):
        chunk = h[start:start + g]
        nonempty = sum(1 for v in chunk if v > 0) or 1
        q += [(sum(chunk) / nonempty / below) if v > 0 else 0.0 for v in chunk]
    return sum(pv * (math.log10(pv + 1e-30) - math.log10(qv + 1e-30)) for pv, qv in zip(p, q))


class KlTest(unittest.TestCase):
    def test_keeping_everything_wins_when_the_outlier_bin_is_well_represented(self):
        h = np.array([4] * 8 + [0] * 7 + [4], np.int32)
        kls = oracle.kl_divergences(h, 8)
        # i = 8: 7 bins of 4/36 against 4/32, and 8/36 (the outlier folded in) against 4/32.
        by_hand = 7 / 9 * math.log10(8 / 9) + 2 / 9 * math.log10(16 / 9)
        self.assertAlmostEqual(kls[0], by_hand, places=6)
        self.assertEqual(kls[1], 0.0)  # i = 16: every group's non-empty bins are equal: Q = P
        self.assertEqual(oracle.kl_threshold(h, 0.125, 8), 16 * 0.125)

    def test_a_coarse_q_loses_to_cutting_the_tail(self):
        h = np.array([100, 1] * 4 + [0] * 7 + [1], np.int32)
        kls = oracle.kl_divergences(h, 8)
        self.assertAlmostEqual(kls[0], kl_by_formula(h, 8, 8), places=6)
        self.assertAlmostEqual(kls[1], kl_by_formula(h, 16, 8), places=6)
        self.assertLess(kls[0], kls[1])
        self.assertEqual(oracle.kl_threshold(h, 0.5, 8), 8 * 0.5)

    def test_candidates_are_every_128_bins_up_to_and_including_the_last(self):
        rng = np.random.default_rng(5)
        h = rng.integers(0, 50, 2048).astype(np.int32)
        kls = oracle.kl_divergences(h, 128)
        self.assertEqual(len(kls), 16)
        for j in (0, 7, 15):
            self.assertAlmostEqual(kls[j], kl_by_formula(h, 128 * (j + 1), 128), places=5)
        best = int(np.argmin(kls))  # the first minimum
        self.assertEqual(oracle.kl_threshold(h, 0.01, 128), float(np.float32(np.float32(0.01) * (best + 1)) * np.float32(128)))

    def test_an_empty_histogram_gives_threshold_zero(self):
        self.assertEqual(oracle.kl_threshold(np.zeros(256, np.int32), 0.0, 128), 0.0)


class PerBatchThresholdTest(unittest.TestCase):
    def test_octav_reaches_its_fixed_point(self):
        x = f32([-1] * 999 + [1000])
        # s0 = mean|x| = 1.999; only 1000 lies above it: s1 = 1000 / (4^-8/3 * 999 + 1), and s2 = s1.
        self.assertAlmostEqual(oracle.octav_threshold(x, 8), 1000 / (1 + 999 / (65536 * 3)), places=3)
        self.assertAlmostEqual(oracle.octav_threshold(x, 4), 1000 / (1 + 999 / (256 * 3)), places=3)

    def test_octav_of_an_unsigned_tensor_counts_zeros_below(self):
        x = f32([0] + [1] * 998 + [1000])  # min 0: u = 4; the zero is one of the 999 values below s
        self.assertAlmostEqual(oracle.octav_threshold(x, 8), 1000 / (1 + 999 / (65536 * 3 * 4)), places=3)

    def test_aciq_gauss_and_laplace(self):
        x = np.linspace(-1, 3, 1000).astype(np.float32)
        sigma = 4 * 0.175 * (1 + math.sqrt(math.pi * math.log(4))) / math.sqrt(2 * math.log(1000))
        self.assertAlmostEqual(oracle.aciq_gauss_threshold(x, 8), 3.92403337 * sigma, places=5)
        self.assertAlmostEqual(oracle.aciq_gauss_threshold(x, 4), 2.55913642 * sigma, places=5)
        y = f32([1, 3] * 50)  # mean 2, every |x - 2| = 1
        self.assertAlmostEqual(oracle.aciq_laplace_threshold(y, 8), 9.89675982, places=5)
        self.assertAlmostEqual(oracle.aciq_laplace_threshold(y, 4), 5.02864014, places=5)

    def test_kurtosis_is_the_plain_fourth_moment(self):
        self.assertAlmostEqual(oracle.kurtosis(f32([-2, 2] * 50)), 1.0, places=5)
        self.assertEqual(oracle.kurtosis(f32([3] * 10)), float('inf'))
        z = np.random.default_rng(1).standard_normal(200000).astype(np.float32)
        self.assertAlmostEqual(oracle.kurtosis(z), 3.0, delta=0.05)


class PercentileTest(unittest.TestCase):
    def rank_condition(self, n, p):
        k = int(n * (1 - p / 100)) + 1
        return k, int((p / 100) * (n - 1)) == n - k

    def test_matches_numpy_percentile_when_its_rank_is_the_kth_largest(self):
        p = oracle.percentile_level(0, 1)
        self.assertEqual(p, 99.99)
        n = next(n for n in range(20000, 40000) if self.rank_condition(n, p)[1])
        k = self.rank_condition(n, p)[0]
        self.assertGreater(k, 1)
        a = np.random.default_rng(3).standard_normal(n).astype(np.float32)
        got, _ = calibrate([('t', 'top.Relu', 1)], [{'t': a}], 'percentile9999')
        th, lo, hi = got['t']
        a64 = a.astype(np.float64)
        self.assertAlmostEqual(hi, np.percentile(a64, p), places=9)
        self.assertAlmostEqual(lo, -np.percentile(-a64, p), places=9)
        self.assertEqual(th, max(abs(lo), abs(hi)))

    def test_otherwise_it_interpolates_one_rank_above_numpy(self):
        p = 99.99
        n = next(n for n in range(20000, 40000) if not self.rank_condition(n, p)[1])
        k = self.rank_condition(n, p)[0]
        pos = p / 100 * (n - 1)
        self.assertEqual(int(pos), n - k - 1)
        a = np.arange(n, dtype=np.float32)
        got, _ = calibrate([('t', 'top.Relu', 1)], [{'t': a}], 'percentile9999')
        ratio = pos - int(pos)
        self.assertAlmostEqual(got['t'][2], (n - k) + ratio, places=6)  # numpy: a[int(pos)] + ratio = n - k - 1 + ratio
        self.assertAlmostEqual(np.percentile(a.astype(np.float64), p), (n - k - 1) + ratio, places=6)

    def test_batches_pool_their_outermost_values(self):
        rng = np.random.default_rng(9)
        batches = [{'t': rng.standard_normal(30000).astype(np.float32)} for _ in range(3)]
        got, _ = calibrate([('t', 'top.Conv', 1)], batches, 'percentile9999')
        pooled = np.sort(np.concatenate([b['t'] for b in batches]).astype(np.float64))
        n = pooled.size
        k = int(n * (1 - 99.99 / 100)) + 1
        pos = 99.99 / 100 * (n - 1)
        ratio = pos - int(pos)
        self.assertAlmostEqual(got['t'][2], pooled[n - k] + ratio * (pooled[n - k + 1] - pooled[n - k]), places=9)
        self.assertAlmostEqual(got['t'][1], pooled[k - 1] + ratio * (pooled[k - 2] - pooled[k - 1]), places=9)

    def test_later_ops_clip_less(self):
        self.assertAlmostEqual(oracle.percentile_level(5, 10), 99.99 + 5 * (99.999999 - 99.99) / 10, places=12)
        a = np.random.default_rng(4).standard_normal(200000).astype(np.float32)
        early, _ = calibrate([('t', 'top.Relu', 1, 0)], [{'t': a}], 'percentile9999', n_ops=10)
        late, _ = calibrate([('t', 'top.Relu', 1, 9)], [{'t': a}], 'percentile9999', n_ops=10)
        self.assertLess(early['t'][2], late['t'][2])


class TableRulesTest(unittest.TestCase):
    def test_an_all_zero_tensor_gets_threshold_and_max_1e_5(self):
        for method in ('kl', 'max', 'mse', 'aciq_laplace'):
            got, _ = calibrate([('z', 'top.Relu', 1), ('n', 'top.Relu', 1)],
                               [{'z': np.zeros(10, np.float32), 'n': f32([-1e-7, 0])}], method)
            self.assertEqual(got['z'], (1e-5, 0, 1e-5), method)
            self.assertEqual(got['n'], (1e-5, -1e-5, 1e-5), method)

    def test_max_is_the_abs_max_and_min_max_columns_are_the_running_extremes(self):
        got, _ = calibrate([('t', 'top.Conv', 1)], [{'t': f32([-3, 1])}, {'t': f32([2, -0.5])}], 'max')
        self.assertEqual(got['t'], (3.0, -3.0, 2.0))

    def test_the_kl_threshold_never_exceeds_the_abs_max(self):
        a = np.linspace(-1, 1, 5001).astype(np.float32)  # flat: KL keeps every bin, width * 2048 > 1
        got, _ = calibrate([('t', 'top.Conv', 1)], [{'t': a}], 'kl')
        self.assertEqual(got['t'][0], 1.0)

    def test_kl_of_a_peaked_tensor_cuts_the_tail(self):
        rng = np.random.default_rng(2)
        a = np.concatenate((rng.laplace(0, 0.05, 200000), [8.0])).astype(np.float32)
        got, _ = calibrate([('t', 'top.Conv', 1)], [{'t': a}], 'kl')
        self.assertLess(got['t'][0], 8.0)
        self.assertEqual(got['t'][2], 8.0)
        width = 8.0 / 2047
        self.assertEqual(round(got['t'][0] / width) % 128, 0)  # a multiple of 128 bins

    def test_mse_is_the_mean_of_the_per_batch_values(self):
        b1, b2 = f32([-1] * 999 + [1000]), f32([-1] * 999 + [500])
        rows = [('x', 'top.Input', 0), ('t', 'top.Relu', 1), ('c', 'top.Conv', 1)]
        small = f32([1, 2])
        got, _ = calibrate(rows, [{'x': small, 't': b1, 'c': small}, {'x': small, 't': b2, 'c': small}], 'mse')
        expected = (oracle.octav_threshold(b1, 8) + oracle.octav_threshold(b2, 8)) / 2
        self.assertAlmostEqual(got['t'][0], expected, places=6)

    def test_inputs_and_the_tail_up_to_the_last_conv_use_the_abs_max(self):
        rng = np.random.default_rng(6)
        big = rng.standard_normal(50000).astype(np.float32)  # k = 6: its 6th largest is not its max
        tail = f32([-1] * 99 + [40])  # k = 1: the percentile value is the max
        rows = [('x', 'top.Input', 0), ('a', 'top.Relu', 1), ('c', 'top.Conv', 1), ('r', 'top.Relu', 1), ('s', 'top.Reshape', 1)]
        batch = {'x': tail, 'a': tail, 'c': tail, 'r': tail, 's': tail}
        got, _ = calibrate(rows, [batch], 'mse')
        octav = oracle.octav_threshold(tail, 8)
        self.assertLess(octav, 40)
        self.assertEqual(got['x'][0], 40)  # no predecessor
        self.assertEqual(got['s'][0], 40)  # the walk from the end: s, r, then c (a Conv: kept, stop)
        self.assertEqual(got['r'][0], 40)
        self.assertEqual(got['c'][0], 40)
        self.assertAlmostEqual(got['a'][0], octav, places=6)
        # A last tensor whose percentile value is below its abs-max stops the walk at once.
        batch['s'] = big
        got, _ = calibrate(rows, [batch], 'aciq_laplace')
        self.assertAlmostEqual(got['s'][0], min(oracle.aciq_laplace_threshold(big, 8), np.abs(big).max()), places=5)
        self.assertAlmostEqual(got['r'][0], oracle.aciq_laplace_threshold(tail, 8), places=5)

    def test_rows_of_a_multi_result_op_neither_stop_the_walk_nor_count_as_inputs(self):
        tail = f32([-1] * 99 + [40])
        rows = [('x', 'top.Input', 0), ('c', 'top.Conv', 1), ('m0', 'top.Conv', 0, 2, 'multi'), ('m1', 'top.Conv', 0, 2, 'multi')]
        got, _ = calibrate(rows, [{'x': tail, 'c': tail, 'm0': tail, 'm1': tail}], 'mse', n_ops=3)
        self.assertEqual(got['m1'][0], 40)  # kept by the walk, which goes on past both
        self.assertEqual(got['m0'][0], 40)
        self.assertEqual(got['c'][0], 40)  # the first real Conv stops it, kept
        self.assertEqual(got['x'][0], 40)

    def test_int4_rows(self):
        rng = np.random.default_rng(8)
        a = rng.laplace(0, 1, 20000).astype(np.float32)
        rows = [('t', 'top.Conv', 1)]
        got8, got4 = calibrate(rows, [{'t': a}], 'kl', int4=True)
        counts, width = oracle.pad_and_fold(*oracle.abs_histogram(a, max(abs(a.min()), abs(a.max())), 2048), 128)
        th4 = oracle.kl_threshold(counts, width, 8)
        self.assertEqual(got4['t'], (th4, -th4 * 8.0 / 7.0, th4))
        self.assertEqual(got8['t'][0], min(oracle.kl_threshold(counts, width, 128), float(np.abs(a).max())))
        _, mse4 = calibrate(rows, [{'t': a}], 'mse', int4=True)
        self.assertAlmostEqual(mse4['t'][0], min(oracle.octav_threshold(a, 4), float(np.abs(a).max())), places=6)
        _, p4 = calibrate(rows, [{'t': a}], 'percentile9999', int4=True)
        self.assertEqual(p4['t'][0], 0.0)  # TPU-MLIR never sets the 4-bit percentile threshold


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.d = self.dir.name
        os.mkdir(os.path.join(self.d, 'samples'))
        rng = np.random.default_rng(11)
        for k in range(2):
            np.savez(os.path.join(self.d, 'samples', 'sample_%d.npz' % k),
                     x=rng.standard_normal((1, 3, 8, 8)).astype(np.float32),
                     c=rng.standard_normal((1, 4, 8, 8)).astype(np.float32),
                     ln=rng.standard_normal((1, 4)).astype(np.float32),
                     ids=np.arange(6, dtype=np.int64).reshape(1, 6))
        self.ops = os.path.join(self.d, 'ops.txt')
        with open(self.ops, 'w') as f:
            f.write('# tensor op producers [index [multi]]\n@ops 4\nx top.Input 0\nids top.Input 0 1\n\n'
                    'c top.Conv 1 2\nln top.LayerNorm 1 3\n')

    def tearDown(self):
        self.dir.cleanup()

    def run_oracle(self, *args):
        return subprocess.run([sys.executable, ORACLE, '--samples', os.path.join(self.d, 'samples'), '--ops', self.ops] + list(args),
                              capture_output=True, text=True)

    def test_writes_rows_in_ops_order_with_10_significant_digits(self):
        out = os.path.join(self.d, 'table.txt')
        kurt = os.path.join(self.d, 'kurtosis_analysis')
        r = self.run_oracle('--method', 'max', '--int4', '--kurtosis', kurt, '-o', out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            lines = f.read().split('\n')
        self.assertEqual([l.split()[0] for l in lines[:4]], ['x', 'ids', 'c', 'ln'])
        self.assertEqual(lines[1], 'ids 5.0000000000e+00 0.0000000000e+00 5.0000000000e+00')
        self.assertEqual(lines[4:6], ['', '#int4_th'])
        with open(kurt) as f:
            klines = f.read().splitlines()
        self.assertEqual(klines[0], '# op_name   kurtosis   op_type')
        self.assertEqual(len(klines), 4)  # LayerNorm left out
        values = [float(l.split()[1]) for l in klines[1:]]
        self.assertEqual(values, sorted(values, reverse=True))

    def test_errors_name_the_problem(self):
        out = os.path.join(self.d, 't.txt')
        with open(self.ops, 'a') as f:
            f.write('missing top.Relu 1\n')
        r = self.run_oracle('--method', 'kl', '-o', out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("'missing'", r.stderr)
        self.assertFalse(os.path.exists(out))
        with open(self.ops, 'w') as f:
            f.write('x top.Input zero\n')
        r = self.run_oracle('--method', 'kl', '-o', out)
        self.assertEqual(r.returncode, 1)
        self.assertIn('ops.txt:1', r.stderr)
        os.rename(os.path.join(self.d, 'samples', 'sample_1.npz'), os.path.join(self.d, 'samples', 'sample_3.npz'))
        with open(self.ops, 'w') as f:
            f.write('x top.Input 0\n')
        r = self.run_oracle('--method', 'kl', '-o', out)
        self.assertEqual(r.returncode, 1)
        self.assertIn('without gaps', r.stderr)


SPLIT_MLIR = """#loc = loc(unknown)
module @m attributes {module.chip = "ALL", module.state = "TOP_F32", module.weight_file = "m.npz"} {
  func.func @main(%arg0: tensor<4xf32> loc(unknown)) -> (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) {
    %0 = "top.None"() : () -> none loc(#loc)
    %1 = "top.Input"(%arg0) : (tensor<4xf32>) -> tensor<4xf32> loc(#loc1)
    %2 = "top.Weight"() : () -> tensor<4xf32> loc(#loc2)
    %3 = "top.Add"(%1, %2) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc(#loc3)
    %4:2 = "top.Split"(%3) {axis = 0 : si32, num = 2 : i64} : (tensor<4xf32>) -> (tensor<2xf32>, tensor<2xf32>) loc(#loc6)
    %5 = "top.Relu"(%4#0) : (tensor<2xf32>) -> tensor<2xf32> loc(#loc7)
    %6:2 = "top.Split"(%2) {axis = 0 : si32, num = 2 : i64} : (tensor<4xf32>) -> (tensor<2xf32>, tensor<2xf32>) loc(fused["w0", "w1"])
    return %5, %4#1, %6#0 : tensor<2xf32>, tensor<2xf32>, tensor<2xf32> loc(#loc)
  } loc(#loc)
} loc(#loc)
#loc1 = loc("x")
#loc2 = loc("w")
#loc3 = loc("sum_Add")
#loc4 = loc("a")
#loc5 = loc("b")
#loc6 = loc(fused[#loc4, #loc5])
#loc7 = loc("a_Relu")
"""


class RowsFromMlirTest(unittest.TestCase):
    def test_tpu_mlir_row_rules(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'm.mlir')
            with open(path, 'w') as f:
                f.write(SPLIT_MLIR)
            out = subprocess.run([sys.executable, MAKE_OPS, path], capture_output=True, text=True, check=True).stdout
        lines = [l for l in out.splitlines() if not l.startswith('#')]
        # Weights and None are not ops; "b" has no consumer while its sibling "a" has one, so it has
        # no row; both outputs of the weight-fed Split stay (neither has a consumer), and that op has
        # no producer.
        self.assertEqual(lines, ['@ops 5', 'x top.Input 0 0', 'sum_Add top.Add 1 1', 'a top.Split 1 2 multi',
                                 'a_Relu top.Relu 1 3', 'w0 top.Split 0 4 multi', 'w1 top.Split 0 4 multi'])

    def test_a_model_fixture_end_to_end(self):
        with tempfile.TemporaryDirectory() as d:
            ops = os.path.join(d, 'ops.txt')
            subprocess.run([sys.executable, MAKE_OPS, os.path.join(MODELS, 'multi_result.mlir'), '-o', ops], check=True)
            os.mkdir(os.path.join(d, 's'))
            with np.load(os.path.join(MODELS, 'multi_result_all_expected.npz')) as z:
                first = {k: z[k] for k in z.files}
            second = {k: v * 2 - 1 for k, v in first.items()}
            np.savez(os.path.join(d, 's', 'sample_0.npz'), **first)
            np.savez(os.path.join(d, 's', 'sample_1.npz'), **second)
            table = os.path.join(d, 't.txt')
            for method in oracle.METHODS:
                subprocess.run([sys.executable, ORACLE, '--samples', os.path.join(d, 's'), '--ops', ops, '--method', method, '-o', table],
                               check=True)
                with open(table) as f:
                    rows = {l.split()[0]: [float(v) for v in l.split()[1:]] for l in f.read().splitlines()}
                self.assertEqual(sorted(rows), sorted(first), method)
                for name, (th, lo, hi) in rows.items():
                    both = np.concatenate((first[name].ravel(), second[name].ravel())).astype(np.float32)
                    self.assertLessEqual(th, float(np.abs(both).max()) * (1 + 1e-9), (method, name))
                    # %.10e identifies a float32 value exactly.
                    if method == 'max':
                        self.assertEqual(np.float32(th), np.abs(both).max(), name)
                    if method != 'percentile9999':
                        self.assertEqual((np.float32(lo), np.float32(hi)), (both.min(), both.max()), (method, name))

    def test_integer_tensors_are_calibrated_as_float32(self):
        with tempfile.TemporaryDirectory() as d:
            ops = os.path.join(d, 'ops.txt')
            subprocess.run([sys.executable, MAKE_OPS, os.path.join(MODELS, 'int_flow.mlir'), '-o', ops], check=True)
            os.mkdir(os.path.join(d, 's'))
            with np.load(os.path.join(MODELS, 'int_flow_all_expected.npz')) as z:
                np.savez(os.path.join(d, 's', 'sample_0.npz'), **{k: z[k] for k in z.files})
                ids = z['ids']
            table = os.path.join(d, 't.txt')
            subprocess.run([sys.executable, ORACLE, '--samples', os.path.join(d, 's'), '--ops', ops, '--method', 'mse', '-o', table],
                           check=True)
            with open(table) as f:
                first = f.readline().split()
        self.assertEqual(first[0], 'ids')
        self.assertEqual([float(v) for v in first[1:]], [float(np.abs(ids).max()), float(ids.min()), float(ids.max())])


if __name__ == '__main__':
    unittest.main()
