//===- Profile.cpp - Where a compiled model spends its time (--profile) ---===//

#include "bnnrt/Profile.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

using namespace bnnrt;

bool bnnrt::detail::profilingOn = false;

//===----------------------------------------------------------------------===//
// Recording
//===----------------------------------------------------------------------===//

static double secondsSince(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       started)
      .count();
}

Profiler &Profiler::global() {
  static Profiler profiler;
  return profiler;
}

void Profiler::start(const std::vector<KernelSite> &plannedSites) {
  sites = plannedSites;
  siteTotals.assign(sites.size(), SiteTotals());
  stepTotals.clear();
  detail::profilingOn = true;
}

void Profiler::addKernelCall(int site, int64_t batch, double seconds) {
  if (site < 0 || size_t(site) >= siteTotals.size())
    return;
  SiteTotals &totals = siteTotals[size_t(site)];
  ++totals.calls;
  totals.items += batch;
  totals.seconds += seconds;
}

void Profiler::addStep(const std::string &function, double seconds) {
  StepTotals &totals = stepTotals[function];
  ++totals.steps;
  totals.seconds += seconds;
}

void KernelTimer::finish() {
  Profiler::global().addKernelCall(site, batch, secondsSince(started));
}

void StepTimer::finish() {
  Profiler::global().addStep(function, secondsSince(started));
}

//===----------------------------------------------------------------------===//
// The report
//===----------------------------------------------------------------------===//

static ProfileRow makeRow(const KernelSite &site, const SiteTotals &totals) {
  ProfileRow row;
  row.op = site.op;
  row.location = site.location;
  row.kernel = site.kernel;
  row.calls = totals.calls;
  row.totalMs = totals.seconds * 1e3;
  row.binaryOps = site.binaryOps;
  // Batches may differ between calls (the last evaluation batch is short),
  // hence the batch items summed over calls rather than calls × batch.
  double ops = site.opsFixed * double(totals.calls) +
               site.opsPerItem * double(totals.items);
  if (ops > 0 && totals.seconds > 0)
    row.gigaOpsPerSecond = ops / totals.seconds / 1e9;
  return row;
}

static double percentOf(double part, double whole) {
  return whole > 0 ? 100.0 * part / whole : 0.0;
}

/// Sorts the rows and relates them to the section's step time.
static void finishSection(ProfileSection &section) {
  std::stable_sort(section.rows.begin(), section.rows.end(),
                   [](const ProfileRow &a, const ProfileRow &b) {
                     return a.totalMs > b.totalMs;
                   });
  for (ProfileRow &row : section.rows) {
    row.percent = percentOf(row.totalMs, section.stepMs);
    section.kernelMs += row.totalMs;
  }
  // Clock granularity can make the kernels look a hair longer than their
  // steps; "outside" is never negative.
  section.outsideMs = std::max(0.0, section.stepMs - section.kernelMs);
  section.outsidePercent = percentOf(section.outsideMs, section.stepMs);
}

static ProfileSection &sectionOf(ProfileReport &report,
                                 const std::string &function) {
  for (ProfileSection &section : report.sections)
    if (section.function == function)
      return section;
  report.sections.emplace_back();
  report.sections.back().function = function;
  return report.sections.back();
}

ProfileReport
bnnrt::buildProfileReport(const std::vector<KernelSite> &sites,
                          const std::vector<SiteTotals> &siteTotals,
                          const std::map<std::string, StepTotals> &steps) {
  ProfileReport report;
  sectionOf(report, "train");
  sectionOf(report, "eval");
  for (const auto &[function, totals] : steps) {
    ProfileSection &section = sectionOf(report, function);
    section.steps = totals.steps;
    section.stepMs = totals.seconds * 1e3;
  }
  for (size_t i = 0; i < sites.size() && i < siteTotals.size(); ++i)
    if (siteTotals[i].calls > 0)
      sectionOf(report, sites[i].function)
          .rows.push_back(makeRow(sites[i], siteTotals[i]));
  for (ProfileSection &section : report.sections)
    finishSection(section);
  return report;
}

//===----------------------------------------------------------------------===//
// Text and JSON
//===----------------------------------------------------------------------===//

__attribute__((format(printf, 1, 2))) static std::string
format(const char *pattern, ...) {
  va_list args, measuring;
  va_start(args, pattern);
  va_copy(measuring, args);
  int size = std::vsnprintf(nullptr, 0, pattern, measuring);
  va_end(measuring);
  std::string text(size_t(std::max(size, 0)) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), pattern, args);
  va_end(args);
  text.pop_back(); // vsnprintf's terminator
  return text;
}

static std::string rateText(const ProfileRow &row) {
  if (!row.gigaOpsPerSecond)
    return "-";
  return format("%.2f %s", *row.gigaOpsPerSecond, row.unit());
}

