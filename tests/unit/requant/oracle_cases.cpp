// Random cases of every primitive against the Python lowering oracle (tests/oracle/lowering):
// the stored fixture (oracle_cases.py --seed 1) always, and a fresh live run with Catch's random
// seed when /usr/bin/python3 has numpy.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "mixq/quant/requant.hpp"

using namespace mixq::quant;

namespace {

double real(const std::string& s) { return std::strtod(s.c_str(), nullptr); }
std::int64_t integer(const std::string& s) { return std::stoll(s); }

/// Checks one fixture line; returns the function name (for the per-function counts).
std::string check_case(const std::string& line) {
  std::istringstream in(line);
  std::string fn;
  in >> fn;
  std::vector<std::string> a;
  for (std::string w; in >> w;) a.push_back(w);
  INFO(line);
  const auto expect = [&](std::int64_t got, std::size_t at) { CHECK(got == integer(a.at(at))); };
  const auto expect_pair = [&](multiplier_shift got, std::size_t at) {
    CHECK(got.multiplier == integer(a.at(at)));
    CHECK(got.shift == integer(a.at(at + 1)));
  };
  // the oracle reproduces x86's result of undefined behaviour where mixq throws
  const auto expect_search = [&](auto search, std::size_t at) {
    const auto f = static_cast<float>(real(a.at(0)));
    const int bits = static_cast<int>(integer(a.at(1)));
    if (a.at(at) == "error")
      CHECK_THROWS_WITH(search(f, bits), Catch::Contains("undefined"));
    else
      expect_pair(search(f, bits), at);
  };
  if (fn == "to_int") {
    expect(to_int(real(a.at(1)), parse_round_mode(a.at(0))), 2);
  } else if (fn == "right_shift_round") {
    expect(right_shift_round(integer(a.at(0)), static_cast<int>(integer(a.at(1))), parse_round_mode(a.at(2))), 3);
  } else if (fn == "multiply_by_quantized_multiplier") {
    expect(multiply_by_quantized_multiplier(static_cast<std::int32_t>(integer(a.at(0))), static_cast<std::int32_t>(integer(a.at(1))),
                                            static_cast<int>(integer(a.at(2))), parse_round_mode(a.at(3))),
           4);
  } else if (fn == "apply_multiplier_shift_bm168x") {
    expect(apply_multiplier_and_rshift(integer(a.at(0)), integer(a.at(1)), integer(a.at(2)), requant_mode::multiplier_shift,
                                       parse_round_mode(a.at(3))),
           4);
  } else if (fn == "apply_multiplier_shift_cv18xx") {
    expect(apply_multiplier_and_rshift(integer(a.at(0)), integer(a.at(1)), integer(a.at(2)), requant_mode::multiplier_shift,
                                       parse_round_mode(a.at(3)), chip_family::cv18xx),
           4);
  } else if (fn == "apply_qdm_cv18xx") {
    expect(apply_multiplier_and_rshift(integer(a.at(0)), integer(a.at(1)), integer(a.at(2)), requant_mode::qdm,
                                       parse_round_mode(a.at(3)), chip_family::cv18xx),
           4);
  } else if (fn == "get_scale_and_shift") {
    expect_search([](float f, int bits) { return get_scale_and_shift(f, bits); }, 2);
  } else if (fn == "get_scale_and_shift_positive") {
    expect_search([](float f, int bits) { return get_scale_and_shift_positive(f, bits); }, 2);
  } else if (fn == "quantize_multiplier") {
    expect_pair(quantize_multiplier(real(a.at(0))), 1);
  } else if (fn == "rshift_and_multiplier_from_qscale") {
    expect_pair(rshift_and_multiplier_from_qscale(real(a.at(0)), integer(a.at(1)) != 0, integer(a.at(2))), 3);
  } else if (fn == "cal_right_shift_num") {
    expect(cal_right_shift_num(static_cast<float>(real(a.at(0))), real(a.at(1)), real(a.at(2))), 3);
  } else if (fn == "cal_right_shift_num_use_cblas") {
    expect(cal_right_shift_num_use_cblas(static_cast<float>(real(a.at(0))), real(a.at(1)), real(a.at(2))), 3);
  } else if (fn == "avgpool_reciprocal_bm1684") {
    expect_pair(avgpool_reciprocal_bm1684(integer(a.at(0))), 1);
  } else if (fn == "quantize_bm168x") {
    const auto x = static_cast<float>(real(a.at(0)));
    const float r = cast_reciprocal(real(a.at(1)));
    const std::int64_t zp = integer(a.at(2));
    if (integer(a.at(3)) != 0)
      expect(quantize_bm168x<std::int8_t>(x, r, zp), 4);
    else
      expect(quantize_bm168x<std::uint8_t>(x, r, zp), 4);
  } else if (fn == "quantize_cv18xx_input") {
    expect(quantize_cv18xx_input(static_cast<float>(real(a.at(0))), real(a.at(1))), 2);
  } else {
    FAIL("unknown function in the oracle cases: " << fn);
  }
  return fn;
}

void check_all(std::istream& in, std::size_t min_cases) {
  std::map<std::string, std::size_t> counts;
  std::size_t total = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++counts[check_case(line)];
    ++total;
  }
  REQUIRE(total >= min_cases);
  CHECK(counts.size() == 15);  // every function of oracle_cases.py is covered
  CHECK(counts["avgpool_reciprocal_bm1684"] == 225);
}

}  // namespace

TEST_CASE("requant primitives agree with the lowering oracle on the stored random cases") {
  std::ifstream in(std::string(MIXQ_TEST_DATA_DIR) + "/requant/oracle_cases.txt");
  REQUIRE(in);
  check_all(in, 2000);
}

TEST_CASE("requant primitives agree with the lowering oracle run live with a fresh seed") {
  const std::string script = std::string(MIXQ_TEST_DATA_DIR) + "/../unit/requant/oracle_cases.py";
  const unsigned seed = Catch::rngSeed();
  const std::string cmd = "/usr/bin/python3 " + script + " --seed " + std::to_string(seed) + " --count 300 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    WARN("/usr/bin/python3 with numpy (or the oracle) is not available (status " << status << "): skipped");
    return;
  }
  INFO("oracle seed " << seed);
  std::istringstream in(out);
  check_all(in, 4000);
}
