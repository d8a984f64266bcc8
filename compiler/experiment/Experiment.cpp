//===- Experiment.cpp - Reading an experiment file and expanding its grid -===//

#include "experiment/Experiment.h"

#include "bnnrt/RunConfig.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <toml++/toml.h>

#include <cmath>
#include <sstream>

using namespace bnnc::experiment;

std::string bnnc::experiment::formatValue(double value) {
  char text[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value)
      break;
  }
  return text;
}

std::string bnnc::experiment::settingName(const Point &point) {
  std::string name;
  for (const auto &[key, value] : point.values)
    if (key != "seed")
      name += (name.empty() ? "" : ",") + key + "=" + formatValue(value);
  return name;
}

namespace {

/// Thrown inside this file only, turned into the error string at the API.
struct ExperimentError {
  std::string message;
};

using Grid = std::map<std::string, std::vector<double>>;

class ExperimentReader {
public:
  explicit ExperimentReader(std::string path) : path(std::move(path)) {}

  [[noreturn]] void fail(const toml::source_region &where,
                         const std::string &message) const {
    std::ostringstream text;
    text << path << ":" << where.begin.line << ":" << where.begin.column
         << ": error: " << message;
    throw ExperimentError{text.str()};
  }
  [[noreturn]] void fail(const toml::node &where, const std::string &message) const {
    fail(where.source(), message);
  }

  const toml::table &table(const toml::node &node, const std::string &what) const {
    if (!node.is_table())
      fail(node, what + " must be a table");
    return *node.as_table();
  }

  std::string string(const toml::table &table, const std::string &what,
                     const std::string &key, std::string fallback) const {
    const toml::node *node = table.get(key);
    if (node && !node->is_string())
      fail(*node, what + " " + key + " must be a string");
    return node ? std::string(node->as_string()->get()) : fallback;
  }

  void checkKeys(const toml::table &table, const std::string &what,
                 llvm::ArrayRef<llvm::StringRef> known) const {
    for (const auto &[key, node] : table)
      if (!llvm::is_contained(known, llvm::StringRef(key.str())))
        fail(key.source(), "unknown key '" + std::string(key.str()) + "' in " + what +
                       "; expected one of: " + llvm::join(known, ", "));
  }

  /// A [sweep]-shaped table: name = [numbers]; seeds whole and >= 0.
  Grid grid(const toml::table &table, const std::string &what) const {
    Grid result;
    for (const auto &[key, node] : table) {
      std::string name(key.str());
      const toml::array *values = node.as_array();
      if (!values || values->empty())
        fail(node, what + " " + name + " must be a non-empty array of numbers");
      for (const toml::node &value : *values) {
        std::optional<double> number = value.value<double>();
        if (!number || (name == "seed" && (*number < 0 || std::floor(*number) != *number)))
          fail(value, what + " " + name + ": " +
                          (name == "seed" ? "seeds are whole numbers >= 0"
                                          : "values are numbers"));
        result[name].push_back(*number);
      }
    }
    return result;
  }

  /// [variants.NAME]'s `set = { hidden = 512 }` as bnnc --set arguments.
  std::vector<std::string> sets(const toml::table &variant, const std::string &what) const {
    std::vector<std::string> result;
    const toml::node *node = variant.get("set");
    if (!node)
      return result;
    for (const auto &[key, value] : table(*node, what + " set")) {
      std::optional<double> number = value.value<double>();
      if (!number)
        fail(value, what + " set." + std::string(key.str()) + " must be a number");
      result.push_back(std::string(key.str()) + "=" + formatValue(*number));
    }
    return result;
  }

  Variant variant(const std::string &name, const toml::table &table,
                  Grid &grid) const {
    std::string what = "[variants." + name + "]";
    checkKeys(table, what, {"model", "model_name", "label", "set", "sweep"});
    Variant variant;
    variant.name = name;
    variant.label = string(table, what, "label", name);
    variant.modelName = string(table, what, "model_name", "");
    std::string model = string(table, what, "model", "");
    if (model.empty())
      fail(table, what + " needs model = \"FILE.bnn\"");
    variant.modelPath = resolve(model);
    variant.sets = sets(table, what);
    if (const toml::node *sweep = table.get("sweep"))
      for (auto &[key, values] : this->grid(this->table(*sweep, what + " sweep"), what + " sweep"))
        grid[key] = values;
    return variant;
  }

  /// A model path as written in the file: relative to the file's folder.
  std::string resolve(const std::string &model) const {
    llvm::SmallString<256> resolved(llvm::sys::path::parent_path(path));
    if (llvm::sys::path::is_absolute(model) || resolved.empty())
      return model;
    llvm::sys::path::append(resolved, model);
    return std::string(resolved);
  }

