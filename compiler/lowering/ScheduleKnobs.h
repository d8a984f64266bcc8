//===- ScheduleKnobs.h - The tunable choices of a schedule, as data -------===//
//
// A schedule function asks for each of its choices by name, with a default,
// a range and a line of documentation: `knobs.integer("tile_units", 64, ...)`.
// The same call serves three purposes: with no schedule file it returns the
// default, with one it returns the user's value (validated), and it records
// the knob so that `bnnc --emit=schedule` can print every kernel's choices
// as an editable TOML file.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_LOWERING_SCHEDULEKNOBS_H
#define BNNC_LOWERING_SCHEDULEKNOBS_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bnnc {

/// A value from a schedule file and where it was written.
struct GivenValue {
  enum class Type { Integer, Boolean, String } type;
  int64_t integer = 0;
  bool boolean = false;
  std::string string;
  std::string position; // "file:line:col"
  bool used = false;
};

class ScheduleKnobs {
public:
  ScheduleKnobs() = default;
  explicit ScheduleKnobs(std::map<std::string, GivenValue> given)
      : given(std::move(given)) {}

  /// An integer choice in [min, max] (a power of two if `powerOfTwo`).
  int integer(const std::string &name, int defaultValue, int min, int max,
              const std::string &doc, bool powerOfTwo = false);
  /// A yes/no choice.
  bool flag(const std::string &name, bool defaultValue, const std::string &doc);

  /// The autoscheduler this kernel's table asks for ("" for the hand
  /// schedule): the reserved key `autoscheduler`.
  std::string autoscheduler();

  /// Every knob asked for, with the value used, for printing.
  struct Knob {
    std::string name, value, defaultValue, doc;
  };
  const std::vector<Knob> &knobs() const { return asked; }

  /// Errors so far (bad values), and one for every key of the schedule file
  /// that no schedule call asked for.
  std::vector<std::string> errors() const;

private:
  const GivenValue *find(const std::string &name);
  std::map<std::string, GivenValue> given;
  std::vector<Knob> asked;
  std::vector<std::string> badValues;
};

/// A schedule file: one TOML table per kernel symbol, each key a knob.
class ScheduleFile {
public:
  /// Parses `path`; on a syntax error returns null with `error` set to
  /// "file:line:col: error: ...".
  static std::unique_ptr<ScheduleFile> load(const std::string &path,
                                            std::string &error);
  /// The knobs the file gives for `kernel` (none if it has no table).
  ScheduleKnobs knobsFor(const std::string &kernel);
  /// "file:line:col: error: ..." for every table naming no kernel of the
  /// model (after all kernels were asked for).
  std::vector<std::string> unknownKernels() const;

  std::string path;
  struct Table {
    std::map<std::string, GivenValue> values;
    std::string position;
    bool used = false;
  };
  std::map<std::string, Table> tables;
  std::vector<std::string> errors; // values of a type no knob has
};

} // namespace bnnc

#endif // BNNC_LOWERING_SCHEDULEKNOBS_H
