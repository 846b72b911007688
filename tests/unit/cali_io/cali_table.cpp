// Calibration tables: every generation of the format reads, the 2025-09 layout is written byte
// for byte, bad lines are skipped with a warning as ImportCalibration.cpp would skip (or choke
// on) them, and unreadable files are errors naming the file.
#include <algorithm>
#include <cstdio>
#include <cmath>
#include <limits>
#include <sstream>
#include <filesystem>
#include <map>
#include <random>
#include <cctype>
#include <set>

#include "cali_test_util.hpp"

#include "mixq/io/cali_table.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {

bool has_warning(const std::vector<file_warning>& w, std::size_t line, const std::string& text) {
  return std::any_of(w.begin(), w.end(), [&](const file_warning& x) {
    return x.line == line && x.message.find(text) != std::string::npos;
  });
}

/// The rows as TPU-MLIR's writer keeps them: names, and each value to 7 decimals (%.7f); a
/// value written with more digits by hand keeps only those 7.
std::vector<std::string> as_written(const std::vector<cali_row>& rows) {
  std::vector<std::string> out;
  for (const cali_row& r : rows) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s %.7f %.7f %.7f", r.name.c_str(), r.threshold, r.min, r.max);
    out.push_back(buf);
  }
  return out;
}

/// Everything the importer uses: the blocks, not the header text.
void require_same_content(const cali_table& a, const cali_table& b) {
  CHECK(as_written(a.rows) == as_written(b.rows));
  CHECK(as_written(a.int4_rows) == as_written(b.int4_rows));
  CHECK(as_written(a.fp8_rows) == as_written(b.fp8_rows));
  CHECK(a.asym_ops == b.asym_ops);
  CHECK(a.int4_ops == b.int4_ops);
  CHECK(a.weight_scales == b.weight_scales);
  CHECK(a.weight_scale_fp8 == b.weight_scale_fp8);
  CHECK(a.header.fp8 == b.header.fp8);
}

std::vector<std::string> shared_tables() {
  std::vector<std::string> out;
  const std::string dir = shared_cali_dir();
  if (dir.empty()) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find("qtable") == std::string::npos) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("every shared table reads, and write-then-read gives the same rows (to %.7f) and sections", "[cali_table][shared]") {
  const auto files = shared_tables();
  if (files.empty()) MIXQ_SKIP("../shared/reference/cali_tables is not there");
  scratch_dir dir;
  for (const std::string& f : files) {
    INFO(f);
    std::vector<file_warning> warnings;
    const cali_table t = read_cali_table(f, &warnings);
    CHECK(warnings.empty());
    CHECK(!t.thresholds().empty());
    for (auto style : {cali_write_style::current, cali_write_style::keep_header_lines}) {
      write_cali_table(dir.file("t"), t, style);
      std::vector<file_warning> again_warnings;
      const cali_table again = read_cali_table(dir.file("t"), &again_warnings);
      CHECK(again_warnings.empty());
      require_same_content(t, again);
    }
  }
  CHECK(files.size() == 89);
}

TEST_CASE("shared tables whose rows are in TPU-MLIR's %.7f form are rewritten byte for byte", "[cali_table][shared]") {
  const auto files = shared_tables();
  if (files.empty()) MIXQ_SKIP("../shared/reference/cali_tables is not there");
  // Not (or not only) written by TPU-MLIR's dump: one-decimal double-spaced rows, a file without
  // its final newline, and hand-edited rows ("0.50079897344", "1.0").
  const std::set<std::string> hand_made = {"bert_base_pt_cali_table", "bert_base_pt_v2_cali_table", "inception_v3_cali_table",
                                           "alphapose_res50_cali_table", "pp_yoloe_m_cali_table"};
  std::size_t exact = 0;
  for (const std::string& f : files) {
    const std::string name = std::filesystem::path(f).filename().string();
    INFO(name);
    const cali_table t = read_cali_table(f);
    const bool same = format_cali_table(t, cali_write_style::keep_header_lines) == read_bytes(f);
    CHECK(same == !hand_made.count(name));
    exact += same;
  }
  CHECK(exact + hand_made.size() == files.size());
}

