//===- Parser.h - Recursive-descent parser of model files -----------------===//
#ifndef BNNC_FRONTEND_PARSER_H
#define BNNC_FRONTEND_PARSER_H

#include "frontend/AST.h"
#include "frontend/Lexer.h"

#include <deque>

namespace bnnc {

/// Parses one buffer into a SourceFile. Every syntax error is reported with
/// what was expected; the parser then skips to the next statement or
/// declaration so that independent errors are all reported in one run.
class Parser {
public:
  /// Expressions nested deeper than this are rejected rather than risking
  /// the stack ("((((...))))" from a generator gone wrong).
  static constexpr unsigned kMaxNesting = 256;

  Parser(llvm::StringRef buffer, DiagnosticSink &diagnostics)
      : lexer(buffer, diagnostics), diagnostics(diagnostics) {}

  /// Returns the declarations that parsed; check the sink for errors.
  std::vector<DeclPtr> parseFile();

private:
  // Token stream with lookahead.
  const Token &peek(unsigned ahead = 0);
  Token consume();
  bool consumeIf(TokenKind kind);
  /// Consumes a token of `kind` or reports "expected <what>" and fails.
  bool expect(TokenKind kind, llvm::StringRef what);
  void reportExpected(llvm::StringRef what);

  // Declarations.
  DeclPtr parseDecl();
  DeclPtr parseImport();
  DeclPtr parseParam();
  DeclPtr parseBlock();
  DeclPtr parseModel();
  std::optional<TypeSpec> parseType();
  std::optional<Body> parseBody();

  // Statements and expressions.
  StmtPtr parseStatement();
  ExprPtr parseExpr();
  ExprPtr parseAdditive();
  ExprPtr parseMultiplicative();
  ExprPtr parseUnary();
  ExprPtr parsePrimary();
  std::optional<std::vector<Argument>> parseArguments();
  std::optional<Argument> parseArgument();

  // Error recovery.
  void skipToNextDecl();
  void skipToNextStatement();

  Lexer lexer;
  DiagnosticSink &diagnostics;
  std::deque<Token> lookahead;
  unsigned nesting = 0;
};

} // namespace bnnc

#endif // BNNC_FRONTEND_PARSER_H
