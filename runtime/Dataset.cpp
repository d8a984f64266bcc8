#include "bnnrt/Dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <sstream>

using namespace bnnrt;

namespace {

/// Reads a file through zlib, which passes raw files through unchanged, and
/// tracks the offset in the (decompressed) stream for error messages.
class ByteReader {
public:
  explicit ByteReader(std::string path) : path(std::move(path)) {}
  ~ByteReader() {
    if (file)
      gzclose(file);
  }

  bool open(std::string &error) {
    file = gzopen(path.c_str(), "rb");
    if (!file) {
      error = path + ": error: cannot open the file";
      return false;
    }
    gzbuffer(file, 1 << 20);
    return true;
  }

  /// Reads exactly `size` bytes describing `what`, or reports where the file
  /// ended or was corrupt.
  bool read(void *data, size_t size, const char *what, std::string &error) {
    return readPart(data, size, 0, size, what, error);
  }

  /// Reads the `size` bytes of `what` into `out`, growing it 16 MiB at a
  /// time as they arrive: a header that promises more than the file holds
  /// ends in an error at the end of the file, not in allocating (and zeroing)
  /// all it promised first.
  bool readInto(std::vector<uint8_t> &out, uint64_t size, const char *what,
                std::string &error) {
    out.clear();
    for (uint64_t done = 0; done < size;) {
      size_t piece = size_t(std::min<uint64_t>(size - done, 16u << 20));
      out.resize(size_t(done) + piece);
      if (!readPart(out.data() + done, piece, done, size, what, error))
        return false;
      done += piece;
    }
    return true;
  }

  /// True if nothing follows; consumes nothing.
  bool atEnd() {
    int byte = gzgetc(file);
    if (byte == -1)
      return true;
    gzungetc(byte, file);
    return false;
  }

  std::string failure(uint64_t at) const {
    return path + ": error: at offset " + std::to_string(at) + ": ";
  }
  uint64_t position() const { return offset; }
  const std::string &name() const { return path; }

private:
  /// Reads bytes [before, before + size) of the `total` bytes of `what`.
  bool readPart(void *data, size_t size, uint64_t before, uint64_t total,
                const char *what, std::string &error) {
    uint8_t *out = static_cast<uint8_t *>(data);
    size_t done = 0;
    while (done < size) {
      unsigned chunk = unsigned(std::min<size_t>(size - done, 1u << 30));
      int got = gzread(file, out + done, chunk);
      if (got < 0) {
        int code;
        const char *message = gzerror(file, &code);
        error = failure(offset + done) + "corrupt data while reading " + what +
                " (" + message + ")";
        return false;
      }
      if (got == 0) {
        std::ostringstream text;
        text << failure(offset + done) << "file ends in " << what
             << ": expected " << total << " bytes, got " << before + done;
        error = text.str();
        return false;
      }
      done += size_t(got);
    }
    offset += size;
    return true;
  }

  std::string path;
  gzFile file = nullptr;
  uint64_t offset = 0;
};

uint32_t bigEndian(const uint8_t bytes[4]) {
  return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 |
         uint32_t(bytes[2]) << 8 | uint32_t(bytes[3]);
}

/// Reads an IDX header of unsigned bytes with `rank` dimensions.
bool readIdxHeader(ByteReader &reader, unsigned rank,
                   std::vector<uint32_t> &dims, std::string &error) {
  uint8_t magic[4];
  if (!reader.read(magic, 4, "the IDX header", error))
    return false;
  if (magic[0] != 0 || magic[1] != 0) {
    error = reader.failure(0) + "not an IDX file (magic bytes are not 0 0)";
    return false;
  }
  if (magic[2] != 0x08) {
    error = reader.failure(2) + "IDX element type 0x" +
            std::to_string(magic[2]) + " is not unsigned byte (0x08)";
    return false;
  }
  if (magic[3] != rank) {
    error = reader.failure(3) + "expected " + std::to_string(rank) +
            " dimensions, the header says " + std::to_string(magic[3]);
    return false;
  }
  dims.resize(rank);
  for (unsigned i = 0; i < rank; ++i) {
    uint8_t bytes[4];
    if (!reader.read(bytes, 4, "the IDX header", error))
      return false;
    dims[i] = bigEndian(bytes);
    if (dims[i] == 0 || dims[i] > (1u << 28)) {
      error = reader.failure(4 + 4 * i) + "dimension " + std::to_string(i) +
              " is " + std::to_string(dims[i]);
      return false;
    }
  }
  return true;
}

void scalePixels(const std::vector<uint8_t> &pixels, std::vector<float> &out) {
  out.resize(pixels.size());
  for (size_t i = 0; i < pixels.size(); ++i)
    out[i] = float(pixels[i]) / 127.5f - 1.0f;
}

std::vector<std::string> splitComma(const std::string &text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ','))
    if (!part.empty())
      parts.push_back(part);
  return parts;
}

} // namespace

std::string bnnrt::fashionMnistDir() {
  if (const char *dir = std::getenv("BNN_FASHION_MNIST_DIR"))
    return dir;
  return "/usr/share/datasets/fashion-mnist";
}

