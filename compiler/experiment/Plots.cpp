//===- Plots.cpp - gnuplot figures of an experiment's results -------------===//
//
// Each figure is a data file and a script beside the images, so a user can
// restyle it with gnuplot alone.
//
//===----------------------------------------------------------------------===//

#include "experiment/Plots.h"

#include "bnnrt/Files.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <set>

using namespace bnnc::experiment;

std::string bnnc::experiment::keyLabel(const std::string &key) {
  return key == "lambda" ? "λ" : key;
}

namespace {

/// A line of a figure: its legend and its gnuplot data block.
struct Series {
  std::string title, data;
};

std::string quoted(llvm::StringRef text) {
  std::string result = "\"";
  for (char c : text)
    result += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  return result + "\"";
}

std::string valuesText(const std::vector<std::pair<std::string, double>> &values) {
  std::vector<std::string> parts;
  for (const auto &[key, value] : values)
    parts.push_back(keyLabel(key) + " = " + formatValue(value));
  return llvm::join(parts, ", ");
}

/// The script's preamble and the plot drawn twice: PNG, then SVG.
std::string script(const std::string &dir, const Plot &plot, const std::string &setup,
                   const std::string &plotCommand) {
  // Dark2 (ColorBrewer): distinct, and readable on white, unlike
  // gnuplot's default yellow.
  std::string colours;
  const char *dark2[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                         "#66a61e", "#e6ab02", "#a6761d", "#666666"};
  for (size_t i = 0; i < std::size(dark2); ++i)
    colours += llvm::formatv("set linetype {0} lc rgb \"{1}\"\n", i + 1, dark2[i]).str();
  std::string common = "cd " + quoted(dir) + "\nset encoding utf8\n" + colours +
                       "set grid\n"
                       "set key outside right top box\nset title " +
                       quoted(plot.title) + "\n" + setup;
  return common + "set terminal pngcairo noenhanced size 1100,620 font \"Sans,12\"\nset output " +
         quoted(plot.name + ".png") + "\n" + plotCommand +
         "set terminal svg noenhanced size 1100,620 dynamic font \"Sans,12\" background rgb "
         "\"white\"\nset output " + quoted(plot.name + ".svg") + "\nreplot\nunset output\n";
}

/// Test error per epoch for one variant: one curve per setting, the mean
/// over seeds, with the range over seeds as a band.
std::vector<Series> curveSeries(const std::vector<SettingSummary> &rows,
                                const std::string &variant) {
  std::vector<Series> series;
  for (const SettingSummary &row : rows) {
    if (row.variant != variant || row.curve.empty())
      continue;
    Series line{row.values.empty() ? row.label : valuesText(row.values), ""};
    for (const CurvePoint &point : row.curve)
      line.data += llvm::formatv("{0} {1:F4} {2:F4} {3:F4} {4}\n", point.epoch,
                                 point.error.mean, point.min, point.max,
                                 point.error.count);
    series.push_back(line);
  }
  return series;
}

/// How a data block is drawn: its columns, its style, whether it has a
/// legend entry.
struct Layer {
  const char *columns, *style;
  bool titled;
};

/// A `plot` command drawing every series once per layer, layer by layer
/// (bands under lines), each series in its own colour.
std::string plotCommand(const std::string &dataFile, const std::vector<Series> &series,
                        llvm::ArrayRef<Layer> layers) {
  std::vector<std::string> parts;
  for (const Layer &layer : layers)
    for (size_t i = 0; i < series.size(); ++i)
      parts.push_back(llvm::formatv("{0} index {1} using {2} with {3} lc {4} {5}",
                                    quoted(dataFile), i, layer.columns, layer.style, i + 1,
                                    layer.titled ? "title " + quoted(series[i].title)
                                                 : std::string("notitle")));
  return "plot " + llvm::join(parts, ", \\\n     ") + "\n";
}

/// The final error against `key`: one line per variant (and value of the
/// other keys), mean over finished seeds ± one standard deviation.
std::vector<Series> finalSeries(const std::vector<SettingSummary> &rows,
                                const std::string &key) {
  std::map<std::string, std::map<double, const SettingSummary *>> lines;
  std::vector<std::string> order;
  for (const SettingSummary &row : rows) {
    std::optional<double> x;
    std::vector<std::pair<std::string, double>> others;
    for (const auto &entry : row.values)
      entry.first == key ? void(x = entry.second) : others.push_back(entry);
    if (!x || row.finalError.count == 0)
      continue;
    std::string title = row.label + (others.empty() ? "" : ", " + valuesText(others));
    if (!lines.count(title))
      order.push_back(title);
    lines[title][*x] = &row;
  }
  std::vector<Series> series;
  for (const std::string &title : order) {
    Series line{title, ""};
    for (const auto &[x, row] : lines[title])
      line.data += llvm::formatv("{0} {1:F4} {2:F4} {3}\n", formatValue(x),
                                 row->finalError.mean, row->finalError.std,
                                 row->finalError.count);
    series.push_back(line);
  }
  return series;
}

/// Blocks gnuplot reads with `index`, each headed by its legend.
std::string dataFile(const std::vector<Series> &series, const std::string &columns) {
  std::string text;
  for (const Series &line : series)
    text += "# " + line.title + "\n# " + columns + "\n" + line.data + "\n\n";
  return text;
}

class PlotWriter {
public:
  PlotWriter(std::string dir, std::string gnuplot)
      : dir(std::move(dir)), gnuplot(std::move(gnuplot)) {}

