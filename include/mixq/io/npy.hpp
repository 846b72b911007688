#pragma once
// numpy's .npy format (versions 1.0, 2.0, 3.0): one array with a Python-literal header.
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mixq/core/dtype.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/io/atomic_file.hpp"
#include "mixq/io/zip.hpp"

namespace mixq {

/// What a .npy header declares, whether or not mixq can hold that array.
struct npy_header {
  std::string descr;          // numpy's dtype string as written ('<f4'), or the text of a structured dtype
  std::optional<dtype> elem;  // the mixq dtype, when supported
  bool fortran_order = false;
  shape_t shape;
  int major_version = 1;
};

namespace detail {

inline constexpr std::string_view npy_magic = "\x93NUMPY";

/// The subset of Python literals .npy headers use: dict, tuple/list, str, int, True/False/None.
struct py_literal {
  enum class kind { string, integer, boolean, none, sequence, dict };
  kind k = kind::none;
  std::string text;  // a string's value; for other kinds the literal's source text
  std::int64_t integer = 0;
  bool boolean = false;
  std::vector<py_literal> items;
  std::vector<std::pair<std::string, py_literal>> fields;
  const py_literal* field(std::string_view key) const noexcept {
    for (const auto& [k2, v] : fields)
      if (k2 == key) return &v;
    return nullptr;
  }
};

class py_literal_parser {
 public:
  py_literal_parser(std::string_view text, const std::string& what) : s_(text), what_(what) {}

  py_literal parse_all() {
    py_literal v = value(0);
    skip_space();
    if (pos_ != s_.size()) fail("unexpected text after the header dictionary");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    std::string shown(s_.substr(0, 160));
    if (s_.size() > 160) shown += "...";
    throw parse_error(what_, "malformed .npy header (" + problem + " at character " + std::to_string(pos_) + "): " + shown);
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }

  py_literal value(int depth) {
    // Real headers nest two levels at most (structured dtypes); a deep nest is an attack on the stack.
    if (depth > 32) fail("nesting is too deep");
    skip_space();
    if (pos_ >= s_.size()) fail("unexpected end");
    const std::size_t start = pos_;
    py_literal v;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.k = py_literal::kind::dict;
      while (!eat('}')) {
        py_literal key = value(depth + 1);
        if (key.k != py_literal::kind::string) fail("dictionary keys must be strings");
        expect(':');
        v.fields.emplace_back(std::move(key.text), value(depth + 1));
        if (!eat(',')) {
          expect('}');
          break;
        }
      }
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      ++pos_;
      v.k = py_literal::kind::sequence;
      while (!eat(close)) {
        v.items.push_back(value(depth + 1));
        if (!eat(',')) {
          expect(close);
          break;
        }
      }
    } else if (c == '\'' || c == '"') {
      ++pos_;
      v.k = py_literal::kind::string;
      while (true) {
        if (pos_ >= s_.size()) fail("unterminated string");
        char ch = s_[pos_++];
        if (ch == c) break;
        if (ch == '\\') {
          if (pos_ >= s_.size()) fail("unterminated string");
          ch = s_[pos_++];
        }
        v.text += ch;
      }
      return v;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.k = py_literal::kind::integer;
      const bool negative = c == '-';
      if (negative) ++pos_;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') fail("expected a digit");
      std::uint64_t magnitude = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        const auto digit = static_cast<std::uint64_t>(s_[pos_] - '0');
        if (magnitude > (std::uint64_t{1} << 62) / 10) fail("integer is too large");
        magnitude = magnitude * 10 + digit;
        ++pos_;
      }
      if (pos_ < s_.size() && (s_[pos_] == 'L' || s_[pos_] == 'l')) ++pos_;  // Python 2 long
      v.integer = negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
    } else if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      v.k = py_literal::kind::boolean;
      v.boolean = true;
    } else if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      v.k = py_literal::kind::boolean;
    } else if (s_.substr(pos_, 4) == "None") {
      pos_ += 4;
    } else {
      fail("unexpected character");
    }
    v.text = std::string(s_.substr(start, pos_ - start));
    return v;
  }

  std::string_view s_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

struct npy_type {
  std::optional<dtype> elem;
  bool swap_bytes = false;
};

