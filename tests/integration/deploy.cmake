# model_deploy -> model_runner on the bundled conv_net: a lowered INT8 model runs, its tensors come
# out dequantized to float32 by default and as their stored integers with --out_fixed.
if(NOT MIXQ_BUILD_EXAMPLES)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  return()
endif()
# Debian's python3 has numpy (the one first on PATH may not).
find_program(MIXQ_DEPLOY_NUMPY_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
set(dep_out ${CMAKE_CURRENT_BINARY_DIR}/deploy_out)
set(dep_model ${MIXQ_TEST_DATA_DIR}/models/conv_net.mlir)
set(dep_samples ${MIXQ_TEST_DATA_DIR}/calibration/conv_net_samples)
set(dep_run_check ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/run_check.py)
set(dep_lowered ${dep_out}/conv_net_bm1684x_int8_sym_tpu.mlir)
file(MAKE_DIRECTORY ${dep_out})

add_test(NAME deploy.calibrate
  COMMAND ${dep_run_check} --remove ${dep_out}/conv_net_cali_table --exists ${dep_out}/conv_net_cali_table --
          $<TARGET_FILE:run_calibration> ${dep_model} --dataset ${dep_samples} --tune_num 0 -o ${dep_out}/conv_net_cali_table)
add_test(NAME deploy.int8_bm1684x
  COMMAND ${dep_run_check} --remove ${dep_lowered} --exists ${dep_lowered} --
          $<TARGET_FILE:model_deploy> --mlir ${dep_model} --quantize INT8 --processor bm1684x
          --calibration_table ${dep_out}/conv_net_cali_table --model ${dep_lowered})
foreach(mode real fixed)
  set(flags --dump_all_tensors)
  set(expect "float32")
  if(mode STREQUAL "fixed")
    list(APPEND flags --out_fixed)
    set(expect "int8")
  endif()
  set(npz ${dep_out}/conv_net_int8_${mode}.npz)
  add_test(NAME deploy.runner_${mode}
    COMMAND ${dep_run_check} --remove ${npz} --exists ${npz} --stdout "Result saved to:${npz}" --
            $<TARGET_FILE:model_runner> --model ${dep_lowered} --input ${dep_samples}/sample_00.npz --output ${npz} ${flags})
  # Dequantized: every tensor float32. Fixed: the quantized activations keep their int8/uint8 storage.
  add_test(NAME deploy.runner_${mode}_dtypes
    COMMAND ${MIXQ_DEPLOY_NUMPY_PYTHON} -c
      "import numpy as np, sys; z = np.load(sys.argv[1]); kinds = {str(z[f].dtype) for f in z.files}; print(sorted(kinds)); sys.exit(0 if (kinds == {'float32'} if sys.argv[2] == 'float32' else bool(kinds & {'int8', 'uint8'})) else 1)"
      ${npz} ${expect})
  set_tests_properties(deploy.runner_${mode} PROPERTIES FIXTURES_REQUIRED mixq_deploy_lowered FIXTURES_SETUP mixq_deploy_${mode})
  set_tests_properties(deploy.runner_${mode}_dtypes PROPERTIES FIXTURES_REQUIRED mixq_deploy_${mode})
  set_tests_properties(deploy.runner_${mode} deploy.runner_${mode}_dtypes PROPERTIES LABELS integration)
endforeach()
set_tests_properties(deploy.calibrate PROPERTIES FIXTURES_SETUP mixq_deploy_table LABELS integration)
set_tests_properties(deploy.int8_bm1684x PROPERTIES FIXTURES_REQUIRED mixq_deploy_table FIXTURES_SETUP mixq_deploy_lowered
  LABELS integration)

# Weight-only modes on a random-weight MLP (x[4,256] -> 256x128 relu -> 128x64, written by
# deploy_modes.py with its float64 reference): model_deploy's cosine against FP32 must clear
# 0.999 (W8) / 0.99 (W4, asymmetric groups of 64) / 0.98 (W4, --q_symmetric); the lowered file
# must pass mlir-opt; model_runner must run it and agree with model_deploy's own run.
set(dep_modes ${MIXQ_DEPLOY_NUMPY_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/deploy_modes.py)
find_program(MIXQ_MLIR_OPT NAMES mlir-opt-19 mlir-opt PATHS /usr/lib/llvm-19/bin DOC "mlir-opt used by the mlir_opt_roundtrip integration test")
add_test(NAME deploy.mlp_model COMMAND ${dep_modes} make-mlp ${dep_out})
set_tests_properties(deploy.mlp_model PROPERTIES FIXTURES_SETUP mixq_deploy_mlp LABELS integration)
foreach(spec "W8F16;bm1684x;0.999;" "W8BF16;bm1688;0.999;" "W4F16;bm1688;0.99;" "W4BF16;bm1684x;0.99;" "W4F16;bm1684x;0.98;--q_symmetric")
  list(GET spec 0 mode)
  list(GET spec 1 chip)
  list(GET spec 2 cos)
  list(GET spec 3 extra)
  set(tag ${mode}${extra})
  string(REPLACE "--" "_" tag ${tag})
  set(lowered ${dep_out}/mlp_${tag}_tpu.mlir)
  add_test(NAME deploy.${tag}_mlp
    COMMAND ${dep_run_check} --remove ${lowered} --exists ${lowered} --stdout "model_deploy PASSED" --
            $<TARGET_FILE:model_deploy> --mlir ${dep_out}/mlp.mlir --quantize ${mode} --processor ${chip} ${extra} --model ${lowered}
            --test_input ${dep_out}/mlp_in_f32.npz --test_reference ${dep_out}/mlp_expected.npz --tolerance ${cos},0.8)
  add_test(NAME deploy.${tag}_mlp_runner
    COMMAND ${dep_run_check} --remove ${dep_out}/mlp_${tag}_run.npz --exists ${dep_out}/mlp_${tag}_run.npz --
            $<TARGET_FILE:model_runner> --model ${lowered} --input ${dep_out}/mlp_in_f32.npz --output ${dep_out}/mlp_${tag}_run.npz)
  add_test(NAME deploy.${tag}_mlp_runner_cosine
    COMMAND ${dep_modes} cosine ${dep_out}/mlp_${tag}_run.npz ${dep_out}/mlp_expected.npz fc2_f32 fc2 ${cos})
  add_test(NAME deploy.${tag}_mlp_runner_same
    COMMAND ${dep_modes} cosine ${dep_out}/mlp_${tag}_run.npz ${dep_out}/mlp_${tag}_tpu_outputs.npz fc2_f32 fc2 0.9999999)
  set_tests_properties(deploy.${tag}_mlp PROPERTIES FIXTURES_REQUIRED mixq_deploy_mlp FIXTURES_SETUP mixq_deploy_${tag})
  set_tests_properties(deploy.${tag}_mlp_runner PROPERTIES FIXTURES_REQUIRED mixq_deploy_${tag} FIXTURES_SETUP mixq_deploy_${tag}_run)
  set_tests_properties(deploy.${tag}_mlp_runner_cosine deploy.${tag}_mlp_runner_same PROPERTIES FIXTURES_REQUIRED mixq_deploy_${tag}_run)
  set_tests_properties(deploy.${tag}_mlp deploy.${tag}_mlp_runner deploy.${tag}_mlp_runner_cosine deploy.${tag}_mlp_runner_same
                       PROPERTIES LABELS integration)
  if(MIXQ_MLIR_OPT)
    add_test(NAME deploy.${tag}_mlp_mlir_opt COMMAND ${MIXQ_MLIR_OPT} --allow-unregistered-dialect ${lowered} -o ${lowered}.opt)
    set_tests_properties(deploy.${tag}_mlp_mlir_opt PROPERTIES FIXTURES_REQUIRED mixq_deploy_${tag} LABELS integration)
  endif()
endforeach()

# Refused with a clear message and no output file: a processor without weight-only modes, a group
# size column on a non-weight-only qtable row, --q_group_size with W8 only.
set(dep_refused ${dep_out}/mlp_refused_tpu.mlir)
file(WRITE ${dep_out}/mlp_bad_qtable "fc1 F16 32\n")
foreach(spec "cv186x;does not support --quantize W8F16;--quantize;W8F16"
             "bm1684x;a group size column applies to weight-only modes;--quantize;F16;--quantize_table;${dep_out}/mlp_bad_qtable"
             "bm1684x;--q_group_size applies to W4F16/W4BF16;--quantize;W8F16;--q_group_size;32")
  list(GET spec 0 chip)
  list(GET spec 1 message)
  list(SUBLIST spec 2 -1 flags)
  string(MAKE_C_IDENTIFIER "${chip}_${message}" tag)
  add_test(NAME deploy.refused_${tag}
    COMMAND ${dep_run_check} --fail --remove ${dep_refused} --absent ${dep_refused} --stderr "${message}" --
            $<TARGET_FILE:model_deploy> --mlir ${dep_out}/mlp.mlir --processor ${chip} ${flags} --model ${dep_refused})
  set_tests_properties(deploy.refused_${tag} PROPERTIES FIXTURES_REQUIRED mixq_deploy_mlp LABELS integration)
endforeach()

# --quant_input/--quant_output: conv_net INT8 takes int8 and returns uint8 (the Softmax's type);
# model_runner refuses float32 for it, runs the int8 input (quantized by deploy_modes.py from the
# .mlir's argument type) and matches the plain INT8 model; F16 takes and (with --out_fixed) returns float16.
set(dep_qio ${dep_out}/conv_net_bm1684x_int8_sym_qio_tpu.mlir)
add_test(NAME deploy.quant_io_int8
  COMMAND ${dep_run_check} --remove ${dep_qio} --exists ${dep_qio} --stdout "model_deploy PASSED" --
          $<TARGET_FILE:model_deploy> --mlir ${dep_model} --quantize INT8 --processor bm1684x --calibration_table ${dep_out}/conv_net_cali_table
          --quant_input --quant_output --model ${dep_qio} --test_input ${MIXQ_TEST_DATA_DIR}/models/conv_net_in_f32.npz
          --test_reference ${MIXQ_TEST_DATA_DIR}/models/conv_net_expected.npz)
add_test(NAME deploy.quant_io_int8_refuses_f32
  COMMAND ${dep_run_check} --fail --stderr "give the int8 integers" --
          $<TARGET_FILE:model_runner> --model ${dep_qio} --input ${MIXQ_TEST_DATA_DIR}/models/conv_net_in_f32.npz --output ${dep_out}/qio_refused.npz)
add_test(NAME deploy.quant_io_int8_input COMMAND ${dep_modes} quantize ${dep_qio} ${MIXQ_TEST_DATA_DIR}/models/conv_net_in_f32.npz ${dep_out}/qio_in_i8.npz)
add_test(NAME deploy.quant_io_int8_runner
  COMMAND ${dep_run_check} --remove ${dep_out}/qio_fixed.npz --exists ${dep_out}/qio_fixed.npz --
          $<TARGET_FILE:model_runner> --model ${dep_qio} --input ${dep_out}/qio_in_i8.npz --output ${dep_out}/qio_fixed.npz --out_fixed)
add_test(NAME deploy.quant_io_int8_runner_real
  COMMAND ${dep_run_check} --remove ${dep_out}/qio_real.npz --exists ${dep_out}/qio_real.npz --
          $<TARGET_FILE:model_runner> --model ${dep_qio} --input ${dep_out}/qio_in_i8.npz --output ${dep_out}/qio_real.npz)
add_test(NAME deploy.quant_io_int8_output_dtype COMMAND ${dep_modes} dtype ${dep_out}/qio_fixed.npz prob_Softmax uint8)
add_test(NAME deploy.quant_io_int8_same_as_plain
  COMMAND ${dep_modes} cosine ${dep_out}/qio_real.npz ${dep_out}/conv_net_bm1684x_int8_sym_qio_tpu_outputs.npz prob_Softmax prob_Softmax 0.9999)
set_tests_properties(deploy.quant_io_int8 PROPERTIES FIXTURES_REQUIRED mixq_deploy_table FIXTURES_SETUP mixq_deploy_qio)
set_tests_properties(deploy.quant_io_int8_refuses_f32 deploy.quant_io_int8_input PROPERTIES FIXTURES_REQUIRED mixq_deploy_qio)
set_tests_properties(deploy.quant_io_int8_input PROPERTIES FIXTURES_SETUP mixq_deploy_qio_in)
set_tests_properties(deploy.quant_io_int8_runner deploy.quant_io_int8_runner_real PROPERTIES FIXTURES_REQUIRED "mixq_deploy_qio;mixq_deploy_qio_in"
                     FIXTURES_SETUP mixq_deploy_qio_run)
set_tests_properties(deploy.quant_io_int8_output_dtype deploy.quant_io_int8_same_as_plain PROPERTIES FIXTURES_REQUIRED mixq_deploy_qio_run)
set(dep_qio16 ${dep_out}/mlp_f16_qio_tpu.mlir)
add_test(NAME deploy.quant_io_f16
  COMMAND ${dep_run_check} --remove ${dep_qio16} --exists ${dep_qio16} --stdout "model_deploy PASSED" --
          $<TARGET_FILE:model_deploy> --mlir ${dep_out}/mlp.mlir --quantize F16 --processor bm1684x --quant_input --quant_output
          --model ${dep_qio16} --test_input ${dep_out}/mlp_in_f32.npz --test_reference ${dep_out}/mlp_expected.npz)
add_test(NAME deploy.quant_io_f16_input COMMAND ${dep_modes} quantize ${dep_qio16} ${dep_out}/mlp_in_f32.npz ${dep_out}/qio16_in.npz)
add_test(NAME deploy.quant_io_f16_runner
  COMMAND ${dep_run_check} --remove ${dep_out}/qio16_fixed.npz --exists ${dep_out}/qio16_fixed.npz --
          $<TARGET_FILE:model_runner> --model ${dep_qio16} --input ${dep_out}/qio16_in.npz --output ${dep_out}/qio16_fixed.npz --out_fixed)
add_test(NAME deploy.quant_io_f16_output_dtype COMMAND ${dep_modes} dtype ${dep_out}/qio16_fixed.npz fc2 float16)
set_tests_properties(deploy.quant_io_f16 PROPERTIES FIXTURES_REQUIRED mixq_deploy_mlp FIXTURES_SETUP mixq_deploy_qio16)
set_tests_properties(deploy.quant_io_f16_input PROPERTIES FIXTURES_REQUIRED mixq_deploy_qio16 FIXTURES_SETUP mixq_deploy_qio16_in)
set_tests_properties(deploy.quant_io_f16_runner PROPERTIES FIXTURES_REQUIRED mixq_deploy_qio16_in FIXTURES_SETUP mixq_deploy_qio16_run)
set_tests_properties(deploy.quant_io_f16_output_dtype PROPERTIES FIXTURES_REQUIRED mixq_deploy_qio16_run)
set_tests_properties(deploy.quant_io_int8 deploy.quant_io_int8_refuses_f32 deploy.quant_io_int8_input deploy.quant_io_int8_runner
                     deploy.quant_io_int8_runner_real deploy.quant_io_int8_output_dtype deploy.quant_io_int8_same_as_plain deploy.quant_io_f16
                     deploy.quant_io_f16_input deploy.quant_io_f16_runner deploy.quant_io_f16_output_dtype PROPERTIES LABELS integration)
