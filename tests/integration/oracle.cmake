# The NumPy calibration oracle (tests/oracle) checks itself: hand-derived histogram, KL, OCTAV,
# ACIQ, percentile and table-rule cases, the ops.txt maker, and end-to-end runs on the model
# fixtures. It runs with Debian's /usr/bin/python3 (where python3-numpy lives); without numpy the
# test reports itself as skipped (exit code 77).
set(MIXQ_ORACLE_PYTHON /usr/bin/python3 CACHE FILEPATH "The Python with numpy that runs tests/oracle")
if(NOT EXISTS ${MIXQ_ORACLE_PYTHON})
  message(STATUS "mixq: ${MIXQ_ORACLE_PYTHON} not found, the calibration oracle self-tests are not registered")
  return()
endif()
add_test(NAME oracle.calibration_self_test
  COMMAND ${MIXQ_ORACLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/../oracle/test_calibration_oracle.py)
set_tests_properties(oracle.calibration_self_test PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 600)

# The lowering oracle (tests/oracle/lowering) checks itself against the values docs/lowering_spec.md
# derives by hand (rounding modes, multiplier/shift searches, per-chip Conv/MatMul/Add/AvgPool).
add_test(NAME oracle.lowering_self_test
  COMMAND ${MIXQ_ORACLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/../oracle/lowering/test_lowering_oracle.py)
set_tests_properties(oracle.lowering_self_test PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 600)
