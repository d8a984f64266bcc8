//===- CudaSchedules.cpp - GPU schedules of every kernel family -----------===//
//
// The first CUDA schedules: one rule for every family, on the stages the
// algorithms name. Every output and every stage that a kernel computes once
// per call (the ones the host schedules put at root, and the per-channel
// sums) becomes a grid of thread blocks over its two innermost axes (one
// for vectors), its outer axes fused into the grid's third dimension;
// reductions whose consumer is per element (the products'
// sums, the popcounts) run inside each thread. Block shapes are knobs, as
// on the host. Families will get their own schedules (shared-memory tiles
// of packed words, warp reductions) as they are measured on a GPU.
//
//===----------------------------------------------------------------------===//

#include "lowering/schedules/Schedules.h"

using namespace Halide;

namespace bnnc::schedules {
namespace {

/// Stages computed once per call rather than inside their consumer.
bool computedOncePerCall(const std::string &name) {
  for (const char *stage : {"weights", "by_unit", "xnor_product", "batch_mean",
                            "batch_inv_std", "threshold", "row_max", "log_sum",
                            "winner", "scale", "scale_grad", "by_filter",
                            "filter_popcounts", "padding_correction"})
    if (name == stage)
      return true;
  return name.rfind("sum_", 0) == 0; // per-channel sums
}

struct BlockShape {
  int x, y, vector;
};

/// A grid of thread blocks over the innermost axes of one definition; the
/// axes outside them (channels, batch) are fused into the grid's third
/// dimension, so that one launch covers the whole output (left as host
/// loops, they would launch a kernel per channel and image).
void gpuTile(Stage stage, const std::vector<Var> &axes, const BlockShape &block) {
  const TailStrategy guard = TailStrategy::GuardWithIf;
  if (axes.size() >= 2) {
    Var xo("xo"), yo("yo"), xi("xi"), yi("yi");
    stage.gpu_tile(axes[0], axes[1], xo, yo, xi, yi, block.x, block.y, guard);
    if (axes.size() >= 3) {
      Var outer = axes[2];
      for (size_t a = 3; a < axes.size(); ++a) {
        Var fused("fused_" + std::to_string(a));
        stage.fuse(outer, axes[a], fused);
        outer = fused;
      }
      stage.gpu_blocks(outer);
    }
  } else if (axes.size() == 1) {
    Var xo("xo"), xi("xi");
    stage.gpu_tile(axes[0], xo, xi, block.vector, guard);
  }
}

/// Every definition of `f` (its pure one and its updates) on the GPU.
void onGpu(Func f, const BlockShape &block) {
  std::vector<Var> axes = f.args();
  gpuTile(f, axes, block);
  for (int u = 0; u < f.num_update_definitions(); ++u)
    gpuTile(f.update(u), axes, block);
}

} // namespace

void scheduleForCuda(Kernel &k, ScheduleKnobs &knobs) {
  BlockShape block{
      knobs.integer("block_x", 16, 1, 1024, "threads of a block along the innermost axis", true),
      knobs.integer("block_y", 16, 1, 1024, "threads of a block along the next axis", true),
      knobs.integer("block_1d", 256, 32, 1024, "threads of a block over a vector", true)};
  for (Func output : k.outputs())
    onGpu(output, block);
  for (const std::string &name : k.stageNames()) {
    Func stage = k.func(name);
    if (!computedOncePerCall(name) || k.isOutput(name))
      continue;
    stage.compute_root();
    onGpu(stage, block);
  }
}

} // namespace bnnc::schedules
