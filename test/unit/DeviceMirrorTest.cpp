//===- DeviceMirrorTest.cpp - The GPU run's bookkeeping, on a fake device -===//
//
// DeviceMirror decides when data crosses between host and device. These
// tests give it a simulated device (its memory is host memory the mirror
// never sees directly) and a simulated kernel that acts as a Halide GPU
// pipeline does: inputs whose host copy is newer are copied to the device
// first, outputs are written on the device and marked device-dirty. What is
// checked is what the host finally reads: it must always be what a plain
// host computation gives.
//
//===----------------------------------------------------------------------===//

#include "bnnrt/DeviceMirror.h"

#include <gtest/gtest.h>

#include <map>

using namespace bnnrt;

namespace {

/// Device memory as host vectors, addressed by the buffer's `device` field.
class FakeDevice final : public DeviceBackend {
public:
  int allocate(halide_buffer_t &buffer) override {
    memory[++next].assign(buffer.size_in_bytes(), 0xEE); // garbage, as on a GPU
    buffer.device = next;
    return 0;
  }
  void release(halide_buffer_t &buffer) override {
    memory.erase(buffer.device);
    buffer.device = 0;
  }
  int copyToHost(halide_buffer_t &view) override {
    std::memcpy(view.host, bytes(view), view.size_in_bytes());
    view.set_device_dirty(false);
    ++toHost;
    return 0;
  }
  int copyToDevice(halide_buffer_t &view) override {
    std::memcpy(bytes(view), view.host, view.size_in_bytes());
    view.set_host_dirty(false);
    ++toDevice;
    return 0;
  }
  int copyOnDevice(halide_buffer_t &from, halide_buffer_t &to) override {
    std::memcpy(bytes(to), bytes(from), from.size_in_bytes());
    return 0;
  }
  int synchronize() override { return 0; }
  std::string lastError() override { return "fake"; }

  uint8_t *bytes(const halide_buffer_t &buffer) {
    auto found = memory.find(buffer.device);
    EXPECT_NE(found, memory.end()) << "a view without a device allocation";
    EXPECT_LE(buffer.size_in_bytes(), found->second.size());
    return found->second.data();
  }
  float *floats(const halide_buffer_t &buffer) { return reinterpret_cast<float *>(bytes(buffer)); }

  std::map<uint64_t, std::vector<uint8_t>> memory;
  uint64_t next = 0;
  int toHost = 0, toDevice = 0;
};

class DeviceMirrorTest : public ::testing::Test {
protected:
  DeviceMirrorTest() {
    auto backend = std::make_unique<FakeDevice>();
    device = backend.get();
    mirror = std::make_unique<DeviceMirror>(std::move(backend));
  }

  /// As a Halide GPU pipeline treats an input: current on the device.
  void readOnDevice(halide_buffer_t &view) {
    if (view.host_dirty())
      device->copyToDevice(view);
  }

  /// out[i] = a[i] * scale + b[i], on the device, through views.
  void axpyKernel(const float *a, float scale, const float *b, float *out, int64_t count) {
    DeviceView va(*mirror, a, halideFloat32(), {count});
    DeviceView vb(*mirror, b, halideFloat32(), {count});
    DeviceView vo(*mirror, out, halideFloat32(), {count});
    readOnDevice(*va.raw());
    readOnDevice(*vb.raw());
    readOnDevice(*vo.raw()); // Halide also brings outputs up to date
    const float *da = device->floats(*va.raw()), *db = device->floats(*vb.raw());
    float *dout = device->floats(*vo.raw());
    for (int64_t i = 0; i < count; ++i)
      dout[i] = da[i] * scale + db[i];
    vo.raw()->set_device_dirty(true);
  }

