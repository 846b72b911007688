#pragma once
// TPU-MLIR's quantize table ("qtable", `--quantize_table`): one `<op name> <MODE> [group_size]`
// line per op that gets a precision other than the global one. Read with the rules of
// ConvertTopToTpu::init_qtable; written in the 2026 `QuantizeTable.dump` layout or the older
// fp_forward / run_sensitive_layer layout. (Which modes a processor accepts, and how it rewrites
// them, belongs to the processor targets, not to the file format.)
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/io/atomic_file.hpp"
#include "mixq/io/cali_table.hpp"

namespace mixq {

/// TPU-MLIR's Module_Mode names: the modes a qtable line may ask for.
inline constexpr std::array<std::string_view, 24> quantize_modes = {
    "INT8",        "UINT8",         "INT4",        "BF16",          "F16",        "F32",
    "W8F16",       "W8BF16",        "W4F16",       "W4BF16",        "F8",         "F8E4M3",
    "F8E5M2",      "W4F8E4M3",      "W4F8E5M2",    "W4INT8",        "INT8F16DYN", "INT8BF16DYN",
    "INT4F16DYN",  "INT4BF16DYN",   "F8E4M3F16DYN", "F8E4M3BF16DYN", "F4F16DYN",  "F4BF16DYN"};

inline bool is_quantize_mode(std::string_view mode) noexcept {
  for (std::string_view m : quantize_modes)
    if (m == mode) return true;
  return false;
}

/// One qtable line. `mode` is upper-cased (the importer compares upper-case names).
struct qtable_entry {
  std::string name;
  std::string mode;
  std::optional<std::int64_t> group_size;  // the optional third column: a per-op q_group_size
  friend bool operator==(const qtable_entry&, const qtable_entry&) = default;
};

/// The entries of a qtable in file order. A name listed twice keeps both entries; find() returns
/// the later one, which is what the importer's map ends up with.
struct quantize_table {
  std::vector<qtable_entry> entries;

  const qtable_entry* find(std::string_view name) const noexcept {
    for (auto it = entries.rbegin(); it != entries.rend(); ++it)
      if (it->name == name) return &*it;
    return nullptr;
  }
  bool empty() const noexcept { return entries.empty(); }
  std::size_t size() const noexcept { return entries.size(); }
  friend bool operator==(const quantize_table&, const quantize_table&) = default;
};

namespace detail {

inline std::string upper_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

inline std::string quantize_mode_list() {
  std::string out;
  for (std::string_view m : quantize_modes) {
    if (!out.empty()) out += ' ';
    out += m;
  }
  return out;
}

inline std::string checked_mode(std::string_view mode, const std::string& where) {
  std::string up = upper_ascii(mode);
  if (!is_quantize_mode(up))
    throw error(where + ": unknown quantize mode '" + std::string(mode) + "' (expected one of: " + quantize_mode_list() + ")");
  return up;
}

}  // namespace detail

/// Parses qtable text; `file` names it in errors. Blank lines and `#` lines are skipped; every
/// other line must be `<name> <MODE>` or `<name> <MODE> <group_size>` (the importer's
/// `\S+\s+\S+(\s+-?\d+)?`), or it is an error naming file:line.
inline quantize_table parse_qtable(std::string_view text, const std::string& file) {
  quantize_table q;
  std::size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (detail::is_blank(line) || line.front() == '#') continue;
    const std::string where = file + ":" + std::to_string(line_no);
    // Trailing blanks are tolerated (the importer's full match would abort on them).
    while (!line.empty() && detail::is_regex_space(line.back())) line.remove_suffix(1);
    const auto tokens = detail::split_on_space(line);
    std::optional<std::int64_t> group;
    bool ok = !detail::is_regex_space(line.front()) && (tokens.size() == 2 || tokens.size() == 3);
    if (ok && tokens.size() == 3) {
      std::string_view g = tokens[2];
      const bool digits = !g.empty() && g.find_first_not_of("0123456789", g.front() == '-' ? 1 : 0) == std::string_view::npos &&
                          g != "-";
      if (digits) group = detail::parse_int_token(g);
      ok = group.has_value();
    }
    if (!ok)
      throw error(where + ": expected '<op name> <quantize mode> [group size]', got '" + std::string(line) + "'");
    q.entries.push_back({std::string(tokens[0]), detail::checked_mode(tokens[1], where), group});
  }
  return q;
}

/// Reads a qtable file; a file that cannot be opened is an error naming it.
inline quantize_table read_qtable(const std::string& path) {
  return parse_qtable(detail::read_text_file(path, "the quantize table"), path);
}

/// `--quantize_table` as model_deploy takes it: a file, or, when no file of that name exists
/// and the text is at most 256 characters, the inline form `name:MODE,name2:MODE2`. Each item is
/// split at its last ':', so names such as `onnx::Gemm_12` work.
inline quantize_table parse_qtable_argument(const std::string& arg) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(arg, ec) || arg.size() > 256) return read_qtable(arg);
  quantize_table q;
  std::size_t pos = 0;
  while (pos <= arg.size()) {
    const std::size_t comma = arg.find(',', pos);
    const std::string item = arg.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? arg.size() + 1 : comma + 1;
    const std::size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size() ||
        item.find_first_of(" \t") != std::string::npos)
      throw error("mixq: quantize table '" + arg + "' is neither a file nor a list of 'name:MODE' items (item '" + item + "')");
    q.entries.push_back({item.substr(0, colon), detail::checked_mode(item.substr(colon + 1), "mixq: quantize table '" + arg + "'"), std::nullopt});
  }
  return q;
}

