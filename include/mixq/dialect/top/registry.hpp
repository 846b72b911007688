#pragma once
// The type-erased face of an op struct. Graph, I/O, interpreter, calibration and
// search only ever see `op_info`; templates stay in `make_op_info<Op>`.
#include <algorithm>
#include <concepts>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mixq/dialect/top/attr_codec.hpp"
#include "mixq/dialect/top/op_base.hpp"
#include "mixq/quant/candidate_score.hpp"

namespace mixq::top {

/// What every op struct must provide. The static_asserts in make_op_info name the missing piece.
template <class Op>
concept top_op = requires {
  { Op::mnemonic } -> std::convertible_to<std::string_view>;
  Op::operands;
  { Op::num_results } -> std::convertible_to<int>;
  { Op::traits } -> std::convertible_to<std::uint32_t>;
  typename Op::attributes;
};

template <class Op>
concept has_compute = requires(kernel_context& k, const typename Op::attributes& a) { Op::compute(k, a); };
template <class Op>
concept has_prepared_compute = requires(kernel_context& k, const typename Op::attributes& a,
                                        const prepare_context& p) {
  typename Op::prepared;
  { Op::prepare(p, a) } -> std::same_as<typename Op::prepared>;
  Op::compute(k, a, std::declval<const typename Op::prepared&>());
};

/// Ops whose float kernel is one batch formula per element, `functor(attributes)`, applied by
/// simd::map_unary (unary_map_op sets `pointwise`; an op that overrides its compute must not).
template <class Op>
concept pointwise_op = requires(const typename Op::attributes& a, const simd::batch<float>& x) {
  requires Op::pointwise;
  { Op::functor(a)(x) } -> std::convertible_to<simd::batch<float>>;
};

/// Ops that compute a band of output rows from a copy of the input rows it reads (row_band).
/// `band_input_rows` answers nullopt for an instance that cannot (3-D, zero-inserted...); a
/// band's output must equal the same rows of `compute`'s, bit for bit.
template <class Op>
concept row_banded_op = has_prepared_compute<Op> &&
    requires(const typename Op::attributes& a, std::span<const tensor_type* const> operands, std::int64_t row,
             kernel_context& k, const row_band& band) {
      { Op::band_input_rows(a, operands, row, row) } -> std::same_as<std::optional<std::pair<std::int64_t, std::int64_t>>>;
      Op::compute_band(k, a, std::declval<const typename Op::prepared&>(), band);
    };

/// Decoded attributes of one op instance, owned and type-erased.
using attr_ptr = std::shared_ptr<const void>;
/// Per-instance state built once by `prepare` (packed weights...).
using prepared_ptr = std::shared_ptr<const void>;

struct op_info {
  std::string_view mnemonic;
  std::span<const operand_desc> operands;
  int num_results = 1;
  std::uint32_t traits = 0;
  std::vector<std::string_view> attribute_names;

  attr_ptr (*decode)(const attr_dict&) = nullptr;
  void (*encode)(const void* attrs, attr_dict&) = nullptr;
  std::vector<tensor_type> (*infer)(const infer_context&, const void* attrs) = nullptr;
  void (*reference)(kernel_context&, const void* attrs) = nullptr;
  /// Fast kernel; equals `reference` when the op has none.
  void (*compute)(kernel_context&, const void* attrs, const void* prepared) = nullptr;
  /// nullptr when the op needs no preparation.
  prepared_ptr (*prepare)(const prepare_context&, const void* attrs) = nullptr;
  /// Point-wise ops only (else nullptr): quant::score_fake_quantized_map with this op's functor,
  /// so threshold searches score candidates in registers instead of on tensors.
  void (*score_fake_quantized)(const void* attrs, const float* x, const float* ref, std::size_t n,
                               std::span<const quant::int_fake_quant> candidates, double* totals) = nullptr;

  /// Row-banded ops only (else nullptr; see row_band): the input rows of operand 0 that output
  /// rows [out_begin, out_end) read, given the operand types; and the kernel for one band.
  std::optional<std::pair<std::int64_t, std::int64_t>> (*band_input_rows)(const void* attrs,
                                                                          std::span<const tensor_type* const> operands,
                                                                          std::int64_t out_begin, std::int64_t out_end) = nullptr;
  void (*compute_band)(kernel_context&, const void* attrs, const void* prepared, const row_band&) = nullptr;

