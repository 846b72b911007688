// The int8 kernel tests, compiled once per ISA path: each isa_*.cpp sets MIXQ_INT8_MAX_ISA and
// MIXQ_TEST_ISA (the test-name prefix) and includes this file. The kernels' inline namespace
// (mixq::int8::avx2, ...) keeps the paths apart in one program. Every case compares a kernel with
// the plain loops of mixq/kernels/int8/reference.hpp, bit for bit.
#include "mixq/kernels/int8/config.hpp"

// A path this compiler cannot build is the next lower one again (the AVX2 file without -mavx2
// runs the SSE2 kernels; the native file is the AVX2 one below AVX-512 VNNI): such a file
// compiles to nothing, so every path the build can reach is tested once.
#if defined(MIXQ_INT8_MAX_ISA)
#define MIXQ_TEST_PATH_ISA MIXQ_INT8_MAX_ISA
#else
#define MIXQ_TEST_PATH_ISA MIXQ_INT8_ISA_AVX512_VNNI
#endif
#if MIXQ_INT8_ISA == MIXQ_TEST_PATH_ISA

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mixq/core/thread_pool.hpp"
#include "mixq/kernels/int8/conv.hpp"
#include "mixq/kernels/int8/depthwise.hpp"
#include "mixq/kernels/int8/epilogue.hpp"
#include "mixq/kernels/int8/gemm.hpp"
#include "mixq/kernels/int8/reference.hpp"

namespace {

using namespace mixq;
using namespace mixq::int8;
using quant::chip_family;
using quant::requant_mode;
using quant::round_mode;

/// Random bytes; `extreme` draws only the ends of the type's range (and 0), where int16 pair
/// sums overflow (2 * 255 * -128) and saturating instructions would show.
std::vector<std::uint8_t> random_bytes(std::mt19937& gen, index_t n, elem type, bool extreme = false) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(n));
  std::uniform_int_distribution<int> any(0, 255), pick(0, 2);
  for (auto& b : v) {
    if (!extreme) {
      b = static_cast<std::uint8_t>(any(gen));
    } else {
      const int which = pick(gen);
      if (type == elem::s8) b = static_cast<std::uint8_t>(which == 0 ? 0x80 : which == 1 ? 0x7f : 0x00);
      else b = static_cast<std::uint8_t>(which == 0 ? 255 : which == 1 ? 254 : 0);
    }
  }
  return v;
}

std::vector<std::int32_t> random_ints(std::mt19937& gen, index_t n, std::int32_t lo, std::int32_t hi) {
  std::vector<std::int32_t> v(static_cast<std::size_t>(n));
  std::uniform_int_distribution<std::int32_t> d(lo, hi);
  for (auto& x : v) x = d(gen);
  return v;
}

const char* name(elem t) { return t == elem::s8 ? "s8" : "u8"; }

thread_pool& two_threads() {
  static thread_pool pool(2);
  return pool;
}

struct gemm_case {
  index_t M, N, K;
  elem a_type, b_type;
  bool pack_a, pack_b, row_add, col_add, extreme;
};

void run_gemm_case(const gemm_case& t, std::mt19937& gen, thread_pool* pool) {
  INFO("M " << t.M << " N " << t.N << " K " << t.K << " A " << name(t.a_type) << (t.pack_a ? " packed" : "") << " B " << name(t.b_type)
            << (t.pack_b ? " packed" : "") << (t.extreme ? " extreme" : ""));
  const auto a = random_bytes(gen, t.M * t.K, t.a_type, t.extreme), b = random_bytes(gen, t.K * t.N, t.b_type, t.extreme);
  const auto row_add = random_ints(gen, t.M, -100000, 100000), col_add = random_ints(gen, t.N, -100000, 100000);
  std::vector<std::int32_t> want(static_cast<std::size_t>(t.M * t.N)), got(want.size(), 12345);
  reference::gemm(t.M, t.N, t.K, a.data(), t.a_type, t.K, 1, b.data(), t.b_type, t.N, 1, t.row_add ? row_add.data() : nullptr,
                  t.col_add ? col_add.data() : nullptr, want.data(), t.N);
  packed_matrix pa, pb;
  gemm_operand A = strided_a(a.data(), t.a_type, t.M, t.K, t.K, 1), B = strided_b(b.data(), t.b_type, t.K, t.N, t.N, 1);
  // two packed operands of the same signedness need one stored flipped (VNNI)
  const bool flip_b = t.pack_a && t.pack_b && t.a_type == t.b_type;
  if (t.pack_a) {
    pa = pack_a_once(a.data(), t.a_type, t.M, t.K, t.K, 1);
    A = gemm_operand{&pa, t.a_type, {}, {}};
  }
  if (t.pack_b) {
    pb = pack_b_once(b.data(), t.b_type, t.K, t.N, t.N, 1, flip_b);
    B = gemm_operand{&pb, t.b_type, {}, {}};
  }
  gemm_output out{got.data(), t.N, t.row_add ? row_add.data() : nullptr, t.col_add ? col_add.data() : nullptr, {}};
  gemm(t.M, t.N, t.K, A, B, out, pool);
  REQUIRE(got == want);
}

}  // namespace

