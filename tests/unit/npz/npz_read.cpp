// Reading numpy-written .npy/.npz fixtures (tests/data/npz, made by make_fixtures.py).
#include <bit>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "npz_test_util.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {

struct plain_array {
  std::string key, dtype_name;
  shape_t shape;
  std::vector<std::string> values;
};

// values.txt: "<key> <dtype> <d0xd1|scalar> <values...>" per array, in file order.
std::vector<plain_array> read_plain(const std::string& file) {
  std::ifstream in(npz_fixture(file));
  REQUIRE(in);
  std::vector<plain_array> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    plain_array a;
    std::string shape;
    s >> a.key >> a.dtype_name >> shape;
    if (shape != "scalar") {
      std::istringstream dims(shape);
      std::string d;
      while (std::getline(dims, d, 'x')) a.shape.push_back(std::stoll(d));
    }
    for (std::string v; s >> v;) a.values.push_back(v);
    out.push_back(a);
  }
  return out;
}

// Compares every element exactly (floats bit for bit, so -0.0 and denormals count).
void require_matches_plain(const tensor& t, const plain_array& p) {
  INFO("array " << p.key);
  REQUIRE(std::string(name(t.elem())) == p.dtype_name);
  REQUIRE(t.shape() == p.shape);
  REQUIRE(static_cast<std::size_t>(t.numel()) == p.values.size());
  for (std::size_t i = 0; i < p.values.size(); ++i) {
    INFO("element " << i << " expected " << p.values[i]);
    const char* v = p.values[i].c_str();
    switch (t.elem()) {
      case dtype::f32: REQUIRE(std::bit_cast<std::uint32_t>(t.data<float>()[i]) ==
                               std::bit_cast<std::uint32_t>(static_cast<float>(std::strtod(v, nullptr)))); break;
      case dtype::f64: REQUIRE(std::bit_cast<std::uint64_t>(t.data<double>()[i]) ==
                               std::bit_cast<std::uint64_t>(std::strtod(v, nullptr))); break;
      case dtype::f16: REQUIRE(t.data<float16>()[i].bits == std::strtoul(v, nullptr, 10)); break;
      case dtype::boolean: REQUIRE(t.data<bool>()[i] == (std::strtol(v, nullptr, 10) != 0)); break;
      case dtype::u64: REQUIRE(t.data<std::uint64_t>()[i] == std::strtoull(v, nullptr, 10)); break;
      case dtype::i64: REQUIRE(t.data<std::int64_t>()[i] == std::strtoll(v, nullptr, 10)); break;
      default: REQUIRE(element_as_double(t, static_cast<std::int64_t>(i)) == static_cast<double>(std::strtoll(v, nullptr, 10)));
    }
  }
}

void require_matches_plain(const npz_file& f, const std::vector<plain_array>& plain) {
  REQUIRE(f.size() == plain.size());
  for (std::size_t i = 0; i < plain.size(); ++i) {
    CHECK(f.entries()[i].first == plain[i].key);  // file order is kept
    require_matches_plain(f.entries()[i].second, plain[i]);
  }
}

void require_small(const npz_file& f) {
  REQUIRE(f.names() == std::vector<std::string>{"a", "b"});
  REQUIRE(same_bytes(f.at("a"), tensor::from_vector<float>({2, 3}, {0, 1, 2, 3, 4, 5})));
  REQUIRE(same_bytes(f.at("b"), tensor::from_vector<std::int64_t>({3}, {7, 8, 9})));
}

}  // namespace

TEST_CASE("numpy.savez file with every dtype reads back numpy's values", "[npz]") {
  require_matches_plain(read_npz(npz_fixture("all_dtypes.npz")), read_plain("values.txt"));
}

TEST_CASE("numpy.savez_compressed file with every dtype reads back numpy's values", "[npz]") {
  require_matches_plain(read_npz(npz_fixture("all_dtypes_compressed.npz")), read_plain("values.txt"));
}

TEST_CASE("in-memory parse_npz equals read_npz", "[npz]") {
  const std::string bytes = slurp(npz_fixture("all_dtypes_compressed.npz"));
  require_matches_plain(parse_npz(bytes, "all_dtypes_compressed.npz"), read_plain("values.txt"));
}

