#include "frontend/AST.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/SourceMgr.h"

using namespace bnnc;

namespace {

/// Prints one node a line, indented by depth, each with its line:col.
class ASTDumper {
public:
  ASTDumper(const llvm::SourceMgr &sources, llvm::raw_ostream &os)
      : sources(sources), os(os) {}

  void dump(const SourceFile &file) {
    os << "SourceFile \"" << file.path << "\"\n";
    for (const DeclPtr &decl : file.decls)
      dump(*decl, 1);
  }

private:
  llvm::raw_ostream &line(unsigned depth) {
    return os.indent(2 * depth);
  }
  std::string at(llvm::SMLoc loc) {
    if (!loc.isValid())
      return "";
    auto [lineNo, column] = sources.getLineAndColumn(loc);
    return " @" + std::to_string(lineNo) + ":" + std::to_string(column);
  }

  static std::string typeText(const TypeSpec &type) {
    switch (type.kind) {
    case TypeSpec::Kind::Int: return "int";
    case TypeSpec::Kind::F32: return "f32";
    case TypeSpec::Kind::Tensor: break;
    }
    std::string text = "f32[";
    for (size_t i = 0; i < type.dims.size(); ++i)
      text += (i ? ", " : "") + std::to_string(type.dims[i]);
    return text + "]";
  }

  void dump(const Decl &decl, unsigned depth) {
    llvm::TypeSwitch<const Decl *>(&decl)
        .Case([&](const ImportDecl *import) {
          line(depth) << "Import \"" << import->getName() << "\""
                      << at(import->getLoc()) << "\n";
        })
        .Case([&](const ParamDecl *param) {
          line(depth) << "Param " << param->getName() << ": "
                      << typeText(param->getType()) << at(param->getLoc())
                      << "\n";
          dump(param->getDefault(), depth + 1);
        })
        .Case([&](const BlockDecl *block) {
          line(depth) << "Block " << block->getName() << at(block->getLoc())
                      << "\n";
          for (const BlockParam &param : block->getParams()) {
            line(depth + 1) << "Param " << param.name << ": "
                            << (param.type ? typeText(*param.type) : "tensor")
                            << at(param.loc) << "\n";
            if (param.defaultValue)
              dump(*param.defaultValue, depth + 2);
          }
          dump(block->getBody(), depth + 1);
        })
        .Case([&](const ModelDecl *model) {
          line(depth) << "Model " << model->getName() << "("
                      << model->getInputName() << ": "
                      << typeText(model->getInputType()) << ")"
                      << at(model->getLoc()) << "\n";
          dump(model->getBody(), depth + 1);
        });
  }

  void dump(const Body &body, unsigned depth) {
    for (const StmtPtr &stmt : body) {
      llvm::TypeSwitch<const Stmt *>(stmt.get())
          .Case([&](const AssignStmt *assign) {
            line(depth) << "Assign " << assign->getName()
                        << at(assign->getLoc()) << "\n";
            dump(assign->getValue(), depth + 1);
          })
          .Case([&](const ReturnStmt *ret) {
            line(depth) << "Return" << at(ret->getLoc()) << "\n";
            dump(ret->getValue(), depth + 1);
          })
          .Case([&](const LossStmt *loss) {
            line(depth) << "Loss " << loss->getLoss() << at(loss->getLoc())
                        << "\n";
          });
    }
  }

  void dump(const Expr &expr, unsigned depth) {
    llvm::TypeSwitch<const Expr *>(&expr)
        .Case([&](const NumberExpr *number) {
          line(depth) << (number->isInteger() ? "Int " : "Float ");
          if (number->isInteger())
            os << int64_t(number->getValue());
          else
            os << llvm::format("%g", number->getValue());
          os << at(number->getLoc()) << "\n";
        })
        .Case([&](const NameExpr *name) {
          line(depth) << "Name " << name->getName() << at(name->getLoc())
                      << "\n";
        })
        .Case([&](const NegateExpr *negate) {
          line(depth) << "Negate" << at(negate->getLoc()) << "\n";
          dump(negate->getOperand(), depth + 1);
        })
        .Case([&](const BinaryExpr *binary) {
          line(depth) << "Binary '" << binary->getOp() << "'"
                      << at(binary->getLoc()) << "\n";
          dump(binary->getLhs(), depth + 1);
          dump(binary->getRhs(), depth + 1);
        })
        .Case([&](const CallExpr *call) {
          line(depth) << "Call " << call->getCallee()
                      << (call->isViaPipe() ? " (|>)" : "")
                      << at(call->getLoc()) << "\n";
          for (const Argument &argument : call->getArguments())
            dump(argument, depth + 1);
        });
  }

  void dump(const Argument &argument, unsigned depth) {
    switch (argument.kind) {
    case Argument::Kind::Positional:
      dump(*argument.value, depth);
      return;
    case Argument::Kind::Keyword:
      line(depth) << "Keyword " << argument.name << " =" << at(argument.nameLoc)
                  << "\n";
      break;
    case Argument::Kind::Init:
      line(depth) << "Init " << argument.name << " ~" << at(argument.nameLoc)
                  << "\n";
      break;
    }
    dump(*argument.value, depth + 1);
  }

  const llvm::SourceMgr &sources;
  llvm::raw_ostream &os;
};

} // namespace

void bnnc::dumpAST(const SourceFile &file, const llvm::SourceMgr &sources,
                   llvm::raw_ostream &os) {
  ASTDumper(sources, os).dump(file);
}
