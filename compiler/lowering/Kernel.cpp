#include "lowering/Kernel.h"

using namespace Halide;

namespace bnnc {
namespace {

Type halideType(ArgType type) {
  switch (type) {
  case ArgType::F32: return Float(32);
  case ArgType::I32: return Int(32);
  case ArgType::U64: return UInt(64);
  }
  return Float(32);
}

/// Whether `funcs` holds a Func named `name` (a Tuple output's later
/// elements name the Func already listed).
bool containsFuncNamed(const std::vector<Func> &funcs, const std::string &name) {
  for (const Func &f : funcs)
    if (f.name() == name)
      return true;
  return false;
}

[[noreturn]] void internalError(const std::string &message) {
  throw CompileError("internal error in the kernel library: " + message);
}

} // namespace

Kernel::Kernel(const KernelRequest &request)
    : request_(request), signature(signatureOf(request)) {
  for (const KernelArg &arg : signature) {
    if (arg.role == ArgRole::Input)
      buffers.emplace(arg.name, ImageParam(halideType(arg.type), arg.rank, arg.name));
    else if (arg.role == ArgRole::Scalar)
      scalars.emplace(arg.name, Param<void>(halideType(arg.type), arg.name));
  }
}

ImageParam Kernel::input(const std::string &name) const {
  auto found = buffers.find(name);
  if (found == buffers.end())
    internalError(std::string(familyName(request_.kind)) + " has no input '" + name + "'");
  return found->second;
}

Param<void> &Kernel::scalarParam(const std::string &name) {
  auto found = scalars.find(name);
  if (found == scalars.end())
    internalError(std::string(familyName(request_.kind)) + " has no scalar '" + name + "'");
  return found->second;
}

Expr Kernel::scalar(const std::string &name) const {
  return const_cast<Kernel *>(this)->scalarParam(name);
}

void Kernel::output(const std::string &name, Func func) {
  // Halide makes a Func's name unique in the process by appending "$N".
  std::string funcName = func.name();
  if (funcName.substr(0, funcName.find('$')) != name)
    internalError("output '" + name + "' is defined by a Func named '" + func.name() + "'");
  funcs[name] = func;
}

void Kernel::tupleOutput(const std::vector<std::string> &names, Func func) {
  if (names.empty() || int(names.size()) != func.outputs())
    internalError("a Tuple of " + std::to_string(func.outputs()) + " values defines " +
                  std::to_string(names.size()) + " outputs");
  output(names.front(), func);
  for (const std::string &name : names)
    funcs[name] = func;
}

void Kernel::stage(const std::string &name, Func func) { funcs[name] = func; }
void Kernel::domain(const std::string &name, RDom rdom) { rdoms[name] = rdom; }

Func Kernel::func(const std::string &name) const {
  auto found = funcs.find(name);
  if (found == funcs.end())
    internalError(std::string(familyName(request_.kind)) + " has no stage '" + name + "'");
  return found->second;
}

RDom Kernel::rdom(const std::string &name) const {
  auto found = rdoms.find(name);
  if (found == rdoms.end())
    internalError(std::string(familyName(request_.kind)) + " has no domain '" + name + "'");
  return found->second;
}

bool Kernel::hasFunc(const std::string &name) const { return funcs.count(name); }

std::vector<std::string> Kernel::stageNames() const {
  std::vector<std::string> names;
  for (const auto &entry : funcs)
    names.push_back(entry.first);
  return names;
}

bool Kernel::isOutput(const std::string &name) const {
  for (const KernelArg &arg : signature)
    if (arg.role == ArgRole::Output && arg.name == name)
      return true;
  return false;
}

std::vector<Func> Kernel::outputs() const {
  std::vector<Func> result;
  for (const KernelArg &arg : signature) {
    if (arg.role != ArgRole::Output)
      continue;
    Func f = func(arg.name);
    if (!containsFuncNamed(result, f.name()))
      result.push_back(f);
  }
  return result;
}

std::vector<Argument> Kernel::arguments() const {
  std::vector<Argument> result;
  for (const KernelArg &arg : signature) {
    if (arg.role == ArgRole::Input)
      result.push_back(buffers.at(arg.name));
    else if (arg.role == ArgRole::Scalar)
      result.push_back(scalars.at(arg.name));
  }
  return result;
}

std::vector<ImageParam> Kernel::inputs() const {
  std::vector<ImageParam> result;
  for (const KernelArg &arg : signature)
    if (arg.role == ArgRole::Input)
      result.push_back(buffers.at(arg.name));
  return result;
}

} // namespace bnnc
