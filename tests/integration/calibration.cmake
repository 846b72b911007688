# run_calibration end to end on the conv_net fixture (tests/data/models) with the npz samples of
# tests/data/calibration (make_fixtures.py): every method, the debug_cmd keys that change
# results, the side files, determinism, and every bad-input case (clean error, no output file).
# Included from tests/CMakeLists.txt; driver targets are resolved at generate time.
if(NOT MIXQ_BUILD_EXAMPLES)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(STATUS "mixq: no python3, the calibration integration tests are not registered")
  return()
endif()

set(cal_data ${MIXQ_TEST_DATA_DIR}/calibration)
set(cal_out ${CMAKE_CURRENT_BINARY_DIR}/calibration_out)
file(MAKE_DIRECTORY ${cal_out} ${cal_out}/side ${cal_out}/dump)
set(cal_model ${MIXQ_TEST_DATA_DIR}/models/conv_net.mlir)
set(cal_samples ${cal_data}/conv_net_samples)
set(cal_check ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/check_cali_table.py)
set(cal_run_check ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/run_check.py)

# A --data_list and a --tune_list with absolute paths (the list format has no base folder).
set(cal_list "")
foreach(i 00 02 04 06 08 10)
  string(APPEND cal_list "${cal_samples}/sample_${i}.npz\n")
endforeach()
file(WRITE ${cal_out}/conv_net_list.txt "${cal_list}\n")
file(WRITE ${cal_out}/conv_net_tune_list.txt "${cal_samples}/sample_11.npz\n${cal_samples}/sample_03.npz\n")
file(WRITE ${cal_out}/missing_file_list.txt "${cal_samples}/sample_00.npz\n${cal_samples}/no_such_sample.npz\n")

# calibration.<name>.run runs run_calibration into <name>_cali_table; calibration.<name>.check
# checks the table with check_cali_table.py (CHECKS), after the run.
#   mixq_calibration_test(<name> ARGS <run_calibration args>... [CHECKS <check args>...] [STDERR <text>...])
function(mixq_calibration_test name)
  cmake_parse_arguments(PARSE_ARGV 1 T "" "" "ARGS;CHECKS;STDERR")
  set(table ${cal_out}/${name}_cali_table)
  set(checks --remove ${table} --exists ${table} --stderr wrote)
  foreach(s ${T_STDERR})
    list(APPEND checks "--stderr=${s}")
  endforeach()
  add_test(NAME calibration.${name}.run
    COMMAND ${cal_run_check} ${checks} -- $<TARGET_FILE:run_calibration> ${cal_model} ${T_ARGS} -o ${table})
  add_test(NAME calibration.${name}.check COMMAND ${cal_check} ${table} --rows 12 ${T_CHECKS})
  set_tests_properties(calibration.${name}.run calibration.${name}.check PROPERTIES LABELS integration)
  set_tests_properties(calibration.${name}.run PROPERTIES FIXTURES_SETUP mixq_cal_${name})
  set_tests_properties(calibration.${name}.check PROPERTIES FIXTURES_REQUIRED mixq_cal_${name})
endfunction()

set(cal_dataset --dataset ${cal_samples})
mixq_calibration_test(kl ARGS ${cal_dataset} CHECKS --within-range "--header=method: ['kl']" "--header=tune number: 5"
  "--no-section=#int4_th")