TEST_CASE(MIXQ_TEST_ISA " int8 gemm: every signedness mix, packed or not, odd shapes, one and two threads") {
  INFO("kernels compiled for " << isa_name());
  std::mt19937 gen(11);
  const index_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {gemm_mr + 1, gemm_nr + 3, 31}, {50, 70, 130}, {9, 200, 3}};
  for (const auto& s : shapes)
    for (elem at : {elem::s8, elem::u8})
      for (elem bt : {elem::s8, elem::u8})
        for (int packing = 0; packing < 4; ++packing) {
          const gemm_case c{s[0], s[1], s[2], at, bt, (packing & 1) != 0, (packing & 2) != 0, packing != 1, packing != 2, false};
          run_gemm_case(c, gen, nullptr);
          run_gemm_case(c, gen, &two_threads());
        }
}

TEST_CASE(MIXQ_TEST_ISA " int8 gemm: extreme values over several K blocks stay exact (no int16 saturation)") {
  std::mt19937 gen(12);
  // K > gemm_kc: several K blocks accumulate through C; sums reach ~ K * 255 * 128
  for (index_t K : {gemm_kc + 1, 3 * gemm_kc - 5, index_t{2500}})
    for (elem at : {elem::s8, elem::u8})
      for (elem bt : {elem::s8, elem::u8}) {
        run_gemm_case({13, 37, K, at, bt, true, false, true, true, true}, gen, &two_threads());
        run_gemm_case({gemm_mr * 3, gemm_nr * 2, K, at, bt, false, false, false, false, true}, gen, nullptr);
      }
}

TEST_CASE(MIXQ_TEST_ISA " int8 gemm: all-extreme operands give the closed-form sums") {
  // -128 * 255 summed K times: -32640 K (far outside int16), checked without the reference
  const index_t M = 5, N = 19, K = 1031;
  std::vector<std::uint8_t> a(static_cast<std::size_t>(M * K), 0x80), b(static_cast<std::size_t>(K * N), 255);
  std::vector<std::int32_t> c(static_cast<std::size_t>(M * N));
  gemm(M, N, K, strided_a(a.data(), elem::s8, M, K, K, 1), strided_b(b.data(), elem::u8, K, N, N, 1), {c.data(), N, nullptr, nullptr, {}});
  for (auto v : c) REQUIRE(v == -32640 * K);
  std::fill(b.begin(), b.end(), 0x80);  // s8 x s8: (-128)^2 K
  gemm(M, N, K, strided_a(a.data(), elem::s8, M, K, K, 1), strided_b(b.data(), elem::s8, K, N, N, 1), {c.data(), N, nullptr, nullptr, {}});
  for (auto v : c) REQUIRE(v == 16384 * K);
}

TEST_CASE(MIXQ_TEST_ISA " int8 gemm: strided (transposed) operands and a C with a wider row stride") {
  std::mt19937 gen(13);
  const index_t M = 23, N = 41, K = 77, ldc = N + 5;
  for (elem at : {elem::s8, elem::u8})
    for (elem bt : {elem::s8, elem::u8}) {
      const auto a = random_bytes(gen, M * K, at), b = random_bytes(gen, K * N, bt);
      // A stored as K x M (column-major view), B as N x K
      std::vector<std::int32_t> want(static_cast<std::size_t>(M * ldc), -7), got(want.size(), -7);
      reference::gemm(M, N, K, a.data(), at, 1, M, b.data(), bt, 1, K, nullptr, nullptr, want.data(), ldc);
      gemm(M, N, K, strided_a(a.data(), at, M, K, 1, M), strided_b(b.data(), bt, K, N, 1, K), {got.data(), ldc, nullptr, nullptr, {}},
           &two_threads());
      REQUIRE(got == want);
    }
}

