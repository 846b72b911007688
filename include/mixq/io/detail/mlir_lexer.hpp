#pragma once
// Character-level scanning and spelling rules shared by the .mlir reader, writer and graph comparison.
// The reader is a recursive-descent parser working directly on the text (no token stream), because
// dialect attributes and quantized types must be captured verbatim, whitespace included.
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/half.hpp"
#include "mixq/core/tensor.hpp"

namespace mixq::detail {

inline bool is_letter(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
inline bool is_hex_digit(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
/// Characters MLIR allows after the first one of a bare identifier.
inline bool is_bare_id_char(char c) noexcept { return is_letter(c) || is_digit(c) || c == '_' || c == '$' || c == '.'; }
/// Characters of the suffix of `%name`, `#alias`, `^bb`, `@sym` (MLIR's suffix-id).
inline bool is_suffix_id_char(char c) noexcept { return is_bare_id_char(c) || c == '-'; }

/// True when `s` can be printed without quotes (attribute names, symbol names).
inline bool is_bare_identifier(std::string_view s) noexcept {
  if (s.empty() || !(is_letter(s[0]) || s[0] == '_')) return false;
  for (char c : s)
    if (!is_bare_id_char(c)) return false;
  return true;
}

/// MLIR's string escaping: printable ASCII stays, `\` doubles, everything else is `\XX` (hex).
inline void append_escaped_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  out += '"';
  for (unsigned char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f && c != '"') {
      out += static_cast<char>(c);
    } else {
      out += '\\';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  out += '"';
}

inline void append_identifier(std::string& out, std::string_view s) {
  if (is_bare_identifier(s)) out += s;
  else append_escaped_string(out, s);
}

/// `tensor<1x3xf32>`, `tensor<f32>`, `tensor<4x!quant.calibrated<f32<-1:1>>>`, `none`.
inline void append_type(std::string& out, const tensor_type& t) {
  if (t.is_none) {
    out += "none";
    return;
  }
  out += "tensor<";
  for (auto d : t.shape) {
    out += std::to_string(d);
    out += 'x';
  }
  if (!t.quant.empty()) out += t.quant;
  else out += mlir_name(t.elem);
  out += '>';
}
inline std::string type_text(const tensor_type& t) {
  std::string s;
  append_type(s, t);
  return s;
}

/// The bits of `v` rounded to a float type, as MLIR prints NaN/inf (`0x7FC00000`); 0 bits when the type has no
/// fixed layout mixq knows (then double is used).
inline std::uint64_t float_bits(double v, std::string_view type) noexcept {
  if (type == "f32") return std::bit_cast<std::uint32_t>(static_cast<float>(v));
  if (type == "f16") return float16(static_cast<float>(v)).bits;
  if (type == "bf16") return bfloat16(static_cast<float>(v)).bits;
  return std::bit_cast<std::uint64_t>(v);
}
/// The value of a hex bit pattern in a float type.
inline double float_from_bits(std::uint64_t bits, std::string_view type) noexcept {
  if (type == "f32") return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
  if (type == "f16") return static_cast<double>(float16::to_float(static_cast<std::uint16_t>(bits)));
  if (type == "bf16") return static_cast<double>(bfloat16::to_float(static_cast<std::uint16_t>(bits)));
  return std::bit_cast<double>(bits);
}
/// How many bits the hex literal of a float type may have.
inline int float_type_width(std::string_view type) noexcept {
  if (type == "f32") return 32;
  if (type == "f16" || type == "bf16") return 16;
  return 64;
}
/// `v` rounded to the precision of `type` and back.
inline double round_to_float_type(double v, std::string_view type) noexcept {
  if (v != v) return v;
  return float_from_bits(float_bits(v, type), type);
}

/// MLIR's float spelling: `%.6e` when that reads back to the same value at the type's precision,
/// else the shortest round-trip decimal (always with a '.', which the MLIR lexer needs), and NaN/inf as
/// their hex bit pattern.
inline void append_float(std::string& out, double v, std::string_view type) {
  const double rounded = round_to_float_type(v, type);
  const bool finite = rounded == rounded && rounded - rounded == 0.0;
  if (!finite) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llX", static_cast<unsigned long long>(float_bits(rounded, type)));
    out += buf;
    return;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6e", rounded);
  if (std::bit_cast<std::uint64_t>(round_to_float_type(std::strtod(buf, nullptr), type)) ==
      std::bit_cast<std::uint64_t>(rounded)) {
    out += buf;
    return;
  }
  std::to_chars_result r;
  if (type == "f32" || type == "f16" || type == "bf16") r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(rounded));
  else r = std::to_chars(buf, buf + sizeof buf, rounded);
  std::string s(buf, r.ptr);
  if (s.find('.') == std::string::npos) {
    const auto e = s.find('e');
    if (e == std::string::npos) s += ".0";
    else s.insert(e, ".0");
  }
  out += s;
}

/// Where an offset is, 1-based, for messages.
struct text_position {
  std::size_t line = 1, column = 1;
};
inline text_position position_of(std::string_view text, std::size_t offset) noexcept {
  text_position p;
  if (offset > text.size()) offset = text.size();
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

/// A read position in .mlir text with the small scanning primitives the parser is built from.
class mlir_cursor {
 public:
  mlir_cursor(std::string_view text, std::string file) : text_(text), file_(std::move(file)) {}

  std::string_view text() const noexcept { return text_; }
  const std::string& file() const noexcept { return file_; }
  std::size_t pos() const noexcept { return pos_; }
  void seek(std::size_t p) noexcept { pos_ = p; }
  bool at_end() const noexcept { return pos_ >= text_.size(); }
  char peek(std::size_t ahead = 0) const noexcept {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  [[noreturn]] void fail_at(std::size_t offset, const std::string& message) const {
    const text_position p = position_of(text_, offset);
    throw parse_error(file_, p.line, p.column, message);
  }
  [[noreturn]] void fail(const std::string& message) const { fail_at(pos_, message); }

  /// Skips whitespace and `//` comments.
  void skip_space() noexcept {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '/' && peek(1) == '/') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }
  /// After skipping space: does the text continue with `s`?
  bool looking_at(std::string_view s) {
    skip_space();
    return text_.substr(pos_, s.size()) == s;
  }
  /// Like looking_at, but `s` must be a whole word (not followed by an identifier character).
  bool looking_at_word(std::string_view s) {
    return looking_at(s) && !is_suffix_id_char(peek(s.size()));
  }
  bool accept(std::string_view s) {
    if (!looking_at(s)) return false;
    pos_ += s.size();
    return true;
  }
  bool accept_word(std::string_view s) {
    if (!looking_at_word(s)) return false;
    pos_ += s.size();
    return true;
  }
  void expect(std::string_view s, std::string_view what_for) {
    if (accept(s)) return;
    fail("expected '" + std::string(s) + "' " + std::string(what_for) + ", found " + describe_here());
  }

  /// What is at the cursor, for "expected X, found Y" messages.
  std::string describe_here() {
    skip_space();
    if (at_end()) return "the end of the file";
    std::size_t n = 0;
    while (pos_ + n < text_.size() && n < 16 && text_[pos_ + n] != '\n' && (n == 0 || text_[pos_ + n] != ' ')) ++n;
    return "'" + std::string(text_.substr(pos_, n)) + "'";
  }

  /// `[a-zA-Z_][a-zA-Z0-9_$.]*`, or empty (cursor unchanged) when there is none.
  std::string_view bare_id() {
    skip_space();
    if (!(is_letter(peek()) || peek() == '_')) return {};
    const std::size_t start = pos_;
    while (pos_ < text_.size() && is_bare_id_char(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  /// The suffix after a sigil (`%`, `#`, `^`, `@`): `[a-zA-Z0-9_$.-]+`.
  std::string_view suffix_id() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && is_suffix_id_char(text_[pos_])) ++pos_;
    if (pos_ == start) fail("expected a name after '" + std::string(1, start ? text_[start - 1] : ' ') + "'");
    return text_.substr(start, pos_ - start);
  }

  /// A `"..."` literal with MLIR escapes (`\"`, `\\`, `\n`, `\t`, `\XX`). The cursor must be on the quote.
  std::string string_literal() {
    skip_space();
    const std::size_t start = pos_;
    if (peek() != '"') fail("expected a string, found " + describe_here());
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') fail_at(start, "unterminated string literal");
      const char c = text_[pos_++];
      if (c == '"') break;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail_at(start, "unterminated string literal");
      const char e = text_[pos_];
      if (e == '"' || e == '\\') {
        out += e;
        ++pos_;
      } else if (e == 'n') {
        out += '\n';
        ++pos_;
      } else if (e == 't') {
        out += '\t';
        ++pos_;
      } else if (is_hex_digit(e) && pos_ + 1 < text_.size() && is_hex_digit(text_[pos_ + 1])) {
        out += static_cast<char>(std::stoi(std::string(text_.substr(pos_, 2)), nullptr, 16));
        pos_ += 2;
      } else {
        fail_at(pos_ - 1, "unknown escape sequence in string literal");
      }
    }
    return out;
  }
  void skip_string_literal() { (void)string_literal(); }

  /// Moves past a bracketed group starting at the cursor (`<`, `(`, `[` or `{`), nested groups and strings
  /// included; `->` and `>=` do not close a `<`.
  void skip_balanced() {
    const std::size_t start = pos_;
    std::string closers;
    do {
      if (pos_ >= text_.size()) fail_at(start, "unterminated '" + std::string(1, text_[start]) + "' group");
      const char c = text_[pos_];
      if (c == '"') {
        skip_string_literal();
        continue;
      }
      if (c == '-' && peek(1) == '>') {
        pos_ += 2;
        continue;
      }
      if (c == '<' || c == '(' || c == '[' || c == '{') {
        closers += c == '<' ? '>' : c == '(' ? ')' : c == '[' ? ']' : '}';
      } else if (c == '>' && peek(1) == '=') {
        ++pos_;
      } else if (c == '>' || c == ')' || c == ']' || c == '}') {
        if (closers.empty() || closers.back() != c) fail("unbalanced '" + std::string(1, c) + "'");
        closers.pop_back();
      }
      ++pos_;
    } while (!closers.empty());
  }

 private:
  std::string_view text_;
  std::string file_;
  std::size_t pos_ = 0;
};

}  // namespace mixq::detail
