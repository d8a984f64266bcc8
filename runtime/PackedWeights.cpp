//===- PackedWeights.cpp - The packed inference file (.bnnw) --------------===//
#include "bnnrt/PackedWeights.h"

#include "FileFormat.h"
#include "bnnrt/Files.h"

using namespace bnnrt;
using namespace bnnrt::fileformat;

namespace {

const Format kFormat = {{'B', 'N', 'N', 'W', 'E', 'I', 'G', 'H'}, 1,
                        "weights file"};

enum Encoding : uint8_t { Floats = 0, Signs = 1 };

const char *describe(uint8_t encoding) {
  return encoding == Signs ? "signs" : "floats";
}

std::string serialize(const ModelSpec &spec, const Params &params) {
  Writer payload;
  writeFingerprint(payload, spec);
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const std::vector<float> &values = params.values[i];
    if (!spec.params[i].signsOnly) {
      payload.scalar<uint8_t>(Floats);
      payload.floats(values);
      continue;
    }
    payload.scalar<uint8_t>(Signs);
    std::string bits((values.size() + 7) / 8, '\0');
    for (size_t e = 0; e < values.size(); ++e)
      if (values[e] < 0)
        bits[e / 8] = char(bits[e / 8] | (1 << (e % 8)));
    payload.bytes(bits.data(), bits.size());
  }
  return frame(kFormat, payload.buffer);
}

/// Param `i`'s encoding and data into `values`, unpacking signs to ±1.
void readParam(Reader &in, const ParamSpec &spec, std::vector<float> &values) {
  uint8_t encoding = in.scalar<uint8_t>("an encoding");
  uint8_t expected = spec.signsOnly ? Signs : Floats;
  if (in.error.empty() && encoding != expected) {
    in.fail(encoding > Signs
                ? "unknown encoding " + std::to_string(encoding) + " of " +
                      spec.name
                : spec.name + " stored as " + describe(encoding) +
                      "; this binary's reads " + describe(expected));
    return;
  }
  size_t count = size_t(spec.size());
  if (encoding == Floats) {
    in.floats(values, count, "a param");
    return;
  }
  std::string bits((count + 7) / 8, '\0');
  if (!in.bytes(bits.data(), bits.size(), "a param's signs"))
    return;
  values.resize(count);
  for (size_t e = 0; e < count; ++e)
    values[e] = (bits[e / 8] >> (e % 8)) & 1 ? -1.0f : 1.0f;
}

} // namespace

bool bnnrt::savePackedWeights(const std::string &path, const ModelSpec &spec,
                              const Params &params, std::string &error) {
  std::string data = serialize(spec, params);
  return writeFileAtomically(path, data.data(), data.size(), error);
}

bool bnnrt::loadPackedWeights(const std::string &path, const ModelSpec &spec,
                              Params &params, std::string &error) {
  std::string data;
  if (!readWholeFile(path, kFormat, data, error))
    return false;
  std::string problem = checkHeader(data, kFormat);
  if (!problem.empty()) {
    error = path + ": error: " + problem;
    return false;
  }
  Reader in(data, kHeaderSize, path);
  std::string model;
  std::vector<ParamShape> shapes;
  readFingerprint(in, model, shapes);
  std::string difference =
      in.error.empty()
          ? compareFingerprint("weights file of model '" + model + "'", model,
                               shapes, spec)
          : "";
  if (!difference.empty()) {
    error = path + ": error: " + difference;
    return false;
  }
  // Into a copy, so a bad file leaves `params` as it was.
  std::vector<std::vector<float>> values(spec.params.size());
  for (size_t i = 0; i < spec.params.size() && in.error.empty(); ++i)
    readParam(in, spec.params[i], values[i]);
  if (in.error.empty() && !in.atEnd())
    in.fail("bytes after the last param");
  error = in.error;
  if (!error.empty())
    return false;
  params.values = std::move(values);
  return true;
}