TEST_CASE(MIXQ_TEST_ISA " int8 gemm: finish sees every tile once, with or without a C (one or several K blocks)") {
  std::mt19937 gen(14);
  for (index_t K : {index_t{40}, gemm_kc * 2 + 3})
    for (bool with_c : {false, true}) {
      const index_t M = 29, N = 101;
      INFO("K " << K << (with_c ? " with C" : " without C"));
      const auto a = random_bytes(gen, M * K, elem::s8), b = random_bytes(gen, K * N, elem::u8);
      const auto bias = random_ints(gen, M, -5000, 5000);
      std::vector<std::int32_t> want(static_cast<std::size_t>(M * N)), c(want.size()), seen(want.size(), 0), count(want.size(), 0);
      reference::gemm(M, N, K, a.data(), elem::s8, K, 1, b.data(), elem::u8, N, 1, bias.data(), nullptr, want.data(), N);
      const packed_matrix pa = pack_a_once(a.data(), elem::s8, M, K, K, 1);
      gemm_output out;
      out.c = with_c ? c.data() : nullptr;
      out.ldc = N;
      out.row_add = bias.data();
      out.finish = [&](const std::int32_t* tile, index_t ld, index_t r0, index_t rows, index_t c0, index_t cols) {
        for (index_t i = 0; i < rows; ++i)
          for (index_t j = 0; j < cols; ++j) {
            seen[static_cast<std::size_t>((r0 + i) * N + c0 + j)] = tile[i * ld + j];
            ++count[static_cast<std::size_t>((r0 + i) * N + c0 + j)];
          }
      };
      gemm(M, N, K, gemm_operand{&pa, elem::s8, {}, {}}, strided_b(b.data(), elem::u8, K, N, N, 1), out, &two_threads());
      REQUIRE(seen == want);
      REQUIRE(std::all_of(count.begin(), count.end(), [](std::int32_t n) { return n == 1; }));
      if (with_c) REQUIRE(c == want);
    }
}

TEST_CASE(MIXQ_TEST_ISA " int8 gemm: K = 0 gives the adds, bad arguments are errors") {
  std::vector<std::int32_t> c(6, 99);
  const std::int32_t rows[2] = {1, 2}, cols[3] = {10, 20, 30};
  std::uint8_t dummy = 0;
  gemm(2, 3, 0, strided_a(&dummy, elem::s8, 2, 0, 0, 1), strided_b(&dummy, elem::s8, 0, 3, 3, 1), {c.data(), 3, rows, cols, {}});
  CHECK(c == std::vector<std::int32_t>{11, 21, 31, 12, 22, 32});
  CHECK_THROWS_WITH(gemm(2, 3, 1, strided_a(&dummy, elem::s8, 2, 1, 1, 1), strided_b(&dummy, elem::s8, 1, 3, 3, 1), {}),
                    Catch::Contains("neither a C matrix nor a finish"));
  std::vector<std::uint8_t> w(6);
  const packed_matrix pa = pack_a_once(w.data(), elem::s8, 2, 3, 3, 1);
  CHECK_THROWS_WITH(gemm(3, 3, 2, gemm_operand{&pa, elem::s8, {}, {}}, strided_b(w.data(), elem::s8, 2, 3, 3, 1), {c.data(), 3, nullptr, nullptr, {}}),
                    Catch::Contains("packed A is not 3x2"));
}

namespace {

requant_spec make_spec(requant_mode mode, round_mode round, chip_family chip, const std::vector<std::int32_t>& m,
                       const std::vector<std::int32_t>& r, const std::vector<std::int32_t>& b, bool per_row, std::int32_t zp, bool relu,
                       elem out) {
  requant_spec s;
  s.mode = mode;
  s.round = round;
  s.chip = chip;
  s.multiplier = m;
  s.rshift = r;
  s.bias = b;
  s.channel_is_row = per_row;
  s.zero_point = zp;
  s.relu = relu;
  s.out_type = out;
  return s;
}

/// Accumulators that hit the interesting cases: exact ties after the shift, int32 extremes,
/// values around the saturation edges.
std::vector<std::int32_t> awkward_accumulators(std::mt19937& gen, index_t n, int shift) {
  auto v = random_ints(gen, n, -3000000, 3000000);
  std::uniform_int_distribution<int> pick(0, 9);
  for (auto& x : v) {
    const int p = pick(gen);
    if (p == 0) x = std::numeric_limits<std::int32_t>::min();
    else if (p == 1) x = std::numeric_limits<std::int32_t>::max();
    else if (p == 2 && shift > 0 && shift < 31) x = (x >> shift << shift) | (1 << (shift - 1));  // a tie
    else if (p == 3) x = x % 300;
  }
  return v;
}

}  // namespace

