// Writing .npy/.npz: round trips through mixq, and numpy reading what mixq wrote.
#include <cstdlib>
#include <random>
#include <vector>

#include "npz_test_util.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {

// Random bits of every dtype (floats too: any bit pattern must survive, NaNs included).
tensor random_of(dtype d, shape_t shape) {
  tensor t = tensor::empty(d, std::move(shape));
  auto* p = reinterpret_cast<unsigned char*>(t.raw());
  for (std::size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<unsigned char>(random_int(0, 255));
  if (d == dtype::boolean)
    for (std::size_t i = 0; i < t.nbytes(); ++i) p[i] &= 1;
  return t;
}

shape_t random_shape() {
  shape_t s(static_cast<std::size_t>(random_int(0, 4)));
  for (auto& d : s) d = random_int(1, 7);
  return s;
}

npz_file every_dtype_file() {
  npz_file f;
  for (dtype d : all_dtypes) f.add(std::string(name(d)), random_of(d, random_shape()));
  f.add("zero_d", tensor::scalar<double>(-3.5));
  f.add("empty", tensor::empty(dtype::i16, {4, 0, 2}));
  f.add("nested/key.with.dots", random_of(dtype::f32, {3, 5}));
  return f;
}

// bf16 goes out as '<u2' and comes back as u16 holding the same bits.
void require_round_trip(const npz_file& in, const npz_file& out) {
  REQUIRE(out.names() == in.names());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const tensor& a = in.entries()[i].second;
    const tensor& b = out.entries()[i].second;
    INFO(in.entries()[i].first);
    if (a.elem() == dtype::bf16) {
      CHECK(b.elem() == dtype::u16);
      CHECK(same_bytes(as_bf16(b), a));
    } else {
      CHECK(same_bytes(a, b));
    }
  }
}

int run_python(const std::string& script_path, const std::string& args) {
  return std::system(("/usr/bin/python3 " + script_path + " " + args).c_str());
}

}  // namespace

TEST_CASE("every dtype round-trips through serialize_npz/parse_npz, stored and compressed", "[npz]") {
  for (int rep = 0; rep < 5; ++rep) {
    const npz_file f = every_dtype_file();
    for (bool compressed : {false, true}) {
      INFO("compressed " << compressed);
      const std::string bytes = serialize_npz(f, compressed);
      require_round_trip(f, parse_npz(bytes, "mem.npz"));
      npz_reader r = npz_reader::from_memory(bytes, "mem.npz");
      CHECK(r.entries()[0].compressed == compressed);
    }
  }
}

TEST_CASE("write_npz/read_npz round-trip through a file", "[npz]") {
  temp_dir dir;
  const npz_file f = every_dtype_file();
  write_npz(dir.file("a.npz"), f);
  write_npz(dir.file("b.npz"), f, true);
  require_round_trip(f, read_npz(dir.file("a.npz")));
  require_round_trip(f, read_npz(dir.file("b.npz")));
  CHECK(read_npz(dir.file("a.npz")).source() == dir.file("a.npz"));
  CHECK(dir.count_files() == 2);  // no temporary files left behind
}

TEST_CASE("writing is deterministic and a stored file matches its serialized bytes", "[npz]") {
  temp_dir dir;
  const npz_file f = every_dtype_file();
  write_npz(dir.file("a.npz"), f);
  CHECK(slurp(dir.file("a.npz")) == serialize_npz(f));
  CHECK(serialize_npz(f, true) == serialize_npz(f, true));
}

TEST_CASE("named_tensors are written in key order, npz_file in insertion order", "[npz]") {
  named_tensors m{{"zeta", tensor::scalar<float>(1)}, {"alpha", tensor::scalar<float>(2)}};
  temp_dir dir;
  write_npz(dir.file("m.npz"), m);
  CHECK(read_npz(dir.file("m.npz")).names() == std::vector<std::string>{"alpha", "zeta"});
  npz_file f;
  f.add("zeta", tensor::scalar<float>(1));
  f.add("alpha", tensor::scalar<float>(2));
  CHECK(parse_npz(serialize_npz(f), "f").names() == std::vector<std::string>{"zeta", "alpha"});
  const named_tensors back = to_named(f);
  CHECK(back.size() == 2);
  CHECK(back.at("alpha").data<float>()[0] == 2.f);
}

TEST_CASE("npz_file add refuses duplicates, set replaces in place, erase removes", "[npz]") {
  npz_file f;
  f.add("a", tensor::scalar<float>(1));
  f.add("b", tensor::scalar<float>(2));
  CHECK_THROWS_WITH(f.add("a", tensor::scalar<float>(3)), Catch::Contains("'a'"));
  f.set("a", tensor::scalar<float>(4));
  f.set("c", tensor::scalar<float>(5));
  CHECK(f.names() == std::vector<std::string>{"a", "b", "c"});
  CHECK(f.at("a").data<float>()[0] == 4.f);
  CHECK(f.erase("b"));
  CHECK_FALSE(f.erase("b"));
  CHECK(f.names() == std::vector<std::string>{"a", "c"});
}

TEST_CASE(".npy round-trips and its header is numpy's, padded to 64 bytes", "[npz]") {
  const tensor t = tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const std::string bytes = serialize_npy(t);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::string header = bytes.substr(10, bytes.size() - 10 - t.nbytes());
  CHECK(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0) == 0);
  CHECK(header.back() == '\n');
  CHECK((bytes.size() - t.nbytes()) % 64 == 0);
  CHECK(serialize_npy(tensor::from_vector<std::int8_t>({1}, {5})).find("'shape': (1,)") != std::string::npos);
  CHECK(serialize_npy(tensor::scalar<bool>(true)).find("'descr': '|b1', 'fortran_order': False, 'shape': ()") !=
        std::string::npos);
  for (dtype d : all_dtypes) {
    const tensor r = random_of(d, random_shape());
    const tensor back = parse_npy(serialize_npy(r), "mem.npy");
    CHECK(same_bytes(d == dtype::bf16 ? as_bf16(back) : back, r));
  }
  temp_dir dir;
  write_npy(dir.file("t.npy"), t);
  CHECK(same_bytes(read_npy(dir.file("t.npy")), t));
}

