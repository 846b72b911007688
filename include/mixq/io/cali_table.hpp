#pragma once
// TPU-MLIR's calibration table ("cali_table"): the text file run_calibration writes and
// model_deploy imports (ImportCalibration.cpp). Rows are `<tensor> <threshold> <min> <max>`;
// `#` lines are comments, and a few of them are flags that switch to another block.
//
// The reader applies the importer's rules, so a table means to mixq what it means to TPU-MLIR,
// and accepts every older form (2022-23 tables with a short header, the 2024 `# mlir` lines,
// hand-made tables without any header, tpu-mq's fp8 tables). Where the importer aborts or
// silently drops a line, the reader skips the line and reports a warning with its line number.
// The writer produces the 2025-09 layout byte for byte (misspellings included).
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/io/atomic_file.hpp"

namespace mixq {

/// One threshold row: the tensor's name and three values, as double.
struct cali_row {
  std::string name;
  double threshold = 0;
  double min = 0;
  double max = 0;
  friend bool operator==(const cali_row&, const cali_row&) = default;
};

/// One `#weight_scale` row, `<consumer op>_weight <count> v1 ... v_count [rest]`, written by
/// external QAT tools. The importer reads the count and the scales and ignores the rest of the
/// line (tpu-mq puts the zero points there); `rest` keeps it verbatim so a rewrite loses nothing.
struct weight_scale_row {
  std::string name;
  std::vector<double> scales;
  std::string rest;
  friend bool operator==(const weight_scale_row&, const weight_scale_row&) = default;
};

/// The header fields TPU-MLIR writes. A field the file does not have stays empty.
struct cali_table_header {
  std::string mlir_version;    // "# mlir version: <v>[ cali version <c>]" (2024 on)
  std::string cali_version;    // "1.0" since 2025-09; empty before
  std::string mlir_file;       // "# mlir: <path>" (2024 on)
  std::string generated_time;  // "# genetated time: <python datetime>"
  std::string method;          // "# quantization threshold calculation method: kl" or "['kl']" (2025-09 on)
  std::optional<std::int64_t> histogram_bins;  // "# histogram number: 2048"
  bool fp8 = false;  // the threshold block is the fp8 one ("#tpu-mlir-fp8 caliration table", tpu-mq's "mqbench-fp8")
  std::optional<std::int64_t> sample_number;  // calibration batches used
  std::optional<std::int64_t> tune_number;
  /// Every comment line of the threshold block, as read (without a trailing '\r'): what
  /// TPU-MLIR's Python `CalibrationTable.dump` writes back in front of the rows.
  std::vector<std::string> lines;
  friend bool operator==(const cali_table_header&, const cali_table_header&) = default;
};

/// Which generation of the format a table was read from.
enum class cali_layout {
  headerless,  // rows only (hand-made tables)
  legacy,      // 2022-2023: "# genetated time" ... "# op_name    threshold    min    max"
  mlir_2024,   // 2024: "# mlir version:" and "# mlir:" first
  current,     // 2025-09 on: "cali version 1.0", the method line, a second "###"
  mqbench,     // tpu-mq's fp8 export ("# work_mode:mqbench-fp8 ...")
};

inline std::string_view to_string(cali_layout l) noexcept {
  switch (l) {
    case cali_layout::headerless: return "headerless";
    case cali_layout::legacy: return "legacy";
    case cali_layout::mlir_2024: return "mlir_2024";
    case cali_layout::current: return "current";
    case cali_layout::mqbench: return "mqbench";
  }
  return "?";
}

/// A whole table. Each block keeps its rows in file order; a name listed twice keeps both rows
/// (find() returns the later one, which is the one the importer's map ends up with).
struct cali_table {
  cali_table_header header;
  cali_layout layout = cali_layout::current;  // set by the reader; the writer ignores it
  std::vector<cali_row> rows;       // int8 thresholds (the block before any flag)
  std::vector<cali_row> int4_rows;  // "#int4_th": min = -th*8/7, max = th
  std::vector<cali_row> fp8_rows;   // the fp8 block; the whole table when header.fp8
  std::vector<std::string> asym_ops;  // "#asym_op": SiLU/GELU ops and their Conv/MatMul consumers
  std::vector<std::string> int4_ops;  // "#int4_op": ops search_qtable runs in INT4
  std::vector<weight_scale_row> weight_scales;  // "#weight_scale" / "#weight_scale_fp8"
  bool weight_scale_fp8 = false;                // which of the two flags introduced them

