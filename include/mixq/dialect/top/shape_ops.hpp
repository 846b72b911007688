#pragma once
// Reshape, Permute, Slice, Split, Concat, Squeeze, Unsqueeze, Flatten, Pad, Tile, Expand, Gather, Depth2Space, Shape and other data-movement ops.
//
// Every op here works on every dtype: values move as elements of size_of(dtype) bytes (or pass
// through visit_dtype where a value is produced). Reshape-like ops alias their input buffer.
// Attribute names, types and defaults follow TPU-MLIR's TopOps.td; shape rules follow its
// shape_inference where they differ from ONNX (noted at each op).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"
#include "mixq/kernels/reference/strided_copy.hpp"

namespace mixq::top {

// Helpers live in their own namespace: every family header shares mixq::top::detail.
namespace detail::movement {}
namespace mv = detail::movement;

namespace detail::movement {

inline constexpr std::uint32_t traits = trait::shape_only | trait::integer_ok;

[[noreturn]] inline void op_fail(std::string_view op, const std::string& message) {
  throw error(std::string(op) + ": " + message);
}

/// normalize_axis with the op's name in the message.
inline std::int64_t axis_of(std::string_view op, std::int64_t axis, std::size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= r)
    op_fail(op, "axis " + std::to_string(axis) + " is out of range for a rank-" + std::to_string(rank) + " input");
  return axis < 0 ? axis + r : axis;
}

inline tensor_type like(const tensor_type& t, shape_t shape) { return tensor_type{t.elem, std::move(shape)}; }

/// A constant operand's values as int64, or nothing when the operand is absent or computed.
inline std::optional<std::vector<std::int64_t>> constant_ints(const infer_context& c, std::size_t i) {
  if (!c.has(i)) return std::nullopt;
  if (const tensor* t = c.constant(i)) return to_int64_vector(*t);
  return std::nullopt;
}

/// The result type the graph declares, for shapes that hang on computed operands.
inline tensor_type declared_or_fail(const infer_context& c, std::string_view op, std::size_t result,
                                    const std::string& why) {
  if (const tensor_type* t = c.declared(result)) return *t;
  op_fail(op, why + ", so the result shape is unknown");
}

/// Row-major strides of a shape (elements).
inline shape_t dense_strides(const shape_t& s) { return strides_of(s); }

/// Flat index of a multi-index under the given strides.
inline std::int64_t flat_index(const shape_t& idx, const shape_t& strides) {
  std::int64_t f = 0;
  for (std::size_t d = 0; d < idx.size(); ++d) f += idx[d] * strides[d];
  return f;
}

/// Applies Concat's fused relu to any dtype (values below zero become zero, then the limit).
inline void relu_in_place(tensor& t, double limit) {
  visit_dtype(t.elem(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>) {
      T* p = reinterpret_cast<T*>(t.raw());
      for (std::int64_t i = 0; i < t.numel(); ++i) {
        double v = to_double(p[i]);
        if (v < 0) v = 0;
        if (limit > 0 && v > limit) v = limit;
        p[i] = from_double<T>(v);
      }
    }
  });
}

/// Writes doubles into a tensor of any dtype.
inline void fill_from_doubles(tensor& t, const std::vector<double>& values) {
  visit_dtype(t.elem(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = reinterpret_cast<T*>(t.raw());
    for (std::size_t i = 0; i < values.size(); ++i) p[i] = from_double<T>(values[i]);
  });
}

/// Index values of any dtype (float-typed indices come from frontends that make everything f32).
inline std::vector<std::int64_t> index_values(const tensor& t) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(t.numel()));
  if (t.elem() == dtype::i64) {
    if (!v.empty()) std::memcpy(v.data(), t.raw(), t.nbytes());
    return v;
  }
  visit_dtype(t.elem(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = reinterpret_cast<const T*>(t.raw());
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double d = to_double(p[i]);
      if (!std::isfinite(d)) throw error("index value " + std::to_string(d) + " is not a finite number");
      v[i] = static_cast<std::int64_t>(std::llround(d));
    }
  });
  return v;
}

/// ONNX index rule: negative indices count from the end; anything else out of [0, n) is an error.
inline std::int64_t wrap_index(std::string_view op, std::int64_t index, std::int64_t n, std::int64_t axis) {
  const std::int64_t i = index < 0 ? index + n : index;
  if (i < 0 || i >= n)
    op_fail(op, "index " + std::to_string(index) + " is out of range for axis " + std::to_string(axis) + " of size " +
                    std::to_string(n));
  return i;
}

/// TPU-MLIR's Reshape rule: 0 copies the input dimension at the same position, -1 takes the rest.
inline shape_t resolve_reshape(std::string_view op, const shape_t& in, const std::vector<std::int64_t>& spec) {
  shape_t out;
  std::int64_t known = 1;
  std::size_t infer_at = spec.size();
  for (std::size_t i = 0; i < spec.size(); ++i) {
    const std::int64_t s = spec[i];
    if (s > 0) {
      out.push_back(s);
      known *= s;
    } else if (s == 0) {
      if (i >= in.size())
        op_fail(op, "shape entry " + std::to_string(i) + " is 0 (copy the input dimension) but the input " +
                        to_string(in) + " has rank " + std::to_string(in.size()));
      out.push_back(in[i]);
      known *= in[i];
    } else if (s == -1) {
      if (infer_at != spec.size()) op_fail(op, "the shape has more than one -1 entry");
      infer_at = i;
      out.push_back(-1);
    } else {
      op_fail(op, "shape entry " + std::to_string(s) + " is invalid (only -1, 0 and positive sizes are allowed)");
    }
  }
  const std::int64_t n = numel(in);
  if (infer_at != spec.size()) {
    if (known == 0 || n % known != 0)
      op_fail(op, "cannot reshape " + to_string(in) + " (" + std::to_string(n) + " elements) to a shape with -1 and " +
                      std::to_string(known) + " known elements");
    out[infer_at] = n / known;
  }
  if (numel(out) != n)
    op_fail(op, "cannot reshape " + to_string(in) + " (" + std::to_string(n) + " elements) to " + to_string(out) + " (" +
                    std::to_string(numel(out)) + " elements)");
  return out;
}

/// A declared result type usable by a reshape-like op: same element count as the input.
inline tensor_type declared_reshape(const infer_context& c, std::string_view op, const std::string& why) {
  tensor_type t = declared_or_fail(c, op, 0, why);
  if (t.numel() != c.operand(0).numel())
    op_fail(op, "the result type " + to_string(t.shape) + " does not have the " + std::to_string(c.operand(0).numel()) +
                    " elements of the input " + to_string(c.operand(0).shape));
  return like(c.operand(0), t.shape);
}

/// Checks that `order` is a permutation of [0, rank).
inline void check_permutation(std::string_view op, const std::vector<std::int64_t>& order, std::size_t rank) {
  if (order.size() != rank)
    op_fail(op, "order has " + std::to_string(order.size()) + " entries for a rank-" + std::to_string(rank) + " input");
  std::vector<char> seen(rank, 0);
  for (auto o : order) {
    if (o < 0 || o >= static_cast<std::int64_t>(rank) || seen[static_cast<std::size_t>(o)])
      op_fail(op, "order is not a permutation of 0.." + std::to_string(rank - 1));
    seen[static_cast<std::size_t>(o)] = 1;
  }
}

inline shape_t permuted_shape(const shape_t& in, const std::vector<std::int64_t>& order) {
  shape_t out(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) out[i] = in[static_cast<std::size_t>(order[i])];
  return out;
}

/// Permute through the copy engine: destination dim i reads source dim order[i].
inline void permute_into(const tensor& in, const std::vector<std::int64_t>& order, tensor& out, thread_pool& pool) {
  const shape_t st = dense_strides(in.shape());
  shape_t src(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) src[i] = st[static_cast<std::size_t>(order[i])];
  mixq::detail::gather_strided(in, 0, src, out, pool);
}

inline void permute_reference(const tensor& in, const std::vector<std::int64_t>& order, tensor& out) {
  const shape_t st = dense_strides(in.shape());
  mixq::detail::reference_gather(in, out, [&](const shape_t& idx) {
    std::int64_t f = 0;
    for (std::size_t i = 0; i < order.size(); ++i) f += idx[i] * st[static_cast<std::size_t>(order[i])];
    return f;
  });
}

}  // namespace detail::movement

// ---------------------------------------------------------------------------------------------
// Reshape family: the result shares the input buffer.

/// `top.Reshape`: new shape from the `shape` attribute (0 keeps, -1 infers), else a constant
/// `shapeT`, else `flatten_start_dim`, else the declared result type (TPU-MLIR drops `shape`
/// after its shape inference, so imported files usually carry only the result type).
struct reshape_op {
  static constexpr std::string_view mnemonic = "top.Reshape";
  static constexpr std::array operands{top::input("input"), optional_input("shapeT")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    std::optional<std::vector<std::int64_t>> shape;
    std::int64_t flatten_start_dim = -1;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    if (a.shape) return {mv::like(in, mv::resolve_reshape(mnemonic, in.shape, *a.shape))};
    if (auto s = mv::constant_ints(c, 1)) return {mv::like(in, mv::resolve_reshape(mnemonic, in.shape, *s))};
    if (a.flatten_start_dim >= 0) {
      const auto start = static_cast<std::size_t>(mv::axis_of(mnemonic, a.flatten_start_dim, in.shape.size()));
      shape_t out(in.shape.begin(), in.shape.begin() + static_cast<std::ptrdiff_t>(start));
      std::int64_t rest = 1;
      for (std::size_t d = start; d < in.shape.size(); ++d) rest *= in.shape[d];
      out.push_back(rest);
      return {mv::like(in, out)};
    }
    return {mv::declared_reshape(c, mnemonic, "no shape attribute and shapeT is not a constant")};
  }
  static void reference(kernel_context& k, const attributes&) { k.alias(0, k.in(0)); }
};

/// `top.View` (torch aten::view): like Reshape with the shape as an operand.
struct view_op {
  static constexpr std::string_view mnemonic = "top.View";
  static constexpr std::array operands{top::input("input"), top::input("shape")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    const tensor_type& in = c.operand(0);
    if (auto s = mv::constant_ints(c, 1)) return {mv::like(in, mv::resolve_reshape(mnemonic, in.shape, *s))};
    return {mv::declared_reshape(c, mnemonic, "the shape operand is not a constant")};
  }
  static void reference(kernel_context& k, const attributes&) { k.alias(0, k.in(0)); }
};

