//===- Compare.h - Compare the results of two executors -------------------===//
//
// What `bnn-reference compare` reads and how it judges: the step outputs
// (bnnrt/StepIO.h) and checkpoints of two runs of the same step, compared
// tensor by tensor, element by element.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_REFERENCE_COMPARE_H
#define BNNC_REFERENCE_COMPARE_H

#include <cstdint>
#include <string>
#include <vector>

namespace bnnc::reference {

/// Every tensor of a bnnrt checkpoint, read without knowing the model (the
/// file names its params and sizes).
struct CheckpointTensors {
  struct Param {
    std::string name;
    std::vector<float> value, firstMoment, secondMoment;
  };
  std::string model;
  int64_t epochsDone = 0, steps = 0;
  uint64_t seed = 0;
  std::vector<Param> params;
};

/// Reads a checkpoint written by bnnrt::saveCheckpoint.
bool readCheckpointTensors(const std::string &path, CheckpointTensors &out,
                           std::string &error);

/// An element passes when |a - b| <= atol + rtol·|b| + stol·scale, where
/// scale is the largest |b| of the tensor (b: the second run, the reference
/// when it is given second). stol makes a tolerance for elements much
/// smaller than their tensor's largest, whose error is that of the sums
/// they come from. Defaults: see bnn-reference.cpp.
struct Tolerance {
  double rtol = 0.0, atol = 0.0, stol = 0.0;
};

struct TensorDiff {
  std::string name;
  int64_t elements = 0;
  double maxAbs = 0.0; // max |a - b|
  double maxRel = 0.0; // max |a - b| / max(|a|, |b|) (0 where both are 0)
  double scale = 0.0;  // max |b|
  int64_t failures = 0; // elements over tolerance (NaN counts)
  /// Elements over the plain tolerance that the extra allowance admitted.
  int64_t allowed = 0;
  std::string problem;  // a structural mismatch (sizes), failing the tensor
  bool ok() const { return failures == 0 && problem.empty(); }
};

/// Compares `a` with `b`; `allowance`, if given, widens the tolerance of
/// each element by its entry.
TensorDiff compareTensors(const std::string &name, const std::vector<float> &a,
                          const std::vector<float> &b, const Tolerance &tolerance,
                          const std::vector<double> *allowance = nullptr);

/// How far apart two runs may leave a param after the same Adam step when
/// their moments differ: lr·|u_a - u_b| per element, u = m̂ / (sqrt(v̂) + ε)
/// computed from each run's moments after the step (bias correction for
/// step count `step`; β1, β2, ε as bnnrt's reference::AdamState). Clipping
/// to [-1, 1] cannot widen a difference.
///
/// Adam divides by sqrt(v̂) ≈ |gradient|: a gradient that is float noise
/// around 0 (a sum over the batch that cancels) moves its param by up to lr
/// in a direction the noise picks, and the two runs' noise differs. The
/// moments themselves are compared with the plain tolerance; this
/// allowance asks only that each run's param moved as its own moments say.
std::vector<double> adamAllowance(const CheckpointTensors::Param &a,
                                  const CheckpointTensors::Param &b,
                                  int64_t step, double lr);

} // namespace bnnc::reference

#endif // BNNC_REFERENCE_COMPARE_H