mixq_calibration_test(kl_untuned ARGS ${cal_dataset} --tune_num 0 CHECKS --within-range "--header=method: kl")
mixq_calibration_test(mse ARGS ${cal_dataset} --cali_method mse CHECKS --within-range "--header=method: mse")
mixq_calibration_test(use_mse ARGS ${cal_dataset} --cali_method use_mse CHECKS --equal-values ${cal_out}/mse_cali_table)
mixq_calibration_test(debug_cmd_mse ARGS ${cal_dataset} --debug_cmd use_mse CHECKS --equal-values ${cal_out}/mse_cali_table)
mixq_calibration_test(max ARGS ${cal_dataset} --cali_method max CHECKS --threshold-is-absmax)
mixq_calibration_test(percentile9999 ARGS ${cal_dataset} --cali_method percentile9999 CHECKS --threshold-is-absmax)
mixq_calibration_test(aciq_gauss ARGS ${cal_dataset} --cali_method aciq_gauss CHECKS --within-range "--header=method: ['aciq_gauss']")
mixq_calibration_test(aciq_laplace ARGS ${cal_dataset} --cali_method aciq_laplace CHECKS --within-range)
mixq_calibration_test(kl_trt ARGS ${cal_dataset} --cali_method kl_trt CHECKS --within-range)
mixq_calibration_test(torch_observer ARGS ${cal_dataset} --debug_cmd use_torch_observer_for_cali)
mixq_calibration_test(int4 ARGS ${cal_dataset} --debug_cmd int4 CHECKS --within-range "--section=#int4_th" "--header=tune number: 0")
mixq_calibration_test(int4_mse ARGS ${cal_dataset} --debug_cmd "int4;use_mse" CHECKS "--section=#int4_th")
mixq_calibration_test(fp8 ARGS ${cal_dataset} --debug_cmd fp8 CHECKS "--header=#tpu-mlir-fp8 caliration table")
mixq_calibration_test(tune_steps ARGS ${cal_dataset} --debug_cmd "tune_steps=5;find_lower_th;min_tuned_diff=0.001" CHECKS --within-range)
mixq_calibration_test(quantized_ref ARGS ${cal_dataset} --debug_cmd not_use_fp32_tensor_as_ref CHECKS --within-range)
mixq_calibration_test(input_num ARGS ${cal_dataset} --input_num 4 --tune_num 2 CHECKS "--header=sample number: 4" "--header=tune number: 2")
mixq_calibration_test(data_list ARGS --data_list ${cal_out}/conv_net_list.txt CHECKS "--header=sample number: 6")
mixq_calibration_test(tune_list ARGS ${cal_dataset} --tune_list ${cal_out}/conv_net_tune_list.txt CHECKS "--header=tune number: 2")
mixq_calibration_test(chip ARGS ${cal_dataset} --chip cv183x --histogram_bin_num 1024 CHECKS "--header=histogram number: 1024")
mixq_calibration_test(input_table ARGS ${cal_dataset} --debug_cmd input_calibration_table=${cal_out}/kl_untuned_cali_table
  CHECKS --same-rows-as ${cal_out}/kl_cali_table)
set_tests_properties(calibration.input_table.run PROPERTIES FIXTURES_REQUIRED mixq_cal_kl_untuned)
# The same run twice, and with one thread: identical values.
mixq_calibration_test(kl_again ARGS ${cal_dataset} CHECKS --equal-values ${cal_out}/kl_cali_table)
mixq_calibration_test(kl_one_thread ARGS ${cal_dataset} CHECKS --equal-values ${cal_out}/kl_cali_table)
set_tests_properties(calibration.kl_one_thread.run PROPERTIES ENVIRONMENT MIXQ_NUM_THREADS=1)
foreach(t kl_again kl_one_thread use_mse debug_cmd_mse)
  string(REGEX REPLACE "_again|_one_thread" "" base ${t})
  if(t MATCHES "mse")
    set(base mse)
  endif()
  set_property(TEST calibration.${t}.check APPEND PROPERTY FIXTURES_REQUIRED mixq_cal_${base})
endforeach()

# The untuned table next to a tuned one, the kurtosis file next to the table, the dump list in
# the working folder.
add_test(NAME calibration.side_files.run
  COMMAND ${cal_run_check} --remove ${cal_out}/side/t.1 --remove ${cal_out}/side/kurtosis_analysis
          --exists ${cal_out}/side/t --exists ${cal_out}/side/t.1 --exists ${cal_out}/side/kurtosis_analysis
          --exists ${cal_out}/dump/selected_image_list.txt
          -- $<TARGET_FILE:run_calibration> ${cal_model} ${cal_dataset} --kurtosis_analysis --debug_cmd dump_list -o ${cal_out}/side/t)
set_tests_properties(calibration.side_files.run PROPERTIES LABELS integration WORKING_DIRECTORY ${cal_out}/dump)

# Bad input: a clean error naming the problem, and no output table.
#   mixq_calibration_error(<case> STDERR <text>... ARGS <arg>...)
function(mixq_calibration_error case)
  cmake_parse_arguments(PARSE_ARGV 1 E "" "OUTPUT" "STDERR;ARGS")
  if(NOT E_OUTPUT)
    set(E_OUTPUT ${cal_out}/error_${case})
  endif()
  set(checks --fail --remove ${E_OUTPUT} --absent ${E_OUTPUT} --absent ${E_OUTPUT}.1)
  foreach(s ${E_STDERR})
    list(APPEND checks "--stderr=${s}")
  endforeach()
  add_test(NAME calibration.error.${case}
    COMMAND ${cal_run_check} ${checks} -- $<TARGET_FILE:run_calibration> ${E_ARGS} -o ${E_OUTPUT})
  set_tests_properties(calibration.error.${case} PROPERTIES LABELS integration)
