#pragma once
// What the TPU op headers beyond Conv2D/Cast share: the module's asymmetric flag, typed loops
// over 8-bit integer tensors (a 256-entry table replaces a per-element formula), numpy
// broadcasting for the integer element-wise ops, and two wrappers that make a TPU op out of a
// TOP op: `float_only` (an op the lowering keeps in float; TPU-MLIR's operand list may append
// table/buffer operands the TOP kernel never reads) and `move_op` (data movement run on the
// stored values in any dtype, int8 included, with the declared result type).
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"
#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/float_path.hpp"
#include "mixq/kernels/int8/config.hpp"
#include "mixq/quant/requant.hpp"

namespace mixq::tpu {

/// A `!quant.uniform` tensor: integers that stand for (q - zp) * scale. Plain integer tensors
/// (int32 indices, shape arithmetic) and float tensors are not.
inline bool is_uniform(const tensor_type& t) { return quant::parse_uniform(t.quant).has_value(); }

/// `module.asymmetric`: TPU-MLIR's interpreter chooses the asymmetric branch of Add, Sub, Mul,
/// AvgPool and LeakyRelu by this global flag, not by the operand types (lowering_spec §2.3).
inline bool asymmetric_of(const attr_dict* module) {
  if (!module) return false;
  const attribute* a = module->find("module.asymmetric");
  if (!a) return false;
  if (const bool* b = a->get_if<bool>()) return *b;
  throw error("module.asymmetric must be a bool, it is a " + std::string(kind_name(*a)));
}

/// Result `i`'s declared type (a TPU op cannot run without it: it carries the quantization).
inline const tensor_type& declared_result(const prepare_context& p, const char* op, std::size_t i = 0) {
  const tensor_type* t = p.result_type(i);
  if (!t) throw error(std::string(op) + ": the result type is not known (the op needs its declared result type)");
  return *t;
}

/// How a lowered op computes, decided from its declared types.
enum class arithmetic { floating, quantized, plain_integer };

namespace detail {

/// Operand `i`'s declared type, or nullptr for an absent/none operand.
inline const tensor_type* present(std::span<const tensor_type* const> types, std::size_t i) {
  if (i >= types.size() || !types[i] || types[i]->is_none) return nullptr;
  return types[i];
}

/// Float result: every operand must be a float (the lowering casts int8 inputs of float ops).
/// Quantized result: every operand must be an integer. A plain integer result with integer
/// operands is integer arithmetic (TPU-MLIR lowers int32 index math that way).
inline arithmetic arithmetic_of(const char* op, std::span<const tensor_type* const> operands, const tensor_type& result) {
  const bool float_result = is_floating(result.elem);
  for (std::size_t i = 0; i < operands.size(); ++i) {
    const tensor_type* t = present(operands, i);
    if (!t) continue;
    if (float_result && !is_floating(t->elem))
      throw error(std::string(op) + ": a float result needs float operands, operand " + std::to_string(i) + " holds " +
                  std::string(name(t->elem)) + " (the lowering inserts a tpu.Cast there)");
    if (!float_result && is_floating(t->elem))
      throw error(std::string(op) + ": an integer result needs integer operands, operand " + std::to_string(i) + " holds " +
                  std::string(name(t->elem)));
  }
  if (float_result) return arithmetic::floating;
  return is_uniform(result) ? arithmetic::quantized : arithmetic::plain_integer;
}

/// Calls f(T{}) with the C++ type of an integer dtype.
template <class F>
void visit_integer(dtype d, const char* op, F&& f) {
  switch (d) {
    case dtype::i8: f(std::int8_t{}); return;
    case dtype::u8: f(std::uint8_t{}); return;
    case dtype::i16: f(std::int16_t{}); return;
    case dtype::u16: f(std::uint16_t{}); return;
    case dtype::i32: f(std::int32_t{}); return;
    default: throw error(std::string(op) + ": expected an integer tensor, got " + std::string(name(d)));
  }
}

/// Calls f(T{}) for int8/uint8 and returns true; false for any other dtype.
template <class F>
bool visit_byte(dtype d, F&& f) {
  if (d == dtype::i8) return f(std::int8_t{}), true;
  if (d == dtype::u8) return f(std::uint8_t{}), true;
  return false;
}

/// Every value a byte of type T can hold, mapped by `fn` and saturated to Y, indexed by the
/// byte itself (so a signed -1 sits at 255, where TPU-MLIR's tables put it too).
template <class T, class Y, class Fn>
std::array<Y, 256> byte_table(const Fn& fn) {
  std::array<Y, 256> table{};
  for (int v = std::numeric_limits<T>::min(); v <= std::numeric_limits<T>::max(); ++v)
    table[static_cast<std::uint8_t>(v)] = quant::saturate<Y>(fn(static_cast<std::int64_t>(v)));
  return table;
}

inline constexpr std::int64_t elementwise_grain = 16384;

/// Value i of a per-input attribute array (one value for all inputs, or one each), or
/// `otherwise` when the attribute is absent.
inline std::int64_t pick_value(const std::optional<std::vector<std::int64_t>>& v, std::size_t i, std::int64_t otherwise) {
  if (!v || v->empty()) return otherwise;
  return (*v)[v->size() == 1 ? 0 : i];
}

/// The int8 kernels' name for an 8-bit operand type.
inline int8::elem byte_elem(dtype d, const char* op, const char* what) {
  if (d == dtype::i8) return int8::elem::s8;
  if (d == dtype::u8) return int8::elem::u8;
  throw error(std::string(op) + ": " + what + " must be int8 or uint8, not " + std::string(name(d)));
}

/// An int32 (or int16, BM1684's biases) constant as int32 values.
inline std::vector<std::int32_t> int32_values(const tensor& t, const char* op, const char* what) {
  if (t.elem() != dtype::i32 && t.elem() != dtype::i16)
    throw error(std::string(op) + ": " + what + " must be int32 (int16 on BM1684), not " + std::string(name(t.elem())));
  std::vector<std::int32_t> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(int_at(t, i));
  return v;
}

/// Integer attribute values that must fit int32 (multipliers, shifts).
inline std::vector<std::int32_t> int32_values(const std::vector<std::int64_t>& v, const char* op, const char* what) {
  std::vector<std::int32_t> out;
  for (std::int64_t x : v) {
    if (x < std::numeric_limits<std::int32_t>::min() || x > std::numeric_limits<std::int32_t>::max())
      throw error(std::string(op) + ": " + what + " " + std::to_string(x) + " does not fit 32 bits");
    out.push_back(static_cast<std::int32_t>(x));
  }
  return out;
}

}  // namespace detail

/// y[i] = saturate(fn(x[i])) for integer tensors: an 8-bit input goes through a 256-entry table
/// built from `fn`, split over the pool; other integer types call `fn` per element.
template <class Fn>
void map_integers(thread_pool& pool, const tensor& x, tensor& y, const Fn& fn, const char* op) {
  const std::int64_t n = x.numel();
  detail::visit_integer(y.elem(), op, [&](auto yt) {
    using Y = decltype(yt);
    Y* yp = reinterpret_cast<Y*>(y.raw());
    const bool done = detail::visit_byte(x.elem(), [&](auto xt) {
      using X = decltype(xt);
      const auto table = detail::byte_table<X, Y>(fn);
      const auto* xp = reinterpret_cast<const std::uint8_t*>(x.raw());
      pool.parallel_for(n, detail::elementwise_grain, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) yp[i] = table[xp[i]];
      });
    });
    if (done) return;
    detail::visit_integer(x.elem(), op, [&](auto xt) {
      using X = decltype(xt);
      const X* xp = reinterpret_cast<const X*>(x.raw());
      pool.parallel_for(n, detail::elementwise_grain, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) yp[i] = quant::saturate<Y>(fn(static_cast<std::int64_t>(xp[i])));
      });
    });
  });
}