/// `top.Flatten`: merges dimensions start_dim..end_dim into one.
struct flatten_op {
  static constexpr std::string_view mnemonic = "top.Flatten";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    std::int64_t start_dim = 0;
    std::int64_t end_dim = -1;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    if (in.shape.empty()) return {mv::like(in, {1})};
    const auto s = static_cast<std::size_t>(mv::axis_of(mnemonic, a.start_dim, in.shape.size()));
    const auto e = static_cast<std::size_t>(mv::axis_of(mnemonic, a.end_dim, in.shape.size()));
    if (e < s)
      mv::op_fail(mnemonic, "end_dim " + std::to_string(a.end_dim) + " comes before start_dim " +
                                    std::to_string(a.start_dim));
    shape_t out(in.shape.begin(), in.shape.begin() + static_cast<std::ptrdiff_t>(s));
    std::int64_t merged = 1;
    for (std::size_t d = s; d <= e; ++d) merged *= in.shape[d];
    out.push_back(merged);
    out.insert(out.end(), in.shape.begin() + static_cast<std::ptrdiff_t>(e) + 1, in.shape.end());
    return {mv::like(in, out)};
  }
  static void reference(kernel_context& k, const attributes&) { k.alias(0, k.in(0)); }
};

/// `top.Squeeze`: removes the listed size-1 axes (all size-1 axes when `axes` is empty). As in
/// TPU-MLIR, a listed axis whose size is not 1 is kept, and a fully squeezed tensor has shape [1].
struct squeeze_op {
  static constexpr std::string_view mnemonic = "top.Squeeze";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    required<std::vector<std::int64_t>> axes;
    bool is_scalar = false;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    std::vector<char> listed(in.shape.size(), 0);
    for (auto ax : *a.axes) listed[static_cast<std::size_t>(mv::axis_of(mnemonic, ax, in.shape.size()))] = 1;
    shape_t out;
    for (std::size_t d = 0; d < in.shape.size(); ++d) {
      const bool drop = in.shape[d] == 1 && (a.axes->empty() || listed[d]);
      if (!drop) out.push_back(in.shape[d]);
    }
    if (out.empty()) out.push_back(1);
    return {mv::like(in, out)};
  }
  static void reference(kernel_context& k, const attributes&) { k.alias(0, k.in(0)); }
};

/// `top.Unsqueeze`: inserts size-1 axes; negative axes count from the end of the result.
struct unsqueeze_op {
  static constexpr std::string_view mnemonic = "top.Unsqueeze";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    required<std::vector<std::int64_t>> axes;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    const std::size_t out_rank = in.shape.size() + a.axes->size();
    std::vector<std::int64_t> axes;
    for (auto ax : *a.axes) axes.push_back(mv::axis_of(mnemonic, ax, out_rank));
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) mv::op_fail(mnemonic, "axes repeat an axis");
    shape_t out = in.shape;
    for (auto ax : axes) out.insert(out.begin() + ax, 1);
    return {mv::like(in, out)};
  }
  static void reference(kernel_context& k, const attributes&) { k.alias(0, k.in(0)); }
};

// ---------------------------------------------------------------------------------------------
// Permutations.

/// `top.Permute`: result dim i is input dim order[i]; any rank.
struct permute_op {
  static constexpr std::string_view mnemonic = "top.Permute";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    required<std::vector<std::int64_t>> order;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    mv::check_permutation(mnemonic, *a.order, in.shape.size());
    return {mv::like(in, mv::permuted_shape(in.shape, *a.order))};
  }
  static void reference(kernel_context& k, const attributes& a) { mv::permute_reference(k.in(0), *a.order, k.out()); }
  static void compute(kernel_context& k, const attributes& a) {
    mv::permute_into(k.in(0), *a.order, k.out(), k.threads());
  }
};

/// `top.Transpose`: swaps dim0 and dim1.
struct transpose_op {
  static constexpr std::string_view mnemonic = "top.Transpose";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    required<si32> dim0;
    required<si32> dim1;
  };
  static std::vector<std::int64_t> order(const attributes& a, std::size_t rank) {
    std::vector<std::int64_t> o(rank);
    std::iota(o.begin(), o.end(), 0);
    std::swap(o[static_cast<std::size_t>(mv::axis_of(mnemonic, a.dim0->value, rank))],
              o[static_cast<std::size_t>(mv::axis_of(mnemonic, a.dim1->value, rank))]);
    return o;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    return {mv::like(in, mv::permuted_shape(in.shape, order(a, in.shape.size())))};
  }
  static void reference(kernel_context& k, const attributes& a) {
    mv::permute_reference(k.in(0), order(a, k.in(0).rank()), k.out());
  }
  static void compute(kernel_context& k, const attributes& a) {
    mv::permute_into(k.in(0), order(a, k.in(0).rank()), k.out(), k.threads());
  }
};

/// `top.ShuffleChannel`: channels viewed as [group, C/group] are transposed to [C/group, group].
struct shuffle_channel_op {
  static constexpr std::string_view mnemonic = "top.ShuffleChannel";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    required<std::int64_t> group;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    if (in.shape.size() < 2) mv::op_fail(mnemonic, "the input needs a channel axis (rank >= 2)");
    if (*a.group <= 0 || in.shape[1] % *a.group != 0)
      mv::op_fail(mnemonic, "group " + std::to_string(*a.group) + " does not divide " + std::to_string(in.shape[1]) +
                                    " channels");
    return {mv::like(in, in.shape)};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    const std::int64_t g = *a.group, per = in.dim(1) / g;
    const shape_t st = mv::dense_strides(in.shape());
    mixq::detail::reference_gather(in, k.out(), [&](const shape_t& idx) {
      shape_t src = idx;
      src[1] = (idx[1] % g) * per + idx[1] / g;
      return mv::flat_index(src, st);
    });
  }
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    const std::int64_t n = in.dim(0), c = in.dim(1), g = *a.group, rest = in.numel() / std::max<std::int64_t>(1, n * c);
    // [n, g, c/g, rest] read as [n, c/g, g, rest]
    const shape_t view{n, c / g, g, rest};
    const shape_t src{c * rest, rest, (c / g) * rest, 1};
    mixq::detail::gather_strided(k.out().raw(), in.raw(), view, src, size_of(in.elem()), k.threads());
  }
};

/// `top.SwapChannel`: output channel i is input channel channel_order[i] (RGB <-> BGR).
struct swap_channel_op {
  static constexpr std::string_view mnemonic = "top.SwapChannel";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    required<std::vector<std::int64_t>> channel_order;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    if (in.shape.size() < 2) mv::op_fail(mnemonic, "the input needs a channel axis (rank >= 2)");
    if (static_cast<std::int64_t>(a.channel_order->size()) != in.shape[1])
      mv::op_fail(mnemonic, "channel_order has " + std::to_string(a.channel_order->size()) + " entries for " +
                                    std::to_string(in.shape[1]) + " channels");
    for (auto o : *a.channel_order)
      if (o < 0 || o >= in.shape[1]) mv::op_fail(mnemonic, "channel " + std::to_string(o) + " does not exist");
    return {mv::like(in, in.shape)};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    const shape_t st = mv::dense_strides(in.shape());
    mixq::detail::reference_gather(in, k.out(), [&](const shape_t& idx) {
      shape_t src = idx;
      src[1] = (*a.channel_order)[static_cast<std::size_t>(idx[1])];
      return mv::flat_index(src, st);
    });
  }
};

/// `top.Reverse`: reverses the order of elements along `axis`.
struct reverse_op {
  static constexpr std::string_view mnemonic = "top.Reverse";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    required<std::int64_t> axis;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    mv::axis_of(mnemonic, *a.axis, in.shape.size());
    return {mv::like(in, in.shape)};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, *a.axis, in.rank()));
    const shape_t st = mv::dense_strides(in.shape());
    mixq::detail::reference_gather(in, k.out(), [&](const shape_t& idx) {
      shape_t src = idx;
      src[ax] = in.dim(ax) - 1 - idx[ax];
      return mv::flat_index(src, st);
    });
  }
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, *a.axis, in.rank()));
    shape_t st = mv::dense_strides(in.shape());
    const std::int64_t base = (in.dim(ax) - 1) * st[ax];
    st[ax] = -st[ax];
    mixq::detail::gather_strided(in, base, st, k.out(), k.threads());
  }
};

// ---------------------------------------------------------------------------------------------
// Slicing.

namespace detail::movement {

struct slice_plan {
  shape_t offset, step, out;
};

/// Start/step/size per dimension, with TPU-MLIR's clamping: negative offsets and ends count from
/// the end; positive steps clamp to [0, n], negative steps to [0, n-1] / [-1, n-1].
inline slice_plan plan_slice(std::string_view op, const shape_t& in, shape_t offset, shape_t ends, shape_t steps) {
  slice_plan p;
  const std::size_t r = in.size();
  p.offset.resize(r);
  p.step.resize(r);
  p.out.resize(r);
  for (std::size_t d = 0; d < r; ++d) {
    const std::int64_t n = in[d];
    std::int64_t o = offset[d], e = ends[d];
    const std::int64_t s = steps[d];
    if (s == 0) op_fail(op, "step 0 on axis " + std::to_string(d));
    if (o < 0) o += n;
    if (e < 0) e += n;
    if (s > 0) {
      o = std::clamp<std::int64_t>(o, 0, n);
      e = std::clamp<std::int64_t>(e, 0, n);
      p.out[d] = e > o ? (e - o + s - 1) / s : 0;
    } else {
      o = std::clamp<std::int64_t>(o, 0, std::max<std::int64_t>(n - 1, 0));
      e = std::clamp<std::int64_t>(e, -1, n - 1);
      p.out[d] = o > e ? (o - e + (-s) - 1) / (-s) : 0;
    }
    p.offset[d] = o;
    p.step[d] = s;
  }
  return p;
}

/// Runs a slice plan into k.out(); `result_shape` is the plan's shape with dropped axes removed
/// (StridedSlice's shrink_axis_mask), equal to p.out otherwise.
inline void run_slice(kernel_context& k, const slice_plan& p, const shape_t& result_shape, std::string_view op,
                      bool reference) {
  const tensor& in = k.in(0);
  if (result_shape != k.out_type().shape)
    op_fail(op, "the slice gives " + to_string(result_shape) + " but the result type is " + to_string(k.out_type().shape));
  tensor out = k.out().reshaped(p.out);  // shares the result buffer
  const shape_t st = dense_strides(in.shape());
  if (reference) {
    mixq::detail::reference_gather(in, out, [&](const shape_t& idx) {
      std::int64_t f = 0;
      for (std::size_t d = 0; d < idx.size(); ++d) f += (p.offset[d] + idx[d] * p.step[d]) * st[d];
      return f;
    });
    return;
  }
  shape_t src(st.size());
  std::int64_t base = 0;
  for (std::size_t d = 0; d < st.size(); ++d) {
    src[d] = st[d] * p.step[d];
    base += p.offset[d] * st[d];
  }
  mixq::detail::gather_strided(in, out.numel() ? base : 0, src, out, k.threads());
}

}  // namespace detail::movement

