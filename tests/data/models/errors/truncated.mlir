#loc = loc(unknown)
module @truncated attributes {module.chip = "ALL", module.platform = "ONNX", module.state = "TOP_F32", module.top_run_mode = "STATIC", module.weight_file = "truncated_top_f32_all_weight.npz"} {
  func.func @main(%arg0: tensor<2x4xf32> loc(unknown)) -> tensor<2x4xf32> {
    %0 = "top.None"() : () -> none loc(#loc)
    %1 = "top.Input"(%arg0) : (tensor<2x4xf32>) -> tensor<2x4xf32> loc(#loc1)
    %2 = "top.Weight"() : () -> tensor<4xf32> loc(#loc2)
    %3 = "top.Add"(%1, %2) {d