#pragma once
// Matrix multiplication.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"
#include "mixq/kernels/simd/gemm.hpp"

namespace mixq::top {

namespace detail {

/// A batched matmul reduced to strides: for every index of `batch` (broadcast over both operands),
/// C[i][j] = sum_k A[i][k] * B[k][j] with A at a + a_batch·idx + i*a_rs + k*a_cs, and likewise B, C.
struct matmul_plan {
  shape_t out_shape;
  shape_t batch;
  std::vector<std::int64_t> a_bs, b_bs, c_bs;  // per batch dimension (0 where broadcast)
  std::int64_t M = 1, N = 1, K = 1;
  std::int64_t a_rs = 0, a_cs = 0, b_rs = 0, b_cs = 0, c_rs = 0, c_cs = 0;
  bool right_shared = false;  // every batch uses the same B (a weight can be packed once)

  std::int64_t batches() const { return numel(batch); }
  /// Offsets of batch number `flat` into A, B and C.
  void offsets(std::int64_t flat, std::int64_t& ao, std::int64_t& bo, std::int64_t& co) const {
    ao = bo = co = 0;
    for (std::size_t d = batch.size(); d-- > 0;) {
      const std::int64_t i = flat % batch[d];
      flat /= batch[d];
      ao += i * a_bs[d];
      bo += i * b_bs[d];
      co += i * c_bs[d];
    }
  }
};

}  // namespace detail

/// `top.MatMul`: input · right (+ bias over the last output axis), fused relu.
/// Shapes, as TPU-MLIR infers them:
/// - batch dimensions broadcast numpy-style; a 2-D right operand is shared by every batch row;
/// - a right operand of rank 2 whose K differs from the input's last axis consumes the input's trailing
///   axes whose product is K ([1,512,7,7] x [25088,4096] -> [1,4096]);
/// - a 1-D right operand [K] drops the N axis; a 1-D input [K] is a single row ([K] x [K,N] -> [1,N]);
/// - keep_dims = false flattens the result to [rows, N].
/// Transposes swap the last two axes: left_transpose reads the input as [..., K, M], right_transpose
/// the right operand as [..., N, K], output_transpose writes [..., N, M]. hdim_is_batch (rank-4 operands)
/// takes axis 2 as a batch axis: [b, M, h, K] x [b, K, h, N] -> [b, M, h, N].
struct matmul_op {
  static constexpr std::string_view mnemonic = "top.MatMul";
  static constexpr std::array operands{top::input("input"), top::weight("right"), top::optional_bias("bias")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::weight_bearing | trait::quantizable;
  struct attributes {
    bool right_transpose = false;
    bool left_transpose = false;
    bool output_transpose = false;
    bool hdim_is_batch = false;
    bool keep_dims = true;
    bool do_relu = false;
    double relu_limit = -1.0;
    std::optional<std::int64_t> weight_bits;
    std::optional<double> in_int4_scale;
    std::optional<double> in_int4_zp;
    std::optional<double> out_int8_scale;
    std::optional<double> out_int8_zp;
    std::optional<bool> is_lora;
    std::optional<std::string> dq_type;
    std::optional<std::int64_t> q_group_size;
  };

  static detail::matmul_plan plan(const shape_t& a_in, const shape_t& b_in, const attributes& at) {
    const auto fail = [&](const std::string& why) -> void {
      throw error("top.MatMul: input " + to_string(a_in) + " and right " + to_string(b_in) + ": " + why);
    };
    detail::matmul_plan p;
    if (a_in.empty() || b_in.empty()) fail("operands must have rank 1 or more");
    if (at.hdim_is_batch) {
      if (a_in.size() != 4 || b_in.size() != 4) fail("hdim_is_batch needs rank-4 operands");
      const std::int64_t M = at.left_transpose ? a_in[3] : a_in[1], K = at.left_transpose ? a_in[1] : a_in[3];
      const std::int64_t N = at.right_transpose ? b_in[1] : b_in[3], KB = at.right_transpose ? b_in[3] : b_in[1];
      if (K != KB) fail("contraction sizes differ");
      p.batch = broadcast_shapes({a_in[0], a_in[2]}, {b_in[0], b_in[2]});
      p.M = M, p.N = N, p.K = K;
      const shape_t as = strides_of(a_in), bs = strides_of(b_in);
      p.a_bs = {a_in[0] == 1 ? 0 : as[0], a_in[2] == 1 ? 0 : as[2]};
      p.b_bs = {b_in[0] == 1 ? 0 : bs[0], b_in[2] == 1 ? 0 : bs[2]};
      p.a_rs = at.left_transpose ? 1 : as[1];
      p.a_cs = at.left_transpose ? as[1] : 1;
      p.b_rs = at.right_transpose ? 1 : bs[1];
      p.b_cs = at.right_transpose ? bs[1] : 1;
      const std::int64_t R = at.output_transpose ? N : M, C = at.output_transpose ? M : N;
      p.out_shape = {p.batch[0], R, p.batch[1], C};
      const shape_t cs = strides_of(p.out_shape);
      p.c_bs = {cs[0], cs[2]};
      p.c_rs = at.output_transpose ? 1 : cs[1];
      p.c_cs = at.output_transpose ? cs[1] : 1;
      p.right_shared = b_in[0] == 1 && b_in[2] == 1;
    } else {
      shape_t a = a_in, b = b_in;
      const bool right_vector = b.size() == 1;
      if (right_vector) {
        if (at.right_transpose) fail("a 1-D right operand cannot be transposed");
        b.push_back(1);
      }
      if (a.size() == 1) {
        if (at.left_transpose) fail("a 1-D input cannot be transposed");
        a.insert(a.begin(), 1);
      }
      const std::int64_t KB = at.right_transpose ? b[b.size() - 1] : b[b.size() - 2];
      const std::int64_t N = at.right_transpose ? b[b.size() - 2] : b[b.size() - 1];
      std::int64_t K = at.left_transpose ? a[a.size() - 2] : a.back();
      if (b.size() == 2 && KB != K && !at.left_transpose) {  // trailing input axes flattened into K
        std::int64_t prod = 1;
        while (a.size() > 1 && prod < KB) {
          prod *= a.back();
          a.pop_back();
        }
        if (prod != KB) fail("no trailing input axes multiply to " + std::to_string(KB));
        a.push_back(KB);
        K = KB;
        if (a.size() == 1) a.insert(a.begin(), 1);
      }
      if (K != KB) fail("contraction sizes differ (" + std::to_string(K) + " vs " + std::to_string(KB) + ")");
      const std::int64_t M = at.left_transpose ? a.back() : a[a.size() - 2];
      p.M = M, p.N = N, p.K = K;
      const shape_t a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
      p.right_shared = numel(b_batch) == 1;
      if (p.right_shared && !at.left_transpose && !at.output_transpose) {
        // every row of the input meets the same right matrix: one GEMM with the batch folded into M
        p.M = numel(a_batch) * M;
        p.a_rs = K, p.a_cs = 1;
        p.b_rs = at.right_transpose ? 1 : N;
        p.b_cs = at.right_transpose ? K : 1;
        p.c_rs = N, p.c_cs = 1;
        const std::size_t r = std::max(a_batch.size(), b_batch.size());
        p.out_shape = shape_t(r - a_batch.size(), 1);
        p.out_shape.insert(p.out_shape.end(), a_batch.begin(), a_batch.end());
      } else {
        p.batch = broadcast_shapes(a_batch, b_batch);
        const shape_t as = strides_of(a), bs = strides_of(b);
        const std::size_t r = p.batch.size();
        p.a_bs.assign(r, 0);
        p.b_bs.assign(r, 0);
        for (std::size_t i = 0; i < a_batch.size(); ++i)
          p.a_bs[r - a_batch.size() + i] = a_batch[i] == 1 ? 0 : as[i];
        for (std::size_t i = 0; i < b_batch.size(); ++i)
          p.b_bs[r - b_batch.size() + i] = b_batch[i] == 1 ? 0 : bs[i];
        p.a_rs = at.left_transpose ? 1 : K;
        p.a_cs = at.left_transpose ? M : 1;
        p.b_rs = at.right_transpose ? 1 : N;
        p.b_cs = at.right_transpose ? K : 1;
        p.c_rs = at.output_transpose ? 1 : N;
        p.c_cs = at.output_transpose ? M : 1;
        p.c_bs.assign(r, 0);
        std::int64_t st = M * N;
        for (std::size_t i = r; i-- > 0;) p.c_bs[i] = st, st *= p.batch[i];
        p.out_shape = p.batch;
      }
      if (at.output_transpose) {
        p.out_shape.push_back(N);
        p.out_shape.push_back(M);
      } else {
        p.out_shape.push_back(M);
        p.out_shape.push_back(N);
      }
      if (right_vector && !at.output_transpose) p.out_shape.pop_back();
    }
    if (!at.keep_dims) {
      const std::int64_t last = p.out_shape.back();
      p.out_shape = {numel(p.out_shape) / std::max<std::int64_t>(last, 1), last};
    }
    if (p.batch.empty()) {
      p.a_bs.clear();
      p.b_bs.clear();
      p.c_bs.clear();
    }
    return p;
  }

  static void check_bias(std::int64_t bias_numel, std::int64_t N) {
    if (bias_numel != N)
      throw error("top.MatMul: bias has " + std::to_string(bias_numel) + " values for " + std::to_string(N) +
                  " output columns");
  }

  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto p = plan(c.operand(0).shape, c.operand(1).shape, a);
    if (c.has(2)) check_bias(c.operand(2).numel(), p.N);
    return {tensor_type{c.operand(0).elem, p.out_shape}};
  }

