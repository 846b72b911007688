#pragma once
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
  const std::string& file() const noexcept { return file_; }

 private:
  std::string file_;
};

namespace detail {
[[noreturn]] inline void fail(const std::string& message) { throw error(message); }
inline void check(bool ok, const std::string& message) {
  if (!ok) throw error(message);
}
}  // namespace detail

}  // namespace mixq