TEST_CASE(MIXQ_TEST_ISA " int8 requant epilogue equals the scalar formula for every mode, per channel or per tensor") {
  std::mt19937 gen(21);
  const index_t rows = 7, cols = 53;  // a vector tail on every ISA
  struct mode_case {
    requant_mode mode;
    round_mode round;
    chip_family chip;
  };
  const mode_case modes[] = {
      {requant_mode::multiplier_shift, round_mode::half_up, chip_family::bm168x},
      {requant_mode::multiplier_shift, round_mode::half_away_from_zero, chip_family::bm168x},
      {requant_mode::multiplier_shift, round_mode::down, chip_family::bm168x},
      {requant_mode::multiplier_shift, round_mode::half_to_even, chip_family::bm168x},  // scalar fallback
      {requant_mode::multiplier_shift, round_mode::half_up, chip_family::cv18xx},       // single precision
      {requant_mode::only_shift, round_mode::half_up, chip_family::bm168x},
      {requant_mode::qdm, round_mode::half_away_from_zero, chip_family::cv18xx},
      {requant_mode::qdm, round_mode::half_up, chip_family::bm168x},
      {requant_mode::tflite, round_mode::half_away_from_zero, chip_family::bm168x},
  };
  for (const auto& mc : modes)
    for (bool per_row : {true, false})
      for (int variant = 0; variant < 5; ++variant) {
        const bool qdm = mc.mode != requant_mode::multiplier_shift && mc.mode != requant_mode::only_shift;
        const index_t channels = per_row ? rows : cols;
        const bool per_tensor = variant == 3;
        const index_t n = per_tensor ? 1 : channels;
        std::vector<std::int32_t> m, r, b;
        if (qdm) {
          m = random_ints(gen, n, 1 << 30, std::numeric_limits<std::int32_t>::max());
          // cv18xx stores a positive right shift; BM168x's QDM shift is negative for a right shift
          r = mc.chip == chip_family::cv18xx ? random_ints(gen, n, 0, 12) : random_ints(gen, n, -12, 2);
        } else if (variant == 4 && mc.chip == chip_family::bm168x) {
          // multipliers near 2^31: acc * m + b * m may leave int64, so the one-add form is refused
          m = random_ints(gen, n, 1 << 30, std::numeric_limits<std::int32_t>::max());
          r = random_ints(gen, n, 28, 40);
        } else {
          m = random_ints(gen, n, variant == 1 ? -1000 : 1, variant == 1 ? 1000 : (mc.chip == chip_family::cv18xx ? 127 : 3000000));
          if (mc.chip == chip_family::cv18xx) r = random_ints(gen, n, 0, 20);  // single precision: 2^r must be an int
          else r = random_ints(gen, n, variant == 2 ? -3 : 0, mc.mode == requant_mode::only_shift ? 20 : 40);
        }
        if (!per_tensor && variant == 0) r.assign(static_cast<std::size_t>(n), r[0]);  // uniform shift, per-channel m
        b = variant == 2 ? std::vector<std::int32_t>{} : random_ints(gen, n, std::numeric_limits<std::int32_t>::min(),
                                                                    std::numeric_limits<std::int32_t>::max());
        for (elem out : {elem::s8, elem::u8})
          for (bool relu : {false, true}) {
            const std::int32_t zp = out == elem::s8 ? (variant == 1 ? -20 : 0) : (variant == 1 ? 100 : 0);
            const requant_spec s = make_spec(mc.mode, mc.round, mc.chip, m, r, b, per_row, zp, relu, out);
            INFO(quant::requant_mode_name(mc.mode) << " " << quant::round_mode_name(mc.round) << (mc.chip == chip_family::cv18xx ? " cv18xx" : "")
                                                   << (per_row ? " per row" : " per column") << " variant " << variant << " out "
                                                   << name(out) << (relu ? " relu" : ""));
            validate(s, channels);
            const auto acc = awkward_accumulators(gen, rows * cols, r[0]);
            std::vector<std::uint8_t> want(static_cast<std::size_t>(rows * cols)), got(want.size());
            reference::requantize(acc.data(), cols, rows, cols, 0, 0, s, want.data(), cols);
            requantize(acc.data(), cols, rows, cols, 0, 0, s, got.data(), cols);
            REQUIRE(got == want);
          }
      }
}

