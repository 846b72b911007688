#include "test_support.hpp"

#include <cstdint>
#include <cstring>

#include "mixq/core/buffer_cache.hpp"
#include "mixq/core/tensor.hpp"

using mixq::detail::buffer_cache;

namespace {
bool cache_active() {
  // Off under AddressSanitizer or with MIXQ_BUFFER_CACHE_MB=0: a released block is freed.
  std::byte* p = buffer_cache::allocate(1 << 20);
  buffer_cache::release(p, 1 << 20);
  const bool active = buffer_cache::cached_bytes() > 0;
  buffer_cache::trim();
  return active;
}
}  // namespace

TEST_CASE("buffer cache blocks are aligned and hold the requested bytes", "[buffer_cache]") {
  for (std::size_t bytes : {std::size_t{64}, std::size_t{65536}, std::size_t{65537}, std::size_t{81921}, std::size_t{3} << 20}) {
    std::byte* p = buffer_cache::allocate(bytes);
    REQUIRE(reinterpret_cast<std::uintptr_t>(p) % buffer_cache::alignment == 0);
    std::memset(p, 0x5a, bytes);  // ASan reports a block smaller than asked for
    buffer_cache::release(p, bytes);
  }
  buffer_cache::trim();
  REQUIRE(buffer_cache::cached_bytes() == 0);
}

TEST_CASE("buffer cache hands a released block to the next request of its size class", "[buffer_cache]") {
  if (!cache_active()) {
    WARN("skipped: the buffer cache is off in this build (AddressSanitizer) or by MIXQ_BUFFER_CACHE_MB=0");
    return;
  }
  std::byte* a = buffer_cache::allocate(300000);
  buffer_cache::release(a, 300000);
  REQUIRE(buffer_cache::cached_bytes() >= 300000);
  std::byte* b = buffer_cache::allocate(290000);  // same class: 256 KiB * 1.25 = 320000 > both
  REQUIRE(b == a);
  REQUIRE(buffer_cache::cached_bytes() == 0);
  std::byte* c = buffer_cache::allocate(400000);  // another class: a fresh block
  REQUIRE(c != b);
  buffer_cache::release(b, 290000);
  buffer_cache::release(c, 400000);
  buffer_cache::trim();
  REQUIRE(buffer_cache::cached_bytes() == 0);
}

TEST_CASE("small blocks bypass the buffer cache", "[buffer_cache]") {
  std::byte* p = buffer_cache::allocate(1000);
  buffer_cache::release(p, 1000);
  REQUIRE(buffer_cache::cached_bytes() == 0);
}

TEST_CASE("tensors reuse the buffers of freed tensors", "[buffer_cache]") {
  if (!cache_active()) {
    WARN("skipped: the buffer cache is off in this build (AddressSanitizer) or by MIXQ_BUFFER_CACHE_MB=0");
    return;
  }
  const std::byte* first;
  {
    mixq::tensor t = mixq::tensor::empty(mixq::dtype::f32, {300, 256});  // 307 KB: the 320 KiB class
    first = t.raw();
  }
  mixq::tensor u = mixq::tensor::empty(mixq::dtype::f32, {290, 256});  // 297 KB: the same class
  REQUIRE(u.raw() == first);
  buffer_cache::trim();
}
