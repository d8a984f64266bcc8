//===- Report.cpp - Tables and plots of a results folder ------------------===//

#include "experiment/Report.h"

#include "experiment/Plots.h"
#include "experiment/Summary.h"

#include "bnnrt/Files.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace bnnc::experiment;

namespace {

std::string format(const char *pattern, double value) {
  return llvm::formatv(pattern, value).str();
}

/// "10.83 ± 0.12" over several seeds, "10.83" for one, "—" for none.
std::string formatMeanStd(const MeanStd &value) {
  if (value.count == 0)
    return "—";
  std::string text = format("{0:F2}", value.mean);
  return value.count > 1 ? text + " ± " + format("{0:F2}", value.std) : text;
}

std::string formatSeconds(const MeanStd &seconds) {
  return seconds.count == 0 ? "—" : format("{0:F0} s", seconds.mean);
}

/// The grid keys of any row (not the seed), in first-seen order.
std::vector<std::string> gridKeys(const std::vector<SettingSummary> &rows) {
  std::vector<std::string> keys;
  for (const SettingSummary &row : rows)
    for (const auto &entry : row.values)
      if (!llvm::is_contained(keys, entry.first))
        keys.push_back(entry.first);
  return keys;
}

std::string valueOf(const SettingSummary &row, const std::string &key) {
  for (const auto &[name, value] : row.values)
    if (name == key)
      return formatValue(value);
  return "—";
}

/// "3", or "2/3 (1 failed)" while seeds are missing.
std::string seedsCell(const SettingSummary &row) {
  std::string text = row.finished == row.seeds
                         ? std::to_string(row.seeds)
                         : std::to_string(row.finished) + "/" + std::to_string(row.seeds);
  return row.failed ? text + " (" + std::to_string(row.failed) + " failed)" : text;
}

/// The epochs of a finished run; "4/10" while the first one is running.
std::string epochsCell(const SettingSummary &row) {
  if (row.finished)
    return std::to_string(row.epochs);
  return row.mostEpochs ? std::to_string(row.mostEpochs) + "/" + std::to_string(row.epochs)
                        : "—";
}

using Table = std::vector<std::vector<std::string>>;

/// The rows as cells, the header first.
Table tableOf(const std::vector<SettingSummary> &rows) {
  std::vector<std::string> keys = gridKeys(rows);
  std::vector<std::string> header = {"model"};
  for (const std::string &key : keys)
    header.push_back(keyLabel(key));
  for (const char *title : {"seeds", "final test error %", "best test error %",
                            "epochs", "wall time / run"})
    header.push_back(title);
  Table table = {header};
  for (const SettingSummary &row : rows) {
    std::vector<std::string> cells = {row.label};
    for (const std::string &key : keys)
      cells.push_back(valueOf(row, key));
    for (std::string cell : {seedsCell(row), formatMeanStd(row.finalError),
                             formatMeanStd(row.bestError), epochsCell(row),
                             formatSeconds(row.wallSeconds)})
      cells.push_back(cell);
    table.push_back(cells);
  }
  return table;
}

std::string markdownTable(const Table &table) {
  std::string text;
  for (size_t r = 0; r < table.size(); ++r) {
    text += "| " + llvm::join(table[r], " | ") + " |\n";
    if (r == 0)
      text += "|" + llvm::join(std::vector<std::string>(table[0].size(), "---"), "|") + "|\n";
  }
  return text;
}

/// Text as HTML shows it: labels and folder names may hold <, & or ".
std::string html(llvm::StringRef text) {
  std::string escaped;
  llvm::raw_string_ostream os(escaped);
  llvm::printHTMLEscaped(text, os);
  return os.str();
}

std::string htmlTable(const Table &table) {
  std::string text = "<table>\n";
  for (size_t r = 0; r < table.size(); ++r) {
    const char *cell = r == 0 ? "th" : "td";
    text += "<tr>";
    for (const std::string &value : table[r])
      text += std::string("<") + cell + ">" + html(value) + "</" + cell + ">";
    text += "</tr>\n";
  }
  return text + "</table>\n";
}

/// The note under a table: what the numbers are.
std::string legendText(const ResultsFolder &results) {
  return "Test error after the last epoch (final) and at its best epoch, mean ± "
         "standard deviation over the finished seeds (n − 1); seeds: finished/all "
         "while some are missing; epochs per run (k/" +
         std::to_string(results.epochs) +
         " while none has finished); wall time per finished run, restarts "
         "included.";
}

std::string markdownReport(const ResultsFolder &results, const Table &table,
                           const std::vector<Plot> &plots) {
  std::string text = "# Results: " + results.dir + "\n\n" + markdownTable(table) +
                     "\n" + legendText(results) + "\n";
  for (const Plot &plot : plots)
    text += "\n![" + plot.title + "](plots/" + plot.name + ".png)\n";
  return text;
}

std::string htmlReport(const ResultsFolder &results, const Table &table,
                       const std::vector<Plot> &plots) {
  std::string text =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html(results.dir) +
      "</title>\n<style>body{font-family:sans-serif;margin:2em}"
      "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;"
      "text-align:right}img{max-width:100%}</style></head><body>\n<h1>Results: " +
      html(results.dir) + "</h1>\n" + htmlTable(table) + "<p>" + legendText(results) + "</p>\n";
  for (const Plot &plot : plots)
    text += "<h2>" + html(plot.title) + "</h2>\n<img src=\"plots/" + plot.name +
            ".svg\" alt=\"" + html(plot.title) + "\"><p><a href=\"plots/" + plot.name +
            ".png\">PNG</a></p>\n";
  return text + "</body></html>\n";
}

bool writeText(const std::string &path, const std::string &text) {
  std::string error;
  if (bnnrt::writeFileAtomically(path, text.data(), text.size(), error))
    return true;
  llvm::errs() << error << "\n";
  return false;
}

} // namespace

int bnnc::experiment::writeReport(const std::string &resultsDir, bool plots) {
  ResultsFolder results;
  std::string error;
  if (!readResults(resultsDir, results, error))
    return llvm::errs() << error << "\n", 1;
  std::vector<SettingSummary> rows = summarize(results);
  Table table = tableOf(rows);
  llvm::outs() << markdownTable(table);
  llvm::outs().flush();
  std::vector<Plot> drawn;
  if (plots && !drawPlots(results, rows, drawn))
    return 1;
  if (!writeText(resultsDir + "/report.md", markdownReport(results, table, drawn)) ||
      !writeText(resultsDir + "/index.html", htmlReport(results, table, drawn)))
    return 1;
  llvm::outs() << "wrote " << resultsDir << "/report.md"
               << (plots ? ", index.html and plots/" : " and index.html") << "\n";
  return 0;
}