/// The same, one element at a time (the scalar reference).
template <class Fn>
void map_integers_reference(const tensor& x, tensor& y, const Fn& fn) {
  for (std::int64_t i = 0; i < x.numel(); ++i) store_int(y, i, fn(int_at(x, i)));
}

/// Numpy broadcasting of several inputs to one output, split into rows of the output's last
/// axis: row(out_offset, input_offsets, input_steps, length) with a step of 0 or 1 per input.
struct broadcast_rows {
  shape_t out;
  std::vector<shape_t> strides;  // per input, its strides over the output's axes (0 where broadcast)

  broadcast_rows(shape_t out_shape, const std::vector<shape_t>& inputs) : out(std::move(out_shape)) {
    for (const shape_t& s : inputs) strides.push_back(top::broadcast_strides(s, out));
  }
  std::int64_t row_length() const { return out.empty() ? 1 : out.back(); }
  std::int64_t rows() const {
    const std::int64_t len = row_length();
    return len == 0 ? 0 : numel(out) / len;
  }
  /// Offsets of row `row`'s first element in every input.
  void offsets(std::int64_t row, std::vector<std::int64_t>& off) const {
    off.assign(strides.size(), 0);
    for (std::size_t d = out.size() - (out.empty() ? 0 : 1); d-- > 0;) {
      const std::int64_t i = row % out[d];
      row /= out[d];
      for (std::size_t k = 0; k < strides.size(); ++k) off[k] += i * strides[k][d];
    }
  }
  std::int64_t step(std::size_t input) const { return out.empty() ? 0 : strides[input].back(); }

