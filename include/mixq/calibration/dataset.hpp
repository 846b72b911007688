#pragma once
// Calibration samples as run_calibration picks and batches them (TPU-MLIR's DataSelector and
// ActivationCalibrator.load_net_input):
//  - `--dataset DIR`: every npz/npy/image/yuv file below DIR, sorted, shuffled with CPython's
//    `random.seed(1684); random.shuffle`, the first input_num taken;
//  - `--data_list FILE`: one sample per line (comma-separated files for several inputs);
//  - batches: images grouped batch-size lines at a time (the last line repeated to fill the last
//    batch), npz of batch 1 concatenated until the batch is full, npz of the right batch and npy
//    used as they are.
// Samples are loaded one batch at a time; images are decoded by a loader the caller provides.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "mixq/core/dtype.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/io/atomic_file.hpp"
#include "mixq/io/cali_table.hpp"
#include "mixq/io/npy.hpp"
#include "mixq/io/npz.hpp"

namespace mixq {

// ---- CPython's random module ------------------------------------------------------------------

/// CPython's `random.Random`, bit for bit: MT19937 seeded like `random.seed(int)` (init_by_array
/// on the 32-bit words of |seed|), `getrandbits`, `_randbelow` by rejection and `shuffle`, so a
/// shuffle gives the same order as TPU-MLIR's.
class python_random {
 public:
  explicit python_random(std::int64_t seed_value = 0) { seed(seed_value); }

  void seed(std::int64_t value) {
    // |value| as little-endian 32-bit words; 0 is the single word 0.
    const std::uint64_t a = value < 0 ? std::uint64_t(0) - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
    std::array<std::uint32_t, 2> key{static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(a >> 32)};
    init_by_array(std::span<const std::uint32_t>(key.data(), key[1] != 0 ? 2 : 1));
  }

  /// genrand_uint32: the next 32 random bits.
  std::uint32_t next_u32() noexcept {
    if (index_ >= n) twist();
    std::uint32_t y = state_[index_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
  }

  /// `getrandbits(k)` for k <= 64: 32-bit words from the least significant up, the last one
  /// shifted down to the bits still wanted.
  std::uint64_t getrandbits(unsigned k) {
    if (k > 64) throw error("mixq: python_random::getrandbits supports at most 64 bits");
    if (k == 0) return 0;
    std::uint64_t out = 0;
    for (unsigned shift = 0; k > 0; shift += 32) {
      std::uint32_t r = next_u32();
      if (k < 32) {
        r >>= 32 - k;
        k = 0;
      } else {
        k -= 32;
      }
      out |= static_cast<std::uint64_t>(r) << shift;
    }
    return out;
  }

  /// `_randbelow(n)` (Python >= 3.2): getrandbits(n.bit_length()) until the draw is below n.
  std::uint64_t randbelow(std::uint64_t n) {
    if (n == 0) throw error("mixq: python_random::randbelow(0)");
    unsigned k = 0;
    for (std::uint64_t v = n; v; v >>= 1) ++k;
    std::uint64_t r = getrandbits(k);
    while (r >= n) r = getrandbits(k);
    return r;
  }

  /// `random()`: a double in [0, 1) from 53 random bits.
  double random() noexcept {
    const std::uint32_t a = next_u32() >> 5, b = next_u32() >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
  }

  /// `shuffle(x)`: Fisher-Yates from the back, j = randbelow(i + 1).
  template <class T> void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i-- > 1;) {
      const auto j = static_cast<std::size_t>(randbelow(i + 1));
      std::swap(v[i], v[j]);
    }
  }

 private:
  static constexpr std::size_t n = 624, m = 397;

  void init_genrand(std::uint32_t s) noexcept {
    state_[0] = s;
    for (std::size_t i = 1; i < n; ++i)
      state_[i] = 1812433253u * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
    index_ = n;
  }

