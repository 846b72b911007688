// The control: supported pairs compile, so the failures above fail for their reason only.
#include "mixq/targets/processor.hpp"

int main() {
  mixq::targets::deployment<mixq::targets::cv183x, mixq::targets::quant_mode::BF16> a;
  mixq::targets::deployment<mixq::targets::bm1688, mixq::targets::quant_mode::INT4> b;
  mixq::targets::deployment<mixq::targets::bm1684x, mixq::targets::quant_mode::F16> c;
  (void)a, (void)b, (void)c;
  return mixq::targets::deployment<mixq::targets::bm1684, mixq::targets::quant_mode::INT8>::mode ==
                 mixq::targets::quant_mode::INT8
             ? 0
             : 1;
}