TEST_CASE("special arrays: 0-d, empty, Fortran order, big-endian, keys with slashes", "[npz]") {
  const npz_file f = read_npz(npz_fixture("all_dtypes.npz"));
  CHECK(f.at("scalar").shape().empty());
  CHECK(f.at("scalar").data<float>()[0] == 2.5f);
  CHECK(f.at("empty").shape() == shape_t{0, 3});
  CHECK(f.at("empty").numel() == 0);
  const tensor& fortran = f.at("fortran");
  REQUIRE(fortran.shape() == shape_t{2, 3, 4});
  for (std::int32_t i = 0; i < 24; ++i) CHECK(fortran.data<std::int32_t>()[i] == i);  // arange(24) in C order
  CHECK(f.at("big_endian").data<float>()[2] == 1e10f);
  CHECK(f.at("big_endian_i64").data<std::int64_t>()[3] == std::int64_t{1} << 40);
  CHECK(f.contains("group/sub.layer/weight"));
  CHECK(f.find("group/sub.layer/weight.npy") == nullptr);
  CHECK(f.find("missing") == nullptr);
  CHECK_THROWS_WITH(f.at("missing"), Catch::Contains("missing") && Catch::Contains("all_dtypes.npz"));
}

TEST_CASE("npz_reader lists dtypes and shapes from the headers and reads entries on demand", "[npz]") {
  for (const char* file : {"all_dtypes.npz", "all_dtypes_compressed.npz"}) {
    npz_reader r(npz_fixture(file));
    const auto plain = read_plain("values.txt");
    REQUIRE(r.size() == plain.size());
    for (std::size_t i = 0; i < plain.size(); ++i) {
      const npz_entry_info& e = r.entries()[i];
      CHECK(e.name == plain[i].key);
      CHECK(e.entry_name == plain[i].key + ".npy");
      CHECK(e.shape == plain[i].shape);
      REQUIRE(e.elem);
      CHECK(std::string(name(*e.elem)) == plain[i].dtype_name);
      CHECK(e.compressed == (std::string(file) == "all_dtypes_compressed.npz"));
    }
    CHECK(r.find("fortran")->fortran_order);
    CHECK_FALSE(r.find("f32")->fortran_order);
    CHECK(r.find("big_endian")->descr == ">f4");
    CHECK(r.find("u8")->descr == "|u1");
    // Out of order and twice: entries are independent.
    require_matches_plain(r.read("u64"), plain[10]);
    require_matches_plain(r.read("f32"), plain[0]);
    require_matches_plain(r.read("u64"), plain[10]);
    CHECK_THROWS_WITH(r.read("nope"), Catch::Contains("nope") && Catch::Contains(file));
  }
}

TEST_CASE(".npy header versions 1.0, 2.0 and 3.0 read the same array", "[npz]") {
  tensor expected = tensor::empty(dtype::f32, {3, 4});
  for (int i = 0; i < 12; ++i) expected.data<float>()[i] = 0.5f * static_cast<float>(i);
  for (const char* file : {"v1.npy", "v2.npy", "v3.npy"}) {
    INFO(file);
    CHECK(same_bytes(read_npy(npz_fixture(file)), expected));
    CHECK(same_bytes(parse_npy(slurp(npz_fixture(file)), file), expected));
  }
}

TEST_CASE("single .npy files: Fortran order, big-endian, 0-d", "[npz]") {
  CHECK(same_bytes(read_npy(npz_fixture("fortran.npy")), tensor::from_vector<double>({2, 3}, {0, 1, 2, 3, 4, 5})));
  CHECK(same_bytes(read_npy(npz_fixture("big_endian.npy")), tensor::from_vector<std::int16_t>({3}, {1, 256, -3})));
  CHECK(same_bytes(read_npy(npz_fixture("scalar.npy")), tensor::scalar<std::int64_t>(7)));
}

TEST_CASE("ZIP variants: data descriptors, full ZIP64 records, archive comment", "[npz]") {
  for (const char* file : {"small.npz", "small_compressed.npz", "data_descriptor.npz", "zip64_full.npz", "comment.npz"}) {
    INFO(file);
    require_small(read_npz(npz_fixture(file)));
  }
}

TEST_CASE("a real npz (BERT inputs) reads back its values", "[npz]") {
  require_matches_plain(read_npz(npz_fixture("bert_base_0.npz")), read_plain("bert_base_0_values.txt"));
}

TEST_CASE("shared real npz files read without error", "[npz][shared]") {
  namespace fs = std::filesystem;
  const fs::path shared(MIXQ_SHARED_DIR);
  const fs::path cat = shared / "images" / "cat.npz";
  if (!fs::exists(cat)) {
    WARN("no shared data at " << shared << ": skipped");
    return;
  }
  const npz_file f = read_npz(cat.string());
  REQUIRE(f.size() == 1);
  CHECK(f.at("input").elem() == dtype::u8);
  CHECK(f.at("input").shape() == shape_t{1, 3, 224, 224});
  for (const char* dir : {"reference/ort", "datasets/BertBase"}) {
    if (!fs::exists(shared / dir)) continue;
    for (const auto& e : fs::directory_iterator(shared / dir)) {
      if (e.path().extension() != ".npz") continue;
      INFO(e.path());
      npz_reader r(e.path().string());
      const npz_file all = r.read_all();
      REQUIRE(all.size() == r.size());
      for (std::size_t i = 0; i < all.size(); ++i) CHECK(all.entries()[i].second.shape() == r.entries()[i].shape);
    }
  }
}

