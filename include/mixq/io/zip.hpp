#pragma once
// A minimal ZIP reader and writer over zlib: what .npz files need (stored and deflate entries,
// CRC-32, ZIP64, data descriptors, archive comments). No encryption, no multi-disk archives.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "mixq/core/error.hpp"

namespace mixq::detail {

// ---------------------------------------------------------------------------------------------
// Byte sources, shared by the .npy and ZIP readers.

inline std::uint16_t load_le16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) | std::to_integer<unsigned>(p[1]) << 8);
}
inline std::uint32_t load_le32(const std::byte* p) noexcept {
  return static_cast<std::uint32_t>(load_le16(p)) | static_cast<std::uint32_t>(load_le16(p + 2)) << 16;
}
inline std::uint64_t load_le64(const std::byte* p) noexcept {
  return static_cast<std::uint64_t>(load_le32(p)) | static_cast<std::uint64_t>(load_le32(p + 4)) << 32;
}
inline void append_le16(std::string& out, std::uint64_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
}
inline void append_le32(std::string& out, std::uint64_t v) {
  append_le16(out, v & 0xffff);
  append_le16(out, (v >> 16) & 0xffff);
}
inline void append_le64(std::string& out, std::uint64_t v) {
  append_le32(out, v & 0xffffffffu);
  append_le32(out, v >> 32);
}

/// Random-access bytes: a file or a memory buffer. `name()` is what error messages call it.
class random_access_source {
 public:
  virtual ~random_access_source() = default;
  virtual std::uint64_t size() const noexcept = 0;
  /// Copies exactly n bytes at `offset` to `dst`; callers check ranges against size() first.
  virtual void read_at(std::uint64_t offset, std::byte* dst, std::size_t n) = 0;
  const std::string& name() const noexcept { return name_; }

 protected:
  explicit random_access_source(std::string name) : name_(std::move(name)) {}
  [[noreturn]] void fail_range(std::uint64_t offset, std::size_t n) const {
    throw parse_error(name_, "unexpected end of data (wanted " + std::to_string(n) + " bytes at offset " +
                                 std::to_string(offset) + ", the size is " + std::to_string(size()) + ")");
  }

 private:
  std::string name_;
};

/// Borrows the bytes: they must outlive the source.
class memory_source final : public random_access_source {
 public:
  memory_source(std::string_view bytes, std::string name) : random_access_source(std::move(name)), bytes_(bytes) {}
  std::uint64_t size() const noexcept override { return bytes_.size(); }
  void read_at(std::uint64_t offset, std::byte* dst, std::size_t n) override {
    if (offset > bytes_.size() || n > bytes_.size() - offset) fail_range(offset, n);
    if (n) std::memcpy(dst, bytes_.data() + offset, n);
  }

 private:
  std::string_view bytes_;
};

/// Reads straight from the file into the caller's buffer (large reads bypass the stream buffer,
/// so array data is copied once, from the kernel into the tensor).
class file_source final : public random_access_source {
 public:
  explicit file_source(const std::string& path) : random_access_source(path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw error("mixq: cannot read '" + path + "': it is a directory");
    errno = 0;
    in_.open(path, std::ios::binary);
    if (!in_) {
      const int code = errno;
      throw error("mixq: cannot open '" + path + "' for reading" +
                  (code ? " (" + std::generic_category().message(code) + ")" : std::string()));
    }
    in_.seekg(0, std::ios::end);
    const std::streamoff end = in_.tellg();
    if (end < 0) throw error("mixq: cannot read '" + path + "' (it is not a regular file)");
    size_ = static_cast<std::uint64_t>(end);
  }
  std::uint64_t size() const noexcept override { return size_; }
  void read_at(std::uint64_t offset, std::byte* dst, std::size_t n) override {
    if (offset > size_ || n > size_ - offset) fail_range(offset, n);
    if (n == 0) return;
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(dst), static_cast<std::streamsize>(n));
    if (static_cast<std::size_t>(in_.gcount()) != n)
      throw error("mixq: cannot read '" + name() + "' (read error at offset " + std::to_string(offset) + ")");
  }

 private:
  std::ifstream in_;
  std::uint64_t size_ = 0;
};

