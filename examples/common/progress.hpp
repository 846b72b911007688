#pragma once
// Progress on stderr: a redrawn bar with rate and ETA on a terminal, plain lines every 10% (or
// every 10 s) otherwise, so CI logs stay readable.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace mixq::driver {

class progress_line {
 public:
  explicit progress_line(std::string label) : label_(std::move(label)), tty_(::isatty(2) != 0), start_(clock::now()), last_(start_) {}
  ~progress_line() { finish(); }
  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;

  void update(std::size_t done, std::size_t total) {
    done_ = done;
    total_ = total;
    const auto now = clock::now();
    const double elapsed = seconds(now - start_);
    if (tty_) {
      if (done != total && seconds(now - last_) < 0.1) return;
      last_ = now;
      std::fprintf(stderr, "\r%s", text(elapsed).c_str());
      std::fflush(stderr);
      drawn_ = true;
      return;
    }
    // Logs get a line every 10 s of a long stage, nothing for a short one (the driver's summary
    // line says how long each stage took).
    if (seconds(now - last_) >= 10 && elapsed >= 10) {
      last_ = now;
      std::fprintf(stderr, "%s\n", text(elapsed).c_str());
    }
  }

  void finish() {
    if (tty_ && drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  using clock = std::chrono::steady_clock;
  static double seconds(clock::duration d) { return std::chrono::duration<double>(d).count(); }

  std::string text(double elapsed) const {
    const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
    const double eta = rate > 0 && total_ >= done_ ? static_cast<double>(total_ - done_) / rate : 0;
    char buf[256];
    if (tty_) {
      const int width = 30;
      const int filled = total_ ? static_cast<int>(width * done_ / total_) : 0;
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, '.');
      std::snprintf(buf, sizeof buf, "%s [%s] %zu/%zu  %.1f/s  ETA %.0f s   ", label_.c_str(), bar.c_str(), done_, total_, rate, eta);
    } else {
      std::snprintf(buf, sizeof buf, "%s: %zu/%zu (%.1f/s, %.1f s elapsed, ETA %.0f s)", label_.c_str(), done_, total_, rate, elapsed, eta);
    }
    return buf;
  }

  std::string label_;
  bool tty_;
  clock::time_point start_, last_{};
  std::size_t done_ = 0, total_ = 0;
  bool drawn_ = false;
};

}  // namespace mixq::driver
