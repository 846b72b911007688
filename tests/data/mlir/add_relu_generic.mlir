#loc = loc(unknown)
"builtin.module"() <{sym_name = "add_relu"}> ({
  "func.func"() <{function_type = (tensor<1x3x8x8xf32>) -> (tensor<1x3x8x8xf32>, tensor<1x3x8x8xf32>), sym_name = "main"}> ({
  ^bb0(%arg0: tensor<1x3x8x8xf32> loc(unknown)):
    %0 = "top.None"() : () -> none loc(#loc)
    %1 = "top.Input"(%arg0) {channel_format = "nchw", do_preprocess = true, keep_aspect_ratio = true, keep_ratio_mode = "letterbox", mean = [0.000000e+00, 0.000000e+00, 0.000000e+00], pad_type = "center", pad_value = 0 : i64, pixel_format = "rgb", resize_dims = [8, 8], scale = [0.0039215686274509803, 0.0039215686274509803, 0.0039215686274509803], yuv_type = ""} : (tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32> loc(#loc1)
    %2 = "top.Weight"() : () -> tensor<1x3x1x1xf32> loc(#loc2)
    %3 = "top.Add"(%1, %2) {do_relu = false, relu_limit = -1.000000e+00 : f64} : (tensor<1x3x8x8xf32>, tensor<1x3x1x1xf32>) -> tensor<1x3x8x8xf32> loc(#loc3)
    %4 = "top.Relu"(%3) {relu_limit = 6.000000e+00 : f64} : (tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32> loc(#loc4)
    %5 = "top.Add"(%4, %1) {coeff = [1.000000e+00, -5.000000e-01], do_relu = true, relu_limit = -1.000000e+00 : f64} : (tensor<1x3x8x8xf32>, tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32> loc(#loc5)
    "func.return"(%4, %5) : (tensor<1x3x8x8xf32>, tensor<1x3x8x8xf32>) -> () loc(#loc)
  }) : () -> () loc(#loc)
}) {module.chip = "ALL", module.platform = "ONNX", module.state = "TOP_F32", module.top_run_mode = "STATIC", module.weight_file = "add_relu_top_f32_all_weight.npz"} : () -> () loc(#loc)
#loc1 = loc("images")
#loc2 = loc("bias.weight")
#loc3 = loc("/model/Add_output_0_Add")
#loc4 = loc("/model/Relu_output_0_Relu")
#loc5 = loc("output_Add")

