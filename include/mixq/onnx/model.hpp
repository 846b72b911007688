#pragma once
// ONNX ModelProto, read straight from the protobuf bytes (no protobuf runtime needed).
// Only what an importer needs is kept; unknown fields are skipped as protobuf requires.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/onnx/protobuf.hpp"

namespace mixq::onnx {

/// TensorProto.DataType values.
enum class data_type : std::int32_t {
  undefined = 0, float32 = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, string = 8,
  boolean = 9, float16 = 10, float64 = 11, uint32 = 12, uint64 = 13, complex64 = 14, complex128 = 15, bfloat16 = 16
};

inline std::optional<dtype> to_dtype(data_type t) {
  switch (t) {
    case data_type::float32: return dtype::f32;
    case data_type::uint8: return dtype::u8;
    case data_type::int8: return dtype::i8;
    case data_type::uint16: return dtype::u16;
    case data_type::int16: return dtype::i16;
    case data_type::int32: return dtype::i32;
    case data_type::int64: return dtype::i64;
    case data_type::boolean: return dtype::boolean;
    case data_type::float16: return dtype::f16;
    case data_type::float64: return dtype::f64;
    case data_type::uint32: return dtype::u32;
    case data_type::uint64: return dtype::u64;
    case data_type::bfloat16: return dtype::bf16;
    default: return std::nullopt;
  }
}

inline std::string data_type_name(data_type t) {
  static const char* names[] = {"UNDEFINED", "FLOAT",  "UINT8",  "INT8",   "UINT16",    "INT16",      "INT32",   "INT64", "STRING",
                                "BOOL",      "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
  const auto i = static_cast<std::int32_t>(t);
  return i >= 0 && i <= 16 ? names[i] : "type " + std::to_string(i);
}

/// A TensorProto. `data` holds the values once `load` resolved raw_data, typed fields or
/// external data.
struct tensor_proto {
  std::string name;
  data_type type = data_type::undefined;
  shape_t dims;
  tensor data;
};

struct dimension {
  std::optional<std::int64_t> value;  // dim_value
  std::string param;                  // dim_param (symbolic), when value is absent
};

/// ValueInfoProto of a tensor: element type and (possibly partly symbolic) shape.
struct value_info {
  std::string name;
  data_type elem = data_type::undefined;
  bool has_shape = false;
  std::vector<dimension> dims;
};

struct graph_proto;

enum class attribute_type : std::int32_t {
  undefined = 0, f = 1, i = 2, s = 3, t = 4, g = 5, floats = 6, ints = 7, strings = 8, tensors = 9, graphs = 10,
  sparse_tensor = 11, sparse_tensors = 12, type_proto = 13, type_protos = 14
};

struct attribute_proto {
  std::string name;
  attribute_type type = attribute_type::undefined;
  float f = 0;
  std::int64_t i = 0;
  std::string s;
  std::vector<float> floats;
  std::vector<std::int64_t> ints;
  std::vector<std::string> strings;
  std::optional<tensor_proto> t;
  std::vector<tensor_proto> tensors;
  std::shared_ptr<graph_proto> g;  // subgraphs (If/Loop bodies) are read but not imported
};

struct node_proto {
  std::string name;
  std::string op_type;
  std::string domain;
  std::vector<std::string> inputs;   // "" = absent optional input
  std::vector<std::string> outputs;
  std::vector<attribute_proto> attributes;

  const attribute_proto* attr(std::string_view n) const {
    for (const auto& a : attributes)
      if (a.name == n) return &a;
    return nullptr;
  }
};

struct graph_proto {
  std::string name;
  std::vector<node_proto> nodes;
  std::vector<tensor_proto> initializers;
  std::vector<value_info> inputs, outputs, value_infos;
};

struct opset_id {
  std::string domain;  // "" or "ai.onnx" = the default domain
  std::int64_t version = 0;
};

struct model_proto {
  std::int64_t ir_version = 0;
  std::string producer_name, producer_version;
  std::vector<opset_id> opsets;
  graph_proto graph;

  /// Opset version of the default ONNX domain (0 if absent).
  std::int64_t onnx_opset() const {
    for (const auto& o : opsets)
      if (o.domain.empty() || o.domain == "ai.onnx") return o.version;
    return 0;
  }
};

namespace detail {

struct parse_state {
  const std::string* what;
  std::filesystem::path base_dir;  // for external data
};

inline void read_tensor(wire_reader r, tensor_proto& t, const parse_state& st);
inline void read_graph(wire_reader r, graph_proto& g, const parse_state& st);

inline void read_value_info(wire_reader r, value_info& v) {
  std::uint32_t f;
  wire_type w;
  while (r.next(f, w)) {
    if (f == 1 && w == wire_type::length_delimited) {
      v.name = std::string(r.bytes());
    } else if (f == 2 && w == wire_type::length_delimited) {  // TypeProto
      wire_reader type = r.message();
      std::uint32_t tf;
      wire_type tw;
      while (type.next(tf, tw)) {
        if (tf == 1 && tw == wire_type::length_delimited) {  // tensor_type
          wire_reader tt = type.message();
          std::uint32_t f2;
          wire_type w2;
          while (tt.next(f2, w2)) {
            if (f2 == 1 && w2 == wire_type::varint) {
              v.elem = static_cast<data_type>(tt.int64());
            } else if (f2 == 2 && w2 == wire_type::length_delimited) {
              v.has_shape = true;
              wire_reader shape = tt.message();
              std::uint32_t f3;
              wire_type w3;
              while (shape.next(f3, w3)) {
                if (f3 == 1 && w3 == wire_type::length_delimited) {
                  wire_reader dim = shape.message();
                  dimension d;
                  std::uint32_t f4;
                  wire_type w4;
                  while (dim.next(f4, w4)) {
                    if (f4 == 1 && w4 == wire_type::varint) d.value = dim.int64();
                    else if (f4 == 2 && w4 == wire_type::length_delimited) d.param = std::string(dim.bytes());
                    else dim.skip(w4);
                  }
                  v.dims.push_back(std::move(d));
                } else {
                  shape.skip(w3);
                }
              }
            } else {
              tt.skip(w2);
            }
          }
        } else {
          type.skip(tw);
        }
      }
    } else {
      r.skip(w);
    }
  }
}

inline void read_attribute(wire_reader r, attribute_proto& a, const parse_state& st) {
  std::uint32_t f;
  wire_type w;
  while (r.next(f, w)) {
    switch (f) {
      case 1: a.name = std::string(r.bytes()); break;
      case 20: a.type = static_cast<attribute_type>(r.int64()); break;
      case 2: a.f = r.float32(); break;
      case 3: a.i = r.int64(); break;
      case 4: a.s = std::string(r.bytes()); break;
      case 5: read_tensor(r.message(), a.t.emplace(), st); break;
      case 6: a.g = std::make_shared<graph_proto>(), read_graph(r.message(), *a.g, st); break;
      case 7: r.repeated(w, a.floats, [](wire_reader& x) { return x.float32(); }); break;
      case 8: r.repeated(w, a.ints, [](wire_reader& x) { return x.int64(); }); break;
      case 9: a.strings.emplace_back(r.bytes()); break;
      case 10: read_tensor(r.message(), a.tensors.emplace_back(), st); break;
      default: r.skip(w);
    }
  }
  // Files from old exporters omit `type`; infer it from what is set.
  if (a.type == attribute_type::undefined) {
    if (!a.ints.empty()) a.type = attribute_type::ints;
    else if (!a.floats.empty()) a.type = attribute_type::floats;
    else if (!a.strings.empty()) a.type = attribute_type::strings;
    else if (a.t) a.type = attribute_type::t;
    else if (!a.s.empty()) a.type = attribute_type::s;
  }
}

inline void read_node(wire_reader r, node_proto& n, const parse_state& st) {
  std::uint32_t f;
  wire_type w;
  while (r.next(f, w)) {
    switch (f) {
      case 1: n.inputs.emplace_back(r.bytes()); break;
      case 2: n.outputs.emplace_back(r.bytes()); break;
      case 3: n.name = std::string(r.bytes()); break;
      case 4: n.op_type = std::string(r.bytes()); break;
      case 7: n.domain = std::string(r.bytes()); break;
      case 5: read_attribute(r.message(), n.attributes.emplace_back(), st); break;
      default: r.skip(w);
    }
  }
}

inline void read_graph(wire_reader r, graph_proto& g, const parse_state& st) {
  std::uint32_t f;
  wire_type w;
  while (r.next(f, w)) {
    switch (f) {
      case 1: read_node(r.message(), g.nodes.emplace_back(), st); break;
      case 2: g.name = std::string(r.bytes()); break;
      case 5: read_tensor(r.message(), g.initializers.emplace_back(), st); break;
      case 11: read_value_info(r.message(), g.inputs.emplace_back()); break;
      case 12: read_value_info(r.message(), g.outputs.emplace_back()); break;
      case 13: read_value_info(r.message(), g.value_infos.emplace_back()); break;
      default: r.skip(w);
    }
  }
}

/// Copies little-endian raw bytes into the tensor.
inline void fill_raw(tensor& t, std::string_view raw, const wire_reader& r, const std::string& name) {
  if (raw.size() != t.nbytes())
    r.fail("tensor '" + name + "' has " + std::to_string(raw.size()) + " bytes of data, its shape " + to_string(t.shape()) +
           " needs " + std::to_string(t.nbytes()));
  if (!raw.empty()) std::memcpy(t.raw(), raw.data(), raw.size());
}

inline void read_tensor(wire_reader r, tensor_proto& t, const parse_state& st) {
  std::string_view raw;
  bool has_raw = false, external = false;
  std::vector<float> floats;
  std::vector<std::int64_t> int32s, int64s;  // int32_data is a varint field; keep it wide
  std::vector<double> doubles;
  std::vector<std::uint64_t> uint64s;
  std::map<std::string, std::string> external_info;
  std::uint32_t f;
  wire_type w;
  while (r.next(f, w)) {
    switch (f) {
      case 1: r.repeated(w, t.dims, [](wire_reader& x) { return x.int64(); }); break;
      case 2: t.type = static_cast<data_type>(r.int64()); break;
      case 4: r.repeated(w, floats, [](wire_reader& x) { return x.float32(); }); break;
      case 5: r.repeated(w, int32s, [](wire_reader& x) { return x.int64(); }); break;
      case 7: r.repeated(w, int64s, [](wire_reader& x) { return x.int64(); }); break;
      case 8: t.name = std::string(r.bytes()); break;
      case 9: raw = r.bytes(), has_raw = true; break;
      case 10: r.repeated(w, doubles, [](wire_reader& x) { return x.float64(); }); break;
      case 11: r.repeated(w, uint64s, [](wire_reader& x) { return x.varint(); }); break;
      case 13: {
        wire_reader e = r.message();
        std::string key, value;
        std::uint32_t ef;
        wire_type ew;
        while (e.next(ef, ew)) {
          if (ef == 1) key = std::string(e.bytes());
          else if (ef == 2) value = std::string(e.bytes());
          else e.skip(ew);
        }
        external_info[key] = value;
        break;
      }
      case 14: external = r.int64() == 1; break;
      default: r.skip(w);
    }
  }
  std::uint64_t count = 1;
  for (auto d : t.dims) {
    if (d < 0) r.fail("tensor '" + t.name + "' has a negative dimension");
    if (d > 0 && count > (std::uint64_t{1} << 40) / static_cast<std::uint64_t>(d))
      r.fail("tensor '" + t.name + "' has an impossible shape " + to_string(t.dims));
    count *= static_cast<std::uint64_t>(d);
  }
  const auto dt = to_dtype(t.type);
  if (!dt) r.fail("tensor '" + t.name + "' has unsupported element type " + data_type_name(t.type));
  const auto n = static_cast<std::size_t>(count);
  // Check the data is there before allocating, so a corrupt shape cannot ask for terabytes.
  if (!external && has_raw && raw.size() != n * size_of(*dt))
    r.fail("tensor '" + t.name + "' has " + std::to_string(raw.size()) + " bytes of data, its shape " + to_string(t.dims) +
           " needs " + std::to_string(n * size_of(*dt)));
  if (!external && !has_raw) {
    const std::size_t have = floats.size() + int32s.size() + int64s.size() + doubles.size() + uint64s.size();
    if (have != n)
      r.fail("tensor '" + t.name + "' has " + std::to_string(have) + " values, its shape " + to_string(t.dims) + " needs " +
             std::to_string(n));
  }
  if (external) {
    const std::string location = external_info["location"];
    if (location.empty()) r.fail("tensor '" + t.name + "' is external but names no location");
    const std::filesystem::path path = st.base_dir / location;
    std::ifstream in(path, std::ios::binary);
    if (!in) r.fail("tensor '" + t.name + "': cannot open external data file " + path.string());
    std::uint64_t offset = 0;
    try {
      if (external_info.count("offset")) offset = std::stoull(external_info["offset"]);
    } catch (const std::exception&) {
      r.fail("tensor '" + t.name + "': bad external data offset \"" + external_info["offset"] + "\"");
    }
    std::error_code ec;
    const auto file_size = std::filesystem::file_size(path, ec);
    if (ec || offset > file_size || file_size - offset < n * size_of(*dt))
      r.fail("tensor '" + t.name + "': external data file " + path.string() + " is too short");
    t.data = tensor::empty(*dt, t.dims);
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(t.data.raw()), static_cast<std::streamsize>(t.data.nbytes()));
    if (static_cast<std::size_t>(in.gcount()) != t.data.nbytes())
      r.fail("tensor '" + t.name + "': external data file " + path.string() + " is too short");
    return;
  }
  t.data = tensor::empty(*dt, t.dims);
  if (has_raw) {
    fill_raw(t.data, raw, r, t.name);
    return;
  }
  auto check_count = [&](std::size_t have) {
    if (have != n)
      r.fail("tensor '" + t.name + "' has " + std::to_string(have) + " values, its shape " + to_string(t.dims) + " needs " +
             std::to_string(n));
  };
  visit_dtype(*dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = t.data.data<T>();
    if constexpr (std::is_same_v<T, float>) {
      check_count(floats.size());
      for (std::size_t i = 0; i < n; ++i) out[i] = floats[i];
    } else if constexpr (std::is_same_v<T, double>) {
      check_count(doubles.size());
      for (std::size_t i = 0; i < n; ++i) out[i] = doubles[i];
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      check_count(int64s.size());
      for (std::size_t i = 0; i < n; ++i) out[i] = int64s[i];
    } else if constexpr (std::is_same_v<T, std::uint64_t> || std::is_same_v<T, std::uint32_t>) {
      check_count(uint64s.size());
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(uint64s[i]);
    } else if constexpr (std::is_same_v<T, float16> || std::is_same_v<T, bfloat16>) {
      check_count(int32s.size());  // the 16 bits travel in int32_data
      for (std::size_t i = 0; i < n; ++i) out[i] = T::from_bits(static_cast<std::uint16_t>(int32s[i]));
    } else if constexpr (std::is_same_v<T, bool>) {
      check_count(int32s.size());
      for (std::size_t i = 0; i < n; ++i) out[i] = int32s[i] != 0;
    } else {
      check_count(int32s.size());
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(int32s[i]);
    }
  });
}

}  // namespace detail