  const cali_row* find(std::string_view name) const noexcept { return find_in(rows, name); }
  const cali_row* find_int4(std::string_view name) const noexcept { return find_in(int4_rows, name); }
  const cali_row* find_fp8(std::string_view name) const noexcept { return find_in(fp8_rows, name); }
  /// The rows of the threshold block: fp8_rows for an fp8 table, rows otherwise.
  const std::vector<cali_row>& thresholds() const noexcept { return header.fp8 ? fp8_rows : rows; }
  /// No threshold row in any block.
  bool has_no_row() const noexcept { return rows.empty() && int4_rows.empty() && fp8_rows.empty(); }

  friend bool operator==(const cali_table&, const cali_table&) = default;

 private:
  static const cali_row* find_in(const std::vector<cali_row>& v, std::string_view name) noexcept {
    for (auto it = v.rbegin(); it != v.rend(); ++it)
      if (it->name == name) return &*it;
    return nullptr;
  }
};

/// Something a reader skipped or changed, at a line of a file.
struct file_warning {
  std::string file;
  std::size_t line = 0;  // 1-based
  std::string message;
  std::string to_string() const { return file + ":" + std::to_string(line) + ": " + message; }
};

namespace detail {

// std::regex's \s in the importer's patterns (ASCII whitespace).
inline bool is_regex_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

inline std::vector<std::string_view> split_on_space(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_regex_space(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !is_regex_space(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

inline bool is_blank(std::string_view line) noexcept {
  return std::all_of(line.begin(), line.end(), is_regex_space);
}

/// Whole-token number parsing: from_chars, so no locale and no partial reads.
inline std::optional<double> parse_double_token(std::string_view tok) {
  double v = 0;
  const auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (ec != std::errc{} || end != tok.data() + tok.size()) return std::nullopt;
  return v;
}

inline std::optional<std::int64_t> parse_int_token(std::string_view tok) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (ec != std::errc{} || end != tok.data() + tok.size()) return std::nullopt;
  return v;
}

/// The importer's row pattern, fully matched: `\S+\s+[-0-9.e]+\s+[-0-9.e]+\s+[-0-9.e]+`.
inline bool matches_cali_row(std::string_view line, const std::vector<std::string_view>& tokens) noexcept {
  if (line.empty() || is_regex_space(line.front()) || is_regex_space(line.back()) || tokens.size() != 4) return false;
  for (std::size_t i = 1; i < 4; ++i)
    for (char c : tokens[i])
      if (!((c >= '0' && c <= '9') || c == '-' || c == '.' || c == 'e')) return false;
  return true;
}

enum class cali_block { int8, weight_scale, int4, fp8, asym_op, int4_op };

/// The importer's flag test for a `#` line, in its order of precedence; nullopt for a plain comment.
inline std::optional<cali_block> cali_flag_of(std::string_view line) noexcept {
  if (line.empty() || line.front() != '#') return std::nullopt;
  auto has = [&](std::string_view s) { return line.find(s) != std::string_view::npos; };
  if (has("#weight_scale")) return cali_block::weight_scale;
  if (has("#int4_th")) return cali_block::int4;
  if (has("#tpu-mlir-fp8")) return cali_block::fp8;
  if (has("mqbench-fp8")) return cali_block::fp8;
  if (has("asym_op")) return cali_block::asym_op;
  if (has("int4_op")) return cali_block::int4_op;
  return std::nullopt;
}

inline bool strip_prefix(std::string_view& s, std::string_view prefix) noexcept {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

/// Fills the header fields a comment line carries.
inline void read_cali_header_line(std::string_view line, cali_table_header& h, const std::string& file,
                                  std::size_t line_no, std::vector<file_warning>& warnings) {
  auto number = [&](std::string_view text, std::optional<std::int64_t>& field, std::string_view what) {
    while (!text.empty() && is_regex_space(text.back())) text.remove_suffix(1);
    if (auto v = parse_int_token(text)) field = *v;
    else warnings.push_back({file, line_no, "the " + std::string(what) + " '" + std::string(text) + "' is not an integer; ignored"});
  };
  std::string_view rest = line;
  if (strip_prefix(rest, "# mlir version: ")) {
    const std::string_view marker = " cali version ";
    const std::size_t at = rest.rfind(marker);
    if (at != std::string_view::npos) {
      h.mlir_version = std::string(rest.substr(0, at));
      h.cali_version = std::string(rest.substr(at + marker.size()));
    } else {
      h.mlir_version = std::string(rest);
    }
  } else if (strip_prefix(rest, "# mlir: ")) {
    h.mlir_file = std::string(rest);
  } else if (strip_prefix(rest, "# genetated time: ") || strip_prefix(rest, "# generated time: ")) {
    h.generated_time = std::string(rest);
  } else if (strip_prefix(rest, "# quantization threshold calculation method: ")) {
    h.method = std::string(rest);
  } else if (strip_prefix(rest, "# histogram number: ")) {
    number(rest, h.histogram_bins, "histogram number");
  } else if (strip_prefix(rest, "# sample number: ")) {
    number(rest, h.sample_number, "sample number");
  } else if (strip_prefix(rest, "# tune number: ")) {
    number(rest, h.tune_number, "tune number");
  }
}

/// `inf` in a row becomes 6.5e4 (the importer's rule: an overflowed tensor still gets a usable
/// range); `-inf` likewise becomes -6.5e4.
inline bool replace_inf_tokens(std::string& line) {
  bool changed = false;
  std::string out;
  std::size_t i = 0;
  while (i < line.size()) {
    if (is_regex_space(line[i])) {
      out += line[i++];
      continue;
    }
    std::size_t j = i;
    while (j < line.size() && !is_regex_space(line[j])) ++j;
    const std::string_view tok(line.data() + i, j - i);
    if (tok == "inf" || tok == "-inf") {
      out += tok.front() == '-' ? "-6.5e4" : "6.5e4";
      changed = true;
    } else {
      out += tok;
    }
    i = j;
  }
  if (changed) line = std::move(out);
  return changed;
}

}  // namespace detail

namespace detail {

/// A whole text file; `what` says what it is in errors ("the calibration table").
inline std::string read_text_file(const std::string& path, std::string_view what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw error("mixq: cannot read " + std::string(what) + " '" + path + "': it is a directory");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int code = errno;
    throw error("mixq: cannot open " + std::string(what) + " '" + path + "'" +
                (code ? " (" + std::generic_category().message(code) + ")" : std::string()));
  }
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw error("mixq: cannot read " + std::string(what) + " '" + path + "'");
  return s.str();
}

}  // namespace detail

/// Parses a table held in memory; `file` names it in warnings and errors. Warnings go to
/// `warnings` when given. A text without any threshold row is an error.
inline cali_table parse_cali_table(std::string_view text, const std::string& file,
                                   std::vector<file_warning>* warnings = nullptr) {
  using detail::cali_block;
  std::vector<file_warning> local;
  std::vector<file_warning>& warn = warnings ? *warnings : local;
  cali_table t;
  cali_block block = cali_block::int8;
  bool any_row = false, saw_header_comment = false, mqbench = false;

  std::unordered_set<std::string> seen_int8, seen_int4, seen_fp8;
  auto read_row = [&](std::string line, std::size_t line_no, std::vector<cali_row>& into,
                      std::unordered_set<std::string>& seen) {
    if (detail::replace_inf_tokens(line))
      warn.push_back({file, line_no, "'inf' replaced by 6.5e4"});
    const auto tokens = detail::split_on_space(line);
    if (!detail::matches_cali_row(line, tokens)) {
      bool is_nan = false;
      for (std::size_t i = 1; i < tokens.size(); ++i) {
        std::string low(tokens[i]);
        for (char& c : low) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        if (low.find("nan") != std::string::npos) is_nan = true;
      }
      warn.push_back({file, line_no,
                      is_nan ? "skipped: a NaN value" : "skipped: not of the form '<name> <threshold> <min> <max>'"});
      return;
    }
    cali_row r;
    r.name = std::string(tokens[0]);
    double* fields[3] = {&r.threshold, &r.min, &r.max};
    for (std::size_t i = 0; i < 3; ++i) {
      const auto v = detail::parse_double_token(tokens[i + 1]);
      if (!v) {
        warn.push_back({file, line_no, "skipped: '" + std::string(tokens[i + 1]) + "' is not a number"});
        return;
      }
      *fields[i] = *v;
    }
    if (!seen.insert(r.name).second)
      warn.push_back({file, line_no, "'" + r.name + "' is listed again; this later row is the one used"});
    into.push_back(std::move(r));
    any_row = true;
  };

  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    std::string line(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();

    if (const auto flag = detail::cali_flag_of(line)) {
      block = *flag;
      if (block == cali_block::weight_scale) t.weight_scale_fp8 = line.find("#weight_scale_fp8") != std::string::npos;
      if (block == cali_block::fp8 && !any_row) {
        // The fp8 flag sits in the header: the whole table is an fp8 table.
        t.header.fp8 = true;
        mqbench = mqbench || line.find("mqbench-fp8") != std::string::npos;
        t.header.lines.push_back(line);
        saw_header_comment = true;
      }
      continue;
    }
    if (!line.empty() && line.front() == '#') {
      // A plain comment. The importer feeds it to the current block, where the row pattern rejects
      // it; in a name block it would become a name "#", which no op has.
      if (block == cali_block::int8 || (block == cali_block::fp8 && t.header.fp8)) {
        if (!any_row) saw_header_comment = true;
        detail::read_cali_header_line(line, t.header, file, line_no, warn);
        t.header.lines.push_back(line);
      }
      continue;
    }
    if (detail::is_blank(line)) continue;

    switch (block) {
      case cali_block::int8: read_row(std::move(line), line_no, t.rows, seen_int8); break;
      case cali_block::int4: read_row(std::move(line), line_no, t.int4_rows, seen_int4); break;
      case cali_block::fp8: read_row(std::move(line), line_no, t.fp8_rows, seen_fp8); break;
      case cali_block::asym_op: t.asym_ops.emplace_back(detail::split_on_space(line).front()); break;
      case cali_block::int4_op: t.int4_ops.emplace_back(detail::split_on_space(line).front()); break;
      case cali_block::weight_scale: {
        const auto tokens = detail::split_on_space(line);
        const auto count = tokens.size() >= 2 ? detail::parse_int_token(tokens[1]) : std::nullopt;
        if (!count || *count < 0 || static_cast<std::size_t>(*count) > tokens.size() - 2) {
          warn.push_back({file, line_no, "skipped: not of the form '<name>_weight <count> <count scales>'"});
          break;
        }
        weight_scale_row w;
        w.name = std::string(tokens[0]);
        bool ok = true;
        for (std::int64_t i = 0; i < *count && ok; ++i) {
          const auto v = detail::parse_double_token(tokens[static_cast<std::size_t>(i) + 2]);
          if (!v) ok = false;
          else w.scales.push_back(*v);
        }
        if (!ok) {
          warn.push_back({file, line_no, "skipped: a weight scale is not a number"});
          break;
        }
        const std::size_t used = static_cast<std::size_t>(*count) + 2;
        if (used < tokens.size()) {
          const char* from = tokens[used].data();
          const char* to = tokens.back().data() + tokens.back().size();
          w.rest = std::string(from, static_cast<std::size_t>(to - from));
        }
        t.weight_scales.push_back(std::move(w));
        break;
      }
    }
  }
  if (t.has_no_row()) throw parse_error(file, "has no calibration row ('<name> <threshold> <min> <max>')");

  if (mqbench) t.layout = cali_layout::mqbench;
  else if (!saw_header_comment) t.layout = cali_layout::headerless;
  else if (!t.header.mlir_version.empty() && !t.header.cali_version.empty()) t.layout = cali_layout::current;
  else if (!t.header.mlir_version.empty()) t.layout = cali_layout::mlir_2024;
  else t.layout = cali_layout::legacy;
  return t;
}

/// Reads a table file (see parse_cali_table). A file that cannot be opened is an error naming it.
inline cali_table read_cali_table(const std::string& path, std::vector<file_warning>* warnings = nullptr) {
  return parse_cali_table(detail::read_text_file(path, "the calibration table"), path, warnings);
}

/// How the writer lays out the part before the rows.
enum class cali_write_style {
  current,            // run_calibration's header since 2025-09, built from the header fields
  keep_header_lines,  // header.lines verbatim, as TPU-MLIR's CalibrationTable.dump rewrites a table
};

namespace detail {

/// Python's "{:.7f}" (glibc's %.7f prints the same digits; NaN is printed without a sign).
inline void append_fixed7(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "nan";
    return;
  }
  char buf[400];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 7);
  out.append(buf, r.ptr);
}

inline void append_row(std::string& out, const cali_row& r) {
  out += r.name;
  for (double v : {r.threshold, r.min, r.max}) {
    out += ' ';
    append_fixed7(out, v);
  }
  out += '\n';
}

}  // namespace detail

/// Python's repr() of a float: the shortest text that reads back to the same double, in fixed
/// notation for exponents -4..15 (with ".0" for whole numbers), else like "1e-05".
inline std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
  const std::size_t e = sci.find('e');
  const bool negative = sci.front() == '-';
  std::string digits;
  for (char c : sci.substr(negative ? 1 : 0, e - (negative ? 1 : 0)))
    if (c != '.') digits += c;
  const int exp10 = std::stoi(std::string(sci.substr(e + 1)));
  std::string out = negative ? "-" : "";
  if (exp10 < -4 || exp10 >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    out += ebuf;
  } else if (exp10 < 0) {
    out += "0." + std::string(static_cast<std::size_t>(-exp10 - 1), '0') + digits;
  } else {
    const std::size_t int_len = static_cast<std::size_t>(exp10) + 1;
    if (digits.size() <= int_len) out += digits + std::string(int_len - digits.size(), '0') + ".0";
    else out += digits.substr(0, int_len) + "." + digits.substr(int_len);
  }
  return out;
}

