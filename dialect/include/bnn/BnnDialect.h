#ifndef BNN_BNNDIALECT_H
#define BNN_BNNDIALECT_H

#include "mlir/IR/Dialect.h"

#include "bnn/BnnDialect.h.inc"

#endif // BNN_BNNDIALECT_H
