//===- FileFormat.h - Framing shared by checkpoints and weights files -----===//
//
// Internal to bnnrt. Both file kinds are: an 8-byte magic, uint32 version,
// uint64 payload size, uint32 CRC-32 of the payload, then the payload, which
// starts with the model fingerprint (name; per param its name and shape).
// All fields little-endian.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_FILEFORMAT_H
#define BNNRT_FILEFORMAT_H

#include "bnnrt/Model.h"

#include <cstring>
#include <string>
#include <vector>

namespace bnnrt::fileformat {

/// What tells one file kind from another, and names it in errors.
struct Format {
  char magic[8];
  uint32_t version;
  const char *noun; // "checkpoint": "not a bnnc checkpoint"
};

/// Magic, version, payload size, CRC-32.
constexpr size_t kHeaderSize = 8 + 4 + 8 + 4;

/// Appends little-endian fields to a byte buffer.
class Writer {
public:
  void bytes(const void *data, size_t size) {
    buffer.append(static_cast<const char *>(data), size);
  }
  template <typename T> void scalar(T value) { bytes(&value, sizeof(T)); }
  void string(const std::string &text) {
    scalar<uint32_t>(uint32_t(text.size()));
    bytes(text.data(), text.size());
  }
  void floats(const std::vector<float> &values) {
    bytes(values.data(), values.size() * sizeof(float));
  }
  std::string buffer;
};

/// Reads fields from a verified payload; offsets in errors are the file's.
class Reader {
public:
  Reader(const std::string &data, size_t offset, const std::string &path)
      : data(data), offset(offset), path(path) {}
  bool bytes(void *out, size_t size, const char *what) {
    if (!error.empty())
      return false;
    if (size > data.size() - offset) {
      fail(std::string("the payload ends in ") + what);
      return false;
    }
    if (size != 0) // a param of 0 elements has no buffer (out is null)
      std::memcpy(out, data.data() + offset, size);
    offset += size;
    return true;
  }
  template <typename T> T scalar(const char *what) {
    T value{};
    bytes(&value, sizeof(T), what);
    return value;
  }
  std::string string(const char *what);
  void floats(std::vector<float> &values, size_t count, const char *what);
  void fail(const std::string &message) {
    if (error.empty())
      error = path + ": error: at offset " + std::to_string(offset) + ": " +
              message;
  }
  bool atEnd() const { return offset == data.size(); }
  size_t remaining() const { return data.size() - offset; }
  std::string error;

private:
  const std::string &data;
  size_t offset;
  const std::string &path;
};

/// zlib's CRC-32 of any length.
uint32_t crc32Of(const char *data, size_t size);

/// The whole file: header (with the payload's checksum), then payload.
std::string frame(const Format &format, const std::string &payload);

/// Reads `path` into `data`; errors say "cannot open the NOUN".
bool readWholeFile(const std::string &path, const Format &format,
                   std::string &data, std::string &error);

/// Checks the header against the file: magic, version, size, checksum.
/// Returns "" or what is wrong.
std::string checkHeader(const std::string &data, const Format &format);

/// The number of elements of a tensor of this shape.
size_t elementCount(const std::vector<int64_t> &shape);

/// A param as the fingerprint names it.
struct ParamShape {
  std::string name;
  std::vector<int64_t> shape;
};

void writeFingerprint(Writer &out, const ModelSpec &spec);
void readFingerprint(Reader &in, std::string &model,
                     std::vector<ParamShape> &params);

/// "" if the fingerprint is `spec`'s, else what differs, starting with `of`
/// ("checkpoint of model 'mlp'").
std::string compareFingerprint(const std::string &of, const std::string &model,
                               const std::vector<ParamShape> &params,
                               const ModelSpec &spec);

} // namespace bnnrt::fileformat

#endif // BNNRT_FILEFORMAT_H