/// '<f4' -> f32; '>i8' -> i64 with byte swapping; anything mixq cannot hold -> no elem.
inline npy_type npy_type_from_descr(std::string_view d) noexcept {
  npy_type t;
  char order = '=';
  if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
    order = d[0];
    d.remove_prefix(1);
  }
  if (d.size() != 2) return t;
  const char kind = d[0], size = d[1];
  if (kind == 'f' && size == '2') t.elem = dtype::f16;
  else if (kind == 'f' && size == '4') t.elem = dtype::f32;
  else if (kind == 'f' && size == '8') t.elem = dtype::f64;
  else if (kind == 'i' && size == '1') t.elem = dtype::i8;
  else if (kind == 'i' && size == '2') t.elem = dtype::i16;
  else if (kind == 'i' && size == '4') t.elem = dtype::i32;
  else if (kind == 'i' && size == '8') t.elem = dtype::i64;
  else if (kind == 'u' && size == '1') t.elem = dtype::u8;
  else if (kind == 'u' && size == '2') t.elem = dtype::u16;
  else if (kind == 'u' && size == '4') t.elem = dtype::u32;
  else if (kind == 'u' && size == '8') t.elem = dtype::u64;
  else if (kind == 'b' && size == '1') t.elem = dtype::boolean;
  else return t;
  const bool file_little = order == '<' || ((order == '=' || order == '|') && std::endian::native == std::endian::little);
  t.swap_bytes = size_of(*t.elem) > 1 && file_little != (std::endian::native == std::endian::little);
  return t;
}

/// numpy's descr for a mixq dtype; bf16 travels as uint16 because numpy has no bf16.
inline std::string npy_descr(dtype d) {
  const char order = std::endian::native == std::endian::little ? '<' : '>';
  switch (d) {
    case dtype::f32: return std::string(1, order) + "f4";
    case dtype::f64: return std::string(1, order) + "f8";
    case dtype::f16: return std::string(1, order) + "f2";
    case dtype::bf16: return std::string(1, order) + "u2";
    case dtype::i8: return "|i1";
    case dtype::u8: return "|u1";
    case dtype::i16: return std::string(1, order) + "i2";
    case dtype::u16: return std::string(1, order) + "u2";
    case dtype::i32: return std::string(1, order) + "i4";
    case dtype::u32: return std::string(1, order) + "u4";
    case dtype::i64: return std::string(1, order) + "i8";
    case dtype::u64: return std::string(1, order) + "u8";
    case dtype::boolean: return "|b1";
  }
  throw error("mixq: invalid dtype value");
}

inline npy_header parse_npy_header_text(std::string_view text, int major, const std::string& what) {
  const py_literal dict = py_literal_parser(text, what).parse_all();
  if (dict.k != py_literal::kind::dict) throw parse_error(what, "the .npy header is not a dictionary: " + dict.text);
  npy_header h;
  h.major_version = major;
  const py_literal* descr = dict.field("descr");
  const py_literal* fortran = dict.field("fortran_order");
  const py_literal* shape = dict.field("shape");
  if (!descr || !fortran || !shape)
    throw parse_error(what, "the .npy header lacks one of 'descr', 'fortran_order', 'shape': " + dict.text);
  if (descr->k == py_literal::kind::string) {
    h.descr = descr->text;
    h.elem = npy_type_from_descr(h.descr).elem;
  } else {
    h.descr = descr->text;  // a structured dtype: a list of fields
  }
  if (fortran->k != py_literal::kind::boolean)
    throw parse_error(what, "the .npy header's 'fortran_order' is not True or False: " + fortran->text);
  h.fortran_order = fortran->boolean;
  if (shape->k != py_literal::kind::sequence)
    throw parse_error(what, "the .npy header's 'shape' is not a tuple: " + shape->text);
  for (const auto& d : shape->items) {
    if (d.k != py_literal::kind::integer || d.integer < 0)
      throw parse_error(what, "the .npy header's 'shape' " + shape->text + " holds something other than a size");
    h.shape.push_back(d.integer);
  }
  return h;
}

