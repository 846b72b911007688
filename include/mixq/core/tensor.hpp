#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "mixq/core/buffer_cache.hpp"
#include "mixq/core/dtype.hpp"
#include "mixq/core/error.hpp"

namespace mixq {

using shape_t = std::vector<std::int64_t>;

inline std::int64_t numel(const shape_t& s) noexcept {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

/// `1x3x48x192` (the MLIR spelling, also used in messages).
inline std::string to_string(const shape_t& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(s[i]);
  }
  return out;
}

/// Row-major strides in elements.
inline shape_t strides_of(const shape_t& s) {
  shape_t st(s.size(), 1);
  for (std::size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

/// Static type of an SSA value: element type and shape, or `none` (top.None).
/// `quant` keeps a quantized element type verbatim (e.g. `!quant.calibrated<f32<-1.5:2.0>>`) so that
/// calibrated or lowered files print back unchanged; `elem` is then its expressed (or storage) type.
struct tensor_type {
  dtype elem = dtype::f32;
  shape_t shape;
  bool is_none = false;
  std::string quant;

  tensor_type() = default;
  tensor_type(dtype e, shape_t s, std::string quantized = {}) : elem(e), shape(std::move(s)), quant(std::move(quantized)) {}
  static tensor_type none() {
    tensor_type t;
    t.is_none = true;
    return t;
  }
  std::int64_t numel() const noexcept { return mixq::numel(shape); }
  friend bool operator==(const tensor_type&, const tensor_type&) = default;
};

namespace detail {
inline constexpr std::size_t tensor_alignment = buffer_cache::alignment;
struct buffer_release {
  std::size_t bytes;
  void operator()(std::byte* p) const noexcept { buffer_cache::release(p, bytes); }
};
}  // namespace detail

/// A dense row-major n-d array with shared, 64-byte aligned storage. Copies share
/// the buffer (cheap, like a shared_ptr); `clone()` makes a deep copy.
class tensor {
 public:
  tensor() = default;

  /// Uninitialised storage: kernels overwrite every element.
  static tensor empty(dtype dt, shape_t shape) {
    tensor t;
    t.dtype_ = dt;
    t.shape_ = std::move(shape);
    for (auto d : t.shape_)
      if (d < 0) throw error("mixq: tensor shape " + to_string(t.shape_) + " has a negative dimension");
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * size_of(dt);
    t.bytes_ = bytes;
    // Round up so that SIMD tails may read (never write) a full vector past the end.
    const std::size_t alloc = (bytes + detail::tensor_alignment) & ~(detail::tensor_alignment - 1);
    t.buffer_ = std::shared_ptr<std::byte[]>(detail::buffer_cache::allocate(alloc), detail::buffer_release{alloc});
    return t;
  }
  static tensor zeros(dtype dt, shape_t shape) {
    tensor t = empty(dt, std::move(shape));
    std::memset(t.raw(), 0, t.bytes_);
    return t;
  }
  template <class T>
  static tensor from_vector(shape_t shape, const std::vector<T>& values) {
    tensor t = empty(dtype_of<T>(), std::move(shape));
    if (static_cast<std::size_t>(t.numel()) != values.size())
      throw error("mixq: " + std::to_string(values.size()) + " values do not fill shape " + to_string(t.shape_));
    if constexpr (std::is_same_v<T, bool>) {
      for (std::size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i];
    } else if (!values.empty()) {  // an empty vector's data() may be null, which memcpy must not see
      std::memcpy(t.raw(), values.data(), t.bytes_);
    }
    return t;
  }
  template <class T>
  static tensor scalar(T v) {
    return from_vector<T>({}, std::vector<T>{v});
  }

  bool defined() const noexcept { return buffer_ != nullptr; }
  explicit operator bool() const noexcept { return defined(); }
  dtype elem() const noexcept { return dtype_; }
  const shape_t& shape() const noexcept { return shape_; }
  std::size_t rank() const noexcept { return shape_.size(); }
  std::int64_t dim(std::size_t i) const { return shape_.at(i); }
  std::int64_t numel() const noexcept { return mixq::numel(shape_); }
  std::size_t nbytes() const noexcept { return bytes_; }
  tensor_type type() const { return tensor_type{dtype_, shape_}; }
  /// How many tensors share this buffer (1: safe to write in place).
  long use_count() const noexcept { return buffer_.use_count(); }

  std::byte* raw() noexcept { return buffer_.get(); }
  const std::byte* raw() const noexcept { return buffer_.get(); }

  template <class T> T* data() {
    check_dtype<T>();
    return reinterpret_cast<T*>(buffer_.get());
  }
  template <class T> const T* data() const {
    check_dtype<T>();
    return reinterpret_cast<const T*>(buffer_.get());
  }
  template <class T> std::span<T> values() { return {data<T>(), static_cast<std::size_t>(numel())}; }
  template <class T> std::span<const T> values() const { return {data<T>(), static_cast<std::size_t>(numel())}; }

  /// Same buffer, new shape with the same element count.
  tensor reshaped(shape_t shape) const {
    if (mixq::numel(shape) != numel())
      throw error("mixq: cannot reshape " + to_string(shape_) + " to " + to_string(shape));
    tensor t = *this;
    t.shape_ = std::move(shape);
    return t;
  }
  /// A view of numel(shape) elements starting at element `offset`, sharing (and keeping alive)
  /// this buffer. Lets a caller run a kernel on part of a tensor without copying it; the
  /// view's data need not be 64-byte aligned.
  tensor flat_view(std::int64_t offset, shape_t shape) const {
    const std::int64_t n = mixq::numel(shape);
    if (offset < 0 || n < 0 || offset + n > numel())
      throw error("mixq: a view of " + std::to_string(n) + " elements at " + std::to_string(offset) + " does not fit in " +
                  to_string(shape_));
    tensor t;
    t.dtype_ = dtype_;
    t.shape_ = std::move(shape);
    t.bytes_ = static_cast<std::size_t>(n) * size_of(dtype_);
    t.buffer_ = std::shared_ptr<std::byte[]>(buffer_, buffer_.get() + static_cast<std::size_t>(offset) * size_of(dtype_));
    return t;
  }
  tensor clone() const {
    if (!defined()) return {};
    tensor t = empty(dtype_, shape_);
    std::memcpy(t.raw(), raw(), bytes_);
    return t;
  }
  /// Element-wise conversion to another dtype (values pass through double).
  tensor cast(dtype to) const;

 private:
  template <class T> void check_dtype() const {
    if (dtype_of<T>() != dtype_)
      throw error("mixq: tensor holds " + std::string(name(dtype_)) + ", accessed as " +
                  std::string(name(dtype_of<T>())));
  }

  dtype dtype_ = dtype::f32;
  shape_t shape_;
  std::size_t bytes_ = 0;
  std::shared_ptr<std::byte[]> buffer_;
};

inline tensor tensor::cast(dtype to) const {
  if (to == dtype_) return *this;
  tensor out = empty(to, shape_);
  const auto n = static_cast<std::size_t>(numel());
  visit_dtype(dtype_, [&](auto src_tag) {
    using S = typename decltype(src_tag)::type;
    const S* src = reinterpret_cast<const S*>(raw());
    visit_dtype(to, [&](auto dst_tag) {
      using D = typename decltype(dst_tag)::type;
      D* dst = reinterpret_cast<D*>(out.raw());
      for (std::size_t i = 0; i < n; ++i) dst[i] = from_double<D>(to_double(src[i]));
    });
  });
  return out;
}

/// Reads element i of any tensor as double.
inline double element_as_double(const tensor& t, std::int64_t i) {
  return visit_dtype(t.elem(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return to_double(reinterpret_cast<const T*>(t.raw())[i]);
  });
}

/// All elements as int64 (for shape-carrying tensors).
inline std::vector<std::int64_t> to_int64_vector(const tensor& t) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(t.numel()));
  if (t.numel() == 0) return v;  // memcpy must not see the null buffers of empty tensors
  if (t.elem() == dtype::i64) {
    std::memcpy(v.data(), t.raw(), t.nbytes());
    return v;
  }
  for (std::int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(element_as_double(t, i));
  return v;
}

/// Tensors looked up by name (model inputs and outputs). File order, where it matters, is kept by the npz reader.
using named_tensors = std::map<std::string, tensor, std::less<>>;

}  // namespace mixq
