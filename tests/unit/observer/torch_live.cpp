// histogram_observer against torch itself on fresh random cases, when /usr/bin/python3 has torch.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "observer_test_util.hpp"

namespace {

/// Random batches of one of a few shapes of distribution, each batch with its own scale and
/// offset; now and then a constant batch or a jump in magnitude.
std::vector<mixq::tensor> random_batches(std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::exponential_distribution<float> expo;
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const int kind = std::uniform_int_distribution<int>(0, 3)(rng);
  const int count = std::uniform_int_distribution<int>(1, 5)(rng);
  const float magnitude = u(rng) < 0.2f ? 1e-6f : 1.f;
  std::vector<mixq::tensor> batches;
  for (int k = 0; k < count; ++k) {
    const auto n = static_cast<std::size_t>(std::uniform_int_distribution<int>(500, 20000)(rng));
    const float jump = u(rng) < 0.15f ? 30.f : 1.f;
    const float scale = (0.1f + 5.f * u(rng)) * magnitude * jump, offset = kind == 3 ? 0.f : (u(rng) - 0.5f) * magnitude;
    const bool constant = u(rng) < 0.1f;
    std::vector<float> v(n);
    for (float& x : v) {
      switch (kind) {
        case 0: x = normal(rng); break;
        case 1: x = expo(rng) - expo(rng); break;  // Laplace
        case 2: x = 2 * u(rng) - 1; break;
        default: x = std::max(normal(rng), 0.f); break;  // ReLU
      }
      x = constant ? offset : x * scale + offset;
    }
    batches.push_back(mixq::tensor::from_vector<float>({static_cast<std::int64_t>(n)}, v));
  }
  return batches;
}

}  // namespace

TEST_CASE("histogram_observer agrees with torch's HistogramObserver on fresh random cases", "[python]") {
  // A new seed each run (MIXQ_OBSERVER_SEED repeats one).
  const char* fixed = std::getenv("MIXQ_OBSERVER_SEED");
  const unsigned seed = fixed ? static_cast<unsigned>(std::stoul(fixed)) : std::random_device{}();
  INFO("seed " << seed << " (set MIXQ_OBSERVER_SEED=" << seed << " to repeat it)");
  std::mt19937 rng(seed);
  const auto dir = std::filesystem::temp_directory_path() / ("mixq_observer_" + std::to_string(seed));
  std::filesystem::create_directories(dir);
  struct cleanup {
    std::filesystem::path p;
    ~cleanup() {
      std::error_code ec;
      if (!std::getenv("MIXQ_OBSERVER_KEEP")) std::filesystem::remove_all(p, ec);
    }
  } remove_dir{dir};

  constexpr int cases = 4;
  std::vector<int> bins(cases);
  std::vector<std::vector<mixq::tensor>> batches(cases);
  std::string cmd = "/usr/bin/python3 '" MIXQ_TEST_DATA_DIR "/observer/torch_observe.py'";
  auto path = [&](const char* what, int c) { return (dir / (what + std::to_string(c) + ".npz")).string(); };
  for (int c = 0; c < cases; ++c) {
    bins[c] = c == 0 ? 2048 : std::uniform_int_distribution<int>(2, 3000)(rng);
    batches[c] = random_batches(rng);
    mixq::npz_file in;
    in.add("bins", mixq::tensor::scalar<std::int64_t>(bins[c]));
    for (std::size_t k = 0; k < batches[c].size(); ++k) in.add("b" + std::to_string(k), batches[c][k]);
    mixq::write_npz(path("in", c), in);
    cmd += " '" + path("in", c) + "' '" + path("out", c) + "'";
  }
  const int status = std::system((cmd + " 2>/dev/null").c_str());  // one torch start-up for every case
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
    WARN("/usr/bin/python3 cannot import torch: skipped");
    return;
  }
  REQUIRE(status == 0);
  for (int c = 0; c < cases; ++c) {
    INFO("case " << c << ": " << bins[c] << " bins, " << batches[c].size() << " batches");
    const mixq::npz_file out = mixq::read_npz(path("out", c));
    mixq::test::compare_with_torch(mixq::test::run_observer(bins[c], batches[c]), out,
                                   [](const char* what) { return std::string(what); });
  }
}