/// `top.Slice`: per-axis [offset, ends) with steps. With `axes`, the three arrays list only those
/// axes; otherwise they run over the leading axes. Present offsetT/endsT/stepsT operands replace
/// the attribute values on the sliced axes (`axes`, else `hasparamConvert_axes`, else 0, 1, ...).
struct slice_op {
  static constexpr std::string_view mnemonic = "top.Slice";
  static constexpr std::array operands{top::input("input"), optional_input("offsetT"), optional_input("endsT"),
                                       optional_input("stepsT")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    required<std::vector<std::int64_t>> offset;
    required<std::vector<std::int64_t>> steps;
    required<std::vector<std::int64_t>> ends;
    std::vector<std::int64_t> axes{};
    std::vector<std::int64_t> hasparamConvert_axes{};
  };
  using maybe_ints = std::optional<std::vector<std::int64_t>>;
  static mv::slice_plan plan(const shape_t& in, const attributes& a, const maybe_ints& offset_t,
                                 const maybe_ints& ends_t, const maybe_ints& steps_t) {
    const std::size_t r = in.size();
    shape_t offset(r, 0), ends = in, steps(r, 1);
    if (!a.axes.empty()) {
      if (a.offset->size() != a.axes.size() || a.ends->size() != a.axes.size() || a.steps->size() != a.axes.size())
        mv::op_fail(mnemonic, "offset, ends and steps must have one entry per axis in axes");
      for (std::size_t i = 0; i < a.axes.size(); ++i) {
        const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axes[i], r));
        offset[ax] = (*a.offset)[i];
        ends[ax] = (*a.ends)[i];
        steps[ax] = (*a.steps)[i];
      }
    } else {
      if (a.offset->size() > r || a.ends->size() > r || a.steps->size() > r)
        mv::op_fail(mnemonic, "offset, ends and steps have more entries than the input's rank " + std::to_string(r));
      for (std::size_t i = 0; i < a.offset->size(); ++i) offset[i] = (*a.offset)[i];
      for (std::size_t i = 0; i < a.ends->size(); ++i) ends[i] = (*a.ends)[i];
      for (std::size_t i = 0; i < a.steps->size(); ++i) steps[i] = (*a.steps)[i];
    }
    const std::vector<std::int64_t>& sliced = !a.axes.empty() ? a.axes : a.hasparamConvert_axes;
    auto apply = [&](const maybe_ints& values, shape_t& target, const char* what) {
      if (!values) return;
      for (std::size_t j = 0; j < values->size(); ++j) {
        const std::int64_t ax = j < sliced.size() ? sliced[j] : static_cast<std::int64_t>(j);
        if (sliced.empty() ? j >= r : j >= sliced.size())
          mv::op_fail(mnemonic, std::string(what) + " has more values than sliced axes");
        target[static_cast<std::size_t>(mv::axis_of(mnemonic, ax, r))] = (*values)[j];
      }
    };
    apply(offset_t, offset, "offsetT");
    apply(ends_t, ends, "endsT");
    apply(steps_t, steps, "stepsT");
    return mv::plan_slice(mnemonic, in, offset, ends, steps);
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    for (std::size_t i = 1; i <= 3; ++i)
      if (c.has(i) && !c.constant(i))
        return {mv::like(in, mv::declared_or_fail(c, mnemonic, 0, "a slice bound comes from a computed operand").shape)};
    return {mv::like(in, plan(in.shape, a, mv::constant_ints(c, 1), mv::constant_ints(c, 2),
                                  mv::constant_ints(c, 3))
                                 .out)};
  }
  static mv::slice_plan runtime_plan(const kernel_context& k, const attributes& a) {
    auto ints = [&](std::size_t i) -> maybe_ints {
      if (const tensor* t = k.optional_in(i)) return mv::index_values(*t);
      return std::nullopt;
    };
    return plan(k.in(0).shape(), a, ints(1), ints(2), ints(3));
  }
  static void run(kernel_context& k, const attributes& a, bool reference) {
    const mv::slice_plan p = runtime_plan(k, a);
    mv::run_slice(k, p, p.out, mnemonic, reference);
  }
  static void reference(kernel_context& k, const attributes& a) { run(k, a, true); }
  static void compute(kernel_context& k, const attributes& a) { run(k, a, false); }
};

/// `top.SliceAxis`: one-axis slice with axis/start/step/end given as (scalar) tensors.
struct slice_axis_op {
  static constexpr std::string_view mnemonic = "top.SliceAxis";
  static constexpr std::array operands{top::input("input"), top::input("axis"), top::input("start"),
                                       optional_input("step"), top::input("end")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {};
  static mv::slice_plan plan(const shape_t& in, std::int64_t axis, std::int64_t start, std::int64_t step,
                                 std::int64_t end) {
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, axis, in.size()));
    shape_t offset(in.size(), 0), ends = in, steps(in.size(), 1);
    offset[ax] = start;
    ends[ax] = end;
    steps[ax] = step;
    return mv::plan_slice(mnemonic, in, offset, ends, steps);
  }
  static std::int64_t scalar(const std::vector<std::int64_t>& v, const char* what) {
    if (v.size() != 1) mv::op_fail(mnemonic, std::string(what) + " must hold one value, it has " + std::to_string(v.size()));
    return v[0];
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    const tensor_type& in = c.operand(0);
    auto axis = mv::constant_ints(c, 1), start = mv::constant_ints(c, 2), end = mv::constant_ints(c, 4);
    auto step = mv::constant_ints(c, 3);
    if (!axis || !start || !end || (c.has(3) && !step))
      return {mv::like(in, mv::declared_or_fail(c, mnemonic, 0, "a slice bound comes from a computed operand").shape)};
    return {mv::like(in, plan(in.shape, scalar(*axis, "axis"), scalar(*start, "start"),
                                  step ? scalar(*step, "step") : 1, scalar(*end, "end"))
                                 .out)};
  }
  static void reference(kernel_context& k, const attributes&) {
    auto v = [&](std::size_t i, const char* what) { return scalar(mv::index_values(k.in(i)), what); };
    const std::int64_t step = k.optional_in(3) ? v(3, "step") : 1;
    const mv::slice_plan p = plan(k.in(0).shape(), v(1, "axis"), v(2, "start"), step, v(4, "end"));
    mv::run_slice(k, p, p.out, mnemonic, true);
  }
};

/// `top.StridedSlice` (TFLite): begin/end/stride tensors with bit masks. begin_mask/end_mask bits
/// select the full range and shrink_axis_mask drops an axis; ellipsis and new-axis masks are
/// not supported.
struct strided_slice_op {
  static constexpr std::string_view mnemonic = "top.StridedSlice";
  static constexpr std::array operands{top::input("input"), top::input("starts"), top::input("ends"),
                                       top::input("strides")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    required<std::int64_t> begin_mask;
    required<std::int64_t> end_mask;
    required<std::int64_t> ellipsis_mask;
    required<std::int64_t> new_axis_mask;
    required<std::int64_t> shrink_axis_mask;
  };
  static mv::slice_plan plan(const shape_t& in, const attributes& a, const std::vector<std::int64_t>& b,
                                 const std::vector<std::int64_t>& e, const std::vector<std::int64_t>& s) {
    if (*a.ellipsis_mask != 0 || *a.new_axis_mask != 0)
      mv::op_fail(mnemonic, "ellipsis_mask and new_axis_mask are not supported");
    const std::size_t r = in.size();
    if (b.size() > r || e.size() != b.size() || s.size() != b.size())
      mv::op_fail(mnemonic, "starts, ends and strides must have the same length, at most the rank " + std::to_string(r));
    shape_t offset(r, 0), ends = in, steps(r, 1);
    for (std::size_t d = 0; d < b.size(); ++d) {
      steps[d] = s[d];
      const bool full_begin = (*a.begin_mask >> d) & 1, full_end = (*a.end_mask >> d) & 1;
      offset[d] = full_begin ? (s[d] > 0 ? 0 : in[d] - 1) : b[d];
      ends[d] = full_end ? (s[d] > 0 ? in[d] : -in[d] - 1) : e[d];
      if ((*a.shrink_axis_mask >> d) & 1) {
        offset[d] = b[d];
        ends[d] = (b[d] < 0 ? b[d] + in[d] : b[d]) + 1;
        steps[d] = 1;
      }
    }
    return mv::plan_slice(mnemonic, in, offset, ends, steps);
  }
  static shape_t result_shape(const mv::slice_plan& p, const attributes& a) {
    shape_t out;
    for (std::size_t d = 0; d < p.out.size(); ++d)
      if (!((*a.shrink_axis_mask >> d) & 1)) out.push_back(p.out[d]);
    return out;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    auto b = mv::constant_ints(c, 1), e = mv::constant_ints(c, 2), s = mv::constant_ints(c, 3);
    if (!b || !e || !s)
      return {mv::like(in, mv::declared_or_fail(c, mnemonic, 0, "a slice bound comes from a computed operand").shape)};
    return {mv::like(in, result_shape(plan(in.shape, a, *b, *e, *s), a))};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    const mv::slice_plan p = plan(in.shape(), a, mv::index_values(k.in(1)), mv::index_values(k.in(2)),
                                      mv::index_values(k.in(3)));
    mv::run_slice(k, p, result_shape(p, a), mnemonic, true);
  }
};

// ---------------------------------------------------------------------------------------------
// Split / Concat / Pack / Unpack.

/// `top.Split`: `num` pieces along `axis`; sizes from `split_size`, else ceil(n / num) with the
/// remainder in the last piece (TPU-MLIR's rule).
struct split_op {
  static constexpr std::string_view mnemonic = "top.Split";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = variadic_results;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    required<si32> axis;
    required<std::int64_t> num;
    std::optional<std::vector<std::int64_t>> split_size;
  };
  static std::vector<std::int64_t> sizes(const shape_t& in, const attributes& a) {
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis->value, in.size()));
    const std::int64_t num = *a.num, n = in[ax];
    if (num <= 0) mv::op_fail(mnemonic, "num must be positive, it is " + std::to_string(num));
    std::vector<std::int64_t> s;
    if (a.split_size) {
      if (static_cast<std::int64_t>(a.split_size->size()) != num)
        mv::op_fail(mnemonic, "split_size has " + std::to_string(a.split_size->size()) + " entries for num = " +
                                      std::to_string(num));
      s = *a.split_size;
    } else {
      s.assign(static_cast<std::size_t>(num), (n + num - 1) / num);
    }
    const std::int64_t total = std::accumulate(s.begin(), s.end(), std::int64_t{0});
    s.back() += n - total;
    for (auto v : s)
      if (v < 0)
        mv::op_fail(mnemonic, "cannot split " + std::to_string(n) + " elements of axis " + std::to_string(ax) +
                                      " into " + std::to_string(num) + " pieces");
    return s;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    const auto s = sizes(in.shape, a);
    if (c.num_results != s.size())
      mv::op_fail(mnemonic, "num = " + std::to_string(s.size()) + " but the op has " + std::to_string(c.num_results) +
                                    " results");
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis->value, in.shape.size()));
    std::vector<tensor_type> out;
    for (auto v : s) {
      shape_t sh = in.shape;
      sh[ax] = v;
      out.push_back(mv::like(in, sh));
    }
    return out;
  }
  static void run(kernel_context& k, const attributes& a, bool reference) {
    const tensor& in = k.in(0);
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis->value, in.rank()));
    const auto s = sizes(in.shape(), a);
    const shape_t st = mv::dense_strides(in.shape());
    std::int64_t start = 0;
    for (std::size_t i = 0; i < s.size() && i < k.outputs.size(); ++i) {
      tensor& out = k.out(i);
      if (reference) {
        mixq::detail::reference_gather(in, out, [&](const shape_t& idx) {
          shape_t src = idx;
          src[ax] += start;
          return mv::flat_index(src, st);
        });
      } else {
        mixq::detail::gather_strided(in, out.numel() ? start * st[ax] : 0, st, out, k.threads());
      }
      start += s[i];
    }
  }
  static void reference(kernel_context& k, const attributes& a) { run(k, a, true); }
  static void compute(kernel_context& k, const attributes& a) { run(k, a, false); }
};

