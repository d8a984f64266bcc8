#include "bnn/BnnAttrs.h"
#include "bnn/BnnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

using namespace mlir;
using namespace bnn;

#include "bnn/BnnEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "bnn/BnnAttrs.cpp.inc"

// Lives here rather than in BnnDialect.cpp: adding attributes needs their
// storage classes, which only the generated definitions above declare.
void BnnDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "bnn/BnnAttrs.cpp.inc"
      >();
}

std::string bnn::formatExactDouble(double number) {
  char text[40];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof(text), "%.*g", digits, number);
    if (std::strtod(text, nullptr) == number)
      break;
  }
  std::string result = text;
  if (!std::isfinite(number))
    return result;
  // MLIR's lexer reads a float only with a decimal point: "1e-05" would be an
  // integer followed by garbage, so it becomes "1.0e-05".
  if (result.find('.') == std::string::npos) {
    size_t exponent = result.find('e');
    result.insert(exponent == std::string::npos ? result.size() : exponent,
                  ".0");
  }
  return result;
}

unsigned InitAttr::arityOf(InitKind kind) {
  switch (kind) {
  case InitKind::constant:
    return 1;
  case InitKind::uniform:
  case InitKind::normal:
    return 2;
  case InitKind::glorot_uniform:
  case InitKind::he_normal:
    return 0;
  }
  llvm_unreachable("unknown InitKind");
}

LogicalResult InitAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               InitKind kind, ArrayRef<InitBound> args) {
  unsigned arity = arityOf(kind);
  if (args.size() != arity)
    return emitError() << "init policy '" << stringifyInitKind(kind)
                       << "' takes " << arity << " argument"
                       << (arity == 1 ? "" : "s") << ", got " << args.size();
  for (const InitBound &bound : args)
    if (!std::isfinite(bound.offset) || !std::isfinite(bound.scale))
      return emitError() << "init policy arguments must be finite";
  auto constantArg = [&](unsigned index) -> std::optional<double> {
    if (!args[index].isConstant())
      return std::nullopt;
    return args[index].offset;
  };
  if (kind == InitKind::uniform) {
    std::optional<double> low = constantArg(0), high = constantArg(1);
    if (low && high && *low > *high)
      return emitError() << "uniform(" << formatExactDouble(*low) << ", "
                         << formatExactDouble(*high)
                         << ") has its low bound above its high bound";
  }
  if (kind == InitKind::normal) {
    std::optional<double> stddev = constantArg(1);
    if (stddev && *stddev < 0)
      return emitError() << "normal(mean, std) needs std >= 0, got "
                         << formatExactDouble(*stddev);
  }
  return success();
}

/// bound := number | symbol | number `*` symbol
///        | number `+` (symbol | number `*` symbol)
static ParseResult parseInitBound(AsmParser &parser, InitBound &bound) {
  bound = InitBound::constant(0.0);
  auto parseScaledParam = [&]() -> ParseResult {
    if (succeeded(parser.parseOptionalSymbolName(bound.param))) {
      bound.scale = 1.0;
      return success();
    }
    if (parser.parseFloat(bound.scale) || parser.parseStar())
      return failure();
    return parser.parseSymbolName(bound.param);
  };
  if (succeeded(parser.parseOptionalSymbolName(bound.param))) {
    bound.scale = 1.0;
    return success();
  }
  double number;
  if (parser.parseFloat(number))
    return failure();
  if (succeeded(parser.parseOptionalStar())) {
    bound.scale = number;
    return parser.parseSymbolName(bound.param);
  }
  bound.offset = number;
  if (succeeded(parser.parseOptionalPlus()))
    return parseScaledParam();
  return success();
}

static void printInitBound(AsmPrinter &printer, const InitBound &bound) {
  if (bound.isConstant()) {
    printer << formatExactDouble(bound.offset);
    return;
  }
  if (bound.offset != 0.0)
    printer << formatExactDouble(bound.offset) << " + ";
  if (bound.scale != 1.0)
    printer << formatExactDouble(bound.scale) << " * ";
  printer.printSymbolName(bound.param.getValue());
}

Attribute InitAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseLess() || parser.parseKeyword(&keyword))
    return {};
  std::optional<InitKind> kind = symbolizeInitKind(keyword);
  if (!kind) {
    parser.emitError(loc) << "unknown init policy '" << keyword
                          << "'; expected constant, uniform, normal, "
                             "glorot_uniform or he_normal";
    return {};
  }
  SmallVector<InitBound> args;
  while (succeeded(parser.parseOptionalComma())) {
    if (parseInitBound(parser, args.emplace_back()))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); },
                    parser.getContext(), *kind, args);
}

void InitAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyInitKind(getKind());
  for (const InitBound &bound : getArgs()) {
    printer << ", ";
    printInitBound(printer, bound);
  }
  printer << ">";
}

//===----------------------------------------------------------------------===//
// Packed signs
//===----------------------------------------------------------------------===//

LogicalResult PackedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t axis, int64_t bits) {
  if (axis < 0)
    return emitError() << "packed axis must be >= 0, not " << axis;
  if (bits < 1)
    return emitError() << "a packed axis holds at least 1 bit, not " << bits;
  return success();
}

PackedAttr bnn::packedEncoding(Type type) {
  auto tensor = type.dyn_cast<RankedTensorType>();
  return tensor ? tensor.getEncoding().dyn_cast_or_null<PackedAttr>() : PackedAttr();
}

SmallVector<int64_t> bnn::packedShape(ArrayRef<int64_t> shape, int64_t axis) {
  SmallVector<int64_t> packed;
  for (int64_t i = 0, e = int64_t(shape.size()); i < e; ++i)
    if (i != axis)
      packed.push_back(shape[size_t(i)]);
  int64_t bits = shape[size_t(axis)];
  packed.push_back(bits == ShapedType::kDynamic ? ShapedType::kDynamic : (bits + 63) / 64);
  return packed;
}

RankedTensorType bnn::packedTensorType(RankedTensorType unpacked, int64_t axis) {
  MLIRContext *context = unpacked.getContext();
  return RankedTensorType::get(packedShape(unpacked.getShape(), axis),
                               IntegerType::get(context, 64),
                               PackedAttr::get(context, axis, unpacked.getShape()[size_t(axis)]));
}
