#pragma once
// numpy's .npz: a ZIP archive holding one "<key>.npy" entry per array (numpy.savez writes them
// stored, numpy.savez_compressed deflated).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/io/atomic_file.hpp"
#include "mixq/io/npy.hpp"
#include "mixq/io/zip.hpp"

namespace mixq {

/// The arrays of an .npz in file order (which numpy keeps as the order of savez's arguments).
class npz_file {
 public:
  using entry = std::pair<std::string, tensor>;

  npz_file() = default;
  explicit npz_file(std::string source) : source_(std::move(source)) {}

  const std::vector<entry>& entries() const noexcept { return entries_; }
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  auto begin() const noexcept { return entries_.begin(); }
  auto end() const noexcept { return entries_.end(); }
  /// The file it was read from (empty for a file built in memory).
  const std::string& source() const noexcept { return source_; }

  const tensor* find(std::string_view key) const noexcept {
    for (const auto& [k, t] : entries_)
      if (k == key) return &t;
    return nullptr;
  }
  tensor* find(std::string_view key) noexcept {
    for (auto& [k, t] : entries_)
      if (k == key) return &t;
    return nullptr;
  }
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
  /// Like find(), but a missing key is an error that names the file.
  const tensor& at(std::string_view key) const {
    if (const tensor* t = find(key)) return *t;
    throw error("mixq: " + (source_.empty() ? std::string("npz") : source_) + " has no array named '" + std::string(key) + "'");
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(e.first);
    return out;
  }

  /// Appends a new key; a key that is already there is an error (use set() to replace).
  void add(std::string key, tensor t) {
    if (contains(key))
      throw error("mixq: " + (source_.empty() ? std::string("npz") : source_) + " already has an array named '" + key + "'");
    entries_.emplace_back(std::move(key), std::move(t));
  }
  /// Replaces the array under `key` in place, or appends it.
  void set(std::string key, tensor t) {
    if (tensor* existing = find(key)) *existing = std::move(t);
    else entries_.emplace_back(std::move(key), std::move(t));
  }
  bool erase(std::string_view key) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->first == key) {
        entries_.erase(it);
        return true;
      }
    return false;
  }

 private:
  std::string source_;
  std::vector<entry> entries_;
};

/// One array of an .npz as its header describes it (read without touching the data).
struct npz_entry_info {
  std::string name;           // the key: the entry's name without ".npy"
  std::string entry_name;     // the ZIP entry's name
  std::string descr;          // numpy dtype string, e.g. '<f4'
  std::optional<dtype> elem;  // empty when mixq cannot read this dtype
  shape_t shape;
  bool fortran_order = false;
  bool compressed = false;
};

namespace detail {
inline std::string npz_key_of(std::string_view entry_name) {
  if (entry_name.size() >= 4 && entry_name.substr(entry_name.size() - 4) == ".npy")
    entry_name.remove_suffix(4);
  return std::string(entry_name);
}
}  // namespace detail

/// Lists an .npz's arrays (names, dtypes and shapes from the .npy headers; deflated entries are
/// inflated only as far as their header) and reads single arrays on demand. Keeps the file open;
/// not thread-safe.
class npz_reader {
 public:
  explicit npz_reader(const std::string& path) : npz_reader(std::make_unique<detail::file_source>(path)) {}
  /// Reads from memory: `bytes` must outlive the reader. `what` names it in errors.
  static npz_reader from_memory(std::string_view bytes, std::string what) {
    return npz_reader(std::make_unique<detail::memory_source>(bytes, std::move(what)));
  }