namespace detail::movement {

/// Concatenates `parts` along `axis` into `out`: each outer row is the parts' inner blocks in turn.
inline void concat_into(const std::vector<const tensor*>& parts, std::size_t axis, tensor& out, thread_pool& pool) {
  const std::size_t es = size_of(out.elem());
  std::int64_t outer = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= out.dim(d);
  std::vector<std::int64_t> block(parts.size());
  std::int64_t row = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    block[i] = outer ? parts[i]->numel() / outer : 0;
    row += block[i];
  }
  const std::int64_t grain = std::max<std::int64_t>(1, mixq::detail::copy_chunk_elements / std::max<std::int64_t>(1, row));
  pool.parallel_for(outer, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t o = begin; o < end; ++o) {
      std::byte* dst = out.raw() + static_cast<std::size_t>(o * row) * es;
      for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto bytes = static_cast<std::size_t>(block[i]) * es;
        if (bytes) std::memcpy(dst, parts[i]->raw() + static_cast<std::size_t>(o) * bytes, bytes);
        dst += bytes;
      }
    }
  });
}

/// Scalar oracle: each output element finds the input that holds its position along `axis`.
inline void concat_reference(const std::vector<const tensor*>& parts, std::size_t axis, tensor& out) {
  const std::size_t es = size_of(out.elem());
  const shape_t& shape = out.shape();
  shape_t idx(shape.size());
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    std::int64_t rem = i;
    for (std::size_t d = shape.size(); d-- > 0;) idx[d] = rem % shape[d], rem /= shape[d];
    std::int64_t pos = idx[axis];
    std::size_t p = 0;
    while (pos >= parts[p]->dim(axis)) pos -= parts[p++]->dim(axis);
    shape_t src = idx;
    src[axis] = pos;
    const std::int64_t f = flat_index(src, dense_strides(parts[p]->shape()));
    std::memcpy(out.raw() + static_cast<std::size_t>(i) * es, parts[p]->raw() + static_cast<std::size_t>(f) * es, es);
  }
}

}  // namespace detail::movement

/// `top.Concat`: joins the inputs along `axis`, with an optional fused relu.
struct concat_op {
  static constexpr std::string_view mnemonic = "top.Concat";
  static constexpr std::array operands{variadic_input("inputs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    si32 axis = 1;
    bool do_relu = false;
    double relu_limit = -1.0;
    one_of<"HalfAwayFromZero", "HalfUp", "HalfDown", "HalfToEven", "HalfToOdd", "HalfTowardsZero", "TowardsZero", "Up",
           "Down">
        round_mode;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    if (c.operands.empty()) mv::op_fail(mnemonic, "needs at least one input");
    const tensor_type& first = c.operand(0);
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis.value, first.shape.size()));
    shape_t out = first.shape;
    for (std::size_t i = 1; i < c.operands.size(); ++i) {
      const tensor_type& t = c.operand(i);
      bool ok = t.shape.size() == first.shape.size();
      for (std::size_t d = 0; ok && d < t.shape.size(); ++d) ok = d == ax || t.shape[d] == first.shape[d];
      if (!ok)
        mv::op_fail(mnemonic, "input " + std::to_string(i) + " has shape " + to_string(t.shape) +
                                      ", which does not match " + to_string(first.shape) + " outside axis " +
                                      std::to_string(ax));
      if (t.elem != first.elem)
        mv::op_fail(mnemonic, "input " + std::to_string(i) + " holds " + std::string(name(t.elem)) +
                                      ", input 0 holds " + std::string(name(first.elem)));
      out[ax] += t.shape[ax];
    }
    return {mv::like(first, out)};
  }
  static std::vector<const tensor*> parts(const kernel_context& k) {
    std::vector<const tensor*> p;
    for (std::size_t i = 0; i < k.num_inputs(); ++i) p.push_back(&k.in(i));
    return p;
  }
  static void reference(kernel_context& k, const attributes& a) {
    tensor& out = k.out();
    mv::concat_reference(parts(k), static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis.value, out.rank())), out);
    if (a.do_relu) mv::relu_in_place(out, a.relu_limit);
  }
  static void compute(kernel_context& k, const attributes& a) {
    tensor& out = k.out();
    mv::concat_into(parts(k), static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis.value, out.rank())), out,
                        k.threads());
    if (a.do_relu) mv::relu_in_place(out, a.relu_limit);
  }
};

/// `top.Pack` (stack): the equally shaped inputs along a new axis.
struct pack_op {
  static constexpr std::string_view mnemonic = "top.Pack";
  static constexpr std::array operands{variadic_input("inputs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    required<si32> axis;
    required<std::int64_t> values_count;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    if (c.operands.empty()) mv::op_fail(mnemonic, "needs at least one input");
    const tensor_type& first = c.operand(0);
    for (std::size_t i = 1; i < c.operands.size(); ++i)
      if (c.operand(i).shape != first.shape || c.operand(i).elem != first.elem)
        mv::op_fail(mnemonic, "input " + std::to_string(i) + " (" + to_string(c.operand(i).shape) +
                                      ") differs from input 0 (" + to_string(first.shape) + ")");
    const auto ax = mv::axis_of(mnemonic, a.axis->value, first.shape.size() + 1);
    shape_t out = first.shape;
    out.insert(out.begin() + ax, static_cast<std::int64_t>(c.operands.size()));
    return {mv::like(first, out)};
  }
  static void reference(kernel_context& k, const attributes& a) {
    tensor& out = k.out();
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis->value, out.rank()));
    const std::size_t es = size_of(out.elem());
    const shape_t& shape = out.shape();
    shape_t idx(shape.size());
    for (std::int64_t i = 0; i < out.numel(); ++i) {
      std::int64_t rem = i;
      for (std::size_t d = shape.size(); d-- > 0;) idx[d] = rem % shape[d], rem /= shape[d];
      const tensor& src = k.in(static_cast<std::size_t>(idx[ax]));
      shape_t sidx = idx;
      sidx.erase(sidx.begin() + static_cast<std::ptrdiff_t>(ax));
      const std::int64_t f = mv::flat_index(sidx, mv::dense_strides(src.shape()));
      std::memcpy(out.raw() + static_cast<std::size_t>(i) * es, src.raw() + static_cast<std::size_t>(f) * es, es);
    }
  }
  static void compute(kernel_context& k, const attributes& a) {
    tensor& out = k.out();
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis->value, out.rank()));
    std::vector<tensor> views;
    std::vector<const tensor*> p;
    for (std::size_t i = 0; i < k.num_inputs(); ++i) {
      shape_t s = k.in(i).shape();
      s.insert(s.begin() + static_cast<std::ptrdiff_t>(ax), 1);
      views.push_back(k.in(i).reshaped(s));
    }
    for (const auto& v : views) p.push_back(&v);
    mv::concat_into(p, ax, out, k.threads());
  }
};

/// `top.Unpack` (unstack): one result per index along `axis`, that axis removed.
struct unpack_op {
  static constexpr std::string_view mnemonic = "top.Unpack";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = variadic_results;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    required<si32> axis;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis->value, in.shape.size()));
    if (static_cast<std::int64_t>(c.num_results) != in.shape[ax])
      mv::op_fail(mnemonic, "axis " + std::to_string(ax) + " has size " + std::to_string(in.shape[ax]) +
                                    " but the op has " + std::to_string(c.num_results) + " results");
    shape_t s = in.shape;
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(ax));
    return std::vector<tensor_type>(c.num_results, mv::like(in, s));
  }
  static void run(kernel_context& k, const attributes& a, bool reference) {
    const tensor& in = k.in(0);
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis->value, in.rank()));
    const shape_t st = mv::dense_strides(in.shape());
    shape_t sub = st;
    sub.erase(sub.begin() + static_cast<std::ptrdiff_t>(ax));
    for (std::size_t i = 0; i < k.outputs.size() && static_cast<std::int64_t>(i) < in.dim(ax); ++i) {
      tensor& out = k.out(i);
      const auto base = static_cast<std::int64_t>(i) * st[ax];
      if (reference) {
        mixq::detail::reference_gather(in, out, [&](const shape_t& idx) { return base + mv::flat_index(idx, sub); });
      } else {
        mixq::detail::gather_strided(in, out.numel() ? base : 0, sub, out, k.threads());
      }
    }
  }
  static void reference(kernel_context& k, const attributes& a) { run(k, a, true); }
  static void compute(kernel_context& k, const attributes& a) { run(k, a, false); }
};

// ---------------------------------------------------------------------------------------------
// Pad / Tile / Expand / Repeat.

namespace detail::movement {

/// Source index along one axis for output position i, or -1 for the constant fill.
inline std::int64_t pad_source(std::int64_t i, std::int64_t n, std::int64_t before, std::string_view mode) {
  std::int64_t j = i - before;
  if (j >= 0 && j < n) return j;
  if (mode == "constant" || n == 0) return -1;
  if (mode == "edge") return std::clamp<std::int64_t>(j, 0, n - 1);
  if (mode == "reflect") {  // mirror without repeating the edge: period 2(n-1)
    if (n == 1) return 0;
    const std::int64_t period = 2 * (n - 1);
    j = ((j % period) + period) % period;
    return j < n ? j : period - j;
  }
  // symmetric: mirror repeating the edge, period 2n
  const std::int64_t period = 2 * n;
  j = ((j % period) + period) % period;
  return j < n ? j : period - 1 - j;
}

}  // namespace detail::movement

