# Unsupported processor x mode pairs are compile errors (tests/compile_fail): each file is compiled
# on its own with the project's compiler, syntax only, and must fail with the constraint named;
# the control file must compile.
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  return()
endif()
set(cf_dir ${CMAKE_CURRENT_LIST_DIR}/../compile_fail)
set(cf_compile ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}/include)
foreach(case unsupported_mode unsupported_int4)
  add_test(NAME compile_fail.${case}
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/run_check.py --fail --stderr supports_mode
            -- ${cf_compile} ${cf_dir}/${case}.cpp)
  set_tests_properties(compile_fail.${case} PROPERTIES LABELS integration)
endforeach()
add_test(NAME compile_fail.control_compiles COMMAND ${cf_compile} ${cf_dir}/supported_mode.cpp)
set_tests_properties(compile_fail.control_compiles PROPERTIES LABELS integration)