TEST_CASE(".npy version 2.0 is written only when the header outgrows 64 KiB", "[npz]") {
  CHECK(serialize_npy(tensor::zeros(dtype::f32, shape_t(40, 1)))[6] == '\x01');
  const tensor huge_rank = tensor::zeros(dtype::f32, shape_t(25000, 1));  // "1, " x 25000 > 65535 bytes
  const std::string bytes = serialize_npy(huge_rank);
  CHECK(bytes[6] == '\x02');
  CHECK((bytes.size() - huge_rank.nbytes()) % 64 == 0);
  CHECK(same_bytes(parse_npy(bytes, "rank25000.npy"), huge_rank));
}

TEST_CASE("as_bf16 reinterprets uint16 bits and rejects other dtypes", "[npz]") {
  const tensor u = tensor::from_vector<std::uint16_t>({2}, {0x3f80, 0xc000});
  const tensor b = as_bf16(u);
  CHECK(b.elem() == dtype::bf16);
  CHECK(static_cast<float>(b.data<bfloat16>()[0]) == 1.f);
  CHECK(static_cast<float>(b.data<bfloat16>()[1]) == -2.f);
  CHECK_THROWS_WITH(as_bf16(tensor::scalar<float>(1)), Catch::Contains("float32"));
}

TEST_CASE("ZIP64 records (forced by a low limit) are read back by mixq", "[npz]") {
  const npz_file f = every_dtype_file();
  for (bool compressed : {false, true}) {
    const std::string bytes = detail::serialize_npz_entries(f.entries(), compressed, 0);
    CHECK(bytes.find(std::string("PK\x06\x06", 4)) != std::string::npos);  // ZIP64 end record
    require_round_trip(f, parse_npz(bytes, "zip64.npz"));
  }
}

TEST_CASE("a 10 MB array round-trips stored and compressed into aligned, unshared buffers", "[npz]") {
  npz_file f;
  tensor big = tensor::empty(dtype::f32, {1024, 2560});
  float* p = big.data<float>();
  for (std::int64_t i = 0; i < big.numel(); ++i) p[i] = static_cast<float>(i % 1000) * 0.25f;
  f.add("big", big);
  f.add("small", tensor::scalar<std::int32_t>(3));
  temp_dir dir;
  for (bool compressed : {false, true}) {
    write_npz(dir.file("big.npz"), f, compressed);
    const npz_file back = read_npz(dir.file("big.npz"));
    CHECK(same_bytes(back.at("big"), big));
    CHECK(reinterpret_cast<std::uintptr_t>(back.at("big").raw()) % 64 == 0);
    CHECK(back.at("big").use_count() == 1);
    CHECK(same_bytes(back.at("small"), f.at("small")));
  }
}

TEST_CASE("writing an undefined tensor is an error naming the entry", "[npz]") {
  npz_file f;
  f.add("hole", tensor{});
  temp_dir dir;
  CHECK_THROWS_WITH(write_npz(dir.file("x.npz"), f), Catch::Contains("hole"));
  CHECK(dir.count_files() == 0);
}

TEST_CASE("numpy reads what mixq writes (savez and savez_compressed style, ZIP64, .npy)", "[npz][python]") {
  if (!have_numpy()) {
    WARN("/usr/bin/python3 with numpy is not available: skipped");
    return;
  }
  temp_dir dir;
  // mixq copies numpy's fixture; numpy then compares the copy with its original.
  const npz_file original = read_npz(npz_fixture("all_dtypes.npz"));
  npz_file copy;
  for (const auto& [k, t] : original) copy.add(k, t);
  copy.add("bf16", tensor::from_vector<bfloat16>({2}, {bfloat16(1.f), bfloat16(-2.f)}));
  write_npz(dir.file("stored.npz"), copy);
  write_npz(dir.file("deflated.npz"), copy, true);
  {
    atomic_file_writer out(dir.file("zip64.npz"));
    out.write(detail::serialize_npz_entries(copy.entries(), true, 0));
    out.commit();
  }
  write_npy(dir.file("fortran.npy"), original.at("fortran"));
  const std::string script = dir.file("check.py");
  write_file_atomically(script, R"(
import sys, numpy as np
ref = np.load(sys.argv[1])
for name in sys.argv[2:5]:
    got = np.load(name)
    assert got.files == ref.files + ["bf16"], (name, got.files)
    for k in ref.files:
        a, b = ref[k], got[k]
        assert a.shape == b.shape and a.dtype.newbyteorder("=") == b.dtype.newbyteorder("="), (name, k, a.dtype, b.dtype)
        assert b.dtype.byteorder in "=|<", (name, k, b.dtype)
        assert np.array_equal(a, b), (name, k)
    assert got["bf16"].dtype == np.uint16 and list(got["bf16"]) == [0x3f80, 0xc000], got["bf16"]
f = np.load(sys.argv[5])
assert f.flags.c_contiguous and np.array_equal(f, ref["fortran"])
)");
  CHECK(run_python(script, npz_fixture("all_dtypes.npz") + " " + dir.file("stored.npz") + " " + dir.file("deflated.npz") +
                               " " + dir.file("zip64.npz") + " " + dir.file("fortran.npy")) == 0);
}
