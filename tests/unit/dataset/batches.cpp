// Grouping samples into calibration batches as ActivationCalibrator.load_net_input does, loading
// one batch at a time, with errors that name the file.
#include <filesystem>

#include "dataset_test_util.hpp"

#include "mixq/calibration/dataset.hpp"
#include "mixq/io/npy.hpp"
#include "mixq/io/npz.hpp"

using namespace mixq;
using namespace mixq::test;
namespace fs = std::filesystem;

namespace {

model_input f32_input(std::string name, shape_t shape) { return {std::move(name), tensor_type(dtype::f32, std::move(shape))}; }

/// A [1, 2] f32 sample whose values are (v, v + 0.5).
tensor row(float v) { return tensor::from_vector<float>({1, 2}, {v, v + 0.5f}); }

dataset_selection selection_of(std::vector<std::vector<std::string>> files, sample_kind kind, std::string source = "list") {
  dataset_selection s;
  s.kind = kind;
  s.source = source;
  std::size_t line = 1;
  for (auto& f : files) {
    std::string text;
    for (const auto& x : f) text += (text.empty() ? "" : ",") + x;
    s.samples.push_back({std::move(f), text, line++});
  }
  return s;
}

std::vector<float> values(const tensor& t) {
  const tensor f = t.cast(dtype::f32);
  return {f.data<float>(), f.data<float>() + f.numel()};
}

void save(const std::string& path, std::vector<std::pair<std::string, tensor>> arrays) {
  npz_file f;
  for (auto& [k, t] : arrays) f.add(k, t);
  write_npz(path, f);
}

}  // namespace

TEST_CASE("images: batch-size lines per batch, the last line repeated to fill the last batch", "[batches]") {
  const dataset_selection s = selection_of({{"a.jpg"}, {"b.jpg"}, {"c.jpg"}, {"d.jpg"}, {"e.jpg"}}, sample_kind::image);
  std::vector<std::vector<std::string>> calls;
  calibration_batches b(s, {f32_input("x", {2, 1})}, [&](std::span<const std::string> files, std::size_t input) {
    CHECK(input == 0);
    calls.emplace_back(files.begin(), files.end());
    return tensor::from_vector<float>({2, 1}, {static_cast<float>(calls.size()), 0.f});
  });
  CHECK(b.batch_size() == 2);
  REQUIRE(b.size() == 3);
  CHECK(b.samples_of(2) == std::vector<std::size_t>{4, 4});
  CHECK(calls.empty());  // nothing is decoded before it is asked for
  const named_tensors last = b.load(2);
  CHECK(calls == std::vector<std::vector<std::string>>{{"e.jpg", "e.jpg"}});
  CHECK(values(last.at("x")) == std::vector<float>{1.f, 0.f});
  b.load(0);
  CHECK(calls.back() == std::vector<std::string>{"a.jpg", "b.jpg"});
}

TEST_CASE("images for a two-input model: each input gets its column of the batch's lines", "[batches]") {
  const dataset_selection s = selection_of({{"a0.png", "a1.png"}, {"b0.png", "b1.png"}}, sample_kind::image);
  std::vector<std::pair<std::size_t, std::vector<std::string>>> calls;
  calibration_batches b(s, {f32_input("p", {1, 3}), f32_input("q", {1, 2})}, [&](std::span<const std::string> files, std::size_t input) {
    calls.emplace_back(input, std::vector<std::string>(files.begin(), files.end()));
    return tensor::zeros(dtype::f32, input == 0 ? shape_t{1, 3} : shape_t{1, 2});
  });
  REQUIRE(b.size() == 2);
  const named_tensors t = b.load(1);
  CHECK(t.at("p").shape() == shape_t{1, 3});
  CHECK(calls == std::vector<std::pair<std::size_t, std::vector<std::string>>>{{0, {"b0.png"}}, {1, {"b1.png"}}});
}

TEST_CASE("image batches need a loader, the right file count, and loaders must return the input's shape", "[batches]") {
  const auto one = selection_of({{"a.jpg"}}, sample_kind::image);
  CHECK_THROWS_WITH(calibration_batches(one, {f32_input("x", {1, 2})}), Catch::Contains("image loader"));
  CHECK_THROWS_WITH(calibration_batches(selection_of({{"a.jpg", "b.jpg"}}, sample_kind::image), {f32_input("x", {1, 2})},
                                        [](auto, std::size_t) { return tensor(); }),
                    Catch::Contains("list:1") && Catch::Contains("1 inputs") && Catch::Contains("names 2"));
  calibration_batches bad(one, {f32_input("x", {1, 2})}, [](auto, std::size_t) { return tensor::zeros(dtype::f32, {1, 3}); });
  CHECK_THROWS_WITH(bad.load(0), Catch::Contains("a.jpg") && Catch::Contains("1x3") && Catch::Contains("1x2"));
  CHECK_THROWS_AS(bad.load(1), std::out_of_range);
}