  void init_by_array(std::span<const std::uint32_t> key) noexcept {
    init_genrand(19650218u);
    std::size_t i = 1, j = 0;
    for (std::size_t k = std::max(n, key.size()); k; --k) {
      state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<std::uint32_t>(j);
      ++i;
      ++j;
      if (i >= n) {
        state_[0] = state_[n - 1];
        i = 1;
      }
      if (j >= key.size()) j = 0;
    }
    for (std::size_t k = n - 1; k; --k) {
      state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1566083941u)) - static_cast<std::uint32_t>(i);
      ++i;
      if (i >= n) {
        state_[0] = state_[n - 1];
        i = 1;
      }
    }
    state_[0] = 0x80000000u;
    index_ = n;
  }

  void twist() noexcept {
    constexpr std::uint32_t upper = 0x80000000u, lower = 0x7fffffffu, matrix = 0x9908b0dfu;
    for (std::size_t k = 0; k < n; ++k) {
      const std::uint32_t y = (state_[k] & upper) | (state_[(k + 1) % n] & lower);
      state_[k] = state_[(k + m) % n] ^ (y >> 1) ^ ((y & 1u) ? matrix : 0u);
    }
    index_ = 0;
  }

  std::array<std::uint32_t, n> state_{};
  std::size_t index_ = n;
};

// ---- selecting samples ------------------------------------------------------------------------

enum class sample_kind { npz, npy, image, yuv };

inline std::string_view to_string(sample_kind k) noexcept {
  switch (k) {
    case sample_kind::npz: return "npz";
    case sample_kind::npy: return "npy";
    case sample_kind::image: return "image";
    case sample_kind::yuv: return "yuv";
  }
  return "?";
}

/// TPU-MLIR's file-type rule: the text after the last '.' of the whole path, case-insensitive
/// (so a file named `.jpg` is an image, and `a.jpg.txt` is nothing).
inline std::optional<sample_kind> sample_kind_of(std::string_view path) noexcept {
  const std::size_t dot = path.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string ext(path.substr(dot + 1));
  for (char& c : ext)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (ext == "npz") return sample_kind::npz;
  if (ext == "npy") return sample_kind::npy;
  if (ext == "jpg" || ext == "bmp" || ext == "png" || ext == "jpeg" || ext == "jfif") return sample_kind::image;
  if (ext == "yuv") return sample_kind::yuv;
  return std::nullopt;
}

/// One calibration sample: one file per model input, or one npz for all of them.
struct dataset_sample {
  std::vector<std::string> files;
  std::string text;      // as TPU-MLIR lists it in selected_image_list.txt: the path, or the list line
  std::size_t line = 0;  // 1-based line of the --data_list file; 0 for --dataset
  friend bool operator==(const dataset_sample&, const dataset_sample&) = default;
};

struct dataset_selection {
  std::vector<dataset_sample> samples;
  sample_kind kind = sample_kind::image;
  std::string source;  // the folder or list file the samples came from
};

namespace detail {

/// Decodes UTF-8 the way Python decodes file names (surrogateescape: each byte of an invalid
/// sequence becomes U+DC80..U+DCFF), so paths compare in Python's str order.
inline std::vector<char32_t> python_code_points(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  std::size_t i = 0;
  auto cont = [&](std::size_t k) { return k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80; };
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    char32_t cp = 0;
    std::size_t len = 0;
    if (b < 0x80) {
      cp = b;
      len = 1;
    } else if (b >= 0xC2 && b <= 0xDF && cont(i + 1)) {
      cp = (char32_t(b & 0x1F) << 6) | (s[i + 1] & 0x3F);
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF && cont(i + 1) && cont(i + 2)) {
      cp = (char32_t(b & 0x0F) << 12) | (char32_t(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
      if (cp >= 0x800 && !(cp >= 0xD800 && cp <= 0xDFFF)) len = 3;
    } else if (b >= 0xF0 && b <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      cp = (char32_t(b & 0x07) << 18) | (char32_t(s[i + 1] & 0x3F) << 12) | (char32_t(s[i + 2] & 0x3F) << 6) |
           (s[i + 3] & 0x3F);
      if (cp >= 0x10000 && cp <= 0x10FFFF) len = 4;
    }
    if (len == 0) {
      out.push_back(0xDC00 + b);
      ++i;
    } else {
      out.push_back(cp);
      i += len;
    }
  }
  return out;
}

/// str(pathlib.Path(p)): repeated '/' and '.' components dropped, no trailing '/', "" is ".".
inline std::string python_path_string(std::string_view p) {
  const bool absolute = !p.empty() && p.front() == '/';
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < p.size()) {
    const std::size_t j = std::min(p.find('/', i), p.size());
    const std::string_view part = p.substr(i, j - i);
    if (!part.empty() && part != ".") parts.push_back(part);
    i = j + 1;
  }
  std::string out = absolute ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  return out.empty() ? "." : out;
}

inline void check_kinds_agree(const dataset_selection& s) {
  std::optional<sample_kind> first;
  std::string first_file;
  for (const dataset_sample& sample : s.samples)
    for (const std::string& f : sample.files) {
      const auto k = sample_kind_of(f);
      if (!first) {
        first = k;
        first_file = f;
      } else if (k != first) {
        throw error("mixq: " + s.source + ": calibration samples must all be of one kind (npz, npy, image or yuv), but '" +
                    first_file + "' is " + std::string(to_string(*first)) + " and '" + f + "' is " +
                    std::string(to_string(*k)));
      }
    }
}

}  // namespace detail

