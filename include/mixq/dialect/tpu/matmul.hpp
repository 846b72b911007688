#pragma once
// `tpu.MatMul`: the lowered matrix multiplication. Integer form (lowering_spec §4.2, §5, §6):
// int8/uint8 input times int8/uint8 right operand (a weight, or an activation), accumulated
// exactly in int32, + the int32 bias of the output column, relu on that accumulator, then
//   BM168x: RightShiftRound(acc * m, r, HalfUp) + zp_out, with one (multipliers[0], rshifts[0])
//           or, with fuse_rq, the column's multiplier from the `multi` operand (per-channel);
//   CV18xx: QDM per batch, MultiplyByQuantizedMultiplier(acc, m_b, r_b) with a HalfAwayFromZero
//           final shift; multipliers/rshifts hold one value or one per batch;
// then saturation. Float form (F32/F16/BF16 lowering): top.MatMul on the widened values.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/matmul.hpp"
#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/float_path.hpp"
#include "mixq/dialect/tpu/support.hpp"
#include "mixq/kernels/int8/epilogue.hpp"
#include "mixq/kernels/int8/gemm.hpp"
#include "mixq/kernels/int8/reference.hpp"

namespace mixq::tpu {

struct matmul_op {
  static constexpr std::string_view mnemonic = "tpu.MatMul";
  static constexpr std::array operands{top::input("input"), top::weight("right"), top::optional_bias("bias"), top::optional_input("multi"),
                                       top::optional_input("buffer")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::weight_bearing;
  struct attributes {
    bool left_transpose = false;
    bool right_transpose = false;
    bool output_transpose = false;
    bool hdim_is_batch = false;
    bool keep_dims = true;
    bool do_relu = false;
    double relu_limit = -1.0;
    std::vector<std::int64_t> multipliers{1};
    std::vector<std::int64_t> rshifts{0};
    std::int64_t right_zp = 0;
    std::int64_t input_zp = 0;
    rq_mode_attr quant_mode;  // MultiplierShift
    bool fuse_rq = false;
    round_mode_attr round_mode;  // HalfAwayFromZero (the interpreter does not read it)
  };

  static top::matmul_op::attributes top_attributes(const attributes& a) {
    top::matmul_op::attributes t;
    t.left_transpose = a.left_transpose;
    t.right_transpose = a.right_transpose;
    t.output_transpose = a.output_transpose;
    t.hdim_is_batch = a.hdim_is_batch;
    t.keep_dims = a.keep_dims;
    t.do_relu = a.do_relu;
    t.relu_limit = a.relu_limit;
    return t;
  }

  /// Everything the integer form needs, for the fast path and the reference alike.
  struct integer_state {
    top::detail::matmul_plan plan;
    int8::elem a_type = int8::elem::s8, b_type = int8::elem::s8, out_type = int8::elem::s8;
    std::int32_t input_zp = 0, right_zp = 0, out_zp = 0;
    std::vector<std::int32_t> bias;         // N values, or none
    std::vector<std::int32_t> multipliers;  // one, one per batch (CV18xx), or one per column (fuse_rq)
    std::vector<std::int32_t> rshifts;      // one, or one per batch (CV18xx)
    bool per_batch = false, per_column = false;
    bool relu = false;
    double relu_limit = -1.0;
    quant::requant_mode mode = quant::requant_mode::multiplier_shift;
    quant::round_mode round = quant::round_mode::half_up;
    quant::chip_family chip = quant::chip_family::bm168x;
    std::optional<int8::packed_matrix> right;  // a constant right operand shared by every batch

    /// Whether the int8 GEMM and its epilogue compute exactly this (they apply relu after
    /// requant, at zp_out, which equals relu on the accumulator for non-negative multipliers).
    bool fast() const {
      if (input_zp || right_zp || relu_limit > 0) return false;
      for (std::int32_t m : multipliers)
        if (m < 0) return false;
      return true;
    }
    int8::requant_spec spec(std::int64_t batch) const {
      int8::requant_spec s;
      s.mode = mode;
      s.round = round;
      s.chip = chip;
      const std::size_t b = per_batch ? static_cast<std::size_t>(batch) : 0;
      s.multiplier = per_column ? std::span<const std::int32_t>(multipliers) : std::span<const std::int32_t>(&multipliers[b], 1);
      s.rshift = std::span<const std::int32_t>(&rshifts[per_batch ? b : 0], 1);
      s.bias = bias;
      s.channel_is_row = false;
      s.zero_point = out_zp;
      s.relu = relu;
      s.out_type = out_type;
      return s;
    }
  };
  struct prepared {
    std::shared_ptr<const integer_state> integer;
    std::shared_ptr<const float_path<top::matmul_op>> floating;
  };

  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto p = top::matmul_op::plan(c.operand(0).shape, c.operand(1).shape, top_attributes(a));
    if (c.has(2)) top::matmul_op::check_bias(c.operand(2).numel(), p.N);
    auto declared = declared_results(c, "tpu.MatMul");
    if (declared[0].shape != p.out_shape)
      throw error("tpu.MatMul: declared result " + to_string(declared[0].shape) + " but the operands give " + to_string(p.out_shape));
    return declared;
  }

