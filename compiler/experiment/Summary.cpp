//===- Summary.cpp - Points grouped into settings, statistics over seeds --===//

#include "experiment/Summary.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <cmath>
#include <map>

using namespace bnnc::experiment;

MeanStd bnnc::experiment::meanStd(const std::vector<double> &values) {
  MeanStd result;
  result.count = values.size();
  if (values.empty())
    return result;
  for (double value : values)
    result.mean += value / double(values.size());
  if (values.size() < 2)
    return result;
  double squares = 0;
  for (double value : values)
    squares += (value - result.mean) * (value - result.mean);
  result.std = std::sqrt(squares / double(values.size() - 1));
  return result;
}

static std::vector<std::pair<std::string, double>>
withoutSeed(const std::vector<std::pair<std::string, double>> &values) {
  std::vector<std::pair<std::string, double>> result;
  for (const auto &entry : values)
    if (entry.first != "seed")
      result.push_back(entry);
  return result;
}

/// Mean, range and spread of the test error at every epoch any seed reached.
static std::vector<CurvePoint> curveOf(const std::vector<const PointResult *> &points) {
  std::map<int64_t, std::vector<double>> byEpoch;
  for (const PointResult *point : points)
    for (const EpochRecord &record : point->epochs)
      byEpoch[record.epoch].push_back(record.testError);
  std::vector<CurvePoint> curve;
  for (const auto &[epoch, errors] : byEpoch)
    curve.push_back({epoch, meanStd(errors), *std::min_element(errors.begin(), errors.end()),
                     *std::max_element(errors.begin(), errors.end())});
  return curve;
}

static SettingSummary summarizeSetting(const ResultsFolder &results,
                                       const std::vector<const PointResult *> &points) {
  SettingSummary row;
  row.variant = points.front()->variant;
  row.label = row.variant;
  for (const VariantInfo &variant : results.variants)
    if (variant.name == row.variant)
      row.label = variant.label;
  row.values = withoutSeed(points.front()->values);
  row.seeds = points.size();
  row.epochs = results.epochs;
  std::vector<double> finals, bests, walls;
  for (const PointResult *point : points) {
    int64_t reached = point->epochs.empty() ? 0 : point->epochs.back().epoch;
    row.mostEpochs = std::max(row.mostEpochs, reached);
    row.failed += point->status == "failed";
    if (point->status != "done" || reached < results.epochs)
      continue;
    finals.push_back(point->epochs.back().testError);
    double best = point->epochs.front().testError;
    for (const EpochRecord &record : point->epochs)
      best = std::min(best, record.testError);
    bests.push_back(best);
    walls.push_back(point->wallSeconds);
  }
  row.finished = finals.size();
  row.finalError = meanStd(finals);
  row.bestError = meanStd(bests);
  row.wallSeconds = meanStd(walls);
  row.curve = curveOf(points);
  return row;
}

std::vector<SettingSummary> bnnc::experiment::summarize(const ResultsFolder &results) {
  // Settings in first-seen order; a setting's seeds are its points.
  std::vector<std::vector<const PointResult *>> groups;
  std::map<std::pair<std::string, std::vector<std::pair<std::string, double>>>, size_t> index;
  for (const PointResult &point : results.points) {
    auto key = std::make_pair(point.variant, withoutSeed(point.values));
    auto [it, inserted] = index.emplace(key, groups.size());
    if (inserted)
      groups.emplace_back();
    groups[it->second].push_back(&point);
  }
  std::vector<SettingSummary> rows;
  for (const auto &group : groups)
    rows.push_back(summarizeSetting(results, group));
  return rows;
}
