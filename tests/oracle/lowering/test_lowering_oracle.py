#!/usr/bin/python3
"""Self-tests of lowering_oracle.py against values derived by hand in docs/lowering_spec.md
(exact dyadic scales, so every intermediate is an exact integer or binary fraction).
Exit code 77 when numpy is missing."""

import os
import sys
import unittest

try:
    import numpy  # noqa: F401
except ImportError:  # pragma: no cover
    print('numpy is not available: skipped')
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lowering_oracle as lo  # noqa: E402

S_IN, S_OUT = 1 / 64, 1 / 32   # thresholds 127/64 and 127/32, signed
W = [[0.9921875, -0.5, 0.25, 0.125], [-0.9921875, 0.5, 0.0, 0.0]]
B = [0.25, -0.08203125]
X = [32, 16, -48, 64]          # real [0.5, 0.25, -0.75, 1.0]


class Rounding(unittest.TestCase):
    def test_right_shift_round_modes_on_ties(self):
        # -3712 = -14.5 * 256
        self.assertEqual(lo.right_shift_round(-3712, 8, lo.HALF_UP), -14)
        self.assertEqual(lo.right_shift_round(-3712, 8, lo.HALF_AWAY_FROM_ZERO), -15)
        self.assertEqual(lo.right_shift_round(-3712, 8, lo.HALF_TO_EVEN), -14)
        self.assertEqual(lo.right_shift_round(-3712, 8, lo.HALF_DOWN), -15)
        self.assertEqual(lo.right_shift_round(-3712, 8, lo.TOWARDS_ZERO), -14)
        self.assertEqual(lo.right_shift_round(3712, 8, lo.HALF_AWAY_FROM_ZERO), 15)
        self.assertEqual(lo.right_shift_round(5, -2, lo.HALF_UP), 20)

    def test_to_int_modes(self):
        self.assertEqual(lo.to_int(2.5, lo.HALF_AWAY_FROM_ZERO), 3)
        self.assertEqual(lo.to_int(-2.5, lo.HALF_AWAY_FROM_ZERO), -3)
        self.assertEqual(lo.to_int(-2.5, lo.HALF_UP), -2)
        self.assertEqual(lo.to_int(2.5, lo.HALF_TO_EVEN), 2)
        self.assertEqual(lo.to_int(3.5, lo.HALF_TO_EVEN), 4)
        self.assertEqual(lo.to_int(-2.5, lo.HALF_DOWN), -3)

    def test_qdm_high_multiply(self):
        # 2^30 is 0.5 in Q31: 4576 * 0.5 = 2288, then >> 7 = 17.875 -> 18
        self.assertEqual(lo.requant_qdm(4576, 1 << 30, 7), 18)
        self.assertEqual(lo.requant_qdm(-3712, 1 << 30, 7), -15)


class MultiplierShift(unittest.TestCase):
    def test_exact_power_of_two_keeps_multiplier_one(self):
        self.assertEqual(lo.get_scale_and_shift(1 / 256, 32), (1, 8))
        self.assertEqual(lo.get_scale_and_shift(0.25, 8), (1, 2))

    def test_eight_bit_search_stops_below_127(self):
        # 1/9: 57/512 and 114/1024 have the same error, the first wins; 228 > 126
        self.assertEqual(lo.get_scale_and_shift(1 / 9, 8), (57, 9))
        # 0.3 -> 77/256 (154 would exceed the 8-bit limit)
        self.assertEqual(lo.get_scale_and_shift_positive(0.3, 8), (77, 8))

    def test_quantize_multiplier_normalises(self):
        self.assertEqual(lo.quantize_multiplier(1 / 256), (1 << 30, -7))
        self.assertEqual(lo.rshift_and_multiplier_from_qscale(1 / 256, True), (1 << 30, 7))

    def test_cv18xx_eight_bit_multiplier_truncates(self):
        self.assertEqual(lo.rshift_and_multiplier_from_qscale(0.25, False), (64, 8))
        self.assertEqual(lo.rshift_and_multiplier_from_qscale(1 / 9, False), (113, 10))

    def test_bm1684_reciprocal_table_values(self):
        self.assertEqual(lo.bm1684_reciprocal(4), (1, 2))
        self.assertEqual(lo.bm1684_reciprocal(9), (57, 9))
        self.assertEqual(lo.bm1684_reciprocal(3), (171, 9))
        self.assertEqual(lo.bm1684_reciprocal(7), (73, 9))


