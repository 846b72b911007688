#loc = loc(unknown)
module attributes {module.FLOPs = 1536 : i64, module.chip = "ALL", module.name = "legacy_net", module.state = "TOP_CALIBRATED", module.weight_file = "legacy_net_top_f32_all_weight.npz"} {
  func.func @main(%arg0: tensor<4x16xf32> loc(unknown), %arg1: tensor<16xf32> loc(unknown)) -> tensor<4x16x!quant.calibrated<f32<-1.025830e+02:9.768119e+01>>> {
    %0 = "top.None"() : () -> none loc(#loc)
    %1 = "top.Input"(%arg0) : (tensor<4x16xf32>) -> tensor<4x16x!quant.calibrated<f32<-3.000000e+00:3.000000e+00>>> loc(#loc1)
    %2 = "top.Input"(%arg1) : (tensor<16xf32>) -> tensor<16x!quant.calibrated<f32<-1.000000e+00:1.000000e+00>>> loc(#loc2)
    %3 = "top.Add"(%1, %2) {do_relu = false, relu_limit = -1.000000e+00 : f64, round_mode = #tpu<round_mode HalfAwayFromZero>} : (tensor<4x16x!quant.calibrated<f32<-3.000000e+00:3.000000e+00>>>, tensor<16x!quant.calibrated<f32<-1.000000e+00:1.000000e+00>>>) -> tensor<4x16x!quant.calibrated<f32<-1.025830e+02:9.768119e+01>>> loc(#loc3)
    return %3 : tensor<4x16x!quant.calibrated<f32<-1.025830e+02:9.768119e+01>>> loc(#loc)
  } loc(#loc)
} loc(#loc)
#loc1 = loc("x.1")
#loc2 = loc("y")
#loc3 = loc("sum_Add")
