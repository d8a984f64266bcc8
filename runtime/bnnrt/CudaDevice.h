//===- CudaDevice.h - The GPU of a host-cuda binary -----------------------===//
//
// Header-only, included by the plans of binaries built with
// --target=host-cuda: a DeviceMirror (bnnrt/DeviceMirror.h) whose backend is
// Halide's CUDA runtime. That runtime comes with the kernels' objects and
// loads the CUDA driver when first used, so such a binary still starts,
// and runs its CPU kernels, on a machine without one.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_CUDADEVICE_H
#define BNNRT_CUDADEVICE_H

#include "bnnrt/DeviceMirror.h"

#include "HalideRuntimeCuda.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>

namespace bnnrt {

namespace cuda_detail {
/// Halide's runtime reports errors through one handler; the device keeps
/// the last message so that its own error can say what went wrong.
inline std::string &lastHalideError() {
  static std::string message;
  return message;
}
inline void keepHalideError(void *, const char *message) {
  std::string &last = lastHalideError();
  last = message ? message : "";
  while (!last.empty() && (last.back() == '\n' || last.back() == ' '))
    last.pop_back();
}
/// Halide looks for "libcuda.so", which driver-only installs may lack
/// (they have libcuda.so.1, the driver's soname). BNNRT_CUDA_DRIVER names
/// the driver library to load instead (a driver in an unusual place; the
/// tests name one that does not exist, to be sure of a machine without).
inline void *loadDriverLibrary(const char *name) {
  const char *chosen = std::getenv("BNNRT_CUDA_DRIVER");
  if (chosen && std::strcmp(name, "libcuda.so") == 0)
    return dlopen(chosen, RTLD_LAZY);
  void *library = dlopen(name, RTLD_LAZY);
  if (!library && std::strcmp(name, "libcuda.so") == 0)
    library = dlopen("libcuda.so.1", RTLD_LAZY);
  return library;
}
} // namespace cuda_detail

/// Device memory and copies through Halide's CUDA runtime.
class CudaBackend final : public DeviceBackend {
public:
  /// Null with a one-line reason when no GPU can be used: a first
  /// allocation initialises the driver and a context.
  static std::unique_ptr<CudaBackend> open(std::string &why) {
    halide_set_error_handler(cuda_detail::keepHalideError);
    halide_set_custom_load_library(cuda_detail::loadDriverLibrary);
    std::unique_ptr<CudaBackend> backend(new CudaBackend());
    if (backend->allocate(backend->probe) != 0) {
      why = cuda_detail::lastHalideError();
      if (why.empty())
        why = "the CUDA driver could not be initialised";
      return nullptr;
    }
    return backend;
  }
  ~CudaBackend() override {
    halide_device_free(nullptr, &probe);
    halide_device_release(nullptr, halide_cuda_device_interface());
  }

  int allocate(halide_buffer_t &buffer) override {
    return halide_device_malloc(nullptr, &buffer, halide_cuda_device_interface());
  }
  void release(halide_buffer_t &buffer) override { halide_device_free(nullptr, &buffer); }
  int copyToHost(halide_buffer_t &view) override { return halide_copy_to_host(nullptr, &view); }
  int copyToDevice(halide_buffer_t &view) override {
    return halide_copy_to_device(nullptr, &view, halide_cuda_device_interface());
  }
  int copyOnDevice(halide_buffer_t &from, halide_buffer_t &to) override {
    return halide_buffer_copy(nullptr, &from, halide_cuda_device_interface(), &to);
  }
  int synchronize() override { return halide_device_sync(nullptr, &probe); }
  std::string lastError() override { return cuda_detail::lastHalideError(); }

private:
  CudaBackend() {
    probe.host = probeHost;
    probe.type = {halide_type_uint, 8, 1};
    probe.dimensions = 1;
    probe.dim = &probeDim;
  }
  // A small buffer of the backend's own, for the probe and for waiting.
  uint8_t probeHost[16] = {};
  halide_dimension_t probeDim = {0, 16, 1, 0};
  halide_buffer_t probe = {};
};

/// ModelSpec::openCuda of a host-cuda plan.
inline std::unique_ptr<Device> openCudaDevice(std::string &why) {
  std::unique_ptr<CudaBackend> backend = CudaBackend::open(why);
  if (!backend)
    return nullptr;
  return std::make_unique<DeviceMirror>(std::move(backend));
}

} // namespace bnnrt

#endif // BNNRT_CUDADEVICE_H