class Bm1684x(unittest.TestCase):
    def test_conv_lowering(self):
        c = lo.bm1684x_conv(W, B, S_IN, 0, S_OUT)
        self.assertEqual(c['w_q'], [[127, -64, 32, 16], [-127, 64, 0, 0]])
        self.assertEqual(c['b_q'], [2048, -672])
        self.assertEqual((c['multiplier'], c['rshift']), ([1, 1], [8, 8]))

    def test_conv_requant_rounds_half_up(self):
        # ch0: 2528 + 2048 = 4576 = 17.875 * 256 -> 18; ch1: -3040 - 672 = -3712 -> -14
        self.assertEqual(lo.bm1684x_conv_output(2528, 2048, 1, 8), 18)
        self.assertEqual(lo.bm1684x_conv_output(-3040, -672, 1, 8), -14)
        self.assertEqual(lo.bm1684x_conv_output(-3040, -672, 1, 8, do_relu=True), 0)

    def test_integer_filter_keeps_unit_scale(self):
        c = lo.bm1684x_conv([[1.0, -1.0]], [0.5], S_IN, 0, S_OUT)
        self.assertEqual((c['w_q'], c['b_q'], c['multiplier'], c['rshift']), ([[1, -1]], [32], [1], [1]))

    def test_add_rounds_each_input(self):
        p = lo.bm1684x_add([S_IN, S_OUT], [1.0, 1.0], S_OUT)
        self.assertEqual(p, [(1, 1), (1, 0)])
        self.assertEqual(lo.bm1684x_add_output([-37, 5], p), -13)   # -18.5 -> -18, + 5
        p2 = lo.bm1684x_add([S_IN, S_IN], [1.0, 1.0], S_OUT)
        self.assertEqual(lo.bm1684x_add_output([1, 1], p2), 2)      # 0.5 -> 1 twice

    def test_avgpool(self):
        self.assertEqual(lo.avgpool_output([10, 11, 12, 13], 4, 2, 2, 1, 2), 12)
        self.assertEqual(lo.avgpool_output([-10, -11, -12, -13], 4, 2, 2, 1, 2), -11)
        self.assertEqual(lo.avgpool_output([127] * 9, 9, 3, 3, 57, 9), 127)  # 1143*57/512 = 127.25

    def test_input_quantization_rounds_half_away(self):
        self.assertEqual(lo.quantize_input_bm1684x(0.5078125, S_IN), 33)
        self.assertEqual(lo.quantize_input_bm1684x(-0.5078125, S_IN), -33)


class Bm1684(unittest.TestCase):
    def test_conv_per_tensor_only_shift(self):
        c = lo.bm1684_conv(W, B, S_IN, S_OUT)
        # 0.9921875 * (1/64) / (1/32) = 0.49609375 needs 8 doublings to reach 127 -> rshift 7
        self.assertEqual(c['rshift'], 7)
        self.assertEqual(c['w_q'], [[64, -32, 16, 8], [-64, 32, 0, 0]])
        self.assertEqual(c['b_q'], [1024, -336])
        self.assertEqual(lo.right_shift_round(1280 + 1024, 7, lo.HALF_UP), 18)
        self.assertEqual(lo.right_shift_round(-1536 - 336, 7, lo.HALF_UP), -15)

    def test_add(self):
        self.assertEqual(lo.bm1684_add([S_IN, S_OUT], [1.0, 1.0], S_OUT), [(64, 7), (64, 6)])


class Cv18xx(unittest.TestCase):
    def test_conv_qdm(self):
        c = lo.cv18xx_conv(W, B, 127 / 64, 127 / 32)
        self.assertEqual(c['w_q'], [[127, -64, 32, 16], [-127, 64, 0, 0]])
        self.assertEqual(c['b_q'], [2048, -672])
        self.assertEqual((c['multiplier'], c['rshift']), ([1 << 30] * 2, [7, 7]))
        self.assertEqual(lo.cv18xx_conv_output(2528, 2048, 1 << 30, 7), 18)
        self.assertEqual(lo.cv18xx_conv_output(-3040, -672, 1 << 30, 7), -15)  # half away

    def test_add_rounds_once(self):
        m, r = lo.cv18xx_add([127 / 64, 127 / 64], [1.0, 1.0], 127 / 32)
        self.assertEqual((m, r), ([64, 64], 7))
        self.assertEqual(lo.cv18xx_add_output([1, 1], m, r), 1)

    def test_avgpool_truncated_multiplier(self):
        self.assertEqual(lo.avgpool_output([127] * 9, 9, 3, 3, 113, 10, cv18xx=True), 126)
        self.assertEqual(lo.avgpool_output([-10, -11, -12, -13], 4, 2, 2, 64, 8, cv18xx=True), -11)


if __name__ == '__main__':
    unittest.main()
