// Linked with one generated translation unit per public header plus odr_a.cpp and odr_b.cpp:
// building it proves every header compiles on its own and that they link together; running it
// checks that inline state has one instance and that the version macros match the CMake project.
#include <cstdio>
#include <cstring>

#include "mixq/config.hpp"

namespace mixq_header_check {
const void* registry_seen_from_a();
const void* registry_seen_from_b();
const void* pool_seen_from_a();
const void* pool_seen_from_b();
}  // namespace mixq_header_check

int main() {
  using namespace mixq_header_check;
  int failures = 0;
  if (registry_seen_from_a() != registry_seen_from_b()) {
    std::fprintf(stderr, "mixq::top::ops() returns a different registry in two translation units\n");
    ++failures;
  }
  if (pool_seen_from_a() != pool_seen_from_b()) {
    std::fprintf(stderr, "mixq::thread_pool::global() returns a different pool in two translation units\n");
    ++failures;
  }
  if (std::strcmp(MIXQ_VERSION_STRING, MIXQ_EXPECTED_VERSION) != 0) {
    std::fprintf(stderr, "config.hpp says version %s, CMakeLists.txt says %s\n", MIXQ_VERSION_STRING,
                 MIXQ_EXPECTED_VERSION);
    ++failures;
  }
  std::printf("%d header checks failed\n", failures);
  return failures == 0 ? 0 : 1;
}
