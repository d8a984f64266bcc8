//===- AST.h - Syntax tree of a model file --------------------------------===//
//
// What the parser read, nothing more: names are not resolved and shapes not
// known. LLVM-style RTTI (a kind enum plus classof) lets later stages switch
// on node kinds with isa/dyn_cast.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_FRONTEND_AST_H
#define BNNC_FRONTEND_AST_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Casting.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bnnc {

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

class Expr {
public:
  enum class Kind { Number, Name, Unary, Binary, Call };
  Expr(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Expr() = default;
  Kind getKind() const { return kind; }
  llvm::SMLoc getLoc() const { return loc; }

private:
  Kind kind;
  llvm::SMLoc loc;
};
using ExprPtr = std::unique_ptr<Expr>;

class NumberExpr : public Expr {
public:
  NumberExpr(llvm::SMLoc loc, double value, bool isInteger)
      : Expr(Kind::Number, loc), value(value), integer(isInteger) {}
  double getValue() const { return value; }
  bool isInteger() const { return integer; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Number; }

private:
  double value;
  bool integer;
};

class NameExpr : public Expr {
public:
  NameExpr(llvm::SMLoc loc, llvm::StringRef name)
      : Expr(Kind::Name, loc), name(name) {}
  llvm::StringRef getName() const { return name; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Name; }

private:
  std::string name;
};

/// `-operand`.
class NegateExpr : public Expr {
public:
  NegateExpr(llvm::SMLoc loc, ExprPtr operand)
      : Expr(Kind::Unary, loc), operand(std::move(operand)) {}
  const Expr &getOperand() const { return *operand; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Unary; }

private:
  ExprPtr operand;
};

/// `lhs op rhs` with op one of + - * /.
class BinaryExpr : public Expr {
public:
  BinaryExpr(llvm::SMLoc loc, char op, ExprPtr lhs, ExprPtr rhs)
      : Expr(Kind::Binary, loc), op(op), lhs(std::move(lhs)),
        rhs(std::move(rhs)) {}
  char getOp() const { return op; }
  const Expr &getLhs() const { return *lhs; }
  const Expr &getRhs() const { return *rhs; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Binary; }

private:
  char op;
  ExprPtr lhs, rhs;
};

/// One argument of a call: `value`, `name = value` or `name ~ policy`.
struct Argument {
  enum class Kind { Positional, Keyword, Init };
  Kind kind = Kind::Positional;
  std::string name; // empty for positional arguments
  llvm::SMLoc nameLoc;
  ExprPtr value;
};

/// `f(args)`, `f` (a bare name used as a layer after `|>`) or `x |> f(args)`,
/// which the parser turns into `f(x, args)`.
class CallExpr : public Expr {
public:
  CallExpr(llvm::SMLoc loc, llvm::StringRef callee,
           std::vector<Argument> arguments, bool viaPipe)
      : Expr(Kind::Call, loc), callee(callee),
        arguments(std::move(arguments)), viaPipe(viaPipe) {}
  llvm::StringRef getCallee() const { return callee; }
  const std::vector<Argument> &getArguments() const { return arguments; }
  bool isViaPipe() const { return viaPipe; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Call; }

private:
  std::string callee;
  std::vector<Argument> arguments;
  bool viaPipe;
};

//===----------------------------------------------------------------------===//
// Types, statements, declarations
//===----------------------------------------------------------------------===//

/// `int`, `f32` or `f32[d0, d1, ...]` (the batch axis is implicit).
struct TypeSpec {
  enum class Kind { Int, F32, Tensor };
  Kind kind = Kind::F32;
  std::vector<int64_t> dims; // Tensor only
  llvm::SMLoc loc;
};

class Stmt {
public:
  enum class Kind { Assign, Return, Loss };
  Stmt(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Stmt() = default;
  Kind getKind() const { return kind; }
  llvm::SMLoc getLoc() const { return loc; }

private:
  Kind kind;
  llvm::SMLoc loc;
};
using StmtPtr = std::unique_ptr<Stmt>;

/// `name = value`. Rebinding a name is allowed (`h = h |> bdense(1024)`).
class AssignStmt : public Stmt {
public:
  AssignStmt(llvm::SMLoc loc, llvm::StringRef name, ExprPtr value)
      : Stmt(Kind::Assign, loc), name(name), value(std::move(value)) {}
  llvm::StringRef getName() const { return name; }
  const Expr &getValue() const { return *value; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Assign; }

private:
  std::string name;
  ExprPtr value;
};

class ReturnStmt : public Stmt {
public:
  ReturnStmt(llvm::SMLoc loc, ExprPtr value)
      : Stmt(Kind::Return, loc), value(std::move(value)) {}
  const Expr &getValue() const { return *value; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Return; }

private:
  ExprPtr value;
};

/// `loss cross_entropy` in a model: the training objective.
class LossStmt : public Stmt {
public:
  LossStmt(llvm::SMLoc loc, llvm::StringRef loss, llvm::SMLoc lossLoc)
      : Stmt(Kind::Loss, loc), loss(loss), lossLoc(lossLoc) {}
  llvm::StringRef getLoss() const { return loss; }
  llvm::SMLoc getLossLoc() const { return lossLoc; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Loss; }

private:
  std::string loss;
  llvm::SMLoc lossLoc;
};

class Decl {
public:
  enum class Kind { Import, Param, Block, Model };
  Decl(Kind kind, llvm::SMLoc loc, llvm::StringRef name)
      : kind(kind), loc(loc), name(name) {}
  virtual ~Decl() = default;
  Kind getKind() const { return kind; }
  llvm::SMLoc getLoc() const { return loc; }
  /// The declared name; the path for an import.
  llvm::StringRef getName() const { return name; }

private:
  Kind kind;
  llvm::SMLoc loc;
  std::string name;
};
using DeclPtr = std::unique_ptr<Decl>;

/// `import "std/blocks.bnn"`.
class ImportDecl : public Decl {
public:
  ImportDecl(llvm::SMLoc loc, llvm::StringRef path)
      : Decl(Kind::Import, loc, path) {}
  static bool classof(const Decl *d) { return d->getKind() == Kind::Import; }
};

/// `param lambda: f32 = 2.0`.
class ParamDecl : public Decl {
public:
  ParamDecl(llvm::SMLoc loc, llvm::StringRef name, TypeSpec type,
            ExprPtr defaultValue)
      : Decl(Kind::Param, loc, name), type(std::move(type)),
        defaultValue(std::move(defaultValue)) {}
  const TypeSpec &getType() const { return type; }
  const Expr &getDefault() const { return *defaultValue; }
  static bool classof(const Decl *d) { return d->getKind() == Kind::Param; }

private:
  TypeSpec type;
  ExprPtr defaultValue;
};

/// A parameter of a block: a tensor when it has no type, else a scalar,
/// optionally with a default.
struct BlockParam {
  std::string name;
  llvm::SMLoc loc;
  std::optional<TypeSpec> type;
  ExprPtr defaultValue;
  bool isTensor() const { return !type; }
};

using Body = std::vector<StmtPtr>;

class BlockDecl : public Decl {
public:
  BlockDecl(llvm::SMLoc loc, llvm::StringRef name,
            std::vector<BlockParam> params, Body body)
      : Decl(Kind::Block, loc, name), params(std::move(params)),
        body(std::move(body)) {}
  const std::vector<BlockParam> &getParams() const { return params; }
  const Body &getBody() const { return body; }
  static bool classof(const Decl *d) { return d->getKind() == Kind::Block; }

private:
  std::vector<BlockParam> params;
  Body body;
};

class ModelDecl : public Decl {
public:
  ModelDecl(llvm::SMLoc loc, llvm::StringRef name, llvm::StringRef inputName,
            TypeSpec inputType, Body body)
      : Decl(Kind::Model, loc, name), inputName(inputName),
        inputType(std::move(inputType)), body(std::move(body)) {}
  llvm::StringRef getInputName() const { return inputName; }
  const TypeSpec &getInputType() const { return inputType; }
  const Body &getBody() const { return body; }
  static bool classof(const Decl *d) { return d->getKind() == Kind::Model; }

private:
  std::string inputName;
  TypeSpec inputType;
  Body body;
};

/// One parsed file.
struct SourceFile {
  std::string path;
  unsigned bufferId = 0;
  std::vector<DeclPtr> decls;
};

/// Prints the tree, one node a line, with line:col locations
/// (`bnnc --emit=ast`).
void dumpAST(const SourceFile &file, const llvm::SourceMgr &sources,
             llvm::raw_ostream &os);

} // namespace bnnc

#endif // BNNC_FRONTEND_AST_H