  /// `constants` holds every operand the state needs (the multi and bias weights); `pack`
  /// also packs a constant right operand for the GEMM.
  static std::shared_ptr<integer_state> make_integer(const prepare_context& p, const attributes& a, bool pack) {
    constexpr const char* op = "tpu.MatMul";
    auto st = std::make_shared<integer_state>();
    const tensor_type& x = *p.operand_type(0);
    const tensor_type& w = *p.operand_type(1);
    st->plan = top::matmul_op::plan(x.shape, w.shape, top_attributes(a));
    const std::int64_t N = st->plan.N;
    st->a_type = detail::byte_elem(x.elem, op, "the input");
    st->b_type = detail::byte_elem(w.elem, op, "the right operand");
    st->out_type = detail::byte_elem(declared_result(p, op).elem, op, "the result");
    st->input_zp = static_cast<std::int32_t>(a.input_zp);
    st->right_zp = static_cast<std::int32_t>(a.right_zp);
    st->chip = family_of(p);
    st->mode = quant::parse_requant_mode(a.quant_mode.value);
    st->relu = a.do_relu;
    st->relu_limit = a.relu_limit;
    if (detail::present(p.operands, 2)) {
      const tensor* b = p.constant(2);
      if (!b) throw error("tpu.MatMul: the integer form needs a constant bias");
      st->bias = detail::int32_values(*b, op, "the bias");
      top::matmul_op::check_bias(static_cast<std::int64_t>(st->bias.size()), N);
    }
    st->multipliers = detail::int32_values(a.multipliers, op, "multiplier");
    st->rshifts = detail::int32_values(a.rshifts, op, "rshift");
    if (st->multipliers.empty() || st->rshifts.empty()) throw error("tpu.MatMul: multipliers and rshifts need at least one value");
    const std::int64_t batches = st->plan.batches();
    if (st->chip == quant::chip_family::cv18xx) {
      if (a.hdim_is_batch) throw error("tpu.MatMul: CV18xx's hdim_is_batch layout ((B0, B1, M, K) operands) is not supported");
      if (a.fuse_rq) throw error("tpu.MatMul: fuse_rq is a BM168x form, not CV18xx's");
      st->round = quant::round_mode::half_away_from_zero;
      const auto fits = [&](std::size_t n) { return n == 1 || static_cast<std::int64_t>(n) == batches; };
      if (!fits(st->multipliers.size()) || !fits(st->rshifts.size()))
        throw error("tpu.MatMul: CV18xx multipliers/rshifts need 1 or " + std::to_string(batches) + " values (one per batch), got " +
                    std::to_string(st->multipliers.size()) + " and " + std::to_string(st->rshifts.size()));
      if (st->multipliers.size() != st->rshifts.size() && batches > 1) {
        st->multipliers.resize(static_cast<std::size_t>(batches), st->multipliers[0]);
        st->rshifts.resize(static_cast<std::size_t>(batches), st->rshifts[0]);
      }
      st->per_batch = st->multipliers.size() > 1;
    } else {
      st->round = quant::round_mode::half_up;
      if (st->mode != quant::requant_mode::multiplier_shift)
        throw error("tpu.MatMul: quant_mode " + a.quant_mode.value + " on BM168x comes from TOP_QUANTIZED models, which mixq does not run");
      st->out_zp = static_cast<std::int32_t>(result_quant(p, 0, op).zero_point);
      // fuse_rq (matmulPerchannelQuant): TPU-MLIR writes the common shift once per column.
      if (a.fuse_rq && st->rshifts.size() > 1 && std::all_of(st->rshifts.begin(), st->rshifts.end(), [&](std::int32_t r) { return r == st->rshifts[0]; }))
        st->rshifts.resize(1);
      if (st->rshifts.size() != 1) throw error("tpu.MatMul: BM168x takes one rshift (or, with fuse_rq, one shared value per column), got " + std::to_string(st->rshifts.size()));
      if (a.fuse_rq) {
        const tensor* m = p.constant(3);
        if (!detail::present(p.operands, 3) || !m) throw error("tpu.MatMul: fuse_rq needs the constant `multi` operand");
        st->multipliers = detail::int32_values(*m, op, "multi");
        if (static_cast<std::int64_t>(st->multipliers.size()) != N)
          throw error("tpu.MatMul: multi holds " + std::to_string(st->multipliers.size()) + " values for " + std::to_string(N) + " columns");
        st->per_column = true;
      } else if (st->multipliers.size() != 1) {
        throw error("tpu.MatMul: BM168x takes one multiplier without fuse_rq, got " + std::to_string(st->multipliers.size()));
      }
    }
    const tensor* right = p.constant(1);
    if (pack && right && st->plan.right_shared && st->fast())
      st->right = int8::pack_b_once(right->raw(), st->b_type, st->plan.K, N, st->plan.b_rs, st->plan.b_cs);
    return st;
  }