namespace {

/// Columns padded to their widest cell: text left, numbers right.
class TextTable {
public:
  explicit TextTable(std::vector<bool> rightAligned)
      : rightAligned(std::move(rightAligned)) {}
  void add(std::vector<std::string> cells) { rows.push_back(std::move(cells)); }
  std::string render() const {
    std::vector<size_t> widths(rightAligned.size(), 0);
    for (const auto &row : rows)
      for (size_t c = 0; c < row.size(); ++c)
        widths[c] = std::max(widths[c], row[c].size());
    std::string text;
    for (const auto &row : rows) {
      std::string line;
      for (size_t c = 0; c < row.size(); ++c) {
        std::string padding(widths[c] - row[c].size(), ' ');
        line += "  " + (rightAligned[c] ? padding + row[c] : row[c] + padding);
      }
      line.erase(line.find_last_not_of(' ') + 1);
      text += line + "\n";
    }
    return text;
  }

private:
  std::vector<bool> rightAligned;
  std::vector<std::vector<std::string>> rows;
};

} // namespace

static std::string formatSection(const ProfileSection &section) {
  std::string text = format(
      "profile of '%s': %lld %s, %.3f ms, %.3f ms a step\n",
      section.function.c_str(), (long long)section.steps,
      section.steps == 1 ? "step" : "steps", section.stepMs,
      section.steps ? section.stepMs / double(section.steps) : 0.0);
  TextTable table({false, false, false, true, true, true, true});
  table.add({"op", "location", "kernel", "calls", "total ms", "% of step",
             "rate"});
  for (const ProfileRow &row : section.rows)
    table.add({row.op, row.location.empty() ? "-" : row.location, row.kernel,
               std::to_string(row.calls), format("%.3f", row.totalMs),
               format("%.1f", row.percent), rateText(row)});
  table.add({"(outside kernels)", "", "", "", format("%.3f", section.outsideMs),
             format("%.1f", section.outsidePercent), "-"});
  table.add({"total", "", "", "", format("%.3f", section.stepMs),
             format("%.1f", section.stepMs > 0 ? 100.0 : 0.0), ""});
  return text + table.render();
}

std::string bnnrt::formatProfileTable(const ProfileReport &report) {
  std::string text;
  for (const ProfileSection &section : report.sections)
    if (section.steps > 0 || !section.rows.empty())
      text += (text.empty() ? "" : "\n") + formatSection(section);
  return text.empty() ? "profile: no steps ran\n" : text;
}

static std::string jsonString(const std::string &value) {
  std::string text = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\')
      text += std::string("\\") + c;
    else if (static_cast<unsigned char>(c) < 0x20)
      text += format("\\u%04x", unsigned(c));
    else
      text += c;
  }
  return text + "\"";
}

/// Enough digits for microsecond kernels and slow rates alike; JSON has
/// no NaN or infinity.
static std::string jsonNumber(double value) {
  return std::isfinite(value) ? format("%.9g", value) : "null";
}

static std::string jsonRow(const ProfileRow &row) {
  return "{\"op\": " + jsonString(row.op) +
         ", \"location\": " + jsonString(row.location) +
         ", \"kernel\": " + jsonString(row.kernel) +
         ", \"calls\": " + std::to_string(row.calls) +
         ", \"total_ms\": " + jsonNumber(row.totalMs) +
         ", \"percent\": " + jsonNumber(row.percent) + ", \"gops\": " +
         (row.gigaOpsPerSecond ? jsonNumber(*row.gigaOpsPerSecond) : "null") +
         ", \"unit\": " + jsonString(row.unit()) + "}";
}

static std::string jsonSection(const ProfileSection &section) {
  std::string text = "{\"step_ms\": " + jsonNumber(section.stepMs) +
                     ", \"steps\": " + std::to_string(section.steps) +
                     ", \"kernel_ms\": " + jsonNumber(section.kernelMs) +
                     ", \"outside_ms\": " + jsonNumber(section.outsideMs) +
                     ", \"outside_percent\": " +
                     jsonNumber(section.outsidePercent) + ", \"sites\": [";
  for (size_t i = 0; i < section.rows.size(); ++i)
    text += (i ? ",\n    " : "\n    ") + jsonRow(section.rows[i]);
  return text + (section.rows.empty() ? "]}" : "\n  ]}");
}

std::string bnnrt::formatProfileJson(const ProfileReport &report) {
  std::string text = "{";
  for (size_t i = 0; i < report.sections.size(); ++i)
    text += (i ? ",\n  " : "\n  ") + jsonString(report.sections[i].function) +
            ": " + jsonSection(report.sections[i]);
  return text + "\n}\n";
}