TEST_CASE("npz of batch 1 are concatenated until the batch is full, leftovers are not a batch", "[batches]") {
  scratch_dir d;
  std::vector<std::vector<std::string>> files;
  for (int i = 0; i < 7; ++i) {
    const std::string f = d.file("s" + std::to_string(i) + ".npz");
    save(f, {{"whatever_" + std::to_string(i), row(static_cast<float>(i))}});  // a one-input model takes any key
    files.push_back({f});
  }
  calibration_batches b(selection_of(files, sample_kind::npz), {f32_input("x", {3, 2})});
  REQUIRE(b.size() == 2);
  CHECK(b.samples_of(1) == std::vector<std::size_t>{3, 4, 5});
  CHECK(values(b.load(1).at("x")) == std::vector<float>{3, 3.5, 4, 4.5, 5, 5.5});
}

TEST_CASE("npz holding a whole batch are used as they are, in TPU-MLIR's order among batch-1 files", "[batches]") {
  scratch_dir d;
  const std::string r0 = d.file("r0.npz"), whole = d.file("w.npz"), r1 = d.file("r1.npz");
  save(r0, {{"x", row(0)}});
  save(whole, {{"x", tensor::from_vector<float>({2, 2}, {9, 9, 8, 8})}});
  save(r1, {{"x", row(1)}});
  calibration_batches b(selection_of({{r0}, {whole}, {r1}}, sample_kind::npz), {f32_input("x", {2, 2})});
  // The whole batch is complete first; the two batch-1 files complete the second.
  REQUIRE(b.size() == 2);
  CHECK(b.samples_of(0) == std::vector<std::size_t>{1});
  CHECK(b.samples_of(1) == std::vector<std::size_t>{0, 2});
  CHECK(values(b.load(0).at("x")) == std::vector<float>{9, 9, 8, 8});
  CHECK(values(b.load(1).at("x")) == std::vector<float>{0, 0.5, 1, 1.5});
}

TEST_CASE("npz for a several-input model: keys are the input names, other keys are ignored", "[batches]") {
  scratch_dir d;
  const std::string f = d.file("m.npz");
  save(f, {{"ids", tensor::from_vector<std::int64_t>({1, 3}, {1, 2, 3})},
           {"mask", tensor::from_vector<float>({1, 3}, {1, 1, 0})},
           {"unused", tensor::scalar<float>(0)}});
  const std::vector<model_input> inputs{{"ids", tensor_type(dtype::i64, {1, 3})}, f32_input("mask", {1, 3})};
  calibration_batches b(selection_of({{f}}, sample_kind::npz), inputs);
  REQUIRE(b.size() == 1);
  const named_tensors t = b.load(0);
  CHECK(t.at("ids").elem() == dtype::i64);
  CHECK(t.at("ids").data<std::int64_t>()[2] == 3);
  CHECK(values(t.at("mask")) == std::vector<float>{1, 1, 0});
  save(d.file("missing.npz"), {{"ids", tensor::from_vector<std::int64_t>({1, 3}, {1, 2, 3})}});
  CHECK_THROWS_WITH(calibration_batches(selection_of({{d.file("missing.npz")}}, sample_kind::npz), inputs),
                    Catch::Contains(d.file("missing.npz")) && Catch::Contains("'mask'"));
}

TEST_CASE("npz dtypes convert to the input's dtype where TPU-MLIR would feed them, shape errors name the file", "[batches]") {
  scratch_dir d;
  const std::string f64 = d.file("f64.npz"), ints = d.file("i.npz"), two = d.file("two.npz"), shape = d.file("shape.npz");
  save(f64, {{"x", tensor::from_vector<double>({1, 2}, {0.25, -1})}});
  save(ints, {{"x", tensor::from_vector<std::int32_t>({1, 2}, {4, 5})}});
  save(two, {{"a", row(0)}, {"b", row(1)}});
  save(shape, {{"x", tensor::zeros(dtype::f32, {1, 3})}});
  const std::vector<model_input> x{f32_input("x", {1, 2})};
  CHECK(values(calibration_batches(selection_of({{f64}}, sample_kind::npz), x).load(0).at("x")) == std::vector<float>{0.25, -1});
  CHECK(values(calibration_batches(selection_of({{ints}}, sample_kind::npz), x).load(0).at("x")) == std::vector<float>{4, 5});
  CHECK_THROWS_WITH(calibration_batches(selection_of({{f64}}, sample_kind::npz), {{"x", tensor_type(dtype::i32, {1, 2})}}),
                    Catch::Contains(f64) && Catch::Contains("float64") && Catch::Contains("int32"));
  CHECK_THROWS_WITH(calibration_batches(selection_of({{two}}, sample_kind::npz), x),
                    Catch::Contains(two) && Catch::Contains("exactly one"));
  CHECK_THROWS_WITH(calibration_batches(selection_of({{shape}}, sample_kind::npz), x),
                    Catch::Contains(shape) && Catch::Contains("1x3") && Catch::Contains("1x2"));
  CHECK_THROWS_WITH(calibration_batches(selection_of({{shape}}, sample_kind::npz), {f32_input("x", {4, 2})}),
                    Catch::Contains(shape) && Catch::Contains("1x3") && Catch::Contains("1x2"));
  CHECK_THROWS_WITH(calibration_batches(selection_of({{d.file("absent.npz")}}, sample_kind::npz), x),
                    Catch::Contains(d.file("absent.npz")));
}