/// Every file below `dir` (recursively, hidden files included, without entering symlinked
/// folders, as Python's pathlib.Path(dir).glob('**/*') lists them) whose type sample_kind_of
/// knows, as Python strings ("<dir>/<relative path>"), in Python's sorted() order.
inline std::vector<std::string> list_dataset_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw error("mixq: the dataset folder '" + dir + "' does not exist or is not a folder");
  const std::string base = detail::python_path_string(dir);
  std::vector<std::string> files;
  // Unreadable sub-folders are passed over, as pathlib's glob passes over them.
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) throw error("mixq: cannot list the dataset folder '" + dir + "' (" + ec.message() + ")");
  for (; it != end; it.increment(ec)) {
    if (ec) throw error("mixq: cannot list the dataset folder '" + dir + "' (" + ec.message() + ")");
    const fs::path rel = it->path().lexically_relative(dir);
    const std::string name = base == "." ? rel.generic_string() : base + "/" + rel.generic_string();
    std::error_code dir_ec;
    if (!sample_kind_of(name) || fs::is_directory(it->path(), dir_ec)) continue;
    files.push_back(name);
  }
  std::vector<std::pair<std::vector<char32_t>, std::string>> keyed;
  keyed.reserve(files.size());
  for (std::string& f : files) keyed.emplace_back(detail::python_code_points(f), std::move(f));
  std::sort(keyed.begin(), keyed.end());
  files.clear();
  for (auto& [k, f] : keyed) files.push_back(std::move(f));
  return files;
}

/// `--dataset DIR`: the files of list_dataset_files, shuffled as `random.seed(1684);
/// random.shuffle(files)`, the first `input_num` kept (0 = all). Mixing kinds among the kept
/// files is an error, and so is a folder without a single sample.
inline dataset_selection select_dataset(const std::string& dir, std::size_t input_num = 0) {
  std::vector<std::string> files = list_dataset_files(dir);
  if (files.empty())
    throw error("mixq: the dataset folder '" + dir + "' holds no calibration sample (npz, npy, jpg, jpeg, jfif, png, bmp or yuv file)");
  python_random rng(1684);
  rng.shuffle(files);
  if (input_num > 0 && input_num < files.size()) files.resize(input_num);
  dataset_selection s;
  s.source = dir;
  for (std::string& f : files) s.samples.push_back({{f}, f, 0});
  detail::check_kinds_agree(s);
  s.kind = *sample_kind_of(s.samples.front().files.front());
  return s;
}