/// Reads the magic, version and header; leaves the stream at the first data byte.
inline npy_header read_npy_header(byte_stream& in, const std::string& what) {
  std::byte prefix[12];
  if (in.remaining() < 10) throw parse_error(what, "too short to be a .npy array (" + std::to_string(in.remaining()) + " bytes)");
  in.read(prefix, 8);
  if (std::memcmp(prefix, npy_magic.data(), npy_magic.size()) != 0)
    throw parse_error(what, "not a .npy array (the \\x93NUMPY magic is missing)");
  const int major = std::to_integer<int>(prefix[6]), minor = std::to_integer<int>(prefix[7]);
  if (major < 1 || major > 3)
    throw parse_error(what, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor));
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  if (in.remaining() < len_bytes) throw parse_error(what, "the .npy header is truncated");
  in.read(prefix + 8, len_bytes);
  const std::uint64_t header_len = major == 1 ? load_le16(prefix + 8) : load_le32(prefix + 8);
  if (header_len > in.remaining())
    throw parse_error(what, "the .npy header is truncated (it declares " + std::to_string(header_len) + " bytes, " +
                                std::to_string(in.remaining()) + " remain)");
  std::string text(static_cast<std::size_t>(header_len), '\0');
  in.read(reinterpret_cast<std::byte*>(text.data()), text.size());
  return parse_npy_header_text(text, major, what);
}

/// Bytes of array data the header declares; throws when that does not fit in memory anyway.
inline std::uint64_t npy_data_bytes(const npy_header& h, const std::string& what) {
  constexpr std::uint64_t limit = std::uint64_t{1} << 62;
  std::uint64_t n = size_of(*h.elem);
  if (std::find(h.shape.begin(), h.shape.end(), 0) != h.shape.end()) return 0;
  for (const auto d : h.shape) {
    if (static_cast<std::uint64_t>(d) > limit / n)
      throw parse_error(what, "the .npy shape " + to_string(h.shape) + " is impossibly large");
    n *= static_cast<std::uint64_t>(d);
  }
  return n;
}

[[noreturn]] inline void fail_unsupported_dtype(const npy_header& h, const std::string& what) {
  if (h.descr.find('O') != std::string::npos && h.descr.size() <= 3)
    throw parse_error(what, "dtype '" + h.descr + "' is an object array (Python pickle), which mixq cannot read");
  if (!h.descr.empty() && (h.descr[0] == '[' || h.descr[0] == '{'))
    throw parse_error(what, "structured dtype " + h.descr + " is not supported (mixq reads plain numeric arrays)");
  throw parse_error(what, "dtype '" + h.descr +
                              "' is not supported (mixq reads bool, int8-64, uint8-64, float16, float32, float64)");
}

template <class Word>
inline void byteswap_all(std::byte* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    Word w;
    std::memcpy(&w, p + i * sizeof(Word), sizeof(Word));
    std::byte b[sizeof(Word)];
    std::memcpy(b, &w, sizeof(Word));
    std::reverse(b, b + sizeof(Word));
    std::memcpy(p + i * sizeof(Word), b, sizeof(Word));
  }
}

/// Column-major `src` (Fortran order) to row-major `dst`, both with logical shape `shape`.
template <class Word>
inline void fortran_to_c_order(const std::byte* src, std::byte* dst, const shape_t& shape) {
  const std::size_t rank = shape.size();
  std::vector<std::int64_t> fstride(rank, 1), index(rank, 0);
  for (std::size_t k = 1; k < rank; ++k) fstride[k] = fstride[k - 1] * shape[k - 1];
  const std::int64_t n = numel(shape);
  std::int64_t from = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::memcpy(dst + static_cast<std::size_t>(i) * sizeof(Word), src + static_cast<std::size_t>(from) * sizeof(Word), sizeof(Word));
    for (std::size_t k = rank; k-- > 0;) {  // odometer over the C-order index
      from += fstride[k];
      if (++index[k] < shape[k]) break;
      from -= fstride[k] * shape[k];
      index[k] = 0;
    }
  }
}

template <class F>
inline void with_word_type(std::size_t size, F&& f) {
  switch (size) {
    case 1: f(std::uint8_t{}); break;
    case 2: f(std::uint16_t{}); break;
    case 4: f(std::uint32_t{}); break;
    default: f(std::uint64_t{}); break;
  }
}

