#pragma once
// The vocabulary every TOP op struct is written in: operand descriptors, traits,
// attribute field wrappers, and the contexts handed to shape inference and kernels.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mixq/core/attribute.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/core/thread_pool.hpp"

namespace mixq::top {

enum class operand_kind : std::uint8_t { required, optional, variadic };
/// What an operand usually is; `weight` and `bias` operands are `top.Weight` results in imported graphs.
enum class operand_role : std::uint8_t { activation, weight, bias, any };

struct operand_desc {
  std::string_view name;
  operand_kind kind = operand_kind::required;
  operand_role role = operand_role::activation;
};

constexpr operand_desc input(std::string_view n) { return {n, operand_kind::required, operand_role::activation}; }
constexpr operand_desc optional_input(std::string_view n) { return {n, operand_kind::optional, operand_role::any}; }
constexpr operand_desc variadic_input(std::string_view n) { return {n, operand_kind::variadic, operand_role::activation}; }
constexpr operand_desc weight(std::string_view n) { return {n, operand_kind::required, operand_role::weight}; }
constexpr operand_desc optional_weight(std::string_view n) { return {n, operand_kind::optional, operand_role::weight}; }
constexpr operand_desc optional_bias(std::string_view n) { return {n, operand_kind::optional, operand_role::bias}; }

/// Number of results: a fixed count, or `variadic_results` (Split: as many as the graph has).
inline constexpr int variadic_results = -1;

/// Op traits, used by graph passes, calibration and mixed-precision search.
namespace trait {
inline constexpr std::uint32_t none = 0;
inline constexpr std::uint32_t elementwise = 1u << 0;      // out[i] depends on in[i] (after broadcasting)
inline constexpr std::uint32_t shape_only = 1u << 1;       // moves data without changing values
inline constexpr std::uint32_t weight_bearing = 1u << 2;   // has a weight operand (Conv, MatMul...)
inline constexpr std::uint32_t quantizable = 1u << 3;      // has an INT8 lowering on the chips
inline constexpr std::uint32_t source = 1u << 4;           // Input, Weight, None
inline constexpr std::uint32_t activation = 1u << 5;       // unary nonlinearity (Relu, Sigmoid, GELU...)
inline constexpr std::uint32_t reduction = 1u << 6;
inline constexpr std::uint32_t broadcast = 1u << 7;        // binary ops with numpy broadcasting
inline constexpr std::uint32_t integer_ok = 1u << 8;       // runs on integer / bool tensors too
inline constexpr std::uint32_t normalization = 1u << 9;    // LayerNorm, BatchNorm...
inline constexpr std::uint32_t commutative = 1u << 10;
}  // namespace trait

/// An attribute the op cannot do without (ODS attributes with no default).
/// Decoding fails with a clear message when it is missing.
template <class T>
struct required {
  T value{};
  required() = default;
  required(T v) : value(std::move(v)) {}
  operator const T&() const noexcept { return value; }
  const T& operator*() const noexcept { return value; }
  const T* operator->() const noexcept { return &value; }
  friend bool operator==(const required&, const required&) = default;
};

/// A string attribute restricted to a fixed set of spellings (ODS AnyStrAttrOf).
template <std::size_t N>
struct fixed_string {
  char text[N]{};
  constexpr fixed_string(const char (&s)[N]) {
    for (std::size_t i = 0; i < N; ++i) text[i] = s[i];
  }
  constexpr operator std::string_view() const { return {text, N - 1}; }
};

template <fixed_string... Options>
struct one_of {
  std::string value{options[0]};
  one_of() = default;
  one_of(std::string v) : value(std::move(v)) {}
  one_of(const char* v) : value(v) {}
  static constexpr std::array<std::string_view, sizeof...(Options)> options{std::string_view(Options)...};
  static bool allowed(std::string_view s) {
    for (auto o : options)
      if (o == s) return true;
    return false;
  }
  bool operator==(std::string_view s) const { return value == s; }
  // An exact match for literals: without it `mode == "tanh"` is ambiguous between the
  // string_view comparison and one_of's own (via the converting constructor).
  bool operator==(const char* s) const { return value == s; }
  friend bool operator==(const one_of&, const one_of&) = default;
};

/// An integer attribute whose MLIR type is not i64 (ODS SI32Attr prints as `1 : si32`).
template <fixed_string Type>
struct int_of {
  std::int64_t value = 0;
  int_of() = default;
  int_of(std::int64_t v) : value(v) {}
  operator std::int64_t() const noexcept { return value; }
  static constexpr std::string_view type = Type;
  friend bool operator==(const int_of&, const int_of&) = default;
};
using si32 = int_of<"si32">;

/// Attributes carried verbatim (dialect attributes such as `#tpu<round_mode HalfAwayFromZero>`).
using opaque = opaque_attr;

/// A dialect enum attribute, printed `#<Dialect><<Kind> <Value>>` (e.g. `#tpu<rq_mode MultiplierShift>`);
/// the first option is the default.
template <fixed_string Dialect, fixed_string Kind, fixed_string... Options>
struct dialect_enum {
  std::string value{options[0]};
  dialect_enum() = default;
  dialect_enum(std::string v) : value(std::move(v)) {}
  dialect_enum(const char* v) : value(v) {}
  static constexpr std::string_view dialect = Dialect;
  static constexpr std::string_view kind = Kind;
  static constexpr std::array<std::string_view, sizeof...(Options)> options{std::string_view(Options)...};
  static bool allowed(std::string_view s) {
    for (auto o : options)
      if (o == s) return true;
    return false;
  }
  bool operator==(std::string_view s) const { return value == s; }
  bool operator==(const char* s) const { return value == s; }
  friend bool operator==(const dialect_enum&, const dialect_enum&) = default;
};

/// Given to `infer`: operand types (`nullptr` for an absent optional operand), and the
/// value of operands that are constants (weights), for ops whose result shape reads them.
struct infer_context {
  std::span<const tensor_type* const> operands;
  std::span<const tensor* const> constants;  // same length as operands; nullptr if not constant
  std::size_t num_results = 1;                // for variadic-result ops
  /// The result types the graph declares, when known (empty otherwise). Only for ops whose result
  /// shape cannot be derived from operand types and constants: TPU-MLIR drops Reshape's `shape`
  /// attribute after shape inference, and shape-carrying operands (shapeT, tileT...) may be computed.
  std::span<const tensor_type> declared_results{};