TEST_CASE(MIXQ_TEST_ISA " int8 requant epilogue on the spec's bm1684x and cv18xx conv numbers (§7.1, §7.6)") {
  const std::vector<std::int32_t> acc{2528, -3040};
  const std::vector<std::int32_t> bias{2048, -672}, m1{1}, r8{8}, mq{1 << 30}, r7{7};
  std::vector<std::uint8_t> q(2);
  requant_spec bm = make_spec(requant_mode::multiplier_shift, round_mode::half_up, chip_family::bm168x, m1, r8, bias, true, 0, false, elem::s8);
  requantize(acc.data(), 1, 2, 1, 0, 0, bm, q.data(), 1);
  CHECK(static_cast<std::int8_t>(q[0]) == 18);
  CHECK(static_cast<std::int8_t>(q[1]) == -14);
  bm.relu = true;
  requantize(acc.data(), 1, 2, 1, 0, 0, bm, q.data(), 1);
  CHECK(static_cast<std::int8_t>(q[1]) == 0);
  const requant_spec cv =
      make_spec(requant_mode::qdm, round_mode::half_away_from_zero, chip_family::cv18xx, mq, r7, bias, true, 0, false, elem::s8);
  requantize(acc.data(), 1, 2, 1, 0, 0, cv, q.data(), 1);
  CHECK(static_cast<std::int8_t>(q[0]) == 18);
  CHECK(static_cast<std::int8_t>(q[1]) == -15);
}

TEST_CASE(MIXQ_TEST_ISA " int8 MatMul shape: per-column requant fused into the GEMM tiles equals GEMM then requant") {
  std::mt19937 gen(22);
  const index_t M = 37, K = 300, N = 131;
  for (elem at : {elem::s8, elem::u8})
    for (bool per_column : {false, true}) {
      INFO("input " << name(at) << (per_column ? " per-column multipliers" : " per-tensor"));
      const auto x = random_bytes(gen, M * K, at), w = random_bytes(gen, K * N, elem::s8);
      const auto bias = random_ints(gen, N, -40000, 40000);
      const auto m = random_ints(gen, per_column ? N : 1, 1 << 29, 1 << 30);
      const std::vector<std::int32_t> r{37};
      const requant_spec s =
          make_spec(requant_mode::multiplier_shift, round_mode::half_up, chip_family::bm168x, m, r, bias, false, 5, true, elem::s8);
      std::vector<std::int32_t> acc(static_cast<std::size_t>(M * N));
      reference::gemm(M, N, K, x.data(), at, K, 1, w.data(), elem::s8, N, 1, nullptr, nullptr, acc.data(), N);
      std::vector<std::uint8_t> want(acc.size()), got(acc.size(), 0x11);
      reference::requantize(acc.data(), N, M, N, 0, 0, s, want.data(), N);
      const packed_matrix pw = pack_b_once(w.data(), elem::s8, K, N, N, 1);
      const requantizer rq(s);
      gemm_output out;
      out.finish = requant_finish(rq, got.data(), N);
      gemm(M, N, K, strided_a(x.data(), at, M, K, K, 1), gemm_operand{&pw, elem::s8, {}, {}}, out, &two_threads());
      REQUIRE(got == want);
    }
}

TEST_CASE(MIXQ_TEST_ISA " int8 requant spec validation names the problem") {
  const std::vector<std::int32_t> two{1, 2}, one{1};
  requant_spec s = make_spec(requant_mode::multiplier_shift, round_mode::half_up, chip_family::bm168x, two, one, {}, true, 0, false, elem::s8);
  CHECK_THROWS_WITH(validate(s, 3), Catch::Contains("1 or 3 values"));
  s.multiplier = {};
  CHECK_THROWS(validate(s, 3));
  s.mode = requant_mode::only_shift;
  CHECK_NOTHROW(validate(s, 3));
  s.mode = requant_mode::only_scale;
  CHECK_THROWS_WITH(validate(s, 3), Catch::Contains("OnlyScale"));
}