/// `top.Pad`: paddings = [begin_0..begin_{r-1}, end_0..end_{r-1}] (or a constant paddingsT);
/// modes constant (fill with `val`), reflect, symmetric and edge.
struct pad_op {
  static constexpr std::string_view mnemonic = "top.Pad";
  static constexpr std::array operands{top::input("input"), optional_input("paddingsT")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    required<std::vector<std::int64_t>> paddings;
    double val = 0.0;
    required<one_of<"constant", "reflect", "symmetric", "edge">> mode;
  };
  static std::vector<std::int64_t> pads(const shape_t& in, const std::vector<std::int64_t>& p) {
    if (p.size() != 2 * in.size())
      mv::op_fail(mnemonic, "paddings has " + std::to_string(p.size()) + " entries, a rank-" +
                                    std::to_string(in.size()) + " input needs " + std::to_string(2 * in.size()));
    for (auto v : p)
      if (v < 0) mv::op_fail(mnemonic, "negative padding " + std::to_string(v) + " is not supported");
    return p;
  }
  static shape_t result(const shape_t& in, const std::vector<std::int64_t>& p) {
    shape_t out = in;
    for (std::size_t d = 0; d < in.size(); ++d) out[d] += p[d] + p[d + in.size()];
    return out;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    if (c.has(1)) {
      if (auto p = mv::constant_ints(c, 1)) return {mv::like(in, result(in.shape, pads(in.shape, *p)))};
      return {mv::like(in, mv::declared_or_fail(c, mnemonic, 0, "paddingsT is not a constant").shape)};
    }
    return {mv::like(in, result(in.shape, pads(in.shape, *a.paddings)))};
  }
  static std::vector<std::int64_t> runtime_pads(const kernel_context& k, const attributes& a) {
    if (const tensor* t = k.optional_in(1)) return pads(k.in(0).shape(), mv::index_values(*t));
    return pads(k.in(0).shape(), *a.paddings);
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    tensor& out = k.out();
    const auto p = runtime_pads(k, a);
    const std::string_view mode = a.mode->value;
    const shape_t st = mv::dense_strides(in.shape());
    visit_dtype(out.elem(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T fill = from_double<T>(a.val);
      T* o = reinterpret_cast<T*>(out.raw());
      const T* x = reinterpret_cast<const T*>(in.raw());
      shape_t idx(out.rank());
      for (std::int64_t i = 0; i < out.numel(); ++i) {
        std::int64_t rem = i, f = 0;
        bool inside = true;
        for (std::size_t d = out.rank(); d-- > 0;) {
          idx[d] = rem % out.dim(d);
          rem /= out.dim(d);
          const std::int64_t s = mv::pad_source(idx[d], in.dim(d), p[d], mode);
          if (s < 0) inside = false;
          else f += s * st[d];
        }
        o[i] = inside ? x[f] : fill;
      }
    });
  }
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    tensor& out = k.out();
    const auto p = runtime_pads(k, a);
    const std::string_view mode = a.mode->value;
    const std::size_t r = out.rank();
    if (r == 0 || out.numel() == 0) {
      if (out.numel()) std::memcpy(out.raw(), in.raw(), out.nbytes());
      return;
    }
    // One source table per axis; a row is then one memcpy for the middle plus the border.
    std::vector<std::vector<std::int64_t>> src(r);
    for (std::size_t d = 0; d < r; ++d) {
      src[d].resize(static_cast<std::size_t>(out.dim(d)));
      for (std::int64_t i = 0; i < out.dim(d); ++i)
        src[d][static_cast<std::size_t>(i)] = mv::pad_source(i, in.dim(d), p[d], mode);
    }
    const shape_t st = mv::dense_strides(in.shape());
    const std::int64_t width = out.dim(r - 1), rows = out.numel() / width, before = p[r - 1], n = in.dim(r - 1);
    visit_dtype(out.elem(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T fill = from_double<T>(a.val);
      T* o = reinterpret_cast<T*>(out.raw());
      const T* x = reinterpret_cast<const T*>(in.raw());
      const std::int64_t grain = std::max<std::int64_t>(1, mixq::detail::copy_chunk_elements / width);
      k.threads().parallel_for(rows, grain, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t row = begin; row < end; ++row) {
          T* dst = o + row * width;
          std::int64_t rem = row, f = 0;
          bool inside = true;
          for (std::size_t d = r - 1; d-- > 0;) {
            const std::int64_t s = src[d][static_cast<std::size_t>(rem % out.dim(d))];
            rem /= out.dim(d);
            if (s < 0) inside = false;
            else f += s * st[d];
          }
          if (!inside) {
            std::fill(dst, dst + width, fill);
            continue;
          }
          const T* line = x + f;
          for (std::int64_t j = 0; j < before; ++j) {
            const std::int64_t s = src[r - 1][static_cast<std::size_t>(j)];
            dst[j] = s < 0 ? fill : line[s];
          }
          if (n) std::memcpy(dst + before, line, static_cast<std::size_t>(n) * sizeof(T));
          for (std::int64_t j = before + n; j < width; ++j) {
            const std::int64_t s = src[r - 1][static_cast<std::size_t>(j)];
            dst[j] = s < 0 ? fill : line[s];
          }
        }
      });
    });
  }
};

namespace detail::movement {

/// Tile/Repeat result: shapes aligned at the right, missing leading entries are 1.
inline shape_t tiled_shape(const shape_t& in, const std::vector<std::int64_t>& reps, std::string_view op) {
  const std::size_t r = std::max(in.size(), reps.size());
  shape_t out(r);
  for (std::size_t d = 0; d < r; ++d) {
    const std::int64_t i = d + in.size() >= r ? in[d + in.size() - r] : 1;
    const std::int64_t t = d + reps.size() >= r ? reps[d + reps.size() - r] : 1;
    if (t < 0) op_fail(op, "negative repeat count " + std::to_string(t));
    out[d] = i * t;
  }
  return out;
}

/// Tiling as one strided gather: each axis becomes (repeat, size) with strides (0, stride).
inline void tile_into(const tensor& in, const std::vector<std::int64_t>& reps, tensor& out, thread_pool& pool,
                      bool reference) {
  const std::size_t r = out.rank();
  shape_t in_shape(r, 1);
  for (std::size_t d = 0; d < in.rank(); ++d) in_shape[r - in.rank() + d] = in.dim(d);
  const shape_t st = dense_strides(in_shape);
  if (reference) {
    mixq::detail::reference_gather(in, out, [&](const shape_t& idx) {
      std::int64_t f = 0;
      for (std::size_t d = 0; d < r; ++d) f += (idx[d] % in_shape[d]) * st[d];
      return f;
    });
    return;
  }
  shape_t view, strides;
  for (std::size_t d = 0; d < r; ++d) {
    view.push_back(in_shape[d] ? out.dim(d) / in_shape[d] : 0);
    strides.push_back(0);
    view.push_back(in_shape[d]);
    strides.push_back(st[d]);
  }
  (void)reps;
  if (out.numel() == 0) return;
  mixq::detail::gather_strided(out.raw(), in.raw(), view, strides, size_of(in.elem()), pool);
}

}  // namespace detail::movement

/// `top.Tile`: repeats the input `tile[d]` times along each axis (`tile` or a constant tileT).
struct tile_op {
  static constexpr std::string_view mnemonic = "top.Tile";
  static constexpr std::array operands{top::input("input"), optional_input("tileT")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    std::optional<std::vector<std::int64_t>> tile;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    if (c.has(1)) {
      if (auto t = mv::constant_ints(c, 1)) return {mv::like(in, mv::tiled_shape(in.shape, *t, mnemonic))};
      return {mv::like(in, mv::declared_or_fail(c, mnemonic, 0, "tileT is not a constant").shape)};
    }
    if (!a.tile) mv::op_fail(mnemonic, "has neither a tile attribute nor a tileT operand");
    return {mv::like(in, mv::tiled_shape(in.shape, *a.tile, mnemonic))};
  }
  static std::vector<std::int64_t> reps(const kernel_context& k, const attributes& a) {
    if (const tensor* t = k.optional_in(1)) return mv::index_values(*t);
    if (!a.tile) mv::op_fail(mnemonic, "has neither a tile attribute nor a tileT operand");
    return *a.tile;
  }
  static void run(kernel_context& k, const attributes& a, bool reference) {
    const auto r = reps(k, a);
    if (mv::tiled_shape(k.in(0).shape(), r, mnemonic) != k.out_type().shape)
      mv::op_fail(mnemonic, "the repeat counts do not give the result type " + to_string(k.out_type().shape));
    mv::tile_into(k.in(0), r, k.out(), k.threads(), reference);
  }
  static void reference(kernel_context& k, const attributes& a) { run(k, a, true); }
  static void compute(kernel_context& k, const attributes& a) { run(k, a, false); }
};

/// `top.Repeat` (torch aten::repeat): Tile with the counts as an operand.
struct repeat_op {
  static constexpr std::string_view mnemonic = "top.Repeat";
  static constexpr std::array operands{top::input("input"), top::input("repeats")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    const tensor_type& in = c.operand(0);
    if (auto t = mv::constant_ints(c, 1)) return {mv::like(in, mv::tiled_shape(in.shape, *t, mnemonic))};
    return {mv::like(in, mv::declared_or_fail(c, mnemonic, 0, "repeats is not a constant").shape)};
  }
  static void run(kernel_context& k, bool reference) {
    const auto r = mv::index_values(k.in(1));
    if (mv::tiled_shape(k.in(0).shape(), r, mnemonic) != k.out_type().shape)
      mv::op_fail(mnemonic, "the repeat counts do not give the result type " + to_string(k.out_type().shape));
    mv::tile_into(k.in(0), r, k.out(), k.threads(), reference);
  }
  static void reference(kernel_context& k, const attributes&) { run(k, true); }
  static void compute(kernel_context& k, const attributes&) { run(k, false); }
};

/// `top.Expand`: numpy-broadcasts the input to `shape` (or a constant shapeT); as in ONNX, a 1 in
/// the target keeps the input's size.
struct expand_op {
  static constexpr std::string_view mnemonic = "top.Expand";
  static constexpr std::array operands{top::input("input"), optional_input("shapeT")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    std::vector<std::int64_t> shape{};
  };
  static shape_t target(const shape_t& in, const std::vector<std::int64_t>& s) {
    try {
      return broadcast_shapes(in, s);
    } catch (const error& e) {
      mv::op_fail(mnemonic, std::string("cannot expand: ") + e.what());
    }
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    if (c.has(1)) {
      if (auto s = mv::constant_ints(c, 1)) return {mv::like(in, target(in.shape, *s))};
      return {mv::like(in, mv::declared_or_fail(c, mnemonic, 0, "shapeT is not a constant").shape)};
    }
    return {mv::like(in, target(in.shape, a.shape))};
  }
  static void reference(kernel_context& k, const attributes&) {
    const tensor& in = k.in(0);
    tensor& out = k.out();
    const shape_t st = broadcast_strides(in.shape(), out.shape());
    mixq::detail::reference_gather(in, out, [&](const shape_t& idx) { return mv::flat_index(idx, st); });
  }
  static void compute(kernel_context& k, const attributes&) {
    const tensor& in = k.in(0);
    tensor& out = k.out();
    if (broadcast_shapes(in.shape(), out.shape()) != out.shape())
      mv::op_fail(mnemonic, to_string(in.shape()) + " does not broadcast to " + to_string(out.shape()));
    mixq::detail::gather_strided(in, 0, broadcast_strides(in.shape(), out.shape()), out, k.threads());
  }
};

// ---------------------------------------------------------------------------------------------
// Gather / Scatter.