  FakeDevice *device = nullptr;
  std::unique_ptr<DeviceMirror> mirror;
};

TEST_F(DeviceMirrorTest, HostDataReachesTheDeviceAndResultsComeBack) {
  std::vector<float> a = {1, 2, 3}, b = {10, 20, 30}, out(3, 0);
  axpyKernel(a.data(), 2, b.data(), out.data(), 3);
  EXPECT_EQ(out, std::vector<float>({0, 0, 0})) << "the host copy is not read back unasked";
  mirror->hostRead(out.data(), 3);
  EXPECT_EQ(out, std::vector<float>({12, 24, 36}));
}

TEST_F(DeviceMirrorTest, ParamsStayOnTheDeviceAcrossSteps) {
  std::vector<float> weight = {1, 1}, step = {1, 2};
  for (int i = 0; i < 3; ++i) // weight += step, in place, three times
    axpyKernel(weight.data(), 1, step.data(), weight.data(), 2);
  // At the first call only: step once, weight once per view of it (as
  // Halide copies each buffer argument that is host-dirty).
  EXPECT_EQ(device->toDevice, 3);
  EXPECT_EQ(weight, std::vector<float>({1, 1}));
  mirror->syncToHost();
  EXPECT_EQ(weight, std::vector<float>({4, 7}));
}

TEST_F(DeviceMirrorTest, InPlaceUpdateKeepsTheDeviceWriteWhicheverViewDetachesLast) {
  // Adam binds a param as input and output: two views of one buffer. The
  // output view detaches first (declared last), then the clean input view.
  std::vector<float> param = {5, 6}, zero = {0, 0};
  {
    DeviceView input(*mirror, param.data(), halideFloat32(), {2});
    DeviceView output(*mirror, param.data(), halideFloat32(), {2});
    readOnDevice(*input.raw());
    readOnDevice(*output.raw());
    device->floats(*output.raw())[0] = 50;
    output.raw()->set_device_dirty(true);
  }
  axpyKernel(zero.data(), 0, zero.data(), zero.data(), 2); // unrelated work
  mirror->syncToHost();
  EXPECT_EQ(param, std::vector<float>({50, 6}));
}

TEST_F(DeviceMirrorTest, StagedInputIsFreshEveryStep) {
  std::vector<float> batch = {1, 2}, out(2), zero = {0, 0};
  for (float value : {1.0f, 7.0f}) {
    batch = {value, value + 1};
    const float *staged = mirror->input(0, batch.data(), 2);
    EXPECT_NE(staged, batch.data()) << "the mirror stages the batch in its own buffer";
    axpyKernel(staged, 1, zero.data(), out.data(), 2);
    mirror->hostRead(out.data(), 2);
    EXPECT_EQ(out, batch);
  }
}

TEST_F(DeviceMirrorTest, CopyOnTheDeviceMovesRunningStatistics) {
  std::vector<float> stats = {0, 0}, scratch(2), ones = {1, 1};
  axpyKernel(ones.data(), 3, ones.data(), scratch.data(), 2); // the kernel writes 4s apart
  int before = device->toHost;
  mirror->copy(scratch.data(), stats.data(), 2);
  EXPECT_EQ(device->toHost, before) << "a state copy stays on the device";
  axpyKernel(stats.data(), 1, ones.data(), scratch.data(), 2); // reads the new stats
  mirror->syncToHost();
  EXPECT_EQ(stats, std::vector<float>({4, 4}));
  EXPECT_EQ(scratch, std::vector<float>({5, 5}));
}

TEST_F(DeviceMirrorTest, HostWritesAfterForgetAllReachTheDevice) {
  std::vector<float> param = {1, 2}, zero = {0, 0}, out(2);
  axpyKernel(param.data(), 1, zero.data(), out.data(), 2);
  param = {8, 9}; // a checkpoint was loaded into the params
  mirror->forgetAll();
  EXPECT_EQ(mirror->mirroredBuffers(), 0u);
  axpyKernel(param.data(), 1, zero.data(), out.data(), 2);
  mirror->hostRead(out.data(), 2);
  EXPECT_EQ(out, std::vector<float>({8, 9}));
}

TEST_F(DeviceMirrorTest, AGrownWorkspaceSlotGetsANewAllocation) {
  Workspace ws;
  ws.device = mirror.get();
  std::vector<float> small = {1, 2}, zero(4, 0);
  float *slot = ws.get(0, 2);
  axpyKernel(small.data(), 1, zero.data(), slot, 2);
  size_t held = mirror->mirroredBuffers();
  std::vector<float> large = {1, 2, 3, 4};
  slot = ws.get(0, 4); // a larger batch: the slot moves
  EXPECT_LT(mirror->mirroredBuffers(), held) << "the old slot's allocation is given back";
  axpyKernel(large.data(), 1, zero.data(), slot, 4);
  mirror->hostRead(slot, 4);
  EXPECT_EQ(std::vector<float>(slot, slot + 4), large);
}

TEST_F(DeviceMirrorTest, ALargerViewOfTheSameMemoryKeepsTheDevicesData) {
  std::vector<float> buffer(4, 0), ones = {1, 1};
  axpyKernel(ones.data(), 2, ones.data(), buffer.data(), 2); // device: 3 3 ? ?
  buffer[2] = 7;                                             // host writes the rest
  buffer[3] = 8;
  DeviceView whole(*mirror, buffer.data(), halideFloat32(), {4});
  EXPECT_EQ(buffer, std::vector<float>({3, 3, 7, 8})) << "the device's part came back first";
  EXPECT_TRUE(whole.raw()->host_dirty());
}

} // namespace