/// Sequential bytes of known length: a .npy file or one ZIP entry.
class byte_stream {
 public:
  virtual ~byte_stream() = default;
  /// Copies exactly n bytes; n must not exceed remaining().
  virtual void read(std::byte* dst, std::size_t n) = 0;
  /// Bytes left according to the container (file size, or the ZIP entry's declared size).
  virtual std::uint64_t remaining() const noexcept = 0;
  /// Called once everything was read: verifies checksums.
  virtual void finish() {}
};

/// A window [begin, end) of a random-access source.
class source_stream final : public byte_stream {
 public:
  source_stream(random_access_source& src, std::uint64_t begin, std::uint64_t end)
      : src_(src), pos_(begin), end_(end) {}
  void read(std::byte* dst, std::size_t n) override {
    if (n > remaining()) throw parse_error(src_.name(), "unexpected end of data");
    src_.read_at(pos_, dst, n);
    pos_ += n;
  }
  std::uint64_t remaining() const noexcept override { return end_ - pos_; }

 private:
  random_access_source& src_;
  std::uint64_t pos_, end_;
};

// ---------------------------------------------------------------------------------------------
// ZIP reading.

inline constexpr std::uint32_t zip_local_header_signature = 0x04034b50;
inline constexpr std::uint32_t zip_central_header_signature = 0x02014b50;
inline constexpr std::uint32_t zip_end_signature = 0x06054b50;
inline constexpr std::uint32_t zip64_end_signature = 0x06064b50;
inline constexpr std::uint32_t zip64_locator_signature = 0x07064b50;
inline constexpr std::uint16_t zip64_extra_id = 0x0001;
inline constexpr std::uint16_t zip_method_stored = 0;
inline constexpr std::uint16_t zip_method_deflate = 8;

inline std::uint32_t crc32_of(std::uint32_t crc, const std::byte* p, std::size_t n) noexcept {
  return static_cast<std::uint32_t>(::crc32_z(crc, reinterpret_cast<const Bytef*>(p), n));
}

/// One central-directory record; sizes already resolved through the ZIP64 extra field.
struct zip_entry {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_header_offset = 0;
};

/// Decompresses (or copies) one entry sequentially, checking the CRC-32 in finish().
class zip_entry_stream final : public byte_stream {
 public:
  zip_entry_stream(random_access_source& src, const zip_entry& e, std::uint64_t data_offset, std::string what)
      : src_(src), entry_(e), what_(std::move(what)), in_pos_(data_offset), in_left_(e.compressed_size) {
    if (entry_.method == zip_method_deflate) {
      std::memset(&z_, 0, sizeof z_);
      if (inflateInit2(&z_, -MAX_WBITS) != Z_OK) throw error("mixq: " + what_ + ": zlib inflateInit2 failed");
      z_ready_ = true;
    }
  }
  zip_entry_stream(const zip_entry_stream&) = delete;
  zip_entry_stream& operator=(const zip_entry_stream&) = delete;
  ~zip_entry_stream() override {
    if (z_ready_) inflateEnd(&z_);
  }

  std::uint64_t remaining() const noexcept override { return entry_.uncompressed_size - produced_; }

  void read(std::byte* dst, std::size_t n) override {
    if (n > remaining()) throw parse_error(what_, "unexpected end of the entry's data");
    if (entry_.method == zip_method_stored) {
      src_.read_at(in_pos_, dst, n);
      in_pos_ += n;
      in_left_ -= n;
    } else {
      std::size_t done = 0;
      while (done < n) {
        // zlib counts in 32-bit uInt: feed it at most 1 GiB of output per call.
        const std::size_t part = std::min<std::size_t>(n - done, std::size_t{1} << 30);
        inflate_into(dst + done, part);
        done += part;
      }
    }
    crc_ = crc32_of(crc_, dst, n);
    produced_ += n;
  }