/// `top.Gather`: picks slices along `axis` by index (negative indices wrap, as in ONNX). The
/// result is input[:axis] + indices.shape + input[axis+1:], except that a [1]-shaped index
/// with keepdims = false drops the axis (TPU-MLIR's scalar-index convention; for a 1-D input
/// the result is then [1]).
struct gather_op {
  static constexpr std::string_view mnemonic = "top.Gather";
  static constexpr std::array operands{top::input("input"), top::input("indices")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    bool keepdims = true;
    si32 axis = 0;
    bool is_scalar = false;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    const shape_t& ind = c.operand(1).shape;
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis.value, in.shape.size()));
    shape_t out(in.shape.begin(), in.shape.begin() + static_cast<std::ptrdiff_t>(ax));
    if (ind.size() == 1 && ind[0] == 1 && !a.keepdims) {
      if (in.shape.size() == 1) out.push_back(1);
    } else {
      out.insert(out.end(), ind.begin(), ind.end());
    }
    out.insert(out.end(), in.shape.begin() + static_cast<std::ptrdiff_t>(ax) + 1, in.shape.end());
    return {mv::like(in, out)};
  }
  static void run(kernel_context& k, const attributes& a, bool reference) {
    const tensor& in = k.in(0);
    tensor& out = k.out();
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis.value, in.rank()));
    std::vector<std::int64_t> idx = mv::index_values(k.in(1));
    const std::int64_t n = in.dim(ax);
    for (auto& i : idx) i = mv::wrap_index(mnemonic, i, n, static_cast<std::int64_t>(ax));
    std::int64_t outer = 1, inner = 1;
    for (std::size_t d = 0; d < ax; ++d) outer *= in.dim(d);
    for (std::size_t d = ax + 1; d < in.rank(); ++d) inner *= in.dim(d);
    const auto m = static_cast<std::int64_t>(idx.size());
    if (outer * m * inner != out.numel())
      mv::op_fail(mnemonic, "the result type " + to_string(out.shape()) + " does not hold " +
                                    std::to_string(outer * m * inner) + " gathered elements");
    const std::size_t es = size_of(in.elem());
    if (reference) {
      for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t j = 0; j < m; ++j)
          for (std::int64_t i = 0; i < inner; ++i)
            std::memcpy(out.raw() + static_cast<std::size_t>((o * m + j) * inner + i) * es,
                        in.raw() + static_cast<std::size_t>((o * n + idx[static_cast<std::size_t>(j)]) * inner + i) * es,
                        es);
      return;
    }
    const std::size_t run_bytes = static_cast<std::size_t>(inner) * es;
    const std::int64_t grain = std::max<std::int64_t>(1, mixq::detail::copy_chunk_elements / std::max<std::int64_t>(1, inner));
    k.threads().parallel_for(outer * m, grain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t u = begin; u < end; ++u) {
        const std::int64_t o = u / m, j = u % m;
        std::memcpy(out.raw() + static_cast<std::size_t>(u) * run_bytes,
                    in.raw() + static_cast<std::size_t>(o * n + idx[static_cast<std::size_t>(j)]) * run_bytes, run_bytes);
      }
    });
  }
  static void reference(kernel_context& k, const attributes& a) { run(k, a, true); }
  static void compute(kernel_context& k, const attributes& a) { run(k, a, false); }
};

/// `top.GatherElements`: out[i] = input[i with axis position replaced by indices[i]]; the result
/// has the indices' shape. Note TPU-MLIR's default axis is 2.
struct gather_elements_op {
  static constexpr std::string_view mnemonic = "top.GatherElements";
  static constexpr std::array operands{top::input("input"), top::input("indices")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    std::int64_t axis = 2;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    const shape_t& ind = c.operand(1).shape;
    mv::axis_of(mnemonic, a.axis, in.shape.size());
    if (ind.size() != in.shape.size())
      mv::op_fail(mnemonic, "indices " + to_string(ind) + " and input " + to_string(in.shape) + " differ in rank");
    return {mv::like(in, ind)};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    tensor& out = k.out();
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis, in.rank()));
    const auto idx = mv::index_values(k.in(1));
    const shape_t st = mv::dense_strides(in.shape());
    const shape_t ist = mv::dense_strides(k.in(1).shape());
    mixq::detail::reference_gather(in, out, [&](const shape_t& i) {
      shape_t src = i;
      for (std::size_t d = 0; d < src.size(); ++d)
        if (d != ax && src[d] >= in.dim(d))
          mv::op_fail(mnemonic, "indices are larger than the input outside axis " + std::to_string(ax));
      src[ax] = mv::wrap_index(mnemonic, idx[static_cast<std::size_t>(mv::flat_index(i, ist))], in.dim(ax),
                                   static_cast<std::int64_t>(ax));
      return mv::flat_index(src, st);
    });
  }
};

/// `top.GatherND` (ONNX): each index tuple along the last indices axis selects a slice; the
/// first `batch_dims` axes are shared by input and indices.
struct gather_nd_op {
  static constexpr std::string_view mnemonic = "top.GatherND";
  static constexpr std::array operands{top::input("input"), top::input("indices")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    std::optional<std::int64_t> indice_dims;
    std::int64_t batch_dims = 0;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    const shape_t& ind = c.operand(1).shape;
    const auto b = static_cast<std::size_t>(a.batch_dims);
    if (ind.empty() || a.batch_dims < 0 || b >= ind.size() || b > in.shape.size())
      mv::op_fail(mnemonic, "batch_dims " + std::to_string(a.batch_dims) + " does not fit indices " + to_string(ind));
    const std::int64_t tuple = ind.back();
    if (tuple < 1 || b + static_cast<std::size_t>(tuple) > in.shape.size())
      mv::op_fail(mnemonic, "index tuples of length " + std::to_string(tuple) + " do not fit input " + to_string(in.shape));
    for (std::size_t d = 0; d < b; ++d)
      if (ind[d] != in.shape[d]) mv::op_fail(mnemonic, "batch dimension " + std::to_string(d) + " differs");
    shape_t out(ind.begin(), ind.end() - 1);
    out.insert(out.end(), in.shape.begin() + static_cast<std::ptrdiff_t>(b + static_cast<std::size_t>(tuple)),
               in.shape.end());
    return {mv::like(in, out)};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    const tensor& ind = k.in(1);
    tensor& out = k.out();
    const auto idx = mv::index_values(ind);
    const auto b = static_cast<std::size_t>(a.batch_dims);
    const auto tuple = static_cast<std::size_t>(ind.shape().back());
    const shape_t st = mv::dense_strides(in.shape());
    std::int64_t batch = 1, slice = 1;
    for (std::size_t d = 0; d < b; ++d) batch *= in.dim(d);
    for (std::size_t d = b + tuple; d < in.rank(); ++d) slice *= in.dim(d);
    const std::int64_t tuples = static_cast<std::int64_t>(idx.size() / tuple);
    const std::int64_t per_batch = batch ? tuples / batch : 0;
    const std::int64_t batch_stride = b ? st[b - 1] : in.numel();
    const std::size_t es = size_of(in.elem());
    for (std::int64_t t = 0; t < tuples; ++t) {
      std::int64_t f = (per_batch ? t / per_batch : 0) * batch_stride;
      for (std::size_t j = 0; j < tuple; ++j)
        f += mv::wrap_index(mnemonic, idx[static_cast<std::size_t>(t) * tuple + j], in.dim(b + j),
                                static_cast<std::int64_t>(b + j)) *
             st[b + j];
      std::memcpy(out.raw() + static_cast<std::size_t>(t * slice) * es, in.raw() + static_cast<std::size_t>(f) * es,
                  static_cast<std::size_t>(slice) * es);
    }
  }
};

/// `top.ScatterElements`: a copy of the input with out[i with axis -> indices[i]] = updates[i].
struct scatter_elements_op {
  static constexpr std::string_view mnemonic = "top.ScatterElements";
  static constexpr std::array operands{top::input("input"), top::input("indices"), top::input("updates")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    required<std::int64_t> axis;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    mv::axis_of(mnemonic, *a.axis, in.shape.size());
    if (c.operand(1).shape != c.operand(2).shape)
      mv::op_fail(mnemonic, "indices " + to_string(c.operand(1).shape) + " and updates " +
                                    to_string(c.operand(2).shape) + " differ in shape");
    if (c.operand(1).shape.size() != in.shape.size()) mv::op_fail(mnemonic, "indices and input differ in rank");
    return {mv::like(in, in.shape)};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    const tensor& upd = k.in(2);
    tensor& out = k.out();
    if (upd.elem() != in.elem()) mv::op_fail(mnemonic, "updates and input hold different dtypes");
    std::memcpy(out.raw(), in.raw(), in.nbytes());
    const auto ax = static_cast<std::size_t>(mv::axis_of(mnemonic, *a.axis, in.rank()));
    const auto idx = mv::index_values(k.in(1));
    const shape_t st = mv::dense_strides(in.shape());
    const shape_t& ishape = k.in(1).shape();
    const std::size_t es = size_of(in.elem());
    shape_t i(ishape.size());
    for (std::int64_t u = 0; u < upd.numel(); ++u) {
      std::int64_t rem = u;
      for (std::size_t d = ishape.size(); d-- > 0;) i[d] = rem % ishape[d], rem /= ishape[d];
      for (std::size_t d = 0; d < i.size(); ++d)
        if (d != ax && i[d] >= in.dim(d)) mv::op_fail(mnemonic, "indices are larger than the input outside the axis");
      i[ax] = mv::wrap_index(mnemonic, idx[static_cast<std::size_t>(u)], in.dim(ax), static_cast<std::int64_t>(ax));
      std::memcpy(out.raw() + static_cast<std::size_t>(mv::flat_index(i, st)) * es,
                  upd.raw() + static_cast<std::size_t>(u) * es, es);
    }
  }
};

