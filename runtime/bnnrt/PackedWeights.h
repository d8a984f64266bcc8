//===- PackedWeights.h - The packed inference file (.bnnw) ----------------===//
//
// What `export` writes and `infer` reads: only what the evaluation function
// needs. Format (version 1, little-endian), framed like a checkpoint: the
// magic "BNNWEIGH", uint32 version, uint64 payload size, uint32 CRC-32 of
// the payload, then the payload: the model fingerprint (name; per param its
// name and shape), then per param a uint8 encoding and its data. Encoding 1,
// for a weight whose layers read only its signs (ParamSpec::signsOnly), is
// one bit per element, set where w < 0 (sign(0) = +1), element i in bit
// i % 8 of byte i / 8; encoding 0 is the float32 values (batchnorm params
// and statistics, real weights). No Adam moments, no run state.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_PACKEDWEIGHTS_H
#define BNNRT_PACKEDWEIGHTS_H

#include "bnnrt/Model.h"

#include <string>

namespace bnnrt {

/// Writes the params of `spec` to `path` atomically (see writeFileAtomically).
bool savePackedWeights(const std::string &path, const ModelSpec &spec,
                       const Params &params, std::string &error);

/// Reads and verifies (format, version, size, checksum, fingerprint and
/// encodings against `spec`) a weights file into `params`: signs become
/// ±1.0, which the evaluation function reads like the latent weights it
/// takes the sign of. Errors name the file and the offset or what differs.
bool loadPackedWeights(const std::string &path, const ModelSpec &spec,
                       Params &params, std::string &error);

} // namespace bnnrt

#endif // BNNRT_PACKEDWEIGHTS_H