  void finish() override {
    if (produced_ != entry_.uncompressed_size) throw parse_error(what_, "the entry was not read to its end");
    if (entry_.method == zip_method_deflate && !stream_ended_) {
      // Every declared byte was produced; the deflate stream must end right here.
      std::byte extra{};
      while (!stream_ended_) {
        refill(1);
        z_.next_out = reinterpret_cast<Bytef*>(&extra);
        z_.avail_out = 1;
        const int rc = inflate(&z_, Z_NO_FLUSH);
        if (z_.avail_out == 0)
          throw parse_error(what_, "the compressed data holds more than the declared " +
                                       std::to_string(entry_.uncompressed_size) + " bytes");
        check_inflate(rc);
      }
    }
    if (crc_ != entry_.crc32)
      throw parse_error(what_, "CRC-32 mismatch (the archive says " + hex(entry_.crc32) + ", the data gives " +
                                   hex(crc_) + "): the entry is corrupt");
  }

 private:
  static std::string hex(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
  }

  void refill(std::size_t wanted_out) {
    if (z_.avail_in > 0 || in_left_ == 0) return;
    // Small first reads keep listing an archive's headers cheap; big ones keep bulk reads fast.
    const std::size_t chunk = static_cast<std::size_t>(
        std::min<std::uint64_t>(in_left_, std::clamp<std::size_t>(wanted_out, 4096, std::size_t{1} << 20)));
    if (in_buf_.size() < chunk) in_buf_.resize(chunk);
    src_.read_at(in_pos_, in_buf_.data(), chunk);
    in_pos_ += chunk;
    in_left_ -= chunk;
    z_.next_in = reinterpret_cast<Bytef*>(in_buf_.data());
    z_.avail_in = static_cast<uInt>(chunk);
  }

  void check_inflate(int rc) {
    if (rc == Z_STREAM_END) {
      stream_ended_ = true;
      return;
    }
    if (rc == Z_OK) return;
    if (rc == Z_BUF_ERROR && z_.avail_in == 0 && in_left_ == 0)
      throw parse_error(what_, "the compressed data is truncated");
    throw parse_error(what_, std::string("the compressed data is corrupt (zlib: ") + (z_.msg ? z_.msg : "error") + ")");
  }

  void inflate_into(std::byte* dst, std::size_t n) {
    z_.next_out = reinterpret_cast<Bytef*>(dst);
    z_.avail_out = static_cast<uInt>(n);
    while (z_.avail_out > 0) {
      if (stream_ended_)
        throw parse_error(what_, "the compressed data ends before the declared " +
                                     std::to_string(entry_.uncompressed_size) + " bytes");
      refill(z_.avail_out);
      check_inflate(inflate(&z_, Z_NO_FLUSH));
      if (stream_ended_ && z_.avail_out > 0)
        throw parse_error(what_, "the compressed data ends before the declared " +
                                     std::to_string(entry_.uncompressed_size) + " bytes");
    }
  }

  random_access_source& src_;
  zip_entry entry_;
  std::string what_;
  std::uint64_t in_pos_;
  std::uint64_t in_left_;
  std::uint64_t produced_ = 0;
  std::uint32_t crc_ = 0;
  z_stream z_{};
  bool z_ready_ = false;
  bool stream_ended_ = false;
  std::vector<std::byte> in_buf_;
};

/// Reads the central directory once; opens entries on demand. Not thread-safe (one file position).
class zip_reader {
 public:
  explicit zip_reader(std::unique_ptr<random_access_source> src) : src_(std::move(src)) { read_central_directory(); }

  const std::string& name() const noexcept { return src_->name(); }
  const std::vector<zip_entry>& entries() const noexcept { return entries_; }
  const zip_entry* find(std::string_view entry_name) const noexcept {
    for (const auto& e : entries_)
      if (e.name == entry_name) return &e;
    return nullptr;
  }

