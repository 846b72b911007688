#include "test_support.hpp"

#include "mixq/kernels/simd/gemm.hpp"

using namespace mixq;
using simd::index_t;

namespace {
// Plain triple loop in double: the oracle for the packed kernel.
std::vector<float> naive_gemm(index_t M, index_t N, index_t K, const float* a, const float* b,
                              const simd::gemm_epilogue& ep) {
  std::vector<float> c(static_cast<std::size_t>(M * N));
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) {
      double s = 0;
      for (index_t k = 0; k < K; ++k) s += static_cast<double>(a[i * K + k]) * b[k * N + j];
      c[static_cast<std::size_t>(i * N + j)] = simd::detail::finish_scalar(static_cast<float>(s), ep, i, j);
    }
  return c;
}

void check_gemm(index_t M, index_t N, index_t K, bool prepack_a, bool prepack_b, const simd::gemm_epilogue& ep,
                thread_pool* pool) {
  INFO("M=" << M << " N=" << N << " K=" << K << " prepack_a=" << prepack_a << " prepack_b=" << prepack_b);
  tensor a = test::random_tensor({M, K}), b = test::random_tensor({K, N});
  tensor c = tensor::empty(dtype::f32, {M, N});
  simd::packed_matrix pa, pb;
  simd::gemm_a ga = simd::strided_a(a.data<float>(), M, K, 1);
  simd::gemm_b gb = simd::strided_b(b.data<float>(), N, N, 1);
  if (prepack_a) {
    pa = simd::pack_a_once(a.data<float>(), M, K, K, 1);
    ga = {&pa, {}};
  }
  if (prepack_b) {
    pb = simd::pack_b_once(b.data<float>(), K, N, N, 1);
    gb = {&pb, {}};
  }
  simd::gemm(M, N, K, ga, gb, c.data<float>(), N, ep, pool);
  auto want = naive_gemm(M, N, K, a.data<float>(), b.data<float>(), ep);
  test::require_close(c, tensor::from_vector<float>({M, N}, want), 1e-4, 1e-4);
}
}  // namespace

TEST_CASE("packed gemm matches a triple loop on odd shapes", "[gemm]") {
  for (auto [M, N, K] : std::vector<std::array<index_t, 3>>{
           {1, 1, 1}, {3, 5, 7}, {13, 33, 17}, {25, 67, 300}, {97, 1100, 5}, {7, 3, 600}, {130, 70, 513}}) {
    check_gemm(M, N, K, false, false, {}, nullptr);
    check_gemm(M, N, K, true, false, {}, nullptr);
    check_gemm(M, N, K, false, true, {}, nullptr);
  }
}

TEST_CASE("packed gemm covers every remainder tile: 1..mr rows by 1..nv vectors, ragged last vector", "[gemm]") {
  const index_t W = static_cast<index_t>(simd::width<float>);
  for (index_t M = 1; M <= simd::gemm_mr + 1; ++M)
    for (index_t N : {index_t{1}, W - 1, W, W + 3, 2 * W, simd::gemm_nr - 1, simd::gemm_nr, simd::gemm_nr + 1})
      check_gemm(M, N, 11, M % 2 == 0, M % 3 == 0, {}, nullptr);
}

TEST_CASE("packed gemm applies bias and clipped relu in the epilogue", "[gemm]") {
  tensor bias_rows = test::random_tensor({40}), bias_cols = test::random_tensor({90});
  simd::gemm_epilogue ep;
  ep.bias = bias_rows.data<float>();
  ep.relu = true;
  check_gemm(40, 90, 300, true, false, ep, nullptr);
  ep.bias = bias_cols.data<float>();
  ep.bias_per_row = false;
  ep.relu_limit = 0.5f;
  check_gemm(40, 90, 300, false, true, ep, nullptr);
  tensor bias_odd = test::random_tensor({49});
  ep.bias = bias_odd.data<float>();  // a column bias ending mid-vector, over several K blocks
  check_gemm(13, 49, 700, true, false, ep, nullptr);
}

TEST_CASE("packed gemm gives the same result on several threads", "[gemm]") {
  thread_pool pool(3);
  check_gemm(200, 37, 100, true, false, {}, &pool);   // split over M
  check_gemm(19, 700, 260, false, false, {}, &pool);  // split over N
  check_gemm(64, 3136 / 4, 576, true, false, {}, &pool);
}

TEST_CASE("packed gemm with K = 0 writes the epilogue of zero", "[gemm]") {
  tensor bias = tensor::from_vector<float>({2}, {1.f, -1.f});
  simd::gemm_epilogue ep;
  ep.bias = bias.data<float>();
  ep.relu = true;
  tensor c = tensor::empty(dtype::f32, {2, 3});
  simd::gemm(2, 3, 0, simd::strided_a(nullptr, 2, 0, 1), simd::strided_b(nullptr, 3, 3, 1), c.data<float>(), 3, ep);
  CHECK(std::vector<float>(c.values<float>().begin(), c.values<float>().end()) == std::vector<float>{1, 1, 1, 0, 0, 0});
}
