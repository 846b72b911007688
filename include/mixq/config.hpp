// mixq: header-only quantization toolkit for TPU-MLIR style flows.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#define MIXQ_VERSION_MAJOR 0
#define MIXQ_VERSION_MINOR 1
#define MIXQ_VERSION_PATCH 0
#define MIXQ_VERSION_STRING "0.1.0"

// Everything in mixq that is not a template is `inline`, so the library can be
// used header-only and still be included in many translation units.
#define MIXQ_INLINE inline
