#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace mixq {

/// Every failure mixq reports is a mixq::error: a single readable sentence that
/// names the file (when there is one) and the place in it.
class error : public std::runtime_error {
 public:
  explicit error(const std::string& what) : std::runtime_error(what) {}
};

/// Thrown for malformed input files; `where()` is the file path or "<memory>".
class parse_error : public error {
 public:
  parse_error(std::string file, const std::string& message)
      : error(file + ": " + message), file_(std::move(file)) {}
  /// "file:line:col: message", the form compilers use, for errors at a known place in a text file.
  parse_error(std::string file, std::size_t line, std::size_t column, const std::string& message)
      : error(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message),
        file_(std::move(file)), line_(line), column_(column) {}
  const std::string& file() const noexcept { return file_; }
  /// 1-based; 0 when the error has no position.
  std::size_t line() const noexcept { return line_; }
  std::size_t column() const noexcept { return column_; }

 private:
  std::string file_;
  std::size_t line_ = 0, column_ = 0;
};

namespace detail {
[[noreturn]] inline void fail(const std::string& message) { throw error(message); }
inline void check(bool ok, const std::string& message) {
  if (!ok) throw error(message);
}
}  // namespace detail

}  // namespace mixq
