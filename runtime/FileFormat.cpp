//===- FileFormat.cpp - Framing shared by checkpoints and weights files ---===//
#include "FileFormat.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <zlib.h>

using namespace bnnrt;
using namespace bnnrt::fileformat;

std::string Reader::string(const char *what) {
  uint32_t size = scalar<uint32_t>(what);
  std::string text;
  if (error.empty() && size > remaining())
    fail(std::string("implausible length of ") + what);
  else
    text.resize(size);
  bytes(text.data(), text.size(), what);
  return text;
}

void Reader::floats(std::vector<float> &values, size_t count,
                    const char *what) {
  // After an error `count` may come from a half-read shape: never allocate it.
  if (!error.empty())
    return;
  if (count > remaining() / sizeof(float)) {
    fail(std::string("implausible size of ") + what);
    return;
  }
  values.resize(count);
  bytes(values.data(), count * sizeof(float), what);
}

uint32_t fileformat::crc32Of(const char *data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes lengths as uInt: feed large payloads in pieces.
  while (size > 0) {
    uInt piece = uInt(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef *>(data), piece);
    data += piece;
    size -= piece;
  }
  return uint32_t(crc);
}

std::string fileformat::frame(const Format &format, const std::string &payload) {
  Writer file;
  file.bytes(format.magic, sizeof(format.magic));
  file.scalar<uint32_t>(format.version);
  file.scalar<uint64_t>(payload.size());
  file.scalar<uint32_t>(crc32Of(payload.data(), payload.size()));
  file.bytes(payload.data(), payload.size());
  return std::move(file.buffer);
}

bool fileformat::readWholeFile(const std::string &path, const Format &format,
                               std::string &data, std::string &error) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = path + ": error: cannot open the " + format.noun + ": " +
            std::strerror(errno);
    return false;
  }
  char chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file)) > 0)
    data.append(chunk, got);
  bool failed = std::ferror(file);
  std::fclose(file);
  if (failed)
    error = path + ": error: cannot read the " + format.noun;
  return !failed;
}

template <typename T> static T fieldAt(const std::string &data, size_t offset) {
  T value;
  std::memcpy(&value, data.data() + offset, sizeof(T));
  return value;
}

std::string fileformat::checkHeader(const std::string &data,
                                    const Format &format) {
  std::string noun = format.noun;
  if (data.size() < 8 || std::memcmp(data.data(), format.magic, 8) != 0)
    return data.size() < 8 && !std::memcmp(data.data(), format.magic, data.size())
               ? "truncated at offset " + std::to_string(data.size()) +
                     ", in the header"
               : "not a bnnc " + noun;
  if (data.size() < kHeaderSize)
    return "truncated at offset " + std::to_string(data.size()) +
           ", in the header";
  uint32_t version = fieldAt<uint32_t>(data, 8);
  if (version != format.version)
    return "unknown " + noun + " format version " + std::to_string(version) +
           " (this binary reads version " + std::to_string(format.version) +
           ")";
  uint64_t size = fieldAt<uint64_t>(data, 12);
  uint64_t available = data.size() - kHeaderSize;
  if (available < size)
    return "truncated at offset " + std::to_string(data.size()) +
           " (the header promises " + std::to_string(kHeaderSize + size) +
           " bytes)";
  if (available > size)
    return std::to_string(available - size) + " bytes after the end of the " +
           noun + " at offset " + std::to_string(kHeaderSize + size);
  uint32_t stored = fieldAt<uint32_t>(data, 20);
  uint32_t actual = crc32Of(data.data() + kHeaderSize, size);
  if (stored != actual) {
    char text[96];
    std::snprintf(text, sizeof(text),
                  "checksum mismatch (CRC-32 %08x stored, %08x computed): "
                  "the file is damaged",
                  stored, actual);
    return text;
  }
  return "";
}

size_t fileformat::elementCount(const std::vector<int64_t> &shape) {
  size_t n = 1;
  for (int64_t d : shape)
    n *= size_t(d);
  return n;
}

void fileformat::writeFingerprint(Writer &out, const ModelSpec &spec) {
  out.string(spec.name);
  out.scalar<uint32_t>(uint32_t(spec.params.size()));
  for (const ParamSpec &param : spec.params) {
    out.string(param.name);
    out.scalar<uint32_t>(uint32_t(param.shape.size()));
    for (int64_t d : param.shape)
      out.scalar<int64_t>(d);
  }
}

void fileformat::readFingerprint(Reader &in, std::string &model,
                                 std::vector<ParamShape> &params) {
  model = in.string("the model name");
  uint32_t count = in.scalar<uint32_t>("the param count");
  for (uint32_t i = 0; i < count && in.error.empty(); ++i) {
    ParamShape param;
    param.name = in.string("a param name");
    uint32_t rank = in.scalar<uint32_t>("a param shape");
    for (uint32_t d = 0; d < rank && in.error.empty(); ++d)
      param.shape.push_back(in.scalar<int64_t>("a param shape"));
    params.push_back(std::move(param));
  }
}

static std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string fileformat::compareFingerprint(const std::string &of,
                                           const std::string &model,
                                           const std::vector<ParamShape> &params,
                                           const ModelSpec &spec) {
  if (model != spec.name)
    return of + ", not '" + spec.name + "'";
  if (params.size() != spec.params.size())
    return of + " with " + std::to_string(params.size()) +
           " params; this binary's has " + std::to_string(spec.params.size());
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const ParamShape &param = params[i];
    const ParamSpec &expected = spec.params[i];
    if (param.name != expected.name)
      return of + " with param " + std::to_string(i) + " '" + param.name +
             "'; this binary's is '" + expected.name + "'";
    if (param.shape != expected.shape)
      return of + " with " + param.name + " " + formatShape(param.shape) +
             "; this binary's is " + formatShape(expected.shape);
  }
  return "";
}