  /// `what` names the entry in errors (e.g. "weights.npz/conv1.npy").
  std::unique_ptr<zip_entry_stream> open(const zip_entry& e, const std::string& what) {
    std::byte local[30];
    if (e.local_header_offset > src_->size() || src_->size() - e.local_header_offset < sizeof local)
      throw parse_error(what, "the local header lies outside the file");
    src_->read_at(e.local_header_offset, local, sizeof local);
    if (load_le32(local) != zip_local_header_signature)
      throw parse_error(what, "no local file header at offset " + std::to_string(e.local_header_offset));
    // Sizes and CRC come from the central directory: with a data descriptor (flag bit 3) the
    // local header holds zeros, and ZIP64 local headers hold 0xffffffff.
    const std::uint64_t data_offset = e.local_header_offset + sizeof local + load_le16(local + 26) + load_le16(local + 28);
    if (data_offset > src_->size() || src_->size() - data_offset < e.compressed_size)
      throw parse_error(what, "the entry's data runs past the end of the file (truncated archive?)");
    return std::make_unique<zip_entry_stream>(*src_, e, data_offset, what);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const { throw parse_error(name(), message); }

  std::vector<std::byte> read_range(std::uint64_t offset, std::uint64_t n) {
    if (offset > src_->size() || n > src_->size() - offset) fail("the ZIP directory points outside the file");
    std::vector<std::byte> out(static_cast<std::size_t>(n));
    src_->read_at(offset, out.data(), out.size());
    return out;
  }

  void read_central_directory() {
    const std::uint64_t size = src_->size();
    constexpr std::uint64_t eocd_size = 22;
    if (size < eocd_size) fail("not a ZIP archive (too short for an end-of-central-directory record)");
    // The end record is followed only by the archive comment (at most 65535 bytes).
    const std::uint64_t tail_size = std::min<std::uint64_t>(size, eocd_size + 0xffff);
    const std::vector<std::byte> tail = read_range(size - tail_size, tail_size);
    std::optional<std::size_t> eocd;
    for (std::size_t i = tail.size() - eocd_size + 1; i-- > 0;) {
      if (load_le32(tail.data() + i) == zip_end_signature &&
          i + eocd_size + load_le16(tail.data() + i + 20) <= tail.size()) {
        eocd = i;
        break;
      }
    }
    if (!eocd) fail("not a ZIP archive (no end-of-central-directory record; truncated file?)");
    const std::byte* end = tail.data() + *eocd;
    const std::uint64_t eocd_offset = size - tail_size + *eocd;
    std::uint64_t count = load_le16(end + 10);
    std::uint64_t cd_size = load_le32(end + 12);
    std::uint64_t cd_offset = load_le32(end + 16);
    for (const std::uint16_t disk : {load_le16(end + 4), load_le16(end + 6)})
      if (disk != 0 && disk != 0xffff) fail("multi-disk ZIP archives are not supported");

    if (eocd_offset >= 20) {
      const std::vector<std::byte> locator = read_range(eocd_offset - 20, 20);
      if (load_le32(locator.data()) == zip64_locator_signature) {
        const std::uint64_t record_offset = load_le64(locator.data() + 8);
        if (record_offset > eocd_offset - 20 || eocd_offset - 20 - record_offset < 56)
          fail("the ZIP64 end-of-central-directory locator points outside the file");
        const std::vector<std::byte> record = read_range(record_offset, 56);
        if (load_le32(record.data()) != zip64_end_signature) fail("the ZIP64 end-of-central-directory record is missing");
        count = load_le64(record.data() + 32);
        cd_size = load_le64(record.data() + 40);
        cd_offset = load_le64(record.data() + 48);
      }
    }
    if (cd_offset > eocd_offset || cd_size > eocd_offset - cd_offset)
      fail("the central directory lies outside the file (truncated archive?)");
    // A central record takes at least 46 bytes: a larger count is a lie, not a reason to allocate.
    if (count > cd_size / 46) fail("the central directory is too small for its " + std::to_string(count) + " entries");

    const std::vector<std::byte> cd = read_range(cd_offset, cd_size);
    entries_.reserve(static_cast<std::size_t>(count));
    std::size_t pos = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      if (cd.size() - pos < 46 || load_le32(cd.data() + pos) != zip_central_header_signature)
        fail("central directory record " + std::to_string(i) + " is damaged");
      const std::byte* h = cd.data() + pos;
      zip_entry e;
      e.flags = load_le16(h + 8);
      e.method = load_le16(h + 10);
      e.crc32 = load_le32(h + 16);
      e.compressed_size = load_le32(h + 20);
      e.uncompressed_size = load_le32(h + 24);
      const std::size_t name_len = load_le16(h + 28), extra_len = load_le16(h + 30), comment_len = load_le16(h + 32);
      e.local_header_offset = load_le32(h + 42);
      if (cd.size() - pos - 46 < name_len + extra_len + comment_len)
        fail("central directory record " + std::to_string(i) + " runs past the directory's end");
      e.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
      read_zip64_extra(e, h + 46 + name_len, extra_len);
      pos += 46 + name_len + extra_len + comment_len;
      check_entry(e);
      entries_.push_back(std::move(e));
    }
  }

