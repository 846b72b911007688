# The optional `mixq::image` component: image decoding and preprocessing (include/mixq/io/image.hpp,
# include/mixq/io/image/, include/mixq/io/preprocess.hpp), header-only like the rest but linking
# libjpeg(-turbo) and libpng. It exists only when both are found; the core mixq::mixq never needs
# them. Included by the top-level CMakeLists.txt after mixq and mixq_project_options are defined.
find_package(JPEG)
find_package(PNG)
if(JPEG_FOUND AND PNG_FOUND)
  set(MIXQ_HAVE_IMAGE ON)
  add_library(mixq_image INTERFACE)
  add_library(mixq::image ALIAS mixq_image)
  set_target_properties(mixq_image PROPERTIES EXPORT_NAME image)
  target_link_libraries(mixq_image INTERFACE mixq JPEG::JPEG PNG::PNG)
  # Lets a program that may be built without the component (our drivers) know it is there.
  target_compile_definitions(mixq_image INTERFACE MIXQ_HAVE_IMAGE=1)
  target_link_libraries(mixq_project_options INTERFACE mixq_image)
else()
  set(MIXQ_HAVE_IMAGE OFF)
  message(STATUS "mixq: libjpeg or libpng not found (Debian: libjpeg-dev libpng-dev); no mixq::image component")
endif()

# Installed as its own export set, loaded by find_package(mixq COMPONENTS image) only, so users who
# do not ask for it need neither library.
function(mixq_install_image_component)
  if(MIXQ_HAVE_IMAGE)
    install(TARGETS mixq_image EXPORT mixqImageTargets)
    install(EXPORT mixqImageTargets NAMESPACE mixq:: FILE mixq-image-targets.cmake
      DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mixq)
  endif()
endfunction()
