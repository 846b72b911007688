// Quantize tables: init_qtable's reading rules, the inline `name:MODE` form, and the two
// layouts TPU-MLIR writes.
#include "cali_test_util.hpp"

#include "mixq/io/qtable.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {
std::vector<std::string> names_of(const quantize_table& q) {
  std::vector<std::string> out;
  for (const auto& e : q.entries) out.push_back(e.name);
  return out;
}
}  // namespace

TEST_CASE("real qtables of both generations and hand-made ones read", "[qtable]") {
  const quantize_table y = read_qtable(cali_fixture("yolov8s_qtable"));
  REQUIRE(y.size() == 10);
  CHECK(y.entries.front() == qtable_entry{"/model.1/conv/Conv_output_0_Conv", "F16", std::nullopt});
  CHECK(y.entries.back().name == "output0_Concat");
  const quantize_table cv = read_qtable(cali_fixture("yolov8s_qtable_cv184x"));
  CHECK(cv.size() == 25);
  for (const auto& e : cv.entries) CHECK(e.mode == "BF16");
  const quantize_table x = read_qtable(cali_fixture("xception_qtable"));  // no final newline
  CHECK(names_of(x) == std::vector<std::string>{"xception4_conv3_1", "xception4_conv3_2", "xception10_elewise",
                                                "xception11_elewise", "xception12_elewise"});
  const quantize_table b = read_qtable(cali_fixture("bert_base_pt_v2_qtable"));  // "#input1.3 F16" is a comment
  CHECK(b.size() == 13);
  CHECK(b.find("input1.3") == nullptr);
  CHECK(b.find("input.2")->mode == "F16");
}

TEST_CASE("every qtable in the shared folder reads", "[qtable][shared]") {
  const std::string dir = shared_cali_dir();
  if (dir.empty()) MIXQ_SKIP("../shared/reference/cali_tables is not there");
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().find("qtable") == std::string::npos) continue;
    INFO(e.path());
    const quantize_table q = read_qtable(e.path().string());
    CHECK(!q.empty());
    qtable_report r;
    r.custom_layers = q.entries;
    const quantize_table again = parse_qtable(format_qtable(r), "rewritten");
    for (const auto& entry : q.entries) CHECK(*again.find(entry.name) == *q.find(entry.name));
    ++n;
  }
  CHECK(n == 11);
}

TEST_CASE("modes are upper-cased, the third column is a group size, blank and CRLF lines are fine", "[qtable]") {
  const quantize_table q = read_qtable(cali_fixture("group_size_qtable"));
  REQUIRE(q.size() == 3);
  CHECK(q.entries[0] == qtable_entry{"fc1", "W4F16", 128});
  CHECK(q.entries[1] == qtable_entry{"fc2", "W8BF16", -1});
  CHECK(q.entries[2] == qtable_entry{"fc3", "INT8", std::nullopt});
}

TEST_CASE("a later line for the same op wins, as in the importer's map", "[qtable]") {
  const quantize_table q = parse_qtable("a F16\nb F32\na BF16\n", "mem");
  CHECK(q.size() == 3);
  CHECK(q.find("a")->mode == "BF16");
}

TEST_CASE("a bad qtable line or mode is an error naming file and line", "[qtable][malformed]") {
  const std::string bad_mode = cali_fixture("malformed/bad_mode_qtable");
  CHECK_THROWS_WITH(read_qtable(bad_mode), Catch::Contains(bad_mode + ":1") && Catch::Contains("INT9") && Catch::Contains("W4INT8"));
  const std::string bad_line = cali_fixture("malformed/bad_line_qtable");
  CHECK_THROWS_WITH(read_qtable(bad_line), Catch::Contains(bad_line + ":3") && Catch::Contains("conv2 F16 12 extra"));
  const std::string bad_group = cali_fixture("malformed/bad_group_qtable");
  CHECK_THROWS_WITH(read_qtable(bad_group), Catch::Contains(bad_group + ":1"));
  CHECK_THROWS_WITH(parse_qtable("lonely\n", "mem"), Catch::Contains("mem:1"));
  CHECK_THROWS_WITH(parse_qtable(" a F16\n", "mem"), Catch::Contains("mem:1"));
  CHECK_THROWS_WITH(read_qtable("/nonexistent/qtable"), Catch::Contains("/nonexistent/qtable"));
  CHECK(parse_qtable("a F16 \t\n", "mem").entries[0] == qtable_entry{"a", "F16", std::nullopt});
}