  static prepared prepare(const prepare_context& p, const attributes& a) {
    prepared s;
    const arithmetic how = detail::arithmetic_of("tpu.MatMul", detail::prefix(p.operands, 3), declared_result(p, "tpu.MatMul"));
    if (how == arithmetic::floating) {
      s.floating = std::make_shared<float_path<top::matmul_op>>(float_path<top::matmul_op>::make(detail::trimmed(p, 3), top_attributes(a)));
      return s;
    }
    if (how == arithmetic::plain_integer) throw error("tpu.MatMul: an integer result must be quantized (!quant.uniform)");
    s.integer = make_integer(p, a, true);
    return s;
  }

  /// The scalar definition: every output element summed in int64 (wrapped to int32 like the
  /// hardware's accumulator), the column's bias, relu, requant, saturate.
  static void integer_reference(kernel_context& k, const integer_state& st) {
    const top::detail::matmul_plan& p = st.plan;
    const auto* xp = reinterpret_cast<const std::uint8_t*>(k.in(0).raw());
    const auto* rp = reinterpret_cast<const std::uint8_t*>(k.in(1).raw());
    tensor& y = k.out(0);
    for (std::int64_t t = 0; t < p.batches(); ++t) {
      std::int64_t ao, bo, co;
      p.offsets(t, ao, bo, co);
      const std::size_t b = st.per_batch ? static_cast<std::size_t>(t) : 0;
      for (std::int64_t i = 0; i < p.M; ++i)
        for (std::int64_t j = 0; j < p.N; ++j) {
          std::int64_t s = 0;
          for (std::int64_t kk = 0; kk < p.K; ++kk)
            s += (int8::value_of(xp[ao + i * p.a_rs + kk * p.a_cs], st.a_type) - st.input_zp) *
                 static_cast<std::int64_t>(int8::value_of(rp[bo + kk * p.b_rs + j * p.b_cs], st.b_type) - st.right_zp);
          std::int64_t v = static_cast<std::int64_t>(int8::reference::wrap32(s)) + (st.bias.empty() ? 0 : st.bias[static_cast<std::size_t>(j)]);
          if (st.relu) {
            v = std::max<std::int64_t>(v, 0);
            if (st.relu_limit > 0 && static_cast<double>(v) > st.relu_limit) v = static_cast<std::int64_t>(st.relu_limit);
          }
          const std::int32_t m = st.per_column ? st.multipliers[static_cast<std::size_t>(j)] : st.multipliers[b];
          const std::int64_t q = quant::apply_multiplier_and_rshift(v, m, st.rshifts[st.per_batch ? b : 0], st.mode, st.round, st.chip) + st.out_zp;
          store_int(y, co + i * p.c_rs + j * p.c_cs, q);
        }
    }
  }

