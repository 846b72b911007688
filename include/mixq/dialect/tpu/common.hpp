#pragma once
// What every TPU-dialect op struct shares: TPU-MLIR's enum attributes, the quantization of an
// operand or result read from its type, the processor family the module targets, and the float
// path that lets a TPU op lowered to F32/F16/BF16 run the TOP op's kernels.
//
// TPU ops are registered beside the TOP ops (dialect/top/op_list.hpp): one struct per op, as
// there. Their integer arithmetic is docs/lowering_spec.md's, built from quant/requant.hpp.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/dialect/top/op_base.hpp"
#include "mixq/quant/quant_type.hpp"
#include "mixq/quant/requant.hpp"

namespace mixq::tpu {

using top::infer_context;
using top::kernel_context;
using top::operand_desc;
using top::prepare_context;
namespace trait = top::trait;

using rq_mode_attr = top::dialect_enum<"tpu", "rq_mode", "MultiplierShift", "TFLite_LShift", "TFLite", "OnlyShift", "QDM", "OnlyScale">;
using round_mode_attr = top::dialect_enum<"tpu", "round_mode", "HalfAwayFromZero", "HalfUp", "HalfDown", "HalfToEven", "HalfToOdd",
                                          "HalfTowardsZero", "TowardsZero", "Up", "Down">;
using pool_mode_attr = top::dialect_enum<"tpu", "pool_mode", "Avg", "Max">;

/// The quantization of a tensor as its type states it: a `!quant.uniform` integer tensor, or a
/// float tensor (f32/f16/bf16, possibly `!quant.calibrated`).
struct tensor_quant {
  bool integer = false;
  dtype storage = dtype::f32;
  double scale = 1.0;
  std::int64_t zero_point = 0;
  quant::float_type expressed = quant::float_type::f32;
  bool is_signed() const { return storage == dtype::i8 || storage == dtype::i16 || storage == dtype::i32; }
};

inline quant::float_type float_type_of(dtype d) {
  if (d == dtype::f16) return quant::float_type::f16;
  if (d == dtype::bf16) return quant::float_type::bf16;
  return quant::float_type::f32;
}

inline tensor_quant quant_of(const tensor_type& t) {
  tensor_quant q;
  if (auto u = quant::parse_uniform(t.quant)) {
    q.integer = true;
    q.storage = u->storage;
    q.scale = u->scale;
    q.zero_point = u->zero_point;
    q.expressed = float_type_of(u->expressed);
    return q;
  }
  if (is_integer(t.elem)) {  // a plain integer tensor (weights: si8 filters, i32 biases)
    q.integer = true;
    q.storage = t.elem;
    return q;
  }
  q.storage = t.elem;
  q.expressed = float_type_of(t.elem);
  return q;
}

inline tensor_quant operand_quant(const prepare_context& p, std::size_t i, const char* op) {
  const tensor_type* t = p.operand_type(i);
  if (!t) throw error(std::string(op) + ": operand " + std::to_string(i) + " has no type");
  return quant_of(*t);
}
inline tensor_quant result_quant(const prepare_context& p, std::size_t i, const char* op) {
  const tensor_type* t = p.result_type(i);
  if (!t) throw error(std::string(op) + ": the result type is not known (the op needs its declared result type)");
  return quant_of(*t);
}

/// The arithmetic family of the module's processor (`module.chip`); BM168x when unknown.
inline quant::chip_family family_of(const attr_dict* module) {
  if (!module) return quant::chip_family::bm168x;
  const attribute* a = module->find("module.chip");
  const std::string* chip = a ? a->get_if<std::string>() : nullptr;
  if (chip && chip->size() >= 4 && chip->compare(0, 4, "cv18") == 0 && *chip != "cv184x" && *chip != "cv186x") return quant::chip_family::cv18xx;
  return quant::chip_family::bm168x;
}
inline quant::chip_family family_of(const prepare_context& p) { return family_of(p.module); }

/// The same view of a kernel call (for the ops' references, which run without prepare()).
inline prepare_context prepare_view(const kernel_context& k, std::vector<const tensor*>& no_constants) {
  no_constants.assign(k.input_types.size(), nullptr);
  return prepare_context{k.input_types, no_constants, k.output_types, k.module};
}

/// The declared result type: TPU ops cannot infer the quantized type of their result.
inline std::vector<tensor_type> declared_results(const infer_context& c, const char* op) {
  std::vector<tensor_type> out;
  for (std::size_t i = 0; i < c.num_results; ++i) {
    const tensor_type* t = c.declared(i);
    if (!t) throw error(std::string(op) + ": a TPU op's result type must be given (it carries the quantization)");
    out.push_back(*t);
  }
  return out;
}

/// Element i of an integer tensor as int64.
inline std::int64_t int_at(const tensor& t, std::int64_t i) {
  switch (t.elem()) {
    case dtype::i8: return t.data<std::int8_t>()[i];
    case dtype::u8: return t.data<std::uint8_t>()[i];
    case dtype::i16: return t.data<std::int16_t>()[i];
    case dtype::u16: return t.data<std::uint16_t>()[i];
    case dtype::i32: return t.data<std::int32_t>()[i];
    case dtype::u32: return t.data<std::uint32_t>()[i];
    case dtype::i64: return t.data<std::int64_t>()[i];
    default: throw error("tpu: expected an integer tensor, got " + std::string(name(t.elem())));
  }
}

/// Stores v, saturated to the tensor's integer type.
inline void store_int(tensor& t, std::int64_t i, std::int64_t v) {
  switch (t.elem()) {
    case dtype::i8: t.data<std::int8_t>()[i] = quant::saturate<std::int8_t>(v); return;
    case dtype::u8: t.data<std::uint8_t>()[i] = quant::saturate<std::uint8_t>(v); return;
    case dtype::i16: t.data<std::int16_t>()[i] = quant::saturate<std::int16_t>(v); return;
    case dtype::u16: t.data<std::uint16_t>()[i] = quant::saturate<std::uint16_t>(v); return;
    case dtype::i32: t.data<std::int32_t>()[i] = quant::saturate<std::int32_t>(v); return;
    default: throw error("tpu: cannot store into a " + std::string(name(t.elem())) + " tensor");
  }
}

/// A float tensor as f32 (f16/bf16 converted; f32 shared).
inline tensor as_f32(const tensor& t) { return t.elem() == dtype::f32 ? t : t.cast(dtype::f32); }

/// The result of a float op in its declared float type: f32 kept, f16/bf16 rounded (nearest even).
inline tensor to_declared(const tensor& f32, const tensor_type& declared) {
  if (declared.elem == dtype::f32) return f32;
  if (!is_floating(declared.elem)) throw error("tpu: a float op cannot produce " + std::string(name(declared.elem)));
  return f32.cast(declared.elem);
}

}  // namespace mixq::tpu
