#pragma once
// A minimal reader of the protobuf wire format: enough for ONNX files, without a protobuf
// runtime. Every read is bounds-checked; malformed input throws parse_error naming the file
// and the byte offset.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "mixq/core/error.hpp"

namespace mixq::onnx::detail {

enum class wire_type : std::uint8_t { varint = 0, fixed64 = 1, length_delimited = 2, start_group = 3, end_group = 4, fixed32 = 5 };

/// Reads one message's fields in order. `what` names the file (and message) for errors.
class wire_reader {
 public:
  wire_reader(std::string_view bytes, const std::string* what, std::size_t base_offset = 0)
      : data_(bytes), what_(what), base_(base_offset) {}

  bool done() const noexcept { return pos_ >= data_.size(); }
  std::size_t offset() const noexcept { return base_ + pos_; }

  /// Reads a field key; returns false at the end of the message.
  bool next(std::uint32_t& field, wire_type& type) {
    if (done()) return false;
    const std::uint64_t key = varint();
    field = static_cast<std::uint32_t>(key >> 3);
    const auto t = static_cast<std::uint8_t>(key & 7);
    if (field == 0 || t > 5 || t == 3 || t == 4) fail("invalid field key (corrupt or not a protobuf file)");
    type = static_cast<wire_type>(t);
    return true;
  }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) fail("truncated varint");
      const auto b = static_cast<std::uint8_t>(data_[pos_++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  std::int64_t int64() { return static_cast<std::int64_t>(varint()); }
  std::uint32_t fixed32() {
    need(4);
    std::uint32_t v;
    std::memcpy(&v, data_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }
  std::uint64_t fixed64() {
    need(8);
    std::uint64_t v;
    std::memcpy(&v, data_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  float float32() {
    const std::uint32_t b = fixed32();
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
  double float64() {
    const std::uint64_t b = fixed64();
    double d;
    std::memcpy(&d, &b, 8);
    return d;
  }
  /// A length-delimited payload (string, bytes, sub-message or packed array).
  std::string_view bytes() {
    const std::uint64_t n = varint();
    if (n > data_.size() - pos_) fail("length " + std::to_string(n) + " runs past the end of the data (truncated file?)");
    std::string_view s = data_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  /// A sub-message reader over the next length-delimited payload.
  wire_reader message() {
    const std::uint64_t n = varint();
    if (n > data_.size() - pos_) fail("length " + std::to_string(n) + " runs past the end of the data (truncated file?)");
    wire_reader sub(data_.substr(pos_, static_cast<std::size_t>(n)), what_, base_ + pos_);
    pos_ += static_cast<std::size_t>(n);
    return sub;
  }
  void skip(wire_type t) {
    switch (t) {
      case wire_type::varint: varint(); break;
      case wire_type::fixed64: need(8), pos_ += 8; break;
      case wire_type::length_delimited: bytes(); break;
      case wire_type::fixed32: need(4), pos_ += 4; break;
      default: fail("unsupported wire type");
    }
  }

  /// Appends a repeated scalar field given either packed or one element at a time.
  template <class T, class Read>
  void repeated(wire_type t, std::vector<T>& out, Read&& read_one) {
    if (t == wire_type::length_delimited) {
      wire_reader packed = message();
      while (!packed.done()) out.push_back(read_one(packed));
    } else {
      out.push_back(read_one(*this));
    }
  }

  [[noreturn]] void fail(const std::string& message) const {
    throw parse_error(what_ ? *what_ : std::string("<memory>"), "byte " + std::to_string(offset()) + ": " + message);
  }

 private:
  void need(std::size_t n) const {
    if (n > data_.size() - pos_) fail("truncated field");
  }

  std::string_view data_;
  const std::string* what_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

inline void expect(const wire_reader& r, wire_type got, wire_type want, const char* field) {
  if (got != want) r.fail(std::string("field '") + field + "' has the wrong wire type");
}

}  // namespace mixq::onnx::detail
