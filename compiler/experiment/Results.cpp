//===- Results.cpp - The results folder of an experiment ------------------===//

#include "experiment/Results.h"

#include "bnnrt/Files.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <fstream>
#include <map>

using namespace bnnc::experiment;
namespace json = llvm::json;

std::string bnnc::experiment::pointPath(const Experiment &experiment,
                                        const Point &point) {
  llvm::SmallString<256> path(experiment.resultsDir);
  llvm::sys::path::append(path, point.dir);
  return std::string(path);
}

static json::Array valuesToJson(const std::vector<std::pair<std::string, double>> &values) {
  json::Array array;
  for (const auto &[key, value] : values)
    array.push_back(json::Array{key, value});
  return array;
}

bool bnnc::experiment::writeManifest(const Experiment &experiment,
                                     std::string &error) {
  json::Array variants, points;
  for (const Variant &variant : experiment.variants)
    variants.push_back(json::Object{{"name", variant.name},
                                    {"label", variant.label},
                                    {"model", variant.modelPath}});
  for (const Point &point : experiment.points)
    points.push_back(json::Object{{"dir", point.dir},
                                  {"variant", experiment.variants[point.variant].name},
                                  {"values", valuesToJson(point.values)}});
  json::Value manifest = json::Object{{"source", experiment.sourcePath},
                                      {"epochs", experiment.epochs},
                                      {"variants", std::move(variants)},
                                      {"points", std::move(points)}};
  std::string text = llvm::formatv("{0:2}\n", manifest).str();
  llvm::SmallString<256> path(experiment.resultsDir);
  llvm::sys::path::append(path, "experiment.json");
  return bnnrt::makeDirectories(experiment.resultsDir, error) &&
         bnnrt::writeFileAtomically(std::string(path), text.data(), text.size(), error);
}

bool bnnc::experiment::recordAttempt(const std::string &pointDir, double seconds,
                                     llvm::StringRef status, int exitCode,
                                     std::string &error) {
  std::string path = pointDir + "/attempts.jsonl";
  std::ofstream file(path, std::ios::app);
  // By hand rather than json::Value, whose doubles print 17 digits.
  file << llvm::formatv("{\"seconds\": {0:F3}, \"status\": \"{1}\", \"exit\": {2}}",
                        seconds, status, exitCode).str()
       << "\n";
  file.flush();
  if (!file)
    error = path + ": error: cannot write";
  return bool(file);
}

/// Calls `each` with every JSON object line of `path`; a missing file has
/// none.
static bool forEachJsonLine(const std::string &path,
                            llvm::function_ref<void(const json::Object &)> each,
                            std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return true;
  llvm::SmallVector<llvm::StringRef> lines;
  (*buffer)->getBuffer().split(lines, '\n', -1, /*KeepEmpty=*/false);
  for (size_t i = 0; i < lines.size(); ++i) {
    llvm::Expected<json::Value> value = json::parse(lines[i]);
    if (!value || !value->getAsObject()) {
      error = path + ":" + std::to_string(i + 1) + ": error: not a JSON object" +
              (value ? "" : ": " + llvm::toString(value.takeError()));
      return false;
    }
    each(*value->getAsObject());
  }
  return true;
}

bool bnnc::experiment::readPoint(const std::string &pointDir,
                                 PointResult &result, std::string &error) {
  bool attemptsRead = forEachJsonLine(
      pointDir + "/attempts.jsonl",
      [&](const json::Object &attempt) {
        result.wallSeconds += attempt.getNumber("seconds").value_or(0);
        result.status = attempt.getString("status").value_or("").str();
        ++result.attempts;
      },
      error);
  std::map<int64_t, EpochRecord> epochs; // the last line of an epoch wins
  bool metricsRead = attemptsRead && forEachJsonLine(
      pointDir + "/metrics.jsonl",
      [&](const json::Object &line) {
        EpochRecord record;
        record.epoch = line.getInteger("epoch").value_or(0);
        record.testError = line.getNumber("test_error").value_or(NAN);
        record.trainError = line.getNumber("train_error").value_or(NAN);
        record.trainLoss = line.getNumber("train_loss").value_or(NAN);
        record.seconds = line.getNumber("seconds").value_or(0);
        epochs[record.epoch] = record;
      },
      error);
  for (const auto &entry : epochs)
    result.epochs.push_back(entry.second);
  return metricsRead;
}

/// A manifest point: its folder, variant and grid values.
static bool readManifestPoint(const json::Value &value, PointResult &point) {
  const json::Object *object = value.getAsObject();
  const json::Array *values = object ? object->getArray("values") : nullptr;
  if (!values || !object->getString("dir") || !object->getString("variant"))
    return false;
  point.dir = object->getString("dir")->str();
  point.variant = object->getString("variant")->str();
  for (const json::Value &pair : *values) {
    const json::Array *entry = pair.getAsArray();
    if (!entry || entry->size() != 2 || !(*entry)[0].getAsString() ||
        !(*entry)[1].getAsNumber())
      return false;
    point.values.emplace_back((*entry)[0].getAsString()->str(),
                              *(*entry)[1].getAsNumber());
  }
  return true;
}

bool bnnc::experiment::readResults(const std::string &dir, ResultsFolder &results,
                                   std::string &error) {
  std::string path = dir + "/experiment.json";
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer) {
    error = path + ": error: " + buffer.getError().message() +
            " (not a results folder of `bnnc experiment`?)";
    return false;
  }
  llvm::Expected<json::Value> manifest = json::parse((*buffer)->getBuffer());
  const json::Object *root = manifest ? manifest->getAsObject() : nullptr;
  const json::Array *variants = root ? root->getArray("variants") : nullptr;
  const json::Array *points = root ? root->getArray("points") : nullptr;
  if (!variants || !points) {
    error = path + ": error: not a manifest of `bnnc experiment`" +
            (manifest ? "" : ": " + llvm::toString(manifest.takeError()));
    return false;
  }
  results.dir = dir;
  results.epochs = root->getInteger("epochs").value_or(0);
  for (const json::Value &value : *variants) {
    const json::Object *variant = value.getAsObject();
    if (!variant || !variant->getString("name"))
      return error = path + ": error: a variant without a name", false;
    std::string name = variant->getString("name")->str();
    results.variants.push_back({name, variant->getString("label").value_or(name).str()});
  }
  for (const json::Value &value : *points) {
    PointResult point;
    if (!readManifestPoint(value, point))
      return error = path + ": error: a malformed point", false;
    if (!readPoint(dir + "/" + point.dir, point, error))
      return false;
    results.points.push_back(std::move(point));
  }
  return true;
}