/// `--data_list FILE`: one sample per line, its files separated by commas (blanks around them
/// trimmed); blank lines are skipped. The first `input_num` samples are kept (0 = all). Every
/// file must exist; the error names the list file and the line.
inline dataset_selection read_data_list(const std::string& list_file, std::size_t input_num = 0) {
  std::istringstream in(detail::read_text_file(list_file, "the data list"));
  dataset_selection s;
  s.source = list_file;
  std::string line;
  std::size_t line_no = 0;
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.front() == '\r' || v.front() == '\n' || v.front() == '\v' || v.front() == '\f')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n' || v.back() == '\v' || v.back() == '\f')) v.remove_suffix(1);
    return v;
  };
  while (std::getline(in, line)) {
    ++line_no;
    const std::string_view text = trim(line);
    if (text.empty()) continue;
    if (input_num > 0 && s.samples.size() == input_num) break;
    const std::string where = list_file + ":" + std::to_string(line_no);
    dataset_sample sample;
    sample.text = std::string(text);
    sample.line = line_no;
    std::size_t pos = 0;
    while (pos <= text.size()) {
      const std::size_t comma = std::min(text.find(',', pos), text.size());
      const std::string_view f = trim(text.substr(pos, comma - pos));
      pos = comma + 1;
      if (f.empty()) throw error("mixq: " + where + ": empty file name in '" + std::string(text) + "'");
      const auto kind = sample_kind_of(f);
      if (!kind)
        throw error("mixq: " + where + ": '" + std::string(f) + "' is not an npz, npy, image (jpg, jpeg, jfif, png, bmp) or yuv file");
      std::error_code ec;
      if (!std::filesystem::exists(std::string(f), ec)) throw error("mixq: " + where + ": '" + std::string(f) + "' does not exist");
      sample.files.emplace_back(f);
    }
    if (sample.files.size() > 1 && sample_kind_of(sample.files.front()) == sample_kind::npz)
      throw error("mixq: " + where + ": an npz sample holds every input; give one npz file per line");
    s.samples.push_back(std::move(sample));
  }
  if (s.samples.empty()) throw error("mixq: the data list '" + list_file + "' names no sample");
  detail::check_kinds_agree(s);
  s.kind = *sample_kind_of(s.samples.front().files.front());
  return s;
}

/// TPU-MLIR's selected_image_list.txt (debug_cmd `dump_list`), written before any batching: one
/// sample per line as it was selected. The tuning list goes to selected_tune_image_list.txt.
inline void dump_data_list(const std::string& path, const dataset_selection& s) {
  std::string out;
  for (const dataset_sample& sample : s.samples) out += sample.text + "\n";
  write_file_atomically(path, out);
}

inline constexpr std::string_view selected_list_file = "selected_image_list.txt";
inline constexpr std::string_view selected_tune_list_file = "selected_tune_image_list.txt";

// ---- batches ----------------------------------------------------------------------------------

/// A model input as the batches must deliver it (a `top.Input`'s name and result type).
struct model_input {
  std::string name;
  tensor_type type;
};

/// The inputs of a mixq::graph, in argument order (a template so this header needs no graph).
template <class Graph> std::vector<model_input> model_inputs_of(const Graph& g) {
  std::vector<model_input> out;
  for (int n : g.input_nodes()) {
    const auto& v = g.values[static_cast<std::size_t>(g.nodes[static_cast<std::size_t>(n)].results.at(0))];
    out.push_back({v.name, v.type});
  }
  return out;
}

/// Decodes the images of one batch for one input: `files` holds batch-size paths (one per batch
/// row), `input` the input's index. Returns the preprocessed batch in the input's shape.
using image_batch_loader = std::function<tensor(std::span<const std::string> files, std::size_t input)>;

/// The calibration batches of a selection, planned up front (from file names and npz/npy
/// headers, so shape and dtype errors show before any inference) and loaded one at a time.
class calibration_batches {
 public:
  calibration_batches(dataset_selection selection, std::vector<model_input> inputs, image_batch_loader load_images = {})
      : sel_(std::move(selection)), inputs_(std::move(inputs)), load_images_(std::move(load_images)) {
    if (inputs_.empty()) throw error("mixq: the model has no input to calibrate");
    if (sel_.samples.empty()) throw error("mixq: " + sel_.source + ": no calibration sample");
    switch (sel_.kind) {
      case sample_kind::image:
      case sample_kind::yuv: plan_images(); break;
      case sample_kind::npy: plan_npy(); break;
      case sample_kind::npz: plan_npz(); break;
    }
  }

  /// The number of complete batches.
  std::size_t size() const noexcept { return plan_.size(); }
  bool empty() const noexcept { return plan_.empty(); }
  /// TPU-MLIR's batch size: dim 0 of the first input (1 for a scalar input).
  std::int64_t batch_size() const noexcept { return batch_; }
  const dataset_selection& selection() const noexcept { return sel_; }
  const std::vector<model_input>& inputs() const noexcept { return inputs_; }
  /// The samples (indices into selection().samples) batch `index` is made of, in row order.
  const std::vector<std::size_t>& samples_of(std::size_t index) const { return plan_.at(index).samples; }

