//===- DeviceMirror.h - Host buffers mirrored in a device's memory --------===//
//
// Header-only. The bookkeeping of a GPU run (bnnrt/CudaDevice.h gives it
// Halide's CUDA runtime as its backend; the unit tests a simulated device):
// every host buffer a GPU kernel touches (a param, an Adam moment, a
// workspace slot, the staged batch) gets one device allocation, found by
// its host address, and Halide's dirty bits on that allocation say which
// copy is newer. A kernel call sees a view of the allocation with the shape
// it wants: Halide copies to the device only what the host wrote since (the
// batch, params after a load), and the host copy is refreshed only where
// the host reads: the loss and logits each step, everything before a
// checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_DEVICEMIRROR_H
#define BNNRT_DEVICEMIRROR_H

#include "bnnrt/HalideBuffer.h"
#include "bnnrt/Model.h"
#include "bnnrt/Profile.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace bnnrt {

/// The device operations a mirror needs, on halide_buffer_t as Halide's
/// runtime sees them (each returns 0 or an error status).
class DeviceBackend {
public:
  virtual ~DeviceBackend() = default;
  /// A device allocation for `buffer` (its `device` field).
  virtual int allocate(halide_buffer_t &buffer) = 0;
  virtual void release(halide_buffer_t &buffer) = 0;
  /// The copies Halide makes itself when a kernel needs them; the mirror
  /// asks for them where the host reads or writes outside a kernel.
  /// Each clears the dirty bit it acts on.
  virtual int copyToHost(halide_buffer_t &view) = 0;
  virtual int copyToDevice(halide_buffer_t &view) = 0;
  /// Device to device, `from`'s elements into `to` (same shape).
  virtual int copyOnDevice(halide_buffer_t &from, halide_buffer_t &to) = 0;
  /// Waits for the work queued on the device.
  virtual int synchronize() = 0;
  /// What went wrong in the last call that failed, in one line.
  virtual std::string lastError() = 0;
};

class DeviceMirror final : public Device {
public:
  explicit DeviceMirror(std::unique_ptr<DeviceBackend> backend) : backend(std::move(backend)) {}
  ~DeviceMirror() override { forgetAll(); }
  DeviceMirror(const DeviceMirror &) = delete;
  DeviceMirror &operator=(const DeviceMirror &) = delete;

  /// A copy of `count` items of the step's input (images or labels) in a
  /// buffer of the mirror's own, marked as newer on the host.
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
    halide_buffer_t &mirror = entryFor(buffer.data(), bytes).buffer;
    mirror.set_host_dirty(true);
    mirror.set_device_dirty(false);
    return reinterpret_cast<const T *>(buffer.data());
  }

  /// Points `view` (over host memory) at the device copy of that memory.
  void attach(halide_buffer_t &view) {
    const halide_buffer_t &mirror = entryFor(view.host, view.size_in_bytes()).buffer;
    view.device = mirror.device;
    view.device_interface = mirror.device_interface;
    view.flags = mirror.flags;
  }

  /// Takes back what a kernel did to `view`'s copies. Two views of one
  /// buffer can be in one call (Adam updates its param and moments in
  /// place), so a view that is clean after the call never undoes another's
  /// device write; it only records that the host's data reached the device.
  void detach(halide_buffer_t &view) {
    auto found = entries.find(view.host);
    if (found != entries.end()) {
      halide_buffer_t &mirror = found->second.buffer;
      if (view.device_dirty()) {
        mirror.set_device_dirty(true);
        mirror.set_host_dirty(false);
      } else if (view.host_dirty()) {
        mirror.set_host_dirty(true);
        mirror.set_device_dirty(false);
      } else {
        mirror.set_host_dirty(false);
      }
    }
    view.device = 0;
    view.device_interface = nullptr;
  }

  /// The host copy of `count` floats at `host`, current.
  const float *hostRead(const float *host, int64_t count) {
    HalideBufferND view(host, halideFloat32(), {count});
    attach(*view.raw());
    if (view.raw()->device_dirty())
      check(backend->copyToHost(*view.raw()), "copying to the host");
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
    if (source.raw()->host_dirty())
      check(backend->copyToDevice(*source.raw()), "copying to the device");
    target.raw()->set_host_dirty(false); // every value is overwritten
    check(backend->copyOnDevice(*source.raw(), *target.raw()), "copying on the device");
    target.raw()->set_device_dirty(true);
    detach(*source.raw());
    detach(*target.raw());
  }

  /// A GPU kernel's status: non-zero is the device failing (out of memory,
  /// a driver error) far more often than a bad argument, so the error says
  /// what Halide's runtime reported. The last checkpoint is kept.
  void checkKernel(int status, const char *kernel) {
    if (status == 0)
      return;
    std::fprintf(stderr, "error: GPU kernel %s failed (%d): %s\n", kernel, status,
                 backend->lastError().c_str());
    std::exit(1);
  }

  /// With --profile, waits for the kernel just launched, so that its time
  /// is its own (kernels otherwise run while the host goes on).
  void afterKernel() {
    if (detail::profilingOn)
      check(backend->synchronize(), "waiting for the device");
  }

  void syncToHost() override {
    for (auto &[host, entry] : entries)
      if (entry.buffer.device_dirty())
        check(backend->copyToHost(entry.buffer), "copying to the host");
  }

  void forgetAll() override {
    for (auto &[host, entry] : entries)
      backend->release(entry.buffer);
    entries.clear();
  }

  void released(const void *host) override {
    auto found = entries.find(host);
    if (found == entries.end())
      return;
    backend->release(found->second.buffer);
    entries.erase(found);
  }

  /// Device buffers held (for tests and diagnostics).
  size_t mirroredBuffers() const { return entries.size(); }