  bool has(std::uint32_t t) const noexcept { return (traits & t) == t; }
  /// The name without the dialect prefix (`Conv` for `top.Conv`).
  std::string_view short_name() const noexcept {
    auto dot = mnemonic.find('.');
    return dot == std::string_view::npos ? mnemonic : mnemonic.substr(dot + 1);
  }
  /// Smallest and largest operand counts the schema allows (max = -1: unbounded).
  std::pair<std::size_t, long> operand_count_range() const noexcept {
    std::size_t min = 0;
    long max = 0;
    for (const auto& o : operands) {
      if (o.kind == operand_kind::required) ++min, ++max;
      else if (o.kind == operand_kind::optional) ++max;
      else return {min, -1};
    }
    return {min, max};
  }
};

template <top_op Op>
op_info make_op_info() {
  using A = typename Op::attributes;
  static_assert(requires(const infer_context& c, const A& a) {
    { Op::infer(c, a) } -> std::same_as<std::vector<tensor_type>>;
  }, "mixq: an op struct must define static std::vector<tensor_type> infer(const infer_context&, const attributes&)");
  static_assert(requires(kernel_context& k, const A& a) { Op::reference(k, a); },
                "mixq: an op struct must define static void reference(kernel_context&, const attributes&)");
  op_info info;
  info.mnemonic = Op::mnemonic;
  info.operands = std::span<const operand_desc>(Op::operands.data(), Op::operands.size());
  info.num_results = Op::num_results;
  info.traits = Op::traits;
  info.attribute_names = attribute_names<A>();
  info.decode = [](const attr_dict& d) -> attr_ptr {
    auto a = std::make_shared<A>();
    decode_attributes(d, *a);
    return a;
  };
  info.encode = [](const void* a, attr_dict& d) { encode_attributes(*static_cast<const A*>(a), d); };
  info.infer = [](const infer_context& c, const void* a) { return Op::infer(c, *static_cast<const A*>(a)); };
  info.reference = [](kernel_context& k, const void* a) { Op::reference(k, *static_cast<const A*>(a)); };
  if constexpr (has_prepared_compute<Op>) {
    using P = typename Op::prepared;
    info.prepare = [](const prepare_context& p, const void* a) -> prepared_ptr {
      return std::make_shared<P>(Op::prepare(p, *static_cast<const A*>(a)));
    };
    info.compute = [](kernel_context& k, const void* a, const void* p) {
      Op::compute(k, *static_cast<const A*>(a), *static_cast<const P*>(p));
    };
  } else if constexpr (has_compute<Op>) {
    info.compute = [](kernel_context& k, const void* a, const void*) { Op::compute(k, *static_cast<const A*>(a)); };
  } else {
    info.compute = [](kernel_context& k, const void* a, const void*) { Op::reference(k, *static_cast<const A*>(a)); };
  }
  if constexpr (pointwise_op<Op>) {
    info.score_fake_quantized = [](const void* a, const float* x, const float* ref, std::size_t n,
                                   std::span<const quant::int_fake_quant> candidates, double* totals) {
      quant::score_fake_quantized_map(Op::functor(*static_cast<const A*>(a)), x, ref, n, candidates, totals);
    };
  }
  if constexpr (row_banded_op<Op>) {
    using P = typename Op::prepared;
    info.band_input_rows = [](const void* a, std::span<const tensor_type* const> operands, std::int64_t b, std::int64_t e) {
      return Op::band_input_rows(*static_cast<const A*>(a), operands, b, e);
    };
    info.compute_band = [](kernel_context& k, const void* a, const void* p, const row_band& band) {
      Op::compute_band(k, *static_cast<const A*>(a), *static_cast<const P*>(p), band);
    };
  }
  return info;
}

/// Compile-time list of op types.
template <class... Ops> struct op_list {
  static constexpr std::size_t size = sizeof...(Ops);
};
template <class... Lists> struct concat_lists;
template <class... A> struct concat_lists<op_list<A...>> { using type = op_list<A...>; };
template <class... A, class... B, class... Rest>
struct concat_lists<op_list<A...>, op_list<B...>, Rest...> {
  using type = typename concat_lists<op_list<A..., B...>, Rest...>::type;
};

/// The runtime registry of a set of ops: mnemonic -> op_info, sorted for binary search.
class registry {
 public:
  template <class... Ops>
  static registry from(op_list<Ops...>) {
    registry r;
    r.ops_ = {make_op_info<Ops>()...};
    std::sort(r.ops_.begin(), r.ops_.end(), [](const op_info& a, const op_info& b) { return a.mnemonic < b.mnemonic; });
    for (std::size_t i = 1; i < r.ops_.size(); ++i)
      if (r.ops_[i].mnemonic == r.ops_[i - 1].mnemonic)
        throw error("mixq: op " + std::string(r.ops_[i].mnemonic) + " is registered twice");
    return r;
  }

  const op_info* find(std::string_view mnemonic) const noexcept {
    auto it = std::lower_bound(ops_.begin(), ops_.end(), mnemonic,
                               [](const op_info& o, std::string_view m) { return o.mnemonic < m; });
    return it != ops_.end() && it->mnemonic == mnemonic ? &*it : nullptr;
  }
  const op_info& at(std::string_view mnemonic) const {
    if (auto p = find(mnemonic)) return *p;
    throw error("unknown op '" + std::string(mnemonic) + "'");
  }
  std::span<const op_info> ops() const noexcept { return ops_; }

 private:
  std::vector<op_info> ops_;
};

}  // namespace mixq::top