namespace {

struct conv_case {
  index_t batch, ic, oc, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, group;
};

conv2d_geometry geometry_of(const conv_case& c) {
  conv2d_geometry g;
  g.ic = c.ic;
  g.oc = c.oc;
  g.ih = c.ih;
  g.iw = c.iw;
  g.kh = c.kh;
  g.kw = c.kw;
  g.sh = c.sh;
  g.sw = c.sw;
  g.dh = c.dh;
  g.dw = c.dw;
  g.pad_top = c.pt;
  g.pad_left = c.pl;
  g.group = c.group;
  // symmetric padding: pad_bottom = pad_top, pad_right = pad_left
  g.oh = (c.ih + 2 * c.pt - ((c.kh - 1) * c.dh + 1)) / c.sh + 1;
  g.ow = (c.iw + 2 * c.pl - ((c.kw - 1) * c.dw + 1)) / c.sw + 1;
  return g;
}

void run_conv_case(const conv_case& c, elem in_type, elem w_type, std::int32_t zp, bool extreme, std::mt19937& gen, thread_pool& pool) {
  const conv2d_geometry g = geometry_of(c);
  INFO("conv ic " << c.ic << " oc " << c.oc << " " << c.ih << "x" << c.iw << " k " << c.kh << "x" << c.kw << " s " << c.sh << "," << c.sw
                  << " d " << c.dh << "," << c.dw << " p " << c.pt << "," << c.pl << " g " << c.group << " batch " << c.batch << " in "
                  << name(in_type) << " zp " << zp << " w " << name(w_type) << (extreme ? " extreme" : "") << " -> " << g.oh << "x"
                  << g.ow);
  const auto x = random_bytes(gen, c.batch * c.ic * c.ih * c.iw, in_type, extreme);
  const auto w = random_bytes(gen, c.oc * (c.ic / c.group) * c.kh * c.kw, w_type, extreme);
  const auto bias = random_ints(gen, c.oc, -200000, 200000);
  const index_t out_n = c.batch * c.oc * g.oh * g.ow;
  std::vector<std::int32_t> want(static_cast<std::size_t>(out_n)), got(want.size(), 777);
  reference::conv2d(g, c.batch, x.data(), in_type, zp, w.data(), w_type, bias.data(), want.data());
  const packed_conv_filter pf = pack_conv_filter(g, w.data(), w_type);
  // accumulators and, in the same call, a per-channel bm1684x requant with relu
  const auto mult = random_ints(gen, c.oc, 1, 1 << 20);
  const auto shift = random_ints(gen, c.oc, 10, 30);
  const requant_spec s =
      make_spec(requant_mode::multiplier_shift, round_mode::half_up, chip_family::bm168x, mult, shift, {}, true, -3, true, elem::s8);
  std::vector<std::uint8_t> q_want(static_cast<std::size_t>(out_n)), q_got(q_want.size(), 0xAA);
  const index_t plane = g.oh * g.ow;
  for (index_t n = 0; n < c.batch; ++n)  // rows are the output channels of one image
    reference::requantize(want.data() + n * c.oc * plane, plane, c.oc, plane, 0, 0, s, q_want.data() + n * c.oc * plane, plane);
  conv_output out{got.data(), &s, q_got.data()};
  conv2d(g, c.batch, x.data(), in_type, zp, pf, bias.data(), out, pool);
  REQUIRE(got == want);
  REQUIRE(q_got == q_want);
  // requant alone (accumulators never stored)
  std::vector<std::uint8_t> q_only(q_want.size(), 0x55);
  conv2d(g, c.batch, x.data(), in_type, zp, pf, bias.data(), conv_output{nullptr, &s, q_only.data()}, pool);
  REQUIRE(q_only == q_want);
}

const conv_case conv_cases[] = {
    // batch ic oc ih iw kh kw sh sw dh dw pt pl group
    {1, 3, 8, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {2, 5, 7, 10, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1},
    {1, 4, 6, 12, 13, 3, 5, 1, 2, 2, 1, 2, 1, 2},
    {1, 6, 9, 8, 8, 1, 1, 1, 1, 1, 1, 0, 0, 3},    // grouped pointwise
    {2, 13, 21, 7, 9, 1, 1, 1, 1, 1, 1, 0, 0, 1},  // pointwise
    {1, 8, 5, 9, 9, 1, 1, 2, 2, 1, 1, 0, 0, 1},    // 1x1 stride 2 (im2col)
    {1, 16, 33, 15, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 16, 23, 23, 7, 7, 2, 2, 1, 1, 3, 3, 1},
    {1, 6, 4, 5, 5, 5, 5, 1, 1, 1, 1, 4, 4, 1},    // more padding than input
    {1, 4, 8, 9, 10, 3, 3, 1, 1, 1, 1, 1, 1, 4},   // group 4 (not depthwise: 2 outputs per group)
};

}  // namespace

TEST_CASE(MIXQ_TEST_ISA " int8 conv2d (im2col, pointwise, grouped) equals the direct loops, with zp padding and fused requant") {
  std::mt19937 gen(31);
  for (const auto& c : conv_cases)
    for (elem in : {elem::s8, elem::u8})
      for (elem wt : {elem::s8, elem::u8}) {
        const std::int32_t zp = in == elem::s8 ? -37 : 201;
        run_conv_case(c, in, wt, zp, false, gen, two_threads());
      }
}

TEST_CASE(MIXQ_TEST_ISA " int8 conv2d with extreme values and a large K (512 channels x 3x3) stays exact") {
  std::mt19937 gen(32);
  thread_pool one(1);
  for (elem in : {elem::s8, elem::u8}) {
    run_conv_case({1, 512, 16, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1}, in, elem::s8, in == elem::s8 ? -128 : 255, true, gen, one);
    run_conv_case({1, 300, 24, 4, 4, 1, 1, 1, 1, 1, 1, 0, 0, 1}, in, elem::u8, 0, true, gen, two_threads());
  }
}

TEST_CASE(MIXQ_TEST_ISA " int8 depthwise conv equals the direct loops: 3x3, 5x5, strides, dilations, odd widths") {
  std::mt19937 gen(41);
  const conv_case cases[] = {
      {1, 8, 8, 9, 37, 3, 3, 1, 1, 1, 1, 1, 1, 8},   {2, 5, 5, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1, 5},
      {1, 3, 3, 11, 40, 5, 5, 1, 1, 1, 1, 2, 2, 3},  {1, 4, 4, 16, 21, 5, 5, 2, 2, 1, 1, 2, 2, 4},
      {1, 3, 3, 12, 19, 3, 3, 1, 1, 2, 2, 2, 2, 3},  {1, 2, 2, 7, 70, 3, 7, 1, 3, 1, 1, 1, 3, 2},
      {1, 6, 6, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 6},    {1, 2, 2, 9, 9, 1, 9, 1, 1, 1, 1, 0, 4, 2},
  };
  for (const auto& c : cases)
    for (elem in : {elem::s8, elem::u8})
      for (elem wt : {elem::s8, elem::u8})
        for (bool extreme : {false, true}) run_conv_case(c, in, wt, in == elem::s8 ? 5 : 128, extreme, gen, two_threads());
}

TEST_CASE(MIXQ_TEST_ISA " int8 conv rejects bad geometry, zero points and outputs") {
  conv2d_geometry g = geometry_of({1, 4, 4, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1});
  std::vector<std::uint8_t> w(static_cast<std::size_t>(4 * 4 * 9)), x(100);
  std::vector<std::int32_t> acc(static_cast<std::size_t>(4 * 25));
  const packed_conv_filter pf = pack_conv_filter(g, w.data(), elem::s8);
  CHECK_THROWS_WITH(conv2d(g, 1, x.data(), elem::s8, 200, pf, nullptr, conv_output{acc.data(), nullptr, nullptr}, two_threads()),
                    Catch::Contains("zero point 200"));
  CHECK_THROWS_WITH(conv2d(g, 1, x.data(), elem::s8, 0, pf, nullptr, conv_output{}, two_threads()), Catch::Contains("no output"));
  conv2d_geometry other = g;
  other.oc = 8;
  CHECK_THROWS_WITH(conv2d(other, 1, x.data(), elem::s8, 0, pf, nullptr, conv_output{acc.data(), nullptr, nullptr}, two_threads()),
                    Catch::Contains("another convolution"));
  g.group = 3;
  CHECK_THROWS_WITH(pack_conv_filter(g, w.data(), elem::s8), Catch::Contains("invalid geometry"));
}

#endif  // MIXQ_INT8_ISA == MIXQ_TEST_PATH_ISA
