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
