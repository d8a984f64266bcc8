//===- CudaDevice.h - Host memory mirrored on an NVIDIA GPU ---------------===//
//
// Header-only, included by the plans of binaries built with
// --target=host-cuda: it calls Halide's CUDA runtime, which comes with the
// kernels' objects and loads the CUDA driver when first used (so such a
// binary still starts, and runs its CPU kernels, on a machine without one).
//
// Every host buffer a GPU kernel touches (a param, an Adam moment, a
// workspace slot, the staged batch) gets one device allocation, found by
// its host address, and Halide's own dirty bits say which copy is newer.
// A kernel call sees a view of that allocation with the shape it wants:
// Halide copies to the device only what the host wrote since (the batch,
// params after a load), and the host copy is refreshed only where the host
// reads: the loss and logits each step, everything before a checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_CUDADEVICE_H
#define BNNRT_CUDADEVICE_H

#include "bnnrt/HalideBuffer.h"
#include "bnnrt/Model.h"
#include "bnnrt/Profile.h"

#include "HalideRuntimeCuda.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <unordered_map>
#include <vector>

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

class CudaDevice final : public Device {
public:
  /// Null with a one-line reason when no GPU can be used.
  static std::unique_ptr<Device> open(std::string &why) {
    halide_set_error_handler(cuda_detail::keepHalideError);
    halide_set_custom_load_library(cuda_detail::loadDriverLibrary);
    auto device = std::unique_ptr<CudaDevice>(new CudaDevice());
    // A first allocation initialises the driver and a context.
    device->probe.host = device->probeHost;
    device->probe.type = {halide_type_uint, 8, 1};
    device->probe.dimensions = 1;
    device->probe.dim = &device->probeDim;
    device->probeDim = {0, int32_t(sizeof device->probeHost), 1, 0};
    if (halide_device_malloc(nullptr, &device->probe, halide_cuda_device_interface()) != 0) {
      why = cuda_detail::lastHalideError();
      if (why.empty())
        why = "the CUDA driver could not be initialised";
      return nullptr;
    }
    return device;
  }

  ~CudaDevice() override {
    forgetAll();
    halide_device_free(nullptr, &probe);
    halide_device_release(nullptr, halide_cuda_device_interface());
  }

  /// A copy of `count` items of the step's input (images or labels) in a
  /// buffer of the device's own, marked as newer on the host.
  template <typename T> const T *input(size_t slot, const T *host, int64_t count) {
    if (staged.size() <= slot)
      staged.resize(slot + 1);
    std::vector<uint8_t> &buffer = staged[slot];
    size_t bytes = size_t(count) * sizeof(T);
    if (buffer.size() < bytes) {
      if (!buffer.empty())
        released(buffer.data());
      buffer.resize(bytes);
    }
    std::memcpy(buffer.data(), host, bytes);
    Entry &entry = entryFor(buffer.data(), bytes);
    entry.buffer.set_host_dirty(true);
    entry.buffer.set_device_dirty(false);
    return reinterpret_cast<const T *>(buffer.data());
  }

  /// Points `view` (over host memory) at the device copy of that memory.
  void attach(halide_buffer_t &view) {
    Entry &entry = entryFor(view.host, view.size_in_bytes());
    view.device = entry.buffer.device;
    view.device_interface = entry.buffer.device_interface;
    view.flags = entry.buffer.flags;
  }
  /// Takes back what a kernel did to `view`'s copies. Two views of one
  /// buffer can be in one call (Adam updates its param and moments in
  /// place), so a view that is clean after the call never undoes another's
  /// device write; it only records that the host's data reached the device.
  void detach(halide_buffer_t &view) {
    auto found = entries.find(view.host);
    if (found != entries.end()) {
      halide_buffer_t &buffer = found->second.buffer;
      if (view.device_dirty()) {
        buffer.set_device_dirty(true);
        buffer.set_host_dirty(false);
      } else if (view.host_dirty()) {
        buffer.set_host_dirty(true);
        buffer.set_device_dirty(false);
      } else {
        buffer.set_host_dirty(false);
      }
    }
    view.device = 0;
    view.device_interface = nullptr;
  }

  /// The host copy of `count` floats at `host`, current.
  const float *hostRead(const float *host, int64_t count) {
    HalideBufferND view(host, halideFloat32(), {count});
    attach(*view.raw());
    check(halide_copy_to_host(nullptr, view.raw()), "copying to the host");
    detach(*view.raw());
    return host;
  }