  static void integer_compute(kernel_context& k, const integer_state& st) {
    if (!st.fast()) return integer_reference(k, st);
    const top::detail::matmul_plan& p = st.plan;
    const auto* xp = reinterpret_cast<const std::uint8_t*>(k.in(0).raw());
    const auto* rp = reinterpret_cast<const std::uint8_t*>(k.in(1).raw());
    auto* yp = reinterpret_cast<std::uint8_t*>(k.out(0).raw());
    std::optional<int8::packed_matrix> run_packed;  // a computed right operand every batch shares
    const int8::packed_matrix* shared = st.right ? &*st.right : nullptr;
    if (!shared && p.right_shared && p.batches() > 1) {
      run_packed = int8::pack_b_once(rp, st.b_type, p.K, p.N, p.b_rs, p.b_cs);
      shared = &*run_packed;
    }
    std::vector<std::int32_t> staging;  // output_transpose: C is scattered from a row-major tile
    if (p.c_cs != 1) staging.resize(static_cast<std::size_t>(p.M * p.N));
    for (std::int64_t t = 0; t < p.batches(); ++t) {
      std::int64_t ao, bo, co;
      p.offsets(t, ao, bo, co);
      const int8::requant_spec spec = st.spec(t);
      const int8::gemm_operand A = int8::strided_a(xp + ao, st.a_type, p.M, p.K, p.a_rs, p.a_cs);
      int8::gemm_operand B;
      if (shared) {
        B.packed = shared;
        B.type = st.b_type;
      } else {
        B = int8::strided_b(rp + bo, st.b_type, p.K, p.N, p.b_rs, p.b_cs);
      }
      int8::gemm_output out;
      if (p.c_cs == 1) {
        const int8::requantizer rq(spec);
        out.finish = int8::requant_finish(rq, yp + co, p.c_rs);
        int8::gemm(p.M, p.N, p.K, A, B, out, &k.threads());
      } else {
        out.c = staging.data();
        out.ldc = p.N;
        int8::gemm(p.M, p.N, p.K, A, B, out, &k.threads());
        for (std::int64_t i = 0; i < p.M; ++i)
          for (std::int64_t j = 0; j < p.N; ++j)
            yp[co + i * p.c_rs + j * p.c_cs] = static_cast<std::uint8_t>(int8::requant_value(staging[static_cast<std::size_t>(i * p.N + j)], j, spec));
      }
    }
  }

  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> consts;
    prepare_context p = prepare_view(k, consts);
    consts.assign(k.inputs.begin(), k.inputs.end());  // every operand counts as known here
    p.constants = consts;
    const arithmetic how = detail::arithmetic_of("tpu.MatMul", detail::prefix(p.operands, 3), declared_result(p, "tpu.MatMul"));
    if (how == arithmetic::floating) {
      kernel_context t = detail::trimmed(k, 3);
      return float_path<top::matmul_op>::run_reference(t, top_attributes(a));
    }
    if (how == arithmetic::plain_integer) throw error("tpu.MatMul: an integer result must be quantized (!quant.uniform)");
    integer_reference(k, *make_integer(p, a, false));
  }

  static void compute(kernel_context& k, const attributes& a, const prepared& s) {
    if (s.floating) {
      kernel_context t = detail::trimmed(k, 3);
      return s.floating->run(t, top_attributes(a));
    }
    integer_compute(k, *s.integer);
  }
};

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::matmul_op::attributes, left_transpose, right_transpose, output_transpose, hdim_is_batch, keep_dims, do_relu,
                        relu_limit, multipliers, rshifts, right_zp, input_zp, quant_mode, fuse_rq, round_mode);
