//===- Compare.cpp - Compare the results of two executors -----------------===//
#include "reference/Compare.h"

#include "bnnrt/Checkpoint.h"
#include "bnnrt/Reference.h"

#include <algorithm>
#include <cmath>

namespace bnnc::reference {

/// The format is bnnrt's (runtime/Checkpoint.cpp): read and verified there.
bool readCheckpointTensors(const std::string &path, CheckpointTensors &out,
                           std::string &error) {
  bnnrt::CheckpointContents contents;
  if (!bnnrt::readCheckpoint(path, contents, error))
    return false;
  out.model = contents.model;
  out.epochsDone = contents.state.epochsDone;
  out.steps = contents.state.steps;
  out.seed = contents.state.seed;
  out.params.clear();
  for (bnnrt::CheckpointContents::Param &param : contents.params)
    out.params.push_back({param.name, std::move(param.value),
                          std::move(param.firstMoment),
                          std::move(param.secondMoment)});
  return true;
}

TensorDiff compareTensors(const std::string &name, const std::vector<float> &a,
                          const std::vector<float> &b, const Tolerance &tolerance,
                          const std::vector<double> *allowance) {
  TensorDiff diff;
  diff.name = name;
  diff.elements = int64_t(b.size());
  if (a.size() != b.size()) {
    diff.problem = std::to_string(a.size()) + " elements against " +
                   std::to_string(b.size());
    return diff;
  }
  for (float y : b)
    if (!std::isnan(y))
      diff.scale = std::max(diff.scale, std::fabs(double(y)));
  double floor = tolerance.atol + tolerance.stol * diff.scale;
  for (size_t i = 0; i < a.size(); ++i) {
    double x = a[i], y = b[i];
    if (std::isnan(x) || std::isnan(y)) {
      if (!(std::isnan(x) && std::isnan(y))) {
        ++diff.failures;
        diff.maxAbs = diff.maxRel = INFINITY;
      }
      continue;
    }
    if (x == y) // equal, infinities included
      continue;
    double abs = std::fabs(x - y);
    double magnitude = std::max(std::fabs(x), std::fabs(y));
    diff.maxAbs = std::max(diff.maxAbs, abs);
    if (magnitude > 0.0)
      diff.maxRel = std::max(diff.maxRel, abs / magnitude);
    double limit = floor + tolerance.rtol * std::fabs(y);
    if (abs <= limit)
      continue;
    if (allowance && i < allowance->size() && abs <= limit + (*allowance)[i])
      ++diff.allowed;
    else
      ++diff.failures;
  }
  return diff;
}

std::vector<double> adamAllowance(const CheckpointTensors::Param &a,
                                  const CheckpointTensors::Param &b,
                                  int64_t step, double lr) {
  size_t size = b.value.size();
  std::vector<double> allowance(size, 0.0);
  if (a.firstMoment.size() != size || a.secondMoment.size() != size ||
      b.firstMoment.size() != size || b.secondMoment.size() != size || step < 1)
    return allowance;
  bnnrt::reference::AdamState adam;
  double correction1 = 1.0 - std::pow(double(adam.beta1), double(step));
  double correction2 = 1.0 - std::pow(double(adam.beta2), double(step));
  auto update = [&](float m, float v) {
    return (double(m) / correction1) /
           (std::sqrt(std::max(0.0, double(v) / correction2)) + adam.epsilon);
  };
  for (size_t i = 0; i < size; ++i)
    allowance[i] = lr * std::fabs(update(a.firstMoment[i], a.secondMoment[i]) -
                                  update(b.firstMoment[i], b.secondMoment[i]));
  return allowance;
}

} // namespace bnnc::reference