  /// Loads batch `index`: one tensor per input, in the input's shape and dtype.
  named_tensors load(std::size_t index) const {
    const batch_plan& b = plan_.at(index);
    named_tensors out;
    switch (sel_.kind) {
      case sample_kind::image:
      case sample_kind::yuv: load_images(b, out); break;
      case sample_kind::npy: load_npy(b, out); break;
      case sample_kind::npz: load_npz(b, out); break;
    }
    return out;
  }

 private:
  struct batch_plan {
    std::vector<std::size_t> samples;
    bool whole = true;  // npz: the file holds the whole batch (else one row per sample)
  };

  static std::int64_t dim0(const shape_t& s) { return s.empty() ? 1 : s.front(); }

  std::string where(std::size_t sample) const {
    const dataset_sample& s = sel_.samples[sample];
    return s.line ? sel_.source + ":" + std::to_string(s.line) : s.files.front();
  }

  static bool convertible(dtype from, dtype to) noexcept {
    if (from == to || is_floating(to)) return true;  // TPU-MLIR feeds every input as float32
    if (is_integer(to)) return is_integer(from) || from == dtype::boolean;
    return false;
  }

  void check_array(const std::string& file, const std::string& what, const std::optional<dtype>& elem,
                   const std::string& descr, const shape_t& have, const shape_t& want, const model_input& in) const {
    if (!elem) throw parse_error(file, what + " has dtype " + descr + ", which mixq cannot read");
    if (!convertible(*elem, in.type.elem))
      throw parse_error(file, what + " is " + std::string(name(*elem)) + ", but input '" + in.name + "' is " +
                                  std::string(name(in.type.elem)));
    if (have != want)
      throw parse_error(file, what + " has shape " + to_string(have) + ", but input '" + in.name + "' needs " +
                                  to_string(want));
  }

  void plan_images() {
    if (!load_images_) throw error("mixq: " + sel_.source + ": image samples need an image loader (preprocessing)");
    batch_ = dim0(inputs_.front().type.shape);
    for (std::size_t i = 0; i < sel_.samples.size(); ++i)
      if (sel_.samples[i].files.size() != inputs_.size())
        throw error("mixq: " + where(i) + ": the model has " + std::to_string(inputs_.size()) + " inputs, the sample names " +
                    std::to_string(sel_.samples[i].files.size()) + " files");
    // The last sample repeats until the last batch is full.
    const std::size_t g = static_cast<std::size_t>(std::max<std::int64_t>(batch_, 1));
    for (std::size_t start = 0; start < sel_.samples.size(); start += g) {
      batch_plan b;
      for (std::size_t r = 0; r < g; ++r) b.samples.push_back(std::min(start + r, sel_.samples.size() - 1));
      plan_.push_back(std::move(b));
    }
  }

  void load_images(const batch_plan& b, named_tensors& out) const {
    for (std::size_t j = 0; j < inputs_.size(); ++j) {
      std::vector<std::string> files;
      for (std::size_t s : b.samples) files.push_back(sel_.samples[s].files[j]);
      tensor t = load_images_(files, j);
      const model_input& in = inputs_[j];
      if (t.shape() != in.type.shape)
        throw error("mixq: preprocessing '" + files.front() + "'" + (files.size() > 1 ? " and the rest of its batch" : "") +
                    " gave shape " + to_string(t.shape()) + ", but input '" + in.name + "' needs " + to_string(in.type.shape));
      out.emplace(in.name, t.cast(in.type.elem));
    }
  }

  void plan_npy() {
    batch_ = dim0(inputs_.front().type.shape);
    for (std::size_t i = 0; i < sel_.samples.size(); ++i) {
      const dataset_sample& s = sel_.samples[i];
      if (s.files.size() != inputs_.size())
        throw error("mixq: " + where(i) + ": the model has " + std::to_string(inputs_.size()) + " inputs, the sample names " +
                    std::to_string(s.files.size()) + " npy files");
      for (std::size_t j = 0; j < inputs_.size(); ++j) {
        const npy_header h = read_npy_header_of(s.files[j]);
        check_array(s.files[j], "the array", h.elem, h.descr, h.shape, inputs_[j].type.shape, inputs_[j]);
      }
      plan_.push_back({{i}, true});
    }
  }

  static npy_header read_npy_header_of(const std::string& path) {
    detail::file_source src(path);
    detail::source_stream in(src, 0, src.size());
    return detail::read_npy_header(in, path);
  }

