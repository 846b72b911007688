// Damaged input: every failure is a mixq::error with a useful message, never a crash (run this
// binary under ASan+UBSan too).
#include <random>
#include <string>
#include <vector>

#include "npz_test_util.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {

// Parses and reports whether it worked; lets only mixq::error through as "rejected".
template <class F>
bool accepted(F&& parse) {
  try {
    parse();
    return true;
  } catch (const mixq::error&) {
    return false;
  }
}

std::string npy_with_header(const std::string& header, const std::string& data = "", int major = 1) {
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  if (major == 1) detail::append_le16(out, header.size());
  else detail::append_le32(out, header.size());
  return out + header + data;
}

std::size_t nth_find(const std::string& hay, const std::string& needle, int n) {
  std::size_t pos = std::string::npos;
  for (int i = 0; i < n; ++i) pos = hay.find(needle, pos == std::string::npos ? 0 : pos + 1);
  REQUIRE(pos != std::string::npos);
  return pos;
}

const std::string local_sig("PK\x03\x04", 4), central_sig("PK\x01\x02", 4);

}  // namespace

TEST_CASE("every truncation of a valid .npz is an error", "[npz][robust]") {
  for (const char* file : {"small.npz", "small_compressed.npz", "data_descriptor.npz", "zip64_full.npz"}) {
    const std::string bytes = slurp(npz_fixture(file));
    REQUIRE(accepted([&] { parse_npz(bytes, file); }));
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      INFO(file << " cut to " << n << " bytes");
      const std::string cut = bytes.substr(0, n);  // own buffer, so ASan sees reads past the end
      CHECK_THROWS_AS(parse_npz(cut, file), mixq::error);
    }
  }
}

TEST_CASE("every truncation of a valid .npy is an error", "[npz][robust]") {
  for (const char* file : {"v1.npy", "v2.npy", "fortran.npy", "scalar.npy"}) {
    const std::string bytes = slurp(npz_fixture(file));
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      INFO(file << " cut to " << n << " bytes");
      CHECK_THROWS_AS(parse_npy(bytes.substr(0, n), file), mixq::error);
    }
  }
}

TEST_CASE("truncated files on disk are errors naming the file", "[npz][robust]") {
  temp_dir dir;
  const std::string bytes = slurp(npz_fixture("small_compressed.npz"));
  for (std::size_t n : {std::size_t{0}, std::size_t{10}, bytes.size() / 2, bytes.size() - 1}) {
    write_file_atomically(dir.file("cut.npz"), bytes.substr(0, n));
    CHECK_THROWS_WITH(read_npz(dir.file("cut.npz")), Catch::Contains("cut.npz"));
    write_file_atomically(dir.file("cut.npy"), slurp(npz_fixture("v1.npy")).substr(0, n / 4));
    CHECK_THROWS_WITH(read_npy(dir.file("cut.npy")), Catch::Contains("cut.npy"));
  }
}

TEST_CASE("random bytes are rejected", "[npz][robust]") {
  std::mt19937 gen(7);
  for (int rep = 0; rep < 300; ++rep) {
    std::string junk(static_cast<std::size_t>(gen() % 3000), '\0');
    for (char& c : junk) c = static_cast<char>(gen());
    if (rep % 3 == 1) junk += std::string("PK\x05\x06", 4) + std::string(18, '\0');  // an empty-looking end record
    if (rep % 3 == 2) {  // an end record pointing at random places
      junk += std::string("PK\x05\x06\0\0\0\0", 8);
      for (int i = 0; i < 14; ++i) junk += static_cast<char>(gen());
      junk.replace(junk.size() - 2, 2, std::string(2, '\0'));
    }
    const bool npz_ok = accepted([&] { parse_npz(junk, "junk.npz"); });
    CHECK((!npz_ok || rep % 3 == 1));  // only the empty archive may parse (as an empty npz)
    CHECK_FALSE(accepted([&] { parse_npy(junk, "junk.npy"); }));
  }
}

TEST_CASE("a flipped byte in stored array data is a CRC-32 error", "[npz][robust]") {
  std::string bytes = slurp(npz_fixture("small.npz"));
  const std::size_t end_of_a = nth_find(bytes, local_sig, 2);  // "b.npy" starts right after a's data
  bytes[end_of_a - 1] ^= 0x01;
  CHECK_THROWS_WITH(parse_npz(bytes, "flip.npz"), Catch::Contains("flip.npz/a.npy") && Catch::Contains("CRC-32"));
  npz_reader r = npz_reader::from_memory(bytes, "flip.npz");  // the header is fine: listing works
  CHECK(r.read("b").numel() == 3);
  CHECK_THROWS_WITH(r.read("a"), Catch::Contains("CRC-32"));
}

TEST_CASE("flipped bytes in deflated data are errors", "[npz][robust]") {
  const std::string original = slurp(npz_fixture("small_compressed.npz"));
  const std::size_t header = nth_find(original, local_sig, 1);
  const auto* h = reinterpret_cast<const std::byte*>(original.data() + header);
  const std::size_t start = header + 30 + detail::load_le16(h + 26) + detail::load_le16(h + 28);  // a.npy's data
  const std::size_t end = nth_find(original, local_sig, 2);
  // The last byte is left alone: its high bits are padding after the final block, ignored by design.
  for (std::size_t pos = start; pos + 1 < end; ++pos) {
    std::string bytes = original;
    bytes[pos] = static_cast<char>(bytes[pos] ^ 0x10);
    CHECK_FALSE(accepted([&] { parse_npz(bytes, "flip.npz"); }));
  }
}