TEST_CASE("the shared tables come in the layouts TPU-MLIR wrote over the years", "[cali_table][shared]") {
  const std::string dir = shared_cali_dir();
  if (dir.empty()) MIXQ_SKIP("../shared/reference/cali_tables is not there");
  CHECK(read_cali_table(dir + "/yolov5s_cali_table").layout == cali_layout::legacy);
  CHECK(read_cali_table(dir + "/efficientnetv2_cali_table").layout == cali_layout::mlir_2024);
  CHECK(read_cali_table(dir + "/bert_base_pt_cali_table").layout == cali_layout::headerless);
  const cali_table y = read_cali_table(dir + "/yolov5s_cali_table");
  REQUIRE(y.rows.size() >= 3);
  CHECK(y.rows[0] == cali_row{"images", 1.0000080, 0.0, 1.0000080});
  CHECK(y.rows[1] == cali_row{"122_Conv", 41.0432266, -102.5830078, 97.6811905});
  CHECK(y.header.sample_number == 100);
  CHECK(y.header.tune_number == 5);
}

TEST_CASE("a legacy table: header fields, rows in file order", "[cali_table]") {
  std::vector<file_warning> w;
  const cali_table t = read_cali_table(cali_fixture("mnist-12_cali_table"), &w);
  CHECK(w.empty());
  CHECK(t.layout == cali_layout::legacy);
  CHECK(t.header.generated_time == "2022-09-15 17:24:24.045162");
  CHECK(t.header.histogram_bins == 2048);
  CHECK(t.header.sample_number == 10);
  CHECK(t.header.tune_number == 5);
  CHECK(t.header.mlir_version.empty());
  CHECK(t.header.method.empty());
  CHECK(t.header.lines.size() == 6);
  REQUIRE(t.rows.size() == 7);
  CHECK(t.rows.front() == cali_row{"Input3", 1.0, 0.0, 1.0});
  CHECK(t.rows.back() == cali_row{"Plus214_Output_0_Gemm", 24.6600075, -18.4520416, 24.6600075});
  REQUIRE(t.find("ReLU114_Output_0_Relu"));
  CHECK(t.find("ReLU114_Output_0_Relu")->threshold == 8.6067562);
  CHECK(t.find("nope") == nullptr);
  CHECK(format_cali_table(t, cali_write_style::keep_header_lines) == read_bytes(cali_fixture("mnist-12_cali_table")));
}

TEST_CASE("a legacy table without a tune number line and a CRLF copy read like the original", "[cali_table]") {
  const cali_table bert = read_cali_table(cali_fixture("bert_large_pt_head_cali_table"));
  CHECK(bert.layout == cali_layout::legacy);
  CHECK(!bert.header.tune_number);
  CHECK(bert.rows.size() == 20);
  std::vector<file_warning> w;
  const cali_table crlf = read_cali_table(cali_fixture("crlf_cali_table"), &w);
  CHECK(w.empty());
  const cali_table lf = read_cali_table(cali_fixture("espcn_3x_cali_table"));
  CHECK(crlf.rows == lf.rows);
  CHECK(crlf.header == lf.header);
}

TEST_CASE("a headerless double-spaced table and one without a final newline", "[cali_table]") {
  const cali_table h = read_cali_table(cali_fixture("bert_base_pt_head_cali_table"));
  CHECK(h.layout == cali_layout::headerless);
  CHECK(h.header.lines.empty());
  REQUIRE(h.rows.size() == 12);
  CHECK(h.rows[0] == cali_row{"input_ids.1", 28990.0, 0.0, 28990.0});
  const cali_table n = read_cali_table(cali_fixture("inception_v3_tail_cali_table"));
  REQUIRE(n.rows.size() == 4);
  CHECK(n.rows.back() == cali_row{"929_Gemm", 19.3474083, -3.9920101, 19.3474083});
}

TEST_CASE("a 2025-09 table rewrites byte for byte, sections included", "[cali_table]") {
  for (const char* name : {"current_kl_cali_table", "current_fp8_cali_table", "current_tuned_cali_table"}) {
    INFO(name);
    const std::string path = cali_fixture(name);
    std::vector<file_warning> w;
    const cali_table t = read_cali_table(path, &w);
    CHECK(w.empty());
    CHECK(t.layout == cali_layout::current);
    CHECK(format_cali_table(t) == read_bytes(path));
    CHECK(format_cali_table(t, cali_write_style::keep_header_lines) == read_bytes(path));
  }
  const cali_table kl = read_cali_table(cali_fixture("current_kl_cali_table"));
  CHECK(kl.header.mlir_version == "v1.21.0-g36e3c625a-20260429");
  CHECK(kl.header.cali_version == "1.0");
  CHECK(kl.header.mlir_file == "blazeface.mlir");
  CHECK(kl.header.method == "kl");
  CHECK(kl.rows.size() == 7);
  REQUIRE(kl.int4_rows.size() == 7);
  CHECK(kl.find_int4("87_Conv")->min == -8.2742859);
  CHECK(kl.asym_ops == std::vector<std::string>{"86_SiLU", "87_Conv"});
  CHECK(read_cali_table(cali_fixture("current_tuned_cali_table")).header.method == "['kl']");
}

