#pragma once
// Shared by the dataset tests: a scratch folder, whole-file reads, running python.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "test_support.hpp"

// Catch2 v2 has no SKIP: a test whose data is missing warns and passes.
#define MIXQ_SKIP(why)                \
  do {                                \
    WARN("skipped: " << why);         \
    return;                           \
  } while (0)

namespace mixq::test {

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  REQUIRE(out);
  out << bytes;
}

/// A fresh folder under the system temp dir, removed at scope exit.
class scratch_dir {
 public:
  scratch_dir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("mixq_dataset_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::size_t count_files() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path_)) ++n;
    return n;
  }

 private:
  std::filesystem::path path_;
};

/// Runs a shell command, returning its standard output ("" and ok=false when it fails).
inline std::string run_command(const std::string& cmd, bool& ok) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    ok = false;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ok = ::pclose(p) == 0;
  return out;
}

inline bool have_python() {
  bool ok = false;
  run_command("/usr/bin/python3 -c 'import pathlib, random' 2>/dev/null", ok);
  return ok;
}

}  // namespace mixq::test
