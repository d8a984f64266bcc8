//===- Plots.h - gnuplot figures of an experiment's results ---------------===//
#ifndef BNNC_EXPERIMENT_PLOTS_H
#define BNNC_EXPERIMENT_PLOTS_H

#include "experiment/Summary.h"

#include <string>
#include <vector>

namespace bnnc::experiment {

/// A figure written as DIR/plots/NAME.png and NAME.svg.
struct Plot {
  std::string name, title;
};

/// A grid key as axes and tables name it: "λ" for lambda.
std::string keyLabel(const std::string &key);

/// Writes each figure's data (.dat) and gnuplot script (.gp) under
/// DIR/plots and runs gnuplot on them: the test error per epoch of every
/// variant, and the final error against each grid key with several values.
/// Prints an error and returns false if gnuplot is missing or fails.
bool drawPlots(const ResultsFolder &results, const std::vector<SettingSummary> &rows,
               std::vector<Plot> &plots);

} // namespace bnnc::experiment

#endif // BNNC_EXPERIMENT_PLOTS_H