  template <class Row>
  void run(thread_pool& pool, const Row& row) const {
    const std::int64_t n = rows(), len = row_length();
    pool.parallel_for(n, std::max<std::int64_t>(1, detail::elementwise_grain / std::max<std::int64_t>(len, 1)),
                      [&](std::int64_t b, std::int64_t e) {
                        std::vector<std::int64_t> off;
                        for (std::int64_t r = b; r < e; ++r) {
                          offsets(r, off);
                          row(r * len, off, len);
                        }
                      });
  }
};

/// Flat offset of output element `i` in a broadcast input (the reference's way: every index
/// unravelled on its own).
inline std::int64_t broadcast_offset(std::int64_t i, const shape_t& out, const shape_t& in_strides) {
  std::int64_t off = 0;
  for (std::size_t d = out.size(); d-- > 0;) {
    off += (i % out[d]) * in_strides[d];
    i /= out[d];
  }
  return off;
}

namespace detail {

template <std::size_t A, std::size_t B>
constexpr std::array<operand_desc, A + B> join_operands(const std::array<operand_desc, A>& a, const std::array<operand_desc, B>& b) {
  std::array<operand_desc, A + B> r{};
  for (std::size_t i = 0; i < A; ++i) r[i] = a[i];
  for (std::size_t i = 0; i < B; ++i) r[A + i] = b[i];
  return r;
}

template <class Span>
Span prefix(Span s, std::size_t n) {
  return s.subspan(0, std::min(n, s.size()));
}

/// The first n operands of a call, for a TOP kernel that knows fewer operands than TPU-MLIR's op.
inline kernel_context trimmed(kernel_context& k, std::size_t n) {
  return kernel_context{prefix(k.inputs, n), k.outputs, k.output_types, k.pool, prefix(k.input_types, n), k.module};
}
inline prepare_context trimmed(const prepare_context& p, std::size_t n) {
  return prepare_context{prefix(p.operands, n), prefix(p.constants, n), p.results, p.module};
}
inline infer_context trimmed(const infer_context& c, std::size_t n) {
  return infer_context{prefix(c.operands, n), prefix(c.constants, n), c.num_results, c.declared_results};
}

template <class TopOp>
constexpr bool top_is_variadic() {
  for (const auto& o : TopOp::operands)
    if (o.kind == top::operand_kind::variadic) return true;
  return false;
}

}  // namespace detail

/// No operands beyond the TOP op's.
struct no_extra_operands {
  static constexpr std::array<operand_desc, 0> operands{};
};