bool bnnrt::loadIdx(const std::string &imagesPath,
                    const std::string &labelsPath, Dataset &dataset,
                    std::string &error) {
  ByteReader images(imagesPath), labels(labelsPath);
  std::vector<uint32_t> imageDims, labelDims;
  if (!images.open(error) || !readIdxHeader(images, 3, imageDims, error) ||
      !labels.open(error) || !readIdxHeader(labels, 1, labelDims, error))
    return false;
  if (imageDims[0] != labelDims[0]) {
    error = labelsPath + ": error: " + std::to_string(labelDims[0]) +
            " labels for " + std::to_string(imageDims[0]) + " images in " +
            imagesPath;
    return false;
  }
  dataset.count = imageDims[0];
  dataset.channels = 1;
  dataset.height = imageDims[1];
  dataset.width = imageDims[2];
  // At most 2^28 each: the product fits in 64 bits only as two factors.
  uint64_t imageSize = uint64_t(dataset.height) * uint64_t(dataset.width);
  if (imageSize > (uint64_t(1) << 36) / uint64_t(dataset.count)) {
    error = images.failure(4) + "the header promises " +
            std::to_string(dataset.count) + " images of " +
            std::to_string(dataset.height) + "x" +
            std::to_string(dataset.width) +
            " pixels, more than 64 GiB; not a data set this loader reads";
    return false;
  }
  std::vector<uint8_t> pixels, labelBytes;
  if (!images.readInto(pixels, uint64_t(dataset.count) * imageSize,
                       "the pixel data", error) ||
      !labels.readInto(labelBytes, uint64_t(dataset.count), "the labels",
                       error))
    return false;
  if (!images.atEnd() || !labels.atEnd()) {
    ByteReader &longer = images.atEnd() ? labels : images;
    error = longer.failure(longer.position()) +
            "unexpected data after the last record";
    return false;
  }
  scalePixels(pixels, dataset.images);
  dataset.labels.assign(labelBytes.begin(), labelBytes.end());
  dataset.numClasses =
      1 + *std::max_element(dataset.labels.begin(), dataset.labels.end());
  return true;
}

bool bnnrt::loadCifar10(const std::vector<std::string> &paths,
                        Dataset &dataset, std::string &error) {
  constexpr size_t kPixels = 3 * 32 * 32, kRecord = 1 + kPixels;
  dataset = Dataset();
  dataset.channels = 3;
  dataset.height = dataset.width = 32;
  std::vector<uint8_t> pixels;
  for (const std::string &path : paths) {
    ByteReader reader(path);
    if (!reader.open(error))
      return false;
    uint8_t record[kRecord];
    size_t records = 0;
    while (!reader.atEnd()) {
      uint64_t start = reader.position();
      if (!reader.read(record, kRecord, "a record", error)) {
        error = path + ": error: at offset " + std::to_string(start) +
                ": truncated record (CIFAR-10 records are 3073 bytes)";
        return false;
      }
      if (record[0] > 9) {
        error = path + ": error: at offset " + std::to_string(start) +
                ": label " + std::to_string(record[0]) +
                " is not a CIFAR-10 class (0-9)";
        return false;
      }
      dataset.labels.push_back(record[0]);
      pixels.insert(pixels.end(), record + 1, record + kRecord);
      ++records;
    }
    if (records == 0) {
      error = path + ": error: no CIFAR-10 records in the file";
      return false;
    }
  }
  dataset.count = int64_t(dataset.labels.size());
  scalePixels(pixels, dataset.images);
  dataset.numClasses = 10;
  return true;
}

bool bnnrt::loadDataset(const std::string &spec, Dataset &dataset,
                        std::string &error) {
  auto colon = spec.find(':');
  std::string scheme = spec.substr(0, colon);
  std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (scheme == "fashion-mnist" && (rest == "train" || rest == "test")) {
    std::string prefix =
        fashionMnistDir() + (rest == "train" ? "/train" : "/t10k");
    return loadIdx(prefix + "-images-idx3-ubyte.gz",
                   prefix + "-labels-idx1-ubyte.gz", dataset, error);
  }
  if (scheme == "idx") {
    std::vector<std::string> files = splitComma(rest);
    if (files.size() == 2)
      return loadIdx(files[0], files[1], dataset, error);
  }
  if (scheme == "cifar10") {
    std::vector<std::string> files = splitComma(rest);
    if (!files.empty()) {
      if (loadCifar10(files, dataset, error))
        return true;
      // CIFAR-10 is not in Debian: a missing file most likely means the
      // data was never downloaded; say where it goes.
      if (error.find("cannot open the file") != std::string::npos)
        error += " (CIFAR-10 is not shipped with Debian: download the binary version, "
                 "cifar-10-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html "
                 "and unpack it so that this path exists, relative to the folder you run "
                 "from)";
      return false;
    }
  }
  error = "error: unknown dataset '" + spec +
          "'; expected fashion-mnist:train, fashion-mnist:test, "
          "idx:IMAGES,LABELS or cifar10:BATCH[,BATCH...]";
  return false;
}
