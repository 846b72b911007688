# ONNX backend conformance: every in-scope case of Debian's libonnx-testdata node tests is imported
# and run (tests/integration/onnx_node_runner.cpp); the test passes when at least 90% of them do.
# Regenerate docs/onnx_node_tests.md with:
#   mixq_onnx_node_runner --markdown docs/onnx_node_tests.md
set(MIXQ_ONNX_NODE_TEST_DIR "/usr/include/onnx/backend/test/data/node" CACHE PATH
  "The node test cases of onnx/backend/test/data (Debian package libonnx-testdata)")

add_executable(mixq_onnx_node_runner ${CMAKE_CURRENT_LIST_DIR}/onnx_node_runner.cpp)
target_link_libraries(mixq_onnx_node_runner PRIVATE mixq::mixq mixq_project_options)

if(NOT IS_DIRECTORY "${MIXQ_ONNX_NODE_TEST_DIR}")
  message(STATUS "mixq: ${MIXQ_ONNX_NODE_TEST_DIR} is missing (libonnx-testdata); the ONNX node test will be skipped")
endif()
add_test(NAME "onnx: backend node tests" COMMAND mixq_onnx_node_runner "${MIXQ_ONNX_NODE_TEST_DIR}")
set_tests_properties("onnx: backend node tests" PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 600)