  void read(const toml::table &root, const std::string &resultsOverride,
            Experiment &experiment) const {
    std::string results = "results/" + llvm::sys::path::stem(path).str();
    if (const toml::node *node = root.get("experiment")) {
      const toml::table &section = table(*node, "[experiment]");
      checkKeys(section, "[experiment]", {"results"});
      results = string(section, "[experiment]", "results", results);
    }
    experiment.resultsDir = resultsOverride.empty() ? results : resultsOverride;
    Grid shared;
    if (const toml::node *sweep = root.get("sweep"))
      shared = grid(table(*sweep, "[sweep]"), "[sweep]");
    const toml::node *variants = root.get("variants");
    if (!variants || !variants->is_table() || variants->as_table()->empty())
      fail(variants ? *variants : static_cast<const toml::node &>(root),
           "an experiment needs at least one model: [variants.NAME] with "
           "model = \"FILE.bnn\"");
    // In the file's order (TOML++ keeps a table's keys sorted).
    std::vector<std::pair<const toml::key *, const toml::node *>> ordered;
    for (const auto &[key, node] : *variants->as_table())
      ordered.emplace_back(&key, &node);
    llvm::stable_sort(ordered, [](const auto &a, const auto &b) {
      return a.first->source().begin < b.first->source().begin;
    });
    for (const auto &[key, node] : ordered) {
      std::string name(key->str());
      Grid grid = shared;
      experiment.variants.push_back(
          variant(name, table(*node, "[variants." + name + "]"), grid));
      addPoints(root, experiment.variants.size() - 1, grid, experiment);
    }
  }

  /// Every combination of the grid's values for one variant. The seed is
  /// always part of a point (the [train] seed if not swept), last.
  void addPoints(const toml::table &root, size_t variant, Grid grid,
                 Experiment &experiment) const {
    if (!grid.count("seed"))
      grid["seed"] = {double(root.at_path("train.seed").value_or<int64_t>(0))};
    std::vector<std::string> keys;
    for (const auto &entry : grid)
      if (entry.first != "seed")
        keys.push_back(entry.first);
    keys.push_back("seed");
    std::vector<size_t> index(keys.size(), 0);
    for (;;) {
      Point point;
      point.variant = variant;
      for (size_t k = 0; k < keys.size(); ++k)
        point.values.emplace_back(keys[k], grid[keys[k]][index[k]]);
      finishPoint(root, experiment.variants[variant], point);
      experiment.points.push_back(std::move(point));
      // The next combination, the last key fastest.
      size_t k = keys.size();
      while (k > 0 && ++index[k - 1] == grid[keys[k - 1]].size())
        index[--k] = 0;
      if (k == 0)
        return;
    }
  }

  /// The point's folder and the run configuration its binary gets: the
  /// file's own sections, with its seed and hyper-parameters filled in.
  void finishPoint(const toml::table &root, const Variant &variant,
                   Point &point) const {
    std::string setting = settingName(point);
    point.dir = variant.name + "/" + (setting.empty() ? "" : setting + ",") +
                "seed=" + formatValue(point.values.back().second);
    toml::table run = root;
    run.erase("experiment");
    run.erase("variants");
    run.erase("sweep");
    for (const auto &[key, value] : point.values) {
      const char *section = key == "seed" ? "train" : "params";
      if (!run.contains(section))
        run.insert(section, toml::table{});
      toml::table &table = *run[section].as_table();
      if (key == "seed")
        table.insert_or_assign(key, int64_t(value));
      else
        table.insert_or_assign(key, value);
    }
    std::ostringstream text;
    text << "# " << point.dir << ", written by bnnc experiment\n"
         << run << "\n";
    point.runConfig = text.str();
  }

private:
  std::string path;
};

} // namespace

bool bnnc::experiment::loadExperiment(const std::string &path,
                                      const std::string &resultsDir,
                                      Experiment &experiment, std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer) {
    error = path + ": error: " + buffer.getError().message();
    return false;
  }
  std::string text = (*buffer)->getBuffer().str();
  // The run sections are checked as a compiled model would check them.
  bnnrt::RunConfig run;
  if (!bnnrt::parseRunConfig(text, path, run, error, {"experiment", "variants"}))
    return false;
  experiment = Experiment();
  experiment.sourcePath = path;
  experiment.epochs = run.train.epochs;
  try {
    toml::table root = toml::parse(text, path);
    ExperimentReader(path).read(root, resultsDir, experiment);
  } catch (const ExperimentError &failure) {
    error = failure.message;
    return false;
  }
  return true;
}
