#include "lowering/ScheduleKnobs.h"

#include <toml++/toml.h>

namespace bnnc {

const GivenValue *ScheduleKnobs::find(const std::string &name) {
  auto found = given.find(name);
  if (found == given.end())
    return nullptr;
  found->second.used = true;
  return &found->second;
}

int ScheduleKnobs::integer(const std::string &name, int defaultValue, int min,
                           int max, const std::string &doc, bool powerOfTwo) {
  int value = defaultValue;
  std::string range = std::to_string(min) + ".." + std::to_string(max) +
                      (powerOfTwo ? ", a power of two" : "");
  if (const GivenValue *user = find(name)) {
    bool isPowerOfTwo = user->integer > 0 && (user->integer & (user->integer - 1)) == 0;
    if (user->type != GivenValue::Type::Integer)
      badValues.push_back(user->position + ": error: '" + name +
                          "' must be an integer (" + range + ")");
    else if (user->integer < min || user->integer > max ||
             (powerOfTwo && !isPowerOfTwo))
      badValues.push_back(user->position + ": error: '" + name + "' = " +
                          std::to_string(user->integer) + " is out of range (" +
                          range + ")");
    else
      value = int(user->integer);
  }
  asked.push_back({name, std::to_string(value), std::to_string(defaultValue),
                   doc + " (" + range + ")"});
  return value;
}

bool ScheduleKnobs::flag(const std::string &name, bool defaultValue,
                         const std::string &doc) {
  bool value = defaultValue;
  if (const GivenValue *user = find(name)) {
    if (user->type != GivenValue::Type::Boolean)
      badValues.push_back(user->position + ": error: '" + name +
                          "' must be true or false");
    else
      value = user->boolean;
  }
  auto text = [](bool b) { return b ? std::string("true") : std::string("false"); };
  asked.push_back({name, text(value), text(defaultValue), doc});
  return value;
}

std::string ScheduleKnobs::autoscheduler() {
  const GivenValue *user = find("autoscheduler");
  if (!user)
    return "";
  if (user->type != GivenValue::Type::String) {
    badValues.push_back(user->position +
                        ": error: 'autoscheduler' must be a string");
    return "";
  }
  return user->string;
}

std::vector<std::string> ScheduleKnobs::errors() const {
  std::vector<std::string> all = badValues;
  for (const auto &[name, value] : given)
    if (!value.used) {
      std::string known;
      for (const Knob &knob : asked)
        known += (known.empty() ? "" : ", ") + knob.name;
      all.push_back(value.position + ": error: unknown schedule parameter '" +
                    name + "' (this kernel has: " +
                    (known.empty() ? "none" : known) + ", autoscheduler)");
    }
  return all;
}

namespace {

std::string positionOf(const std::string &path, const toml::source_region &region) {
  return path + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

} // namespace

std::unique_ptr<ScheduleFile> ScheduleFile::load(const std::string &path,
                                                 std::string &error) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error &parseError) {
    error = positionOf(path, parseError.source()) + ": error: " +
            std::string(parseError.description());
    return nullptr;
  }
  auto file = std::make_unique<ScheduleFile>();
  file->path = path;
  for (const auto &[key, node] : root) {
    std::string name(key.str());
    const toml::table *table = node.as_table();
    if (!table) {
      file->errors.push_back(positionOf(path, node.source()) + ": error: '" +
                             name + "' must be a table [KERNEL] of schedule parameters");
      continue;
    }
    Table &entry = file->tables[name];
    entry.position = positionOf(path, key.source());
    for (const auto &[knobKey, value] : *table) {
      GivenValue given{GivenValue::Type::String};
      given.position = positionOf(path, knobKey.source());
      if (auto integer = value.as_integer()) {
        given.type = GivenValue::Type::Integer;
        given.integer = integer->get();
      } else if (auto boolean = value.as_boolean()) {
        given.type = GivenValue::Type::Boolean;
        given.boolean = boolean->get();
      } else if (auto string = value.as_string()) {
        given.string = string->get();
      } else {
        file->errors.push_back(given.position + ": error: '" +
                               std::string(knobKey.str()) +
                               "' must be an integer, a boolean or a string");
        continue;
      }
      entry.values[std::string(knobKey.str())] = given;
    }
  }
  return file;
}

ScheduleKnobs ScheduleFile::knobsFor(const std::string &kernel) {
  auto found = tables.find(kernel);
  if (found == tables.end())
    return ScheduleKnobs();
  found->second.used = true;
  return ScheduleKnobs(found->second.values);
}

std::vector<std::string> ScheduleFile::unknownKernels() const {
  std::vector<std::string> result;
  for (const auto &[name, table] : tables)
    if (!table.used)
      result.push_back(table.position + ": error: no kernel '" + name +
                       "' in this model (bnnc --emit=schedule lists them)");
  return result;
}

} // namespace bnnc
