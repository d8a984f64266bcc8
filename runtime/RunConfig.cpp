#include "bnnrt/RunConfig.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

using namespace bnnrt;

size_t bnnrt::editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

namespace {

/// Thrown inside this file only, turned into the error string at the API.
struct ConfigError {
  std::string message;
};

class ConfigReader {
public:
  ConfigReader(std::string sourceName, std::vector<std::string> otherSections)
      : sourceName(std::move(sourceName)),
        otherSections(std::move(otherSections)) {}

  [[noreturn]] void fail(const toml::source_region &where,
                         const std::string &message) const {
    std::ostringstream text;
    text << sourceName;
    if (where.begin.line)
      text << ":" << where.begin.line << ":" << where.begin.column;
    text << ": error: " << message;
    throw ConfigError{text.str()};
  }

  /// Rejects keys of `table` that are not in `known`, suggesting the
  /// closest known one.
  void checkKeys(const toml::table &table, const std::string &section,
                 const std::vector<std::string> &known) const {
    for (const auto &[key, node] : table) {
      std::string name(key.str());
      if (std::find(known.begin(), known.end(), name) != known.end())
        continue;
      std::string message = "unknown key '" + name + "'";
      if (!section.empty())
        message += " in [" + section + "]";
      // Up to a third of the name may be wrong ("trian" -> "train").
      std::string best;
      size_t bestDistance = (name.size() + 2) / 3 + 1;
      for (const std::string &candidate : known) {
        size_t distance = editDistance(name, candidate);
        if (distance < bestDistance) {
          best = candidate;
          bestDistance = distance;
        }
      }
      if (!best.empty())
        message += "; did you mean '" + best + "'?";
      else {
        message += "; expected one of:";
        for (const std::string &candidate : known)
          message += " " + candidate;
      }
      fail(key.source(), message);
    }
  }

  const toml::table *section(const toml::table &root, const std::string &name,
                             const std::vector<std::string> &keys) const {
    const toml::node *node = root.get(name);
    if (!node)
      return nullptr;
    const toml::table *table = node->as_table();
    if (!table)
      fail(node->source(), "'" + name + "' must be a table: [" + name + "]");
    checkKeys(*table, name, keys);
    return table;
  }

  std::string string(const toml::table &table, const std::string &section,
                     const std::string &key, std::string fallback) const {
    const toml::node *node = table.get(key);
    if (!node)
      return fallback;
    if (!node->is_string())
      fail(node->source(), "[" + section + "] " + key + " must be a string");
    return std::string(node->as_string()->get());
  }

  int64_t integer(const toml::table &table, const std::string &section,
                  const std::string &key, int64_t fallback, int64_t min) const {
    const toml::node *node = table.get(key);
    if (!node)
      return fallback;
    if (!node->is_integer())
      fail(node->source(),
           "[" + section + "] " + key + " must be an integer");
    int64_t value = node->as_integer()->get();
    if (value < min)
      fail(node->source(), "[" + section + "] " + key + " must be >= " +
                               std::to_string(min) + ", got " +
                               std::to_string(value));
    return value;
  }

  bool boolean(const toml::table &table, const std::string &section,
               const std::string &key, bool fallback) const {
    const toml::node *node = table.get(key);
    if (!node)
      return fallback;
    if (!node->is_boolean())
      fail(node->source(), "[" + section + "] " + key + " must be true or false");
    return node->as_boolean()->get();
  }

  double number(const toml::node &node, const std::string &what) const {
    if (node.is_integer())
      return double(node.as_integer()->get());
    if (node.is_floating_point()) {
      double value = node.as_floating_point()->get();
      if (!std::isfinite(value))
        fail(node.source(), what + " must be finite");
      return value;
    }
    fail(node.source(), what + " must be a number");
  }

  double positive(const toml::table &table, const std::string &section,
                  const std::string &key, double fallback) const {
    const toml::node *node = table.get(key);
    if (!node)
      return fallback;
    double value = number(*node, "[" + section + "] " + key);
    if (value <= 0)
      fail(node->source(), "[" + section + "] " + key + " must be positive");
    return value;
  }

  /// The rate decays from lr to lr_final; a final rate above the first is
  /// almost surely the two swapped, and a growing rate diverges.
  void checkDecay(const toml::table &optimizer,
                  const OptimizerConfig &config) const {
    const toml::node *node = optimizer.get("lr_final");
    if (!node || config.lrFinal <= config.lr)
      return;
    std::ostringstream message;
    message << "[optimizer] lr_final must be <= lr (the rate decays from lr "
               "to lr_final), got lr_final = "
            << config.lrFinal << " > lr = " << config.lr;
    fail(node->source(), message.str());
  }