private:
  /// One device allocation mirroring `bytes` of host memory.
  struct Entry {
    halide_buffer_t buffer = {};
    halide_dimension_t dim = {};
  };

  /// A failed device call: out of device memory, or the driver failed. The
  /// step cannot go on; the last checkpoint is kept.
  void check(int status, const char *what) {
    if (status == 0)
      return;
    std::fprintf(stderr, "error: GPU: %s failed: %s\n", what, backend->lastError().c_str());
    std::exit(1);
  }

  /// The entry of `host`, made (host copy newer) or grown as needed.
  Entry &entryFor(const void *host, size_t bytes) {
    auto found = entries.find(host);
    if (found != entries.end() && size_t(found->second.dim.extent) >= bytes)
      return found->second;
    if (found != entries.end()) {
      // A larger view of the same memory: keep what the device holds.
      if (found->second.buffer.device_dirty())
        check(backend->copyToHost(found->second.buffer), "copying to the host");
      backend->release(found->second.buffer);
      entries.erase(found);
    }
    Entry &entry = entries[host];
    entry.dim = {0, int32_t(bytes), 1, 0};
    entry.buffer.host = static_cast<uint8_t *>(const_cast<void *>(host));
    entry.buffer.type = {halide_type_uint, 8, 1};
    entry.buffer.dimensions = 1;
    entry.buffer.dim = &entry.dim;
    check(backend->allocate(entry.buffer), "allocating device memory");
    entry.buffer.set_host_dirty(true);
    return entry;
  }

  std::unique_ptr<DeviceBackend> backend;
  std::unordered_map<const void *, Entry> entries;
  std::vector<std::vector<uint8_t>> staged;
};

/// The device a GPU plan's functions run on (set by the runtime).
inline DeviceMirror &deviceOf(Workspace &ws) { return *static_cast<DeviceMirror *>(ws.device); }

/// A kernel argument over host memory, pointing at its device copy for
/// the call.
class DeviceView {
public:
  DeviceView(DeviceMirror &device, const void *data, halide_type_t type,
             std::initializer_list<int64_t> extents)
      : device(device), view(data, type, extents) {
    device.attach(*view.raw());
  }
  ~DeviceView() { device.detach(*view.raw()); }
  DeviceView(const DeviceView &) = delete;
  DeviceView &operator=(const DeviceView &) = delete;
  halide_buffer_t *raw() { return view.raw(); }

private:
  DeviceMirror &device;
  HalideBufferND view;
};

} // namespace bnnrt

#endif // BNNRT_DEVICEMIRROR_H