TEST_CASE("fp8 tables: the flag in the header makes every row an fp8 row", "[cali_table]") {
  const cali_table t = read_cali_table(cali_fixture("resnet50_v2_cali_table_f8e4m3"));
  CHECK(t.layout == cali_layout::mlir_2024);
  CHECK(t.header.fp8);
  CHECK(t.rows.empty());
  CHECK(t.fp8_rows.size() == t.thresholds().size());
  CHECK(t.thresholds().front() == cali_row{"data", 2.6355782, -2.6563307, 2.6355782});
  CHECK(t.find("data") == nullptr);
  CHECK(t.find_fp8("data") != nullptr);
  CHECK(!t.header.histogram_bins);
  // Written in the current layout, the fp8 line replaces the histogram line.
  const std::string text = format_cali_table(t);
  CHECK(text.find("#tpu-mlir-fp8 caliration table\n# sample number: 100\n") != std::string::npos);
  CHECK(text.find("# histogram number") == std::string::npos);
}

TEST_CASE("tpu-mq's fp8 table with #weight_scale_fp8 rows keeps scales and the rest of the line", "[cali_table]") {
  std::vector<file_warning> w;
  const cali_table t = read_cali_table(cali_fixture("mqbench_fp8_cali_table"), &w);
  CHECK(w.empty());
  CHECK(t.layout == cali_layout::mqbench);
  CHECK(t.header.fp8);
  REQUIRE(t.fp8_rows.size() == 2);
  CHECK(t.fp8_rows[1] == cali_row{"conv1_Conv", 21.0499973, -17.8819895, 21.0499973});
  CHECK(t.weight_scale_fp8);
  REQUIRE(t.weight_scales.size() == 2);
  CHECK(t.weight_scales[0].name == "conv1_weight");
  CHECK(t.weight_scales[0].scales == std::vector<double>{0.0123, 0.5, 1e-05});
  CHECK(t.weight_scales[0].rest == "3 0 0 0");
  CHECK(t.weight_scales[1].scales == std::vector<double>{2.5, 0.0001});
  CHECK(t.weight_scales[1].rest.empty());
  scratch_dir dir;
  write_cali_table(dir.file("w"), t, cali_write_style::keep_header_lines);
  const std::string text = read_bytes(dir.file("w"));
  CHECK(text.find("\n#weight_scale_fp8\nconv1_weight 3 0.0123 0.5 1e-05 3 0 0 0\nfc_weight 2 2.5 0.0001\n") != std::string::npos);
  require_same_content(read_cali_table(dir.file("w")), t);
}

TEST_CASE("#int4_op and #weight_scale sections round-trip", "[cali_table]") {
  const std::string path = cali_fixture("int4_op_weight_scale_cali_table");
  const cali_table t = read_cali_table(path);
  CHECK(t.rows.size() == 3);
  CHECK(t.int4_ops == std::vector<std::string>{"122_Conv"});
  REQUIRE(t.weight_scales.size() == 1);
  CHECK(!t.weight_scale_fp8);
  CHECK(t.weight_scales[0].scales == std::vector<double>{0.01, 0.02, 0.030000000000000002, 1.5e-07});
  CHECK(format_cali_table(t, cali_write_style::keep_header_lines) == read_bytes(path));
}

TEST_CASE("a table built in code is written with TPU-MLIR's header, misspellings and all", "[cali_table]") {
  cali_table t;
  t.header.mlir_version = "mixq 0.1.0";
  t.header.mlir_file = "m.mlir";
  t.header.generated_time = "2026-05-01 12:00:00.000001";
  t.header.method = "mse";
  t.header.sample_number = 3;
  t.header.tune_number = 5;
  t.rows = {{"in", 1.0, -0.0, 1.0}, {"c", 1e-5, -2.5e-8, 123456.123456789}, {"n", 0.5, std::nan(""), -1.0}};
  t.int4_rows = {{"c", 0.7, -0.8, 0.7}};
  t.asym_ops = {"s"};
  CHECK(format_cali_table(t) ==
        "# mlir version: mixq 0.1.0 cali version 1.0\n"
        "# mlir: m.mlir\n"
        "# genetated time: 2026-05-01 12:00:00.000001\n"
        "# quantization threshold calculation method: mse\n"
        "# histogram number: 2048\n"
        "# sample number: 3\n"
        "###\n"
        "# tune number: 5\n"
        "###\n"
        "# op_name    threshold    min    max\n"
        "in 1.0000000 -0.0000000 1.0000000\n"
        "c 0.0000100 -0.0000000 123456.1234568\n"
        "n 0.5000000 nan -1.0000000\n"
        "\n#int4_th\n"
        "c 0.7000000 -0.8000000 0.7000000\n"
        "\n#asym_op\n"
        "s\n");
}

