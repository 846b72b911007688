# Installs mixq from a build tree into a scratch prefix, then configures, builds and runs the
# project in this folder against it, the way a user would. Run with cmake -P and:
#   MIXQ_SOURCE_DIR, MIXQ_BUILD_DIR   the mixq tree to install
#   WORK_DIR                          scratch folder (emptied first)
#   CXX_COMPILER, GENERATOR           to build the consumer like mixq itself
#   EXPECTED_VERSION                  the version find_package must report
#   EXPECT_IMAGE                      ON: the mixq::image component must be found and link
cmake_minimum_required(VERSION 3.20)

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")

run_step("cmake --install" ${CMAKE_COMMAND} --install "${MIXQ_BUILD_DIR}" --prefix "${prefix}")
if(NOT EXISTS "${prefix}/include/mixq/mixq.hpp")
  message(FATAL_ERROR "cmake --install did not install include/mixq/mixq.hpp")
endif()

# A package that names the source or build tree works only on the machine that built it.
file(GLOB_RECURSE package_files "${prefix}/*.cmake")
if(NOT package_files)
  message(FATAL_ERROR "cmake --install installed no CMake package files under ${prefix}")
endif()
foreach(f ${package_files})
  file(READ "${f}" text)
  foreach(tree "${MIXQ_SOURCE_DIR}" "${MIXQ_BUILD_DIR}")
    string(FIND "${text}" "${tree}" at)
    if(at GREATER -1)
      message(FATAL_ERROR "installed ${f} refers to ${tree}; the package must not depend on the build machine's trees")
    endif()
  endforeach()
endforeach()

set(consumer_build "${WORK_DIR}/build")
run_step("configuring the consumer project" ${CMAKE_COMMAND} -S "${CMAKE_CURRENT_LIST_DIR}" -B "${consumer_build}"
  -G "${GENERATOR}" -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DMIXQ_EXPECTED_VERSION=${EXPECTED_VERSION} -DMIXQ_EXPECT_IMAGE=${EXPECT_IMAGE})
run_step("building the consumer project" ${CMAKE_COMMAND} --build "${consumer_build}" --parallel 2)

find_program(consumer mixq_consumer PATHS "${consumer_build}" "${consumer_build}/Debug" NO_DEFAULT_PATH REQUIRED)
run_step("running the consumer" "${consumer}")
string(FIND "${step_output}" "installed package ok" ok)
if(ok EQUAL -1)
  message(FATAL_ERROR "the consumer printed:\n${step_output}")
endif()
message(STATUS "consumer built against ${prefix}: ${step_output}")