  /// The oracle: every output element summed in double from the plan's strides.
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const tensor& r = k.in(1);
    const tensor* b = k.optional_in(2);
    const auto p = plan(x.shape(), r.shape(), a);
    if (b) check_bias(b->numel(), p.N);
    const float* xp = x.data<float>();
    const float* rp = r.data<float>();
    float* yp = k.out().data<float>();
    for (std::int64_t t = 0; t < p.batches(); ++t) {
      std::int64_t ao, bo, co;
      p.offsets(t, ao, bo, co);
      for (std::int64_t i = 0; i < p.M; ++i)
        for (std::int64_t j = 0; j < p.N; ++j) {
          double s = b ? b->data<float>()[j] : 0.0;
          for (std::int64_t kk = 0; kk < p.K; ++kk)
            s += static_cast<double>(xp[ao + i * p.a_rs + kk * p.a_cs]) * rp[bo + kk * p.b_rs + j * p.b_cs];
          double v = s;
          if (a.do_relu) {
            v = v < 0 ? 0 : v;
            if (a.relu_limit > 0 && v > a.relu_limit) v = a.relu_limit;
          }
          yp[co + i * p.c_rs + j * p.c_cs] = static_cast<float>(v);
        }
    }
  }

  /// The right operand packed once when it is a constant shared by every batch.
  struct prepared {
    bool valid = false;
    simd::packed_matrix right;
  };