TEST_CASE("npz: an input with a larger batch than the first cannot be filled from batch-1 files", "[batches]") {
  scratch_dir d;
  const std::string f = d.file("a.npz");
  save(f, {{"a", row(0)}, {"b", row(1)}});
  CHECK_THROWS_WITH(calibration_batches(selection_of({{f}}, sample_kind::npz), {f32_input("a", {2, 2}), f32_input("b", {4, 2})}),
                    Catch::Contains("'b'") && Catch::Contains("batch 4"));
  // A smaller one takes the first rows, as TPU-MLIR's [:real_batch_size] does.
  const std::string g = d.file("g.npz");
  save(g, {{"a", row(2)}, {"b", row(3)}});
  calibration_batches b(selection_of({{f}, {g}}, sample_kind::npz), {f32_input("a", {2, 2}), f32_input("b", {1, 2})});
  REQUIRE(b.size() == 1);
  const named_tensors t = b.load(0);
  CHECK(values(t.at("a")) == std::vector<float>{0, 0.5, 2, 2.5});
  CHECK(values(t.at("b")) == std::vector<float>{1, 1.5});
}

TEST_CASE("npy: one file per input per line, loaded as is", "[batches]") {
  scratch_dir d;
  write_npy(d.file("a.npy"), row(1));
  write_npy(d.file("b.npy"), tensor::from_vector<std::int64_t>({3}, {7, 8, 9}));
  write_npy(d.file("c.npy"), row(2));
  const std::vector<model_input> inputs{f32_input("img", {1, 2}), {"len", tensor_type(dtype::i64, {3})}};
  calibration_batches b(selection_of({{d.file("a.npy"), d.file("b.npy")}, {d.file("c.npy"), d.file("b.npy")}}, sample_kind::npy), inputs);
  REQUIRE(b.size() == 2);
  const named_tensors t = b.load(1);
  CHECK(values(t.at("img")) == std::vector<float>{2, 2.5});
  CHECK(t.at("len").data<std::int64_t>()[0] == 7);
  CHECK_THROWS_WITH(calibration_batches(selection_of({{d.file("a.npy")}}, sample_kind::npy), inputs),
                    Catch::Contains("list:1") && Catch::Contains("2 inputs"));
  CHECK_THROWS_WITH(calibration_batches(selection_of({{d.file("b.npy"), d.file("b.npy")}}, sample_kind::npy), inputs),
                    Catch::Contains(d.file("b.npy")) && Catch::Contains("'img'"));
}

TEST_CASE("a scalar input takes rank-0 arrays", "[batches]") {
  scratch_dir d;
  save(d.file("s.npz"), {{"t", tensor::scalar<float>(3)}});
  calibration_batches b(selection_of({{d.file("s.npz")}}, sample_kind::npz), {f32_input("t", {})});
  CHECK(b.batch_size() == 1);
  REQUIRE(b.size() == 1);
  CHECK(values(b.load(0).at("t")) == std::vector<float>{3});
}

TEST_CASE("model_inputs_of reads a graph's top.Input results in order", "[batches]") {
  struct fake_value {
    std::string name;
    tensor_type type;
  };
  struct fake_node {
    std::vector<int> results;
  };
  struct fake_graph {
    std::vector<fake_node> nodes{{{0}}, {{1}}, {{2}}};
    std::vector<fake_value> values{{"x", tensor_type(dtype::f32, {1, 3})}, {"w", tensor_type(dtype::f32, {3})},
                                   {"y", tensor_type(dtype::i64, {1})}};
    std::vector<int> input_nodes() const { return {0, 2}; }
  };
  const auto in = model_inputs_of(fake_graph{});
  REQUIRE(in.size() == 2);
  CHECK(in[0].name == "x");
  CHECK(in[1].name == "y");
  CHECK(in[1].type.elem == dtype::i64);
}

TEST_CASE("a whole --dataset folder of npz goes through selection and batching", "[batches]") {
  scratch_dir d;
  fs::create_directories(d.file("set"));
  for (int i = 0; i < 5; ++i) save(d.file("set/" + std::to_string(i) + ".npz"), {{"x", row(static_cast<float>(i))}});
  const dataset_selection s = select_dataset(d.file("set"));
  calibration_batches b(s, {f32_input("x", {1, 2})});
  REQUIRE(b.size() == 5);
  for (std::size_t k = 0; k < b.size(); ++k) {
    const std::string& file = s.samples[b.samples_of(k).front()].files.front();
    const float v = std::stof(fs::path(file).stem().string());
    CHECK(values(b.load(k).at("x")) == std::vector<float>{v, v + 0.5f});
  }
}
