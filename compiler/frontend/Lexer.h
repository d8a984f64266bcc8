//===- Lexer.h - Splits a model file into tokens --------------------------===//
#ifndef BNNC_FRONTEND_LEXER_H
#define BNNC_FRONTEND_LEXER_H

#include "frontend/Diagnostics.h"
#include "frontend/Token.h"

namespace bnnc {

/// Reads one source buffer. Comments run from `#` or `//` to the end of the
/// line; newlines are plain whitespace. Bad characters are reported and
/// returned as Error tokens so that the parser can go on.
class Lexer {
public:
  Lexer(llvm::StringRef buffer, DiagnosticSink &diagnostics)
      : buffer(buffer), cursor(buffer.begin()), diagnostics(diagnostics) {}

  Token next();

private:
  Token make(TokenKind kind, const char *start) const {
    return {kind, llvm::StringRef(start, cursor - start)};
  }
  void skipWhitespaceAndComments();
  Token lexIdentifier(const char *start);
  Token lexNumber(const char *start);
  Token lexString(const char *start);

  llvm::StringRef buffer;
  const char *cursor;
  DiagnosticSink &diagnostics;
};

} // namespace bnnc

#endif // BNNC_FRONTEND_LEXER_H
