#include "test_support.hpp"

#include "mixq/core/similarity.hpp"

using namespace mixq;

TEST_CASE("cosine, euclidean and SQNR match hand-computed values", "[similarity]") {
  const std::vector<double> a{1, 2, 3}, b{1, 2, 4};
  // a.b = 17, |a| = sqrt(14), |b| = sqrt(21)
  CHECK(cosine_similarity(a, b) == Approx(17.0 / std::sqrt(14.0 * 21.0)));
  // |a-b| = 1, mid = (1,2,3.5), |mid| = sqrt(17.25)
  CHECK(euclidean_similarity(a, b) == Approx(1.0 - 1.0 / (std::sqrt(17.25) + 1e-7)));
  // signal a (mean 2, var sum 2), noise a-b = (0,0,-1) (mean -1/3, var sum 2/3): 10 log10(3)
  CHECK(sqnr_db(a, b) == Approx(10.0 * std::log10(3.0)));
  CHECK(cosine_similarity({0, 0}, {1, 2}) == 0.0);
}

TEST_CASE("compare verdicts follow TPU-MLIR's order", "[similarity]") {
  const tensor x = tensor::from_vector<float>({4}, {1.f, -2.f, 3.f, 4.f});
  CHECK(compare_tensors(x, x).verdict == compare_verdict::equal);
  const tensor near = tensor::from_vector<float>({2, 2}, {1.f, -2.f, 3.f, 4.00001f});
  auto close = compare_tensors(near, x);
  CHECK(close.verdict == compare_verdict::close);
  CHECK(close.close_order == 5);
  const tensor off = tensor::from_vector<float>({4}, {1.1f, -2.f, 3.f, 4.f});
  auto sim = compare_tensors(off, x, {0.99, 0.9});
  CHECK(sim.verdict == compare_verdict::similar);
  auto strict = compare_tensors(off, x, {0.99999, 0.999});
  CHECK(strict.verdict == compare_verdict::not_similar);
  CHECK_FALSE(strict.passed);
  const tensor i8a = tensor::from_vector<std::int8_t>({2}, {1, 2}), i8b = tensor::from_vector<std::int8_t>({2}, {1, 3});
  CHECK(compare_tensors(i8a, i8b).verdict == compare_verdict::not_equal);
  CHECK(compare_tensors(x, tensor::zeros(dtype::f32, {3})).verdict == compare_verdict::not_match);
}

TEST_CASE("NaN and inf are sanitised before similarity", "[similarity]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const tensor a = tensor::from_vector<float>({3}, {nan, 1.f, 2.f}), b = tensor::from_vector<float>({3}, {0.f, 1.f, 2.5f});
  auto r = compare_tensors(a, b, {0.9, 0.5});
  CHECK(r.has_similarity());
  CHECK(std::isfinite(r.cosine));
  CHECK(half_cosine(a, a) == Approx(1.0));
}