  bool draw(const Plot &plot, const std::string &data, const std::string &gp) {
    std::string error;
    std::string dataPath = dir + "/" + plot.name + ".dat";
    std::string scriptPath = dir + "/" + plot.name + ".gp";
    if (!bnnrt::writeFileAtomically(dataPath, data.data(), data.size(), error) ||
        !bnnrt::writeFileAtomically(scriptPath, gp.data(), gp.size(), error))
      return llvm::errs() << error << "\n", false;
    std::string message;
    int status = llvm::sys::ExecuteAndWait(gnuplot, {gnuplot, scriptPath}, std::nullopt,
                                           {}, 0, 0, &message);
    if (status != 0)
      llvm::errs() << "error: gnuplot " << scriptPath << " failed"
                   << (message.empty() ? "" : ": " + message) << "\n";
    return status == 0;
  }

  std::string dir, gnuplot;
};

std::vector<std::string> keysWithSeveralValues(const std::vector<SettingSummary> &rows) {
  std::map<std::string, std::set<double>> values;
  std::vector<std::string> order;
  for (const SettingSummary &row : rows)
    for (const auto &[key, value] : row.values) {
      if (!values.count(key))
        order.push_back(key);
      values[key].insert(value);
    }
  std::vector<std::string> keys;
  for (const std::string &key : order)
    if (values[key].size() > 1)
      keys.push_back(key);
  return keys;
}

bool drawCurves(PlotWriter &writer, const ResultsFolder &results,
                const std::vector<SettingSummary> &rows, std::vector<Plot> &plots) {
  for (const VariantInfo &variant : results.variants) {
    std::vector<Series> series = curveSeries(rows, variant.name);
    if (series.empty())
      continue;
    Plot plot{"curves-" + variant.name,
              variant.label + ": test error per epoch (line: mean over seeds; band: "
                              "lowest to highest seed)"};
    std::string setup = "set xlabel \"epoch\"\nset ylabel \"test error (%)\"\n"
                        "set xtics 1\nset style fill transparent solid 0.15 noborder\n";
    if (!writer.draw(plot, dataFile(series, "epoch, mean, min, max test error %, seeds"),
                     script(writer.dir, plot, setup,
                            plotCommand(plot.name + ".dat", series,
                                        {{"1:3:4", "filledcurves", false},
                                         {"1:2", "linespoints lw 2 pt 7 ps 0.7", true}}))))
      return false;
    plots.push_back(plot);
  }
  return true;
}

bool drawFinals(PlotWriter &writer, const ResultsFolder &results,
                const std::vector<SettingSummary> &rows, std::vector<Plot> &plots) {
  for (const std::string &key : keysWithSeveralValues(rows)) {
    std::vector<Series> series = finalSeries(rows, key);
    if (series.empty())
      continue;
    Plot plot{"final-vs-" + key,
              "Test error after " + std::to_string(results.epochs) + " epochs against " +
                  keyLabel(key) + " (mean ± standard deviation over seeds)"};
    std::string setup = "set xlabel " + quoted(keyLabel(key) + (key == "lambda"
                            ? " (initial batchnorm shift β ~ U(-λ, λ))" : "")) +
                        "\nset ylabel \"final test error (%)\"\n"
                        "set offsets graph 0.05, graph 0.05, graph 0.1, graph 0.1\n";
    if (!writer.draw(plot, dataFile(series, keyLabel(key) + ", mean, std test error %, seeds"),
                     script(writer.dir, plot, setup,
                            plotCommand(plot.name + ".dat", series,
                                        {{"1:2:3", "yerrorlines lw 2 pt 7 ps 1", true}}))))
      return false;
    plots.push_back(plot);
  }
  return true;
}

} // namespace

bool bnnc::experiment::drawPlots(const ResultsFolder &results,
                                 const std::vector<SettingSummary> &rows,
                                 std::vector<Plot> &plots) {
  llvm::ErrorOr<std::string> gnuplot = llvm::sys::findProgramByName("gnuplot");
  if (!gnuplot) {
    llvm::errs() << "error: gnuplot not found: install it (Debian: gnuplot-nox, "
                    "scripts/install-deps.sh) or use --no-plots\n";
    return false;
  }
  llvm::SmallString<256> dir(results.dir + "/plots");
  std::string error;
  if (llvm::sys::fs::make_absolute(dir) || !bnnrt::makeDirectories(std::string(dir), error))
    return llvm::errs() << "error: cannot create " << dir << " " << error << "\n", false;
  PlotWriter writer(std::string(dir), *gnuplot);
  return drawCurves(writer, results, rows, plots) && drawFinals(writer, results, rows, plots);
}
