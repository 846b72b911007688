#include "test_support.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "mixq/onnx/model.hpp"

using namespace mixq;

namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
  return s;
}

/// The same lines tests/data/onnx/make_fixtures.py prints from python3-onnx.
std::string summarise(const onnx::model_proto& m) {
  std::ostringstream o;
  o << "ir_version " << m.ir_version << "\nopset " << m.onnx_opset() << "\n";
  auto vi = [&](const char* kind, const onnx::value_info& v) {
    std::vector<std::string> dims;
    for (const auto& d : v.dims) dims.push_back(d.value ? std::to_string(*d.value) : (d.param.empty() ? "?" : d.param));
    o << kind << " " << v.name << " elem=" << static_cast<int>(v.elem) << " shape=" << (v.has_shape ? 1 : 0)
      << " dims=" << join(dims) << "\n";
  };
  for (const auto& v : m.graph.inputs) vi("input", v);
  for (const auto& v : m.graph.outputs) vi("output", v);
  for (std::size_t i = 0; i < m.graph.nodes.size(); ++i) {
    const auto& n = m.graph.nodes[i];
    o << "node " << i << " " << n.op_type << " name=" << n.name << " in=" << join(n.inputs) << " out=" << join(n.outputs) << "\n";
    for (const auto& a : n.attributes) {
      o << "attr " << i << " " << a.name << " ";
      switch (a.type) {
        case onnx::attribute_type::s: o << "s " << a.s; break;
        case onnx::attribute_type::f: o << "f " << num(a.f); break;
        case onnx::attribute_type::i: o << "i " << a.i; break;
        case onnx::attribute_type::t: {
          o << "t " << static_cast<int>(a.t->type);
          for (std::int64_t k = 0; k < a.t->data.numel(); ++k) o << " " << num(element_as_double(a.t->data, k));
          break;
        }
        case onnx::attribute_type::ints: {
          o << "ints";
          for (auto x : a.ints) o << " " << x;
          break;
        }
        case onnx::attribute_type::floats: {
          o << "floats";
          for (auto x : a.floats) o << " " << num(x);
          break;
        }
        case onnx::attribute_type::strings: {
          o << "strings";
          for (const auto& x : a.strings) o << " " << x;
          break;
        }
        default: o << "?";
      }
      o << "\n";
    }
  }
  for (const auto& t : m.graph.initializers) {
    std::vector<std::string> dims;
    for (auto d : t.dims) dims.push_back(std::to_string(d));
    o << "init " << t.name << " type=" << static_cast<int>(t.type) << " dims=" << join(dims) << " values=";
    for (std::int64_t k = 0; k < t.data.numel(); ++k) o << (k ? " " : "") << num(element_as_double(t.data, k));
    o << "\n";
  }
  return o.str();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::string data_dir = std::string(MIXQ_TEST_DATA_DIR) + "/onnx/";

}  // namespace

TEST_CASE("ONNX reader agrees with python3-onnx on every field kind", "[onnx]") {
  for (const char* name : {"tiny", "external"}) {
    INFO(name);
    const auto m = onnx::read_model(data_dir + name + ".onnx");
    CHECK(summarise(m) == slurp(data_dir + name + ".summary"));
  }
}

TEST_CASE("ONNX reader decodes typed tensor fields", "[onnx]") {
  const auto m = onnx::read_model(data_dir + "tiny.onnx");
  const auto find = [&](std::string_view n) -> const onnx::tensor_proto& {
    for (const auto& t : m.graph.initializers)
      if (t.name == n) return t;
    FAIL("no initializer " << n);
    throw 0;
  };
  CHECK(find("half").data.elem() == dtype::f16);
  CHECK(static_cast<float>(find("half").data.data<float16>()[1]) == -2.25f);
  CHECK(find("flag").data.data<bool>()[1] == false);
  CHECK(find("shape").data.data<std::int64_t>()[1] == -1);
  CHECK(find("scalar").data.rank() == 0);
  CHECK(find("empty").data.numel() == 0);
  CHECK(m.graph.nodes[4].inputs == std::vector<std::string>{"x", "", ""});
}

TEST_CASE("ONNX reader rejects every truncation and random bytes with a parse error", "[onnx]") {
  const std::string bytes = slurp(data_dir + "tiny.onnx");
  int parsed = 0;
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    try {
      onnx::parse_model(std::string_view(bytes).substr(0, len), "tiny.onnx");
      ++parsed;  // a cut between two top-level fields is a valid (smaller) message
    } catch (const parse_error& e) {
      CHECK(std::string(e.what()).find("tiny.onnx") == 0);
    }
  }
  CHECK(parsed < static_cast<int>(bytes.size()) / 4);
  for (int trial = 0; trial < 200; ++trial) {
    std::string junk(static_cast<std::size_t>(test::random_int(1, 400)), '\0');
    for (auto& c : junk) c = static_cast<char>(test::random_int(0, 255));
    try {
      onnx::parse_model(junk, "junk.onnx");
    } catch (const error&) {
    }
  }
}

TEST_CASE("ONNX reader names the file when external data is missing", "[onnx]") {
  const std::string bytes = slurp(data_dir + "external.onnx");
  CHECK_THROWS_WITH(onnx::parse_model(bytes, "/nonexistent/dir/external.onnx"), Catch::Contains("external data file"));
}
