// Must not compile: BM1684X has no INT4 deployment.
#include "mixq/targets/processor.hpp"

int main() {
  mixq::targets::deployment<mixq::targets::bm1684x, mixq::targets::quant_mode::INT4> d;
  (void)d;
}