  // ZIP64 extra: only the fields whose 32-bit slot holds the 0xffffffff marker, in this order.
  void read_zip64_extra(zip_entry& e, const std::byte* extra, std::size_t len) {
    const bool want_usize = e.uncompressed_size == 0xffffffffu, want_csize = e.compressed_size == 0xffffffffu;
    const bool want_offset = e.local_header_offset == 0xffffffffu;
    std::size_t pos = 0;
    while (len - pos >= 4) {
      const std::uint16_t id = load_le16(extra + pos), field_len = load_le16(extra + pos + 2);
      pos += 4;
      if (field_len > len - pos) fail("entry '" + e.name + "' has a damaged extra field");
      if (id == zip64_extra_id) {
        const std::byte* f = extra + pos;
        std::size_t left = field_len;
        auto take = [&](std::uint64_t& slot) {
          if (left < 8) fail("entry '" + e.name + "' has a ZIP64 extra field that is too short");
          slot = load_le64(f);
          f += 8;
          left -= 8;
        };
        if (want_usize) take(e.uncompressed_size);
        if (want_csize) take(e.compressed_size);
        if (want_offset) take(e.local_header_offset);
        return;
      }
      pos += field_len;
    }
    if (want_usize || want_csize || want_offset)
      fail("entry '" + e.name + "' marks its sizes as ZIP64 but has no ZIP64 extra field");
  }

  void check_entry(const zip_entry& e) const {
    if (e.flags & 0x1) fail("entry '" + e.name + "' is encrypted, which is not supported");
    if (e.method != zip_method_stored && e.method != zip_method_deflate)
      fail("entry '" + e.name + "' uses compression method " + std::to_string(e.method) +
           " (only stored and deflate are supported)");
    if (e.method == zip_method_stored && e.compressed_size != e.uncompressed_size)
      fail("stored entry '" + e.name + "' declares different compressed and uncompressed sizes");
    // Deflate cannot expand data by more than ~1032:1; a bigger claim would only make us allocate.
    if (e.method == zip_method_deflate && e.uncompressed_size / 1032 > e.compressed_size + 1)
      fail("entry '" + e.name + "' declares an impossible uncompressed size of " + std::to_string(e.uncompressed_size) +
           " bytes");
  }

  std::unique_ptr<random_access_source> src_;
  std::vector<zip_entry> entries_;
};

// ---------------------------------------------------------------------------------------------
// ZIP writing.