TEST_CASE("an fp8 table cannot carry int8 rows, and a failed write leaves the old file", "[cali_table]") {
  scratch_dir dir;
  write_bytes(dir.file("t"), "old");
  cali_table t;
  t.header.fp8 = true;
  t.rows = {{"a", 1, -1, 1}};
  CHECK_THROWS_WITH(write_cali_table(dir.file("t"), t), Catch::Contains("fp8"));
  CHECK(read_bytes(dir.file("t")) == "old");
  CHECK(dir.count_files() == 1);
  CHECK_THROWS_WITH(write_cali_table("/nonexistent/dir/t", read_cali_table(cali_fixture("mnist-12_cali_table"))),
                    Catch::Contains("/nonexistent/dir/t"));
}

TEST_CASE("inf becomes 6.5e4, NaN and malformed rows are skipped with their line numbers", "[cali_table][malformed]") {
  std::vector<file_warning> w;
  const std::string path = cali_fixture("malformed/nan_inf_cali_table");
  const cali_table t = read_cali_table(path, &w);
  std::map<std::string, cali_row> by_name;
  for (const auto& r : t.rows) by_name[r.name] = r;
  CHECK(by_name.size() == 4);
  CHECK(by_name.at("good") == cali_row{"good", 1.0, -1.0, 1.0});
  CHECK(by_name.at("overflowed") == cali_row{"overflowed", 6.5e4, -6.5e4, 6.5e4});
  CHECK(by_name.at("half_inf") == cali_row{"half_inf", 2.0, -1.0, 6.5e4});
  CHECK(t.rows.size() == 5);  // "dup" twice
  CHECK(t.find("dup")->threshold == 2.0);
  CHECK(has_warning(w, 3, "'inf' replaced by 6.5e4"));
  CHECK(has_warning(w, 4, "'inf' replaced by 6.5e4"));
  CHECK(has_warning(w, 5, "NaN"));
  CHECK(has_warning(w, 6, "NaN"));
  CHECK(has_warning(w, 7, "skipped"));   // trailing blank: the importer's full match fails
  CHECK(has_warning(w, 8, "skipped"));   // '+' is not in [-0-9.e]
  CHECK(has_warning(w, 9, "skipped"));   // five fields
  CHECK(has_warning(w, 10, "'1.2.3' is not a number"));
  CHECK(has_warning(w, 11, "skipped"));  // leading blank
  CHECK(has_warning(w, 13, "listed again"));
  CHECK(w.size() == 10);
  CHECK(w.front().to_string().rfind(path + ":3: ", 0) == 0);
}

TEST_CASE("a truncated table keeps its complete rows and reports the cut one", "[cali_table][malformed]") {
  std::vector<file_warning> w;
  const cali_table t = read_cali_table(cali_fixture("malformed/truncated_cali_table"), &w);
  CHECK(t.rows.size() == 3);
  CHECK(t.rows.back().name == "8_Tanh");
  REQUIRE(w.size() == 1);
  CHECK(w[0].line == 10);
}

TEST_CASE("a file that is not a table, or has no row, is an error naming it", "[cali_table][malformed]") {
  for (const char* name : {"malformed/garbage_cali_table", "malformed/empty_cali_table", "malformed/comments_only_cali_table"}) {
    const std::string path = cali_fixture(name);
    CHECK_THROWS_WITH(read_cali_table(path), Catch::Contains(path) && Catch::Contains("no calibration row"));
  }
  CHECK_THROWS_WITH(read_cali_table("/nonexistent/table"),
                    Catch::Contains("/nonexistent/table") && Catch::Contains("No such file or directory"));
  CHECK_THROWS_WITH(read_cali_table(cali_fixture("malformed")), Catch::Contains("malformed") && Catch::Contains("is a directory"));
  CHECK_THROWS_WITH(parse_cali_table("", "<memory>"), Catch::Contains("<memory>"));
}