  /// `count` floats from `from` to `to` on the device (the running
  /// statistics a batchnorm kernel wrote apart, into their params).
  void copy(const float *from, float *to, int64_t count) {
    HalideBufferND source(from, halideFloat32(), {count});
    HalideBufferND target(to, halideFloat32(), {count});
    attach(*source.raw());
    attach(*target.raw());
    check(halide_copy_to_device(nullptr, source.raw(), halide_cuda_device_interface()),
          "copying to the GPU");
    target.raw()->set_host_dirty(false); // every value is overwritten
    check(halide_buffer_copy(nullptr, source.raw(), halide_cuda_device_interface(),
                             target.raw()),
          "copying on the device");
    target.raw()->set_device_dirty(true);
    detach(*source.raw());
    detach(*target.raw());
  }

  /// With --profile, waits for the kernel just launched, so that its time
  /// is its own (kernels otherwise run while the host goes on).
  void afterKernel() {
    if (detail::profilingOn)
      check(halide_device_sync(nullptr, &probe), "waiting for the GPU");
  }

  void syncToHost() override {
    for (auto &[host, entry] : entries)
      check(halide_copy_to_host(nullptr, &entry.buffer), "copying to the host");
  }

  void forgetAll() override {
    for (auto &[host, entry] : entries)
      halide_device_free(nullptr, &entry.buffer);
    entries.clear();
  }

  void released(const void *host) override {
    auto entry = entries.find(host);
    if (entry == entries.end())
      return;
    halide_device_free(nullptr, &entry->second.buffer);
    entries.erase(entry);
  }

  /// A failed call of Halide's runtime: the GPU ran out of memory or the
  /// driver failed. The step cannot go on; the last checkpoint is kept.
  static void check(int status, const char *what) {
    if (status == 0)
      return;
    std::fprintf(stderr, "error: GPU: %s failed: %s\n", what,
                 cuda_detail::lastHalideError().c_str());
    std::exit(1);
  }

private:
  CudaDevice() = default;

  /// One device allocation mirroring `bytes` of host memory.
  struct Entry {
    halide_buffer_t buffer = {};
    halide_dimension_t dim = {};
  };

  /// The entry of `host`, made (host copy newer) or grown as needed.
  Entry &entryFor(const void *host, size_t bytes) {
    auto found = entries.find(host);
    if (found != entries.end() && size_t(found->second.dim.extent) >= bytes)
      return found->second;
    if (found != entries.end()) {
      // A larger view of the same memory: keep what the device holds.
      check(halide_copy_to_host(nullptr, &found->second.buffer), "copying to the host");
      halide_device_free(nullptr, &found->second.buffer);
      entries.erase(found);
    }
    Entry &entry = entries[host];
    entry.dim = {0, int32_t(bytes), 1, 0};
    entry.buffer.host = static_cast<uint8_t *>(const_cast<void *>(host));
    entry.buffer.type = {halide_type_uint, 8, 1};
    entry.buffer.dimensions = 1;
    entry.buffer.dim = &entry.dim;
    check(halide_device_malloc(nullptr, &entry.buffer, halide_cuda_device_interface()),
          "allocating GPU memory");
    entry.buffer.set_host_dirty(true);
    return entry;
  }

  std::unordered_map<const void *, Entry> entries;
  std::vector<std::vector<uint8_t>> staged;
  halide_buffer_t probe = {};
  halide_dimension_t probeDim = {};
  uint8_t probeHost[16] = {};
};

/// ModelSpec::openCuda of a host-cuda plan.
inline std::unique_ptr<Device> openCudaDevice(std::string &why) {
  return CudaDevice::open(why);
}

/// The device a GPU plan's functions run on (set by the runtime).
inline CudaDevice &cudaDeviceOf(Workspace &ws) { return *static_cast<CudaDevice *>(ws.device); }

/// A kernel argument over host memory, pointing at its device copy for
/// the call.
class DeviceView {
public:
  DeviceView(CudaDevice &device, const void *data, halide_type_t type,
             std::initializer_list<int64_t> extents)
      : device(device), view(data, type, extents) {
    device.attach(*view.raw());
  }
  ~DeviceView() { device.detach(*view.raw()); }
  DeviceView(const DeviceView &) = delete;
  DeviceView &operator=(const DeviceView &) = delete;
  halide_buffer_t *raw() { return view.raw(); }

private:
  CudaDevice &device;
  HalideBufferND view;
};

} // namespace bnnrt

#endif // BNNRT_CUDADEVICE_H