/// Writes entries in order to a byte sink, then the central directory on finish().
/// `zip64_limit` is the size/offset from which ZIP64 records are used (lower it in tests to
/// exercise those paths without writing 4 GiB).
class zip_writer {
 public:
  using sink = std::function<void(const void*, std::size_t)>;

  explicit zip_writer(sink out, std::uint64_t zip64_limit = 0xffffffffu) : out_(std::move(out)), limit_(zip64_limit) {}

  /// Adds an entry whose bytes are the concatenation of `pieces` (e.g. an npy header and a
  /// tensor's data, without joining them first).
  void add(std::string_view entry_name, std::span<const std::string_view> pieces, bool deflate) {
    if (finished_) throw error("mixq: zip_writer: add() after finish()");
    if (entry_name.size() > 0xffff) throw error("mixq: ZIP entry name is too long: " + std::string(entry_name.substr(0, 64)) + "...");
    record r;
    r.name = std::string(entry_name);
    r.method = deflate ? zip_method_deflate : zip_method_stored;
    r.offset = written_;
    std::uint32_t crc = 0;
    std::uint64_t usize = 0;
    for (auto p : pieces) {
      crc = crc32_of(crc, reinterpret_cast<const std::byte*>(p.data()), p.size());
      usize += p.size();
    }
    r.crc32 = crc;
    r.usize = usize;
    std::string compressed;
    if (deflate) {
      compressed = deflate_pieces(pieces, entry_name);
      r.csize = compressed.size();
    } else {
      r.csize = usize;
    }
    r.zip64 = r.usize >= limit_ || r.csize >= limit_;

    std::string header;
    append_le32(header, zip_local_header_signature);
    append_le16(header, r.zip64 ? 45 : 20);  // version needed to extract
    append_le16(header, flags_for(r.name));
    append_le16(header, r.method);
    append_le16(header, 0);       // time 00:00:00
    append_le16(header, 0x21);    // date 1980-01-01: fixed, so equal inputs give equal files
    append_le32(header, r.crc32);
    append_le32(header, r.zip64 ? 0xffffffffu : r.csize);
    append_le32(header, r.zip64 ? 0xffffffffu : r.usize);
    append_le16(header, r.name.size());
    append_le16(header, r.zip64 ? 20 : 0);
    header += r.name;
    if (r.zip64) {  // the local ZIP64 extra always holds both sizes
      append_le16(header, zip64_extra_id);
      append_le16(header, 16);
      append_le64(header, r.usize);
      append_le64(header, r.csize);
    }
    emit(header.data(), header.size());
    if (deflate) {
      emit(compressed.data(), compressed.size());
    } else {
      for (auto p : pieces) emit(p.data(), p.size());
    }
    records_.push_back(std::move(r));
  }
  void add(std::string_view entry_name, std::string_view bytes, bool deflate) {
    const std::string_view one[] = {bytes};
    add(entry_name, one, deflate);
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    const std::uint64_t cd_offset = written_;
    std::string cd;
    for (const auto& r : records_) {
      const bool big_usize = r.usize >= limit_, big_csize = r.csize >= limit_, big_offset = r.offset >= limit_;
      const bool zip64 = big_usize || big_csize || big_offset;
      std::string extra;
      if (zip64) {
        append_le16(extra, zip64_extra_id);
        append_le16(extra, 8 * (big_usize + big_csize + big_offset));
        if (big_usize) append_le64(extra, r.usize);
        if (big_csize) append_le64(extra, r.csize);
        if (big_offset) append_le64(extra, r.offset);
      }
      append_le32(cd, zip_central_header_signature);
      append_le16(cd, (3 << 8) | (zip64 || r.zip64 ? 45 : 20));  // made by: unix
      append_le16(cd, zip64 || r.zip64 ? 45 : 20);
      append_le16(cd, flags_for(r.name));
      append_le16(cd, r.method);
      append_le16(cd, 0);
      append_le16(cd, 0x21);
      append_le32(cd, r.crc32);
      append_le32(cd, big_csize ? 0xffffffffu : r.csize);
      append_le32(cd, big_usize ? 0xffffffffu : r.usize);
      append_le16(cd, r.name.size());
      append_le16(cd, extra.size());
      append_le16(cd, 0);  // comment length
      append_le16(cd, 0);  // disk
      append_le16(cd, 0);  // internal attributes
      append_le32(cd, 0644u << 16);  // external attributes: rw-r--r--
      append_le32(cd, big_offset ? 0xffffffffu : r.offset);
      cd += r.name;
      cd += extra;
    }
    emit(cd.data(), cd.size());
    const std::uint64_t count = records_.size(), cd_size = cd.size();
    const bool big_count = count >= 0xffff || count >= limit_;
    const bool big_cd_size = cd_size >= limit_, big_cd_offset = cd_offset >= limit_;
    std::string end;
    if (big_count || big_cd_size || big_cd_offset) {
      const std::uint64_t record_offset = written_;
      append_le32(end, zip64_end_signature);
      append_le64(end, 44);  // size of the rest of this record
      append_le16(end, (3 << 8) | 45);
      append_le16(end, 45);
      append_le32(end, 0);
      append_le32(end, 0);
      append_le64(end, count);
      append_le64(end, count);
      append_le64(end, cd_size);
      append_le64(end, cd_offset);
      append_le32(end, zip64_locator_signature);
      append_le32(end, 0);
      append_le64(end, record_offset);
      append_le32(end, 1);  // total number of disks
    }
    append_le32(end, zip_end_signature);
    append_le16(end, 0);
    append_le16(end, 0);
    append_le16(end, big_count ? 0xffff : count);
    append_le16(end, big_count ? 0xffff : count);
    append_le32(end, big_cd_size ? 0xffffffffu : cd_size);
    append_le32(end, big_cd_offset ? 0xffffffffu : cd_offset);
    append_le16(end, 0);  // comment length
    emit(end.data(), end.size());
  }