/// A TPU op the lowering only emits in float (F32/F16/BF16): the TOP op's attributes and
/// kernel through float_path, TPU-MLIR's operand list (the TOP op's, then `Extra`'s, which the
/// kernel never reads). Quantized operands are rejected: mixq has no integer form for it.
template <class TopOp, top::fixed_string Name, class Extra = no_extra_operands>
struct float_only {
  static_assert(!detail::top_is_variadic<TopOp>() || Extra::operands.size() == 0,
                "mixq: extra operands cannot follow a variadic TOP operand list");
  static constexpr std::string_view mnemonic = Name;
  static constexpr auto operands = detail::join_operands(TopOp::operands, Extra::operands);
  static constexpr int num_results = TopOp::num_results;
  static constexpr std::uint32_t traits = TopOp::traits & ~trait::quantizable;
  static constexpr std::size_t top_operands = detail::top_is_variadic<TopOp>() ? std::size_t(-1) : TopOp::operands.size();
  using attributes = typename TopOp::attributes;
  using prepared = float_path<TopOp>;

  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    std::vector<tensor_type> t = TopOp::infer(detail::trimmed(c, top_operands), a);
    for (std::size_t i = 0; i < t.size(); ++i)
      if (const tensor_type* d = c.declared(i)) t[i] = tensor_type{d->elem, t[i].shape, d->quant};
    return t;
  }
  static void check_types(std::span<const tensor_type* const> operand_types, std::span<const tensor_type> results) {
    for (std::size_t i = 0; i < operand_types.size(); ++i)
      if (const tensor_type* t = detail::present(operand_types, i); t && is_uniform(*t))
        throw error(std::string(mnemonic) + ": operand " + std::to_string(i) +
                    " is quantized, but mixq runs this op only in float (lower it to F32, F16 or BF16)");
    for (const tensor_type& r : results)
      if (is_uniform(r))
        throw error(std::string(mnemonic) + ": a quantized result is not supported; mixq runs this op only in float");
  }
  static prepared prepare(const prepare_context& p, const attributes& a) {
    check_types(p.operands, p.results);
    return prepared::make(detail::trimmed(p, top_operands), a);
  }
  static void reference(kernel_context& k, const attributes& a) {
    check_types(k.input_types, k.output_types);
    kernel_context t = detail::trimmed(k, top_operands);
    prepared::run_reference(t, a);
  }
  static void compute(kernel_context& k, const attributes& a, const prepared& p) {
    kernel_context t = detail::trimmed(k, top_operands);
    p.run(t, a);
  }
};

/// A TPU data-movement op: TPU-MLIR's operand list `Operands` (the TOP op's first operands,
/// then buffers the kernel never reads), the TOP op's attributes, and its kernel run on the
/// stored values, so int8 moves as int8 and f16 as f16. The result type is the declared one;
/// moving data never changes the element type.
template <class TopOp, top::fixed_string Name, class Operands>
struct move_op {
  static constexpr std::string_view mnemonic = Name;
  static constexpr auto operands = Operands::operands;
  static constexpr int num_results = TopOp::num_results;
  static constexpr std::uint32_t traits = TopOp::traits & ~trait::quantizable;
  static constexpr std::size_t top_operands = detail::top_is_variadic<TopOp>() ? std::size_t(-1) : TopOp::operands.size();
  using attributes = typename TopOp::attributes;

  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const std::vector<tensor_type> shapes = TopOp::infer(detail::trimmed(c, top_operands), a);
    std::vector<tensor_type> declared = declared_results(c, std::string(mnemonic).c_str());
    for (std::size_t i = 0; i < declared.size() && i < shapes.size(); ++i) {
      if (declared[i].shape != shapes[i].shape)
        throw error(std::string(mnemonic) + ": declared result " + to_string(declared[i].shape) + " but the operands give " +
                    to_string(shapes[i].shape));
      if (declared[i].elem != c.operand(0).elem)
        throw error(std::string(mnemonic) + ": moves " + std::string(name(c.operand(0).elem)) + " values but declares a " +
                    std::string(name(declared[i].elem)) + " result (data movement keeps the element type)");
    }
    return declared;
  }
  static void reference(kernel_context& k, const attributes& a) {
    kernel_context t = detail::trimmed(k, top_operands);
    TopOp::reference(t, a);
  }
  static void compute(kernel_context& k, const attributes& a) {
    kernel_context t = detail::trimmed(k, top_operands);
    if constexpr (top::has_compute<TopOp>) TopOp::compute(t, a);
    else TopOp::reference(t, a);
  }
};

}  // namespace mixq::tpu