/// `top.ScatterND` (ONNX): index tuples select slices of a copy of the input, which receive the
/// updates; `reduction` 0 none, 1 add, 2 sub, 3 max, 4 min, 5 mul.
struct scatter_nd_op {
  static constexpr std::string_view mnemonic = "top.ScatterND";
  static constexpr std::array operands{top::input("input_data"), top::input("indices"), top::input("updates")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    int_of<"i32"> reduction = 0;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    const shape_t& ind = c.operand(1).shape;
    if (a.reduction.value < 0 || a.reduction.value > 5)
      mv::op_fail(mnemonic, "reduction " + std::to_string(a.reduction.value) + " is not one of 0..5");
    if (ind.empty() || ind.back() < 1 || static_cast<std::size_t>(ind.back()) > in.shape.size())
      mv::op_fail(mnemonic, "indices " + to_string(ind) + " do not fit input " + to_string(in.shape));
    shape_t want(ind.begin(), ind.end() - 1);
    want.insert(want.end(), in.shape.begin() + ind.back(), in.shape.end());
    if (numel(c.operand(2).shape) != numel(want))
      mv::op_fail(mnemonic, "updates " + to_string(c.operand(2).shape) + " should have shape " + to_string(want));
    return {mv::like(in, in.shape)};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    const tensor& ind = k.in(1);
    const tensor& upd = k.in(2);
    tensor& out = k.out();
    if (upd.elem() != in.elem()) mv::op_fail(mnemonic, "updates and input hold different dtypes");
    std::memcpy(out.raw(), in.raw(), in.nbytes());
    const auto idx = mv::index_values(ind);
    const auto tuple = static_cast<std::size_t>(ind.shape().back());
    const shape_t st = mv::dense_strides(in.shape());
    std::int64_t slice = 1;
    for (std::size_t d = tuple; d < in.rank(); ++d) slice *= in.dim(d);
    const auto tuples = static_cast<std::int64_t>(idx.size() / tuple);
    const std::int64_t mode = a.reduction.value;
    visit_dtype(in.elem(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* o = reinterpret_cast<T*>(out.raw());
      const T* u = reinterpret_cast<const T*>(upd.raw());
      for (std::int64_t t = 0; t < tuples; ++t) {
        std::int64_t f = 0;
        for (std::size_t j = 0; j < tuple; ++j)
          f += mv::wrap_index(mnemonic, idx[static_cast<std::size_t>(t) * tuple + j], in.dim(j),
                                  static_cast<std::int64_t>(j)) *
               st[j];
        for (std::int64_t e = 0; e < slice; ++e) {
          T& dst = o[f + e];
          const T src = u[t * slice + e];
          const double x = to_double(dst), y = to_double(src);
          switch (mode) {
            case 1: dst = from_double<T>(x + y); break;
            case 2: dst = from_double<T>(x - y); break;
            case 3: dst = from_double<T>(std::max(x, y)); break;
            case 4: dst = from_double<T>(std::min(x, y)); break;
            case 5: dst = from_double<T>(x * y); break;
            default: dst = src; break;
          }
        }
      }
    });
  }
};

// ---------------------------------------------------------------------------------------------
// Depth2Space.

/// `top.Depth2Space`: [n, c, h, w] -> [n, c / (bh*bw), h*bh, w*bw] (inverse: space to depth).
/// DCR (is_CRD = false) orders channels as (bh, bw, c'), CRD as (c', bh, bw); swap_cr swaps the
/// roles of bh and bw in the channel order; either side may be NHWC. Leading axes beyond n are batch.
struct depth2space_op {
  static constexpr std::string_view mnemonic = "top.Depth2Space";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits | trait::quantizable;
  struct attributes {
    required<std::int64_t> block_h;
    required<std::int64_t> block_w;
    required<bool> is_CRD;
    required<bool> is_inversed;
    bool in_is_NCHW = true;
    bool out_is_NCHW = true;
    bool swap_cr = false;
  };
  struct dims {
    std::int64_t c, h, w;
  };
  /// (channels, height, width) of the last three axes of a shape in the given layout.
  static dims chw(const shape_t& s, bool nchw) {
    const std::size_t r = s.size();
    return nchw ? dims{s[r - 3], s[r - 2], s[r - 1]} : dims{s[r - 1], s[r - 3], s[r - 2]};
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    if (in.shape.size() < 3) mv::op_fail(mnemonic, "needs an input of rank >= 3, got " + to_string(in.shape));
    const std::int64_t bh = *a.block_h, bw = *a.block_w;
    if (bh <= 0 || bw <= 0) mv::op_fail(mnemonic, "block sizes must be positive");
    const dims i = chw(in.shape, a.in_is_NCHW);
    dims o;
    if (*a.is_inversed) {
      if (i.h % bh || i.w % bw)
        mv::op_fail(mnemonic, "spatial size " + std::to_string(i.h) + "x" + std::to_string(i.w) +
                                      " is not a multiple of the block " + std::to_string(bh) + "x" + std::to_string(bw));
      o = {i.c * bh * bw, i.h / bh, i.w / bw};
    } else {
      if (i.c % (bh * bw))
        mv::op_fail(mnemonic, std::to_string(i.c) + " channels are not a multiple of block_h*block_w = " +
                                      std::to_string(bh * bw));
      o = {i.c / (bh * bw), i.h * bh, i.w * bw};
    }
    shape_t out = in.shape;
    const std::size_t r = out.size();
    if (a.out_is_NCHW) out[r - 3] = o.c, out[r - 2] = o.h, out[r - 1] = o.w;
    else out[r - 3] = o.h, out[r - 2] = o.w, out[r - 1] = o.c;
    return {mv::like(in, out)};
  }
  /// Flat offsets (within one batch item) of the depth-side element (c, h, w) and its space-side
  /// partner, following TPU-MLIR's index mapping.
  static void run_scalar(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    tensor& out = k.out();
    const bool inv = *a.is_inversed;
    // "deep" is the tensor with many channels, "wide" the one with the large spatial size.
    const tensor& deep_t = inv ? static_cast<const tensor&>(out) : in;
    const tensor& wide_t = inv ? in : static_cast<const tensor&>(out);
    const bool deep_nchw = inv ? a.out_is_NCHW : a.in_is_NCHW, wide_nchw = inv ? a.in_is_NCHW : a.out_is_NCHW;
    const dims d = chw(deep_t.shape(), deep_nchw), w = chw(wide_t.shape(), wide_nchw);
    auto strides = [](const dims& s, bool nchw) {
      return nchw ? std::array<std::int64_t, 3>{s.h * s.w, s.w, 1} : std::array<std::int64_t, 3>{1, s.w * s.c, s.c};
    };
    const auto ds = strides(d, deep_nchw), ws = strides(w, wide_nchw);
    const std::int64_t bh = *a.block_h, bw = *a.block_w, oc = w.c;
    const std::int64_t batches = in.numel() / std::max<std::int64_t>(1, d.c * d.h * d.w);
    const std::int64_t item = d.c * d.h * d.w;
    const std::size_t es = size_of(in.elem());
    for (std::int64_t n = 0; n < batches; ++n)
      for (std::int64_t c = 0; c < d.c; ++c) {
        std::int64_t new_c, left;
        if (*a.is_CRD) new_c = c / (bh * bw), left = c % (bh * bw);
        else new_c = c % oc, left = c / oc;
        std::int64_t src_c = c;
        if (a.swap_cr) {
          const std::int64_t rleft = (left % bw) * bh + left / bw;
          src_c = *a.is_CRD ? new_c * (bh * bw) + rleft : rleft * oc + new_c;
        }
        for (std::int64_t h = 0; h < d.h; ++h)
          for (std::int64_t x = 0; x < d.w; ++x) {
            const std::int64_t deep = n * item + src_c * ds[0] + h * ds[1] + x * ds[2];
            const std::int64_t wide = n * item + new_c * ws[0] + (h * bh + left / bw) * ws[1] + (x * bw + left % bw) * ws[2];
            const std::int64_t from = inv ? wide : deep, to = inv ? deep : wide;
            std::memcpy(out.raw() + static_cast<std::size_t>(to) * es, in.raw() + static_cast<std::size_t>(from) * es, es);
          }
      }
  }
  static void reference(kernel_context& k, const attributes& a) { run_scalar(k, a); }
  /// NCHW without swap_cr is a 6-D permute (the channel axis split into (bh, bw, c') or (c', bh, bw)).
  static void compute(kernel_context& k, const attributes& a) {
    if (a.swap_cr || !a.in_is_NCHW || !a.out_is_NCHW) return run_scalar(k, a);
    const tensor& in = k.in(0);
    tensor& out = k.out();
    const std::int64_t bh = *a.block_h, bw = *a.block_w;
    const std::size_t r = in.rank();
    const std::int64_t c = in.dim(r - 3), h = in.dim(r - 2), w = in.dim(r - 1);
    const std::int64_t n = in.numel() / std::max<std::int64_t>(1, c * h * w);
    shape_t view;
    std::vector<std::int64_t> order;
    if (!*a.is_inversed) {
      const std::int64_t oc = c / (bh * bw);
      // input channels as (c', bh, bw) for CRD, (bh, bw, c') for DCR; result [n, c', h, bh, w, bw]
      if (*a.is_CRD) view = {n, oc, bh, bw, h, w}, order = {0, 1, 4, 2, 5, 3};
      else view = {n, bh, bw, oc, h, w}, order = {0, 3, 4, 1, 5, 2};
    } else {
      // input [n, c, h', bh, w', bw]; result channels as (c, bh, bw) for CRD, (bh, bw, c) for DCR
      view = {n, c, h / bh, bh, w / bw, bw};
      if (*a.is_CRD) order = {0, 1, 3, 5, 2, 4};
      else order = {0, 3, 5, 1, 2, 4};
    }
    tensor src = in.reshaped(view);
    tensor dst = out.reshaped(mv::permuted_shape(view, order));
    mv::permute_into(src, order, dst, k.threads());
  }
};

// ---------------------------------------------------------------------------------------------
// Value producers: Shape, Size, Arange, Range, ConstantFill.

/// `top.Shape`: the input's dimensions (optionally [start:end:step] of them) as a 1-D tensor.
struct shape_op {
  static constexpr std::string_view mnemonic = "top.Shape";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::integer_ok;
  struct attributes {
    std::optional<std::int64_t> start;
    std::optional<std::int64_t> end;
    std::optional<std::int64_t> step;
  };
  static std::vector<double> values(const shape_t& in, const attributes& a) {
    const auto r = static_cast<std::int64_t>(in.size());
    std::int64_t s = a.start.value_or(0), e = a.end.value_or(r);
    const std::int64_t step = a.step.value_or(1);
    if (step <= 0) mv::op_fail(mnemonic, "step must be positive, it is " + std::to_string(step));
    // TPU-MLIR's frontends write x.shape[-1] as start = -1, end = 0
    if (s < 0 && e - s == 1) e = s + r + 1;
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = std::clamp<std::int64_t>(s, 0, r);
    e = std::clamp<std::int64_t>(e, 0, r);
    std::vector<double> v;
    for (std::int64_t i = s; i < e; i += step) v.push_back(static_cast<double>(in[static_cast<std::size_t>(i)]));
    return v;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    return {tensor_type{dtype::i64, {static_cast<std::int64_t>(values(c.operand(0).shape, a).size())}}};
  }
  static void reference(kernel_context& k, const attributes& a) { mv::fill_from_doubles(k.out(), values(k.in(0).shape(), a)); }
};

/// `top.Size` (torch aten::size): dimension `axis` as a [1] tensor, or all dimensions.
struct size_op {
  static constexpr std::string_view mnemonic = "top.Size";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::integer_ok;
  struct attributes {
    std::optional<si32> axis;
  };
  static std::vector<double> values(const shape_t& in, const attributes& a) {
    if (a.axis) return {static_cast<double>(in[static_cast<std::size_t>(mv::axis_of(mnemonic, a.axis->value, in.size()))])};
    return std::vector<double>(in.begin(), in.end());
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    return {tensor_type{dtype::i64, {static_cast<std::int64_t>(values(c.operand(0).shape, a).size())}}};
  }
  static void reference(kernel_context& k, const attributes& a) { mv::fill_from_doubles(k.out(), values(k.in(0).shape(), a)); }
};

