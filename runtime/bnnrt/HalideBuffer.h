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
#include <initializer_list>

namespace bnnrt {

/// A dense halide_buffer_t over memory the plan owns, extents innermost
/// first (the innermost contiguous), up to four dimensions.
class HalideBufferND {
public:
  HalideBufferND(const void *data, halide_type_t type,
                 std::initializer_list<int64_t> extents) {
    buffer = {};
    buffer.host = static_cast<uint8_t *>(const_cast<void *>(data));
    buffer.type = type;
    buffer.dimensions = int32_t(extents.size());
    buffer.dim = dims;
    int32_t stride = 1, d = 0;
    for (int64_t extent : extents) {
      dims[d++] = {0, int32_t(extent), stride, 0};
      stride *= int32_t(extent);
    }
  }
  halide_buffer_t *raw() { return &buffer; }

private:
  halide_dimension_t dims[4];
  halide_buffer_t buffer;
};

inline halide_type_t halideFloat32() { return {halide_type_float, 32, 1}; }
inline halide_type_t halideUInt64() { return {halide_type_uint, 64, 1}; }
inline halide_type_t halideInt32() { return {halide_type_int, 32, 1}; }

/// Halide kernels return non-zero when an argument breaks their contract
/// (Halide prints why just before). Hand schedules accept any batch size, so
/// there it is a bug; a schedule an autoscheduler planned for one batch size
/// (--batch-estimate) may not accept another. Stop loudly either way.
inline void checkHalideCall(int status, const char *kernel) {
  if (status != 0) {
    std::fprintf(stderr,
                 "error: Halide kernel %s rejected its arguments (%d). An "
                 "autoscheduled kernel may accept only the batch size given to "
                 "bnnc --batch-estimate\n",
                 kernel, status);
    std::abort();
  }
}

} // namespace bnnrt

#endif // BNNRT_HALIDEBUFFER_H