  static prepared prepare(const prepare_context& c, const attributes& a) {
    prepared pr;
    const tensor* r = c.constant(1);
    if (!r || c.operands.empty() || !c.operands[0] || r->elem() != dtype::f32) return pr;
    const auto p = plan(c.operands[0]->shape, r->shape(), a);
    if (!p.right_shared) return pr;
    pr.right = simd::pack_b_once(r->data<float>(), p.K, p.N, p.b_rs, p.b_cs);
    pr.valid = true;
    return pr;
  }

  static void compute(kernel_context& k, const attributes& a, const prepared& pr) {
    const tensor& x = k.in(0);
    const tensor& r = k.in(1);
    const tensor* b = k.optional_in(2);
    const auto p = plan(x.shape(), r.shape(), a);
    if (b) check_bias(b->numel(), p.N);
    simd::gemm_epilogue ep;
    ep.bias = b ? b->data<float>() : nullptr;
    ep.bias_per_row = false;
    ep.relu = a.do_relu;
    ep.relu_limit = static_cast<float>(a.relu_limit);
    const float* xp = x.data<float>();
    const float* rp = r.data<float>();
    float* yp = k.out().data<float>();
    // a right operand shared by the batches but not constant: pack it once per run
    simd::packed_matrix run_packed;
    const simd::packed_matrix* shared = pr.valid ? &pr.right : nullptr;
    if (!shared && p.right_shared && p.batches() > 1) {
      run_packed = simd::pack_b_once(rp, p.K, p.N, p.b_rs, p.b_cs);
      shared = &run_packed;
    }
    tensor staging;  // output_transpose: C is written transposed from a row-major tile
    if (p.c_cs != 1) staging = tensor::empty(dtype::f32, {p.M, p.N});
    for (std::int64_t t = 0; t < p.batches(); ++t) {
      std::int64_t ao, bo, co;
      p.offsets(t, ao, bo, co);
      const auto A = simd::strided_a(xp + ao, p.M, p.a_rs, p.a_cs);
      const auto B = shared ? simd::gemm_b{shared, {}} : simd::strided_b(rp + bo, p.N, p.b_rs, p.b_cs);
      if (p.c_cs == 1) {
        simd::gemm(p.M, p.N, p.K, A, B, yp + co, p.c_rs, ep, &k.threads());
      } else {
        float* s = staging.data<float>();
        simd::gemm(p.M, p.N, p.K, A, B, s, p.N, ep, &k.threads());
        for (std::int64_t i = 0; i < p.M; ++i)
          for (std::int64_t j = 0; j < p.N; ++j) yp[co + i * p.c_rs + j * p.c_cs] = s[i * p.N + j];
      }
    }
  }
};

using matmul_ops = op_list<matmul_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::matmul_op::attributes, right_transpose, left_transpose, output_transpose,
                        hdim_is_batch, keep_dims, do_relu, relu_limit, weight_bits, in_int4_scale, in_int4_zp,
                        out_int8_scale, out_int8_zp, is_lora, dq_type, q_group_size);