TEST_CASE("comments inside name sections and blank lines are ignored, a bad header number warns", "[cali_table]") {
  std::vector<file_warning> w;
  const cali_table t = parse_cali_table(
      "# sample number: many\n"
      "a 1 0 1\n"
      "\n"
      "#asym_op\n"
      "# not an op\n"
      "\n"
      "b extra words\n"
      "#int4_op\n"
      "c\n"
      "#weight_scale\n"
      "d_weight 3 1.0 2.0\n"
      "e_weight 1 x\n",
      "mem", &w);
  CHECK(t.asym_ops == std::vector<std::string>{"b"});
  CHECK(t.int4_ops == std::vector<std::string>{"c"});
  CHECK(t.weight_scales.empty());
  CHECK(!t.header.sample_number);
  CHECK(has_warning(w, 1, "sample number"));
  CHECK(has_warning(w, 11, "skipped"));
  CHECK(has_warning(w, 12, "not a number"));
  CHECK(w.size() == 3);
}

TEST_CASE("python_float_repr matches Python's repr", "[cali_table]") {
  CHECK(python_float_repr(1e-05) == "1e-05");
  CHECK(python_float_repr(0.0001) == "0.0001");
  CHECK(python_float_repr(1.0) == "1.0");
  CHECK(python_float_repr(0.030000000000000002) == "0.030000000000000002");
  CHECK(python_float_repr(1e16) == "1e+16");
  CHECK(python_float_repr(1e15) == "1000000000000000.0");
  CHECK(python_float_repr(-0.0) == "-0.0");
  CHECK(python_float_repr(1.5e-7) == "1.5e-07");
  CHECK(python_float_repr(123.456) == "123.456");
  CHECK(python_float_repr(5e-324) == "5e-324");
  CHECK(python_float_repr(1.7976931348623157e308) == "1.7976931348623157e+308");
  CHECK(python_float_repr(12345678901234567890.0) == "1.2345678901234567e+19");
  CHECK(python_float_repr(100.0) == "100.0");
  CHECK(python_float_repr(-std::numeric_limits<double>::infinity()) == "-inf");
}

TEST_CASE("python_float_repr agrees with /usr/bin/python3 on random doubles", "[cali_table][python]") {
  if (!have_python()) MIXQ_SKIP("/usr/bin/python3 is not there");
  std::mt19937_64 gen(7);
  std::vector<double> values;
  std::uniform_real_distribution<double> mant(-10, 10);
  std::uniform_int_distribution<int> ex(-30, 30);
  for (int i = 0; i < 300; ++i) values.push_back(std::ldexp(mant(gen), ex(gen) * 3));
  std::string list;
  std::vector<std::string> ours;
  for (double v : values) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", v);
    list += std::string(buf) + " ";
    ours.push_back(python_float_repr(v));
  }
  bool ok = false;
  const std::string out = run_command("/usr/bin/python3 -c \"import sys\nfor t in sys.argv[1:]: print(repr(float.fromhex(t)))\" " + list, ok);
  REQUIRE(ok);
  std::istringstream lines(out);
  for (const std::string& expected : ours) {
    std::string got;
    REQUIRE(std::getline(lines, got));
    CHECK(got == expected);
  }
}

TEST_CASE("TPU-MLIR's names for the tables around a calibration table", "[cali_table]") {
  CHECK(cali_untuned_path("out/cali") == "out/cali.1");
  CHECK(cali_method_path("out/cali", "kl", true) == "out/cali_kl.1");
  CHECK(cali_method_path("out/cali", "mse", false) == "out/cali_mse");
  CHECK(cali_method_tuned_path("out/cali", "max") == "out/cali_max_tune");
  CHECK(cali_sibling_path("out/sub/cali", "kurtosis_analysis") == "out/sub/kurtosis_analysis");
  CHECK(cali_sibling_path("cali", "shape_pattern_qtable") == "shape_pattern_qtable");
  CHECK(cali_sibling_path("/cali", "kurtosis_analysis") == "/kurtosis_analysis");
}

TEST_CASE("tpu_mlir_timestamp looks like Python's str(datetime.now())", "[cali_table]") {
  const std::string ts = tpu_mlir_timestamp();
  // "YYYY-MM-DD HH:MM:SS" and, unless the microseconds are 0, ".ffffff".
  const std::string shape = ts.size() == 19 ? "dddd-dd-dd dd:dd:dd" : "dddd-dd-dd dd:dd:dd.dddddd";
  REQUIRE(ts.size() == shape.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    INFO(ts);
    CHECK((shape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(ts[i])) != 0 : ts[i] == shape[i]));
  }
}