/// What run_calibration's QuantizeTable.dump (2026) writes: the layers found by the pattern
/// matcher, the shape-op analysis and --part_quantize, each with its mode.
struct qtable_report {
  std::string generated_time;  // str(datetime.now()); see tpu_mlir_timestamp()
  std::int64_t sample_number = 0;
  std::string chip = "bm1684x";
  std::vector<qtable_entry> pattern_layers;
  std::vector<qtable_entry> shape_layers;
  std::vector<qtable_entry> custom_layers;
  std::string part_quant_mode;   // "N_mode" / "H_mode" / "custom_mode" with --part_quantize, else empty
  std::string custom_operators;  // --custom_operator, e.g. "Conv,MatMul" (printed when not empty)
  std::vector<std::string> logs;  // the pattern matcher's messages
};

namespace detail {
inline void append_entry(std::string& out, const qtable_entry& e) {
  out += e.name + " " + e.mode;
  if (e.group_size) out += " " + std::to_string(*e.group_size);
  out += "\n";
}
}  // namespace detail

/// The 2026 layout. Counts are those of the three lists as given; rows are unique, with custom >
/// shape > pattern precedence (a pattern row is left out when the name is a shape or custom
/// layer, a shape row when it is a custom layer) and, within a list, the last entry of a name.
inline std::string format_qtable(const qtable_report& r) {
  for (const auto* list : {&r.pattern_layers, &r.shape_layers, &r.custom_layers})
    for (const qtable_entry& e : *list)
      if (!is_quantize_mode(e.mode)) throw error("mixq: quantize table row '" + e.name + "': unknown quantize mode '" + e.mode + "'");
  std::string out;
  const std::size_t n_shape = r.shape_layers.size(), n_pattern = r.pattern_layers.size(), n_custom = r.custom_layers.size();
  out += "# generated time: " + r.generated_time + "\n";
  out += "# sample number: " + std::to_string(r.sample_number) + "\n";
  out += "# chip: " + r.chip + "\n";
  out += "# total layers: " + std::to_string(n_shape + n_pattern + n_custom) + " (unique list blow)\n";
  out += "# number of shape layers: " + std::to_string(n_shape) + "\n";
  out += "# number of pattern layers: " + std::to_string(n_pattern) + "\n";
  out += "# number of custom layers: " + std::to_string(n_custom) + "\n";
  if (!r.part_quant_mode.empty()) {
    out += "# # part_quant_mode: " + r.part_quant_mode;
    if (!r.custom_operators.empty()) out += ", custom_operator: " + r.custom_operators;
    out += "\n";
  }
  if (!r.logs.empty()) {
    out += "###\n";
    for (const std::string& log : r.logs) out += "# " + log + "\n";
  }
  out += "###\n";
  out += "# op_name   quantize_mode\n";
  std::unordered_set<std::string> custom, shape;
  for (const auto& e : r.custom_layers) custom.insert(e.name);
  for (const auto& e : r.shape_layers) shape.insert(e.name);
  // Within a list a name is written once, with its last entry (the one the importer would keep).
  auto rows = [&](const std::vector<qtable_entry>& list, auto&& keep) {
    std::unordered_set<std::string> later;
    std::vector<const qtable_entry*> picked;
    for (auto it = list.rbegin(); it != list.rend(); ++it)
      if (keep(it->name) && later.insert(it->name).second) picked.push_back(&*it);
    for (auto it = picked.rbegin(); it != picked.rend(); ++it) detail::append_entry(out, **it);
  };
  out += "# pattern layers\n";
  rows(r.pattern_layers, [&](const std::string& n) { return !shape.count(n) && !custom.count(n); });
  out += "# shape layers\n";
  rows(r.shape_layers, [&](const std::string& n) { return !custom.count(n); });
  out += "# custom layers\n";
  rows(r.custom_layers, [](const std::string&) { return true; });
  return out;
}

inline void write_qtable(const std::string& path, const qtable_report& r) { write_file_atomically(path, format_qtable(r)); }

/// The layout fp_forward and run_sensitive_layer wrote (until 2025): every layer in one mode.
struct legacy_qtable_report {
  std::string generated_time;
  std::optional<std::int64_t> sample_number;  // written by the sensitive-layer/search tools only
  std::string chip = "bm1684x";
  std::string mix_mode = "F16";
  std::vector<std::string> layers;
};

inline std::string format_legacy_qtable(const legacy_qtable_report& r) {
  std::string out;
  out += "# genetated time: " + r.generated_time + "\n";
  if (r.sample_number) out += "# sample number: " + std::to_string(*r.sample_number) + "\n";
  out += "# chip: " + r.chip + "  mix_mode: " + r.mix_mode + "\n";
  out += "# number of " + r.mix_mode + " layer: " + std::to_string(r.layers.size()) + "\n";
  out += "###\n";
  out += "# op_name   quantize_mode\n";
  for (const std::string& l : r.layers) out += l + " " + r.mix_mode + "\n";
  return out;
}

inline void write_legacy_qtable(const std::string& path, const legacy_qtable_report& r) {
  detail::checked_mode(r.mix_mode, "mixq: quantize table '" + path + "'");
  write_file_atomically(path, format_legacy_qtable(r));
}

}  // namespace mixq
