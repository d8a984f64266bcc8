//===- HalideBuffer.h - Calling AOT-compiled Halide kernels from a plan ---===//
//
// Header-only: a generated plan that calls Halide kernels includes it; the
// Halide runtime comes with the kernels' objects, so nothing of libHalide is
// needed at run time.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_HALIDEBUFFER_H
#define BNNRT_HALIDEBUFFER_H

#include "HalideRuntime.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace bnnrt {

/// A dense 2-D halide_buffer_t over memory the plan owns: `inner` elements
/// a row (contiguous), `outer` rows.
class HalideBuffer2D {
public:
  HalideBuffer2D(const void *data, halide_type_t type, int64_t inner,
                 int64_t outer) {
    dims[0] = {0, int32_t(inner), 1, 0};
    dims[1] = {0, int32_t(outer), int32_t(inner), 0};
    buffer.device = 0;
    buffer.device_interface = nullptr;
    buffer.host = static_cast<uint8_t *>(const_cast<void *>(data));
    buffer.flags = 0;
    buffer.type = type;
    buffer.dimensions = 2;
    buffer.dim = dims;
    buffer.padding = nullptr;
  }
  halide_buffer_t *raw() { return &buffer; }

private:
  halide_dimension_t dims[2];
  halide_buffer_t buffer;
};

/// A dense 3-D halide_buffer_t: (inner, middle, outer), inner contiguous.
class HalideBuffer3D {
public:
  HalideBuffer3D(const void *data, halide_type_t type, int64_t inner,
                 int64_t middle, int64_t outer) {
    dims[0] = {0, int32_t(inner), 1, 0};
    dims[1] = {0, int32_t(middle), int32_t(inner), 0};
    dims[2] = {0, int32_t(outer), int32_t(inner * middle), 0};
    buffer = {};
    buffer.host = static_cast<uint8_t *>(const_cast<void *>(data));
    buffer.type = type;
    buffer.dimensions = 3;
    buffer.dim = dims;
  }
  halide_buffer_t *raw() { return &buffer; }

private:
  halide_dimension_t dims[3];
  halide_buffer_t buffer;
};

/// A 1-D halide_buffer_t (per-channel vectors).
class HalideBuffer1D {
public:
  HalideBuffer1D(const void *data, halide_type_t type, int64_t extent) {
    dim = {0, int32_t(extent), 1, 0};
    buffer = {};
    buffer.host = static_cast<uint8_t *>(const_cast<void *>(data));
    buffer.type = type;
    buffer.dimensions = 1;
    buffer.dim = &dim;
  }
  halide_buffer_t *raw() { return &buffer; }

private:
  halide_dimension_t dim;
  halide_buffer_t buffer;
};

inline halide_type_t halideFloat32() { return {halide_type_float, 32, 1}; }
inline halide_type_t halideUInt64() { return {halide_type_uint, 64, 1}; }
inline halide_type_t halideInt32() { return {halide_type_int, 32, 1}; }

/// Halide kernels return non-zero when an argument breaks their contract
/// (a shape they were not compiled for); that is a bug, so stop loudly.
inline void checkHalideCall(int status, const char *kernel) {
  if (status != 0) {
    std::fprintf(stderr, "internal error: Halide kernel %s failed (%d)\n",
                 kernel, status);
    std::abort();
  }
}

} // namespace bnnrt

#endif // BNNRT_HALIDEBUFFER_H