TEST_CASE("object arrays, structured and string dtypes are clear errors naming file, entry and dtype", "[npz]") {
  CHECK_THROWS_WITH(read_npy(npz_fixture("unicode.npy")), Catch::Contains("unicode.npy") && Catch::Contains("'<U2'"));
  npz_reader r(npz_fixture("unsupported.npz"));
  REQUIRE(r.names() == std::vector<std::string>{"good", "obj"});
  CHECK_FALSE(r.find("obj")->elem);
  CHECK(r.find("obj")->descr == "|O");
  CHECK(r.read("good").numel() == 2);
  CHECK_THROWS_AS(r.read("obj"), parse_error);
  CHECK_THROWS_WITH(r.read("obj"), Catch::Contains("unsupported.npz/obj.npy") && Catch::Contains("'|O'") &&
                                       Catch::Contains("pickle"));
  CHECK_THROWS_WITH(read_npz(npz_fixture("unsupported.npz")), Catch::Contains("obj.npy"));
  CHECK_THROWS_WITH(read_npz(npz_fixture("structured.npz")),
                    Catch::Contains("structured.npz/rec.npy") && Catch::Contains("structured dtype") &&
                        Catch::Contains("'<i4'"));
}

TEST_CASE("missing files are errors naming the path", "[npz]") {
  CHECK_THROWS_WITH(read_npz("/nonexistent/dir/x.npz"), Catch::Contains("/nonexistent/dir/x.npz"));
  CHECK_THROWS_WITH(read_npy("/nonexistent/dir/x.npy"), Catch::Contains("/nonexistent/dir/x.npy"));
  CHECK_THROWS_WITH(read_npz(MIXQ_TEST_DATA_DIR), Catch::Contains("is a directory"));
}

namespace {
std::string npy_bytes(const std::string& descr, bool fortran, const shape_t& shape, const std::string& data) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': (";
  for (auto d : shape) dict += std::to_string(d) + ",";
  dict += "), }\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  detail::append_le16(out, dict.size());
  return out + dict + data;
}
}  // namespace

TEST_CASE("Fortran-order data of random shapes is transposed to C order (vs index arithmetic)", "[npz]") {
  for (int rep = 0; rep < 40; ++rep) {
    shape_t shape(static_cast<std::size_t>(random_int(2, 4)));
    for (auto& d : shape) d = random_int(1, 6);
    const dtype d = rep % 3 == 0 ? dtype::f64 : rep % 3 == 1 ? dtype::i16 : dtype::u8;
    const std::size_t es = size_of(d);
    tensor c = tensor::empty(d, shape);
    for (std::size_t i = 0; i < c.nbytes(); ++i) c.raw()[i] = static_cast<std::byte>(random_int(0, 255));
    // Column-major bytes: element (i0, i1, ...) sits at i0 + s0 * (i1 + s1 * (i2 + ...)).
    std::string fdata(c.nbytes(), '\0');
    const shape_t cstride = strides_of(shape);
    for (std::int64_t lin = 0; lin < c.numel(); ++lin) {
      std::int64_t rest = lin, foff = 0, fmul = 1;
      for (std::size_t k = 0; k < shape.size(); ++k) {
        const std::int64_t idx = rest / cstride[k];
        rest %= cstride[k];
        foff += idx * fmul;
        fmul *= shape[k];
      }
      std::memcpy(fdata.data() + foff * static_cast<std::int64_t>(es), c.raw() + lin * static_cast<std::int64_t>(es), es);
    }
    INFO("shape " << to_string(shape));
    CHECK(same_bytes(parse_npy(npy_bytes(detail::npy_descr(d), true, shape, fdata), "f.npy"), c));
  }
}

TEST_CASE("big-endian data of every multi-byte dtype is converted", "[npz]") {
  for (dtype d : all_dtypes) {
    if (d == dtype::bf16 || d == dtype::boolean) continue;
    const std::size_t es = size_of(d);
    tensor t = tensor::empty(d, {5});
    for (std::size_t i = 0; i < t.nbytes(); ++i) t.raw()[i] = static_cast<std::byte>(random_int(0, 255));
    std::string swapped(reinterpret_cast<const char*>(t.raw()), t.nbytes());
    for (std::size_t i = 0; i < swapped.size(); i += es) std::reverse(swapped.begin() + static_cast<std::ptrdiff_t>(i),
                                                                      swapped.begin() + static_cast<std::ptrdiff_t>(i + es));
    std::string descr = detail::npy_descr(d);
    if (descr[0] == '<') descr[0] = '>';
    INFO(descr);
    CHECK(same_bytes(parse_npy(npy_bytes(descr, false, {5}, swapped), "be.npy"), t));
  }
}
