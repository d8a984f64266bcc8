//===- Token.h - Tokens of the bnnc model language ------------------------===//
#ifndef BNNC_FRONTEND_TOKEN_H
#define BNNC_FRONTEND_TOKEN_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

namespace bnnc {

enum class TokenKind {
  EndOfFile,
  Error, // a character or literal the lexer could not read; already reported
  Identifier,
  Integer,
  Float,
  String,
  // keywords
  KwImport,
  KwParam,
  KwBlock,
  KwModel,
  KwReturn,
  KwLoss,
  // punctuation
  LParen,
  RParen,
  LBrace,
  RBrace,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Semicolon,
  Equal,
  Tilde,
  Pipe, // |>
  Plus,
  Minus,
  Star,
  Slash,
};

/// How a token kind reads in a message: "identifier", "'|>'".
llvm::StringRef describe(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::EndOfFile;
  llvm::StringRef text; // points into the source buffer
  llvm::SMLoc loc() const { return llvm::SMLoc::getFromPointer(text.data()); }
  bool is(TokenKind other) const { return kind == other; }
};

} // namespace bnnc

#endif // BNNC_FRONTEND_TOKEN_H