  void checkBackward(const toml::table &train, const std::string &backward) const {
    if (backward == "f32" || backward == "bf16" || backward == "int8")
      return;
    fail(train.get("backward")->source(),
         "[train] backward must be \"f32\", \"bf16\" or \"int8\", got \"" + backward + "\"");
  }

  RunConfig read(const toml::table &root) const {
    RunConfig config;
    std::vector<std::string> sections = {"data", "train", "optimizer",
                                          "params", "sweep", "distributed"};
    sections.insert(sections.end(), otherSections.begin(), otherSections.end());
    checkKeys(root, "", sections);
    if (const toml::table *data = section(root, "data", {"train", "test"})) {
      config.data.train = string(*data, "data", "train", config.data.train);
      config.data.test = string(*data, "data", "test", config.data.test);
    }
    if (const toml::table *train =
            section(root, "train", {"epochs", "batch", "seed", "backward"})) {
      config.train.epochs = integer(*train, "train", "epochs", 10, 1);
      config.train.batch = integer(*train, "train", "batch", 100, 1);
      config.train.seed = uint64_t(integer(*train, "train", "seed", 0, 0));
      config.train.backward = string(*train, "train", "backward", config.train.backward);
      config.train.backwardChosen = train->contains("backward");
      checkBackward(*train, config.train.backward);
    }
    if (const toml::table *optimizer =
            section(root, "optimizer", {"kind", "lr", "lr_final"})) {
      config.optimizer.kind = string(*optimizer, "optimizer", "kind", "adam");
      if (config.optimizer.kind != "adam")
        fail(optimizer->get("kind")->source(),
             "[optimizer] kind must be \"adam\", got \"" +
                 config.optimizer.kind + "\"");
      config.optimizer.lr = positive(*optimizer, "optimizer", "lr", 1e-3);
      config.optimizer.lrFinal =
          positive(*optimizer, "optimizer", "lr_final", config.optimizer.lr);
      checkDecay(*optimizer, config.optimizer);
    }
    if (const toml::table *distributed = section(
            root, "distributed", {"sync_batchnorm", "overlap", "timeout_s"})) {
      DistributedConfig &d = config.distributed;
      d.syncBatchnorm = boolean(*distributed, "distributed", "sync_batchnorm", d.syncBatchnorm);
      d.overlap = boolean(*distributed, "distributed", "overlap", d.overlap);
      d.timeoutSeconds = positive(*distributed, "distributed", "timeout_s", d.timeoutSeconds);
    }
    if (const toml::node *params = root.get("params")) {
      const toml::table *table = params->as_table();
      if (!table)
        fail(params->source(), "'params' must be a table: [params]");
      for (const auto &[key, node] : *table)
        config.params[std::string(key.str())] =
            number(node, "[params] " + std::string(key.str()));
    }
    if (const toml::node *sweep = root.get("sweep")) {
      const toml::table *table = sweep->as_table();
      if (!table)
        fail(sweep->source(), "'sweep' must be a table: [sweep]");
      for (const auto &[key, node] : *table) {
        std::string name(key.str());
        const toml::array *values = node.as_array();
        if (!values || values->empty())
          fail(node.source(),
               "[sweep] " + name + " must be a non-empty array of numbers");
        for (const toml::node &value : *values)
          config.sweep[name].push_back(number(value, "[sweep] " + name));
      }
    }
    return config;
  }

private:
  std::string sourceName;
  std::vector<std::string> otherSections;
};

} // namespace

bool bnnrt::parseRunConfig(std::string_view text, const std::string &sourceName,
                           RunConfig &config, std::string &error,
                           const std::vector<std::string> &otherSections) {
  ConfigReader reader(sourceName, otherSections);
  try {
    toml::table root = toml::parse(text, sourceName);
    config = reader.read(root);
    return true;
  } catch (const toml::parse_error &parseError) {
    const toml::source_position &where = parseError.source().begin;
    std::ostringstream text;
    text << sourceName << ":" << where.line << ":" << where.column
         << ": error: " << parseError.description();
    error = text.str();
  } catch (const ConfigError &configError) {
    error = configError.message;
  }
  return false;
}

bool bnnrt::loadRunConfig(const std::string &path, RunConfig &config,
                          std::string &error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    error = path + ": error: cannot open the run configuration";
    return false;
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  return parseRunConfig(contents.str(), path, config, error);
}