/// The bytes write_cali_table writes. With cali_write_style::current the header is the one
/// run_calibration writes:
///   # mlir version: <v> cali version 1.0 / # mlir: / # genetated time: /
///   # quantization threshold calculation method: / # histogram number: (or the fp8 line) /
///   # sample number: / ### / # tune number: / ### / # op_name    threshold    min    max
/// then the rows, then each non-empty section after a blank line and its flag line.
inline std::string format_cali_table(const cali_table& t, cali_write_style style = cali_write_style::current) {
  const cali_table_header& h = t.header;
  if (h.fp8 && !t.rows.empty())
    throw error("mixq: an fp8 calibration table cannot also hold int8 rows (every row after its fp8 flag is fp8)");
  std::string out;
  if (style == cali_write_style::current) {
    out += "# mlir version: " + h.mlir_version + " cali version " + (h.cali_version.empty() ? "1.0" : h.cali_version) + "\n";
    out += "# mlir: " + h.mlir_file + "\n";
    out += "# genetated time: " + h.generated_time + "\n";
    out += "# quantization threshold calculation method: " + h.method + "\n";
    if (h.fp8) out += "#tpu-mlir-fp8 caliration table\n";
    else out += "# histogram number: " + std::to_string(h.histogram_bins.value_or(2048)) + "\n";
    out += "# sample number: " + std::to_string(h.sample_number.value_or(0)) + "\n###\n";
    out += "# tune number: " + std::to_string(h.tune_number.value_or(0)) + "\n###\n";
    out += "# op_name    threshold    min    max\n";
  } else {
    for (const std::string& line : h.lines) out += line + "\n";
  }
  for (const cali_row& r : t.thresholds()) detail::append_row(out, r);

  auto section = [&](std::string_view flag) {
    out += "\n";
    out += flag;
    out += "\n";
  };
  if (!t.int4_rows.empty()) {
    section("#int4_th");
    for (const cali_row& r : t.int4_rows) detail::append_row(out, r);
  }
  if (!t.asym_ops.empty()) {
    section("#asym_op");
    for (const std::string& n : t.asym_ops) out += n + "\n";
  }
  if (!t.int4_ops.empty()) {
    section("#int4_op");
    for (const std::string& n : t.int4_ops) out += n + "\n";
  }
  if (!t.weight_scales.empty()) {
    section(t.weight_scale_fp8 ? "#weight_scale_fp8" : "#weight_scale");
    for (const weight_scale_row& w : t.weight_scales) {
      out += w.name + " " + std::to_string(w.scales.size());
      for (double v : w.scales) out += " " + python_float_repr(v);
      if (!w.rest.empty()) out += " " + w.rest;
      out += "\n";
    }
  }
  if (!h.fp8 && !t.fp8_rows.empty()) {
    section("#tpu-mlir-fp8 caliration table");
    for (const cali_row& r : t.fp8_rows) detail::append_row(out, r);
  }
  return out;
}

