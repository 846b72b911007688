#pragma once
// Runs one TPU op as the interpreter does - declared operand and result types (quantized types
// carry the scales), the module's chip and asymmetric flag, weights as constants - through its
// registry entry: infer, then either the scalar reference or prepare + the fast kernel.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "mixq/dialect/top/op_list.hpp"
#include "mixq/quant/quant_type.hpp"

namespace tpu_test {

using namespace mixq;

inline std::string uniform(dtype storage, double scale, std::int64_t zp = 0) {
  return quant::format(quant::uniform_type{storage, dtype::f32, scale, zp});
}
inline tensor_type qtype(dtype storage, shape_t shape, double scale, std::int64_t zp = 0) {
  return tensor_type{storage, std::move(shape), uniform(storage, scale, zp)};
}

template <class Op>
attr_dict encode(const typename Op::attributes& a) {
  attr_dict d;
  top::encode_attributes(a, d);
  return d;
}

/// One call of an op.
struct op_call {
  std::string mnemonic;
  std::vector<tensor> inputs;        // undefined: a `none` operand
  std::vector<tensor_type> types;    // declared operand types
  std::vector<bool> constant;        // weights (known to prepare)
  std::vector<tensor_type> results;  // declared result types
  attr_dict attrs;
  attr_dict module;

  explicit op_call(std::string m, std::string chip = "bm1684x", bool asymmetric = false) : mnemonic(std::move(m)) {
    module.set("module.chip", attribute(std::move(chip)));
    module.set("module.asymmetric", attribute(asymmetric));
  }
  op_call& in(tensor t, tensor_type type, bool is_constant = false) {
    inputs.push_back(std::move(t));
    types.push_back(std::move(type));
    constant.push_back(is_constant);
    return *this;
  }
  /// An operand typed as its tensor (weights, float activations).
  op_call& in(tensor t, bool is_constant = false) {
    tensor_type ty = t.type();
    return in(std::move(t), std::move(ty), is_constant);
  }
  op_call& none() {
    inputs.emplace_back();
    types.push_back(tensor_type::none());
    constant.push_back(false);
    return *this;
  }
  op_call& out(tensor_type t) {
    results.push_back(std::move(t));
    return *this;
  }
  template <class Op>
  op_call& with(const typename Op::attributes& a) {
    attrs = encode<Op>(a);
    return *this;
  }
};

/// Runs the op; `reference` selects the scalar definition, otherwise prepare + compute.
inline std::vector<tensor> run(const op_call& c, bool reference) {
  const top::op_info& info = top::ops().at(c.mnemonic);
  const top::attr_ptr decoded = info.decode(c.attrs);
  std::vector<const tensor_type*> type_ptrs;
  std::vector<const tensor*> ins, consts;
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    type_ptrs.push_back(&c.types[i]);
    ins.push_back(c.inputs[i].defined() ? &c.inputs[i] : nullptr);
    consts.push_back(c.constant[i] && c.inputs[i].defined() ? &c.inputs[i] : nullptr);
  }
  const std::vector<tensor_type> inferred = info.infer(top::infer_context{type_ptrs, consts, c.results.size(), c.results}, decoded.get());
  REQUIRE(inferred.size() == c.results.size());
  for (std::size_t i = 0; i < inferred.size(); ++i) REQUIRE(inferred[i].shape == c.results[i].shape);
  std::vector<tensor> outs(c.results.size());
  top::kernel_context k{ins, outs, c.results, nullptr, type_ptrs, &c.module};
  if (reference) {
    info.reference(k, decoded.get());
  } else {
    top::prepared_ptr prepared;
    if (info.prepare) prepared = info.prepare(top::prepare_context{type_ptrs, consts, c.results, &c.module}, decoded.get());
    info.compute(k, decoded.get(), prepared.get());
  }
  for (std::size_t i = 0; i < outs.size(); ++i) {
    REQUIRE(outs[i].defined());
    REQUIRE(outs[i].elem() == c.results[i].elem);
    REQUIRE(outs[i].shape() == c.results[i].shape);
  }
  return outs;
}

inline bool same_bytes(const tensor& a, const tensor& b) {
  return a.elem() == b.elem() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

/// Float tensors within a relative and absolute tolerance (as f32 values).
inline bool close(const tensor& a, const tensor& b, double tol = 1e-5) {
  if (a.shape() != b.shape()) return false;
  const tensor fa = a.cast(dtype::f32), fb = b.cast(dtype::f32);
  for (std::int64_t i = 0; i < fa.numel(); ++i) {
    const double x = fa.data<float>()[i], y = fb.data<float>()[i];
    if (std::abs(x - y) > tol * (1 + std::abs(y))) return false;
  }
  return true;
}

/// Runs the fast kernel and the reference and requires them to agree: bit for bit for integer
/// results; within float rounding for float results (the TOP fast kernels sum in another order
/// than their scalar references). Returns the fast result 0.
inline tensor run_both(const op_call& c) {
  const std::vector<tensor> fast = run(c, false);
  const std::vector<tensor> ref = run(c, true);
  REQUIRE(fast.size() == ref.size());
  for (std::size_t i = 0; i < fast.size(); ++i) {
    if (is_floating(fast[i].elem())) REQUIRE(close(fast[i], ref[i], fast[i].elem() == dtype::f32 ? 1e-5 : 1e-2));
    else REQUIRE(same_bytes(fast[i], ref[i]));
  }
  return fast[0];
}

/// The values of an integer tensor.
inline std::vector<std::int64_t> ints(const tensor& t) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < t.numel(); ++i) v.push_back(static_cast<std::int64_t>(element_as_double(t, i)));
  return v;
}

inline tensor i8(shape_t s, std::vector<std::int8_t> v) { return tensor::from_vector<std::int8_t>(std::move(s), v); }
inline tensor u8(shape_t s, std::vector<std::uint8_t> v) { return tensor::from_vector<std::uint8_t>(std::move(s), v); }
inline tensor i32(shape_t s, std::vector<std::int32_t> v) { return tensor::from_vector<std::int32_t>(std::move(s), v); }

/// A random integer tensor of dtype d (values over the whole range of the type, or [lo, hi]).
inline tensor random_ints(std::mt19937& rng, dtype d, shape_t s, std::int64_t lo, std::int64_t hi) {
  tensor t = tensor::empty(d, std::move(s));
  std::uniform_int_distribution<std::int64_t> dist(lo, hi);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const std::int64_t v = dist(rng);
    switch (d) {
      case dtype::i8: t.data<std::int8_t>()[i] = static_cast<std::int8_t>(v); break;
      case dtype::u8: t.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(v); break;
      case dtype::i16: t.data<std::int16_t>()[i] = static_cast<std::int16_t>(v); break;
      case dtype::i32: t.data<std::int32_t>()[i] = static_cast<std::int32_t>(v); break;
      default: FAIL("random_ints: unsupported dtype");
    }
  }
  return t;
}
inline tensor random_bytes(std::mt19937& rng, dtype d, shape_t s) {
  return d == dtype::i8 ? random_ints(rng, d, std::move(s), -128, 127) : random_ints(rng, d, std::move(s), 0, 255);
}
inline tensor random_floats(std::mt19937& rng, shape_t s, float lo = -2.f, float hi = 2.f) {
  tensor t = tensor::empty(dtype::f32, std::move(s));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

}  // namespace tpu_test
