// A user of an installed mixq (run_consumer.cmake): the umbrella header, a compressed npz and a
// cali_table through memory. Running a graph pulls in every op's kernels (a minute at -O0); the
// single-header smoke test (tiny_graph.cpp) does that, from the same headers amalgamated.
#include <cstdio>
#include <string>

#include "mixq/mixq.hpp"

int main() {
  using namespace mixq;
  npz_file arrays;
  arrays.add("x", tensor::from_vector<float>({2, 3}, {1, 1, 1, 0, 5, -5}));
  // Compressed: deflate comes from the zlib the package's targets link.
  const npz_file back = parse_npz(serialize_npz(arrays, true), "memory");
  const auto x = back.at("x").values<float>();
  bool ok = back.size() == 1 && x.size() == 6 && x[4] == 5.f && x[5] == -5.f;

  cali_table table;
  table.rows.push_back({"conv1", 2.5, -1.25, 2.5});
  ok = ok && parse_cali_table(format_cali_table(table), "memory").rows == table.rows;
  std::printf("mixq %s: installed package %s\n", MIXQ_VERSION_STRING, ok ? "ok" : "gave wrong results");
  return ok ? 0 : 1;
}
