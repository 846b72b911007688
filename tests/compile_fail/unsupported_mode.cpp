// Must not compile: CV18xx processors have no F16 (only BF16 and INT8).
#include "mixq/targets/processor.hpp"

int main() {
  mixq::targets::deployment<mixq::targets::cv183x, mixq::targets::quant_mode::F16> d;
  (void)d;
}