endfunction()

set(bad ${cal_data}/bad)
mixq_calibration_error(corrupt_npz STDERR b.npz "not a ZIP" ARGS ${cal_model} --dataset ${bad}/corrupt)
mixq_calibration_error(truncated_npz STDERR b.npz ARGS ${cal_model} --dataset ${bad}/truncated)
mixq_calibration_error(nan_input STDERR NaN "\"input\"" a.npz ARGS ${cal_model} --dataset ${bad}/nan)
mixq_calibration_error(wrong_shape STDERR a.npz 1x3x8x8 1x3x16x16 ARGS ${cal_model} --dataset ${bad}/wrong_shape)
mixq_calibration_error(mixed_kinds STDERR "one kind" b.npy ARGS ${cal_model} --dataset ${bad}/mixed)
mixq_calibration_error(empty_dataset STDERR no_samples "no calibration sample" ARGS ${cal_model} --dataset ${bad}/no_samples)
mixq_calibration_error(missing_dataset STDERR no_such_folder ARGS ${cal_model} --dataset ${bad}/no_such_folder)
mixq_calibration_error(missing_list_entry STDERR missing_file_list.txt:2 no_such_sample.npz
  ARGS ${cal_model} --data_list ${cal_out}/missing_file_list.txt)
mixq_calibration_error(dataset_and_list STDERR excludes ARGS ${cal_model} ${cal_dataset} --data_list ${cal_out}/conv_net_list.txt)
mixq_calibration_error(no_samples_given STDERR --dataset ARGS ${cal_model})
mixq_calibration_error(missing_model STDERR absent.mlir ARGS ${cal_data}/absent.mlir ${cal_dataset})
mixq_calibration_error(truncated_model STDERR truncated.mlir ARGS ${MIXQ_TEST_DATA_DIR}/models/errors/truncated.mlir ${cal_dataset})
mixq_calibration_error(unknown_method STDERR "unknown method" frob ARGS ${cal_model} ${cal_dataset} --cali_method frob)
mixq_calibration_error(unknown_debug_key STDERR "unknown key" frob ARGS ${cal_model} ${cal_dataset} --debug_cmd "use_mse;frob=1")
mixq_calibration_error(bad_tune_steps STDERR tune_steps ARGS ${cal_model} ${cal_dataset} --debug_cmd tune_steps=x)
mixq_calibration_error(int4_and_fp8 STDERR int4 fp8 ARGS ${cal_model} ${cal_dataset} --debug_cmd "int4;fp8")
mixq_calibration_error(observer_type STDERR Observer_type ARGS ${cal_model} ${cal_dataset} --debug_cmd Observer_type=MinMax)
mixq_calibration_error(unknown_chip STDERR "unknown processor" bm9999 ARGS ${cal_model} ${cal_dataset} --processor bm9999)
mixq_calibration_error(unwritable_output OUTPUT ${cal_out}/no_such_dir/t STDERR no_such_dir ARGS ${cal_model} ${cal_dataset})
mixq_calibration_error(search_qtable_not_yet STDERR search_qtable "not implemented yet" ARGS ${cal_model} ${cal_dataset} --search search_qtable)
mixq_calibration_error(sq_not_yet STDERR --sq "not implemented yet" ARGS ${cal_model} ${cal_dataset} --sq)
mixq_calibration_error(quantize_table_not_yet STDERR --quantize_table ARGS ${cal_model} ${cal_dataset} --quantize_table q)
mixq_calibration_error(input_table_missing_row STDERR "no row" ARGS ${cal_model} ${cal_dataset}
  --debug_cmd input_calibration_table=${MIXQ_TEST_DATA_DIR}/cali_tables/mnist-12_cali_table)

# Every method against the independent NumPy oracle (tests/oracle), no tuning, 8- and 4-bit.
if(EXISTS /usr/bin/python3)
  foreach(variant plain int4)
    set(extra "")
    if(variant STREQUAL int4)
      set(extra --int4 --methods kl,mse,aciq_gauss,aciq_laplace)
    endif()
    add_test(NAME calibration.oracle.${variant}
      COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/oracle_compare.py --run-calibration $<TARGET_FILE:run_calibration>
              --model-runner $<TARGET_FILE:model_runner> --model ${cal_model} --dataset ${cal_samples}
              --work ${cal_out}/oracle_${variant} ${extra})
    set_tests_properties(calibration.oracle.${variant} PROPERTIES LABELS integration SKIP_RETURN_CODE 77)
  endforeach()