  std::uint64_t bytes_written() const noexcept { return written_; }

 private:
  struct record {
    std::string name;
    std::uint16_t method = 0;
    std::uint32_t crc32 = 0;
    std::uint64_t usize = 0, csize = 0, offset = 0;
    bool zip64 = false;
  };

  static std::uint16_t flags_for(std::string_view name) noexcept {
    // Bit 11: the name is UTF-8 (only needed, and only set, for non-ASCII names).
    for (char c : name)
      if (static_cast<unsigned char>(c) >= 0x80) return 1u << 11;
    return 0;
  }

  void emit(const void* p, std::size_t n) {
    if (n == 0) return;
    out_(p, n);
    written_ += n;
  }

  static std::string deflate_pieces(std::span<const std::string_view> pieces, std::string_view entry_name) {
    z_stream z{};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw error("mixq: zlib deflateInit2 failed for ZIP entry '" + std::string(entry_name) + "'");
    std::string out;
    char buf[1 << 16];
    auto pump = [&](int flush) {
      int rc;
      do {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = deflate(&z, flush);
        if (rc == Z_STREAM_ERROR) {
          deflateEnd(&z);
          throw error("mixq: zlib deflate failed for ZIP entry '" + std::string(entry_name) + "'");
        }
        out.append(buf, sizeof buf - z.avail_out);
      } while (z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    };
    for (auto p : pieces) {
      std::size_t done = 0;
      while (done < p.size()) {
        const std::size_t part = std::min<std::size_t>(p.size() - done, std::size_t{1} << 30);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p.data() + done));
        z.avail_in = static_cast<uInt>(part);
        pump(Z_NO_FLUSH);
        done += part;
      }
    }
    z.next_in = nullptr;
    z.avail_in = 0;
    pump(Z_FINISH);
    deflateEnd(&z);
    return out;
  }

  sink out_;
  std::uint64_t limit_;
  std::uint64_t written_ = 0;
  std::vector<record> records_;
  bool finished_ = false;
};

}  // namespace mixq::detail
