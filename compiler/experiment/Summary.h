//===- Summary.h - Points grouped into settings, statistics over seeds ----===//
#ifndef BNNC_EXPERIMENT_SUMMARY_H
#define BNNC_EXPERIMENT_SUMMARY_H

#include "experiment/Results.h"

#include <string>
#include <utility>
#include <vector>

namespace bnnc::experiment {

/// Mean and sample standard deviation (n - 1) of some values.
struct MeanStd {
  size_t count = 0;
  double mean = 0, std = 0;
};
MeanStd meanStd(const std::vector<double> &values);

/// Test error at one epoch over the seeds that reached it.
struct CurvePoint {
  int64_t epoch = 0;
  MeanStd error;
  double min = 0, max = 0;
};

/// One row of the tables: a variant and grid values, over seeds.
struct SettingSummary {
  std::string variant, label; // the variant's name and label
  std::vector<std::pair<std::string, double>> values; // without the seed
  size_t seeds = 0;           // points of the setting
  size_t finished = 0;        // of them, done with every epoch
  size_t failed = 0;          // whose last attempt failed
  MeanStd finalError, bestError; // over the finished points
  int64_t epochs = 0;         // per run (the experiment's)
  int64_t mostEpochs = 0;     // epochs reached by the most advanced point
  MeanStd wallSeconds;        // per finished run, every attempt counted
  std::vector<CurvePoint> curve;
};

/// Settings in the order of the manifest: variants, then grid order.
std::vector<SettingSummary> summarize(const ResultsFolder &results);

} // namespace bnnc::experiment

#endif // BNNC_EXPERIMENT_SUMMARY_H