endif()

# Images end to end: blazeface converted from the bundled ONNX with TPU-MLIR's preprocessing, then
# calibrated on the bundled WIDER photos; every tensor name of TPU-MLIR's own table must be there,
# in the same order.
if(MIXQ_HAVE_IMAGE)
  set(bf_mlir ${cal_out}/bf/blazeface.mlir)
  file(MAKE_DIRECTORY ${cal_out}/bf)
  add_test(NAME calibration.images.transform
    COMMAND $<TARGET_FILE:model_transform> --model_name blazeface --model_def ${MIXQ_TEST_DATA_DIR}/onnx_models/blazeface.onnx
            "--input_shapes=[[1,3,128,128]]" --mean 1,1,1 --scale 0.0078,0.0078,0.0078 --pixel_format rgb --mlir ${bf_mlir})
  add_test(NAME calibration.images.run
    COMMAND ${cal_run_check} --remove ${cal_out}/bf/t --exists ${cal_out}/bf/t --exists ${cal_out}/bf/t.1 --stderr "12 batch(es)"
            -- $<TARGET_FILE:run_calibration> ${bf_mlir} --dataset ${cal_data}/wider -o ${cal_out}/bf/t)
  add_test(NAME calibration.images.check
    COMMAND ${cal_check} ${cal_out}/bf/t --rows 78 --within-range --same-rows-as ${MIXQ_TEST_DATA_DIR}/cali_tables/blazeface_cali_table)
  set_tests_properties(calibration.images.transform calibration.images.run calibration.images.check PROPERTIES LABELS integration)
  set_tests_properties(calibration.images.transform PROPERTIES FIXTURES_SETUP mixq_cal_bf_mlir)
  set_tests_properties(calibration.images.run PROPERTIES FIXTURES_REQUIRED mixq_cal_bf_mlir FIXTURES_SETUP mixq_cal_bf_table)
  set_tests_properties(calibration.images.check PROPERTIES FIXTURES_REQUIRED mixq_cal_bf_table)
endif()

# search_threshold: one statistics pass, four tuned tables, each deployed INT8 in memory and scored;
# the per-method tables, the winner and TPU-MLIR's log file.
file(MAKE_DIRECTORY ${cal_out}/search)
set(st ${cal_out}/search/t)
add_test(NAME calibration.search_threshold.run
  COMMAND ${cal_run_check} --remove ${st} --exists ${st} --exists ${st}_kl.1 --exists ${st}_kl_tune --exists ${st}_mse_tune
          --exists ${st}_percentile9999_tune --exists ${st}_max_tune --exists ${cal_out}/search/Search_Threshold
          --exists ${cal_out}/search/new_cali_table.txt --stderr "optimal_method_name"
          -- $<TARGET_FILE:run_calibration> ${cal_model} ${cal_dataset} --search search_threshold --inference_num 6 --processor bm1684x -o ${st})
set_tests_properties(calibration.search_threshold.run PROPERTIES LABELS integration WORKING_DIRECTORY ${cal_out}/search
  FIXTURES_SETUP mixq_cal_search)
add_test(NAME calibration.search_threshold.check COMMAND ${cal_check} ${st} --rows 12 --within-range)
set_tests_properties(calibration.search_threshold.check PROPERTIES LABELS integration FIXTURES_REQUIRED mixq_cal_search)
# A directory of its own: both runs write new_cali_table.txt and Search_Threshold in their cwd.
file(MAKE_DIRECTORY ${cal_out}/search0)
set(st0 ${cal_out}/search0/t)
add_test(NAME calibration.search_threshold.untuned
  COMMAND ${cal_run_check} --remove ${st0} --exists ${st0} --exists ${st0}_kl --exists ${st0}_max --stderr "optimal_method_name"
          -- $<TARGET_FILE:run_calibration> ${cal_model} ${cal_dataset} --search search_threshold --tune_num 0 --inference_num 3 -o ${st0})
set_tests_properties(calibration.search_threshold.untuned PROPERTIES LABELS integration WORKING_DIRECTORY ${cal_out}/search0)