/// Parses a serialized ModelProto. `file` names it in errors and locates external data.
inline model_proto parse_model(std::string_view bytes, const std::string& file = "<memory>") {
  model_proto m;
  detail::parse_state st{&file, std::filesystem::path(file).parent_path()};
  detail::wire_reader r(bytes, &file);
  std::uint32_t f;
  detail::wire_type w;
  bool has_graph = false;
  while (r.next(f, w)) {
    switch (f) {
      case 1: m.ir_version = r.int64(); break;
      case 2: m.producer_name = std::string(r.bytes()); break;
      case 3: m.producer_version = std::string(r.bytes()); break;
      case 7: detail::read_graph(r.message(), m.graph, st), has_graph = true; break;
      case 8: {
        detail::wire_reader o = r.message();
        opset_id id;
        std::uint32_t of;
        detail::wire_type ow;
        while (o.next(of, ow)) {
          if (of == 1) id.domain = std::string(o.bytes());
          else if (of == 2) id.version = o.int64();
          else o.skip(ow);
        }
        m.opsets.push_back(std::move(id));
        break;
      }
      default: r.skip(w);
    }
  }
  if (!has_graph) throw parse_error(file, "not an ONNX model: no graph found");
  return m;
}

inline model_proto read_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error(path + ": cannot open the file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_model(bytes, path);
}

/// Reads a TensorProto file (the ONNX test data's input_N.pb / output_N.pb).
inline tensor_proto read_tensor_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error(path + ": cannot open the file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  tensor_proto t;
  detail::parse_state st{&path, std::filesystem::path(path).parent_path()};
  detail::read_tensor(detail::wire_reader(bytes, &path), t, st);
  return t;
}

}  // namespace mixq::onnx
