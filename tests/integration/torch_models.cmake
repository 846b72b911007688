# torchvision and YOLO-style models with random weights (scripts/export_models.py, run with Debian's
# python3-torch): each test exports its model into the build tree (cached across runs by the
# script's stamp files), converts it with model_transform against torch's own outputs, checks the
# issue's bar (cosine >= 0.99999, max |diff| <= 1e-4 x max |ref|) and mlir-opt. Tests skip (77)
# when /usr/bin/python3 has no torch, so a machine without it still passes.
if(NOT MIXQ_BUILD_EXAMPLES)
  return()
endif()
set(MIXQ_TORCH_PYTHON "/usr/bin/python3" CACHE FILEPATH
  "Python with torch and torchvision (Debian's python3-torch, python3-torchvision) for the torch model tests")
set(MIXQ_TORCH_MODELS_DIR "${CMAKE_CURRENT_BINARY_DIR}/torch_models" CACHE PATH
  "Where scripts/export_models.py puts the exported models (large; reused across test runs)")
# The checker needs numpy: run it with the torch interpreter when there is one, else with any
# python3, which then reports the tests skipped.
if(EXISTS "${MIXQ_TORCH_PYTHON}")
  set(mixq_torch_checker_python "${MIXQ_TORCH_PYTHON}")
else()
  find_package(Python3 COMPONENTS Interpreter)
  if(NOT Python3_Interpreter_FOUND)
    message(STATUS "mixq: no python3; the torch model tests are not registered")
    return()
  endif()
  set(mixq_torch_checker_python "${Python3_EXECUTABLE}")
  message(STATUS "mixq: ${MIXQ_TORCH_PYTHON} not found; the torch model tests will report skipped")
endif()
find_program(MIXQ_TORCH_MLIR_OPT NAMES mlir-opt-19 mlir-opt PATHS /usr/lib/llvm-19/bin)

set(mixq_torch_work "${CMAKE_CURRENT_BINARY_DIR}/torch_models_out")
foreach(model mobilenet_v2 resnet18 vit swin_t yolov5s yolov8n)
  set(extra "")
  if(MIXQ_TORCH_MLIR_OPT)
    list(APPEND extra --mlir-opt "${MIXQ_TORCH_MLIR_OPT}")
  endif()
  if(model STREQUAL "yolov8n")
    # the export reproduces ultralytics' module names, so TPU-MLIR's own table must match ours
    list(APPEND extra --cali-table "${MIXQ_SHARED_DIR}/reference/cali_tables/yolov8n_cali_table")
  endif()
  add_test(NAME "torch_models: ${model}"
    COMMAND "${mixq_torch_checker_python}" "${CMAKE_CURRENT_LIST_DIR}/torch_model_check.py"
            --model ${model} --torch-python "${MIXQ_TORCH_PYTHON}"
            --export-script "${PROJECT_SOURCE_DIR}/scripts/export_models.py"
            --models-dir "${MIXQ_TORCH_MODELS_DIR}" --work-dir "${mixq_torch_work}"
            --model-transform $<TARGET_FILE:model_transform> ${extra})
  # The export uses every core torch finds; two at once would only fight over them.
  set_tests_properties("torch_models: ${model}" PROPERTIES LABELS integration SKIP_RETURN_CODE 77
    TIMEOUT 600 RESOURCE_LOCK mixq_torch_export)
endforeach()