/// Reads the array data that follows the header into a fresh tensor (one copy, straight from
/// the source), then fixes byte order, bool values and Fortran order in place.
inline tensor read_npy_data(byte_stream& in, const npy_header& h, const std::string& what) {
  if (!h.elem) fail_unsupported_dtype(h, what);
  const std::uint64_t bytes = npy_data_bytes(h, what);
  if (bytes > in.remaining())
    throw parse_error(what, "truncated: shape " + to_string(h.shape) + " of '" + h.descr + "' needs " +
                                std::to_string(bytes) + " bytes of data, only " + std::to_string(in.remaining()) + " follow");
  if (bytes < in.remaining())
    throw parse_error(what, std::to_string(in.remaining() - bytes) + " unexpected bytes follow the array data");
  tensor t;
  try {
    t = tensor::empty(*h.elem, h.shape);
  } catch (const std::bad_alloc&) {
    throw error("mixq: " + what + ": cannot allocate " + std::to_string(bytes) + " bytes for the array");
  }
  in.read(t.raw(), static_cast<std::size_t>(bytes));
  in.finish();
  const std::size_t elem_size = size_of(*h.elem);
  const auto n = static_cast<std::size_t>(t.numel());
  if (npy_type_from_descr(h.descr).swap_bytes)
    with_word_type(elem_size, [&](auto word) { byteswap_all<decltype(word)>(t.raw(), n); });
  if (*h.elem == dtype::boolean) {
    // numpy treats any non-zero byte as True; a C++ bool must hold exactly 0 or 1.
    for (std::size_t i = 0; i < n; ++i) t.raw()[i] = static_cast<std::byte>(t.raw()[i] != std::byte{0});
  }
  if (h.fortran_order && h.shape.size() > 1 && n > 0) {
    tensor c = tensor::empty(*h.elem, h.shape);
    with_word_type(elem_size, [&](auto word) { fortran_to_c_order<decltype(word)>(t.raw(), c.raw(), h.shape); });
    t = std::move(c);
  }
  return t;
}

/// Magic, version and header for a C-order little-endian array of `t`'s type, padded like
/// numpy so that the data starts 64-byte aligned.
inline std::string npy_header_bytes(dtype elem, const shape_t& shape) {
  std::string dict = "{'descr': '" + npy_descr(elem) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  dict += shape.size() == 1 ? ",), }" : "), }";
  auto padded_header_len = [&](std::size_t prefix) { return (prefix + dict.size() + 1 + 63) / 64 * 64 - prefix; };
  // Version 1.0 counts the header in 16 bits; longer headers (very high rank) need 2.0.
  const int major = padded_header_len(10) <= 0xffff ? 1 : 2;
  const std::size_t header_len = padded_header_len(major == 1 ? 10 : 12);
  std::string out(npy_magic);
  out += static_cast<char>(major);
  out += '\0';
  if (major == 1) append_le16(out, header_len);
  else append_le32(out, header_len);
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out += '\n';
  return out;
}

inline void check_writable(const tensor& t, const std::string& what) {
  if (!t.defined()) throw error("mixq: cannot write " + what + ": the tensor holds no data");
}

inline std::string_view data_view(const tensor& t) noexcept {
  return {reinterpret_cast<const char*>(t.raw()), t.nbytes()};
}

}  // namespace detail

/// Parses a whole .npy file held in memory; `what` names it (file, or file/entry) in errors.
inline tensor parse_npy(std::string_view bytes, const std::string& what) {
  detail::memory_source src(bytes, what);
  detail::source_stream in(src, 0, src.size());
  const npy_header h = detail::read_npy_header(in, what);
  return detail::read_npy_data(in, h, what);
}

/// The .npy bytes of `t` (version 1.0 unless the header needs 2.0; bf16 becomes '<u2').
inline std::string serialize_npy(const tensor& t) {
  detail::check_writable(t, "a .npy array");
  std::string out = detail::npy_header_bytes(t.elem(), t.shape());
  out.append(detail::data_view(t));
  return out;
}

inline tensor read_npy(const std::string& path) {
  detail::file_source src(path);
  detail::source_stream in(src, 0, src.size());
  const npy_header h = detail::read_npy_header(in, path);
  return detail::read_npy_data(in, h, path);
}

/// Writes atomically: `path` is either left as it was or holds the whole new array.
inline void write_npy(const std::string& path, const tensor& t) {
  detail::check_writable(t, "'" + path + "'");
  atomic_file_writer out(path);
  out.write(detail::npy_header_bytes(t.elem(), t.shape()));
  out.write(detail::data_view(t));
  out.commit();
}

/// numpy has no bfloat16, so bf16 tensors are saved as uint16 bits: this turns such a uint16
/// tensor back into bf16 (a copy with the same bits). bf16 input is returned as is.
inline tensor as_bf16(const tensor& t) {
  if (t.elem() == dtype::bf16) return t;
  if (t.elem() != dtype::u16)
    throw error("mixq: as_bf16 reinterprets uint16 bits, but the tensor holds " + std::string(name(t.elem())));
  tensor out = tensor::empty(dtype::bf16, t.shape());
  std::memcpy(out.raw(), t.raw(), t.nbytes());
  return out;
}

}  // namespace mixq
