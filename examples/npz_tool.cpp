// npz_tool: TPU-MLIR's npz inspection tool (`compare` and `dump`).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "driver.hpp"
#include "mixq/core/similarity.hpp"
#include "mixq/io/npz.hpp"

namespace {

/// Python's repr of a float (shortest round trip, always with a '.' or exponent).
std::string py_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string py_shape(const mixq::shape_t& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  if (s.size() == 1) out += ",";
  return out + ")";
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

/// The k largest elements as (flat index, value), largest first.
std::vector<std::pair<std::int64_t, double>> top_k(const mixq::tensor& t, std::size_t k) {
  std::vector<std::pair<std::int64_t, double>> v;
  for (std::int64_t i = 0; i < t.numel(); ++i) v.emplace_back(i, mixq::element_as_double(t, i));
  k = std::min(k, v.size());
  std::partial_sort(v.begin(), v.begin() + static_cast<long>(k), v.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second; });
  v.resize(k);
  return v;
}

/// bf16 arrives as uint16 (numpy has no bf16): compare it as float, as TPU-MLIR does.
mixq::tensor comparable(const mixq::tensor& t) {
  if (t.elem() != mixq::dtype::u16) return t;
  mixq::tensor f = mixq::tensor::empty(mixq::dtype::f32, t.shape());
  const auto* src = t.data<std::uint16_t>();
  for (std::int64_t i = 0; i < t.numel(); ++i) f.data<float>()[i] = mixq::bfloat16::to_float(src[i]);
  return f;
}

int compare(const std::string& target_file, const std::string& ref_file, const std::string& tolerance,
            const std::string& excepts_text, int verbose, const std::string& save_csv) {
  const auto tol_values = split_list(tolerance);
  if (tol_values.size() != 2) throw mixq::error("--tolerance wants two numbers \"cos,euclid\", got \"" + tolerance + "\"");
  mixq::compare_tolerance tol;
  tol.cosine = std::stod(tol_values[0]);
  tol.euclidean = std::stod(tol_values[1]);
  const auto excepts = split_list(excepts_text);
  const mixq::npz_file target = mixq::read_npz(target_file);
  const mixq::npz_file ref = mixq::read_npz(ref_file);

  int passed = 0, failed = 0, equal = 0, close = 0, similar = 0, not_equal = 0, not_similar = 0;
  double min_cos = 1.0, min_euc = 1.0, min_sqnr = INFINITY;
  std::string csv = "name, op, quant, pass, sim_cos, sim_euc, sqnr\n";
  for (const auto& [name, ref_tensor] : ref.entries()) {
    const mixq::tensor* t = target.find(name);
    if (!t || std::find(excepts.begin(), excepts.end(), name) != excepts.end()) continue;
    const mixq::tensor a = comparable(*t), b = comparable(ref_tensor);
    const mixq::compare_result r = mixq::compare_tensors(a, b, tol);
    (r.passed ? passed : failed)++;
    switch (r.verdict) {
      case mixq::compare_verdict::equal: ++equal; break;
      case mixq::compare_verdict::close: ++close; break;
      case mixq::compare_verdict::similar: ++similar; break;
      case mixq::compare_verdict::not_equal: ++not_equal; break;
      case mixq::compare_verdict::not_similar: ++not_similar; break;
      case mixq::compare_verdict::not_match:
        std::printf("Error: %s in two npz file is not same shape. %s v.s. %s\n", name.c_str(), py_shape(a.shape()).c_str(),
                    py_shape(b.shape()).c_str());
        break;
    }
    if (r.has_similarity()) {
      min_cos = std::min(min_cos, r.cosine);
      min_euc = std::min(min_euc, r.euclidean);
      min_sqnr = std::min(min_sqnr, r.sqnr);
    }
    std::printf("[%-32s] %12s [%6s]\n", name.c_str(), mixq::verdict_name(r.verdict), r.passed ? "PASSED" : "FAILED");
    if (verbose > 0) {
      std::printf("    %s %s \n", py_shape(t->shape()).c_str(), std::string(mixq::name(t->elem())).c_str());
      if (r.verdict == mixq::compare_verdict::close) std::printf("    close order            = %d\n", r.close_order);
      if (r.has_similarity()) {
        std::printf("    cosine_similarity      = %.6f\n", r.cosine);
        std::printf("    euclidean_similarity   = %.6f\n", r.euclidean);
        std::printf("    sqnr_similarity        = %.6f\n", r.sqnr);
      }
    }
    if (verbose > 1 && !r.passed && r.verdict != mixq::compare_verdict::not_match) {
      std::printf("top-k:\n idx-t  target  idx-r  ref\n");
      const auto ta = top_k(a, 10), tb = top_k(b, 10);
      for (std::size_t i = 0; i < ta.size(); ++i)
        std::printf("  %lld %g %lld %g\n", static_cast<long long>(ta[i].first), ta[i].second,
                    static_cast<long long>(tb[i].first), tb[i].second);
    }
    csv += name + ", -, -, " + (r.passed ? "True" : "False") + ", " + py_float(r.has_similarity() ? r.cosine : 1.0) +
           ", " + py_float(r.has_similarity() ? r.euclidean : 1.0) + ", " +
           py_float(r.has_similarity() ? r.sqnr : -INFINITY) + "\n";
  }
  std::printf("%d compared\n%d passed\n  %d equal, %d close, %d similar\n%d failed\n  %d not equal, %d not similar\n",
              passed + failed, passed, equal, close, similar, failed, not_equal, not_similar);
  std::printf("min_similiarity = (%s, %s, %s)\n", py_float(min_cos).c_str(), py_float(min_euc).c_str(),
              py_float(min_sqnr).c_str());
  if (!save_csv.empty()) {
    std::ofstream f(save_csv);
    if (!(f << csv)) throw mixq::error(save_csv + ": cannot write the csv file");
    std::printf("Results save as %s\n", save_csv.c_str());
  }
  std::printf("Target    %s\nReference %s\n", target_file.c_str(), ref_file.c_str());
  if (passed + failed == 0) {
    std::printf("npz compare FAILED: no tensor name is common to both files.\n");
    return 1;
  }
  std::printf(failed == 0 ? "npz compare PASSED.\n" : "npz compare FAILED.\n");
  return failed == 0 ? 0 : 1;
}

int dump(const std::string& file, const std::string& name, int k) {
  const mixq::npz_file npz = mixq::read_npz(file);
  if (name.empty() || name == "--list") {
    for (const auto& [n, t] : npz.entries()) std::printf("%s\n", n.c_str());
    return 0;
  }
  const mixq::tensor* t = npz.find(name);
  if (!t) throw mixq::error(file + ": no array named \"" + name + "\"");
  const std::int64_t n = t->numel();
  const std::int64_t shown = k < 0 ? n : std::min<std::int64_t>(n, 64);
  std::printf("[");
  for (std::int64_t i = 0; i < shown; ++i) std::printf("%s%.6f", i ? " " : "", mixq::element_as_double(*t, i));
  std::printf("%s]\n", shown < n ? " ..." : "");
  std::printf("shape %s\ndtype %s\n", py_shape(t->shape()).c_str(), std::string(mixq::name(t->elem())).c_str());
  const auto& s = t->shape();
  const bool image_like = (s.size() == 3 && s[0] == 3) || (s.size() == 4 && s[0] <= 1 && s[1] == 3);
  if (image_like && n > 0) {
    const std::int64_t per = n / 3;
    double mx[3], mn[3], mean[3], amean[3], sd[3];
    for (int c = 0; c < 3; ++c) {
      double lo = INFINITY, hi = -INFINITY, sum = 0, asum = 0, sq = 0;
      for (std::int64_t i = 0; i < per; ++i) {
        const double v = mixq::element_as_double(*t, c * per + i);
        lo = std::min(lo, v), hi = std::max(hi, v), sum += v, asum += std::abs(v), sq += v * v;
      }
      mx[c] = hi, mn[c] = lo, mean[c] = sum / static_cast<double>(per), amean[c] = asum / static_cast<double>(per);
      sd[c] = std::sqrt(std::max(0.0, sq / static_cast<double>(per) - mean[c] * mean[c]));
    }
    auto row = [](const char* label, const double* v) { std::printf("%s [%.6f %.6f %.6f]\n", label, v[0], v[1], v[2]); };
    row("max", mx), row("min", mn), row("mean", mean), row("abs mean fp32", amean), row("std fp32", sd);
  }
  if (k > 0) {
    std::printf("Show Top-K %d\n", k);
    for (const auto& [i, v] : top_k(*t, static_cast<std::size_t>(k))) std::printf("(%lld, %g)\n", static_cast<long long>(i), v);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inspect and compare npz files (TPU-MLIR npz_tool)", "npz_tool"};
  app.require_subcommand(1);
  auto* cmp = app.add_subcommand("compare", "compare two npz files tensor by tensor");
  std::string target, ref, tolerance = "0.99,0.99", excepts, save;
  int verbose = 0;
  cmp->add_option("target_file", target, "comparing target file")->required();
  cmp->add_option("ref_file", ref, "comparing reference file")->required();
  cmp->add_option("--tolerance", tolerance, "minimum cosine and euclidean similarity")->capture_default_str();
  cmp->add_option("--excepts", excepts, "comma-separated tensor names to skip");
  cmp->add_option("--save", save, "also write the results as a csv file");
  cmp->add_flag("-v,--verbose", verbose, "more detail (-vv: top-k of failing tensors)");
  mixq::driver::reject_flag(*cmp, "--op_info", "op_info csv files are not read", true);
  mixq::driver::reject_flag(*cmp, "--dequant", "dequantization by op_info is not implemented", false);
  mixq::driver::reject_flag(*cmp, "--per_axis_compare", "per-axis comparison is not implemented", true);
  mixq::driver::reject_flag(*cmp, "--full-array", "full-array dumps are not implemented", false);

  auto* dmp = app.add_subcommand("dump", "list the arrays of an npz, or print one with statistics");
  std::string dump_file, dump_name;
  int k = 0;
  dmp->add_option("file", dump_file, "npz file")->required();
  dmp->add_option("name", dump_name, "array to print (omit, or --list, to list the names)");
  dmp->add_option("k", k, "also print the top-K values (negative: print every element)");
  return mixq::driver::run(app, argc, argv, [&] {
    if (cmp->parsed()) return compare(target, ref, tolerance, excepts, verbose, save);
    return dump(dump_file, dump_name, k);
  });
}