/// Writes a table atomically: `path` ends up with the whole new table or is left as it was.
inline void write_cali_table(const std::string& path, const cali_table& t,
                             cali_write_style style = cali_write_style::current) {
  write_file_atomically(path, format_cali_table(t, style));
}

/// Python's str(datetime.datetime.now()): "2026-01-31 12:34:56.789012" in local time (the
/// fraction is left out when it is exactly zero, as Python does).
inline std::string tpu_mlir_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
#if MIXQ_HAVE_UNISTD
  ::localtime_r(&secs, &tm);
#else
  tm = *std::localtime(&secs);
#endif
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  if (micros != 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(micros < 0 ? micros + 1000000 : micros));
    out += frac;
  }
  return out;
}

// ---- TPU-MLIR's names for the files around a table -------------------------------------------

/// The untuned table run_calibration writes before tuning: `<cali>.1`.
inline std::string cali_untuned_path(std::string_view cali) { return std::string(cali) + ".1"; }

/// A per-method table of the multi-method flows (search_threshold, search_qtable): `<cali>_<m>.1`
/// before tuning, or `<cali>_<m>` when tune_num <= 0 (no tuning follows).
inline std::string cali_method_path(std::string_view cali, std::string_view method, bool tuning_follows) {
  std::string p = std::string(cali) + "_" + std::string(method);
  if (tuning_follows) p += ".1";
  return p;
}

/// A per-method table after tuning: `<cali>_<m>_tune`.
inline std::string cali_method_tuned_path(std::string_view cali, std::string_view method) {
  return std::string(cali) + "_" + std::string(method) + "_tune";
}

/// A side file run_calibration puts next to the table (`kurtosis_analysis`,
/// `shape_pattern_qtable`): in the table's folder when the `-o` path names one, else in the
/// current folder.
inline std::string cali_sibling_path(std::string_view cali, std::string_view file_name) {
  const std::size_t slash = cali.rfind('/');
  if (slash == std::string_view::npos) return std::string(file_name);
  return std::string(cali.substr(0, slash + 1)) + std::string(file_name);
}

}  // namespace mixq