TEST_CASE("a quantize table argument is a file, or else an inline name:MODE list", "[qtable]") {
  const quantize_table q = parse_qtable_argument("conv1:f16,onnx::Gemm_12:INT8,x:bf16");
  REQUIRE(q.size() == 3);
  CHECK(q.entries[0] == qtable_entry{"conv1", "F16", std::nullopt});
  CHECK(q.entries[1] == qtable_entry{"onnx::Gemm_12", "INT8", std::nullopt});
  CHECK(q.entries[2].mode == "BF16");
  CHECK(parse_qtable_argument(cali_fixture("yolov8s_qtable")).size() == 10);
  CHECK_THROWS_WITH(parse_qtable_argument("conv1:F99"), Catch::Contains("F99"));
  CHECK_THROWS_WITH(parse_qtable_argument("conv1"), Catch::Contains("neither a file"));
  CHECK_THROWS_WITH(parse_qtable_argument("a:F16,"), Catch::Contains("neither a file"));
  // Longer than 256 characters and not a file: a missing file, not an inline list.
  CHECK_THROWS_WITH(parse_qtable_argument(std::string(300, 'x')), Catch::Contains("cannot open"));
}

TEST_CASE("the 2026 QuantizeTable.dump layout, with custom > shape > pattern precedence", "[qtable]") {
  qtable_report r;
  r.generated_time = "2026-04-30 10:28:10.999474";
  r.sample_number = 100;
  r.pattern_layers = {{"/model.22/Sub_output_0_Sub", "F16", std::nullopt}, {"/model.22/Concat_output_0_Concat", "F16", std::nullopt}};
  r.shape_layers = {{"/model.22/Shape_output_0_Shape", "F32", std::nullopt}, {"/model.22/Concat_output_0_Concat", "F32", std::nullopt}};
  r.custom_layers = {{"/model.22/Sigmoid_output_0_Sigmoid", "F16", std::nullopt}};
  r.part_quant_mode = "custom_mode";
  r.custom_operators = "Conv,MatMul";
  r.logs = {"The [yolov6_8_9_11_12] post-processing pattern matches this model. Block count: 1"};
  const std::string path = cali_fixture("current_2026_qtable");
  CHECK(format_qtable(r) == read_bytes(path));
  const quantize_table q = read_qtable(path);
  CHECK(q.find("/model.22/Concat_output_0_Concat")->mode == "F32");
  CHECK(q.size() == 4);
  scratch_dir dir;
  write_qtable(dir.file("q"), r);
  CHECK(read_qtable(dir.file("q")) == q);
}

TEST_CASE("without logs or part_quantize the 2026 layout has a single ### line", "[qtable]") {
  qtable_report r;
  r.generated_time = "t";
  r.custom_layers = {{"a", "F16", std::nullopt}};
  r.custom_layers.push_back({"a", "F32", 64});
  CHECK(format_qtable(r) ==
        "# generated time: t\n# sample number: 0\n# chip: bm1684x\n# total layers: 2 (unique list blow)\n"
        "# number of shape layers: 0\n# number of pattern layers: 0\n# number of custom layers: 2\n###\n"
        "# op_name   quantize_mode\n# pattern layers\n# shape layers\n# custom layers\na F32 64\n");
}

TEST_CASE("the fp_forward / sensitive-layer layout", "[qtable]") {
  legacy_qtable_report r;
  r.generated_time = "2024-09-12 11:13:20.517744";
  r.sample_number = 10;
  r.chip = "cv184x";
  r.mix_mode = "BF16";
  r.layers = {"a", "b"};
  CHECK(format_legacy_qtable(r) ==
        "# genetated time: 2024-09-12 11:13:20.517744\n# sample number: 10\n# chip: cv184x  mix_mode: BF16\n"
        "# number of BF16 layer: 2\n###\n# op_name   quantize_mode\na BF16\nb BF16\n");
  r.sample_number.reset();
  CHECK(format_legacy_qtable(r).find("# sample number") == std::string::npos);
  scratch_dir dir;
  write_legacy_qtable(dir.file("q"), r);
  CHECK(names_of(read_qtable(dir.file("q"))) == std::vector<std::string>{"a", "b"});
  r.mix_mode = "F17";
  CHECK_THROWS_WITH(write_legacy_qtable(dir.file("q2"), r), Catch::Contains("F17"));
  CHECK(dir.count_files() == 1);
}
