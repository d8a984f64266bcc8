//===- make_seeds.cpp - Binary seed inputs for the file-reader fuzzers ----===//
//
// Writes valid inputs for fuzz_idx, fuzz_cifar10, fuzz_checkpoint and
// fuzz_packed_weights into DIR/<target>/ (scripts/fuzz.sh runs it), so the
// fuzzers start from files that load, in the input layouts of FuzzInput.h
// and FuzzModel.h. Text seeds (model files, TOML) come from examples/ and
// test/ directly.
//
//===----------------------------------------------------------------------===//
#include "FuzzModel.h"

#include "bnnrt/Checkpoint.h"
#include "bnnrt/PackedWeights.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <zlib.h>

namespace {

using Bytes = std::string;

void put(const std::string &path, const Bytes &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

Bytes get(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

Bytes gzip(const std::string &scratch, const Bytes &bytes) {
  gzFile file = gzopen(scratch.c_str(), "wb");
  gzwrite(file, bytes.data(), unsigned(bytes.size()));
  gzclose(file);
  return get(scratch);
}

/// An IDX file of unsigned bytes.
Bytes idx(const std::vector<uint32_t> &dims, const Bytes &values) {
  Bytes out = {0, 0, 8, char(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8)
      out += char(d >> shift);
  return out + values;
}

/// Two files as splitInput reads them: the first one's length, both.
Bytes pair(const Bytes &first, const Bytes &second) {
  return Bytes{char(first.size() & 0xff), char(first.size() >> 8)} + first +
         second;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds DIR\n";
    return 1;
  }
  std::string dir = argv[1], scratch = dir + "/scratch.gz";

  Bytes labels = idx({3}, {4, 0, 7});
  Bytes images = idx({3, 2, 2}, Bytes(12, char(200)));
  put(dir + "/fuzz_idx/raw", pair(labels, images));
  put(dir + "/fuzz_idx/gzip", pair(gzip(scratch, labels), gzip(scratch, images)));

  Bytes record = Bytes(1, char(3)) + Bytes(3072, char(17));
  put(dir + "/fuzz_cifar10/raw", pair(record, record + record));
  put(dir + "/fuzz_cifar10/gzip", pair(gzip(scratch, record), record));

  const bnnrt::ModelSpec &spec = bnnc::fuzz::smallModel();
  bnnrt::Params params(spec.params);
  for (std::vector<float> &values : params.values)
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = float(i % 5) * 0.25f - 0.5f;
  bnnrt::RunState state;
  state.epochsDone = 1;
  state.hyperParams = {{"lambda", 2.0}};
  std::string error, path = dir + "/scratch.bin";
  for (const char *target : {"fuzz_checkpoint", "fuzz_packed_weights"}) {
    bool checkpoint = target == std::string("fuzz_checkpoint");
    if (!(checkpoint ? bnnrt::saveCheckpoint(path, spec, params, state, error)
                     : bnnrt::savePackedWeights(path, spec, params, error))) {
      std::cerr << error << "\n";
      return 1;
    }
    Bytes file = get(path);
    // First byte odd: the whole file; even: the payload, framed by the target.
    put(dir + "/" + target + "/whole", "\x01" + file);
    put(dir + "/" + target + "/payload",
        Bytes(1, '\0') + file.substr(bnnrt::fileformat::kHeaderSize));
  }
  std::remove(path.c_str());
  std::remove(scratch.c_str());
  return 0;
}