  void load_npy(const batch_plan& b, named_tensors& out) const {
    const dataset_sample& s = sel_.samples[b.samples.front()];
    for (std::size_t j = 0; j < inputs_.size(); ++j) out.emplace(inputs_[j].name, read_npy(s.files[j]).cast(inputs_[j].type.elem));
  }

  /// The npz key holding input j: the only array for a one-input model, else the input's name.
  std::string npz_key(const npz_reader& r, std::size_t sample, std::size_t j) const {
    const std::string& file = sel_.samples[sample].files.front();
    if (inputs_.size() == 1) {
      if (r.size() != 1)
        throw parse_error(file, "holds " + std::to_string(r.size()) + " arrays; a one-input model needs exactly one");
      return r.entries().front().name;
    }
    if (!r.contains(inputs_[j].name)) throw parse_error(file, "has no array named '" + inputs_[j].name + "' (a model input)");
    return inputs_[j].name;
  }

  void plan_npz() {
    batch_ = dim0(inputs_.front().type.shape);
    std::vector<std::size_t> pending;  // batch-1 samples waiting for a full batch
    for (std::size_t i = 0; i < sel_.samples.size(); ++i) {
      const std::string& file = sel_.samples[i].files.front();
      npz_reader r(file);
      std::optional<bool> whole;
      for (std::size_t j = 0; j < inputs_.size(); ++j) {
        const model_input& in = inputs_[j];
        const std::string key = npz_key(r, i, j);
        const npz_entry_info& e = *r.find(key);
        const std::string what = "array '" + key + "'";
        // TPU-MLIR: an array whose dim 0 is > 1 is a whole batch; otherwise rows are gathered over
        // consecutive files until the first input's batch is full.
        const bool w = in.type.shape.empty() || batch_ <= 1 || (!e.shape.empty() && e.shape.front() > 1);
        if (w) {
          check_array(file, what, e.elem, e.descr, e.shape, in.type.shape, in);
        } else {
          shape_t row = in.type.shape;
          row.front() = 1;
          check_array(file, what, e.elem, e.descr, e.shape, row, in);
          if (dim0(in.type.shape) > batch_)
            throw parse_error(file, "input '" + in.name + "' has batch " + std::to_string(dim0(in.type.shape)) +
                                        ", larger than the first input's " + std::to_string(batch_) +
                                        ", so batch-1 samples cannot fill it");
        }
        if (whole && *whole != w)
          throw parse_error(file, "mixes whole-batch arrays and batch-1 arrays; give every input the same way");
        whole = w;
      }
      if (*whole) {
        plan_.push_back({{i}, true});
      } else {
        pending.push_back(i);
        if (static_cast<std::int64_t>(pending.size()) == batch_) {
          plan_.push_back({pending, false});
          pending.clear();
        }
      }
    }
  }

  void load_npz(const batch_plan& b, named_tensors& out) const {
    if (b.whole) {
      const std::size_t s = b.samples.front();
      npz_reader r(sel_.samples[s].files.front());
      for (std::size_t j = 0; j < inputs_.size(); ++j)
        out.emplace(inputs_[j].name, r.read(npz_key(r, s, j)).cast(inputs_[j].type.elem));
      return;
    }
    std::vector<tensor> batch;
    for (const model_input& in : inputs_) batch.push_back(tensor::empty(in.type.elem, in.type.shape));
    for (std::size_t row = 0; row < b.samples.size(); ++row) {
      const std::size_t s = b.samples[row];
      npz_reader r(sel_.samples[s].files.front());
      for (std::size_t j = 0; j < inputs_.size(); ++j) {
        if (static_cast<std::int64_t>(row) >= dim0(inputs_[j].type.shape)) continue;  // TPU-MLIR keeps the first rows
        const tensor t = r.read(npz_key(r, s, j)).cast(inputs_[j].type.elem);
        const std::size_t row_bytes = t.nbytes();
        std::memcpy(batch[j].raw() + row * row_bytes, t.raw(), row_bytes);
      }
    }
    for (std::size_t j = 0; j < inputs_.size(); ++j) out.emplace(inputs_[j].name, std::move(batch[j]));
  }

  dataset_selection sel_;
  std::vector<model_input> inputs_;
  image_batch_loader load_images_;
  std::int64_t batch_ = 1;
  std::vector<batch_plan> plan_;
};

}  // namespace mixq
