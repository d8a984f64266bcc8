//===- Model.h - What bnnc generates for a model, and what runs it --------===//
//
// `bnnc compile` turns a model's training step and evaluation function into
// C++ calling bnnrt kernels, plus a ModelSpec describing its params. That
// file's main() hands the spec to runCli, which owns everything else: data,
// initialisation, the training loop, checkpoints, metrics and evaluation.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_MODEL_H
#define BNNRT_MODEL_H

// The plan calls these: timers around its kernel calls, finite checks
// after, the collectives of its bnn.allreduce ops.
#include "bnnrt/Collectives.h"
#include "bnnrt/FiniteCheck.h"
#include "bnnrt/Profile.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bnnrt {

enum class InitKind { Constant, Uniform, Normal, GlorotUniform, HeNormal };

/// offset + scale · value of `hyperParam` (empty: just offset).
struct InitArg {
  double offset = 0.0, scale = 0.0;
  std::string hyperParam;
};

struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
  InitKind init = InitKind::Constant;
  std::vector<InitArg> args;
  bool state = false; // running statistics: not trained
  bool clip = false;  // latent binary weight: clipped to [-1, 1]
  bool signsOnly = false; // its layers read only sign(w): an export keeps 1 bit
  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

struct HyperParamSpec {
  std::string name;
  double defaultValue;
};

/// Param values and Adam moments, in ParamSpec order.
class Params {
public:
  explicit Params(const std::vector<ParamSpec> &specs);
  float *value(size_t index) { return values[index].data(); }
  const std::vector<float> &values_of(size_t index) const { return values[index]; }
  /// One Adam step on param `index` with its gradient.
  void adam(size_t index, const float *grad, float lr, int64_t step);

  /// Draws every param from its init policy. Each param has its own random
  /// stream derived from `seed` and its index, so the hyper-parameters (λ)
  /// change only the params whose policy uses them, and nothing else.
  void initialize(const std::map<std::string, double> &hyperParams,
                  uint64_t seed);

  std::vector<std::vector<float>> values, firstMoments, secondMoments;
  const std::vector<ParamSpec> &specs;
};

/// A GPU that mirrors the host memory of params, Adam moments and the
/// workspace (bnnrt/CudaDevice.h, compiled into binaries built with
/// --target=host-cuda). The plan's GPU functions keep the device copies
/// current; the host copies are brought up to date only where the host
/// reads them, so data stays on the GPU across steps.
class Device {
public:
  virtual ~Device() = default;
  /// Makes every host copy current (before checkpoints, exports, param
  /// checks: whatever reads Params on the host).
  virtual void syncToHost() = 0;
  /// Forgets every device copy: the host wrote Params (init, a loaded
  /// checkpoint), or the memory they mirrored is about to go away.
  virtual void forgetAll() = 0;
  /// Forgets the device copy of one host buffer that is freed or moved.
  virtual void released(const void *host) = 0;
};

/// Scratch buffers of one step, reused across steps.
class Workspace {
public:
  Workspace() = default;
  Workspace(const Workspace &) = delete;
  Workspace &operator=(const Workspace &) = delete;
  ~Workspace() {
    if (device)
      device->forgetAll();
  }

  float *get(size_t id, int64_t size) { return grow(buffers, id, size); }

  /// A buffer of packed sign words (64 signs each).
  uint64_t *getWords(size_t id, int64_t size) { return grow(wordBuffers, id, size); }

  /// The GPU mirroring these buffers, if the step functions run on one.
  Device *device = nullptr;

private:
  template <typename T>
  T *grow(std::vector<std::vector<T>> &all, size_t id, int64_t size) {
    if (all.size() <= id)
      all.resize(id + 1);
    std::vector<T> &buffer = all[id];
    if (int64_t(buffer.size()) < size) {
      // The value living here is defined anew (slots are taken at a
      // definition), so an old device copy has nothing to keep.
      if (device && !buffer.empty())
        device->released(buffer.data());
      buffer.resize(size_t(size));
    }
    return buffer.data();
  }

  std::vector<std::vector<float>> buffers;
  std::vector<std::vector<uint64_t>> wordBuffers;
};

struct StepInput {
  const float *x;
  const int32_t *labels;
  int64_t batch;
  float lr;
  int64_t step; // 1-based Adam step
  /// [train] backward = "bf16": the convolution gradients run their bf16
  /// kernels (products in bfloat16, sums in f32).
  bool bf16Backward = false;
  /// [train] backward = "int8": the kernels with an int8 variant (the
  /// weight gradients of binary convolutions over packed signs) run it (dy
  /// quantised, `vpdpbusd`); the other convolution gradients their bf16
  /// ones (bf16Backward is set too).
  bool int8Backward = false;
  /// After every kernel call, hand its float results to noteNonFinite (a
  /// scan of each, on the GPU a copy to the host first): set only to replay
  /// a step whose loss became NaN or infinite, to name the op it began in.
  bool checkFinite = false;
  /// [eval] The params, and this workspace's values computed from them
  /// alone (packed binary weights), are those of the previous evalStep call
  /// on this workspace: the plan skips recomputing those values. Set for
  /// every batch of an evaluation after the first.
  bool paramsUnchanged = false;
  /// [distributed] sync_batchnorm: the plan's batchnorm sums (the
  /// all-reduces that bnn-sync-batchnorm made) are reduced over the
  /// processes, so that batch statistics are the global batch's.
  bool syncBatchnorm = false;
};

struct StepOutput {
  float loss = 0.0f;
  const float *logits = nullptr; // batch × classes, in the workspace
};

using StepFunction = void (*)(Params &, Workspace &, const StepInput &,
                              StepOutput &);

struct ModelSpec {
  std::string name;
  std::string source; // the model file it was compiled from
  std::vector<int64_t> inputShape; // without the batch axis
  int64_t classes = 0;
  std::vector<ParamSpec> params;
  std::vector<HyperParamSpec> hyperParams;
  StepFunction trainStep = nullptr;
  StepFunction evalStep = nullptr;
  /// Compiled with --target=host-cuda: the same functions with GPU kernels,
  /// and the device they need (null where the binary has no GPU kernels).
  /// openCuda returns null with a one-line reason when there is no GPU.
  StepFunction cudaTrainStep = nullptr;
  StepFunction cudaEvalStep = nullptr;
  std::unique_ptr<Device> (*openCuda)(std::string &why) = nullptr;
  /// Compiled with --mpi: opens MPI (a data-parallel run under mpirun, or
  /// a run of one process without it); null: always one process.
  std::unique_ptr<Collectives> (*openMpi)() = nullptr;
  /// The plan's kernel calls, indexed by their KernelTimer's site; empty in
  /// plans that do not time their kernels.
  std::vector<KernelSite> kernelSites;
};

/// Checks that each param's init policy can be drawn from with these
/// hyper-parameter values (e.g. `uniform(-lambda, lambda)` with lambda < 0
/// is a reversed range); false with "error: init of <param>: ..." if not.
bool checkInitArgs(const ModelSpec &model,
                   const std::map<std::string, double> &hyperParams,
                   std::string &error);

/// The compiled binary's command line: train, eval, init, step, --help.
int runCli(int argc, char **argv, const ModelSpec &spec);

} // namespace bnnrt

#endif // BNNRT_MODEL_H
