# model_transform --test_input with an image: the input is preprocessed by the converted graph's
# top.Input attributes (which the preprocessing flags set) and written to <name>_in_f32.npz, which
# must equal what TPU-MLIR's preprocess makes of the same image (tests/data/image/make_fixtures.py
# computes it with cv2 from the same flags). Bad test inputs fail cleanly and write nothing.
if(NOT MIXQ_BUILD_EXAMPLES OR NOT TARGET mixq::image)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(STATUS "mixq: no python3, the image_input integration tests are not registered")
  return()
endif()

set(mixq_image_input_out ${CMAKE_CURRENT_BINARY_DIR}/image_input_out)
set(mixq_image_input_check ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/run_check.py)
set(mixq_image_input_model ${MIXQ_TEST_DATA_DIR}/onnx_models/blazeface.onnx)
set(mixq_image_input_photo ${MIXQ_TEST_DATA_DIR}/image/files/photo_ilsvrc.jpg)

# Two tests per flag set: model_transform runs on the photo, then its _in_f32.npz is compared with
# the oracle's (npz_tool must call the single array EQUAL).
function(mixq_image_input_test label)
  set(dir ${mixq_image_input_out}/${label})
  file(MAKE_DIRECTORY ${dir})
  set(in_npz ${dir}/bf_${label}_in_f32.npz)
  add_test(NAME image_input.${label}.transform
    COMMAND ${mixq_image_input_check} --remove ${in_npz} --exists ${in_npz} --exists ${dir}/bf_${label}_top_outputs.npz --
            $<TARGET_FILE:model_transform> --model_name bf_${label} --model_def ${mixq_image_input_model}
            --test_input ${mixq_image_input_photo} --test_result ${dir}/bf_${label}_top_outputs.npz --mlir ${dir}/bf_${label}.mlir
            ${ARGN})
  add_test(NAME image_input.${label}.matches_tpu_mlir
    COMMAND ${mixq_image_input_check} --stdout-line "  1 equal, 0 close, 0 similar" --
            $<TARGET_FILE:npz_tool> compare ${in_npz} ${MIXQ_TEST_DATA_DIR}/image/model_transform_${label}_in_f32.npz)
  set_tests_properties(image_input.${label}.transform image_input.${label}.matches_tpu_mlir PROPERTIES LABELS integration)
  set_tests_properties(image_input.${label}.transform PROPERTIES FIXTURES_SETUP mixq_image_input_${label})
  set_tests_properties(image_input.${label}.matches_tpu_mlir PROPERTIES FIXTURES_REQUIRED mixq_image_input_${label})
endfunction()

mixq_image_input_test(stretch --pixel_format rgb --mean 1,1,1 --scale 0.0078,0.0078,0.0078)
mixq_image_input_test(letterbox --keep_aspect_ratio --pad_value 114 --pad_type center --resize_dims 160,144
                      --mean 104,117,123 --scale 0.5,0.5,0.5)

# Failures: a file that is no image, more images than inputs, a pixel format the input cannot hold.
# No input npz may be left behind.
set(dir ${mixq_image_input_out}/errors)
file(MAKE_DIRECTORY ${dir})
set(mixq_image_input_common --model_name bf_bad --model_def ${mixq_image_input_model} --test_result ${dir}/bf_bad_out.npz
    --mlir ${dir}/bf_bad.mlir)
add_test(NAME image_input.not_an_image
  COMMAND ${mixq_image_input_check} --fail --stderr "preprocess_cases.txt" --stderr "not a JPEG, PNG or BMP image"
          --remove ${dir}/bf_bad_in_f32.npz --absent ${dir}/bf_bad_in_f32.npz --absent ${dir}/bf_bad_out.npz --
          $<TARGET_FILE:model_transform> ${mixq_image_input_common} --test_input ${MIXQ_TEST_DATA_DIR}/image/preprocess_cases.txt)
add_test(NAME image_input.too_many_images
  COMMAND ${mixq_image_input_check} --fail --stderr "2 images for 1 input(s)" --absent ${dir}/bf_bad_in_f32.npz --
          $<TARGET_FILE:model_transform> ${mixq_image_input_common}
          --test_input ${mixq_image_input_photo},${mixq_image_input_photo})
add_test(NAME image_input.channel_mismatch
  COMMAND ${mixq_image_input_check} --fail --stderr "photo_ilsvrc.jpg" --stderr "has 3 channel(s)" --stderr "pixel_format gray makes 1"
          --absent ${dir}/bf_bad_in_f32.npz --
          $<TARGET_FILE:model_transform> ${mixq_image_input_common} --pixel_format gray --test_input ${mixq_image_input_photo})
set_tests_properties(image_input.not_an_image image_input.too_many_images image_input.channel_mismatch PROPERTIES LABELS integration)