  const tensor_type& operand(std::size_t i) const {
    if (i >= operands.size() || !operands[i] || operands[i]->is_none)
      throw error("mixq: operand " + std::to_string(i) + " is missing");
    return *operands[i];
  }
  bool has(std::size_t i) const { return i < operands.size() && operands[i] && !operands[i]->is_none; }
  const tensor* constant(std::size_t i) const { return i < constants.size() ? constants[i] : nullptr; }
  const tensor_type* declared(std::size_t i) const {
    return i < declared_results.size() ? &declared_results[i] : nullptr;
  }
};

/// Given to kernels: input tensors (nullptr for absent optional operands) and result slots.
/// A result slot starts undefined; `out(i)` allocates it from the inferred type, `alias(i, t)`
/// makes it share an existing buffer (shape-only ops).
struct kernel_context {
  std::span<const tensor* const> inputs;
  std::span<tensor> outputs;
  std::span<const tensor_type> output_types;
  thread_pool* pool = nullptr;
  /// The declared operand types (quantized types carry scales), when the caller knows them.
  std::span<const tensor_type* const> input_types{};
  /// The module's attributes (`module.chip`), when the caller has a module.
  const attr_dict* module = nullptr;

  const tensor& in(std::size_t i) const {
    if (i >= inputs.size() || !inputs[i]) throw error("mixq: kernel input " + std::to_string(i) + " is missing");
    return *inputs[i];
  }
  const tensor* optional_in(std::size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  std::size_t num_inputs() const { return inputs.size(); }
  tensor& out(std::size_t i = 0) {
    tensor& t = outputs[i];
    if (!t.defined()) t = tensor::empty(output_types[i].elem, output_types[i].shape);
    return t;
  }
  const tensor_type& out_type(std::size_t i = 0) const { return output_types[i]; }
  const tensor_type* in_type(std::size_t i) const { return i < input_types.size() ? input_types[i] : nullptr; }
  void alias(std::size_t i, const tensor& t) { outputs[i] = t.reshaped(output_types[i].shape); }
  thread_pool& threads() const { return pool ? *pool : thread_pool::global(); }
};

/// Rows (the H axis of NCHW) of a 2-D op computed on their own: output rows [out_begin, out_end)
/// from a copy of just the input rows [in_begin, in_end) of operand 0 that they read, for ops
/// that provide `band_input_rows` / `compute_band`. `input_shape` is operand 0's full shape.
/// The auto-tuner scores a convolution's candidates band by band, so that the quantized input,
/// the output and the reference of a band stay in cache across candidates.
struct row_band {
  std::int64_t out_begin = 0, out_end = 0, in_begin = 0, in_end = 0;
  shape_t input_shape;
};

/// Given to `prepare`: the attribute values plus the operands that are constants, so an op
/// can pack its weights once per model instead of once per run. `results` are the result types
/// the graph declares (quantized types carry the scales a lowered op needs).
struct prepare_context {
  std::span<const tensor_type* const> operands;
  std::span<const tensor* const> constants;
  std::span<const tensor_type> results{};
  /// The module's attributes (`module.chip`...), for ops whose arithmetic depends on the processor.
  const attr_dict* module = nullptr;
  const tensor* constant(std::size_t i) const { return i < constants.size() ? constants[i] : nullptr; }
  const tensor_type* operand_type(std::size_t i) const { return i < operands.size() ? operands[i] : nullptr; }
  const tensor_type* result_type(std::size_t i) const { return i < results.size() ? &results[i] : nullptr; }
};

}  // namespace mixq::top
