# mlir-opt round trips (label "integration"): every .mlir under tests/data/mlir and every module mixq prints
# must be accepted by the real MLIR parser, and mlir-opt's re-printing (generic and custom form, with debug
# info) must read back as an equivalent graph. Skipped, with a message, when mlir-opt is not installed.
find_program(MIXQ_MLIR_OPT NAMES mlir-opt-19 mlir-opt PATHS /usr/lib/llvm-19/bin
             DOC "mlir-opt used by the mlir_opt_roundtrip integration test")
if(NOT MIXQ_MLIR_OPT)
  message(STATUS "mlir-opt not found (Debian package mlir-19-tools): mlir_opt_roundtrip will be skipped")
endif()

add_executable(mixq_mlir_opt_check ${CMAKE_CURRENT_LIST_DIR}/mlir_opt_check.cpp)
target_link_libraries(mixq_mlir_opt_check PRIVATE mixq::mixq mixq_project_options)
target_include_directories(mixq_mlir_opt_check PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit/mlir)

add_test(NAME mlir_opt_roundtrip
         COMMAND mixq_mlir_opt_check "${MIXQ_MLIR_OPT}" "${MIXQ_TEST_DATA_DIR}/mlir"
                 "${CMAKE_CURRENT_BINARY_DIR}/mlir_opt_work")
set_tests_properties(mlir_opt_roundtrip PROPERTIES LABELS integration SKIP_RETURN_CODE 77)