  const std::string& path() const noexcept { return zip_->name(); }
  const std::vector<npz_entry_info>& entries() const noexcept { return infos_; }
  std::size_t size() const noexcept { return infos_.size(); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(infos_.size());
    for (const auto& i : infos_) out.push_back(i.name);
    return out;
  }
  const npz_entry_info* find(std::string_view key) const noexcept {
    for (const auto& i : infos_)
      if (i.name == key) return &i;
    return nullptr;
  }
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }

  /// Reads (and CRC-checks) one array.
  tensor read(std::string_view key) {
    for (std::size_t i = 0; i < infos_.size(); ++i)
      if (infos_[i].name == key) return read_at(i);
    throw error("mixq: " + path() + " has no array named '" + std::string(key) + "'");
  }
  /// Reads the i-th array in file order.
  tensor read_at(std::size_t index) {
    const npz_entry_info& info = infos_.at(index);
    const std::string what = path() + "/" + info.entry_name;
    auto in = zip_->open(*zip_entries_[index], what);
    const npy_header h = detail::read_npy_header(*in, what);
    return detail::read_npy_data(*in, h, what);
  }
  /// Every array, in file order.
  npz_file read_all() {
    npz_file out(path());
    for (std::size_t i = 0; i < infos_.size(); ++i) out.add(infos_[i].name, read_at(i));
    return out;
  }

 private:
  explicit npz_reader(std::unique_ptr<detail::random_access_source> src)
      : zip_(std::make_unique<detail::zip_reader>(std::move(src))) {
    for (const auto& e : zip_->entries()) {
      // Directory entries carry no array (some zip tools add them).
      if (!e.name.empty() && e.name.back() == '/' && e.uncompressed_size == 0) continue;
      npz_entry_info info;
      info.entry_name = e.name;
      info.name = detail::npz_key_of(e.name);
      info.compressed = e.method != detail::zip_method_stored;
      if (find(info.name))
        throw parse_error(path(), "holds two arrays named '" + info.name + "'");
      const std::string what = path() + "/" + e.name;
      auto in = zip_->open(e, what);
      const npy_header h = detail::read_npy_header(*in, what);
      info.descr = h.descr;
      info.elem = h.elem;
      info.shape = h.shape;
      info.fortran_order = h.fortran_order;
      infos_.push_back(std::move(info));
      zip_entries_.push_back(&e);
    }
  }

  std::unique_ptr<detail::zip_reader> zip_;
  std::vector<npz_entry_info> infos_;
  std::vector<const detail::zip_entry*> zip_entries_;  // parallel to infos_
};

/// Reads every array of an .npz (stored or compressed) in file order.
inline npz_file read_npz(const std::string& path) { return npz_reader(path).read_all(); }

/// Parses an .npz held in memory; `what` names it in errors.
inline npz_file parse_npz(std::string_view bytes, const std::string& what) {
  npz_file f = npz_reader::from_memory(bytes, what).read_all();
  return f;
}

inline named_tensors to_named(const npz_file& f) {
  named_tensors out;
  for (const auto& [k, t] : f) out.emplace(k, t);
  return out;
}

namespace detail {
template <class Entries>
inline void write_npz_entries(zip_writer& zip, const Entries& entries, bool compressed, const std::string& what) {
  for (const auto& [key, t] : entries) {
    check_writable(t, what + " entry '" + key + "'");
    const std::string header = npy_header_bytes(t.elem(), t.shape());
    const std::string_view pieces[] = {header, data_view(t)};
    zip.add(key + ".npy", pieces, compressed);
  }
  zip.finish();
}

template <class Entries>
inline void write_npz_file(const std::string& path, const Entries& entries, bool compressed,
                           std::uint64_t zip64_limit = 0xffffffffu) {
  atomic_file_writer out(path);
  zip_writer zip([&](const void* p, std::size_t n) { out.write(p, n); }, zip64_limit);
  write_npz_entries(zip, entries, compressed, "'" + path + "'");
  out.commit();
}

template <class Entries>
inline std::string serialize_npz_entries(const Entries& entries, bool compressed, std::uint64_t zip64_limit = 0xffffffffu) {
  std::string out;
  zip_writer zip([&](const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); }, zip64_limit);
  write_npz_entries(zip, entries, compressed, "npz");
  return out;
}
}  // namespace detail

/// Writes like numpy.savez (stored) or, with `compressed`, numpy.savez_compressed (deflate):
/// one "<key>.npy" entry per array in the file's order. bf16 arrays are saved as uint16 bits.
/// Atomic: `path` is either left as it was or holds the whole new archive.
inline void write_npz(const std::string& path, const npz_file& f, bool compressed = false) {
  detail::write_npz_file(path, f.entries(), compressed);
}
/// Same, in the map's (sorted) key order.
inline void write_npz(const std::string& path, const named_tensors& tensors, bool compressed = false) {
  detail::write_npz_file(path, tensors, compressed);
}

/// The .npz bytes write_npz would write.
inline std::string serialize_npz(const npz_file& f, bool compressed = false) {
  return detail::serialize_npz_entries(f.entries(), compressed);
}

}  // namespace mixq
