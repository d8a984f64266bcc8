//===- Commands.h - `bnnc experiment` and `bnnc report` -------------------===//
#ifndef BNNC_EXPERIMENT_COMMANDS_H
#define BNNC_EXPERIMENT_COMMANDS_H

#include <optional>

namespace bnnc::experiment {

/// After the command line is parsed: runs `bnnc experiment` or `bnnc
/// report` if one was given and returns its exit status, else nothing.
/// `argv0` locates this executable, which compiles the variants.
std::optional<int> runSubcommand(const char *argv0);

} // namespace bnnc::experiment

#endif // BNNC_EXPERIMENT_COMMANDS_H