namespace detail::movement {

inline std::int64_t range_length(std::string_view op, double start, double limit, double delta) {
  if (delta == 0) op_fail(op, "the step is 0");
  const double n = std::ceil((limit - start) / delta);
  return n > 0 ? static_cast<std::int64_t>(n) : 0;
}

/// A scalar from a constant operand, `fallback` when the operand is absent, nothing when computed.
inline std::optional<double> constant_scalar(const infer_context& c, std::size_t i, double fallback) {
  if (!c.has(i)) return fallback;
  if (const tensor* t = c.constant(i)) {
    if (t->numel() != 1) throw error("operand " + std::to_string(i) + " must hold one value");
    return element_as_double(*t, 0);
  }
  return std::nullopt;
}

inline double runtime_scalar(const kernel_context& k, std::size_t i, double fallback) {
  const tensor* t = k.optional_in(i);
  if (!t) return fallback;
  if (t->numel() != 1) throw error("operand " + std::to_string(i) + " must hold one value");
  return element_as_double(*t, 0);
}

/// Arange and Range: operands (start | none, end, step | none).
template <const std::string_view& Op>
struct range_like {
  static std::vector<tensor_type> infer(const infer_context& c) {
    const auto start = constant_scalar(c, 0, 0.0), end = constant_scalar(c, 1, 0.0), step = constant_scalar(c, 2, 1.0);
    const dtype elem = c.operand(1).elem;
    if (!start || !end || !step)
      return {tensor_type{elem, declared_or_fail(c, Op, 0, "a bound comes from a computed operand").shape}};
    return {tensor_type{elem, {range_length(Op, *start, *end, *step)}}};
  }
  static void run(kernel_context& k) {
    const double start = runtime_scalar(k, 0, 0.0), end = runtime_scalar(k, 1, 0.0), step = runtime_scalar(k, 2, 1.0);
    const std::int64_t n = range_length(Op, start, end, step);
    tensor& out = k.out();
    if (out.numel() != n)
      op_fail(Op, "the range has " + std::to_string(n) + " values but the result type " + to_string(out.shape()) +
                      " holds " + std::to_string(out.numel()));
    std::vector<double> v(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = start + static_cast<double>(i) * step;
    fill_from_doubles(out, v);
  }
};

inline constexpr std::string_view arange_name = "top.Arange";
inline constexpr std::string_view range_name = "top.Range";

}  // namespace detail::movement

/// `top.Arange` (torch aten::arange): start (default 0), end, step (default 1) as scalar tensors.
struct arange_op {
  static constexpr std::string_view mnemonic = mv::arange_name;
  static constexpr std::array operands{optional_input("start"), top::input("end"), optional_input("step")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::integer_ok;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    return mv::range_like<mv::arange_name>::infer(c);
  }
  static void reference(kernel_context& k, const attributes&) { mv::range_like<mv::arange_name>::run(k); }
};

/// `top.Range` (ONNX Range): start (default 0), limit, delta (default 1).
struct range_op {
  static constexpr std::string_view mnemonic = mv::range_name;
  static constexpr std::array operands{optional_input("start"), top::input("limit"), optional_input("delta")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::integer_ok;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    return mv::range_like<mv::range_name>::infer(c);
  }
  static void reference(kernel_context& k, const attributes&) { mv::range_like<mv::range_name>::run(k); }
};

/// `top.ConstantFill`: a tensor of the shape held by the input, filled with `value`.
struct constant_fill_op {
  static constexpr std::string_view mnemonic = "top.ConstantFill";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::integer_ok;
  struct attributes {
    required<double> value;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    if (auto s = mv::constant_ints(c, 0)) {
      for (auto d : *s)
        if (d < 0) mv::op_fail(mnemonic, "the shape " + to_string(*s) + " has a negative dimension");
      return {tensor_type{dtype::f32, *s}};
    }
    return {tensor_type{dtype::f32, mv::declared_or_fail(c, mnemonic, 0, "the shape operand is not a constant").shape}};
  }
  static void reference(kernel_context& k, const attributes& a) {
    tensor& out = k.out();
    if (mv::index_values(k.in(0)) != out.shape())
      mv::op_fail(mnemonic, "the shape operand does not match the result type " + to_string(out.shape()));
    visit_dtype(out.elem(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = reinterpret_cast<T*>(out.raw());
      std::fill(p, p + out.numel(), from_double<T>(*a.value));
    });
  }
};

// ---------------------------------------------------------------------------------------------
// Copy, Tuple, UnTuple.

/// `top.Copy`: copies `shape` elements from input positions (input_stride) to output positions
/// (output_stride); output elements not written are zero.
struct copy_op {
  static constexpr std::string_view mnemonic = "top.Copy";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {
    required<std::vector<std::int64_t>> shape;
    required<std::vector<std::int64_t>> input_stride;
    required<std::vector<std::int64_t>> output_stride;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const tensor_type& in = c.operand(0);
    if (a.input_stride->size() != a.shape->size() || a.output_stride->size() != a.shape->size())
      mv::op_fail(mnemonic, "shape, input_stride and output_stride must have the same length");
    if (const tensor_type* t = c.declared(0)) return {mv::like(in, t->shape)};
    return {mv::like(in, *a.shape)};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& in = k.in(0);
    tensor& out = k.out();
    std::memset(out.raw(), 0, out.nbytes());
    const shape_t& s = *a.shape;
    const std::size_t es = size_of(in.elem());
    shape_t idx(s.size());
    for (std::int64_t i = 0; i < numel(s); ++i) {
      std::int64_t rem = i;
      for (std::size_t d = s.size(); d-- > 0;) idx[d] = rem % s[d], rem /= s[d];
      const std::int64_t from = mv::flat_index(idx, *a.input_stride), to = mv::flat_index(idx, *a.output_stride);
      if (from < 0 || from >= in.numel() || to < 0 || to >= out.numel())
        mv::op_fail(mnemonic, "strides reach outside the tensors");
      std::memcpy(out.raw() + static_cast<std::size_t>(to) * es, in.raw() + static_cast<std::size_t>(from) * es, es);
    }
  }
};

/// `top.Tuple` (torch prim::TupleConstruct): with one input, the identity.
struct tuple_op {
  static constexpr std::string_view mnemonic = "top.Tuple";
  static constexpr std::array operands{variadic_input("inputs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    if (c.operands.size() != 1)
      mv::op_fail(mnemonic, "only a one-element tuple is supported, got " + std::to_string(c.operands.size()) +
                                    " inputs");
    return {mv::like(c.operand(0), c.operand(0).shape)};
  }
  static void reference(kernel_context& k, const attributes&) { k.alias(0, k.in(0)); }
};

/// `top.UnTuple` (torch prim::TupleUnpack): result i is input i.
struct untuple_op {
  static constexpr std::string_view mnemonic = "top.UnTuple";
  static constexpr std::array operands{variadic_input("inputs")};
  static constexpr int num_results = variadic_results;
  static constexpr std::uint32_t traits = mv::traits;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    if (c.num_results != c.operands.size())
      mv::op_fail(mnemonic, std::to_string(c.operands.size()) + " inputs but " + std::to_string(c.num_results) +
                                    " results");
    std::vector<tensor_type> out;
    for (std::size_t i = 0; i < c.operands.size(); ++i) out.push_back(mv::like(c.operand(i), c.operand(i).shape));
    return out;
  }
  static void reference(kernel_context& k, const attributes&) {
    for (std::size_t i = 0; i < k.outputs.size() && i < k.num_inputs(); ++i) k.alias(i, k.in(i));
  }
};

using shape_ops_ops =
    op_list<reshape_op, view_op, flatten_op, squeeze_op, unsqueeze_op, permute_op, transpose_op, shuffle_channel_op,
            swap_channel_op, reverse_op, slice_op, slice_axis_op, strided_slice_op, split_op, concat_op, pack_op,
            unpack_op, pad_op, tile_op, repeat_op, expand_op, gather_op, gather_elements_op, gather_nd_op,
            scatter_elements_op, scatter_nd_op, depth2space_op, shape_op, size_op, arange_op, range_op,
            constant_fill_op, copy_op, tuple_op, untuple_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::reshape_op::attributes, shape, flatten_start_dim);
BOOST_HANA_ADAPT_STRUCT(mixq::top::view_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::flatten_op::attributes, start_dim, end_dim);
BOOST_HANA_ADAPT_STRUCT(mixq::top::squeeze_op::attributes, axes, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::unsqueeze_op::attributes, axes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::permute_op::attributes, order);
BOOST_HANA_ADAPT_STRUCT(mixq::top::transpose_op::attributes, dim0, dim1);
BOOST_HANA_ADAPT_STRUCT(mixq::top::shuffle_channel_op::attributes, group);
BOOST_HANA_ADAPT_STRUCT(mixq::top::swap_channel_op::attributes, channel_order);
BOOST_HANA_ADAPT_STRUCT(mixq::top::reverse_op::attributes, axis);
BOOST_HANA_ADAPT_STRUCT(mixq::top::slice_op::attributes, offset, steps, ends, axes, hasparamConvert_axes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::slice_axis_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::strided_slice_op::attributes, begin_mask, end_mask, ellipsis_mask, new_axis_mask,
                        shrink_axis_mask);
BOOST_HANA_ADAPT_STRUCT(mixq::top::split_op::attributes, axis, num, split_size);
BOOST_HANA_ADAPT_STRUCT(mixq::top::concat_op::attributes, axis, do_relu, relu_limit, round_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::pack_op::attributes, axis, values_count);
BOOST_HANA_ADAPT_STRUCT(mixq::top::unpack_op::attributes, axis);
BOOST_HANA_ADAPT_STRUCT(mixq::top::pad_op::attributes, paddings, val, mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::tile_op::attributes, tile);
BOOST_HANA_ADAPT_STRUCT(mixq::top::repeat_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::expand_op::attributes, shape);
BOOST_HANA_ADAPT_STRUCT(mixq::top::gather_op::attributes, keepdims, axis, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::gather_elements_op::attributes, axis);
BOOST_HANA_ADAPT_STRUCT(mixq::top::gather_nd_op::attributes, indice_dims, batch_dims);
BOOST_HANA_ADAPT_STRUCT(mixq::top::scatter_elements_op::attributes, axis);
BOOST_HANA_ADAPT_STRUCT(mixq::top::scatter_nd_op::attributes, reduction);
BOOST_HANA_ADAPT_STRUCT(mixq::top::depth2space_op::attributes, block_h, block_w, is_CRD, is_inversed, in_is_NCHW,
                        out_is_NCHW, swap_cr);
BOOST_HANA_ADAPT_STRUCT(mixq::top::shape_op::attributes, start, end, step);
BOOST_HANA_ADAPT_STRUCT(mixq::top::size_op::attributes, axis);
BOOST_HANA_ADAPT_STRUCT(mixq::top::arange_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::range_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::constant_fill_op::attributes, value);
BOOST_HANA_ADAPT_STRUCT(mixq::top::copy_op::attributes, shape, input_stride, output_stride);
BOOST_HANA_ADAPT_STRUCT(mixq::top::tuple_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::untuple_op::attributes);
