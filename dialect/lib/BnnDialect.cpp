#include "bnn/BnnDialect.h"
#include "bnn/BnnOps.h"

using namespace mlir;

#include "bnn/BnnDialect.cpp.inc"

void bnn::BnnDialect::initialize() {
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "bnn/BnnOps.cpp.inc"
      >();
}