TEST_CASE("random mutations never crash: each file parses or is a mixq::error", "[npz][robust]") {
  std::mt19937 gen(99);
  for (const char* file : {"all_dtypes.npz", "all_dtypes_compressed.npz", "zip64_full.npz", "data_descriptor.npz"}) {
    const std::string original = slurp(npz_fixture(file));
    int rejected = 0;
    for (int rep = 0; rep < 1500; ++rep) {
      std::string bytes = original;
      const int flips = 1 + static_cast<int>(gen() % 4);
      for (int i = 0; i < flips; ++i) bytes[gen() % bytes.size()] = static_cast<char>(gen());
      rejected += !accepted([&] { parse_npz(bytes, file); });
      accepted([&] {
        npz_reader r = npz_reader::from_memory(bytes, file);
        for (const auto& e : r.entries()) accepted([&] { r.read(e.name); });
      });
    }
    CHECK(rejected > 0);
  }
}

TEST_CASE("malformed .npy headers are errors that say what is wrong", "[npz][robust]") {
  const std::string four(4, '\0');
  auto parse = [](const std::string& b) { return parse_npy(b, "bad.npy"); };
  CHECK_THROWS_WITH(parse("NUMPY" + std::string(20, ' ')), Catch::Contains("bad.npy") && Catch::Contains("magic"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", four, 4)),
                    Catch::Contains("version 4.0"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", four)),
                    Catch::Contains("shape"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<f4', 'fortran_order': False}", four)),
                    Catch::Contains("'shape'"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<f4', 'fortran_order': 1, 'shape': (1,)}", four)),
                    Catch::Contains("fortran_order"));
  CHECK_THROWS_WITH(parse(npy_with_header("[1, 2]", four)), Catch::Contains("not a dictionary"));
  CHECK_THROWS_WITH(parse(npy_with_header(std::string(5000, '(') + std::string(5000, ')'), four)),
                    Catch::Contains("nesting"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, "
                                          "1099511627776, 1099511627776), }", four)),
                    Catch::Contains("impossibly large"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", four)),
                    Catch::Contains("too large"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", four)),
                    Catch::Contains("'<c8'") && Catch::Contains("not supported"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", four)),
                    Catch::Contains("truncated"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", four + "xx")),
                    Catch::Contains("2 unexpected bytes"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", four)),
                    Catch::Contains("after the header"));
  CHECK_THROWS_WITH(parse(npy_with_header("{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", four)),
                    Catch::Contains("malformed"));
}

TEST_CASE("lenient .npy headers numpy accepts are read", "[npz][robust]") {
  // Double quotes, other key order, Python 2 longs, version 2.0, no padding.
  const tensor t = parse_npy(npy_with_header(R"({"shape": (2L, 1L), "fortran_order": True, "descr": "<i2"})",
                                             std::string("\x01\x00\x02\x00", 4), 2), "py2.npy");
  CHECK(same_bytes(t, tensor::from_vector<std::int16_t>({2, 1}, {1, 2})));
  // Bool bytes other than 0/1 become true (a C++ bool must hold 0 or 1).
  const tensor b = parse_npy(npy_with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                                             std::string("\x00\x02\xff", 3)), "bool.npy");
  CHECK(b.data<bool>()[0] == false);
  CHECK(b.data<bool>()[1] == true);
  CHECK(b.data<bool>()[2] == true);
}

TEST_CASE("unsupported ZIP features and odd archives are clear errors", "[npz][robust]") {
  const std::string small = slurp(npz_fixture("small.npz"));
  {
    std::string bytes = small;
    bytes[nth_find(bytes, central_sig, 1) + 10] = 12;  // method 12 = bzip2
    CHECK_THROWS_WITH(parse_npz(bytes, "m.npz"), Catch::Contains("m.npz") && Catch::Contains("compression method 12"));
  }
  {
    std::string bytes = small;
    bytes[nth_find(bytes, central_sig, 2) + 8] |= 1;  // encrypted
    CHECK_THROWS_WITH(parse_npz(bytes, "e.npz"), Catch::Contains("'b.npy'") && Catch::Contains("encrypted"));
  }
  {
    std::string bytes;
    detail::zip_writer zip([&](const void* p, std::size_t n) { bytes.append(static_cast<const char*>(p), n); });
    zip.add("a.npy", serialize_npy(tensor::scalar<float>(1)), false);
    zip.add("a.npy", serialize_npy(tensor::scalar<float>(2)), false);
    zip.finish();
    CHECK_THROWS_WITH(parse_npz(bytes, "dup.npz"), Catch::Contains("two arrays named 'a'"));
  }
  {
    std::string bytes;
    detail::zip_writer zip([&](const void* p, std::size_t n) { bytes.append(static_cast<const char*>(p), n); });
    zip.add("dir/", "", false);  // directory entries are skipped
    zip.add("readme.txt", "hello, this is not an array", true);
    zip.finish();
    CHECK_THROWS_WITH(parse_npz(bytes, "txt.npz"), Catch::Contains("txt.npz/readme.txt") && Catch::Contains("not a .npy"));
  }
  {
    std::string bytes;
    detail::zip_writer zip([&](const void* p, std::size_t n) { bytes.append(static_cast<const char*>(p), n); });
    zip.finish();
    CHECK(parse_npz(bytes, "empty.npz").empty());
  }
}
