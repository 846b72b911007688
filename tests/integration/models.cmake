# End-to-end tests on the model fixtures of tests/data/models (written by make_models.py): the
# drivers run each model and npz_tool compares the result with the numpy oracle; broken models and
# bad command lines must fail with a message and leave no output file.
# Included from tests/CMakeLists.txt, before examples/ is added: the driver targets do not exist
# yet, so test on the option and let $<TARGET_FILE:...> resolve them at generate time.
if(NOT MIXQ_BUILD_EXAMPLES)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(STATUS "mixq: no python3, the model integration tests are not registered")
  return()
endif()

set(MIXQ_MODELS_DIR ${MIXQ_TEST_DATA_DIR}/models)
set(MIXQ_MODELS_OUT ${CMAKE_CURRENT_BINARY_DIR}/models_out)
file(MAKE_DIRECTORY ${MIXQ_MODELS_OUT})
set(MIXQ_RUN_CHECK ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/run_check.py)
# Outputs come from the oracle in float64; the interpreter computes in float32.
set(MIXQ_MODELS_TOLERANCE 0.9999,0.999)

# Ops the headers define (`mnemonic = "top.X"`). A model whose ops are not all there yet gets its
# tests registered but DISABLED; they switch on by themselves once the ops land, since cmake
# re-runs whenever a dialect header changes.
file(GLOB mixq_top_headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/mixq/dialect/top/*.hpp)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${mixq_top_headers})
set(mixq_defined_ops "")
foreach(header ${mixq_top_headers})
  file(STRINGS ${header} lines REGEX "mnemonic[^\"]*\"top\\.[A-Za-z0-9_]+\"")
  foreach(line ${lines})
    string(REGEX MATCH "top\\.[A-Za-z0-9_]+" op "${line}")
    list(APPEND mixq_defined_ops ${op})
  endforeach()
endforeach()

# Sets `out_var` to the ops `mlir` uses that no header defines.
function(mixq_missing_ops mlir out_var)
  file(STRINGS ${mlir} lines REGEX "\"top\\.[A-Za-z0-9_]+\"\\(")
  set(missing "")
  foreach(line ${lines})
    string(REGEX MATCH "\"top\\.[A-Za-z0-9_]+\"\\(" op "${line}")
    string(REGEX REPLACE "[\"(]" "" op "${op}")
    if(NOT op IN_LIST mixq_defined_ops AND NOT op IN_LIST missing)
      list(APPEND missing ${op})
    endif()
  endforeach()
  set(${out_var} ${missing} PARENT_SCOPE)
endfunction()

# Four tests per model: run, compare outputs, run with --dump_all_tensors, compare every tensor.
function(mixq_model_tests name)
  set(data ${MIXQ_MODELS_DIR}/${name})
  set(out ${MIXQ_MODELS_OUT}/${name}_out.npz)
  set(all ${MIXQ_MODELS_OUT}/${name}_all_out.npz)
  set(runner $<TARGET_FILE:model_runner> --model ${data}.mlir --input ${data}_in_f32.npz)
  add_test(NAME models.${name}.run
    COMMAND ${MIXQ_RUN_CHECK} --remove ${out} --stdout "Result saved to:${out}"
            --npz-names-superset ${out} ${data}_expected.npz -- ${runner} --output ${out})
  add_test(NAME models.${name}.compare
    COMMAND $<TARGET_FILE:npz_tool> compare ${out} ${data}_expected.npz --tolerance ${MIXQ_MODELS_TOLERANCE})
  add_test(NAME models.${name}.dump_all
    COMMAND ${MIXQ_RUN_CHECK} --remove ${all} --npz-names-superset ${all} ${data}_all_expected.npz
            -- ${runner} --output ${all} --dump_all_tensors)
  add_test(NAME models.${name}.dump_all_compare
    COMMAND $<TARGET_FILE:npz_tool> compare ${all} ${data}_all_expected.npz --tolerance ${MIXQ_MODELS_TOLERANCE})
  set(tests models.${name}.run models.${name}.compare models.${name}.dump_all models.${name}.dump_all_compare)
  set_tests_properties(${tests} PROPERTIES LABELS integration)
  set_tests_properties(models.${name}.run PROPERTIES FIXTURES_SETUP mixq_model_${name}_out)
  set_tests_properties(models.${name}.compare PROPERTIES FIXTURES_REQUIRED mixq_model_${name}_out)
  set_tests_properties(models.${name}.dump_all PROPERTIES FIXTURES_SETUP mixq_model_${name}_all)
  set_tests_properties(models.${name}.dump_all_compare PROPERTIES FIXTURES_REQUIRED mixq_model_${name}_all)
  mixq_missing_ops(${data}.mlir missing)
  if(missing)
    string(REPLACE ";" ", " missing_text "${missing}")
    message(STATUS "mixq: models.${name}.* disabled until these ops exist: ${missing_text}")
    set_tests_properties(${tests} PROPERTIES DISABLED TRUE)
  endif()
endfunction()

foreach(model add_relu conv_net transformer_block multi_result int_flow)
  mixq_model_tests(${model})
endforeach()

# One failing model_runner run: it must exit non-zero (not crash), print every STDERR string and
# leave no output file.
#   mixq_runner_error_test(<case> [OUTPUT <path>] STDERR <text>... ARGS <arg>...)
function(mixq_runner_error_test case)
  cmake_parse_arguments(PARSE_ARGV 1 E "" "OUTPUT" "STDERR;ARGS")
  if(NOT E_OUTPUT)
    set(E_OUTPUT ${MIXQ_MODELS_OUT}/error_${case}.npz)
  endif()
  set(checks --fail --remove ${E_OUTPUT} --absent ${E_OUTPUT})
  foreach(s ${E_STDERR})
    list(APPEND checks "--stderr=${s}")  # `=`: the text may itself start with "--"
  endforeach()
  add_test(NAME models.error.${case}
    COMMAND ${MIXQ_RUN_CHECK} ${checks} -- $<TARGET_FILE:model_runner> ${E_ARGS} --output ${E_OUTPUT})
  set_tests_properties(models.error.${case} PROPERTIES LABELS integration)
endfunction()

set(err ${MIXQ_MODELS_DIR}/errors)
set(valid_input --input ${err}/valid_in_f32.npz)
mixq_runner_error_test(truncated_mlir STDERR truncated.mlir
  ARGS --model ${err}/truncated.mlir ${valid_input})
mixq_runner_error_test(missing_weight_file STDERR missing_weight_file_top_f32_all_weight.npz "not found"
  ARGS --model ${err}/missing_weight_file.mlir ${valid_input})
mixq_runner_error_test(missing_weight_key STDERR missing_weight_key_top_f32_all_weight.npz "\"w\""
  ARGS --model ${err}/missing_weight_key.mlir ${valid_input})
mixq_runner_error_test(wrong_weight_count STDERR wrong_weight_count "\"w\"" "5 elements"
  ARGS --model ${err}/wrong_weight_count.mlir ${valid_input})
mixq_runner_error_test(unknown_op STDERR unknown_op.mlir top.NoSuchOp
  ARGS --model ${err}/unknown_op.mlir ${valid_input})
mixq_runner_error_test(wrong_input_shape STDERR wrong_shape_in_f32.npz "\"x\"" 2x5
  ARGS --model ${err}/valid.mlir --input ${err}/wrong_shape_in_f32.npz)
mixq_runner_error_test(wrong_input_name STDERR wrong_name_in_f32.npz not_x
  ARGS --model ${err}/valid.mlir --input ${err}/wrong_name_in_f32.npz)
mixq_runner_error_test(missing_input_file STDERR absent_in_f32.npz
  ARGS --model ${err}/valid.mlir --input ${err}/absent_in_f32.npz)
mixq_runner_error_test(missing_model_file STDERR absent.mlir
  ARGS --model ${err}/absent.mlir ${valid_input})
mixq_runner_error_test(onnx_model STDERR valid.onnx .mlir
  ARGS --model ${err}/valid.onnx ${valid_input})
mixq_runner_error_test(unwritable_output OUTPUT ${MIXQ_MODELS_OUT}/no_such_dir/out.npz STDERR no_such_dir/out.npz
  ARGS --model ${err}/valid.mlir ${valid_input})
mixq_runner_error_test(unknown_flag STDERR --frobnicate
  ARGS --model ${err}/valid.mlir ${valid_input} --frobnicate)
mixq_runner_error_test(rejected_flag_cuda STDERR --cuda "not supported"
  ARGS --model ${err}/valid.mlir ${valid_input} --cuda)
mixq_runner_error_test(missing_required_model STDERR --model
  ARGS ${valid_input})

# npz_tool on small hand-made files (see write_npz_tool in make_models.py).
function(mixq_npz_tool_test case)
  cmake_parse_arguments(PARSE_ARGV 1 T "" "" "CHECKS;ARGS")
  add_test(NAME npz_tool.${case} COMMAND ${MIXQ_RUN_CHECK} ${T_CHECKS} -- $<TARGET_FILE:npz_tool> ${T_ARGS})
  set_tests_properties(npz_tool.${case} PROPERTIES LABELS integration)
endfunction()

set(npz ${MIXQ_MODELS_DIR}/npz_tool)
mixq_npz_tool_test(compare_identical_is_equal
  CHECKS --exit 0 --stdout "EQUAL [PASSED]" --stdout "npz compare PASSED" --no-stdout FAILED
  ARGS compare ${npz}/a.npz ${npz}/a.npz)
mixq_npz_tool_test(compare_noisy_passes_loose_tolerance
  CHECKS --exit 0 --stdout "SIMILAR [PASSED]" --stdout "npz compare PASSED"
  ARGS compare ${npz}/noisy.npz ${npz}/a.npz --tolerance 0.99,0.9)
mixq_npz_tool_test(compare_noisy_fails_tight_tolerance
  CHECKS --exit 1 --stdout "NOT_SIMILAR [FAILED]" --stdout "npz compare FAILED"
  ARGS compare ${npz}/noisy.npz ${npz}/a.npz --tolerance 0.99999,0.999)
mixq_npz_tool_test(compare_excepts_skips_named_tensor
  CHECKS --exit 0 --stdout "npz compare PASSED" --stdout-line "2 compared"
  ARGS compare ${npz}/noisy.npz ${npz}/a.npz --tolerance 0.99999,0.999 --excepts x)
mixq_npz_tool_test(compare_tiny_difference_is_close
  CHECKS --exit 0 --stdout "CLOSE [PASSED]"
  ARGS compare ${npz}/close.npz ${npz}/a.npz)
mixq_npz_tool_test(compare_verbose_prints_metrics
  CHECKS --exit 0 --stdout "(4, 8) float32" --stdout "cosine_similarity" --stdout "euclidean_similarity"
         --stdout "sqnr_similarity"
  ARGS compare -v ${npz}/noisy.npz ${npz}/a.npz --tolerance 0.99,0.9)
mixq_npz_tool_test(compare_without_common_names_fails
  CHECKS --exit 1 --stdout "no tensor name is common"
  ARGS compare ${npz}/other_names.npz ${npz}/a.npz)
mixq_npz_tool_test(compare_missing_file_fails
  CHECKS --fail --stderr absent.npz
  ARGS compare ${npz}/absent.npz ${npz}/a.npz)
mixq_npz_tool_test(compare_rejects_bad_tolerance
  CHECKS --fail --stderr tolerance
  ARGS compare ${npz}/a.npz ${npz}/a.npz --tolerance 0.99)
mixq_npz_tool_test(dump_lists_names
  CHECKS --exit 0 --stdout-line x --stdout-line y --stdout-line ids
  ARGS dump ${npz}/a.npz)
mixq_npz_tool_test(dump_prints_shape_and_dtype
  CHECKS --exit 0 --stdout-line "shape (4, 8)" --stdout-line "dtype float32"
  ARGS dump ${npz}/a.npz x)
mixq_npz_tool_test(dump_int_array
  CHECKS --exit 0 --stdout-line "shape (5,)" --stdout-line "dtype int32"
  ARGS dump ${npz}/a.npz ids)
mixq_npz_tool_test(dump_unknown_name_fails
  CHECKS --fail --stderr nope
  ARGS dump ${npz}/a.npz nope)
