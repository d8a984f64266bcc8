//===- Report.h - Tables and plots of a results folder --------------------===//
//
// `bnnc report DIR` writes, into DIR:
//   report.md     one row per setting (variant + grid values but the seed):
//                 final and best test error as mean ± standard deviation over
//                 seeds, epochs, wall time per run; the plots below it
//   plots/        curves-VARIANT.{png,svg}: test error per epoch, one curve
//                 per setting (mean over seeds) with the seeds' range as a
//                 band; final-vs-KEY.{png,svg}: final error against a grid
//                 key (lambda) per variant, ± one standard deviation
//   index.html    the table and the plots, for a browser
// and prints the table. Plots are drawn by gnuplot (Debian: gnuplot-nox).
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_EXPERIMENT_REPORT_H
#define BNNC_EXPERIMENT_REPORT_H

#include <string>

namespace bnnc::experiment {

/// Returns the exit status (0, or 1 after printing an error).
int writeReport(const std::string &resultsDir, bool plots);

} // namespace bnnc::experiment

#endif // BNNC_EXPERIMENT_REPORT_H
